#!/usr/bin/env python3
"""Soak: a mix of container work with faults injected, for a given time or
number of rounds; then what it ran, what it broke on purpose, and what is
left (which must be nothing).

Each round does one of, in turn:

    run        lc.run with a cgroup (pids, memory), output checked
    lifecycle  Container.create, start, exec, destroy
    threads    4 threads x 4 lc.run at once
    oom        a program killed by its memory limit (oom_killed must say so)
    owner      a child process doing lc.run or Container.create, SIGKILLed
               after a random delay (fault); what it left is reclaimed or
               destroyed from its record
    execkill   the container's init SIGKILLed, then an exec into it (fault):
               a typed error, nothing of the exec left
    destroy    destroy() of a container whose init is busy forking, under
               the load of the other rounds (where a hang was once seen)

Printed at the end: rounds, containers run, faults injected, errors that
were not the typed ones expected, leftovers (cgroups, state entries,
processes, mounts, open fds: must all be 0), the owner's memory growth per
container, and the slowest destroy.  Exit status 1 when anything is left or
went wrong.  Run as root:

    python3 benchmarks/soak.py --seconds 60
    python3 benchmarks/soak.py --rounds 1000
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Dict, Iterator, List

import libcontainer_py as lc

WORKER = """
import sys
import libcontainer_py as lc
what, cid, root = sys.argv[1:4]
config = lc.Config(cgroup=lc.CgroupConfig(pids=lc.Pids(max=16)), process=lc.Process(args=["sleep", "30"]))
print("go", flush=True)
if what == "run":
    lc.run(["true"], container_id=cid, config=config)
else:
    lc.Container.create(cid, config, root=root).start()
"""

KINDS = ("run", "lifecycle", "threads", "oom", "owner", "execkill", "destroy")


class Soak:
    def __init__(self, root: str, seed: int) -> None:
        self.root = root
        self.rng = random.Random(seed)
        self.containers = 0
        self.faults = 0
        self.unexpected: List[str] = []
        self.slowest_destroy = 0.0
        self.counts: Dict[str, int] = {k: 0 for k in KINDS}
        self.cgroup = lc.CgroupConfig(pids=lc.Pids(max=32), memory=lc.Memory(max="64M"))

    def round(self, i: int) -> None:
        kind = KINDS[i % len(KINDS)]
        self.counts[kind] += 1
        try:
            getattr(self, "do_" + kind)(i)
        except Exception as exc:  # reported, not raised: the soak goes on
            self.unexpected.append(f"{kind} {i}: {type(exc).__name__}: {exc}")

    def _check(self, ok: bool, what: str) -> None:
        if not ok:
            self.unexpected.append(what)

    def do_run(self, i: int) -> None:
        r = lc.run(["sh", "-c", "echo $$"], config=lc.Config(cgroup=self.cgroup), capture_output=True)
        self.containers += 1
        self._check((r.returncode, r.stdout) == (0, b"1\n"), f"run {i}: {r}")

    @contextlib.contextmanager
    def _sleeper(self, cid: str) -> Iterator[lc.Container]:
        """A started container of ``sleep 30``, destroyed at the end."""
        config = lc.Config(cgroup=self.cgroup, process=lc.Process(args=["sleep", "30"]))
        c = lc.Container.create(cid, config, root=self.root)
        self.containers += 1
        try:
            c.start()
            yield c
        finally:
            self._destroy(c)

    def do_lifecycle(self, i: int) -> None:
        with self._sleeper(f"soak-life-{i}") as c, c.exec(["true"]) as proc:
            self._check(proc.wait(10) == 0, f"lifecycle {i}: exec")

    def do_threads(self, i: int) -> None:
        bad: List[str] = []

        def work() -> None:
            for _ in range(4):
                r = lc.run(["true"], config=lc.Config(cgroup=self.cgroup))
                if r.returncode != 0:
                    bad.append(str(r))

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.containers += 16
        self._check(not bad, f"threads {i}: {bad}")

    def do_oom(self, i: int) -> None:
        config = lc.Config(cgroup=lc.CgroupConfig(memory=lc.Memory(max="1M", swap_max=0)))
        r = lc.run(["dd", "if=/dev/zero", "of=/dev/null", "bs=8M", "count=1"], config=config, capture_output=True)
        self.containers += 1
        self._check(r.returncode == -9 and r.oom_killed, f"oom {i}: {r.returncode} {r.oom_killed}")

    def do_owner(self, i: int) -> None:
        what = ("run", "create")[i % 2]
        cid = f"soak-owner-{i % 5}"
        worker = subprocess.Popen(
            [sys.executable, "-c", WORKER, what, cid, self.root], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        assert worker.stdout is not None
        worker.stdout.readline()
        time.sleep(self.rng.uniform(0, 0.05))
        worker.kill()
        worker.wait()
        worker.stdout.close()
        self.faults += 1
        self.containers += 1
        for c in lc.Container.list(root=self.root):
            self._destroy(c)
        r = lc.run(["true"], container_id=cid, config=lc.Config(cgroup=self.cgroup))  # reclaims the id
        self._check(r.returncode == 0, f"owner {i}: the id was not free again")

    def do_execkill(self, i: int) -> None:
        with self._sleeper(f"soak-execkill-{i}") as c:
            os.kill(c.pid, signal.SIGKILL)
            self.faults += 1
            try:
                with c.exec(["true"]) as proc:
                    proc.wait(10)
            except lc.ContainerError:
                pass  # typed: what is expected

    def do_destroy(self, i: int) -> None:
        busy = "while true; do sh -c 'true' 2>/dev/null & done 2>/dev/null"
        config = lc.Config(cgroup=self.cgroup, process=lc.Process(args=["sh", "-c", busy]))
        c = lc.Container.create(f"soak-destroy-{i}", config, root=self.root)
        self.containers += 1
        c.start()
        time.sleep(self.rng.uniform(0, 0.02))
        self._destroy(c)

    def _destroy(self, c: lc.Container) -> None:
        t = time.monotonic()
        c.destroy()
        self.slowest_destroy = max(self.slowest_destroy, time.monotonic() - t)


def _mounts() -> List[str]:
    with open("/proc/self/mountinfo") as f:
        return sorted(line.split()[4] for line in f)


def _soak_processes() -> int:
    """Processes whose command line names a soak container's id."""
    n = 0
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                n += b"soak-" in f.read()
        except OSError:
            continue
    return n


