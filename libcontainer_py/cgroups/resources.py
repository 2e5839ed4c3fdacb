"""Cgroup resources: typed, frozen, validated before any cgroup exists.

Every limit field is ``None`` when it is not set (the kernel's value is left
alone), :data:`UNLIMITED` (``-1``; ``"max"`` is accepted) for "no limit", or a
number.  Byte fields take human sizes (``"64M"``; binary multiples) or ints.
"""

from __future__ import annotations

import posixpath
import re
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Optional, Tuple

import attrs

from .._fields import (
    FieldCheck,
    boolean_field,
    checked_mapping,
    fail,
    field_options,
    instance_tuple_field,
    named_fields,
    optional_instance_field,
    text,
    uint32,
)
from .._repr import short_repr
from ..devices import Device
from ..errors import wrong_type
from . import controllers, fs1, fs2
from ._ops import DEFAULT_PARENT as DEFAULT_PARENT
from ._ops import normalize_path
from .controllers import Controller, ResourceKind, pure
from .units import UNLIMITED as UNLIMITED
from .units import format_page_size, parse_bytes

# patterns, compiled (and cached by re) on first use: not by every start
_CPU_LIST = r"^\d+(-\d+)?(,\d+(-\d+)?)*$"
_DEVNUM = r"^(\d+):(\d+)$"


def _bytes_limit(field: str, value: Any) -> Optional[int]:
    """None (unset), UNLIMITED ("max" or -1) or a byte count."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value == UNLIMITED:
        return UNLIMITED
    n = parse_bytes(value, field)
    return UNLIMITED if n is None else n


def _count_limit(field: str, value: Any, *, maximum: int = 2**63 - 1) -> Optional[int]:
    """None (unset), UNLIMITED ("max" or -1) or a non-negative int."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() == "max":
        return UNLIMITED
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(field, wrong_type("an int or 'max'", value))
    if value == UNLIMITED:
        return UNLIMITED
    if not 0 <= value <= maximum:
        raise fail(field, f"must be between 0 and {maximum} (or 'max'), got {value}")
    return value


def _ranged(field: str, value: Any, lo: int, hi: int) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(field, wrong_type("an int", value))
    if not lo <= value <= hi:
        raise fail(field, f"must be between {lo} and {hi}, got {value}")
    return value


def _cpu_list(field: str, value: Any) -> Optional[str]:
    if value is None:
        return None
    s = text(field, value).replace(" ", "")
    if not re.match(_CPU_LIST, s):
        raise fail(field, f"expected a list like '0-3,5', got {value!r}")
    for part in s.split(","):
        lo, _, hi = part.partition("-")
        if hi and int(hi) < int(lo):
            raise fail(field, f"range {part!r} goes backwards")
    return s


class Resource:
    """A resource of CgroupConfig (Memory, Cpu, Pids, IO, Hugetlb, Network,
    Devices): what ``update()`` takes.  Each is written to the controllers
    its row of RESOURCE_KINDS names."""

    __slots__ = ()


# -- memory -----------------------------------------------------------------


#: The smallest ``memory.max`` accepted: below it not even the set-up of a
#: container fits (a smaller number is a mistake, such as 64 meant as 64M).
MEMORY_FLOOR = 1 << 20


def _memory_max(field: str, value: Any) -> Optional[int]:
    n = _bytes_limit(field, value)
    if n is not None and n != UNLIMITED and n < MEMORY_FLOOR:
        raise fail(
            field,
            f"{n} bytes is below the {MEMORY_FLOOR} bytes (1M) a container needs to start;"
            f" sizes are in bytes unless a unit is given ('{n}M' is {n} MiB)",
        )
    return n


def _cpu_quota(field: str, value: Any) -> Optional[int]:
    n = _count_limit(field, value)
    if n is not None and n != UNLIMITED and n < 1000:
        raise fail(field, f"must be at least 1000 (1ms) or 'max', got {n}")
    return n


