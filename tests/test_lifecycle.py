"""Containers that outlive the object and the process that made them:
state on disk, start/load/list/kill/destroy from another process, the
pid-reuse guard, atomic state writes."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import attrs
import pytest

import libcontainer_py as lc
from libcontainer_py.oci import NO_PROCESS
from libcontainer_py.state import State, read_state, write_state


@pytest.fixture
def root(tmp_path) -> str:
    path = str(tmp_path / "state")
    yield path
    assert not os.path.exists(path) or os.listdir(path) == []


def other_process(code: str) -> str:
    """Run ``code`` in a fresh Python process (not our child's kin); its stdout."""
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_start_from_another_process(busybox: str, root: str, tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    config = lc.Config(
        rootfs=busybox,
        mounts=lc.Mounts.default() + [lc.Mount.bind(str(out), "/out")],
        process=lc.Process(args=["sh", "-c", "echo started > /out/x; sleep 30"]),
    )
    with lc.Container.create("lc-start", config, root=root) as c:
        assert c.status() == "created" and not (out / "x").exists()
        state = json.loads(open(os.path.join(root, "lc-start", "state.json")).read())
        assert state["pid"] == c.pid and state["id"] == "lc-start"
        printed = other_process(f"""
            import libcontainer_py as lc
            c = lc.Container.load("lc-start", root={root!r})
            print(c.status()); c.start(); print(c.status())
        """)
        assert printed.split() == ["created", "running"]
        deadline = time.monotonic() + 5
        while not (out / "x").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert (out / "x").read_text() == "started\n"
        assert c.status() == "running"
        with pytest.raises(lc.StateError):
            c.start()


def test_manage_from_a_second_process(busybox: str, root: str) -> None:
    config = lc.Config(
        rootfs=busybox, cgroup=lc.CgroupConfig(pids=lc.Pids(max=16)), process=lc.Process(args=["sleep", "30"])
    )
    c = lc.Container.create("lc-manage", config, root=root)
    c.start()
    printed = other_process(f"""
        import signal, libcontainer_py as lc
        ids = [x.id for x in lc.Container.list(root={root!r})]
        c = lc.Container.load("lc-manage", root={root!r})
        print(ids == ["lc-manage"], c.pid, c.status())
        c.pause(); print(c.status()); c.resume(); print(c.status())
        print(c.stats().pids.current)
        c.kill(signal.SIGKILL)
        c.wait(timeout=10)
        print(c.status())
        c.destroy()
        print(lc.Container.list(root={root!r}))
    """)
    assert printed.split() == ["True", str(c.pid), "running", "paused", "running", "1", "stopped", "[]"]
    assert c.process is not None and c.process.wait(5) == -signal.SIGKILL
    c.destroy()  # idempotent, and reaps our child
    assert not os.path.exists(os.path.join(root, "lc-manage"))
    for h in os.listdir("/sys/fs/cgroup"):
        assert not os.path.exists(f"/sys/fs/cgroup/{h}/libcontainer_py/lc-manage")


def test_destroy_from_another_process_kills_everything(busybox: str, root: str) -> None:
    config = lc.Config(rootfs=busybox, process=lc.Process(args=["sh", "-c", "sleep 30 & sleep 30"]))
    c = lc.Container.create("lc-destroy", config, root=root)
    c.start()
    other_process(f"""
        import libcontainer_py as lc
        lc.Container.load("lc-destroy", root={root!r}).destroy()
    """)
    assert c.process is not None and c.process.wait(5) == -signal.SIGKILL
    c.destroy()
    assert lc.Container.list(root=root) == []


def test_pid_reuse_is_never_mistaken_for_the_container(root: str) -> None:
    """A state whose pid now belongs to another process (different start
    time) is a stopped container, and kill() does not touch that process."""
    bystander = subprocess.Popen(["sleep", "30"])
    try:
        os.makedirs(os.path.join(root, "lc-reuse"))
        write_state(root, State(id="lc-reuse", pid=bystander.pid, pid_start=1, created="2026-01-01T00:00:00+00:00"))
        c = lc.Container.load("lc-reuse", root=root)
        assert c.status() == "stopped"
        with pytest.raises(lc.StateError):
            c.kill(signal.SIGKILL)
        c.destroy()
        assert bystander.poll() is None  # untouched
    finally:
        bystander.kill()
        bystander.wait()


def test_state_writes_are_atomic(root: str) -> None:
    os.makedirs(os.path.join(root, "lc-atomic"))
    states = [
        State(id="lc-atomic", pid=i, pid_start=i, created="x", annotations={"n": "x" * (i % 500)})
        for i in range(1, 300)
    ]
    stop = threading.Event()
    seen = []

    def reader() -> None:
        while not stop.is_set():
            seen.append(read_state(root, "lc-atomic").pid)

    write_state(root, states[0])
    t = threading.Thread(target=reader)
    t.start()
    for s in states:
        write_state(root, s)
    stop.set()
    t.join()
    assert seen and all(1 <= pid < 300 for pid in seen)  # every read parsed, none torn
    assert sorted(os.listdir(os.path.join(root, "lc-atomic"))) == ["state.json"]
    lc.Container.load("lc-atomic", root=root).destroy()


def test_duplicate_ids_and_bad_ids(busybox: str, root: str) -> None:
    config = lc.Config(rootfs=busybox, process=lc.Process(args=["true"]))
    with lc.Container.create("lc-dup", config, root=root):
        with pytest.raises(lc.ContainerExists):
            lc.Container.create("lc-dup", config, root=root)
    for bad in ("", "../x", "a/b", "x" * 65, ".hidden"):
        with pytest.raises(lc.ConfigError):
            lc.Container.create(bad, config, root=root)
    with pytest.raises(lc.StateNotFound):
        lc.Container.load("lc-none", root=root)


def test_failed_create_leaves_nothing(busybox: str, root: str, no_leaks: None) -> None:
    config = lc.Config(rootfs=busybox, process=lc.Process(args=["true"], cwd="/nowhere"))
    # The cwd is entered before the process waits for start: create fails.
    with pytest.raises(lc.CwdError):
        lc.Container.create("lc-fail", config, root=root)
    assert lc.Container.list(root=root) == []
    assert not os.path.exists(os.path.join(root, "lc-fail"))


@pytest.mark.parametrize(
    "args, user, err",
    [
        (["/nonexistent"], None, errno.ENOENT),
        (["no-such-program"], None, errno.ENOENT),
        (["/etc/passwd"], None, errno.EACCES),  # not executable
        (["/bin"], None, errno.EACCES),  # a directory
        (["/tmp/root-only"], lc.User(1000, 1000), errno.EACCES),  # not for this user (no caps)
    ],
)
def test_create_fails_when_the_program_cannot_be_executed(
    busybox: str, root: str, tmp_path: Any, no_leaks: None, args: list, user: Any, err: int
) -> None:
    """As runc's create: the lookup runs in the container with its final
    credentials, before the wait for start, so an engine learns at create."""
    rootfs = tmp_path / "rootfs"
    shutil.copytree(busybox, rootfs, symlinks=True)
    (rootfs / "tmp" / "root-only").write_text("#!/bin/sh\ntrue\n")
    (rootfs / "tmp" / "root-only").chmod(0o700)
    process = lc.Process(args=args, user=user, capabilities=lc.Capabilities.none()) if user else lc.Process(args=args)
    with pytest.raises(lc.ExecError) as info:
        made = lc.Container.create("lc-noexec", lc.Config(rootfs=str(rootfs), process=process), root=root)
        made.destroy()  # reached only if create wrongly succeeded
    assert info.value.errno == err and info.value.path == args[0], info.value
    assert lc.Container.list(root=root) == []
    assert not os.path.exists(os.path.join(root, "lc-noexec"))
    # The same file as root (any x bit will do for root) creates fine.
    if user is not None:
        with lc.Container.create(
            "lc-exec-ok", lc.Config(rootfs=str(rootfs), process=lc.Process(args=args)), root=root
        ) as c:
            c.start()
            assert c.wait(timeout=10) == 0


def test_wait_for_a_loaded_container(busybox: str, root: str) -> None:
    config = lc.Config(rootfs=busybox, process=lc.Process(args=["sleep", "0.3"]))
    with lc.Container.create("lc-wait", config, root=root) as c:
        c.start()
        loaded = lc.Container.load("lc-wait", root=root)
        with pytest.raises(TimeoutError):
            loaded.wait(timeout=0.05)
        assert c.process is not None
        c.process.wait(5)  # its parent reaps it
        assert loaded.wait(timeout=5) is None and loaded.status() == "stopped"
    assert attrs.has(State)


def test_exec_from_another_process(busybox: str, root: str) -> None:
    config = lc.Config(rootfs=busybox, hostname="fromstate", process=lc.Process(args=["sleep", "30"]))
    with lc.Container.create("lc-exec", config, root=root) as c:
        c.start()
        printed = other_process(f"""
            import libcontainer_py as lc
            c = lc.Container.load("lc-exec", root={root!r})
            p = c.exec(["sh", "-c", "hostname; echo $$; readlink /proc/self/ns/pid"], stdout=lc.PIPE, text=True)
            print(p.communicate(timeout=10)[0], end="")
        """)
        assert c.config is not None and lc.Container.load("lc-exec", root=root).config == c.config
        hostname, pid, pidns = printed.split()
        assert hostname == "fromstate" and pid != "1" and pidns == os.readlink(f"/proc/{c.pid}/ns/pid")


def test_state_has_runcs_fields(busybox: str, root: str) -> None:
    config = lc.Config(rootfs=busybox, process=lc.Process(args=["sleep", "30"]))
    with lc.Container.create("lc-state", config, root=root, bundle="/b", annotations={"k": "v"}) as c:
        st = c.state()
        assert (st.id, st.status, st.pid, st.bundle, st.rootfs, st.annotations) == (
            "lc-state",
            "created",
            c.pid,
            "/b",
            busybox,
            {"k": "v"},
        )
        c.start()
        assert lc.Container.load("lc-state", root=root).state().status == "running"
        assert st.created.endswith("+00:00")
    assert c.state().status == "stopped"


def test_the_container_outlives_a_creator_that_exits_normally(busybox: str, root: str) -> None:
    other_process(f"""
        import libcontainer_py as lc
        config = lc.Config(rootfs={busybox!r}, cgroup=lc.CgroupConfig(pids=lc.Pids(max=8)),
                           process=lc.Process(args=["sleep", "30"]))
        c = lc.Container.create("lc-outlive", config, root={root!r},
                                stdin=lc.DEVNULL, stdout=lc.DEVNULL, stderr=lc.DEVNULL)
        c.start()
    """)
    c = lc.Container.load("lc-outlive", root=root)
    assert c.status() == "running" and c.stats().pids.current == 1
    c.destroy()
    assert lc.Container.list(root=root) == []


def test_a_directory_without_a_record_can_be_cleaned(root: str) -> None:
    os.makedirs(os.path.join(root, "lc-norecord"))  # the creator died right after mkdir
    (c,) = lc.Container.list(root=root)
    assert c.status() == "creating"
    c.destroy()
    assert lc.Container.list(root=root) == []


def test_exec_does_not_inherit_the_init(busybox: str, root: str) -> None:
    config = lc.Config(rootfs=busybox, process=lc.Process(args=["sleep", "30"], init=True))
    with lc.Container.create("lc-noinit", config, root=root) as c:
        c.start()
        assert c.exec_config(["true"]).process.init is False
        p = c.exec(["sh", "-c", "cat /proc/$$/comm /proc/1/comm"], stdout=lc.PIPE, text=True)
        own, pid1 = p.communicate(timeout=10)[0].split()
        assert own != "init" and pid1 == "init"  # the container's init is PID 1; the exec'd program runs bare


def test_delete_needs_a_stopped_container_unless_forced(busybox: str, root: str) -> None:
    config = lc.Config(rootfs=busybox, process=lc.Process(args=["sleep", "30"]))
    c = lc.Container.create("lc-delete", config, root=root)
    c.start()
    with pytest.raises(lc.StateError):
        c.delete()
    c.delete(force=True)
    assert c.status() == "stopped" and lc.Container.list(root=root) == []
    d = lc.Container.create("lc-delete2", config.with_args(["true"]), root=root)
    d.start()
    d.wait(10)
    d.delete()
    assert lc.Container.list(root=root) == []


def test_delete_of_a_created_container_leaves_it_startable(busybox: str, root: str, no_leaks: None) -> None:
    """runtime.md: delete of a container that is not stopped has no effect
    and is an error; kill(all=True) of a stopped one does nothing (runc)."""
    config = lc.Config(rootfs=busybox, process=lc.Process(args=["sh", "-c", "echo started; exec sleep 30"]))
    c = lc.Container.create("lc-del-created", config, root=root, stdout=lc.PIPE)
    with pytest.raises(lc.StateError) as info:
        lc.Container.load("lc-del-created", root=root).delete()
    assert info.value.status == "created"
    assert c.status() == "created" and c.pid in c.pids()
    c.start()
    assert c.process is not None and c.process.stdout is not None
    assert c.process.stdout.readline() == b"started\n"
    c.kill(signal.SIGKILL)
    c.wait(10)
    c.kill(signal.SIGKILL, all=True)  # stopped: nothing to signal, no error
    with pytest.raises(lc.StateError):
        c.kill(signal.SIGKILL)
    c.delete()
    assert lc.Container.list(root=root) == []


def test_created_without_a_process_start_refuses(busybox: str, root: str, no_leaks: None) -> None:
    """OCI's create without ``process``: the stand-in is set up and waits;
    start() fails naming the missing process and the container stays
    created, in its own pid namespace, until destroyed."""
    config = lc.Config(rootfs=busybox, process=NO_PROCESS)
    c = lc.Container.create("lc-noproc", config, root=root, no_process=True)
    with pytest.raises(lc.ContainerError, match="created without a process"):
        lc.Container.load("lc-noproc", root=root).start()
    assert c.status() == "created" and c.pid in c.pids()
    assert os.readlink(f"/proc/{c.pid}/ns/pid") != os.readlink("/proc/self/ns/pid")
    c.destroy()
    assert lc.Container.list(root=root) == []
    with pytest.raises(lc.ExecError):  # the stand-in is no program: without no_process, create fails
        lc.Container.create("lc-noproc2", config, root=root)
