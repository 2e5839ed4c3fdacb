"""Cgroups for containers: typed resources, and v1, v2 and hybrid managers.

from libcontainer_py import cgroups
cfg = cgroups.CgroupConfig(memory=cgroups.Memory(max="64M"), pids=cgroups.Pids(max=32))
m = cgroups.new_manager(cfg.resolved_path("box1"))   # layout detected
m.create(); m.apply(cfg); m.add(pid)
m.stats().memory.usage; m.freeze(); m.thaw(); m.destroy()
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # not typing's: see _shortcuts.py

# Names are imported on first use (PEP 562): the command line's light
# commands use cgroups._ops without the resources, stats and managers.
_WHERE = {
    "CgroupConfig": ".resources",
    "CgroupError": ".errors",
    "CgroupFS": ".fsio",
    "CgroupUnsupported": ".errors",
    "CgroupWarning": ".errors",
    "Cpu": ".resources",
    "CpuStats": ".stats",
    "DEFAULT_PARENT": ".resources",
    "DeviceRule": ".resources",
    "Devices": ".resources",
    "Event": ".stats",
    "Fs1Manager": ".manager",
    "Fs2Manager": ".manager",
    "FsManager": ".manager",
    "Hierarchy": ".layout",
    "Hugetlb": ".resources",
    "HugetlbStats": ".stats",
    "HybridManager": ".manager",
    "IO": ".resources",
    "IODeviceStats": ".stats",
    "Layout": ".layout",
    "Manager": ".manager",
    "Memory": ".resources",
    "Network": ".resources",
    "MemoryStats": ".stats",
    "Pids": ".resources",
    "PidsStats": ".stats",
    "RealFS": "._ops",
    "Resource": ".resources",
    "Stats": ".stats",
    "UNLIMITED": ".resources",
    "blkio_to_io_weight": ".convert",
    "detect": ".layout",
    "io_to_blkio_weight": ".convert",
    "new_manager": ".manager",
    "parse_bytes": ".units",
    "parse_layout": ".layout",
    "shares_to_weight": ".convert",
    "weight_to_shares": ".convert",
}

if TYPE_CHECKING:
    from typing import Any, List

    from ._ops import RealFS
    from .convert import blkio_to_io_weight, io_to_blkio_weight, shares_to_weight, weight_to_shares
    from .errors import CgroupError, CgroupUnsupported, CgroupWarning
    from .fsio import CgroupFS
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
        Network,
        Pids,
        Resource,
    )
    from .stats import CpuStats, Event, HugetlbStats, IODeviceStats, MemoryStats, PidsStats, Stats
    from .units import parse_bytes


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(where, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(_WHERE))


__all__ = [
    "DEFAULT_PARENT",
    "IO",
    "UNLIMITED",
    "CgroupConfig",
    "CgroupError",
    "CgroupFS",
    "CgroupUnsupported",
    "CgroupWarning",
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
    "Network",
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
