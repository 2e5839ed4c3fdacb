"""Seccomp config classes, OCI conversion and the default profile (pure: no kernel, no libseccomp)."""

from __future__ import annotations

import errno
import json
import warnings
from typing import Any, Dict, List, Set

import attrs
import pytest

from libcontainer_py.errors import ConfigError
from libcontainer_py.oci import OciWarning
from libcontainer_py.seccomp import Action, ArgCondition, Seccomp, SeccompRule
from libcontainer_py.seccomp import profile as prof

# --- ArgCondition ------------------------------------------------------------


def test_arg_condition_fields() -> None:
    a = ArgCondition(2, "masked_eq", 0xFF, 0x10)
    assert (a.index, a.op, a.value, a.value2) == (2, "masked_eq", 0xFF, 0x10)
    assert ArgCondition(0, "eq", 2**64 - 1).value2 == 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"index": 6, "op": "eq", "value": 0}, "seccomp.arg.index"),
        ({"index": -1, "op": "eq", "value": 0}, "seccomp.arg.index"),
        ({"index": True, "op": "eq", "value": 0}, "seccomp.arg.index"),
        ({"index": 0, "op": "==", "value": 0}, "seccomp.arg.op"),
        ({"index": 0, "op": "SCMP_CMP_EQ", "value": 0}, "seccomp.arg.op"),
        ({"index": 0, "op": "eq", "value": -1}, "seccomp.arg.value"),
        ({"index": 0, "op": "eq", "value": 2**64}, "seccomp.arg.value"),
        ({"index": 0, "op": "eq", "value": "1"}, "seccomp.arg.value"),
        ({"index": 0, "op": "masked_eq", "value": 1, "value2": 2**64}, "seccomp.arg.value2"),
    ],
)
def test_arg_condition_rejects(kwargs: Dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        ArgCondition(**kwargs)
    assert info.value.field == field


# --- SeccompRule -------------------------------------------------------------


def test_rule_errno_defaults_to_eperm_for_errno_and_trace_only() -> None:
    assert SeccompRule("errno", ["mkdir"]).errno == errno.EPERM
    assert SeccompRule("errno", ["mkdir"], errno=None).errno == errno.EPERM
    assert SeccompRule("trace", ["mkdir"]).errno == errno.EPERM
    assert SeccompRule("errno", ["mkdir"], errno=0).errno == 0
    assert SeccompRule("allow", ["mkdir"]).errno is None
    assert SeccompRule("notify", ["mkdir"]).errno is None


def test_rule_actions_are_enum_members_and_kill_means_kill_process() -> None:
    r = SeccompRule("kill", ["reboot"])
    assert r.action is Action.KILL_PROCESS and r.action.value == "kill_process"
    assert isinstance(Action.KILL_PROCESS, str) and "kill_process" in {Action.KILL_PROCESS}  # a str enum
    for action in Action:
        assert SeccompRule(action.value, ["read"]).action is action
        assert SeccompRule(action, ["read"]).action is action


def test_rule_syscalls_and_args_become_tuples() -> None:
    r = SeccompRule("allow", ["read", "_llseek"], [ArgCondition(0, "eq", 1)])
    assert r.syscalls == ("read", "_llseek")
    assert r.args == (ArgCondition(0, "eq", 1),)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"action": "deny", "syscalls": ["read"]}, "seccomp.rule.action"),
        ({"action": "allow", "syscalls": "read"}, "seccomp.rule.syscalls"),
        ({"action": "allow", "syscalls": []}, "seccomp.rule.syscalls"),
        ({"action": "allow", "syscalls": ["read", "Mkdir"]}, "seccomp.rule.syscalls[1]"),
        ({"action": "allow", "syscalls": ["read", ""]}, "seccomp.rule.syscalls[1]"),
        ({"action": "allow", "syscalls": ["re ad"]}, "seccomp.rule.syscalls[0]"),
        ({"action": "allow", "syscalls": ["read"], "args": [(0, "eq", 1)]}, "seccomp.rule.args[0]"),
        ({"action": "allow", "syscalls": ["read"], "args": ArgCondition(0, "eq", 1)}, "seccomp.rule.args"),
        ({"action": "allow", "syscalls": ["read"], "errno": 1}, "seccomp.rule.errno"),
        ({"action": "kill", "syscalls": ["read"], "errno": 1}, "seccomp.rule.errno"),
        ({"action": "errno", "syscalls": ["read"], "errno": 4096}, "seccomp.rule.errno"),
        ({"action": "errno", "syscalls": ["read"], "errno": -1}, "seccomp.rule.errno"),
        ({"action": "trace", "syscalls": ["read"], "errno": 0x10000}, "seccomp.rule.errno"),
    ],
)
def test_rule_rejects(kwargs: Dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        SeccompRule(**kwargs)
    assert info.value.field == field


def test_rule_trace_value_may_exceed_max_errno() -> None:
    assert SeccompRule("trace", ["read"], errno=0xFFFF).errno == 0xFFFF


# --- Seccomp -----------------------------------------------------------------


def test_seccomp_defaults() -> None:
    s = Seccomp("errno")
    assert s.default_errno == errno.EPERM
    assert (s.rules, s.architectures, s.flags, s.listener_path, s.listener_metadata) == ((), (), (), None, "")
    assert Seccomp("allow").default_errno is None
    assert Seccomp("errno", default_errno=None).default_errno == errno.EPERM
    assert not s.uses_notify


def test_seccomp_normalises_architectures() -> None:
    s = Seccomp("allow", architectures=["SCMP_ARCH_X86_64", "x86", "SCMP_ARCH_AARCH64"])
    assert s.architectures == ("x86_64", "x86", "aarch64")


def test_seccomp_uses_notify() -> None:
    s = Seccomp("allow", [SeccompRule("errno", ["read"]), SeccompRule("notify", ["mkdir"])])
    assert s.uses_notify


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"default_action": "notify"}, "seccomp.default_action"),
        ({"default_action": "nope"}, "seccomp.default_action"),
        ({"default_action": "allow", "rules": [SeccompRule("errno", ["read"]), "x"]}, "seccomp.rules[1]"),
        ({"default_action": "allow", "rules": SeccompRule("errno", ["read"])}, "seccomp.rules"),
        ({"default_action": "allow", "architectures": ["vax"]}, "seccomp.architectures[0]"),
        ({"default_action": "allow", "architectures": "x86_64"}, "seccomp.architectures"),
        ({"default_action": "allow", "architectures": ["x86", "SCMP_ARCH_X86"]}, "seccomp.architectures[1]"),
        ({"default_action": "allow", "flags": ["new_listener"]}, "seccomp.flags[0]"),
        ({"default_action": "allow", "flags": ["log", "log"]}, "seccomp.flags[1]"),
        ({"default_action": "allow", "default_errno": 1}, "seccomp.default_errno"),
        ({"default_action": "errno", "default_errno": 5000}, "seccomp.default_errno"),
        ({"default_action": "allow", "listener_path": "relative/sock"}, "seccomp.listener_path"),
        ({"default_action": "allow", "listener_metadata": 3}, "seccomp.listener_metadata"),
    ],
)
def test_seccomp_rejects(kwargs: Dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        Seccomp(**kwargs)
    assert info.value.field == field


def test_seccomp_is_frozen_and_hashable() -> None:
    s = Seccomp("allow", [SeccompRule("errno", ["read"], [ArgCondition(0, "eq", 3)])])
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        s.default_action = Action.ERRNO  # type: ignore[misc]
    assert hash(s) == hash(Seccomp("allow", [SeccompRule("errno", ["read"], [ArgCondition(0, "eq", 3)])]))


# --- OCI ---------------------------------------------------------------------

OCI_DOC: Dict[str, Any] = {
    "defaultAction": "SCMP_ACT_ERRNO",
    "defaultErrnoRet": 38,
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
    "listenerPath": "/run/agent.sock",
    "listenerMetadata": "pod=x",
    "syscalls": [
        {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
        {
            "names": ["clone"],
            "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 0x7E020000, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
        },
        {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
        {"names": ["mkdir"], "action": "SCMP_ACT_TRACE", "errnoRet": 7},
        {"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"},
        {"names": ["reboot"], "action": "SCMP_ACT_KILL_PROCESS"},
        {"names": ["chroot"], "action": "SCMP_ACT_KILL_THREAD"},
        {"names": ["syslog"], "action": "SCMP_ACT_TRAP"},
        {"names": ["uname"], "action": "SCMP_ACT_LOG"},
        {
            "names": ["personality"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {"index": 0, "value": 0, "valueTwo": 0, "op": "SCMP_CMP_EQ"},
                {"index": 1, "value": 5, "valueTwo": 0, "op": "SCMP_CMP_NE"},
                {"index": 2, "value": 5, "valueTwo": 0, "op": "SCMP_CMP_LT"},
                {"index": 3, "value": 5, "valueTwo": 0, "op": "SCMP_CMP_LE"},
                {"index": 4, "value": 5, "valueTwo": 0, "op": "SCMP_CMP_GE"},
                {"index": 5, "value": 2**64 - 1, "valueTwo": 0, "op": "SCMP_CMP_GT"},
            ],
        },
    ],
}


def test_from_oci_reads_every_field() -> None:
    s = Seccomp.from_oci(OCI_DOC)
    assert s.default_action is Action.ERRNO and s.default_errno == 38
    assert s.architectures == ("x86_64", "x86", "x32")
    assert s.flags == ("log", "spec_allow")
    assert (s.listener_path, s.listener_metadata) == ("/run/agent.sock", "pod=x")
    assert s.rules[0] == SeccompRule("allow", ["read", "write"])
    assert s.rules[1].args == (ArgCondition(0, "masked_eq", 0x7E020000, 0),)
    assert s.rules[2] == SeccompRule("errno", ["clone3"], errno=38)
    assert s.rules[3] == SeccompRule("trace", ["mkdir"], errno=7)
    assert [r.action for r in s.rules[4:9]] == [
        Action.NOTIFY,
        Action.KILL_PROCESS,
        Action.KILL_THREAD,
        Action.TRAP,
        Action.LOG,
    ]
    assert [a.op for a in s.rules[9].args] == ["eq", "ne", "lt", "le", "ge", "gt"]
    assert s.uses_notify


def test_oci_round_trip_is_lossless() -> None:
    s = Seccomp.from_oci(OCI_DOC)
    assert s.to_oci() == OCI_DOC
    assert Seccomp.from_oci(json.loads(json.dumps(s.to_oci()))) == s


def test_oci_round_trip_of_the_default_profile() -> None:
    d = Seccomp.default(["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"])
    assert Seccomp.from_oci(json.loads(json.dumps(d.to_oci()))) == d


def test_from_oci_defaults_and_spellings() -> None:
    s = Seccomp.from_oci(
        {
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["chroot"], "action": "SCMP_ACT_KILL"},
                {
                    "names": ["socket"],
                    "action": "SCMP_ACT_ERRNO",
                    "args": [{"index": 0, "value": 17, "op": "SCMP_CMP_EQ"}],
                },
            ],
        }
    )
    assert s.default_errno is None and s.architectures == () and s.flags == ()
    assert s.rules[0].errno == errno.EPERM  # no errnoRet: EPERM, as runc
    assert s.rules[1].action is Action.KILL_THREAD  # SCMP_ACT_KILL is kill-thread in libseccomp and runc
    assert s.rules[2].args == (ArgCondition(0, "eq", 17, 0),)
    assert s.to_oci()["syscalls"][1]["action"] == "SCMP_ACT_KILL_THREAD"
    assert Seccomp.from_oci({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": None}).rules == ()


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ([], "linux.seccomp"),
        ({}, "linux.seccomp.defaultAction"),
        ({"defaultAction": "SCMP_ACT_DENY"}, "linux.seccomp.defaultAction"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["x86_64"]}, "linux.seccomp.architectures[0]"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]}, "linux.seccomp"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["LOG"]}, "linux.seccomp.flags[0]"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": {"names": ["read"]}}, "linux.seccomp.syscalls"),
        (
            {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_ERRNO"}]},
            "linux.seccomp.syscalls[0].names",
        ),
        ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"]}]}, "linux.seccomp.syscalls[0].action"),
        (
            {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "read", "action": "SCMP_ACT_ERRNO"}]},
            "linux.seccomp.syscalls[0].names",
        ),
        (
            {
                "defaultAction": "SCMP_ACT_ERRNO",
                "syscalls": [{"names": ["bpf"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_BPF"]}}],
            },
            "linux.seccomp.syscalls[0].includes",
        ),
        (
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1}],
            },
            "linux.seccomp.syscalls[0]",
        ),
        (
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1}]}],
            },
            "linux.seccomp.syscalls[0].args[0].op",
        ),
        (
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [
                    {
                        "names": ["read"],
                        "action": "SCMP_ACT_ERRNO",
                        "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}],
                    }
                ],
            },
            "linux.seccomp.syscalls[0].args[0]",
        ),
        (
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [
                    {"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "EQ"}]}
                ],
            },
            "linux.seccomp.syscalls[0].args[0].op",
        ),
    ],
)
def test_from_oci_rejects(doc: Any, field: str) -> None:
    with pytest.raises(ConfigError) as info, warnings.catch_warnings():
        warnings.simplefilter("ignore", OciWarning)
        Seccomp.from_oci(doc)
    assert info.value.field == field


