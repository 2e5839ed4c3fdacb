"""lc.run_async and lc.create_subprocess_exec: containers as asyncio tasks."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from typing import Any, List, Tuple

import pytest

import libcontainer_py as lc

# Each container reports the (shared, host) boot clock when it starts and ends.
UPTIMES = "read up _ < /proc/uptime; echo $up; sleep 0.5; read up _ < /proc/uptime; echo $up"


def test_six_concurrent_containers_overlap(no_leaks: None) -> None:
    """They run together: every one has started before any has ended."""

    async def main() -> Tuple[List[lc.CompletedProcess], int]:
        threads = threading.active_count()
        results = await asyncio.gather(*(lc.run_async(UPTIMES, shell=True, capture_output=True) for _ in range(6)))
        return list(results), threads

    results, threads_before = asyncio.run(main())
    spans = [tuple(float(x) for x in r.stdout.split()) for r in results]
    assert all(r.returncode == 0 for r in results) and len({r.container_id for r in results}) == 6
    assert max(start for start, _ in spans) < min(end for _, end in spans)
    assert threading.active_count() == threads_before  # the pidfd, not a watcher thread


def test_run_async_has_runs_arguments_and_result(no_leaks: None) -> None:
    async def main() -> lc.CompletedProcess:
        return await lc.run_async(
            "cat; echo $X; pwd; id -u",
            shell=True,
            input="in\n",
            capture_output=True,
            text=True,
            env={"X": "x"},
            cwd="/tmp",
            user=9,
        )

    r = asyncio.run(main())
    assert isinstance(r, lc.CompletedProcess)
    assert (r.returncode, r.stdout, r.stderr) == (0, "in\nx\n/tmp\n9\n", "")


def test_run_async_check_and_timeout(no_leaks: None) -> None:
    with pytest.raises(lc.ProcessExitError) as info:
        asyncio.run(lc.run_async(["sh", "-c", "exit 4"], check=True))
    assert info.value.returncode == 4
    with pytest.raises(lc.TimeoutExpired):
        asyncio.run(lc.run_async(["sleep", "30"], timeout=0.2))
    with pytest.raises(FileNotFoundError):
        asyncio.run(lc.run_async(["no-such-program"]))


def test_create_subprocess_exec_streams_and_communicate(no_leaks: None) -> None:
    async def main() -> Any:
        proc = await lc.create_subprocess_exec(
            "sh", "-c", "read x; echo got $x; echo $$ >&2", stdin=lc.PIPE, stdout=lc.PIPE, stderr=lc.PIPE
        )
        assert proc.returncode is None and proc.pid > 0
        out, err = await proc.communicate(b"abc\n")
        return proc, out, err

    proc, out, err = asyncio.run(main())
    assert (out, err, proc.returncode) == (b"got abc\n", b"1\n", 0)
    assert f"id={proc.container_id!r}" in repr(proc) and "returncode=0" in repr(proc)


def test_create_subprocess_exec_readline_terminate_wait(no_leaks: None) -> None:
    async def main() -> Tuple[bytes, int]:
        config = lc.Config(process=lc.Process(args=["sh", "-c", "echo up; exec sleep 60"], init=True))
        proc = await lc.create_subprocess_exec(config=config, stdout=lc.PIPE)
        assert proc.stdout is not None
        line = await proc.stdout.readline()
        proc.terminate()
        return line, await proc.wait()

    line, code = asyncio.run(main())
    assert line == b"up\n" and code == -signal.SIGTERM


def test_cgroup_stats_kept_and_cgroup_removed(no_leaks: None) -> None:
    config = lc.Config(cgroup=lc.CgroupConfig(memory=lc.Memory(max=64 << 20)))

    async def main() -> Any:
        proc = await lc.create_subprocess_exec("sh", "-c", "read x", config=config, stdin=lc.PIPE)
        dirs = proc._proc.cgroup.dirs()
        members = [open(os.path.join(d, "cgroup.procs")).read().split() for d in dirs]
        await proc.communicate(b"\n")
        return proc, dirs, members

    proc, dirs, members = asyncio.run(main())
    assert all(str(proc.pid) in m for m in members)  # it ran in its cgroup
    assert proc.stats is not None and proc.stats.memory is not None and proc.stats.memory.limit == 64 << 20
    assert proc.returncode == 0 and not any(os.path.exists(d) for d in dirs)


def test_container_wait_async_wakes_on_the_pidfd(busybox: str, tmp_path: Any, monkeypatch: Any, no_leaks: None) -> None:
    """Container.wait_async: the creator gets the exit status, another
    process's view (Container.load) None once the process is gone; both
    are woken by the pidfd (no asyncio.sleep taken), and nothing is left
    (no_leaks: fds, mounts, processes)."""
    slept: List[float] = []
    real_sleep = asyncio.sleep

    async def counting_sleep(delay: float, *args: Any) -> Any:
        slept.append(delay)
        return await real_sleep(delay, *args)

    monkeypatch.setattr(asyncio, "sleep", counting_sleep)
    root = str(tmp_path / "state")
    config = lc.Config(rootfs=busybox, process=lc.Process(args=["sh", "-c", "read line; exit 5"]))

    async def main() -> Tuple[Any, Any]:
        with lc.Container.create("wa1", config, root=root, stdin=lc.PIPE) as mine:
            mine.start()
            other = lc.Container.load("wa1", root=root)
            waits = asyncio.gather(mine.wait_async(), other.wait_async())
            await real_sleep(0.2)  # both are waiting now
            assert mine.process is not None and mine.process.stdin is not None
            mine.process.stdin.write(b"go\n")
            mine.process.stdin.close()
            status, seen = await waits
            return status, seen

    status, seen = asyncio.run(main())
    assert (status, seen) == (5, None)
    assert slept == []
