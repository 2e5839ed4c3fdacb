"""Hundreds of runs, failing ones included, leave nothing behind: no mount,
fd, child process or temp dir (counted on the host before and after)."""

from __future__ import annotations

import itertools

import pytest

import libcontainer_py as lc


def test_200_runs_including_failures_leak_nothing(busybox: str, tmp_path, no_leaks: None) -> None:
    data = tmp_path / "data"
    data.mkdir()
    good = lc.Config(
        rootfs=busybox,
        mounts=lc.Mounts.default() + [lc.Mount.bind(str(data), "/data", readonly=True)],
        process=lc.Process(args=["sh", "-c", "echo ok"]),
    )
    bad_exec = good.with_args(["no-such-program"])
    bad_mount = lc.Config(rootfs=busybox, mounts=lc.Mounts.default() + [lc.Mount.bind("/no/such", "/data")])
    bad_cwd = lc.Config(rootfs=busybox, process=lc.Process(args=["true"], cwd="/missing"))
    host = lc.Config(process=lc.Process(args=["true"]))
    cases = [
        (good, None),
        (bad_exec, lc.ExecError),
        (bad_mount, lc.MountError),
        (bad_cwd, lc.CwdError),
        (host, None),
    ]
    counts = {"ok": 0, "failed": 0}
    for config, error in itertools.islice(itertools.cycle(cases), 200):
        if error is None:
            r = lc.run(config=config, capture_output=True, timeout=10)
            assert r.returncode == 0
            counts["ok"] += 1
        else:
            with pytest.raises(error):
                lc.run(config=config, capture_output=True, timeout=10)
            counts["failed"] += 1
    assert counts == {"ok": 80, "failed": 120}


def test_timeouts_leak_nothing(busybox: str, no_leaks: None) -> None:
    config = lc.Config(rootfs=busybox, process=lc.Process(args=["sleep", "30"]))
    for _ in range(10):
        with pytest.raises(lc.TimeoutExpired):
            lc.run(config=config, timeout=0.05, capture_output=True)


def test_bad_config_creates_nothing(no_leaks: None) -> None:
    for _ in range(50):
        with pytest.raises(lc.ConfigError):
            lc.run(["true"], config=lc.Config(process=lc.Process(args=["x"], cwd="rel")))


def test_a_failure_while_the_child_sets_up_leaves_nothing(
    busybox: str, tmp_path, no_leaks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Container.create writes the config document (config.json) while the
    child sets itself up (after the clone): failing there kills the child and
    removes its cgroup and state, as a failure anywhere else does."""
    import glob

    from libcontainer_py import container as container_module

    def broken(config: lc.Config) -> bytes:
        raise RuntimeError("serialization failed")

    monkeypatch.setattr(container_module, "config_json", broken)
    root = str(tmp_path / "state")
    config = lc.Config(rootfs=busybox, process=lc.Process(args=["true"]), cgroup=lc.CgroupConfig())
    for i in range(3):
        with pytest.raises(RuntimeError, match="serialization failed"):
            lc.Container.create(f"leak-meanwhile-{i}", config, root=root)
    assert lc.Container.list(root=root) == [] and glob.glob(f"{root}/*") == []
    assert glob.glob("/sys/fs/cgroup/*/libcontainer_py/leak-meanwhile-*") == []


def test_destroy_gives_up_on_a_process_that_outlives_sigkill(
    busybox: str, tmp_path, no_leaks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """destroy() waits for the killed first process with a deadline: a
    process that does not go (here: signals are lost on purpose) is a
    ContainerError naming it, not a wait for ever; the state goes anyway."""
    import os
    import signal

    from libcontainer_py import container as container_module
    from libcontainer_py.popen import ContainerProcess

    config = lc.Config(rootfs=busybox, cgroup=None, process=lc.Process(args=["sleep", "30"]))
    root = str(tmp_path / "state")
    c = lc.Container.create("outlives-kill", config, root=root)
    c.start()
    process = c.process
    assert process is not None
    monkeypatch.setattr(container_module, "KILL_TIMEOUT", 0.3)
    monkeypatch.setattr(ContainerProcess, "send_signal", lambda self, sig: None)
    try:
        with pytest.raises(lc.ContainerError, match=f"process {process.pid} did not exit after SIGKILL"):
            c.destroy()
        assert process.poll() is None and lc.Container.list(root=root) == []
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
