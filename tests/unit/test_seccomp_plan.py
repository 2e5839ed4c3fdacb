"""Where the plan loads a filter with notify rules, and which notify rules
it refuses (they would hang the container before anyone could answer)."""

from __future__ import annotations

from typing import Any, List, Optional

import pytest
from test_plan import MERGED, FakeHost

import libcontainer_py as lc
from libcontainer_py.oci import config_from_oci
from libcontainer_py.plan import Op, build_plan
from libcontainer_py.seccomp import Seccomp, SeccompRule


class NoPtrace(FakeHost):
    """A caller without CAP_SYS_PTRACE: the listener comes by SCM_RIGHTS."""

    def can_take_fds(self) -> bool:
        return False


def config(
    names: List[str], *, agent: Optional[str] = "/run/agent.sock", nnp: bool = True, **process: Any
) -> lc.Config:
    seccomp = Seccomp("allow", [SeccompRule("notify", names)], listener_path=agent)
    return lc.Config(seccomp=seccomp, process=lc.Process(args=["true"], no_new_privileges=nnp, **process))


def ops(cfg: lc.Config, **kw: Any) -> List[Op]:
    return [s.op for s in build_plan(cfg, "x", host=kw.pop("host", MERGED), **kw).steps]


def test_with_an_agent_notify_needs_no_no_new_privileges() -> None:
    """Loaded before the capabilities are dropped (runc's order)."""
    steps = ops(config(["mkdir"], nnp=False))
    assert steps.index(Op.SECCOMP) < steps.index(Op.SETUID) < steps.index(Op.CAPSET)
    with pytest.raises(lc.ConfigError, match="listener_path"):
        build_plan(config(["mkdir"], agent=None, nnp=False), "x", host=MERGED)


def test_notify_loads_before_the_wait_for_start() -> None:
    """The listener is handed over while the creator is there (runc loads
    the filter before it waits on its exec fifo); other filters load last."""
    steps = ops(config(["mkdir"]), start_socket="/run/x/start.sock")
    assert steps.index(Op.FIND_EXEC) < steps.index(Op.SECCOMP) < steps.index(Op.WAIT_ACCEPT)
    plain = lc.Config(seccomp=Seccomp("allow", [SeccompRule("errno", ["mkdir"])]))
    steps = ops(plain, start_socket="/run/x/start.sock")
    assert steps.index(Op.WAIT_ACCEPT) < steps.index(Op.SECCOMP) == len(steps) - 2


def test_with_an_agent_only_write_is_refused_as_in_runc() -> None:
    accepted = ["close", "sendmsg", "sendto", "recvfrom", "execve", "exit_group", "setuid", "capset"]
    for nnp in (True, False):
        plan = build_plan(config(accepted, nnp=nnp), "x", host=MERGED)
        (step,) = [s for s in plan.steps if s.op is Op.SECCOMP]
        assert step.n3 == 1 and not plan.shares_memory  # by number, and the child waits for the copy
    with pytest.raises(lc.ConfigError, match="write") as info:
        build_plan(config(["mkdir", "write"]), "x", host=MERGED)
    assert info.value.field == "seccomp.rules[0]"


def test_without_ptrace_the_listener_comes_by_scm_rights() -> None:
    plan = build_plan(config(["write", "mkdir"]), "x", host=NoPtrace(MERGED.kinds, MERGED.links))
    (step,) = [s for s in plan.steps if s.op is Op.SECCOMP]
    assert step.n3 == 0
    with pytest.raises(lc.ConfigError, match="sendmsg"):
        build_plan(config(["sendmsg"]), "x", host=NoPtrace(MERGED.kinds, MERGED.links))


def test_without_an_agent_the_runtimes_calls_are_refused() -> None:
    """The caller gets the listener only when the spawn returns."""
    for name in ("write", "recvfrom", "sendto", "accept4", "close", "execve", "exit_group"):
        with pytest.raises(lc.ConfigError, match=name):
            build_plan(config([name], agent=None), "x", host=MERGED)
    with pytest.raises(lc.ConfigError, match="clone"):
        build_plan(config(["clone"], agent=None, init=True), "x", host=MERGED)
    build_plan(config(["clone"], agent=None), "x", host=MERGED)


def test_oci_notify_needs_a_listener_path() -> None:
    """runc refuses it ("seccomp listenerPath is not set"); here before anything exists."""
    doc = {
        "ociVersion": "1.0.2",
        "root": {"path": "/"},
        "process": {"args": ["true"], "cwd": "/"},
        "linux": {
            "namespaces": [{"type": "mount"}],
            "seccomp": {
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}],
            },
        },
    }
    with pytest.raises(lc.ConfigError) as info:
        config_from_oci(doc)
    assert info.value.field == "linux.seccomp.listenerPath"
    doc["linux"]["seccomp"]["listenerPath"] = "/run/agent.sock"
    assert config_from_oci(doc).config.seccomp.listener_path == "/run/agent.sock"
