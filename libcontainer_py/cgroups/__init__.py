"""Cgroups for containers: typed resources, and v1, v2 and hybrid managers.

from libcontainer_py import cgroups
cfg = cgroups.CgroupConfig(memory=cgroups.Memory(max="64M"), pids=cgroups.Pids(max=32))
m = cgroups.new_manager(cfg.resolved_path("box1"))   # layout detected
m.create(); m.apply(cfg); m.add(pid)
m.stats().memory.usage; m.freeze(); m.thaw(); m.destroy()
"""

from .convert import blkio_to_io_weight, io_to_blkio_weight, shares_to_weight, weight_to_shares
from .errors import CgroupError, CgroupUnsupported
from .fsio import CgroupFS, RealFS
from .layout import Hierarchy, Layout, detect, parse_layout
from .manager import Fs1Manager, Fs2Manager, FsManager, HybridManager, Manager, new_manager
from .resources import (
    DEFAULT_PARENT,
    IO,
    UNLIMITED,
    CgroupConfig,
    Cpu,
    DeviceRule,
    Devices,
    Hugetlb,
    Memory,
    Pids,
    Resource,
)
from .stats import CpuStats, Event, HugetlbStats, IODeviceStats, MemoryStats, PidsStats, Stats
from .units import parse_bytes

__all__ = [
    "DEFAULT_PARENT",
    "IO",
    "UNLIMITED",
    "CgroupConfig",
    "CgroupError",
    "CgroupFS",
    "CgroupUnsupported",
    "Cpu",
    "CpuStats",
    "DeviceRule",
    "Devices",
    "Event",
    "Fs1Manager",
    "Fs2Manager",
    "FsManager",
    "Hierarchy",
    "Hugetlb",
    "HugetlbStats",
    "HybridManager",
    "IODeviceStats",
    "Layout",
    "Manager",
    "Memory",
    "MemoryStats",
    "Pids",
    "PidsStats",
    "RealFS",
    "Resource",
    "Stats",
    "blkio_to_io_weight",
    "detect",
    "io_to_blkio_weight",
    "new_manager",
    "parse_bytes",
    "parse_layout",
    "shares_to_weight",
    "weight_to_shares",
]
