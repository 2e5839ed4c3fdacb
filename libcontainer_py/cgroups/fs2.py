"""cgroup v2 ("fs2"): the files and values of each resource, and parsing of v2 stat files.

Pure functions, like fs1.  A write is ``(controller, file, value)``; the
controller must be enabled for the cgroup (in its parent's
``cgroup.subtree_control``), ``""`` for core files.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from .convert import blkio_to_io_weight, shares_to_weight
from .errors import CgroupUnsupported
from .fs1 import DeviceResolver, Write, cpuset_writes, either, set_writes
from .units import UNLIMITED

TYPE_CHECKING = False
if TYPE_CHECKING:  # resources.py imports this module for its table of controllers
    from .resources import IO, Cpu, Hugetlb, Memory, Pids


def _max(value: int) -> str:
    return "max" if value == UNLIMITED else str(value)


def memory_writes(m: Memory) -> List[Write]:
    """memory.max, memory.swap.max (swap alone, unlike v1 memsw), memory.low
    (from ``reservation``) and memory.high.  swappiness has no v2 file: error."""
    if m.swappiness is not None:
        raise CgroupUnsupported("memory.swappiness has no cgroup v2 equivalent")
    files = [
        ("memory.max", m.max, _max),
        ("memory.swap.max", m.swap_max, _max),
        ("memory.low", m.reservation, _max),
        ("memory.high", m.high, _max),
    ]
    return set_writes("memory", files)


def cpu_writes(c: Cpu, *, current_max: Optional[str] = None) -> List[Write]:
    """cpu.weight (converted from shares), cpu.max ("$QUOTA $PERIOD"; a
    period alone keeps the present quota from ``current_max``),
    cpu.max.burst, cpuset.cpus and cpuset.mems.  RT limits have no v2 file: error."""
    if c.rt_period_us is not None or c.rt_runtime_us is not None:
        raise CgroupUnsupported(
            "cpu.rt_period_us/cpu.rt_runtime_us have no cgroup v2 equivalent"
            " (real-time group scheduling is cgroup v1 only; the cpu controller is on cgroup v2)"
        )
    w: List[Write] = []
    weight = either(c.weight, c.shares, shares_to_weight)
    if weight is not None:
        w.append(("cpu", "cpu.weight", str(weight)))
    if c.quota_us is not None and c.period_us is not None:
        w.append(("cpu", "cpu.max", f"{_max(c.quota_us)} {c.period_us}"))
    elif c.quota_us is not None:
        w.append(("cpu", "cpu.max", _max(c.quota_us)))
    elif c.period_us is not None:
        quota = (current_max or "max").split()[0]
        w.append(("cpu", "cpu.max", f"{quota} {c.period_us}"))
    if c.burst_us is not None:
        w.append(("cpu", "cpu.max.burst", str(c.burst_us)))
    return w + cpuset_writes(c)


def pids_writes(p: Pids) -> List[Write]:
    return [] if p.max is None else [("pids", "pids.max", _max(p.max))]


def io_writes(io: IO, *, resolve: DeviceResolver) -> List[Write]:
    """io.weight ("default N", converted from blkio_weight), one io.bfq.weight
    line per device weight ("8:0 N") and one io.max line per device with
    every key set for it ("8:0 rbps=N wbps=max ...")."""
    w: List[Write] = []
    weight = either(io.weight, io.blkio_weight, blkio_to_io_weight)
    if weight is not None:
        w.append(("io", "io.weight", f"default {weight}"))
    for dev, dev_weight in io.device_weights.items():
        w.append(("io", "io.bfq.weight", f"{resolve(dev)} {dev_weight}"))
    per_dev: Dict[str, List[str]] = {}
    for key, limits in (
        ("rbps", io.read_bps),
        ("wbps", io.write_bps),
        ("riops", io.read_iops),
        ("wiops", io.write_iops),
    ):
        for dev, limit in limits.items():
            per_dev.setdefault(resolve(dev), []).append(f"{key}={_max(limit)}")
    for dev, items in per_dev.items():
        w.append(("io", "io.max", f"{dev} {' '.join(items)}"))
    return w


def hugetlb_writes(h: Hugetlb) -> List[Write]:
    return [("hugetlb", f"hugetlb.{size}.max", _max(limit)) for size, limit in h.limits.items()]


# -- stat files ---------------------------------------------------------------


def parse_max(text: str) -> Optional[int]:
    """A v2 limit file ("max" or a number); None for no limit (some files,
    like hugetlb.<size>.max, show no limit as a huge number)."""
    s = text.strip()
    if s == "max":
        return None
    n = int(s)
    return None if n >= 2**62 else n


def parse_io_stat(text: str) -> List[Tuple[int, int, int, int, int, int]]:
    """(major, minor, rbytes, wbytes, rios, wios) per line of io.stat."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if not parts or ":" not in parts[0]:
            continue
        major, minor = (int(x) for x in parts[0].split(":"))
        kv = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        out.append(
            (
                major,
                minor,
                int(kv.get("rbytes", 0)),
                int(kv.get("wbytes", 0)),
                int(kv.get("rios", 0)),
                int(kv.get("wios", 0)),
            )
        )
    return out
