"""cgroup v1 ("fs"): the files and values of each resource, and parsing of the v1 stat files.

Pure functions: the manager reads what they need (current limits, which
files exist) and writes what they return.  A write is ``(controller, file,
value)``; the controller selects the hierarchy directory.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence, Tuple, TypeVar

from ._ops import parse_flat as parse_flat
from .convert import io_to_blkio_weight, weight_to_shares
from .errors import CgroupUnsupported
from .units import UNLIMITED

TYPE_CHECKING = False
if TYPE_CHECKING:  # resources.py imports this module for its table of controllers
    from .resources import IO, Cpu, DeviceRule, Devices, Hugetlb, Memory, Network, Pids

Write = Tuple[str, str, str]
T = TypeVar("T")

#: The v1 file of Memory.kernel_tcp (kernels built with it only).
KMEM_TCP = "memory.kmem.tcp.limit_in_bytes"

#: v1 reports "no limit" as the largest page-aligned long; anything this big is unlimited.
V1_UNLIMITED_THRESHOLD = 2**62


def _num(value: int) -> str:
    return "-1" if value == UNLIMITED else str(value)


def _inf(value: Optional[int]) -> float:
    return float("inf") if value is None or value == UNLIMITED else float(value)


def memory_writes(
    m: Memory,
    *,
    current_limit: Optional[int],
    current_memsw: Optional[int],
    has_memsw: bool,
    has_kmem_tcp: bool = False,
) -> List[Write]:
    """The v1 memory writes for ``m``, in a safe order.

    ``current_limit``/``current_memsw`` are the cgroup's present
    ``memory.limit_in_bytes``/``memory.memsw.limit_in_bytes`` (None = no
    limit).  v1 limits memory+swap, so ``memsw = max + swap_max``; when only
    ``max`` changes the present swap allowance (memsw - limit) is kept.  The
    kernel requires ``limit <= memsw`` at every moment: when the new limit is
    above the present memsw, memsw is written first.  ``kernel_tcp`` is
    written only where the cgroup has the file (``has_kmem_tcp``).
    """
    if m.high is not None:
        raise CgroupUnsupported("memory.high has no cgroup v1 equivalent (the v1 memory controller is in use)")
    writes: List[Write] = []
    limit = m.max
    memsw: Optional[int] = None
    if m.swap_max is not None and not has_memsw:
        raise CgroupUnsupported("memory.swap_max needs swap accounting (memory.memsw.* files are missing)")
    if has_memsw and (m.max is not None or m.swap_max is not None):
        new_limit = m.max if m.max is not None else (UNLIMITED if current_limit is None else current_limit)
        if m.swap_max is not None:
            if m.swap_max == UNLIMITED:
                memsw = UNLIMITED
            elif new_limit == UNLIMITED:
                raise CgroupUnsupported(
                    "memory.swap_max needs memory.max on cgroup v1 (it limits memory+swap, not swap alone)"
                )
            else:
                memsw = new_limit + m.swap_max
        elif current_memsw is None or current_limit is None:
            memsw = UNLIMITED if new_limit == UNLIMITED and current_memsw is not None else None
        else:
            memsw = UNLIMITED if new_limit == UNLIMITED else new_limit + (current_memsw - current_limit)
    pair: List[Write] = []
    if limit is not None:
        pair.append(("memory", "memory.limit_in_bytes", _num(limit)))
    if memsw is not None:
        pair.append(("memory", "memory.memsw.limit_in_bytes", _num(memsw)))
    if len(pair) == 2 and limit is not None and _inf(limit) > _inf(current_memsw):
        pair.reverse()
    writes += pair
    if m.reservation is not None:
        writes.append(("memory", "memory.soft_limit_in_bytes", _num(m.reservation)))
    if m.swappiness is not None:
        writes.append(("memory", "memory.swappiness", str(m.swappiness)))
    if m.kernel_tcp is not None and has_kmem_tcp:
        writes.append(("memory", KMEM_TCP, _num(m.kernel_tcp)))
    if m.oom_kill_disable:
        writes.append(("memory", "memory.oom_control", "1"))
    return writes


def set_writes(controller: str, files: Sequence[Tuple[str, Optional[T], Callable[[T], str]]]) -> List[Write]:
    """A write of each (file, value, format) in ``files`` whose value is set, in order."""
    return [(controller, name, fmt(value)) for name, value, fmt in files if value is not None]


def either(value: Optional[int], other: Optional[int], convert: Callable[[int], int]) -> Optional[int]:
    """A setting given in one of two units: ``value``, else ``other``
    converted, else None."""
    if value is not None:
        return value
    return None if other is None else convert(other)


def cpuset_writes(c: Cpu) -> List[Write]:
    """cpuset.cpus and cpuset.mems (the same files on v1 and v2)."""
    return set_writes("cpuset", [("cpuset.cpus", c.cpus, str), ("cpuset.mems", c.mems, str)])


def cpu_writes(c: Cpu) -> List[Write]:
    """cpu.shares (converted from weight when that is what is set), CFS period,
    quota and burst, RT period and runtime, cpuset cpus and mems.  Period
    goes before quota (the manager retries an RT period the kernel refuses
    before the runtime, as runc does)."""
    files: List[Tuple[str, Optional[int], Callable[[int], str]]] = [
        ("cpu.shares", either(c.shares, c.weight, weight_to_shares), str),
        ("cpu.cfs_period_us", c.period_us, str),
        ("cpu.cfs_quota_us", c.quota_us, _num),
        ("cpu.cfs_burst_us", c.burst_us, str),
        ("cpu.rt_period_us", c.rt_period_us, str),
        ("cpu.rt_runtime_us", c.rt_runtime_us, _num),
    ]
    return set_writes("cpu", files) + cpuset_writes(c)


def pids_writes(p: Pids) -> List[Write]:
    if p.max is None:
        return []
    return [("pids", "pids.max", "max" if p.max == UNLIMITED else str(p.max))]


DeviceResolver = Callable[[str], str]


def io_writes(
    io: IO, *, weight_file: Optional[str], resolve: DeviceResolver, weight_device_file: Optional[str] = None
) -> List[Write]:
    """blkio weight (converted from io weight) into ``weight_file``
    (``blkio.weight``, or ``blkio.bfq.weight`` on kernels without CFQ), one
    line per device weight into ``weight_device_file`` (``blkio.weight_device``
    or ``blkio.bfq.weight_device``) and one throttle line per device
    ("major:minor value"; 0 removes a limit)."""
    w: List[Write] = []
    weight = either(io.blkio_weight, io.weight, io_to_blkio_weight)
    if weight is not None:
        if weight_file is None:
            raise CgroupUnsupported("io weight: neither blkio.weight nor blkio.bfq.weight exists on this host")
        w.append(("blkio", weight_file, str(weight)))
    if io.device_weights and weight_device_file is None:
        raise CgroupUnsupported(
            "io.device_weights: neither blkio.weight_device nor blkio.bfq.weight_device exists on this host"
        )
    for dev, dev_weight in io.device_weights.items():
        assert weight_device_file is not None
        w.append(("blkio", weight_device_file, f"{resolve(dev)} {dev_weight}"))
    files = (
        ("blkio.throttle.read_bps_device", io.read_bps),
        ("blkio.throttle.write_bps_device", io.write_bps),
        ("blkio.throttle.read_iops_device", io.read_iops),
        ("blkio.throttle.write_iops_device", io.write_iops),
    )
    for name, limits in files:
        for dev, limit in limits.items():
            w.append(("blkio", name, f"{resolve(dev)} {0 if limit == UNLIMITED else limit}"))
    return w


def hugetlb_writes(h: Hugetlb) -> List[Write]:
    return [("hugetlb", f"hugetlb.{size}.limit_in_bytes", _num(limit)) for size, limit in h.limits.items()]


def network_writes(n: Network) -> List[Write]:
    """net_cls.classid, and one net_prio.ifpriomap line per interface."""
    w: List[Write] = []
    if n.class_id is not None:
        w.append(("net_cls", "net_cls.classid", str(n.class_id)))
    for name, prio in n.priorities.items():
        w.append(("net_prio", "net_prio.ifpriomap", f"{name} {prio}"))
    return w


def devices_writes(d: Devices) -> List[Write]:
    """``a`` to devices.deny (deny everything), then each rule in order.

    When every rule after a first deny-all allows, their order changes
    nothing (each adds to the allowed set), and they are written as runc
    writes them, by type, major and minor (wildcards first), so that
    ``devices.list``, which lists in the order written, reads as runc's."""
    rules = list(d)
    if rules and rules[0].is_wildcard() and not rules[0].allow and all(r.allow for r in rules[1:]):
        rules[1:] = sorted(rules[1:], key=_runc_order)
    w: List[Write] = [("devices", "devices.deny", "a")]
    for r in rules:
        w.append(("devices", "devices.allow" if r.allow else "devices.deny", r.v1_line()))
    return w


