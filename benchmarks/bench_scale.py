#!/usr/bin/env python3
"""Many live containers from one process: create + start rate, ``list()``,
the owner's open fds and memory per live container, destroy.

N detached containers (default 1000), each ``sleep`` on the host's system
directories (``Rootfs.host()``) with ``lc.Config``'s defaults (the device
cgroup, seccomp, masked paths ...), are created and started one after the
other in a fresh state root (made by the first create, in /run, as the
default root is); the owner keeps every ``Container`` object, as
a program managing them would (the rate is shown with the owner's CPU
time per create + start, which other processes' load leaves alone).  Then
``Container.list()`` (best of 3) with all recorded, the owner's open fds
and RSS against before the first one, the Python heap per container
(tracemalloc, over N/10 more, at most 50, untimed), and ``destroy()`` of all.
Nothing may be left: state entries, cgroups, processes.  ``--profile``
also runs N/10 more (at most 100) under cProfile, untimed, and prints where
a create + start spends its time.  ``--against DIR`` compares with another
checkout (DIR holds its ``libcontainer_py``, extensions built): each side
runs ``--rounds`` times in a fresh process, alternating, and the medians are
shown side by side.  Run as root:

    python3 benchmarks/bench_scale.py                 # 1000 containers
    python3 benchmarks/bench_scale.py -n 200 --json /tmp/scale.json
    python3 benchmarks/bench_scale.py -n 200 --profile
    python3 benchmarks/bench_scale.py -n 1000 --against /tmp/main-checkout --rounds 3

Targets (issue 18): >= 150 creates+starts per second, list() <= 100 ms for
1000, 0 fds and <= 20 KiB per live container.  Exit status 1 when
something failed or was left behind; a missed target is reported only.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from typing import Any, Dict, List

import libcontainer_py as lc


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _cgroups_left(prefix: str) -> List[str]:
    left = []
    for base, dirs, _ in os.walk("/sys/fs/cgroup"):
        left += [os.path.join(base, d) for d in dirs if d.startswith(prefix)]
        dirs[:] = [d for d in dirs if not d.startswith(prefix)]
    return left


def run(n: int, profile: bool = False) -> Dict[str, Any]:
    top = tempfile.mkdtemp(prefix="lcscale-", dir="/run")
    root = os.path.join(top, "root")  # made by the first create, as the default root is
    prefix = f"scale{os.getpid()}-"
    config = lc.Config(process=lc.Process(args=["sleep", "3600"]))
    containers: List[lc.Container] = []
    out: Dict[str, Any] = {"n": n}
    try:
        # one untimed, so imports and the seccomp cache are warm
        warm = lc.Container.create(f"{prefix}warm", config, root=root)
        warm.start()
        warm.destroy()
        gc.collect()
        fds0, rss0 = _fds(), _rss_kib()
        began, cpu0 = time.perf_counter(), time.process_time()
        for i in range(n):
            c = lc.Container.create(f"{prefix}{i}", config, root=root)
            c.start()
            containers.append(c)
        made, cpu = time.perf_counter() - began, time.process_time() - cpu0
        gc.collect()
        out["create_start_per_s"] = n / made
        # The owner's CPU (user + system, its threads; not the children's),
        # which other processes' load does not stretch as it does the rate.
        out["cpu_ms_per_create_start"] = cpu / n * 1e3
        out["fds_per_container"] = (_fds() - fds0) / n
        out["rss_kib_per_container"] = (_rss_kib() - rss0) / n
        # The Python heap per container, from a few more (tracemalloc slows
        # allocation, so not while timing).
        extra = max(1, min(50, n // 10))
        tracemalloc.start()
        heap0 = tracemalloc.get_traced_memory()[0]
        for i in range(extra):
            c = lc.Container.create(f"{prefix}heap{i}", config, root=root)
            c.start()
            containers.append(c)
        gc.collect()
        out["heap_kib_per_container"] = (tracemalloc.get_traced_memory()[0] - heap0) / 1024 / extra
        tracemalloc.stop()
        if profile:
            profiler = cProfile.Profile()
            for i in range(max(1, min(100, n // 10))):
                profiler.enable()
                c = lc.Container.create(f"{prefix}prof{i}", config, root=root)
                c.start()
                profiler.disable()
                containers.append(c)
            text = io.StringIO()
            stats = pstats.Stats(profiler, stream=text).sort_stats("cumulative")
            stats.print_stats(r"libcontainer_py|\{method|\{built-in", 30)
            out["profile"] = text.getvalue()
        out["n_listed"] = len(containers)
        times = []
        for _ in range(3):
            t = time.perf_counter()
            listed = lc.Container.list(root=root)
            times.append(time.perf_counter() - t)
            assert len(listed) == len(containers), len(listed)
            del listed
        out["list_ms"] = min(times) * 1e3
        out["list_ms_median"] = statistics.median(times) * 1e3
        t = time.perf_counter()
        for c in containers:
            c.destroy()
        out["destroy_s"] = time.perf_counter() - t
        containers.clear()
    finally:
        for c in containers:
            try:
                c.destroy()
            except lc.ContainerError:
                pass
        out["state_left"] = sorted(os.listdir(root)) if os.path.isdir(root) else []
        out["state_left"] = [e for e in out["state_left"] if not e.startswith(".")]
        out["cgroups_left"] = _cgroups_left(prefix)
        shutil.rmtree(top, ignore_errors=True)
    return out


#: What --against compares: (key, label, format).
_COMPARED = (
    ("create_start_per_s", "create + start, sequential (/s)", "{:.0f}"),
    ("cpu_ms_per_create_start", "owner's CPU per create + start (ms)", "{:.2f}"),
    ("list_ms", "Container.list(), all recorded (ms)", "{:.1f}"),
    ("fds_per_container", "owner's fds per live container", "{:.2f}"),
    ("rss_kib_per_container", "owner's RSS per live container (KiB)", "{:.1f}"),
    ("heap_kib_per_container", "owner's heap per live container (KiB)", "{:.1f}"),
    ("destroy_s", "destroy, all (s)", "{:.2f}"),
)


def against(n: int, other: str, rounds: int) -> int:
    """Alternate fresh runs of this checkout and ``other``; medians side by side."""
    results: Dict[str, List[Dict[str, Any]]] = {"this": [], "other": []}
    failed = 0
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="lcscale-cmp-") as tmp:
        for r in range(rounds):
            for side in ("this", "other") if r % 2 == 0 else ("other", "this"):
                env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
                if side == "other":
                    env["PYTHONPATH"] = other
                out = os.path.join(tmp, f"{side}{r}.json")
                argv = [sys.executable, os.path.abspath(__file__), "-n", str(n), "--json", out]
                failed += subprocess.run(argv, env=env, cwd=tmp, stdout=subprocess.DEVNULL).returncode != 0
                if os.path.exists(out):  # a run that crashed wrote none
                    with open(out) as f:
                        results[side].append(json.load(f))
    if not results["this"] or not results["other"]:
        print("no figures: every run of a side failed", file=sys.stderr)
        return 1
    print(f"{n} live containers, {rounds} fresh runs each, alternating; medians (other: {other})")
    print(f"  {'':<40} {'this':>10} {'other':>10}")
    for key, label, fmt in _COMPARED:
        this, theirs = (statistics.median(x[key] for x in results[s]) for s in ("this", "other"))
        print(f"  {label:<40} {fmt.format(this):>10} {fmt.format(theirs):>10}")
    print(f"load average before {load0[0]:.2f}, after {os.getloadavg()[0]:.2f}")
    if failed:
        print(f"{failed} run(s) failed or left something behind", file=sys.stderr)
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--containers", type=int, default=1000)
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--profile", action="store_true", help="also profile some more create + start (cProfile)")
    parser.add_argument("--against", metavar="DIR", help="compare with the libcontainer_py under DIR")
    parser.add_argument("--rounds", type=int, default=3, help="fresh runs of each side with --against")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("run as root", file=sys.stderr)
        return 1
    if args.against:
        return against(args.containers, args.against, args.rounds)
    out = run(args.containers, args.profile)
    rate, listed, fds = out["create_start_per_s"], out["list_ms"], out["fds_per_container"]
    cpu = out["cpu_ms_per_create_start"]
    rss, heap = out["rss_kib_per_container"], out["heap_kib_per_container"]
    clean = not out["state_left"] and not out["cgroups_left"]
    rows = [
        ("create + start, sequential", f"{rate:.0f}/s ({cpu:.2f} ms CPU each)", ">= 150/s", rate >= 150),
        (f"Container.list(), {out['n_listed']} recorded", f"{listed:.1f} ms", "<= 100 ms", listed <= 100),
        ("owner's fds per live container", f"{fds:.2f}", "0", fds <= 0),
        ("owner's memory per live container", f"{rss:.1f} KiB RSS ({heap:.1f} KiB heap)", "<= 20 KiB", rss <= 20),
        ("destroy, all", f"{out['destroy_s']:.2f} s", "nothing left", clean),
    ]
    print(f"{out['n']} live containers from one process (sleep, lc.Config defaults, Rootfs.host())")
    for what, value, target, met in rows:
        print(f"  {what:<36} {value:<32} target {target:<12} {'met' if met else 'NOT met'}")
    if "profile" in out:
        print("\nwhere a create + start goes (cProfile, cumulative):")
        print(out["profile"])
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    left = out["state_left"] or out["cgroups_left"]
    if left:
        print(f"left behind: {left}", file=sys.stderr)
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
