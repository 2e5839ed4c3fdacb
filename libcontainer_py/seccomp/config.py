"""Seccomp, SeccompRule, ArgCondition: a syscall filter as typed, validated data.

The classes only describe a filter; ``compile()`` turns one into a BPF
program with libseccomp.  ``Seccomp.from_oci`` / ``Seccomp.to_oci`` convert
from and to the ``linux.seccomp`` object of an OCI config.json.
"""

from __future__ import annotations

import enum
import errno as errno_mod
import functools
import re
from typing import TYPE_CHECKING, Any, Dict, FrozenSet, Iterable, List, Mapping, Optional, Tuple

import attrs

from .._fields import (
    FieldCheck,
    fail,
    field_options,
    instance_tuple_field,
    named_fields,
    optional_absolute_path_field,
    text,
    text_field,
    uint32,
    uint32_field,
)
from .._jsondoc import obj
from ..errors import ConfigError
from . import profile


class Action(str, enum.Enum):
    """What the kernel does when a rule matches (a ``str``: ``Action.ALLOW == "allow"``)."""

    ALLOW = "allow"
    #: Fail the syscall with ``errno`` (EPERM unless set); the syscall does not run.
    ERRNO = "errno"
    #: Kill the whole process with SIGSYS (``"kill"`` is accepted as an alias).
    KILL_PROCESS = "kill_process"
    #: Kill only the calling thread with SIGSYS (OCI's SCMP_ACT_KILL, as in runc).
    KILL_THREAD = "kill_thread"
    #: Send SIGSYS to the thread; a handler may catch it, the syscall does not run.
    TRAP = "trap"
    #: Allow, and log the syscall to the audit log / kernel log.
    LOG = "log"
    #: Suspend the syscall until the holder of the listener fd answers it.
    NOTIFY = "notify"
    #: Notify a ptrace tracer (PTRACE_O_TRACESECCOMP) with ``errno`` as the value;
    #: without a tracer the syscall fails with ENOSYS.
    TRACE = "trace"


#: Names accepted for an action besides the Action values.
ACTION_ALIASES: Mapping[str, Action] = {"kill": Action.KILL_PROCESS}

#: Actions that carry a number (``errno``): the errno to return, the tracer's value.
ACTIONS_WITH_ERRNO = (Action.ERRNO, Action.TRACE)

#: Comparison operators of ArgCondition, in libseccomp's ``enum scmp_compare`` order (1..7).
OPS: Tuple[str, ...] = ("ne", "lt", "le", "eq", "ge", "gt", "masked_eq")

#: Architecture names libseccomp knows (``seccomp_arch_resolve_name``); the OCI
#: spelling is ``"SCMP_ARCH_" + name.upper()``.
ARCHITECTURES: Tuple[str, ...] = (
    "x86",
    "x86_64",
    "x32",
    "arm",
    "aarch64",
    "loongarch64",
    "m68k",
    "mips",
    "mips64",
    "mips64n32",
    "mipsel",
    "mipsel64",
    "mipsel64n32",
    "ppc",
    "ppc64",
    "ppc64le",
    "riscv64",
    "s390",
    "s390x",
    "parisc",
    "parisc64",
    "sh",
    "sheb",
)

#: seccomp(2) SECCOMP_FILTER_FLAG_* a Seccomp may ask for, by name.
FLAGS: Mapping[str, int] = {
    "tsync": 1 << 0,
    "log": 1 << 1,
    "spec_allow": 1 << 2,
    "wait_killable_recv": 1 << 5,
}

_SYSCALL_NAME = r"^[a-z0-9_]{1,64}$"  # compiled (and cached by re) on first use
_MAX_ERRNO = 4095
_UINT64_MAX = 2**64 - 1


def _action(field: str, value: Any) -> Action:
    if isinstance(value, Action):
        return value
    if isinstance(value, str):
        if value in ACTION_ALIASES:
            return ACTION_ALIASES[value]
        try:
            return Action(value)
        except ValueError:
            pass
    known = ", ".join([a.value for a in Action] + list(ACTION_ALIASES))
    raise fail(field, f"unknown action {value!r} (known: {known})")


def _errno(field: str, value: Any) -> Optional[int]:
    if value is None:
        return None
    return uint32(field, value, maximum=0xFFFF)


