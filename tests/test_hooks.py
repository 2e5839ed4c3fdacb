"""Hooks: executables and Python callables in the OCI phases, in order, with
the state on stdin; a failing create hook rolls everything back; poststart
and poststop failures only warn; timeouts."""

from __future__ import annotations

import json
import os
import stat
from typing import Any

import pytest

import libcontainer_py as lc

HOOK = """#!/bin/sh
# Records its phase, the state it was given and where it ran.
echo "$1 $(cat | tr -d '\\n') $(readlink /proc/self/ns/uts) $(readlink /proc/self/ns/mnt)" >> "$LOG"
exit "${2:-0}"
"""


@pytest.fixture
def hook(tmp_path):
    path = tmp_path / "hook.sh"
    path.write_text(HOOK)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


@pytest.fixture
def root(tmp_path):
    path = str(tmp_path / "state")
    yield path
    assert not os.path.exists(path) or os.listdir(path) == []


def entry(path: str, phase: str, log: str, status: int = 0, timeout=None) -> lc.Hook:
    return lc.Hook(path, args=["hook", phase, str(status)], env=[f"LOG={log}", "PATH=/usr/bin:/bin"], timeout=timeout)


def read_log(log: str) -> list:
    with open(log) as f:
        return [line.split(" ", 1)[0] for line in f]


def sleeping(busybox: str, **hooks: Any) -> lc.Config:
    """``sleep 30`` in busybox, with ``hooks`` (lc.Hooks' arguments)."""
    return lc.Config(rootfs=busybox, process=lc.Process(args=["sleep", "30"]), hooks=lc.Hooks(**hooks))


def assert_create_fails(cid: str, config: lc.Config, root: str, match: str, **create: Any) -> None:
    """Container.create raises a HookError matching ``match`` and leaves no container."""
    with pytest.raises(lc.HookError, match=match):
        lc.Container.create(cid, config, root=root, **create)
    assert lc.Container.list(root=root) == []


def test_phases_in_order_with_the_state(busybox: str, hook: str, root: str, tmp_path) -> None:
    log = str(tmp_path / "log")
    phases = ["prestart", "create_runtime", "create_container", "start_container", "poststart", "poststop"]
    hooks = lc.Hooks(**{p: [entry(hook, p, log)] for p in phases if p != "start_container"})
    called = []
    # start_container runs in the container: its path is the container's.
    in_root = os.path.join(busybox, "hook.sh")
    with open(in_root, "w") as f:
        f.write(HOOK.replace('"$LOG"', "/tmp-log"))
    os.chmod(in_root, 0o755)
    hooks = lc.Hooks(
        **{
            **{p: getattr(hooks, p) for p in phases if p != "start_container"},
            "start_container": [lc.Hook("/hook.sh", args=["hook", "start_container"])],
        }
    )
    config = lc.Config(rootfs=busybox, hostname="hooked", hooks=hooks, process=lc.Process(args=["sleep", "30"]))
    try:
        c = lc.Container.create(
            "hooks",
            config,
            root=root,
            bundle="/bundle",
            callbacks={p: [lambda st, p=p: called.append((p, st["status"], st["pid"]))] for p in phases},
        )
        assert read_log(log) == ["prestart", "create_runtime", "create_container"]
        c.start()
        c.destroy()
    finally:
        os.unlink(in_root)
    lines = open(log).read().splitlines()
    assert read_log(log) == ["prestart", "create_runtime", "create_container", "poststart", "poststop"]
    state = json.loads(lines[0].split(" ", 1)[1].rsplit(" ", 2)[0])
    assert state["id"] == "hooks" and state["status"] == "creating" and state["bundle"] == "/bundle"
    assert state["pid"] == c.pid and state["ociVersion"].startswith("1.")
    host_uts = os.readlink("/proc/self/ns/uts")
    ns = {line.split(" ", 1)[0]: line.rsplit(" ", 2)[1] for line in lines}
    assert ns["create_runtime"] == host_uts and ns["create_container"] != host_uts  # runtime vs container
    assert [p for p, _, _ in called] == phases and {pid for _, _, pid in called} == {c.pid}
    assert dict((p, s) for p, s, _ in called)["poststart"] == "running"
    # start_container ran inside the container: its /tmp-log is in the root.
    with open(os.path.join(busybox, "tmp-log")) as f:
        (line,) = f.read().splitlines()
    os.unlink(os.path.join(busybox, "tmp-log"))
    phase, rest = line.split(" ", 1)
    document, uts, _mnt = rest.rsplit(" ", 2)
    assert phase == "start_container" and json.loads(document)["status"] == "created"
    assert uts == ns["create_container"] != host_uts


