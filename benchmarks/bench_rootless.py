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
Two more rows in the same rounds: ``ours-1id``, ours with bwrap's map (the
user's own id only), and ``helpers``, the floor of the full map: the time
newuidmap and newgidmap (started together, as ours does) take to write the
maps of a process already waiting in a new user namespace.
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
import os, statistics, subprocess, sys, time
import libcontainer_py as lc
from libcontainer_py import rootless
rootfs, runs = sys.argv[1], int(sys.argv[2])
cfg = lc.Config(rootfs=rootfs, namespaces=lc.Namespaces(
    user=True, mount=True, uts=True, ipc=True, pid=True, net=True, cgroup=True),
    masked_paths=(), readonly_paths=(), seccomp=None, cgroup=None,
    mounts=[lc.Mount.proc(), lc.Mount.dev()], process=lc.Process(args=["/bin/true"]))
one_id = lc.Config(rootfs=rootfs, namespaces=lc.Namespaces(
    user=True, mount=True, uts=True, ipc=True, pid=True, net=True, cgroup=True),
    uid_mappings=[lc.IDMap(0, os.getuid(), 1)], gid_mappings=[lc.IDMap(0, os.getgid(), 1)],
    masked_paths=(), readonly_paths=(), seccomp=None, cgroup=None,
    mounts=[lc.Mount.proc(), lc.Mount.dev()], process=lc.Process(args=["/bin/true"]))
bwrap = ["bwrap", "--unshare-all", "--ro-bind", rootfs, "/", "--proc", "/proc", "--dev", "/dev", "/bin/true"]
maps = rootless.automatic_maps(os.getuid(), os.getgid())
uid_map = " ".join(f"{m.container_id} {m.host_id} {m.size}" for m in maps.uids)
gid_map = " ".join(f"{m.container_id} {m.host_id} {m.size}" for m in maps.gids)


def helpers_only():
    # The floor of the full map: newuidmap and newgidmap (started together,
    # as ours does) writing the maps of a process waiting in a new user ns.
    waiting = subprocess.Popen(["unshare", "-U", "sh", "-c", "read x"], stdin=subprocess.PIPE)
    while os.readlink(f"/proc/{waiting.pid}/ns/user") == os.readlink("/proc/self/ns/user"):
        time.sleep(0.0002)
    t = time.perf_counter_ns()
    rootless.write_maps(waiting.pid, uid_map, gid_map)
    spent = time.perf_counter_ns() - t
    waiting.communicate(b"\n")
    return spent


def once(name):
    if name == "helpers":
        return helpers_only()
    t = time.perf_counter_ns()
    if name == "bwrap":
        rc = subprocess.run(bwrap).returncode
    else:
        rc = lc.run(config=cfg if name == "ours" else one_id).returncode
    if rc != 0:
        raise SystemExit(f"{name} exited {rc}")
    return time.perf_counter_ns() - t


names = ["ours", "bwrap", "ours-1id", "helpers"]
times = {name: [] for name in names}
for i in range(runs + 5):
    order = names[i % len(names):] + names[:i % len(names)]
    for name in order:
        spent = once(name)
        if i >= 5:  # warm-up
            times[name].append(spent)
print(f"full map: {uid_map} / {gid_map}")
for name, ns in times.items():
    q = statistics.quantiles(ns, n=10)
    print(f"{name:8} median {statistics.median(ns) / 1e6:7.2f} ms  p90 {q[-1] / 1e6:7.2f} ms")
med = {name: statistics.median(ns) for name, ns in times.items()}
ratio = med["ours"] / med["bwrap"]
print(f"ours/bwrap     {ratio:.2f} (target <= 0.8: {'met' if ratio <= 0.8 else 'NOT met'})")
print(f"ours-1id/bwrap {med['ours-1id'] / med['bwrap']:.2f} (the same map as bwrap's)")
print(f"floor: the two helpers alone {med['helpers'] / 1e6:.2f} ms = {med['helpers'] / med['bwrap']:.2f}x bwrap;"
      f" ours minus them {(med['ours'] - med['helpers']) / med['bwrap']:.2f}x bwrap")
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