def test_from_oci_error_message_keeps_the_inner_field() -> None:
    doc = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["BAD"], "action": "SCMP_ACT_ERRNO"}]}
    with pytest.raises(ConfigError, match=r"syscalls\[0\].*seccomp\.rule\.syscalls\[0\].*'BAD'"):
        Seccomp.from_oci(doc)


# --- the default profile -----------------------------------------------------


def _allowed(s: Seccomp) -> Set[str]:
    return {name for r in s.rules if r.action is Action.ALLOW and not r.args for name in r.syscalls}


def _rules_for(s: Seccomp, name: str) -> List[SeccompRule]:
    return [r for r in s.rules if name in r.syscalls]


def test_default_profile_is_an_allow_list_returning_eperm() -> None:
    d = Seccomp.default(arch="x86_64")
    assert d.default_action is Action.ERRNO and d.default_errno == errno.EPERM
    assert d.architectures == ("x86_64", "x86", "x32")
    allowed = _allowed(d)
    for name in ("read", "write", "openat", "execve", "mmap", "futex", "rt_sigreturn", "exit_group", "wait4", "fork"):
        assert name in allowed
    # Docker's profile allows these on kernels >= 4.8; so does ours.
    assert {"ptrace", "process_vm_readv", "process_vm_writev"} <= allowed
    assert "name_to_handle_at" in allowed
    assert {"arch_prctl", "modify_ldt"} <= allowed
    assert "set_tls" not in allowed and "s390_runtime_instr" not in allowed


