"""Capabilities: the five capability sets of the container's process."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, FrozenSet, Iterable, Optional, Tuple

import attrs

from ._fields import FieldCheck, fail, named_fields
from ._hostfs import caller_bounding_set as caller_bounding_set  # its home: light

#: Capability names in kernel order (the index is the capability number).
CAPABILITY_NAMES: Tuple[str, ...] = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
    "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)  # fmt: skip
CAPABILITY_NUMBERS = {name: i for i, name in enumerate(CAPABILITY_NAMES)}

#: What a container gets by default (the set Docker and runc's default spec use).
DEFAULT_CAPABILITIES: FrozenSet[str] = frozenset(
    {
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
        "CAP_AUDIT_WRITE",
    }
)  # fmt: skip


def capability_name(field: str, name: Any) -> str:
    """'net_raw', 'NET_RAW' or 'CAP_NET_RAW' -> 'CAP_NET_RAW'; unknown names are an error."""
    if not isinstance(name, str):
        raise fail(field, f"expected a capability name, got {name!r}")
    canonical = name.upper()
    if not canonical.startswith("CAP_"):
        canonical = "CAP_" + canonical
    if canonical not in CAPABILITY_NUMBERS:
        raise fail(field, f"unknown capability {name!r}")
    return canonical


def _cap_set(field: str, value: Any) -> FrozenSet[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise fail(field, f"expected a collection of capability names, got {value!r}")
    return frozenset(capability_name(field, v) for v in value)


def mask(names: Iterable[str]) -> int:
    """The kernel bit mask of a set of capability names."""
    out = 0
    for name in names:
        out |= 1 << CAPABILITY_NUMBERS[name]
    return out


if TYPE_CHECKING:  # see _fields: what mypy's attrs plugin reads

    def _cap_set_field(value: Any) -> FrozenSet[str]: ...

else:
    _cap_set_field = FieldCheck(_cap_set)


#: Capabilities.default(), made once.
_default: Optional[Capabilities] = None


@attrs.frozen(field_transformer=named_fields("capabilities"))
class Capabilities:
    """The bounding, effective, permitted, inheritable and ambient sets.

    Names may be given as "CAP_NET_RAW", "NET_RAW" or "net_raw"; unknown
    names are a ConfigError.  ``Capabilities.default()`` is the usual
    container set; ``Capabilities.of(...)`` puts the same names in the
    bounding, effective and permitted sets.
    """

    bounding: FrozenSet[str] = attrs.field(default=frozenset(), converter=_cap_set_field)
    effective: FrozenSet[str] = attrs.field(default=frozenset(), converter=_cap_set_field)
    permitted: FrozenSet[str] = attrs.field(default=frozenset(), converter=_cap_set_field)
    inheritable: FrozenSet[str] = attrs.field(default=frozenset(), converter=_cap_set_field)
    ambient: FrozenSet[str] = attrs.field(default=frozenset(), converter=_cap_set_field)

    def __attrs_post_init__(self) -> None:
        # The kernel's rules, checked here so that the error names the field.
        if not self.effective <= self.permitted:
            raise fail("capabilities.effective", f"not permitted: {sorted(self.effective - self.permitted)}")
        if not self.permitted <= self.bounding:
            raise fail("capabilities.permitted", f"outside the bounding set: {sorted(self.permitted - self.bounding)}")
        missing = self.ambient - (self.permitted & self.inheritable)
        if missing:
            raise fail("capabilities.ambient", f"must be permitted and inheritable: {sorted(missing)}")

    @classmethod
    def of(cls, *names: str) -> Capabilities:
        """The same names in bounding, effective and permitted."""
        caps = _cap_set("capabilities", names)
        return cls(bounding=caps, effective=caps, permitted=caps)

    @classmethod
    def default(cls) -> Capabilities:
        """CHOWN, DAC_OVERRIDE, FSETID, FOWNER, MKNOD, NET_RAW, SETGID, SETUID,
        SETFCAP, SETPCAP, NET_BIND_SERVICE, SYS_CHROOT, KILL, AUDIT_WRITE."""
        if cls is not Capabilities:
            return cls.of(*DEFAULT_CAPABILITIES)
        global _default
        if _default is None:
            _default = cls.of(*DEFAULT_CAPABILITIES)
        return _default  # frozen: every default Process shares one

    @classmethod
    def all(cls) -> Capabilities:
        """Every capability this process holds in its bounding set, i.e. all
        it can give (a privileged container)."""
        held = caller_bounding_set()
        return cls.of(*(name for i, name in enumerate(CAPABILITY_NAMES) if held & (1 << i)))

    @classmethod
    def none(cls) -> Capabilities:
        """No capability in any set."""
        return cls()

    def add(self, *names: str) -> Capabilities:
        """A copy with ``names`` added to bounding, effective and permitted."""
        extra = _cap_set("capabilities", names)
        return attrs.evolve(
            self,
            bounding=self.bounding | extra,
            effective=self.effective | extra,
            permitted=self.permitted | extra,
        )

    def drop(self, *names: str) -> Capabilities:
        """A copy with ``names`` removed from every set."""
        gone = _cap_set("capabilities", names)
        return Capabilities(
            bounding=self.bounding - gone,
            effective=self.effective - gone,
            permitted=self.permitted - gone,
            inheritable=self.inheritable - gone,
            ambient=self.ambient - gone,
        )
