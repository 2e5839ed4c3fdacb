"""Faults injected while containers are made, run and removed: each gives a
typed error (or a record that destroy() or the next container reclaims),
and afterwards the processes, mounts, cgroups, fds and state entries of the
machine are what they were before."""

from __future__ import annotations

import glob
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from typing import Any, Iterator, List

import pytest

import libcontainer_py as lc

DEFAULT_ROOT = "/run/libcontainer-py"


def _our_cgroups() -> List[str]:
    return sorted(glob.glob("/sys/fs/cgroup/*/libcontainer_py/*/") + glob.glob("/sys/fs/cgroup/libcontainer_py/*/"))


@pytest.fixture
def tmpfs_root() -> Iterator[str]:
    """A state root on an 8 KiB tmpfs, already full."""
    path = tempfile.mkdtemp()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8k", "lc-full", path], check=True)
    try:
        with pytest.raises(OSError):
            with open(os.path.join(path, "fill"), "wb") as f:
                f.write(b"x" * 65536)
        yield path
    finally:
        subprocess.run(["umount", path], check=True)
        os.rmdir(path)


def test_a_full_state_root_is_a_typed_error(tmpfs_root: str, no_leaks: None) -> None:
    config = lc.Config(cgroup=lc.CgroupConfig(pids=lc.Pids(max=8)), process=lc.Process(args=["sleep", "30"]))
    with pytest.raises(lc.ContainerError) as info:
        lc.Container.create(f"full-{uuid.uuid4().hex[:6]}", config, root=tmpfs_root)
    assert info.value.errno == 28 and isinstance(info.value.__cause__, OSError)  # ENOSPC
    assert os.listdir(tmpfs_root) == ["fill"]


def test_no_fds_left_is_a_typed_error(no_leaks: None) -> None:
    lc.run(["true"])  # what the first run imports is imported: the limit meets the run itself
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    fds: List[int] = []
    resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 16, hard))
    try:
        while True:
            try:
                fds.append(os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC))
            except OSError:
                break
        for config in (lc.Config(), lc.Config(cgroup=lc.CgroupConfig(pids=lc.Pids(max=8)))):
            with pytest.raises(lc.ContainerError) as info:
                lc.run(["true"], config=config)
            assert info.value.errno == 24  # EMFILE
    finally:
        for fd in fds:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert lc.run(["true"]).returncode == 0


def test_the_init_killed_during_create(busybox: str, tmp_path: Any, no_leaks: None) -> None:
    """SIGKILL to the container's process while its create hooks run."""

    def kill(state: dict) -> None:
        os.kill(state["pid"], signal.SIGKILL)

    config = lc.Config(rootfs=busybox, cgroup=lc.CgroupConfig(pids=lc.Pids(max=8)), process=lc.Process(args=["true"]))
    root = str(tmp_path / "state")
    with pytest.raises(lc.ContainerError):
        lc.Container.create("killed-in-create", config, root=root, callbacks={"create_runtime": [kill]})
    assert lc.Container.list(root=root) == []


def test_the_init_killed_during_exec(busybox: str, tmp_path: Any, no_leaks: None) -> None:
    """The container's PID 1 dies while a process is being exec'd into it:
    the exec fails with a typed error and nothing of it is left."""
    config = lc.Config(
        rootfs=busybox, cgroup=lc.CgroupConfig(pids=lc.Pids(max=8)), process=lc.Process(args=["sleep", "30"])
    )
    c = lc.Container.create("killed-in-exec", config, root=str(tmp_path / "state"))
    try:
        c.start()
        os.kill(c.pid, signal.SIGKILL)
        with pytest.raises(lc.ContainerError):
            for _ in range(50):  # until the exec sees the dead init
                with c.exec(["true"]) as proc:
                    proc.wait(5)
                time.sleep(0.01)
    finally:
        c.destroy()


def test_the_hosts_pids_limit_reached(tmp_path: Any, no_leaks: None) -> None:
    """A caller in a cgroup whose pids.max is reached: clone fails with
    EAGAIN, a typed error, and the next run (with room) works."""
    script = textwrap.dedent(
        """
        import os, sys
        import libcontainer_py as lc
        group = sys.argv[1]
        with open(group + "/cgroup.procs", "w") as f:
            f.write(str(os.getpid()))
        with open(group + "/pids.current") as f:
            current = int(f.read())
        with open(group + "/pids.max", "w") as f:
            f.write(str(current))
        try:
            lc.run(["true"])
            print("ran")
        except lc.ContainerError as exc:
            print("typed", exc.errno)
        with open(group + "/pids.max", "w") as f:
            f.write("max")
        print("then", lc.run(["true"]).returncode)
        """
    )
    group = f"/sys/fs/cgroup/pids/lc-faults-{uuid.uuid4().hex[:8]}"
    os.mkdir(group)
    try:
        r = subprocess.run([sys.executable, "-c", script, group], capture_output=True, text=True, timeout=60)
        assert r.stdout.split("\n")[:2] == ["typed 11", "then 0"], r.stdout + r.stderr  # EAGAIN
    finally:
        os.rmdir(group)


# -- the owner killed at random points ----------------------------------------------------------

WORKER = textwrap.dedent(
    """
    import sys
    import libcontainer_py as lc
    what, cid, root = sys.argv[1], sys.argv[2], sys.argv[3]
    config = lc.Config(cgroup=lc.CgroupConfig(pids=lc.Pids(max=16)), process=lc.Process(args=["sleep", "30"]))
    print("go", flush=True)
    if what == "run":
        lc.run(["true"], container_id=cid, config=config)
    elif what == "create":
        lc.Container.create(cid, config, root=root).start()
    else:
        c = lc.Container.create(cid, config, root=root)
        c.start()
        print("destroy", flush=True)
        c.destroy()
    """
)


def test_the_owner_killed_at_random_points(tmp_path: Any) -> None:
    """200 rounds: a process running lc.run, Container.create or destroy is
    SIGKILLed after a random delay.  Whatever it left is reclaimed (attached
    containers, by the next container) or removed by destroy() (detached
    ones, from their record), and the same ids work again at once."""
    rng = random.Random(1234)
    root = str(tmp_path / "state")
    for round_ in range(200):
        what = ("run", "create", "destroy")[round_ % 3]
        cid = f"kill-{what}-{round_ % 7}"
        worker = subprocess.Popen([sys.executable, "-c", WORKER, what, cid, root], stdout=subprocess.PIPE, text=True)
        assert worker.stdout is not None
        assert worker.stdout.readline() == "go\n"
        if what == "destroy":
            worker.stdout.readline()
        time.sleep(rng.uniform(0, 0.05))
        worker.kill()
        worker.wait()
        worker.stdout.close()
        for c in lc.Container.list(root=root):
            c.destroy()
        # The next container reclaims what a dead owner's lc.run left.
        assert lc.run(["true"], container_id=cid, config=lc.Config(cgroup=lc.CgroupConfig())).returncode == 0
    assert lc.Container.list(root=root) == []
    assert [d for d in _our_cgroups() if "/kill-" in d] == []
    assert [n for n in os.listdir(os.path.join(DEFAULT_ROOT, ".owned")) if n.startswith("kill-")] == []