BLOCKED = (
    "unshare setns mount umount umount2 pivot_root chroot keyctl add_key request_key bpf perf_event_open "
    "kexec_load kexec_file_load init_module finit_module delete_module open_by_handle_at reboot swapon "
    "swapoff acct settimeofday clock_settime clock_settime64 stime iopl ioperm userfaultfd lookup_dcookie "
    "quotactl vm86 vm86old syslog sethostname setdomainname fsopen fsmount move_mount open_tree "
    "mount_setattr kcmp pidfd_getfd process_madvise mbind set_mempolicy vhangup fanotify_init "
    "nfsservctl uselib ustat sysfs _sysctl create_module get_kernel_syms query_module"
).split()


def test_default_profile_does_not_allow_the_dangerous_syscalls() -> None:
    d = Seccomp.default(arch="x86_64")
    for name in BLOCKED:
        assert _rules_for(d, name) == [], name


def test_default_profile_conditions() -> None:
    d = Seccomp.default(arch="x86_64")
    (personality,) = _rules_for(d, "personality")
    assert personality.action is Action.ALLOW
    assert sorted(a.value for a in personality.args) == [0, 8, 0x20000, 0x20008, 0xFFFFFFFF]
    assert {(a.index, a.op) for a in personality.args} == {(0, "eq")}
    (socket,) = _rules_for(d, "socket")
    assert socket.args == (ArgCondition(0, "ne", 40),)  # AF_VSOCK
    (clone,) = _rules_for(d, "clone")
    assert clone.action is Action.ALLOW and clone.args == (ArgCondition(0, "masked_eq", 0x7E020000, 0),)
    (clone3,) = _rules_for(d, "clone3")
    assert clone3.action is Action.ERRNO and clone3.errno == errno.ENOSYS


