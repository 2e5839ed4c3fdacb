"""bench_start.py's threads row: containers per second from one thread and from two.

Each round starts ``per_round`` containers with ``lc.Config``'s defaults
(the ours-full workload) one after the other from the main thread, and the
same number split between two threads started for the round, in
alternating order (one thread first in even rounds, two threads first in
odd ones).  The round's ratio is the one thread's time over the two
threads'; the report gives the median of those ratios beside the median
rates.  On a machine with two or more CPUs, a library whose container
start is mostly the kernel's and the child's work, not the caller's Python
under the GIL, approaches 2.

With ``processes=True`` each round also splits the same number between two
forked worker processes (each one thread, no GIL shared): the same
library and workload with nothing of the interpreter in common, the most
two threads could gain here.  What two processes gain is the kernel's and
the machine's share; what two threads gain less is the GIL's.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from typing import Any, Callable, Dict, List

#: The issue's target: two threads start at least 1.5x as many containers a second as one.
TARGET = 1.5


def _starts(run_one: Callable[[], Any], count: int) -> None:
    for _ in range(count):
        run_one()


def _one_thread(run_one: Callable[[], Any], count: int) -> float:
    start = time.perf_counter()
    _starts(run_one, count)
    return time.perf_counter() - start


def _two_threads(run_one: Callable[[], Any], count: int) -> float:
    errors: List[BaseException] = []

    def work(n: int) -> None:
        try:
            _starts(run_one, n)
        except BaseException as exc:  # reported by the caller, after both threads end
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in (count // 2, count - count // 2)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return elapsed


def _two_processes(run_one: Callable[[], Any], count: int) -> float:
    """``count`` containers split between two forked workers (``run_one``
    must name its containers so that two processes do not collide)."""
    start = time.perf_counter()
    pids = []
    for n in (count // 2, count - count // 2):
        pid = os.fork()
        if pid == 0:  # the worker: only os._exit leaves it, whatever happens
            status = 1
            try:
                _starts(run_one, n)
                status = 0
            finally:
                os._exit(status)
        pids.append(pid)
    failed = [pid for pid in pids if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0]
    elapsed = time.perf_counter() - start
    if failed:
        raise RuntimeError(f"a worker process failed ({len(failed)} of 2)")
    return elapsed


def measure(run_one: Callable[[], Any], rounds: int, per_round: int, *, processes: bool = False) -> Dict[str, Any]:
    """Run the rounds (after one untimed warm-up round of each kind); the summary and raw times."""
    kinds: List[Callable[[Callable[[], Any], int], float]] = [_one_thread, _two_threads]
    if processes:
        kinds.append(_two_processes)
    for kind in kinds:
        kind(run_one, min(per_round, 10))
    times: List[List[float]] = [[] for _ in kinds]
    for i in range(rounds):
        order = list(range(len(kinds)))
        order = order[i % len(order) :] + order[: i % len(order)]  # each kind first in turn
        for k in order:
            times[k].append(kinds[k](run_one, per_round))
    one, two = times[0], times[1]
    result: Dict[str, Any] = {
        "rounds": rounds,
        "per_round": per_round,
        "one_thread_s": one,
        "two_threads_s": two,
        "one_thread_per_s": per_round / statistics.median(one),
        "two_threads_per_s": per_round / statistics.median(two),
        "ratio": statistics.median([a / b for a, b in zip(one, two)]),
        "target": TARGET,
    }
    if processes:
        procs = times[2]
        result["two_processes_s"] = procs
        result["two_processes_per_s"] = per_round / statistics.median(procs)
        result["processes_ratio"] = statistics.median([a / b for a, b in zip(one, procs)])
    return result


def table(result: Dict[str, Any]) -> str:
    """The row as printed under the ratios (and bwrap's beside it, when measured)."""
    met = "met" if result["ratio"] >= result["target"] else "missed"
    rounds = f"{result['rounds']} rounds of {result['per_round']} containers"
    lines = [
        f"threads ({rounds}, median of per-round ratios)",
        f"  ours-full  1 thread {result['one_thread_per_s']:.0f}/s, 2 threads {result['two_threads_per_s']:.0f}/s:"
        f" 2 threads / 1 thread {result['ratio']:.2f}  target >= {result['target']:.1f}  {met}",
    ]
    if "processes_ratio" in result:
        lines.append(
            f"  ours-full  2 processes {result['two_processes_per_s']:.0f}/s:"
            f" 2 processes / 1 thread {result['processes_ratio']:.2f}  (the same work without a shared GIL:"
            " the most two threads could gain here)"
        )
    bwrap = result.get("bwrap")
    if bwrap:
        lines.append(
            f"  bwrap      1 thread {bwrap['one_thread_per_s']:.0f}/s, 2 threads {bwrap['two_threads_per_s']:.0f}/s:"
            f" 2 threads / 1 thread {bwrap['ratio']:.2f}  (separate processes, no GIL: the kernel's share)"
        )
    return "\n".join(lines)
