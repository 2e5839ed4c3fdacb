"""How the container's process is scheduled: its CPU policy (``Scheduler``,
sched_setattr(2)), its I/O priority (``IOPriority``, ioprio_set(2)) and the
CPUs of processes exec'd into it (``ExecCPUAffinity``, sched_setaffinity(2)).

Both are set by the child before it changes user and drops capabilities (a
real-time policy needs CAP_SYS_NICE, the real-time I/O class CAP_SYS_ADMIN),
and are inherited by whatever the program starts.  They are OCI's
``process.scheduler`` and ``process.ioPriority``.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any, Optional, Tuple

import attrs

from . import _idlist
from ._fields import FieldCheck, fail, field_options, named_fields

#: Policy names ("fifo", or OCI's "SCHED_FIFO") -> SCHED_* numbers.
POLICIES = {"other": 0, "fifo": 1, "rr": 2, "batch": 3, "idle": 5, "deadline": 6}
#: Policies with a static priority (1-99); the others take none.
REALTIME = frozenset({"fifo", "rr"})
#: sched_setattr(2) flags by name ("reset_on_fork", or "SCHED_FLAG_RESET_ON_FORK").
SCHED_FLAGS = {"reset_on_fork": 0x01, "reclaim": 0x02, "dl_overrun": 0x04, "keep_policy": 0x08, "keep_params": 0x10}
#: The smallest runtime SCHED_DEADLINE takes (the kernel's 2**DL_SCALE ns).
DEADLINE_MIN_RUNTIME = 1 << 10
#: struct sched_attr as the kernel's first version has it (SCHED_ATTR_SIZE_VER0).
SCHED_ATTR = struct.Struct("=IIQiIQQQ")

#: I/O scheduling classes ("be", or OCI's "IOPRIO_CLASS_BE") -> IOPRIO_CLASS_* numbers.
IO_CLASSES = {"rt": 1, "be": 2, "idle": 3}
IOPRIO_CLASS_SHIFT = 13
#: The CPUs a cpu_set_t holds (glibc's CPU_SETSIZE).
MAX_CPUS = 1024


def _name(field: str, value: Any, prefix: str, known: Any) -> str:
    if not isinstance(value, str):
        raise fail(field, f"expected a name like {next(iter(known))!r}, got {value!r}")
    name = value.lower()
    if name.startswith(prefix):
        name = name[len(prefix) :]
    if name not in known:
        if prefix == "sched_" and name == "iso":
            raise fail(field, "SCHED_ISO is not in the Linux kernel")
        raise fail(field, f"unknown {value!r} (known: {', '.join(known)})")
    return name


def _flags(field: str, value: Any) -> Tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise fail(field, f"expected a list of flag names, got {value!r}")
    names = []
    for item in value:
        if isinstance(item, str) and item.lower().removeprefix("sched_flag_").startswith("util_clamp"):
            raise fail(field, f"{item} is not supported: the OCI spec gives no clamp values to set")
        names.append(_name(field, item, "sched_flag_", SCHED_FLAGS))
    return tuple(dict.fromkeys(names))


def _integer(field: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise fail(field, f"must be an int from {low} to {high}, got {value!r}")
    return value


def _cpus(field: str, value: Any) -> Optional[str]:
    return None if value is None else format_cpu_list(parse_cpu_list(field, value))


if TYPE_CHECKING:  # see _fields: what mypy's attrs plugin reads

    def _name_field(value: Any) -> str: ...
    def _flags_field(value: Any) -> Tuple[str, ...]: ...
    def _integer_field(value: Any) -> int: ...
    def _cpus_field(value: Any) -> Optional[str]: ...

else:
    _name_field = FieldCheck(_name)
    _flags_field = FieldCheck(_flags)
    _integer_field = FieldCheck(_integer)
    _cpus_field = FieldCheck(_cpus, keeps_none=True)

#: The range of the deadline policy's runtime, deadline and period (nanoseconds).
_NANOSECONDS = field_options(low=0, high=2**63 - 1)


@attrs.frozen(field_transformer=named_fields("scheduler"))
class Scheduler:
    """The process's CPU scheduling, as sched_setattr(2) sets it.

    ``policy``: ``"other"`` (the default time-sharing one), ``"batch"`` or
    ``"idle"``, with ``nice`` (-20..19); ``"fifo"`` or ``"rr"`` (real-time),
    with ``priority`` 1..99; ``"deadline"``, with ``runtime`` <= ``deadline``
    <= ``period`` in nanoseconds (``period`` 0: the deadline).  ``flags``:
    ``"reset_on_fork"``, ``"reclaim"``, ``"dl_overrun"``, ``"keep_policy"``,
    ``"keep_params"``.  OCI's spellings (``"SCHED_FIFO"``,
    ``"SCHED_FLAG_RESET_ON_FORK"``) are accepted too.  On a kernel with
    RT group scheduling, a container in a cpu cgroup of its own (cpu
    settings in its CgroupConfig) has no real-time runtime there, and the
    kernel refuses a real-time policy (EPERM, a SecurityError); without cpu
    settings it stays in the caller's cpu cgroup.  A deadline process may
    not fork unless ``"reset_on_fork"`` is set.
    """

    policy: str = attrs.field(converter=_name_field, metadata=field_options(prefix="sched_", known=POLICIES))
    nice: int = attrs.field(default=0, converter=_integer_field, metadata=field_options(low=-20, high=19))
    priority: int = attrs.field(default=0, converter=_integer_field, metadata=field_options(low=0, high=99))
    flags: Tuple[str, ...] = attrs.field(default=(), converter=_flags_field)
    runtime: int = attrs.field(default=0, converter=_integer_field, metadata=_NANOSECONDS)
    deadline: int = attrs.field(default=0, converter=_integer_field, metadata=_NANOSECONDS)
    period: int = attrs.field(default=0, converter=_integer_field, metadata=_NANOSECONDS)

    def __attrs_post_init__(self) -> None:
        if self.policy in REALTIME:
            if self.priority == 0:
                raise fail("scheduler.priority", f"policy {self.policy!r} needs a priority from 1 to 99")
        elif self.priority != 0:
            raise fail("scheduler.priority", f"policy {self.policy!r} takes no priority (only fifo and rr do)")
        if self.policy == "deadline":
            if self.runtime < DEADLINE_MIN_RUNTIME:
                raise fail("scheduler.runtime", f"must be at least {DEADLINE_MIN_RUNTIME} ns, got {self.runtime}")
            if self.deadline < self.runtime:
                raise fail("scheduler.deadline", f"must be at least the runtime ({self.runtime}), got {self.deadline}")
            if self.period and self.period < self.deadline:
                raise fail("scheduler.period", f"must be 0 or at least the deadline ({self.deadline}): {self.period}")
        elif self.runtime or self.deadline or self.period:
            raise fail("scheduler", f"runtime, deadline and period are for the deadline policy, not {self.policy!r}")

    def sched_attr(self) -> bytes:
        """The struct sched_attr that sched_setattr(2) takes."""
        flags = 0
        for name in self.flags:
            flags |= SCHED_FLAGS[name]
        return SCHED_ATTR.pack(
            SCHED_ATTR.size,
            POLICIES[self.policy],
            flags,
            self.nice,
            self.priority,
            self.runtime,
            self.deadline,
            self.period,
        )


@attrs.frozen(field_transformer=named_fields("io_priority"))
class IOPriority:
    """The process's I/O priority, as ioprio_set(2) sets it.

    ``io_class``: ``"rt"`` (real-time, needs CAP_SYS_ADMIN), ``"be"``
    (best-effort) or ``"idle"`` (OCI's ``"IOPRIO_CLASS_BE"`` too);
    ``priority``: 0 (highest) to 7 within the class.  Only I/O schedulers
    that have priorities (BFQ, CFQ) act on it.
    """

    io_class: str = attrs.field(converter=_name_field, metadata=field_options(prefix="ioprio_class_", known=IO_CLASSES))
    priority: int = attrs.field(default=0, converter=_integer_field, metadata=field_options(low=0, high=7))

    @property
    def value(self) -> int:
        """The ioprio value: class and level in one int (IOPRIO_PRIO_VALUE)."""
        return (IO_CLASSES[self.io_class] << IOPRIO_CLASS_SHIFT) | self.priority


def parse_cpu_list(field: str, value: Any) -> Tuple[int, ...]:
    """The CPUs of a list such as ``"0-3,7"`` (cpuset's format), sorted."""
    return _idlist.parse(field, value, MAX_CPUS)


def format_cpu_list(cpus: Tuple[int, ...]) -> str:
    """``(0, 1, 2, 3, 7)`` -> ``"0-3,7"``."""
    return _idlist.format(cpus)


def cpu_mask(cpus: Tuple[int, ...]) -> bytes:
    """A cpu_set_t for sched_setaffinity(2) (MAX_CPUS bits)."""
    return _idlist.bitmask(cpus, MAX_CPUS)


@attrs.frozen(field_transformer=named_fields("exec_cpu_affinity"))
class ExecCPUAffinity:
    """Where processes exec'd into the container run (OCI's
    ``process.execCPUAffinity``; not the container's first process).

    ``initial``: the CPUs the joining process runs on until it has joined
    the container's cgroup; ``final``: those it runs on from then on (its
    program inherits them).  CPU lists as cpuset writes them: ``"0-3,7"``.
    """

    initial: Optional[str] = attrs.field(default=None, converter=_cpus_field)
    final: Optional[str] = attrs.field(default=None, converter=_cpus_field)