def test_default_profile_s390_clone_flags_are_argument_1() -> None:
    (clone,) = _rules_for(Seccomp.default(arch="s390x"), "clone")
    assert clone.args == (ArgCondition(1, "masked_eq", 0x7E020000, 0),)
    assert Seccomp.default(arch="s390x").architectures == ("s390x", "s390")


def test_default_profile_capabilities_add_syscalls() -> None:
    d = Seccomp.default(["CAP_SYS_ADMIN", "sys_time", "cap_sys_chroot"], arch="x86_64")
    allowed = _allowed(d)
    assert {"mount", "umount2", "unshare", "setns", "clone", "clone3", "sethostname"} <= allowed
    assert {"settimeofday", "clock_settime", "chroot"} <= allowed
    assert "reboot" not in allowed and "init_module" not in allowed
    # With CAP_SYS_ADMIN clone and clone3 are allowed outright: no conditional rules for them.
    assert all(not r.args for r in _rules_for(d, "clone")) and all(
        r.action is Action.ALLOW for r in _rules_for(d, "clone3")
    )
    ptrace = _allowed(Seccomp.default(["CAP_SYS_PTRACE"], arch="x86_64"))
    assert {"kcmp", "pidfd_getfd", "process_madvise"} <= ptrace


def test_default_profile_arch_specific_syscalls() -> None:
    arm = Seccomp.default(arch="aarch64")
    assert {"set_tls", "cacheflush"} <= _allowed(arm) and "arch_prctl" not in _allowed(arm)
    assert arm.architectures == ("aarch64", "arm")
    assert "modify_ldt" in _allowed(Seccomp.default(arch="x86"))
    assert Seccomp.default(arch="x86").architectures == ("x86",)


def test_default_profile_each_syscall_once_per_action() -> None:
    d = Seccomp.default(list(prof.CAPABILITY_SYSCALLS), arch="x86_64")
    names = [n for r in d.rules if r.action is Action.ALLOW and not r.args for n in r.syscalls]
    assert len(names) == len(set(names))


def test_default_profile_rejects_bad_input() -> None:
    with pytest.raises(ConfigError) as info:
        Seccomp.default(arch="vax")
    assert info.value.field == "arch"
    with pytest.raises(ConfigError) as info:
        Seccomp.default("CAP_SYS_ADMIN")
    assert info.value.field == "capabilities"