def _check_errno(field: str, action: Action, value: Optional[int]) -> None:
    """errno only goes with errno/trace, and an errno must be a real one."""
    if value is not None and action not in ACTIONS_WITH_ERRNO:
        raise fail(field, f"only the errno and trace actions take a number, not {action.value}")
    if action is Action.ERRNO and value is not None and value > _MAX_ERRNO:
        raise fail(field, f"an errno must be between 0 and {_MAX_ERRNO}, got {value}")


def _default_errno_for(action: Action) -> Optional[int]:
    return errno_mod.EPERM if action in ACTIONS_WITH_ERRNO else None


def syscall_name(field: str, value: Any) -> str:
    """A syscall name as libseccomp spells them (lower case, digits, '_')."""
    name = text(field, value)
    if not re.match(_SYSCALL_NAME, name):
        raise fail(field, f"not a syscall name: {name!r}")
    return name


def _architecture(field: str, value: Any) -> str:
    name = text(field, value)
    if name.startswith("SCMP_ARCH_"):
        name = name[len("SCMP_ARCH_") :].lower()
    if name not in ARCHITECTURES:
        raise fail(field, f"unknown architecture {value!r} (known: {', '.join(ARCHITECTURES)})")
    return name


def _unique(field: str, values: Tuple[str, ...]) -> Tuple[str, ...]:
    for i, v in enumerate(values):
        if v in values[:i]:
            raise fail(f"{field}[{i}]", f"{v!r} is listed twice")
    return values


def _flag(field: str, value: Any) -> str:
    name = text(field, value)
    if name not in FLAGS:
        raise fail(field, f"unknown seccomp flag {name!r} (known: {', '.join(FLAGS)})")
    return name


def _op(field: str, value: Any) -> str:
    op = text(field, value)
    if op not in OPS:
        raise fail(field, f"must be one of {', '.join(OPS)}, got {op!r}")
    return op


def _default_action(field: str, value: Any) -> Action:
    action = _action(field, value)
    if action is Action.NOTIFY:
        raise fail(field, "notify cannot be the default action (as in runc and libseccomp)")
    return action