if TYPE_CHECKING:  # see _fields: what mypy's attrs plugin reads

    def _bytes_limit_field(value: Any) -> Optional[int]: ...
    def _count_limit_field(value: Any) -> Optional[int]: ...
    def _ranged_field(value: Any) -> Optional[int]: ...
    def _cpu_list_field(value: Any) -> Optional[str]: ...
    def _memory_max_field(value: Any) -> Optional[int]: ...
    def _cpu_quota_field(value: Any) -> Optional[int]: ...

else:
    _bytes_limit_field = FieldCheck(_bytes_limit, keeps_none=True)
    _count_limit_field = FieldCheck(_count_limit, keeps_none=True)
    _ranged_field = FieldCheck(_ranged, keeps_none=True)
    _cpu_list_field = FieldCheck(_cpu_list, keeps_none=True)
    _memory_max_field = FieldCheck(_memory_max, keeps_none=True)
    _cpu_quota_field = FieldCheck(_cpu_quota, keeps_none=True)


@attrs.frozen(field_transformer=named_fields("memory"))
class Memory(Resource):
    """Memory limits.

    - ``max``: the hard limit (v1 ``memory.limit_in_bytes``, v2 ``memory.max``).
    - ``swap_max``: swap the cgroup may use *on top of* ``max`` (v2
      ``memory.swap.max``).  v1 only knows memory+swap, so there
      ``memory.memsw.limit_in_bytes = max + swap_max`` (``max`` must then be a
      number, or unlimited with unlimited swap).  ``0`` means no swap.
    - ``reservation``: a soft guarantee (v1 ``memory.soft_limit_in_bytes``,
      v2 ``memory.low``).
    - ``high``: the throttling limit (v2 ``memory.high``; v1 has none: error).
    - ``swappiness``: 0..100 (v1 ``memory.swappiness``; v2 has none: error).
    - ``kernel_tcp``: the TCP buffer memory limit (v1
      ``memory.kmem.tcp.limit_in_bytes``); where the cgroup has no such file
      (v2 counts TCP buffers in ``memory.max``) it is ignored with a
      CgroupWarning, the other limits being applied.
    - ``oom_kill_disable``: out of memory, the cgroup's tasks wait for memory
      instead of one being killed (v1 ``memory.oom_control`` 1, OCI's
      ``disableOOMKiller``, runc's ``--oom-kill-disable``); v2 has no such
      switch: ignored there with a CgroupWarning, as runc ignores it.
    """

    __repr__ = short_repr

    max: Optional[int] = attrs.field(default=None, converter=_memory_max_field)
    swap_max: Optional[int] = attrs.field(default=None, converter=_bytes_limit_field)
    reservation: Optional[int] = attrs.field(default=None, converter=_bytes_limit_field)
    high: Optional[int] = attrs.field(default=None, converter=_bytes_limit_field)
    swappiness: Optional[int] = attrs.field(default=None, converter=_ranged_field, metadata=field_options(lo=0, hi=100))
    kernel_tcp: Optional[int] = attrs.field(default=None, converter=_bytes_limit_field)
    oom_kill_disable: bool = attrs.field(default=False, converter=boolean_field)


# -- cpu --------------------------------------------------------------------


