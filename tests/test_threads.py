"""Spawning from many threads at once: the child never runs Python, so a
lock held by another thread cannot deadlock it."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import libcontainer_py as lc


def test_eight_threads_at_once(busybox: str, no_leaks: None) -> None:
    barrier = threading.Barrier(8)

    def one(i: int) -> str:
        barrier.wait()
        outs = []
        for j in range(10):
            config = lc.Config(rootfs=busybox, hostname=f"t{i}-{j}")
            r = lc.run(["sh", "-c", "echo $$ $(hostname)"], config=config, capture_output=True, text=True, timeout=30)
            assert r.returncode == 0, r.stderr
            outs.append(r.stdout.strip())
        return "\n".join(outs)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(8)))
    for i, out in enumerate(results):
        assert out.splitlines() == [f"1 t{i}-{j}" for j in range(10)]


def test_spawn_while_other_threads_hold_locks_and_allocate(busybox: str, no_leaks: None) -> None:
    """Other threads hammer malloc, the GIL and a lock while we spawn."""
    stop = threading.Event()
    lock = threading.Lock()

    def churn() -> None:
        while not stop.is_set():
            with lock:
                _ = [bytearray(4096) for _ in range(64)]

    workers = [threading.Thread(target=churn) for _ in range(3)]
    for w in workers:
        w.start()
    try:
        for _ in range(30):
            r = lc.run(["echo", "alive"], config=lc.Config(rootfs=busybox), capture_output=True, timeout=10)
            assert r.stdout == b"alive\n"
    finally:
        stop.set()
        for w in workers:
            w.join()


def test_pipes_of_one_container_do_not_reach_another(busybox: str, no_leaks: None) -> None:
    """Long-lived containers started from one thread must not hold the pipes
    of containers started at the same time from other threads (else those
    would wait for EOF until the sleepers die)."""
    sleeper = lc.Config(rootfs=busybox, process=lc.Process(args=["sleep", "20"]))
    quick = lc.Config(rootfs=busybox, process=lc.Process(args=["echo", "x"]))
    sleepers: list = []
    stop = threading.Event()

    def start_sleepers() -> None:
        while not stop.is_set() and len(sleepers) < 40:
            sleepers.append(lc.ContainerProcess(sleeper, stdout=lc.DEVNULL))

    starter = threading.Thread(target=start_sleepers)
    t0 = time.monotonic()
    starter.start()
    try:
        with ThreadPoolExecutor(3) as pool:
            outs = list(pool.map(lambda _: lc.run(config=quick, capture_output=True).stdout, range(60)))
        assert outs == [b"x\n"] * 60
        assert time.monotonic() - t0 < 15
        stop.set()
        starter.join()
        for s in sleepers:
            assert sorted(os.listdir(f"/proc/{s.pid}/fd")) == ["0", "1", "2"]
    finally:
        stop.set()
        starter.join()
        for s in sleepers:
            s.kill()
            s.wait()
            s.close()


def test_the_caller_stays_dumpable_with_concurrent_spawns(busybox: str) -> None:
    """Children share the caller's memory (and so its dumpable flag) until
    they exec; concurrent ones must not leave the caller non-dumpable."""
    import ctypes

    prctl = ctypes.CDLL(None).prctl
    config = lc.Config(rootfs=busybox, process=lc.Process(args=["true"], user=lc.User(1000, 1000)))
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: lc.run(config=config).returncode, range(64)))
    assert prctl(3, 0, 0, 0, 0) == 1  # PR_GET_DUMPABLE