def leftovers(root: str, fds: int, mounts: List[str]) -> Dict[str, int]:
    cgroups = glob.glob("/sys/fs/cgroup/*/libcontainer_py/soak-*") + glob.glob("/sys/fs/cgroup/libcontainer_py/soak-*")
    owned_dir = "/run/libcontainer-py/.owned"
    owned = os.listdir(owned_dir) if os.path.isdir(owned_dir) else []
    return {
        "cgroups": len(cgroups),
        "state entries": len(os.listdir(root)),
        "owner records": len([n for n in owned if n.startswith("soak-")]),
        "mounts": len(set(_mounts()) - set(mounts)),
        "processes": _soak_processes() + len(_children()),
        "fds": len(os.listdir("/proc/self/fd")) - fds,
    }


def _children() -> List[int]:
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if ppid == os.getpid():
            out.append(int(pid))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=None, help="run for this long")
    parser.add_argument("--rounds", type=int, default=None, help="or this many rounds (default: 70)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("soak.py runs as root", file=sys.stderr)
        return 1
    root = tempfile.mkdtemp(prefix="lc-soak-")
    soak = Soak(root, args.seed)
    soak.do_run(-1)  # imports and caches in place before the baseline
    fds, mounts = len(os.listdir("/proc/self/fd")), _mounts()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    containers0 = soak.containers
    start = time.monotonic()
    i = 0
    rounds = args.rounds if args.rounds is not None else (None if args.seconds else 70)
    try:
        while True:
            if rounds is not None and i >= rounds:
                break
            if args.seconds is not None and time.monotonic() - start >= args.seconds:
                break
            soak.round(i)
            i += 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
    elapsed = time.monotonic() - start
    for c in lc.Container.list(root=root):
        c.destroy()
    left = leftovers(root, fds, mounts)
    os.rmdir(root) if not os.listdir(root) else None
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0
    made = max(soak.containers - containers0, 1)
    print(f"rounds             {i} in {elapsed:.1f} s  ({', '.join(f'{k} {n}' for k, n in soak.counts.items())})")
    print(f"containers run     {soak.containers - containers0}")
    print(f"faults injected    {soak.faults}")
    print(f"unexpected         {len(soak.unexpected)}")
    for line in soak.unexpected[:20]:
        print(f"  {line}")
    print(f"leftovers          {sum(left.values())}  ({', '.join(f'{k} {n}' for k, n in left.items())})")
    print(f"owner memory       +{grown_kib} KiB peak RSS, {grown_kib * 1024 / made:.0f} bytes per container")
    print(f"slowest destroy    {soak.slowest_destroy * 1000:.0f} ms")
    return 1 if soak.unexpected or any(left.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
