"""Cgroups for containers: typed resources, and v1, v2 and hybrid managers.

from libcontainer_py import cgroups
cfg = cgroups.CgroupConfig(memory=cgroups.Memory(max="64M"), pids=cgroups.Pids(max=32))
m = cgroups.new_manager(cfg.resolved_path("box1"))   # layout detected
m.create(); m.apply(cfg); m.add(pid)
m.stats().memory.usage; m.freeze(); m.thaw(); m.destroy()
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: see _shortcuts.py

# The public names: the imports below are the one list of them (and __all__).
# They run for the type checker only; each name is imported on first use
# (PEP 562, see libcontainer_py/_exports.py): the command line's light
# commands use cgroups._ops without the resources, stats and managers.
if TYPE_CHECKING:
    from typing import Any, List

    from ._ops import RealFS as RealFS
    from .convert import blkio_to_io_weight as blkio_to_io_weight
    from .convert import io_to_blkio_weight as io_to_blkio_weight
    from .convert import shares_to_weight as shares_to_weight
    from .convert import weight_to_shares as weight_to_shares
    from .errors import CgroupError as CgroupError
    from .errors import CgroupUnsupported as CgroupUnsupported
    from .errors import CgroupWarning as CgroupWarning
    from .fsio import CgroupFS as CgroupFS
    from .layout import Hierarchy as Hierarchy
    from .layout import Layout as Layout
    from .layout import detect as detect
    from .layout import parse_layout as parse_layout
    from .manager import Fs1Manager as Fs1Manager
    from .manager import Fs2Manager as Fs2Manager
    from .manager import FsManager as FsManager
    from .manager import HybridManager as HybridManager
    from .manager import Manager as Manager
    from .manager import new_manager as new_manager
    from .resources import DEFAULT_PARENT as DEFAULT_PARENT
    from .resources import IO as IO
    from .resources import UNLIMITED as UNLIMITED
    from .resources import CgroupConfig as CgroupConfig
    from .resources import Cpu as Cpu
    from .resources import DeviceRule as DeviceRule
    from .resources import Devices as Devices
    from .resources import Hugetlb as Hugetlb
    from .resources import Memory as Memory
    from .resources import Network as Network
    from .resources import Pids as Pids
    from .resources import Resource as Resource
    from .stats import CpuStats as CpuStats
    from .stats import Event as Event
    from .stats import HugetlbStats as HugetlbStats
    from .stats import IODeviceStats as IODeviceStats
    from .stats import MemoryStats as MemoryStats
    from .stats import PidsStats as PidsStats
    from .stats import Stats as Stats
    from .units import parse_bytes as parse_bytes


def __getattr__(name: str) -> Any:
    if name.startswith("_") and name != "__all__":  # a submodule being imported: not an export
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from .._exports import exports_of

    return exports_of(__name__, __file__).load(name, globals())


def __dir__() -> List[str]:
    from .._exports import exports_of

    return exports_of(__name__, __file__).dir(globals())