@attrs.frozen(field_transformer=named_fields("cpu"))
class Cpu(Resource):
    """CPU time and placement.

    - ``weight`` (1..10000, v2 ``cpu.weight``) or ``shares`` (2..262144, v1
      ``cpu.shares``); set at most one, it is converted for the other version
      (see :func:`libcontainer_py.cgroups.convert.shares_to_weight`).
    - ``quota_us`` per ``period_us``: the bandwidth limit (v1
      ``cpu.cfs_quota_us``/``cpu.cfs_period_us``, v2 ``cpu.max``); ``"max"``
      removes it.  ``burst_us``: v1 ``cpu.cfs_burst_us``, v2 ``cpu.max.burst``.
    - ``rt_period_us``/``rt_runtime_us``: real-time (SCHED_FIFO/RR) time the
      cgroup's tasks may use per period (v1 ``cpu.rt_period_us`` and
      ``cpu.rt_runtime_us``, where the kernel has RT group scheduling;
      ``"max"`` is -1, no limit; cgroup v2 has none: CgroupUnsupported).
    - ``cpus``/``mems``: cpuset lists like ``"0-3,5"``.
    """

    __repr__ = short_repr

    weight: Optional[int] = attrs.field(default=None, converter=_ranged_field, metadata=field_options(lo=1, hi=10000))
    shares: Optional[int] = attrs.field(default=None, converter=_ranged_field, metadata=field_options(lo=2, hi=262144))
    quota_us: Optional[int] = attrs.field(default=None, converter=_cpu_quota_field)
    period_us: Optional[int] = attrs.field(
        default=None, converter=_ranged_field, metadata=field_options(lo=1000, hi=1_000_000)
    )
    burst_us: Optional[int] = attrs.field(default=None, converter=_ranged_field, metadata=field_options(lo=0, hi=2**44))
    rt_period_us: Optional[int] = attrs.field(
        default=None, converter=_ranged_field, metadata=field_options(lo=1, hi=2**31 - 1)
    )
    rt_runtime_us: Optional[int] = attrs.field(
        default=None, converter=_count_limit_field, metadata=field_options(maximum=2**31 - 1)
    )
    cpus: Optional[str] = attrs.field(default=None, converter=_cpu_list_field)
    mems: Optional[str] = attrs.field(default=None, converter=_cpu_list_field)

    def __attrs_post_init__(self) -> None:
        if self.weight is not None and self.shares is not None:
            raise fail("cpu.shares", "set either weight (v2 scale) or shares (v1 scale), not both")


# -- pids -------------------------------------------------------------------


@attrs.frozen(field_transformer=named_fields("pids"))
class Pids(Resource):
    """The number of tasks (processes and threads) the cgroup may hold (``pids.max``)."""

    __repr__ = short_repr

    max: Optional[int] = attrs.field(
        default=None, converter=_count_limit_field, metadata=field_options(maximum=2**31 - 1)
    )


# -- io ---------------------------------------------------------------------


def _device_key(field: str, key: Any) -> str:
    k = text(field, key)
    m = re.match(_DEVNUM, k)
    if m:
        return f"{int(m.group(1))}:{int(m.group(2))}"
    if not k.startswith("/") or ".." in k.split("/"):
        raise fail(field, f"expected a device path like /dev/vda or 'major:minor', got {k!r}")
    return posixpath.normpath(k)


def _present(field: str, value: Optional[int], missing: str) -> int:
    """``value``, which a mapping's item must have (``missing`` says so)."""
    if value is None:
        raise fail(field, missing)
    return value


def _device_map(field: str, value: Any, *, sizes: bool) -> Mapping[str, int]:
    def limit(item: str, val: Any) -> int:
        found = _bytes_limit(item, val) if sizes else _count_limit(item, val)
        return _present(item, found, "expected a limit or 'max', got None")

    return checked_mapping(field, value, "a mapping of device -> limit", _device_key, limit)


def _weight(field: str, value: Any) -> int:
    return _present(field, _ranged(field, value, 1, 1000), "expected a weight (1..1000), got None")


def _device_weights(field: str, value: Any) -> Mapping[str, int]:
    return checked_mapping(field, value, "a mapping of device -> weight", _device_key, _weight)


if TYPE_CHECKING:

    def _device_map_field(value: Any) -> Mapping[str, int]: ...
    def _device_weights_field(value: Any) -> Mapping[str, int]: ...

else:
    _device_map_field = FieldCheck(_device_map)
    _device_weights_field = FieldCheck(_device_weights)


