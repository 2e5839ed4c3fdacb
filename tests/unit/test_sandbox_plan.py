"""A box's plan cut in two: the server's steps (once) and a run's (each time)."""

from __future__ import annotations

from libcontainer_py import sandbox
from libcontainer_py.cgroups.layout import Hierarchy, Layout
from libcontainer_py.plan import Op, Plan, build_plan
from libcontainer_py.sandbox._config import box_config, server_config
from libcontainer_py.sandbox._plan import run_steps, server_plan

LAYOUT = Layout((Hierarchy("/sys/fs/cgroup/memory", ("memory",)),), None)
LIMITS = sandbox.Limits(memory="64M", pids=8, open_files=16, address_space="1G")


def plan() -> Plan:
    config = box_config(["true"], LIMITS, box="/srv/box", rootfs=None, env=None, layout=LAYOUT)
    return build_plan(server_config(config), "sbx-test")


def test_the_server_sets_the_box_up_loads_the_filter_and_serves() -> None:
    full = plan()
    served = server_plan(full, region=0x7F0000001000, box="/box", creator_areas=b"", loopback=False)
    ops = [s.op for s in served.steps]
    assert ops[-1] is Op.SERVE and Op.EXEC not in ops
    serve = served.steps[-1]
    assert (serve.n1, serve.s1, serve.s2, serve.s3) == (0x7F0000001000, "/box", "/tmp", "/dev/shm")
    # the filter comes last, after no_new_privs: every run inherits it, none compiles it again
    assert ops[-3:-1] == [Op.NO_NEW_PRIVS, Op.SECCOMP]
    assert Op.LOOPBACK_UP not in ops and Op.PIVOT_ROOT in ops and Op.SETUID not in ops
    assert ops.index(Op.DROP_BOUNDING) < ops.index(Op.SECCOMP)  # once, for every run's process
    assert served.shares_memory is False and served.waits_for_start  # it stays, on its sync socket
    looped = server_plan(full, region=1, box=None, creator_areas=b"", loopback=True)
    assert Op.LOOPBACK_UP in [s.op for s in looped.steps] and looped.steps[-1].s1 is None


def test_a_run_is_the_process_part_down_to_exec() -> None:
    steps = run_steps(plan())
    ops = [s.op for s in steps]
    assert ops[0] is Op.SETUP_FDS and ops[-1] is Op.EXEC
    once = (Op.SECCOMP, Op.DROP_BOUNDING, Op.PDEATHSIG)
    for absent in (*once, Op.INIT, Op.WAIT_START, Op.FIND_EXEC, Op.MOUNT, Op.JOIN_CGROUP):
        assert absent not in ops
    assert [s.n1 for s in steps if s.op is Op.SETUID] == [65534]
    assert {(s.path, s.n2) for s in steps if s.op is Op.RLIMIT} == {("core", 0), ("nofile", 16), ("as", 1 << 30)}


def test_the_box_keeps_only_its_device_rules_in_its_own_cgroup() -> None:
    config = server_config(box_config(["true"], LIMITS, box="/srv/box", rootfs=None, env=None, layout=LAYOUT))
    assert config.cgroup is not None and config.cgroup.memory is None and config.cgroup.pids is None
    assert config.cgroup.devices is not None and not config.cgroup.accounting  # runs count themselves
