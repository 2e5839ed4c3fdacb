"""podman and containerd, each in a sandbox of its own (config, storage and
state under one directory), driving a runtime binary: ours or runc.

Used by tests/test_engines.py and benchmarks/bench_engines.py.  Nothing here
touches the host's own podman or containerd set-up: everything lives under
``base`` and is removed (unmounted, killed) by ``close()``.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from typing import Dict, List, Optional, Sequence

from support import images
from support.processes import terminate, wait_for

#: podman here needs these: root lacks CAP_SYS_RESOURCE in this VM, so the
#: default ulimits (raised above the hard limit) cannot be set.
PODMAN_RUN_FLAGS = (
    "--network",
    "none",
    "--ulimit",
    "nofile=20000:20000",
    "--ulimit",
    "nproc=32768:32768",
)

IMAGE = "localhost/lcbusybox:latest"
CTR_IMAGE = "docker.io/library/lcbusybox:latest"
OURS = "lcpy"  # the runtime's name in podman's containers.conf


def our_binary() -> str:
    """The installed console script (what an engine would run)."""
    beside = os.path.join(os.path.dirname(sys.executable), "libcontainer-py")
    found = beside if os.path.exists(beside) else shutil.which("libcontainer-py")
    if found is None:
        raise RuntimeError("the libcontainer-py console script is not installed (pip install .)")
    return found


def run(argv: Sequence[str], *, env: Optional[Dict[str, str]] = None, timeout: float = 60, input: bytes = b"") -> Done:
    # Files, not pipes: a container started here may inherit the output fds.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        status = wait_for(argv, timeout=timeout, input=input, stdout=out, stderr=err, env=env)
        out.seek(0)
        err.seek(0)
        return Done(list(argv), status, out.read().decode(errors="replace"), err.read().decode(errors="replace"))


class Done:
    def __init__(self, argv: List[str], returncode: int, stdout: str, stderr: str) -> None:
        self.argv, self.returncode, self.stdout, self.stderr = argv, returncode, stdout, stderr

    def check(self) -> Done:
        if self.returncode != 0:
            raise AssertionError(f"{' '.join(self.argv)} exited {self.returncode}:\n{self.stdout}\n{self.stderr}")
        return self

    def __repr__(self) -> str:
        return f"Done({self.returncode}, out={self.stdout!r}, err={self.stderr!r})"


def mounts_under(path: str) -> List[str]:
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return [p for p in points if p == path or p.startswith(path.rstrip("/") + "/")]


def unmount_under(path: str) -> None:
    for point in reversed(mounts_under(path)):
        subprocess.run(["umount", "-l", point], capture_output=True)


def processes_mentioning(text: str) -> List[int]:
    """Pids whose command line contains ``text`` (a daemon or shim of ours)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(int(pid))
    return found


class Podman:
    """podman with its own containers.conf and storage under ``base``; our
    runtime is registered as ``lcpy`` (and listed as speaking JSON logs, so
    podman reads errors from --log as it does runc's)."""

    def __init__(self, base: str, rootfs: str, binary: str) -> None:
        self.base, self.binary = base, binary
        for d in ("graph", "tmp"):
            os.makedirs(os.path.join(base, d), exist_ok=True)
        # podman's exit command (conmon runs ``podman container cleanup``
        # with --runroot) refuses a runroot over 50 characters: with a long
        # one, cleanup fails and ``podman run --rm`` waits 20 s for it.
        self.runroot = tempfile.mkdtemp(prefix="lcpy-pm-", dir="/run")
        storage = os.path.join(base, "storage.conf")
        with open(storage, "w") as f:
            f.write(f'[storage]\ndriver = "overlay"\ngraphroot = "{base}/graph"\nrunroot = "{self.runroot}"\n')
        conf = os.path.join(base, "containers.conf")
        with open(conf, "w") as f:
            f.write(
                "[engine]\n"
                'cgroup_manager = "cgroupfs"\n'
                'events_logger = "file"\n'
                f'tmp_dir = "{base}/tmp"\n'
                f'runtime_supports_json = ["crun", "runc", "{OURS}"]\n'
                "[engine.runtimes]\n"
                f'{OURS} = ["{binary}"]\n'
                'runc = ["/usr/sbin/runc"]\n'
            )
        self.env = dict(os.environ, CONTAINERS_CONF=conf, CONTAINERS_STORAGE_CONF=storage)
        archive = os.path.join(base, "rootfs.tar")
        with tarfile.open(archive, "w") as tar:
            tar.add(rootfs, arcname=".")
        self("import", archive, IMAGE).check()

    def __call__(self, *args: str, runtime: str = OURS, timeout: float = 60, input: bytes = b"") -> Done:
        return run(["podman", "--runtime", runtime, *args], env=self.env, timeout=timeout, input=input)

    def use_cni(self, conflist: Dict[str, object]) -> None:
        """podman's CNI backend, with ``conflist`` (in this sandbox's own
        config directory) as its default network, ``--network bridge``."""
        confdir = os.path.join(self.base, "cni")
        name = conflist["name"]
        os.makedirs(confdir, exist_ok=True)
        with open(os.path.join(confdir, f"{name}.conflist"), "w") as f:
            json.dump(conflist, f)
        with open(self.env["CONTAINERS_CONF"], "a") as f:
            f.write(
                "[network]\n"
                'network_backend = "cni"\n'
                'cni_plugin_dirs = ["/usr/lib/cni"]\n'
                f'network_config_dir = "{confdir}"\n'
                f'default_network = "{name}"\n'
            )

    def close(self) -> None:
        """Remove every container and image, then whatever podman left
        mounted; asserts nothing of it is left."""
        self("rm", "--all", "--force", "--time", "0", timeout=120)
        self("rmi", "--all", "--force", timeout=120)
        run(["podman", "system", "reset", "--force"], env=self.env, timeout=120)
        for path in (self.base, self.runroot):
            unmount_under(path)
            shutil.rmtree(path, ignore_errors=True)
        left = processes_mentioning(self.base) + processes_mentioning(self.runroot)
        mounted = mounts_under(self.base) + mounts_under(self.runroot)
        assert not mounted and not left, (mounted, left)


