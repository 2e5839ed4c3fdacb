"""SIGKILL of the creating process at any point leaves either a container
that load() can manage, or a record that destroy() cleans up: no process,
mount, cgroup or state directory is left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import psutil
import pytest

import libcontainer_py as lc

CREATOR = """
import os, signal, sys
import libcontainer_py as lc
import libcontainer_py.container as container
import libcontainer_py.spawn as spawn

point, root, rootfs = sys.argv[1], sys.argv[2], sys.argv[3]

def die():
    os.kill(os.getpid(), signal.SIGKILL)

real_spawn, real_write, real_commit = spawn._native.spawn, container.write_state, container.commit_state
writes = []

def patched_spawn(args, **kwargs):
    if point == "before-clone":
        die()
    result = real_spawn(args, **kwargs)
    if point == "after-clone":
        die()
    return result

def patched_write(root_, state):
    writes.append(state)
    if point == "before-state" and state.pid:
        die()  # the child is placed in its cgroup and waits: the full state is not written
    real_write(root_, state)

def patched_commit(root_, container_id):
    if point == "before-state":
        die()  # the full state is staged beside the intent, not in place
    real_commit(root_, container_id)

spawn._native.spawn = patched_spawn
container.write_state = patched_write
container.commit_state = patched_commit
config = lc.Config(rootfs=rootfs, process=lc.Process(args=["sleep", "60"]))
c = lc.Container.create("crash", config, root=root, stdin=lc.DEVNULL, stdout=lc.DEVNULL, stderr=lc.DEVNULL)
if point == "after-state":
    die()
c.start()
die()  # "running": the container outlives its creator
"""


def cgroup_dirs() -> list:
    return [
        f"/sys/fs/cgroup/{h}/libcontainer_py/crash"
        for h in os.listdir("/sys/fs/cgroup")
        if os.path.isdir(f"/sys/fs/cgroup/{h}/libcontainer_py/crash")
    ]


@pytest.mark.parametrize("point", ["before-clone", "after-clone", "before-state", "after-state", "running"])
def test_sigkill_of_the_creator(busybox: str, tmp_path, point: str) -> None:
    root = str(tmp_path / "root")
    before = {p.pid for p in psutil.process_iter()}
    creator = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CREATOR), point, root, busybox],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert creator.returncode == -signal.SIGKILL, creator.stderr

    # What a later process does: load it, and manage or remove it.
    containers = lc.Container.list(root=root)
    assert [c.id for c in containers] == ["crash"]  # there is always a record
    c = containers[0]
    if point == "before-state":
        # the full record was staged while the child set itself up; readers
        # see only the intent until it is renamed into place
        assert os.path.exists(os.path.join(root, "crash", "state.json.tmp"))
        assert (c.pid, c.status()) == (0, "creating")
    if point in ("after-state", "running"):
        assert c.status() == ("created" if point == "after-state" else "running")
        assert c.pid in [p.pid for p in c.processes()]
    c.destroy()

    assert lc.Container.list(root=root) == [] and os.listdir(root) == []
    assert cgroup_dirs() == []
    # No process of the container is left (its processes were in its cgroup;
    # the creator's orphans are reparented and reaped by the machine's init).
    leftover = [
        p
        for p in psutil.process_iter(["pid", "cmdline"])
        if p.info["pid"] not in before
        and p.info["cmdline"]
        and ("sleep" in p.info["cmdline"] or "crash" in " ".join(p.info["cmdline"]))
    ]
    alive = [p for p in leftover if p.status() != psutil.STATUS_ZOMBIE]
    assert alive == []
