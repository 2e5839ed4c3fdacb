#!/usr/bin/env python3
"""The CPU of a layer's tar loop alone (``images.unpack``'s extraction and
``images.tarstream``'s reading), for the layers of ``bench_pull.py``'s
image: each layer tar already inflated, in memory, fed in chunks of 1 MiB
(as a pull's reading thread hands them over), unpacked into a fresh
directory on tmpfs; nothing downloaded, decompressed or hashed.  User and
system CPU of this process (rusage), mean per run of the three layers;
``parse`` reads the headers only (no files made).  No root needed.

    python3 benchmarks/bench_tarloop.py --runs 40

Run it on two trees in turn (``PYTHONPATH=<tree>``) to compare them: on a
shared machine a pull's wall time, and even its CPU, follow the load; the
user CPU of this loop much less.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pull import build_layers

from libcontainer_py.images import unpack
from libcontainer_py.images.tarstream import TarReader

CHUNK = 1 << 20


def chunked(layer: bytes) -> Callable[[], bytes]:
    chunks: Iterator[bytes] = iter([layer[i : i + CHUNK] for i in range(0, len(layer), CHUNK)])
    return lambda: next(chunks, b"")


def unpack_once(layers: List[bytes], tmp: str) -> Tuple[float, float]:
    """(user, system) CPU seconds of unpacking the layers once."""
    feeds = [chunked(layer) for layer in layers]  # the slicing not timed
    dests = [os.path.join(tmp, str(i)) for i in range(len(layers))]
    for dest in dests:
        os.mkdir(dest)
    before = resource.getrusage(resource.RUSAGE_SELF)
    for feed, dest in zip(feeds, dests):
        unpack._extract(feed, dest)
    after = resource.getrusage(resource.RUSAGE_SELF)
    for dest in dests:
        shutil.rmtree(dest)
    return after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime


def parse_once(layers: List[bytes]) -> float:
    """CPU seconds of reading the layers' headers (data skipped)."""
    feeds = [chunked(layer) for layer in layers]
    start = time.process_time()
    for feed in feeds:
        for _entry in TarReader(feed):
            pass
    return time.process_time() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--tmpdir", default="/dev/shm")
    args = parser.parse_args()
    layers = build_layers()
    tmp = tempfile.mkdtemp(prefix="bench-tarloop-", dir=args.tmpdir)
    try:
        for _ in range(2):  # warm-up
            unpack_once(layers, tmp)
        runs = [unpack_once(layers, tmp) for _ in range(args.runs)]
        parses = [parse_once(layers) for _ in range(max(args.runs // 4, 3))]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    user = statistics.mean(u for u, _s in runs)
    system = statistics.mean(s for _u, s in runs)
    print(f"tree: {Path(unpack.__file__).resolve().parents[2]}; load average {os.getloadavg()[0]:.1f}")
    print(f"unpack: user {user * 1e3:.1f} ms  sys {system * 1e3:.1f} ms  (mean of {len(runs)})")
    print(f"parse:  {statistics.median(parses) * 1e3:.1f} ms CPU  (median of {len(parses)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