def test_a_failing_create_hook_rolls_back(busybox: str, hook: str, root: str, tmp_path, no_leaks: None) -> None:
    log = str(tmp_path / "log")
    config = lc.Config(
        rootfs=busybox,
        hooks=lc.Hooks(create_runtime=[entry(hook, "create_runtime", log, 3)]),
        process=lc.Process(args=["sleep", "30"]),
    )
    with pytest.raises(lc.HookError) as info:
        lc.Container.create("hooks-fail", config, root=root)
    assert info.value.phase == "create_runtime" and "exited with 3" in str(info.value)
    assert lc.Container.list(root=root) == []
    assert not [
        h for h in os.listdir("/sys/fs/cgroup") if os.path.exists(f"/sys/fs/cgroup/{h}/libcontainer_py/hooks-fail")
    ]


def test_a_failing_callback_rolls_back(busybox: str, root: str, no_leaks: None) -> None:
    def boom(state: dict) -> None:
        raise RuntimeError("no")

    assert_create_fails("hooks-cb", sleeping(busybox), root, "RuntimeError", callbacks={"create_runtime": [boom]})


def test_a_hook_that_hangs_times_out(busybox: str, root: str, no_leaks: None) -> None:
    config = sleeping(busybox, prestart=[lc.Hook("/bin/sleep", args=["sleep", "30"], timeout=1)])
    assert_create_fails("hooks-hang", config, root, "timed out")


def test_poststart_and_poststop_failures_only_warn(busybox: str, hook: str, root: str, tmp_path) -> None:
    log = str(tmp_path / "log")
    config = sleeping(busybox, poststart=[entry(hook, "poststart", log, 1)], poststop=[entry(hook, "poststop", log, 1)])
    c = lc.Container.create("hooks-warn", config, root=root)
    with pytest.warns(RuntimeWarning, match="poststart"):
        c.start()
    assert c.status() == "running"
    with pytest.warns(RuntimeWarning, match="poststop"):
        c.destroy()
    assert read_log(log) == ["poststart", "poststop"]


def test_a_failing_start_container_hook_stops_the_container(busybox: str, root: str) -> None:
    config = sleeping(busybox, start_container=[lc.Hook("/bin/false")])
    with lc.Container.create("hooks-start", config, root=root) as c:
        with pytest.raises(lc.HookError):
            c.start()
        assert c.wait(10) is not None and c.status() == "stopped"


def test_executable_hooks_run_from_another_process(busybox: str, hook: str, root: str, tmp_path) -> None:
    import subprocess
    import sys

    log = str(tmp_path / "log")
    config = sleeping(busybox, poststart=[entry(hook, "poststart", log)], poststop=[entry(hook, "poststop", log)])
    c = lc.Container.create("hooks-other", config, root=root)
    code = f"import libcontainer_py as lc; c = lc.Container.load('hooks-other', root={root!r}); c.start(); c.destroy()"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert read_log(log) == ["poststart", "poststop"]
    c.destroy()


@pytest.mark.parametrize("phase", ["create_runtime", "create_container"])
def test_create_hooks_run_without_a_rootfs_and_argv0_is_kept(root: str, phase: str) -> None:
    """busybox picks its applet by argv[0]: run as "false" it fails; were
    argv[0] replaced by the path, busybox alone would print its help and
    exit 0."""
    hook = lc.Hook("/bin/busybox", args=["false"])
    config = lc.Config(
        rootfs=None,
        namespaces=lc.Namespaces(uts=True, pid=True, mount=True),
        hooks=lc.Hooks(**{phase: [hook]}),
        process=lc.Process(args=["sleep", "30"]),
    )
    assert_create_fails("hooks-norootfs", config, root, "exited with 1")


def test_poststop_runs_once_when_another_process_destroyed_it(busybox: str, hook: str, root: str, tmp_path) -> None:
    log = str(tmp_path / "log")
    c = lc.Container.create("hooks-once", sleeping(busybox, poststop=[entry(hook, "poststop", log)]), root=root)
    c.start()
    lc.Container.load("hooks-once", root=root).destroy()
    c.destroy()  # reaps its child; the record is gone already
    assert read_log(log) == ["poststop"]
