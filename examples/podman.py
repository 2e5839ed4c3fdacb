"""podman running containers with libcontainer-py as its OCI runtime.

    python3 examples/podman.py        (as root; needs podman and busybox-static)

1. podman gets storage of its own in temporary directories (``--root``,
   ``--runroot`` under /run, ``--tmpdir``), so the host's images and containers are
   not touched, and ``--runtime`` pointing at the installed
   ``libcontainer-py`` console script.
2. A busybox root filesystem is imported as an image.
3. ``podman run --rm`` passes output and exit status through; a detached
   container is ours (our state record names podman's pid), podman
   ``exec``'s into it, ``pause``/``unpause`` it, ``rm -f`` removes it and our
   state with it.

Every claim is checked; the exit status is 0 only if all of them hold and
nothing is left behind (no container, mount or temporary directory).
"""

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

from _checks import make_busybox_rootfs  # the examples' shared busybox root

#: root lacks CAP_SYS_RESOURCE on some VMs: podman's default ulimits would fail.
RUN = ["--network", "none", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"]


def runtime() -> str:
    beside = os.path.join(os.path.dirname(sys.executable), "libcontainer-py")
    return beside if os.path.exists(beside) else (shutil.which("libcontainer-py") or "libcontainer-py")


def main() -> int:
    work = tempfile.mkdtemp(prefix="podman-example-")
    runroot = tempfile.mkdtemp(prefix="lcpy-podman-", dir="/run")  # podman wants <= 50 characters
    base = [
        "podman",
        "--root", f"{work}/graph",
        "--runroot", runroot,
        "--tmpdir", f"{work}/tmp",
        "--cgroup-manager", "cgroupfs",
        "--events-backend", "file",
        "--runtime", runtime(),
    ]  # fmt: skip

    def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([*base, *args], capture_output=True, text=True, timeout=120)
        if check and done.returncode != 0:
            raise SystemExit(f"podman {' '.join(args)} failed ({done.returncode}): {done.stderr}")
        return done

    try:
        rootfs = make_busybox_rootfs(os.path.join(work, "rootfs"))
        with tarfile.open(os.path.join(work, "rootfs.tar"), "w") as tar:
            tar.add(rootfs, arcname=".")
        podman("import", os.path.join(work, "rootfs.tar"), "localhost/example-busybox")

        done = podman("run", "--rm", *RUN, "localhost/example-busybox", "sh", "-c", "echo pid $$; exit 3", check=False)
        print(f"run --rm: {done.stdout.strip()!r}, exit status {done.returncode}")
        assert (done.stdout.strip(), done.returncode) == ("pid 1", 3)

        cid = podman("run", "-d", *RUN, "localhost/example-busybox", "sleep", "1000").stdout.strip()
        pid = int(podman("inspect", "--format", "{{.State.Pid}}", cid).stdout)
        state = json.loads(subprocess.run([runtime(), "state", cid], capture_output=True, text=True, check=True).stdout)
        print(f"detached: podman says pid {pid}; libcontainer-py state says {state['status']}, pid {state['pid']}")
        assert state["pid"] == pid and state["status"] == "running"

        done = podman("exec", cid, "cat", "/proc/1/cmdline")
        print(f"exec: PID 1 in the container is {done.stdout.replace(chr(0), ' ').strip()!r}")
        assert done.stdout.split("\0")[:2] == ["sleep", "1000"]

        podman("pause", cid)
        paused = podman("inspect", "--format", "{{.State.Status}}", cid).stdout.strip()
        podman("unpause", cid)
        print(f"pause: podman says {paused}")
        assert paused == "paused"

        podman("rm", "--force", "--time", "0", cid)
        assert not os.path.exists(f"/run/libcontainer-py/{cid}"), "our state outlived podman rm"
        print("rm -f: the container and our state are gone")
    finally:
        podman("rm", "--all", "--force", "--time", "0", check=False)
        podman("rmi", "--all", "--force", check=False)
        with open("/proc/self/mountinfo") as f:
            left = [p for p in (line.split()[4] for line in f) if p.startswith((work, runroot))]
        for point in reversed(left):
            subprocess.run(["umount", "-l", point], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(runroot, ignore_errors=True)
    print("all claims hold; nothing left behind")
    return 0


if __name__ == "__main__":
    sys.exit(main())