@attrs.frozen(field_transformer=named_fields("io"))
class IO(Resource):
    """Block I/O weight and throttling.

    - ``weight`` (1..10000, v2 ``io.weight``) or ``blkio_weight`` (10..1000, v1
      ``blkio.weight``/``blkio.bfq.weight``); set at most one, it is converted
      for the other version (:func:`libcontainer_py.cgroups.convert.blkio_to_io_weight`).
    - ``read_bps``/``write_bps`` (sizes) and ``read_iops``/``write_iops``:
      per device, keyed by a block device path (``"/dev/vda"``, resolved when
      the limits are written) or ``"major:minor"``; ``"max"`` removes a limit.
    - ``device_weights``: per-device proportional weights (1..1000) of the
      BFQ I/O scheduler (v1 ``blkio.bfq.weight_device``, v2
      ``io.bfq.weight``), keyed like the limits; the device must use bfq.
    """

    __repr__ = short_repr

    weight: Optional[int] = attrs.field(default=None, converter=_ranged_field, metadata=field_options(lo=1, hi=10000))
    blkio_weight: Optional[int] = attrs.field(
        default=None, converter=_ranged_field, metadata=field_options(lo=10, hi=1000)
    )
    read_bps: Mapping[str, int] = attrs.field(
        factory=dict, converter=_device_map_field, metadata=field_options(sizes=True)
    )
    write_bps: Mapping[str, int] = attrs.field(
        factory=dict, converter=_device_map_field, metadata=field_options(sizes=True)
    )
    read_iops: Mapping[str, int] = attrs.field(
        factory=dict, converter=_device_map_field, metadata=field_options(sizes=False)
    )
    write_iops: Mapping[str, int] = attrs.field(
        factory=dict, converter=_device_map_field, metadata=field_options(sizes=False)
    )
    device_weights: Mapping[str, int] = attrs.field(factory=dict, converter=_device_weights_field)

    def __attrs_post_init__(self) -> None:
        if self.weight is not None and self.blkio_weight is not None:
            raise fail("io.blkio_weight", "set either weight (v2 scale) or blkio_weight (v1 scale), not both")


# -- hugetlb ----------------------------------------------------------------


def page_size_name(field: str, key: Any) -> str:
    """A huge page size ("2MB", "2M", "1GiB", 2097152) in the kernel's spelling ("2MB")."""
    if isinstance(key, str) and key.strip().lower() == "max":
        raise fail(field, "a page size cannot be 'max'")
    size = parse_bytes(key, field)
    assert size is not None
    if size < 4096 or size & (size - 1):
        raise fail(field, f"a huge page size is a power of two of at least 4k, got {key!r}")
    return format_page_size(size)


def _page_limit(field: str, value: Any) -> int:
    return _present(field, _bytes_limit(field, value), "a limit is required (a size or 'max')")


def _page_limits(field: str, value: Any) -> Mapping[str, int]:
    return checked_mapping(field, value, "a mapping of page size -> limit", page_size_name, _page_limit)


if TYPE_CHECKING:

    def _page_limits_field(value: Any) -> Mapping[str, int]: ...

else:
    _page_limits_field = FieldCheck(_page_limits)


@attrs.frozen(field_transformer=named_fields("hugetlb"))
class Hugetlb(Resource):
    """Huge page limits in bytes, keyed by page size (``{"2MB": 0}`` forbids 2MB pages).

    v1 ``hugetlb.<size>.limit_in_bytes``, v2 ``hugetlb.<size>.max``.
    """

    __repr__ = short_repr

    limits: Mapping[str, int] = attrs.field(
        factory=dict, converter=_page_limits_field, metadata=field_options(name="hugetlb")
    )


# -- network ----------------------------------------------------------------


def _interface(field: str, value: Any) -> str:
    name = text(field, value)
    if len(name) > 15 or any(c in name for c in "/ \t\n:"):
        raise fail(field, f"not a network interface name: {name!r}")
    return name


def _priority(field: str, value: Any) -> int:
    return uint32(field, value, maximum=2**32 - 1)


def _priorities(field: str, value: Any) -> Mapping[str, int]:
    return checked_mapping(field, value, "a mapping of interface -> priority", _interface, _priority)


if TYPE_CHECKING:

    def _optional_uint32_field(value: Any) -> Optional[int]: ...
    def _priorities_field(value: Any) -> Mapping[str, int]: ...

else:
    _optional_uint32_field = FieldCheck(uint32, keeps_none=True)
    _priorities_field = FieldCheck(_priorities)