def _syscalls(field: str, value: Any) -> Tuple[str, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise fail(field, f"expected a sequence of syscall names, got {value!r}")
    names = tuple(syscall_name(f"{field}[{i}]", v) for i, v in enumerate(value))
    if not names:
        raise fail(field, "must name at least one syscall")
    return names


def _architectures(field: str, value: Any) -> Tuple[str, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise fail(field, f"expected a sequence of architecture names, got {value!r}")
    return _unique(field, tuple(_architecture(f"{field}[{i}]", v) for i, v in enumerate(value)))


def _flags(field: str, value: Any) -> Tuple[str, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise fail(field, f"expected a sequence of flag names, got {value!r}")
    return _unique(field, tuple(_flag(f"{field}[{i}]", v) for i, v in enumerate(value)))


if TYPE_CHECKING:  # see _fields: what mypy's attrs plugin reads

    def _op_field(value: Any) -> str: ...
    def _action_field(value: Any) -> Action: ...
    def _default_action_field(value: Any) -> Action: ...
    def _syscalls_field(value: Any) -> Tuple[str, ...]: ...
    def _errno_field(value: Any) -> Optional[int]: ...
    def _architectures_field(value: Any) -> Tuple[str, ...]: ...
    def _flags_field(value: Any) -> Tuple[str, ...]: ...

else:
    _op_field = FieldCheck(_op)
    _action_field = FieldCheck(_action)
    _default_action_field = FieldCheck(_default_action)
    _syscalls_field = FieldCheck(_syscalls)
    _errno_field = FieldCheck(_errno, keeps_none=True)
    _architectures_field = FieldCheck(_architectures)
    _flags_field = FieldCheck(_flags)


@attrs.frozen(field_transformer=named_fields("seccomp.arg"))
class ArgCondition:
    """A test on syscall argument ``index`` (0..5), as in OCI and libseccomp.

    ``op`` is one of ne, lt, le, eq, ge, gt (``arg OP value``) or masked_eq,
    which is ``(arg & value) == value2``: ``value`` is the mask, as in the
    OCI spec and Docker's profile.  Values are unsigned 64-bit.
    """

    index: int = attrs.field(converter=uint32_field, metadata=field_options(maximum=5))
    op: str = attrs.field(converter=_op_field)
    value: int = attrs.field(converter=uint32_field, metadata=field_options(maximum=_UINT64_MAX))
    value2: int = attrs.field(default=0, converter=uint32_field, metadata=field_options(maximum=_UINT64_MAX))


def _rule_default_errno(rule: SeccompRule) -> Optional[int]:
    return _default_errno_for(rule.action)


@attrs.frozen(field_transformer=named_fields("seccomp.rule"))
class SeccompRule:
    """``action`` for the named ``syscalls`` when all ``args`` conditions hold.

    ``errno`` is the error the errno action returns (EPERM by default) or the
    trace action's value; other actions take none.  Conditions on different
    arguments are ANDed.  As in runc, when one argument index appears more
    than once each condition becomes a rule of its own (they are ORed):
    ``SeccompRule("allow", ["personality"], [ArgCondition(0, "eq", 0),
    ArgCondition(0, "eq", 8)])`` allows both personalities.
    """

    action: Action = attrs.field(converter=_action_field)
    syscalls: Tuple[str, ...] = attrs.field(converter=_syscalls_field)
    args: Tuple[ArgCondition, ...] = attrs.field(
        default=(), converter=instance_tuple_field, metadata=field_options(cls=ArgCondition)
    )
    errno: Optional[int] = attrs.field(
        default=attrs.Factory(_rule_default_errno, takes_self=True), converter=_errno_field
    )

    def __attrs_post_init__(self) -> None:
        _check_errno("seccomp.rule.errno", self.action, self.errno)
        if self.errno is None and self.action in ACTIONS_WITH_ERRNO:
            object.__setattr__(self, "errno", errno_mod.EPERM)  # an explicit None means the default

    def to_oci(self) -> Dict[str, Any]:
        """This rule as an entry of OCI ``linux.seccomp.syscalls``."""
        out: Dict[str, Any] = {"names": list(self.syscalls), "action": _OCI_ACTIONS[self.action]}
        if self.args:
            out["args"] = [
                {"index": a.index, "value": a.value, "valueTwo": a.value2, "op": "SCMP_CMP_" + a.op.upper()}
                for a in self.args
            ]
        if self.errno is not None:
            out["errnoRet"] = self.errno
        return out


def _seccomp_default_errno(seccomp: Seccomp) -> Optional[int]:
    return _default_errno_for(seccomp.default_action)


@attrs.frozen(field_transformer=named_fields("seccomp"))
class Seccomp:
    """A seccomp filter: ``default_action`` for every syscall no rule matches.

    ``rules`` are SeccompRule; ``architectures`` (libseccomp names such as
    ``"x86_64"``, ``"x86"``, ``"x32"``, ``"aarch64"``, ``"arm"``; the OCI
    spelling ``"SCMP_ARCH_X86_64"`` is accepted) are added to the native one,
    which is always present, as runc does; a syscall from any other
    architecture kills the process.  ``flags`` are seccomp(2) flags by name
    (``"log"``, ``"spec_allow"``, ``"wait_killable_recv"``, ``"tsync"``).
    ``default_errno`` is the errno of an errno default action (EPERM unless
    set).  ``listener_path`` names a seccomp agent's unix socket: the
    listener of notify rules is sent there with the container's state and
    ``listener_metadata``, as runc does (see ``seccomp.agent``); without it
    the listener goes to the caller (``ContainerProcess.seccomp_fd``).

    Syscall names libseccomp does not know at all are skipped by
    ``compile()``, like runc and Docker do, so that one profile works with
    older and newer libseccomp versions; ``compile(strict=True)`` refuses
    them instead, and ``CompiledFilter.skipped`` lists them either way.
    """

    default_action: Action = attrs.field(converter=_default_action_field)
    rules: Tuple[SeccompRule, ...] = attrs.field(
        default=(), converter=instance_tuple_field, metadata=field_options(cls=SeccompRule)
    )
    architectures: Tuple[str, ...] = attrs.field(default=(), converter=_architectures_field)
    flags: Tuple[str, ...] = attrs.field(default=(), converter=_flags_field)
    default_errno: Optional[int] = attrs.field(
        default=attrs.Factory(_seccomp_default_errno, takes_self=True), converter=_errno_field
    )
    listener_path: Optional[str] = attrs.field(default=None, converter=optional_absolute_path_field)
    listener_metadata: str = attrs.field(default="", converter=text_field, metadata=field_options(allow_empty=True))

    def __attrs_post_init__(self) -> None:
        _check_errno("seccomp.default_errno", self.default_action, self.default_errno)
        if self.default_errno is None and self.default_action in ACTIONS_WITH_ERRNO:
            object.__setattr__(self, "default_errno", errno_mod.EPERM)  # an explicit None means the default

    @property
    def uses_notify(self) -> bool:
        """Whether a rule has the notify action (the loader then asks for a listener fd)."""
        return any(r.action is Action.NOTIFY for r in self.rules)

    @classmethod
    def default(cls, capabilities: Iterable[str] = (), *, arch: Optional[str] = None) -> Seccomp:
        """Docker's default profile for a container with ``capabilities``.

        An allow list; everything else fails with EPERM.  ``capabilities``
        (``"CAP_SYS_ADMIN"`` or ``"sys_admin"``) add the syscalls Docker allows
        with them; ``arch`` (default: this machine) picks the
        architecture-specific ones.  The data is ``libcontainer_py.seccomp.profile``.
        """
        if isinstance(capabilities, (str, bytes)):
            return default_profile(capabilities, arch=arch)  # refuses it with a clear error
        return _cached_default(frozenset(capabilities), arch)

    @classmethod
    def from_oci(cls, value: Mapping[str, Any]) -> Seccomp:
        """A Seccomp from an OCI ``linux.seccomp`` object (a parsed JSON dict).

        Unknown keys are ignored with an OciWarning, as the OCI spec
        requires, except a Docker-format profile's ``includes``/``excludes``
        (refused: ignoring them would change a rule's meaning).
        """
        return _from_oci(value)

    def to_oci(self) -> Dict[str, Any]:
        """This filter as an OCI ``linux.seccomp`` object; ``from_oci`` reads it back equal."""
        out: Dict[str, Any] = {"defaultAction": _OCI_ACTIONS[self.default_action]}
        if self.default_errno is not None:
            out["defaultErrnoRet"] = self.default_errno
        if self.architectures:
            out["architectures"] = ["SCMP_ARCH_" + a.upper() for a in self.architectures]
        if self.flags:
            out["flags"] = ["SECCOMP_FILTER_FLAG_" + f.upper() for f in self.flags]
        if self.listener_path is not None:
            out["listenerPath"] = self.listener_path
        if self.listener_metadata:
            out["listenerMetadata"] = self.listener_metadata
        if self.rules:
            out["syscalls"] = [r.to_oci() for r in self.rules]
        return out


# --- OCI -------------------------------------------------------------------

_OCI_ACTIONS: Mapping[Action, str] = {a: "SCMP_ACT_" + a.name for a in Action}
#: OCI action -> Action.  SCMP_ACT_KILL is libseccomp's (and runc's) kill-thread.
_FROM_OCI_ACTIONS: Mapping[str, Action] = {
    **{v: k for k, v in _OCI_ACTIONS.items()},
    "SCMP_ACT_KILL": Action.KILL_THREAD,
}

_OCI_KEYS = (
    "defaultAction",
    "defaultErrnoRet",
    "architectures",
    "flags",
    "listenerPath",
    "listenerMetadata",
    "syscalls",
)
_OCI_RULE_KEYS = ("names", "action", "args", "errnoRet")
_OCI_ARG_KEYS = ("index", "value", "valueTwo", "op")


#: Docker profile keys that would change a rule's meaning if ignored.
_DOCKER_ONLY = ("includes", "excludes")


def _mapping(field: str, value: Any, keys: Tuple[str, ...], required: Tuple[str, ...]) -> Mapping[str, Any]:
    """An object of the properties ``keys``; unknown ones are ignored with an
    OciWarning (the spec's rule), except Docker's ``includes``/``excludes``:
    ignoring them would apply a rule meant for some containers to all."""
    if not isinstance(value, Mapping):
        raise fail(field, f"expected an object, got {type(value).__name__} {value!r}")
    for key in _DOCKER_ONLY:
        if key in value:
            raise fail(f"{field}.{key}", "Docker's profile format is not OCI's: resolve includes/excludes first")
    try:
        return obj(field, value, keys, required)
    except ConfigError as exc:
        raise fail(exc.field, exc.message) from None


def _oci_list(field: str, value: Any) -> List[Any]:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise fail(field, f"expected a list, got {type(value).__name__} {value!r}")
    return list(value)


def _oci_action(field: str, value: Any) -> Action:
    if not isinstance(value, str) or value not in _FROM_OCI_ACTIONS:
        raise fail(field, f"unknown action {value!r} (known: {', '.join(_FROM_OCI_ACTIONS)})")
    return _FROM_OCI_ACTIONS[value]


def _oci_prefixed(field: str, value: Any, prefix: str) -> str:
    if not isinstance(value, str) or not value.startswith(prefix):
        raise fail(field, f"expected {prefix}..., got {value!r}")
    return value[len(prefix) :].lower()


def _rewrap(field: str, err: ConfigError) -> ConfigError:
    """The same error with the position in the OCI document in front."""
    return fail(field, f"{err.field}: {err.message}")


def _oci_arg(field: str, value: Any) -> ArgCondition:
    arg = _mapping(field, value, _OCI_ARG_KEYS, ("index", "value", "op"))
    try:
        return ArgCondition(
            index=arg["index"],
            op=_oci_prefixed(f"{field}.op", arg["op"], "SCMP_CMP_"),
            value=arg["value"],
            value2=arg.get("valueTwo", 0),
        )
    except ConfigError as err:
        if err.field.startswith(field):
            raise
        raise _rewrap(field, err) from err


def _oci_rule(field: str, value: Any) -> SeccompRule:
    rule = _mapping(field, value, _OCI_RULE_KEYS, ("names", "action"))
    action = _oci_action(f"{field}.action", rule["action"])
    args = [_oci_arg(f"{field}.args[{i}]", a) for i, a in enumerate(_oci_list(f"{field}.args", rule.get("args")))]
    try:
        if "errnoRet" in rule:
            return SeccompRule(action, rule["names"], args, errno=rule["errnoRet"])
        return SeccompRule(action, rule["names"], args)
    except ConfigError as err:
        raise _rewrap(field, err) from err


def _from_oci(value: Mapping[str, Any]) -> Seccomp:
    field = "linux.seccomp"
    doc = _mapping(field, value, _OCI_KEYS, ("defaultAction",))
    default_action = _oci_action(f"{field}.defaultAction", doc["defaultAction"])
    rules = [
        _oci_rule(f"{field}.syscalls[{i}]", r)
        for i, r in enumerate(_oci_list(f"{field}.syscalls", doc.get("syscalls")))
    ]
    arches = [
        _oci_prefixed(f"{field}.architectures[{i}]", a, "SCMP_ARCH_")
        for i, a in enumerate(_oci_list(f"{field}.architectures", doc.get("architectures")))
    ]
    flags = [
        _oci_prefixed(f"{field}.flags[{i}]", f, "SECCOMP_FILTER_FLAG_")
        for i, f in enumerate(_oci_list(f"{field}.flags", doc.get("flags")))
    ]
    kwargs: Dict[str, Any] = {}
    if "defaultErrnoRet" in doc:
        kwargs["default_errno"] = doc["defaultErrnoRet"]
    if doc.get("listenerPath") is not None:
        kwargs["listener_path"] = doc["listenerPath"]
    if doc.get("listenerMetadata") is not None:
        kwargs["listener_metadata"] = doc["listenerMetadata"]
    try:
        return Seccomp(default_action, rules, arches, flags, **kwargs)
    except ConfigError as err:
        raise _rewrap(field, err) from err


def default_profile(capabilities: Iterable[str] = (), *, arch: Optional[str] = None) -> Seccomp:
    """Docker's default profile for a container holding ``capabilities`` on
    ``arch`` (the data is profile.py's)."""
    caps = profile.capability_names(capabilities)
    native = profile.native_architecture() if arch is None else arch
    if native not in ARCHITECTURES:
        raise fail("arch", f"unknown architecture {native!r} (known: {', '.join(ARCHITECTURES)})")
    rules: List[SeccompRule] = [SeccompRule(Action.ALLOW, profile.allowed_syscalls(caps, native))]
    rules.append(SeccompRule(Action.ALLOW, ["socket"], [ArgCondition(0, "ne", profile.AF_VSOCK)]))
    personalities = [ArgCondition(0, "eq", p) for p in profile.PERSONALITIES]
    rules.append(SeccompRule(Action.ALLOW, ["personality"], personalities))
    if "CAP_SYS_ADMIN" not in caps:
        flags_arg = 1 if native in ("s390", "s390x") else 0
        clone_flags = ArgCondition(flags_arg, "masked_eq", profile.CLONE_NAMESPACE_MASK)
        rules.append(SeccompRule(Action.ALLOW, ["clone"], [clone_flags]))
        rules.append(SeccompRule(Action.ERRNO, ["clone3"], errno=errno_mod.ENOSYS))
    return Seccomp(Action.ERRNO, rules, profile.ARCH_MAP.get(native, (native,)), default_errno=errno_mod.EPERM)


@functools.lru_cache(maxsize=32)
def _cached_default(capabilities: FrozenSet[str], arch: Optional[str]) -> Seccomp:
    return default_profile(capabilities, arch=arch)
