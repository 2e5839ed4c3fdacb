#!/usr/bin/env python3
"""Many live containers from one process: create + start rate, ``list()``,
the owner's open fds and memory per live container, destroy.

N detached containers (default 1000), each ``sleep`` on the host's system
directories (``Rootfs.host()``) with ``lc.Config``'s defaults (the device
cgroup, seccomp, masked paths ...), are created and started one after the
other in a fresh state root; the owner keeps every ``Container`` object, as
a program managing them would.  Then ``Container.list()`` (best of 3) with
all recorded, the owner's open fds and RSS against before the first one, the Python
heap per container (tracemalloc, over N/10 more, at most 50, untimed), and ``destroy()`` of all.
Nothing may be left: state entries, cgroups, processes.  Run as root:

    python3 benchmarks/bench_scale.py                 # 1000 containers
    python3 benchmarks/bench_scale.py -n 200 --json /tmp/scale.json

Targets (issue 18): >= 150 creates+starts per second, list() <= 100 ms for
1000, 0 fds and <= 20 KiB per live container.  Exit status 1 when
something failed or was left behind; a missed target is reported only.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
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


def run(n: int) -> Dict[str, Any]:
    root = tempfile.mkdtemp(prefix="lcscale-", dir="/run")
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
        began = time.perf_counter()
        for i in range(n):
            c = lc.Container.create(f"{prefix}{i}", config, root=root)
            c.start()
            containers.append(c)
        made = time.perf_counter() - began
        gc.collect()
        out["create_start_per_s"] = n / made
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
        shutil.rmtree(root, ignore_errors=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--containers", type=int, default=1000)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("run as root", file=sys.stderr)
        return 1
    out = run(args.containers)
    rate, listed, fds = out["create_start_per_s"], out["list_ms"], out["fds_per_container"]
    rss, heap = out["rss_kib_per_container"], out["heap_kib_per_container"]
    clean = not out["state_left"] and not out["cgroups_left"]
    rows = [
        ("create + start, sequential", f"{rate:.0f}/s", ">= 150/s", rate >= 150),
        (f"Container.list(), {out['n_listed']} recorded", f"{listed:.1f} ms", "<= 100 ms", listed <= 100),
        ("owner's fds per live container", f"{fds:.2f}", "0", fds <= 0),
        ("owner's memory per live container", f"{rss:.1f} KiB RSS ({heap:.1f} KiB heap)", "<= 20 KiB", rss <= 20),
        ("destroy, all", f"{out['destroy_s']:.2f} s", "nothing left", clean),
    ]
    print(f"{out['n']} live containers from one process (sleep, lc.Config defaults, Rootfs.host())")
    for what, value, target, met in rows:
        print(f"  {what:<36} {value:<32} target {target:<12} {'met' if met else 'NOT met'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    left = out["state_left"] or out["cgroups_left"]
    if left:
        print(f"left behind: {left}", file=sys.stderr)
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
