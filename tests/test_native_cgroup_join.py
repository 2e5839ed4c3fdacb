"""The JOIN_CGROUP step: the child moves itself into cgroups before any other
step, and a new cgroup namespace is rooted at that cgroup."""

from __future__ import annotations

import os
import secrets

import libcontainer_py as lc
from libcontainer_py import spawn as sp
from libcontainer_py.plan import build_plan

HIERARCHIES = ("/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified")


def test_child_joins_cgroups_first(busybox: str, no_leaks: None) -> None:
    name = f"libcontainer_py/test-{secrets.token_hex(4)}"
    dirs = [os.path.join(h, name) for h in HIERARCHIES]
    for d in dirs:
        os.makedirs(d)
    try:
        config = lc.Config(rootfs=busybox, process=lc.Process(args=["sh", "-c", "cat /proc/self/cgroup; read x"]))
        plan = build_plan(config, "cgtest", cgroup_procs=[os.path.join(d, "cgroup.procs") for d in dirs])
        assert plan.shares_memory
        r_in, w_in = os.pipe()
        r_out, w_out = os.pipe()
        spawned = sp.spawn(plan, stdio=(r_in, w_out, -1))
        os.close(r_in)
        os.close(w_out)
        try:
            with os.fdopen(r_out) as out:
                with open(f"/proc/{spawned.pid}/cgroup") as f:
                    outside = f.read()
                # As many lines as the host has hierarchies (a test may have
                # made one more, such as net_cls,net_prio).
                inside = "".join(out.readline() for _ in outside.splitlines())
                for d in dirs:
                    with open(os.path.join(d, "cgroup.procs")) as f:
                        assert str(spawned.pid) in f.read().split()
                os.close(w_in)
                w_in = -1
        finally:
            if w_in >= 0:
                os.close(w_in)
            os.waitpid(spawned.pid, 0)
            os.close(spawned.pidfd)
        assert f":pids:/{name}\n" in outside and f"0::/{name}\n" in outside
        # Inside, the cgroup namespace is rooted at the container's cgroup.
        assert ":pids:/\n" in inside and "0::/\n" in inside
    finally:
        for d in dirs:
            os.rmdir(d)
            try:
                os.rmdir(os.path.dirname(d))  # libcontainer_py/, unless others use it
            except OSError:
                pass