@attrs.frozen(field_transformer=named_fields("network"))
class Network(Resource):
    """Network classification, cgroup v1 only (cgroup v2 has no such controllers).

    - ``class_id``: the traffic control class of the cgroup's packets
      (``net_cls.classid``, ``0xAAAABBBB`` is class AAAA:BBBB);
    - ``priorities``: interface name -> priority of its packets
      (``net_prio.ifpriomap``).  The kernel resolves the names in the
      network namespace of the writer, the caller's (as with runc).
    """

    __repr__ = short_repr

    class_id: Optional[int] = attrs.field(
        default=None, converter=_optional_uint32_field, metadata=field_options(maximum=2**32 - 1)
    )
    priorities: Mapping[str, int] = attrs.field(factory=dict, converter=_priorities_field)


# -- devices ----------------------------------------------------------------


def _rule_type(field: str, value: Any) -> str:
    if value not in ("a", "c", "b"):
        raise fail(field, f"must be 'a' (all), 'c' (char) or 'b' (block), got {value!r}")
    return str(value)


def _device_number(field: str, value: Any, maximum: int) -> Optional[int]:
    return None if value is None or value == "*" else uint32(field, value, maximum=maximum)


def _access(field: str, value: Any) -> str:
    s = text(field, value)
    if set(s) - set("rwm") or len(set(s)) != len(s):
        raise fail(field, f"must be a combination of r, w and m, got {value!r}")
    return "".join(c for c in "rwm" if c in s)


if TYPE_CHECKING:

    def _rule_type_field(value: Any) -> str: ...
    def _device_number_field(value: Any) -> Optional[int]: ...
    def _access_field(value: Any) -> str: ...

else:
    _rule_type_field = FieldCheck(_rule_type)
    _device_number_field = FieldCheck(_device_number, keeps_none=True)
    _access_field = FieldCheck(_access)


@attrs.frozen(field_transformer=named_fields("device_rule"))
class DeviceRule:
    """Allow or deny ``access`` (r, w, m = mknod) to devices of ``type``
    (``a`` all, ``c`` char, ``b`` block) with ``major``:``minor`` (None = any)."""

    allow: bool = attrs.field(converter=boolean_field)
    type: str = attrs.field(default="a", converter=_rule_type_field)
    major: Optional[int] = attrs.field(
        default=None, converter=_device_number_field, metadata=field_options(maximum=4095)
    )
    minor: Optional[int] = attrs.field(
        default=None, converter=_device_number_field, metadata=field_options(maximum=2**20 - 1)
    )
    access: str = attrs.field(default="rwm", converter=_access_field)

    def __attrs_post_init__(self) -> None:
        if self.type == "a" and (self.major is not None or self.minor is not None):
            raise fail("device_rule.type", "type 'a' matches every device; major and minor must be None")

    @classmethod
    def char(cls, major: Optional[int], minor: Optional[int], access: str = "rwm") -> DeviceRule:
        """A rule allowing the character device ``major:minor`` (None: any)."""
        return cls(True, "c", major, minor, access)

    def v1_line(self) -> str:
        """The line written to v1 ``devices.allow``/``devices.deny``: ``c 1:3 rwm``."""
        if self.type == "a":
            return "a *:* " + self.access if self.access != "rwm" else "a"
        major = "*" if self.major is None else str(self.major)
        minor = "*" if self.minor is None else str(self.minor)
        return f"{self.type} {major}:{minor} {self.access}"

    def is_wildcard(self) -> bool:
        """True for a rule that matches every device and access (``a *:* rwm``)."""
        return self.type == "a" and self.access == "rwm"


