"""The floor under a Python command line: what every call costs before any
work, against runc's, and the ratios that floor allows at best.

Every call of ``libcontainer-py`` starts one Python interpreter; every call
of runc starts a Go program, and ``create`` and ``run`` two (runc re-executes
itself as ``runc init`` in the container).  Counting only that, and giving
ours no other work at all, bounds from below what any Python front end can
reach:

* ``run``: at best runc's ``run`` + (python - 2 go).
* an engine's path taking T ms with runc: at best 1 + extra / T, the extra
  summed over its calls (podman's ``run --rm`` calls create, start, delete;
  containerd's shim create, start, state, delete; T from bench_engines.py).

Measured here, alternating, medians of ``--iterations`` rounds: the
interpreter our script runs on (``python -c pass``), ``runc --version`` (Go's
start and exit), and runc's ``run`` of the plain bundle (as bench_cli.py).
Root; needs runc and busybox-static.  Run it from the venv bench_cli.py uses::

    /tmp/speed-venv/bin/python benchmarks/bench_floor.py --iterations 20
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_cli
import bench_start as bs
from _common import leftover_status

#: The runtime calls an engine makes per ``run --rm`` of a container (see bench_engines.py).
ENGINE_CALLS = {"podman": ("create", "start", "delete"), "ctr": ("create", "start", "state", "delete")}
#: Go programs runc starts per call (create and run re-execute runc as ``runc init``).
GO_STARTS = {"create": 2, "run": 2}


def extra_ms(command: str, python_ms: float, go_ms: float) -> float:
    """What a call of ours costs at least on top of runc's same call."""
    return python_ms - GO_STARTS.get(command, 1) * go_ms


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--runc", default=shutil.which("runc") or "/usr/sbin/runc")
    parser.add_argument(
        "--engine-ms",
        action="append",
        default=[],
        metavar="ENGINE=MS",
        help="runc's median through an engine (bench_engines.py), e.g. podman=165: prints that engine's floor",
    )
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    python = bench_cli.interpreter_of(bench_cli.our_cli())
    probes = {"python": [python, "-c", "pass"], "go": [args.runc, "--version"]}
    samples: Dict[str, List[int]] = {"python": [], "go": [], "runc run": []}
    with tempfile.TemporaryDirectory(prefix="bench-floor-", dir=bs.DEFAULT_TMPDIR) as tmp:
        work = Path(tmp)
        bundle = bench_cli.plain_bundle(work, args.runc)
        root = work / "runc-state"
        try:
            for i in range(args.iterations + 2):
                order = ["python", "go"] if i % 2 == 0 else ["go", "python"]
                for name in order:
                    elapsed = bench_cli.timed(probes[name])
                    if i >= 2:
                        samples[name].append(elapsed)
                argv_run = [args.runc, "--root", str(root), "run", "--bundle", str(bundle), f"floor-{i}"]
                elapsed = bench_cli.timed(argv_run)
                if i >= 2:
                    samples["runc run"].append(elapsed)
        finally:
            left = bench_cli.clean_up([args.runc], root)
    medians = {name: bs.Summary.of(s).median_ms for name, s in samples.items()}
    python_ms, go_ms = medians["python"], medians["go"]
    print(f"{args.iterations} iterations, medians in ms")
    print(f"python -c pass ({python}): {python_ms:.1f}")
    print(f"runc --version: {go_ms:.1f}")
    print(f"a light call of ours, at least: {extra_ms('start', python_ms, go_ms):+.1f} ms on runc's")
    print(f"create or run of ours, at least: {extra_ms('create', python_ms, go_ms):+.1f} ms on runc's")
    run_floor = medians["runc run"] + extra_ms("run", python_ms, go_ms)
    print(f"run: runc {medians['runc run']:.1f}, ours at best {run_floor:.1f} = {run_floor / medians['runc run']:.2f}x")
    for item in args.engine_ms:
        engine, _, ms = item.partition("=")
        calls = ENGINE_CALLS.get(engine)
        if calls is None or not ms:
            print(f"--engine-ms {item!r}: expected one of {', '.join(ENGINE_CALLS)}=MS", file=sys.stderr)
            return 2
        total = float(ms)
        extra = sum(extra_ms(c, python_ms, go_ms) for c in calls)
        print(f"{engine} ({', '.join(calls)}; {total:.0f} ms with runc): ours at best {1 + extra / total:.2f}x")
    return leftover_status(left)


if __name__ == "__main__":
    sys.exit(main())
