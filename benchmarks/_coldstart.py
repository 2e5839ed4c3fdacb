"""The cold start: a fresh interpreter that imports the library and runs one
container with the defaults, against one that runs the same program with
``subprocess`` (imported by bench_start.py; also runs alone:
``python3 benchmarks/_coldstart.py --iterations 20``).

Both rows start ``sys.executable`` with ``-c`` and time it from fork to
exit and reap, alternating which goes first; ``--cpu`` also reports the
CPU time of each interpreter (and its children: ``getrusage``), which
other processes on the machine disturb less than the wall time, and
``--baseline PYTHON`` adds ``cold-lc`` run by another interpreter (a venv
of another version of the library), interleaved with the others.  The working directory is
``/``, so that the interpreter imports the installed library, not a
checkout that happens to be the current directory: measure from a venv
with a non-editable install (an editable one's import hook costs ~11 ms
on every start, see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

#: row -> the program its interpreter runs.
COLD_ROWS: Dict[str, str] = {
    "cold-lc": 'import libcontainer_py as lc; lc.run(["true"])',
    "cold-subprocess": 'import subprocess; subprocess.run(["true"])',
}
#: --breakdown: where cold-lc's time goes, row by row (not run by bench_start.py).
BREAKDOWN_ROWS: Dict[str, str] = {
    "python -c pass": "pass",
    "+ import attrs": 'import subprocess, attrs; subprocess.run(["true"])',
    "import lc + Config()": "import libcontainer_py as lc; from libcontainer_py import _run; lc.Config()",
}
#: The issue's target for cold-lc / cold-subprocess (medians): reported, never enforced.
COLD_TARGET = 2.5


#: The row --baseline adds: cold-lc, by the other interpreter.
BASELINE_ROW = "cold-lc [baseline]"


def _children_cpu_ns() -> int:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return int((usage.ru_utime + usage.ru_stime) * 1e9)


def _run_once(python: str, code: str, cpu: Optional[List[int]] = None) -> int:
    """Wall time of one interpreter running ``code``, in ns (its CPU time
    appended to ``cpu``); RuntimeError if it fails."""
    cpu_before = _children_cpu_ns()
    started = time.perf_counter_ns()
    done = subprocess.run([python, "-c", code], cwd="/", stdin=subprocess.DEVNULL, capture_output=True)
    elapsed = time.perf_counter_ns() - started
    if cpu is not None:
        cpu.append(_children_cpu_ns() - cpu_before)
    if done.returncode != 0:
        raise RuntimeError(f"{code!r} exited {done.returncode}: {done.stderr.decode(errors='replace').strip()}")
    return elapsed


def measure_cold_start(
    iterations: int,
    warmup: int = 2,
    python: Optional[str] = None,
    rows: Optional[Dict[str, str]] = None,
    baseline: Optional[str] = None,
    cpu: Optional[Dict[str, List[int]]] = None,
) -> Dict[str, List[int]]:
    """``iterations`` timed runs of each row (after ``warmup`` untimed rounds),
    alternating the order each round; samples in ns by row.  ``baseline``:
    an interpreter that also runs cold-lc (BASELINE_ROW); ``cpu``: filled
    with each sample's CPU time, by row."""
    python = python or sys.executable
    rows = rows or COLD_ROWS
    # without .pyc files every start compiles the library anew: not what users see
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        raise RuntimeError("unset PYTHONDONTWRITEBYTECODE to measure a cold start")
    runs = {name: (python, code) for name, code in rows.items()}
    if baseline is not None:
        runs[BASELINE_ROW] = (baseline, COLD_ROWS["cold-lc"])
    names = list(runs)
    samples: Dict[str, List[int]] = {name: [] for name in names}
    for i in range(warmup + iterations):
        order = names if i % 2 == 0 else names[::-1]
        for name in order:
            spent: List[int] = []
            elapsed = _run_once(*runs[name], cpu=spent)
            if i >= warmup:
                samples[name].append(elapsed)
                if cpu is not None:
                    cpu.setdefault(name, []).extend(spent)
    return samples


def cold_start_ratio(samples: Dict[str, List[int]], row: str = "cold-lc") -> float:
    """``row``'s median over cold-subprocess's."""
    return statistics.median(samples[row]) / statistics.median(samples["cold-subprocess"])


def cold_start_table(samples: Dict[str, List[int]], cpu: Optional[Dict[str, List[int]]] = None) -> str:
    """The rows (median, p10, p90 in ms; with ``cpu``, the median CPU time)
    and their ratio beside the target."""
    header = "cold start (fresh interpreter, fork to exit)  median ms  p10 ms  p90 ms   n"
    lines = [header + ("  cpu ms" if cpu else "")]
    for name, code in {**COLD_ROWS, **BREAKDOWN_ROWS, BASELINE_ROW: COLD_ROWS["cold-lc"]}.items():
        if name not in samples:
            continue
        ms = sorted(s / 1e6 for s in samples[name])
        deciles = statistics.quantiles(ms, n=10, method="inclusive") if len(ms) > 1 else [ms[0]] * 9
        label = f"{name}: {code}"
        line = f"{label:<45.45} {statistics.median(ms):9.1f} {deciles[0]:7.1f} {deciles[-1]:7.1f} {len(ms):3d}"
        if cpu and cpu.get(name):
            line += f" {statistics.median(cpu[name]) / 1e6:7.1f}"
        lines.append(line)
    ratio = cold_start_ratio(samples)
    met = "met" if ratio <= COLD_TARGET else "not met"
    lines.append(f"ratio cold-lc/cold-subprocess {ratio:.2f}   target <= {COLD_TARGET}  {met}")
    if cpu and cpu.get("cold-lc") and cpu.get("cold-subprocess"):
        by_cpu = statistics.median(cpu["cold-lc"]) / statistics.median(cpu["cold-subprocess"])
        lines.append(f"ratio of CPU times            {by_cpu:.2f}")
    if BASELINE_ROW in samples:
        lines.append(f"ratio {BASELINE_ROW}/cold-subprocess {cold_start_ratio(samples, BASELINE_ROW):.2f}")
    lines.append(f"load average {os.getloadavg()[0]:.2f} (at the end)")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Measure and print the two rows (as root: the defaults make a cgroup)."""
    p = argparse.ArgumentParser(description="cold start: lc.run vs subprocess.run in a fresh interpreter")
    p.add_argument("--iterations", type=int, default=20)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--python", default=sys.executable, help="the interpreter to start (default: this one)")
    p.add_argument("--breakdown", action="store_true", help="also: bare start, + attrs, import + Config()")
    p.add_argument("--cpu", action="store_true", help="also: the median CPU time of each row (getrusage)")
    p.add_argument("--baseline", metavar="PYTHON", help="also: cold-lc run by this interpreter, interleaved")
    args = p.parse_args(argv)
    rows = {**COLD_ROWS, **BREAKDOWN_ROWS} if args.breakdown else COLD_ROWS
    cpu: Optional[Dict[str, List[int]]] = {} if args.cpu else None
    samples = measure_cold_start(args.iterations, args.warmup, args.python, rows, args.baseline, cpu)
    print(cold_start_table(samples, cpu))
    return 0


if __name__ == "__main__":
    sys.exit(main())