def _runc_order(r: DeviceRule) -> Tuple[str, int, int, str]:
    return (r.type, -1 if r.major is None else r.major, -1 if r.minor is None else r.minor, r.access)


# -- stat files ---------------------------------------------------------------


def parse_limit(text: str) -> Optional[int]:
    """A v1 limit file; None for no limit."""
    s = text.strip()
    if s in ("max", "-1"):
        return None
    n = int(s)
    return None if n >= V1_UNLIMITED_THRESHOLD else n


def parse_blkio(service_bytes: str, serviced: str) -> List[Tuple[int, int, int, int, int, int]]:
    """(major, minor, read_bytes, write_bytes, read_ops, write_ops) from
    blkio.throttle.io_service_bytes and blkio.throttle.io_serviced."""
    acc: Dict[Tuple[int, int], List[int]] = {}

    def feed(text: str, offset: int) -> None:
        for line in text.splitlines():
            parts = line.split()
            if len(parts) != 3 or ":" not in parts[0]:
                continue
            major, minor = (int(x) for x in parts[0].split(":"))
            slot = acc.setdefault((major, minor), [0, 0, 0, 0])
            if parts[1] == "Read":
                slot[offset] += int(parts[2])
            elif parts[1] == "Write":
                slot[offset + 1] += int(parts[2])

    feed(service_bytes, 0)
    feed(serviced, 2)
    return [(mj, mn, v[0], v[1], v[2], v[3]) for (mj, mn), v in sorted(acc.items())]


def parse_percpu(text: str) -> Tuple[int, ...]:
    """cpuacct.usage_percpu: nanoseconds per cpu."""
    return tuple(int(x) for x in text.split())
