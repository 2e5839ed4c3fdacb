"""Process(init=True): a tiny PID 1 that reaps orphans, forwards signals to
the program and exits with its status."""

from __future__ import annotations

import signal
import subprocess
import time

import psutil
import pytest

import libcontainer_py as lc

# 100 orphans: each subshell exits at once, its sleep is reparented to
# PID 1 and exits half a second later, after PID 1 became `sleep`.
ORPHANS = "for i in $(seq 100); do (sleep 0.5 &); done; echo spawned; exec sleep 5"


def zombies_under(pid: int) -> int:
    return sum(1 for p in psutil.Process(pid).children() if p.status() == psutil.STATUS_ZOMBIE)


@pytest.mark.parametrize("init", [True, False])
def test_orphans_are_reaped_only_with_the_init(busybox: str, init: bool) -> None:
    """Without an init, PID 1 ends up a program that never waits (sleep):
    the orphans stay zombies, the problem the init solves."""
    config = lc.Config(rootfs=busybox, process=lc.Process(args=["sh", "-c", ORPHANS], init=init))
    with lc.ContainerProcess(config, stdout=lc.PIPE, text=True) as proc:
        assert proc.stdout is not None and proc.stdout.readline() == "spawned\n"
        time.sleep(1.5)
        zombies = zombies_under(proc.pid)
        proc.kill()
    assert zombies == 0 if init else zombies >= 90


def test_signals_are_forwarded_and_the_status_passed_on(busybox: str) -> None:
    script = 'trap "echo got-term; exit 3" TERM; echo ready; while :; do sleep 0.1; done'
    config = lc.Config(rootfs=busybox, process=lc.Process(args=["sh", "-c", script], init=True))
    with lc.ContainerProcess(config, stdout=lc.PIPE, text=True) as proc:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        assert psutil.Process(proc.pid).name() == "init"
        proc.terminate()
        assert proc.wait(10) == 3
        assert proc.stdout.read() == "got-term\n"


def test_without_the_init_pid_1_ignores_term(busybox: str) -> None:
    """The kernel's rule; terminate() knows it and sends SIGKILL instead."""
    config = lc.Config(rootfs=busybox, process=lc.Process(args=["sleep", "5"]))
    with lc.ContainerProcess(config) as proc:
        proc.send_signal(signal.SIGTERM)
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(0.5)
        proc.terminate()
        assert proc.wait(5) == -signal.SIGKILL


def test_exit_codes_and_signals_of_the_program(busybox: str) -> None:
    def status(script: str) -> int:
        config = lc.Config(rootfs=busybox, process=lc.Process(args=["sh", "-c", script], init=True))
        return lc.run(config=config, timeout=10).returncode

    assert status("exit 0") == 0
    assert status("exit 42") == 42
    assert status("kill -KILL $$") == 128 + signal.SIGKILL


def test_exec_failure_is_reported_with_the_init(busybox: str) -> None:
    config = lc.Config(rootfs=busybox, process=lc.Process(args=["no-such-program"], init=True))
    with pytest.raises(lc.ExecError):
        lc.run(config=config, timeout=10)