@attrs.frozen(field_transformer=named_fields("devices"))
class Devices(Resource):
    """Ordered device access rules.

    Semantics (both versions): access is denied unless a rule allows it; rules
    are read in order and a later rule overrides an earlier one for the
    devices and access bits it names.  An access is allowed when the last rule
    matching its type, major, minor and covering every requested bit allows it.
    On v1 the manager writes ``a`` to ``devices.deny`` and then each rule to
    ``devices.allow``/``devices.deny``; on v2 the rules are compiled into an
    eBPF device program.
    """

    rules: Tuple[DeviceRule, ...] = attrs.field(
        default=(), converter=instance_tuple_field, metadata=field_options(cls=DeviceRule, name="devices")
    )

    def __iter__(self) -> Iterator[DeviceRule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    @classmethod
    def default(cls) -> Devices:
        """Deny all but what runc allows by default: mknod of any node; null,
        zero, full, random, urandom, tty, ptmx, ``/dev/pts/*`` and tun/tap
        (``/dev/net/tun``, 10:200: of no use without CAP_NET_ADMIN).

        Not the system console (5:1): a container's ``/dev/console`` is its
        terminal's pty (136:N), and a 5:1 node it makes itself would be the
        host's console (runc dropped it in 1.0)."""
        allow = DeviceRule.char
        return cls(
            (
                DeviceRule(False),
                DeviceRule(True, "c", None, None, "m"),
                DeviceRule(True, "b", None, None, "m"),
                allow(1, 3),  # null
                allow(1, 5),  # zero
                allow(1, 7),  # full
                allow(1, 8),  # random
                allow(1, 9),  # urandom
                allow(5, 0),  # tty
                allow(5, 2),  # ptmx
                allow(136, None),  # /dev/pts/*
                allow(10, 200),  # tun/tap
            )
        )

    @classmethod
    def allow_all(cls) -> Devices:
        """No filter: every device, every access."""
        return cls((DeviceRule(True),))

    def allowing(self, *nodes: Device, access: str = "rwm") -> Devices:
        """These rules followed by one allowing ``access`` to each node
        (FIFOs need none).

        The rules alone decide what opens: a node listed in
        ``Config.devices`` is made in ``/dev`` but opens only where a rule
        allows it, as with runc, so a config that adds a device allows it
        here too: ``Devices.default().allowing(fuse)``."""
        extra = tuple(DeviceRule(True, n.type, n.major, n.minor, access) for n in nodes if n.type != "p")
        return Devices(self.rules + extra)


# -- the whole cgroup ---------------------------------------------------------

#: Each resource of CgroupConfig, in the order the manager writes them:
#: the one table of which controllers it goes to, how each one's part is
#: written on v1 and on cgroup2 (fs1.py, fs2.py, controllers.py) and how
#: its statistics are read (the Stats field of the same name).
RESOURCE_KINDS: Tuple[ResourceKind, ...] = (
    ResourceKind(
        "cpu",
        Cpu,
        (
            Controller("cpu", "cpu", pure(fs1.cpu_writes), controllers.fs2_cpu_writes),
            Controller(
                "cpuset",
                "cpuset",
                pure(fs1.cpu_writes),
                controllers.fs2_cpu_writes,
                fields=("cpus", "mems"),
                optional=True,
            ),
        ),
        stats=controllers.cpu_stats,
    ),
    ResourceKind(
        "memory",
        Memory,
        (Controller("memory", "memory", apply=controllers.apply_memory),),
        stats=controllers.memory_stats,
        events=controllers.memory_events,
    ),
    ResourceKind(
        "pids",
        Pids,
        (Controller("pids", "pids", pure(fs1.pids_writes), pure(fs2.pids_writes)),),
        stats=controllers.pids_stats,
        events=controllers.pids_events,
    ),
    ResourceKind(
        "io",
        IO,
        (Controller("blkio", "io", controllers.fs1_io_writes, controllers.fs2_io_writes),),
        stats=controllers.io_stats,
    ),
    ResourceKind(
        "hugetlb",
        Hugetlb,
        (Controller("hugetlb", "hugetlb", pure(fs1.hugetlb_writes), pure(fs2.hugetlb_writes)),),
        stats=controllers.hugetlb_stats,
    ),
    ResourceKind(
        "network",
        Network,
        (
            Controller("net_cls", "net_cls", pure(fs1.network_writes), fields=("class_id",), optional=True),
            Controller("net_prio", "net_prio", pure(fs1.network_writes), fields=("priorities",), optional=True),
        ),
    ),
    ResourceKind("devices", Devices, (Controller("devices", "devices", apply=controllers.apply_devices),)),
)

#: Network under the name the package exports it as (``lc.Network`` is a CNI attachment).
CgroupNetwork = Network


def _cgroup_path(field: str, value: Any) -> Optional[str]:
    return None if value is None else normalize_path(text(field, value))


def _hugetlb(field: str, value: Any) -> Optional[Hugetlb]:
    if value is None or isinstance(value, Hugetlb):
        return value
    return Hugetlb(value)


if TYPE_CHECKING:

    def _cgroup_path_field(value: Any) -> Optional[str]: ...
    def _hugetlb_field(value: Any) -> Optional[Hugetlb]: ...

else:
    _cgroup_path_field = FieldCheck(_cgroup_path, keeps_none=True)
    _hugetlb_field = FieldCheck(_hugetlb, keeps_none=True)


@attrs.frozen(field_transformer=named_fields("cgroup"))
class CgroupConfig:
    """The container's cgroup: where it is and which limits it has.

    ``path`` is relative to the root of every hierarchy (the visible mount
    root); None means ``libcontainer_py/<container id>``.  A resource left None
    is not touched (no limit); ``devices`` defaults to the standard rules.
    """

    __repr__ = short_repr

    path: Optional[str] = attrs.field(default=None, converter=_cgroup_path_field)
    memory: Optional[Memory] = attrs.field(
        default=None, converter=optional_instance_field, metadata=field_options(cls=Memory)
    )
    cpu: Optional[Cpu] = attrs.field(default=None, converter=optional_instance_field, metadata=field_options(cls=Cpu))
    pids: Optional[Pids] = attrs.field(
        default=None, converter=optional_instance_field, metadata=field_options(cls=Pids)
    )
    io: Optional[IO] = attrs.field(default=None, converter=optional_instance_field, metadata=field_options(cls=IO))
    hugetlb: Optional[Hugetlb] = attrs.field(default=None, converter=_hugetlb_field)
    network: Optional[Network] = attrs.field(
        default=None, converter=optional_instance_field, metadata=field_options(cls=Network)
    )
    #: Defaults to Devices.default() (deny all but the standard nodes), so that
    #: a cgroup given for its limits does not lift the device filter; None
    #: leaves the device controller alone.
    devices: Optional[Devices] = attrs.field(
        factory=lambda: Devices.default(), converter=optional_instance_field, metadata=field_options(cls=Devices)
    )
    #: Join every hierarchy, so that stats() cover memory, cpu, pids and io
    #: even where no limit is set.  False: only the hierarchies of the
    #: resources that are set (and the cgroup2 mount, which tracks and kills
    #: the processes) -- cheaper to create, as for the default device filter.
    accounting: bool = attrs.field(default=True, converter=boolean_field)

    def controllers(self) -> Tuple[str, ...]:
        """The v1 controllers the set resources need: those each one always
        needs, then those it needs for some of its fields only (cpuset...)."""
        always, when_set = [], []
        for kind in RESOURCE_KINDS:
            resource = getattr(self, kind.field)
            for controller, part in kind.parts(resource) if resource is not None else ():
                if not controller.optional:
                    always.append(controller.v1)
                elif part != kind.cls():
                    when_set.append(controller.v1)
        return tuple(always + when_set)

    def resolved_path(self, container_id: str) -> str:
        """``path``, or ``libcontainer_py/<container_id>``."""
        if self.path is not None:
            return self.path
        cid = text("container id", container_id)
        if "/" in cid or cid in (".", ".."):
            raise fail("container id", f"cannot be a cgroup name: {cid!r}")
        return f"{DEFAULT_PARENT}/{cid}"

    def resources(self) -> Tuple[Resource, ...]:
        """The resources that are set, in the order the manager writes them."""
        items = (getattr(self, kind.field) for kind in RESOURCE_KINDS)
        return tuple(r for r in items if r is not None)
