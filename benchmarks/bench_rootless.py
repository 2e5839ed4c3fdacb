"""Rootless start-to-exit: ours beside ``bwrap --unshare-all``, as the same user.

Run as root (it makes the unprivileged user of the rootless tests, with its
subordinate ids and a venv of this checkout, and removes it afterwards):

    .venv/bin/python benchmarks/bench_rootless.py [--runs 200]

Both start ``/bin/true`` on the same busybox root (a copy the user can read)
with new user, mount, uts, ipc, pid, net and cgroup namespaces, pivot_root,
/proc and /dev, and no seccomp, masked paths or cgroup (what the bwrap
command does).  Ours maps the user's whole subordinate range through
newuidmap/newgidmap (podman's map); bwrap maps the one id.  Runs alternate;
medians and p90 are printed with the ratio ours/bwrap (target <= 0.8).
"""

from __future__ import annotations

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

from support.busybox import make_rootfs  # noqa: E402
from support.rootless import create_user, remove_user  # noqa: E402

#: Runs as the user: prints "name median_ms p90_ms" lines and the ratio.
TIMER = r"""
import statistics, subprocess, sys, time
import libcontainer_py as lc
rootfs, runs = sys.argv[1], int(sys.argv[2])
cfg = lc.Config(rootfs=rootfs, namespaces=lc.Namespaces(
    user=True, mount=True, uts=True, ipc=True, pid=True, net=True, cgroup=True),
    masked_paths=(), readonly_paths=(), seccomp=None, cgroup=None,
    mounts=[lc.Mount.proc(), lc.Mount.dev()], process=lc.Process(args=["/bin/true"]))
bwrap = ["bwrap", "--unshare-all", "--ro-bind", rootfs, "/", "--proc", "/proc", "--dev", "/dev", "/bin/true"]
times = {"ours": [], "bwrap": []}
for i in range(runs + 5):
    for name in (("ours", "bwrap") if i % 2 else ("bwrap", "ours")):
        t = time.perf_counter_ns()
        if name == "ours":
            rc = lc.run(config=cfg).returncode
        else:
            rc = subprocess.run(bwrap).returncode
        if rc != 0:
            raise SystemExit(f"{name} exited {rc}")
        if i >= 5:  # warm-up
            times[name].append(time.perf_counter_ns() - t)
for name, ns in times.items():
    q = statistics.quantiles(ns, n=10)
    print(f"{name:6} median {statistics.median(ns) / 1e6:7.2f} ms  p90 {q[-1] / 1e6:7.2f} ms")
ratio = statistics.median(times["ours"]) / statistics.median(times["bwrap"])
print(f"ours/bwrap {ratio:.2f} (target <= 0.8: {'met' if ratio <= 0.8 else 'NOT met'})")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: it makes (and removes) the unprivileged user")
    user = create_user()
    try:
        rootfs = make_rootfs(os.path.join(user.base, "rootfs"))
        done = user.run([user.python, "-c", TIMER, rootfs, str(args.runs)], timeout=3600)
        print(done.stdout, end="")
        if done.returncode != 0:
            raise SystemExit(done.stderr)
    finally:
        remove_user(user)


if __name__ == "__main__":
    main()
