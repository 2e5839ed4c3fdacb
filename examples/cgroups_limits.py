"""Cgroup limits and accounting: an OOM kill reported by lc.run, and a
Container paused, resumed, measured and changed while it runs.

    python3 examples/cgroups_limits.py        (as root)

1. ``dd`` asks for a 200 MiB buffer in a cgroup limited to 64 MiB without
   swap: the OOM killer ends it, and ``lc.run`` says so (``oom_killed``,
   ``peak_memory``, ``cpu_time``).
2. A busy loop runs in a ``Container``: paused, its CPU time stops; resumed,
   it moves again; its stats are printed; then a CPU quota of 20% and a
   larger memory limit are set while it runs.

Every claim is checked; the exit status is 0 only if all of them hold and no
cgroup directory of these containers is left behind.
"""

import os
import signal
import sys
import time

from _checks import check, report  # the examples' shared check and report

import libcontainer_py as lc
from libcontainer_py.cgroups import DEFAULT_PARENT, detect

MiB = 2**20


def hierarchy_roots():
    layout = detect()
    return [h.mountpoint for h in layout.v1] + ([layout.unified.mountpoint] if layout.unified else [])


def parents():
    """The libcontainer_py/ directories that exist now."""
    candidates = (os.path.join(root, DEFAULT_PARENT) for root in hierarchy_roots())
    return {d for d in candidates if os.path.isdir(d)}


def cgroup_dirs(container_id):
    """Every directory this container's cgroup has (should be none after it ended)."""
    return [d for d in (os.path.join(p, container_id) for p in parents()) if os.path.exists(d)]


def cpu_seconds(container):
    return container.stats().cpu.usage_ns / 1e9


def oom_kill():
    print("1. a memory hog in 64 MiB")
    config = lc.Config(
        cgroup=lc.CgroupConfig(memory=lc.Memory(max="64M", swap_max=0), devices=lc.Devices.default()),
    )
    r = lc.run(["dd", "if=/dev/zero", "of=/dev/null", "bs=200M", "count=1"], config=config, capture_output=True)
    print(f"     exit {r.returncode}, oom_killed={r.oom_killed}, peak {r.peak_memory} bytes, cpu {r.cpu_time:.3f} s")
    check(r.returncode == -signal.SIGKILL and r.oom_killed, "dd was killed by the OOM killer, and run() reports it")
    check(r.peak_memory is not None and r.peak_memory <= 64 * MiB, "its peak memory stayed within the 64 MiB limit")
    check(r.stats.memory.oom_kills >= 1, "stats.memory.oom_kills counts the kill")
    return r.container_id


def live_container():
    print("2. a busy loop in a Container")
    container_id = f"example-{os.getpid()}"
    config = lc.Config(
        cgroup=lc.CgroupConfig(memory=lc.Memory(max="64M"), pids=lc.Pids(max=16), devices=lc.Devices.default()),
        process=lc.Process(args=["sh", "-c", "while :; do :; done"]),
    )
    with lc.Container.create(container_id, config) as c:
        check(c.status() == "created", "created: set up, waiting before execve")
        c.start()
        check(c.status() == "running", "started")
        time.sleep(0.3)

        c.pause()
        before = cpu_seconds(c)
        time.sleep(0.5)
        still = cpu_seconds(c) - before
        check(c.status() == "paused" and still < 0.001, f"paused: {still * 1000:.2f} ms of CPU in 0.5 s")
        try:
            c.pause()
            check(False, "pausing twice raises StateError")
        except lc.StateError as e:
            check(e.status == "paused", f"pausing twice raises StateError ({e})")

        c.resume()
        before = cpu_seconds(c)
        time.sleep(0.5)
        ran = cpu_seconds(c) - before
        check(c.status() == "running" and ran > 0.1, f"resumed: {ran:.2f} s of CPU in 0.5 s")

        s = c.stats()
        print(
            f"     stats: memory {s.memory.usage} of {s.memory.limit} bytes, pids {s.pids.current} of {s.pids.limit},"
            f" cpu {s.cpu.usage_ns / 1e9:.2f} s"
        )
        check(s.memory.limit == 64 * MiB and s.pids.limit == 16 and s.pids.current == 1, "stats show the limits")

        c.update(lc.Cpu(quota_us=20_000, period_us=100_000))
        c.update(lc.Memory(max="128M"))
        first, t0 = c.stats().cpu, time.monotonic()
        time.sleep(1.0)
        last, t1 = c.stats().cpu, time.monotonic()
        share = (last.usage_ns - first.usage_ns) / 1e9 / (t1 - t0)
        throttled = last.throttled_periods - first.throttled_periods
        check(share <= 0.3 and throttled > 0, f"20% quota set live: {share:.0%} of a CPU, throttled {throttled} times")
        check(c.stats().memory.limit == 128 * MiB, "memory limit raised live to 128 MiB")
    check(c.status() == "stopped", "leaving the with block destroyed it")
    return container_id


def main():
    if os.geteuid() != 0:
        print("run this as root", file=sys.stderr)
        return 1
    existed = parents()
    ids = [oom_kill(), live_container()]
    left = [d for cid in ids for d in cgroup_dirs(cid)]
    # libcontainer_py/ itself is removed when the library made it and it is empty.
    stray = [p for p in parents() - existed if not any(os.path.isdir(os.path.join(p, n)) for n in os.listdir(p))]
    check(not left and not stray, f"no cgroup directory left behind {left + stray if left or stray else ''}")
    return report()


if __name__ == "__main__":
    sys.exit(main())
