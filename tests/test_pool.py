"""lc.Pool: warm interpreters in containers, a fresh process and cgroup per call."""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import threading
import time
from concurrent.futures import Future
from typing import Any, Iterator, List

import pytest
from support import calls

import libcontainer_py as lc

#: Set by a call; a fresh process per call never sees the previous one's.
STATE: List[int] = []


@pytest.fixture
def nothing_left(monkeypatch: Any) -> Iterator[None]:
    with calls.nothing_left(monkeypatch, "lcpool"):
        yield


def _cgroup_and_state(x: int) -> tuple[str, int, int, List[int]]:
    STATE.append(x)
    with open("/proc/self/cgroup") as f:
        memory = next(line.split(":", 2)[2].strip() for line in f if ":memory:" in line)
    return memory, os.getpid(), os.getppid(), list(STATE)


def test_map_submit_and_a_fresh_cgroup_per_call(nothing_left: None) -> None:
    with lc.Pool(workers=2) as pool:
        assert list(pool.map(lambda x: x * x, range(8))) == [x * x for x in range(8)]
        future = pool.submit(_cgroup_and_state, 1)
        assert isinstance(future, Future)
        first = future.result()
        second = pool.call(_cgroup_and_state, 2)
        worker_cgroups = {os.path.basename(w.proc.cgroup.path) for w in pool._workers}
    # each call its own cgroup, none of them a worker's
    assert first[0] != second[0]
    assert os.path.basename(first[0]) not in worker_cgroups
    assert os.path.basename(second[0]) not in worker_cgroups
    # a fresh process forked by the zygote (PID 1 of the worker's container)
    assert first[2] == second[2] == 1 and first[1] != 1
    assert first[3] == [1] and second[3] == [2]


def test_exceptions_timeouts_and_crashes_leave_the_pool_working(nothing_left: None) -> None:
    def boom() -> None:
        raise ValueError("remote")

    with lc.Pool(workers=1, timeout=2) as pool:
        with pytest.raises(ValueError, match="remote") as info:
            pool.call(boom)
        assert "in boom" in str(info.value.__cause__)
        with pytest.raises(lc.CallTimeout) as timed_out:
            pool.call(time.sleep, 600)
        assert timed_out.value.wall_time is not None and timed_out.value.wall_time >= 2
        with pytest.raises(lc.WorkerCrashed) as crashed:
            pool.call(ctypes.string_at, 0)
        assert crashed.value.signal == signal.SIGSEGV
        with pytest.raises(lc.SerializationError):
            pool.submit(print, threading.Lock())
        assert pool.call(lambda: "still here") == "still here"


def test_a_dead_worker_is_replaced(nothing_left: None) -> None:
    with lc.Pool(workers=1) as pool:
        zygote = pool._workers[0].proc
        zygote.kill()
        zygote.wait()
        assert pool.call(lambda: 5) == 5
        assert pool._workers[0].proc is not zygote


def test_memory_limit_per_call(nothing_left: None) -> None:
    config = lc.Config(cgroup=lc.CgroupConfig(memory=lc.Memory(max="64M", swap_max=0)))

    def hog() -> int:
        return len([bytearray(16 << 20) for _ in range(64)])

    with lc.Pool(workers=1, config=config) as pool:
        with pytest.raises(lc.CallMemoryError):
            pool.call(hog)
        assert pool.call(len, [bytearray(16 << 20)]) == 1


def test_threads_and_asyncio(nothing_left: None) -> None:
    with lc.Pool(workers=2) as pool:
        results: dict[int, int] = {}

        def from_thread(i: int) -> None:
            results[i] = pool.call(lambda n: n + 100, i)

        threads = [threading.Thread(target=from_thread, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == {i: i + 100 for i in range(6)}

        async def main() -> List[int]:
            return list(await asyncio.gather(*(pool.call_async(lambda n: -n, i) for i in range(4))))

        assert asyncio.run(main()) == [0, -1, -2, -3]


def test_bad_pool_arguments(nothing_left: None) -> None:
    with pytest.raises(lc.ConfigError, match="workers"):
        lc.Pool(workers=0)
    with pytest.raises(lc.ConfigError, match="cgroup"):
        lc.Pool(config=lc.Config(cgroup=None))
    pool = lc.Pool(workers=1)
    pool.close()
    with pytest.raises(lc.ContainerError, match="closed"):
        pool.submit(print)
