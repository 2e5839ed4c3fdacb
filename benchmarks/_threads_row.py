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
"""

from __future__ import annotations

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


def measure(run_one: Callable[[], Any], rounds: int, per_round: int) -> Dict[str, Any]:
    """Run the rounds (after one untimed warm-up round of each kind); the summary and raw times."""
    _one_thread(run_one, min(per_round, 10))
    _two_threads(run_one, min(per_round, 10))
    one: List[float] = []
    two: List[float] = []
    for i in range(rounds):
        if i % 2 == 0:
            one.append(_one_thread(run_one, per_round))
            two.append(_two_threads(run_one, per_round))
        else:
            two.append(_two_threads(run_one, per_round))
            one.append(_one_thread(run_one, per_round))
    ratios = [a / b for a, b in zip(one, two)]
    return {
        "rounds": rounds,
        "per_round": per_round,
        "one_thread_s": one,
        "two_threads_s": two,
        "one_thread_per_s": per_round / statistics.median(one),
        "two_threads_per_s": per_round / statistics.median(two),
        "ratio": statistics.median(ratios),
        "target": TARGET,
    }


def table(result: Dict[str, Any]) -> str:
    """The row as printed under the ratios (and bwrap's beside it, when measured)."""
    met = "met" if result["ratio"] >= result["target"] else "missed"
    rounds = f"{result['rounds']} rounds of {result['per_round']} containers"
    lines = [
        f"threads ({rounds}, median of per-round ratios)",
        f"  ours-full  1 thread {result['one_thread_per_s']:.0f}/s, 2 threads {result['two_threads_per_s']:.0f}/s:"
        f" 2 threads / 1 thread {result['ratio']:.2f}  target >= {result['target']:.1f}  {met}",
    ]
    bwrap = result.get("bwrap")
    if bwrap:
        lines.append(
            f"  bwrap      1 thread {bwrap['one_thread_per_s']:.0f}/s, 2 threads {bwrap['two_threads_per_s']:.0f}/s:"
            f" 2 threads / 1 thread {bwrap['ratio']:.2f}  (separate processes, no GIL: the kernel's share)"
        )
    return "\n".join(lines)