def oci_archive(rootfs: str, path: str) -> str:
    """An OCI archive of a one-layer image of ``rootfs`` named CTR_IMAGE."""
    layout = path + ".layout"
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    images.write_oci_layout(layout, [images.layer_from_dir(rootfs)], ref_name=CTR_IMAGE, architecture=arch)
    images.tar_dir(layout, path)
    shutil.rmtree(layout)
    return path


class Containerd:
    """A containerd daemon of its own (config, root, state and sockets under
    ``base``), started here and stopped by close()."""

    def __init__(self, base: str, rootfs: str, binary: str) -> None:
        self.base, self.binary = base, binary
        os.makedirs(base, exist_ok=True)
        #: The shim's --root for the runtime (its default is under
        #: /run/containerd/runc/<namespace>, outside this sandbox).
        self.runc_root = os.path.join(base, "runc")
        #: Where the runtime keeps its state: the shim adds the namespace.
        self.state_root = os.path.join(self.runc_root, "default")
        self.address = os.path.join(base, "containerd.sock")
        config = os.path.join(base, "config.toml")
        with open(config, "w") as f:
            f.write(
                "version = 2\n"
                f'root = "{base}/root"\n'
                f'state = "{base}/state"\n'
                'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
                f'[grpc]\n  address = "{self.address}"\n'
                f'[ttrpc]\n  address = "{self.address}.ttrpc"\n'
            )
        self.log = open(os.path.join(base, "containerd.log"), "wb")
        self.daemon = subprocess.Popen(["containerd", "--config", config], stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 20
        while self("version", timeout=10).returncode != 0:
            if self.daemon.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"containerd did not start (see {base}/containerd.log)")
            time.sleep(0.05)
        archive = oci_archive(rootfs, os.path.join(base, "image.tar"))
        self("images", "import", archive).check()

    def __call__(self, *args: str, timeout: float = 60, input: bytes = b"") -> Done:
        return run(["ctr", "--address", self.address, *args], timeout=timeout, input=input)

    def runtime_flags(self, binary: str) -> List[str]:
        """``ctr run`` flags that make the shim run ``binary`` with a state
        root inside the sandbox."""
        return ["--runc-binary", binary, "--runc-root", self.runc_root]

    def ids(self) -> List[str]:
        return self("containers", "list", "--quiet").stdout.split()

    def remove(self, cid: str) -> None:
        self("tasks", "kill", "--signal", "SIGKILL", cid)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self("tasks", "delete", cid).returncode != 0:
            if "not found" in self("tasks", "list").stdout or cid not in self("tasks", "list").stdout:
                break
            time.sleep(0.05)
        self("containers", "delete", cid)

    def close(self) -> None:
        """Delete every container, stop the daemon (and so its shims), then
        asserts nothing of it is left (process, mount)."""
        if self.daemon.poll() is None:
            for cid in self.ids():
                self.remove(cid)
            terminate(self.daemon, 20)
        self.log.close()
        left = processes_mentioning(self.address)
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        unmount_under(self.base)
        shutil.rmtree(self.base, ignore_errors=True)
        assert not left and not mounts_under(self.base), (left, mounts_under(self.base))


def our_state(root: str, cid: str) -> Dict[str, object]:
    """The state our CLI reports for a container an engine made."""
    done = run([our_binary(), "--root", root, "state", cid]).check()
    doc: Dict[str, object] = json.loads(done.stdout)
    return doc
