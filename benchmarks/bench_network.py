"""A container on a CNI bridge network: our cost beside the plugins' own, and
beside podman with the same plugins.

One iteration times, in this order (alternating the first two):

- ``lc.run(["/bin/true"])`` in a busybox root without a network (``plain``);
- the same with ``lc.Network.bridge()`` (bridge, host-local, portmap,
  firewall): ADD while the child waits, DEL after it exits (``bridge``);
  the time spent running the plugins in that run (``plugins``, ADD + DEL,
  summed from ``libcontainer_py.cni.plugin_seconds``) is measured in the
  same run;
- ``podman run --rm --network bridge IMAGE true`` with podman's CNI
  backend, the same plugins and the same list, runc as its runtime
  (``podman``), sandboxed as in bench_engines.py.

``ours`` = median(bridge - plugins, per run) - median(plain): what
attaching costs us beyond the plugins (the target is at most 5 ms);
``code`` is the part of it spent in our networking code (making the
record and files, ADD and DEL less the plugins), timed directly.  The
rest is the child's: a fork-style clone instead of a vfork (it waits for
the parent), two more bind mounts.  Medians, in milliseconds.

The whole benchmark runs in a network namespace of its own (it unshares one
first): the bridges, veths and iptables rules are made there and go with it.

    python3 benchmarks/bench_network.py --iterations 30

Root; needs busybox-static, containernetworking-plugins and podman.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from support import engines
from support.busybox import make_rootfs

import libcontainer_py as lc
from libcontainer_py import _netrun, cni

CLONE_NEWNET = 0x40000000
SUBNET = "10.89.0.0/24"


def private_netns() -> None:
    if ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET)")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)


#: Seconds spent in our networking code (prepare, ADD, DEL) beside the plugins.
ours_seconds = [0.0]


def timed_method(cls: type, name: str) -> None:
    """Wrap ``cls.name`` to add its time, less the plugins', to ours_seconds."""
    original = getattr(cls, name)

    def wrapper(*args: object, **kwargs: object) -> object:
        t0, p0 = time.perf_counter(), cni.plugin_seconds
        try:
            return original(*args, **kwargs)
        finally:
            ours_seconds[0] += (time.perf_counter() - t0) - (cni.plugin_seconds - p0)

    setattr(cls, name, wrapper)


def time_run(config: lc.Config) -> float:
    t0 = time.perf_counter()
    r = lc.run(["/bin/true"], config=config)
    elapsed = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"the container exited {r.returncode}")
    return elapsed


def podman_with_cni(base: str, rootfs: str, conflist: Dict[str, object]) -> engines.Podman:
    """bench_engines' sandboxed podman, with its CNI backend on ``conflist``."""
    podman = engines.Podman(base, rootfs, engines.our_binary())
    podman.use_cni(conflist)
    return podman


def time_podman(podman: engines.Podman) -> float:
    t0 = time.perf_counter()
    flags = list(engines.PODMAN_RUN_FLAGS[2:])  # the ulimits this VM needs; not --network none
    done = podman("run", "--rm", *flags, "--network", "bridge", engines.IMAGE, "true", runtime="runc", timeout=120)
    elapsed = time.perf_counter() - t0
    done.check()
    return elapsed


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--no-podman", action="store_true", help="leave podman out")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("run as root", file=sys.stderr)
        return 2
    private_netns()
    work = tempfile.mkdtemp(prefix="lc-bench-net-")
    podman = None
    try:
        rootfs = make_rootfs(os.path.join(work, "rootfs"))
        net = lc.Network.bridge(name="lcbench", subnet=SUBNET, data_dir=os.path.join(work, "leases"))
        plain = lc.Config(rootfs=rootfs)
        bridged = lc.Config(rootfs=rootfs, network=net)
        if not args.no_podman:
            conflist = net.document
            conflist["plugins"][0]["ipam"]["dataDir"] = os.path.join(work, "podman-leases")
            podman = podman_with_cni(os.path.join(work, "podman"), rootfs, conflist)
        for name in ("prepare", "add", "detach"):
            timed_method(_netrun.Attachments, name)
        times: Dict[str, List[float]] = {"plain": [], "bridge": [], "plugins": [], "code": [], "podman": []}
        for i in range(args.warmup + args.iterations):
            order = [("plain", plain), ("bridge", bridged)]
            for name, config in order if i % 2 else order[::-1]:
                before, code = cni.plugin_seconds, ours_seconds[0]
                elapsed = time_run(config)
                if i >= args.warmup:
                    times[name].append(elapsed)
                    if name == "bridge":
                        times["plugins"].append(cni.plugin_seconds - before)
                        times["code"].append(ours_seconds[0] - code)
            if podman is not None and i >= args.warmup:
                times["podman"].append(time_podman(podman))
            elif podman is not None:
                time_podman(podman)
        report(times)
        return 0
    finally:
        if podman is not None:
            podman.close()
        shutil.rmtree(work, ignore_errors=True)


def report(times: Dict[str, List[float]]) -> None:
    med = {name: statistics.median(values) * 1e3 for name, values in times.items() if values}
    # per run: the bridged start less that same run's plugin time
    beyond = [(b - p) * 1e3 for b, p in zip(times["bridge"], times["plugins"])]
    ours = statistics.median(beyond) - med["plain"]
    for name in ("plain", "bridge", "plugins", "code", "podman"):
        if name in med:
            print(f"{name:8s} {med[name]:8.1f} ms")
    print(f"ours     {ours:8.1f} ms  (median of bridge - plugins, less plain; target <= 5 ms)")
    if "podman" in med:
        print(f"podman / bridge: {med['podman'] / med['bridge']:.1f}x")


if __name__ == "__main__":
    sys.exit(main())
