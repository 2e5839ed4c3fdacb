"""A Python function run elsewhere and its result back: lc.call and lc.Pool
beside multiprocessing's spawn and forkserver, in one run.

Each round times one call of a small function (it returns its argument
doubled), alternating the four ways:

* ``lc.call``: a fresh container and a fresh interpreter (cold);
* ``spawn``: a ``multiprocessing`` spawn-context Process (a fresh
  interpreter, no isolation) sending the result through a Pipe, joined;
* ``lc.Pool``: a warm worker (its zygote forks a fresh process, placed in a
  fresh cgroup) -- one call;
* ``forkserver``: a forkserver-context Process (the server forks a fresh
  process) with a Pipe, joined -- the forkserver started before timing.

Prints medians with the 10th-90th percentiles in ms, and the ratios the
targets are about: Pool / forkserver and lc.call / spawn.  Root::

    .venv/bin/python benchmarks/bench_call.py --iterations 40
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time
from multiprocessing.connection import Connection
from typing import Any, Callable, Dict, List

import libcontainer_py as lc


def double(x: int) -> int:
    return x * 2


def _check(result: int) -> None:
    assert result == 42


def _child(conn: Connection, x: int) -> None:
    conn.send(double(x))
    conn.close()


def _process_call(ctx: Any) -> Callable[[], None]:
    def once() -> None:
        ours, theirs = ctx.Pipe()
        p = ctx.Process(target=_child, args=(theirs, 21))
        p.start()
        theirs.close()
        assert ours.recv() == 42
        p.join()
        ours.close()

    return once


def _percentiles(values: List[float]) -> str:
    cuts = statistics.quantiles(values, n=10)
    return f"{statistics.median(values) * 1e3:.1f} [{cuts[0] * 1e3:.1f}-{cuts[-1] * 1e3:.1f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=3)
    options = parser.parse_args()
    spawn = multiprocessing.get_context("spawn")
    forkserver = multiprocessing.get_context("forkserver")
    forkserver.set_forkserver_preload([__name__])
    with lc.Pool(workers=1) as pool:
        ways: Dict[str, Callable[[], None]] = {
            "lc.call": lambda: _check(lc.call(double, 21)),
            "spawn": _process_call(spawn),
            "lc.Pool": lambda: _check(pool.call(double, 21)),
            "forkserver": _process_call(forkserver),
        }
        times: Dict[str, List[float]] = {name: [] for name in ways}
        for round_ in range(options.warmup + options.iterations):
            for name, once in ways.items():
                began = time.perf_counter()
                once()
                if round_ >= options.warmup:
                    times[name].append(time.perf_counter() - began)
    print(f"{options.iterations} iterations, median [p10-p90] ms")
    for name, values in times.items():
        print(f"  {name:<11} {_percentiles(values)}")
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"lc.Pool / forkserver: {median['lc.Pool'] / median['forkserver']:.2f}  (target <= 1.0)")
    print(f"lc.call / spawn:      {median['lc.call'] / median['spawn']:.2f}  (target <= 1.0)")


if __name__ == "__main__":
    main()
