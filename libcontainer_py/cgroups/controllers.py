"""The cgroup controllers: which part of a resource each one writes, and how
it is written and read on this host.

A resource of CgroupConfig goes to one controller or more (Cpu to ``cpu``
and ``cpuset``, Network to ``net_cls`` and ``net_prio``).  A
:class:`Controller` names the controller on v1 and on cgroup2, the fields
of the resource it takes, and the functions that turn its part into file
writes (the formats are in :mod:`.fs1` and :mod:`.fs2`); a
:class:`ResourceKind` ties a resource class to its CgroupConfig field, its
controllers and its statistics.  The table of them, ``RESOURCE_KINDS``, is
in :mod:`.resources` beside the classes; CgroupConfig and the manager read
it, and route no resource by name.

The functions here take the manager (``cgroup``): its layout says where each
controller is, its file system reads and writes.
"""

from __future__ import annotations

import os
import stat as stat_mod
import warnings
from typing import TYPE_CHECKING, Any, Callable, Dict, List, NamedTuple, Optional, Tuple

import attrs

from . import fs1, fs2
from .errors import CgroupError, CgroupUnsupported, CgroupWarning
from .fs1 import Write

if TYPE_CHECKING:  # the stats classes are imported where used: the CLI's run never needs them
    from .manager import FsManager
    from .resources import IO, Cpu, Devices, Memory
    from .stats import CpuStats, HugetlbStats, IODeviceStats, MemoryStats, PidsStats

#: The writes of a controller's part of a resource: (cgroup, part) -> writes.
Writes = Callable[["FsManager", Any], List[Write]]


def pure(writes: Callable[[Any], List[Write]]) -> Writes:
    """A writes function of fs1/fs2 that needs nothing from the cgroup."""
    return lambda cgroup, part: writes(part)


class Controller(NamedTuple):
    """One controller a resource is written to."""

    #: Its name on cgroup v1 (the hierarchy it is bound to): ``"blkio"``.
    v1: str
    #: Its name on cgroup2: ``"io"``.
    v2: str
    #: The part's writes on v1 and on cgroup2 (no v2 writes: cgroup2 has no
    #: such controller, and the v1 writes name what is refused).
    v1_writes: Optional[Writes] = None
    v2_writes: Optional[Writes] = None
    #: Writes the part itself instead of the usual routing (a v1 hierarchy
    #: if one has the controller, else the cgroup2 mount if it offers it,
    #: else CgroupUnsupported).
    apply: Optional[Callable[[FsManager, Any], None]] = None
    #: The fields of the resource it writes; None: those the resource's
    #: other controllers do not take.
    fields: Optional[Tuple[str, ...]] = None
    #: Joined only when its part is set (CgroupConfig.controllers()), not
    #: whenever the resource is.
    optional: bool = False


class ResourceKind(NamedTuple):
    """A resource of CgroupConfig: its field, its class, its controllers,
    and how its statistics (the Stats field of the same name) and event
    counters are read."""

    field: str
    cls: type
    controllers: Tuple[Controller, ...]
    stats: Optional[Callable[[FsManager], Any]] = None
    events: Optional[Callable[[FsManager], Dict[str, int]]] = None

    def parts(self, resource: Any) -> List[Tuple[Controller, Any]]:
        """Each controller with its part of ``resource`` (the resource
        itself, or one of its class with only the controller's fields)."""
        if len(self.controllers) == 1:
            return [(self.controllers[0], resource)]
        taken = {name for c in self.controllers for name in c.fields or ()}
        out = []
        for controller in self.controllers:
            names = controller.fields or tuple(a.name for a in attrs.fields(self.cls) if a.init and a.name not in taken)
            out.append((controller, self.cls(**{name: getattr(resource, name) for name in names})))
        return out


# -- writing ------------------------------------------------------------------


def resolve_device(key: str) -> str:
    """ "major:minor" for a device key of IO (a block device path or "major:minor")."""
    if not key.startswith("/"):
        return key
    try:
        st = os.stat(key)
    except OSError as e:
        raise CgroupError("cannot find the block device", path=key, errno=e.errno) from e
    if not stat_mod.S_ISBLK(st.st_mode):
        raise CgroupError("not a block device", path=key)
    return f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"


def fs2_cpu_writes(cgroup: FsManager, c: Cpu) -> List[Write]:
    """fs2.cpu_writes, with the present cpu.max when only the period changes."""
    current = None
    if c.period_us is not None and c.quota_us is None:
        d = cgroup._v2dir()
        assert d is not None
        current = cgroup._fs.read(cgroup._file(d, "cpu.max"))
    return fs2.cpu_writes(c, current_max=current)


def fs1_io_writes(cgroup: FsManager, io: IO) -> List[Write]:
    """fs1.io_writes into the weight files this kernel has."""
    d = cgroup._v1dir("blkio")
    assert d is not None

    def first(*names: str) -> Optional[str]:
        return next((f for f in names if cgroup._fs.exists(cgroup._file(d, f))), None)

    return fs1.io_writes(
        io,
        weight_file=first("blkio.weight", "blkio.bfq.weight"),
        weight_device_file=first("blkio.weight_device", "blkio.bfq.weight_device"),
        resolve=resolve_device,
    )


def fs2_io_writes(cgroup: FsManager, io: IO) -> List[Write]:
    return fs2.io_writes(io, resolve=resolve_device)


def apply_memory(cgroup: FsManager, m: Memory) -> None:
    """The memory limits: on v1 memory+swap follows from the present limits."""
    side = cgroup._side("memory", "memory")
    if side == "v2":
        if m.swap_max is not None:
            d = cgroup._v2dir()
            assert d is not None
            if not cgroup._fs.exists(cgroup._file(d, "memory.swap.max")):
                raise CgroupUnsupported("memory.swap_max needs swap accounting (no memory.swap.max)")
        cgroup._write_all(fs2.memory_writes(m), v1=False)
        _kernel_tcp_ignored(m, "cgroup v2 counts TCP buffers in memory.max")
        if m.oom_kill_disable:
            # stacklevel: this, FsManager.update, its caller
            warnings.warn("memory.oom_kill_disable ignored: cgroup v2 has no such switch", CgroupWarning, stacklevel=3)
        return
    if side is None:
        if attrs.asdict(m) != attrs.asdict(type(m)()):
            raise cgroup.unavailable("memory", "memory")
        return
    d = cgroup._v1dir("memory")
    assert d is not None
    memsw = cgroup._file(d, "memory.memsw.limit_in_bytes")
    has_memsw = cgroup._fs.exists(memsw)
    cur_limit = fs1.parse_limit(cgroup._fs.read(cgroup._file(d, "memory.limit_in_bytes")))
    cur_memsw = fs1.parse_limit(cgroup._fs.read(memsw)) if has_memsw else None
    has_tcp = cgroup._fs.exists(cgroup._file(d, fs1.KMEM_TCP))
    writes = fs1.memory_writes(
        m, current_limit=cur_limit, current_memsw=cur_memsw, has_memsw=has_memsw, has_kmem_tcp=has_tcp
    )
    cgroup._write_all(writes, v1=True)
    if not has_tcp:
        _kernel_tcp_ignored(m, f"this kernel's memory cgroup has no {fs1.KMEM_TCP}")


def _kernel_tcp_ignored(m: Memory, why: str) -> None:
    if m.kernel_tcp is not None:
        # stacklevel: this, apply_memory, FsManager.update, its caller
        warnings.warn(f"memory.kernel_tcp ignored: {why}", CgroupWarning, stacklevel=4)


def apply_devices(cgroup: FsManager, devices: Devices) -> None:
    """The device rules: v1's devices.allow/deny, else an eBPF program on the cgroup2 directory."""
    if cgroup.layout.v1_for("devices") is not None:
        cgroup._write_all(fs1.devices_writes(devices), v1=True)
        return
    d = cgroup._v2dir()
    if d is None:
        raise CgroupUnsupported("no devices controller and no cgroup2 mount for a device program")
    cgroup._install_device_program(d, devices)


# -- reading ------------------------------------------------------------------


def memory_stats(cgroup: FsManager) -> Optional[MemoryStats]:
    from .stats import MemoryStats

    side = cgroup._side("memory", "memory")
    if side == "v1":
        d = cgroup._v1dir("memory")
        assert d is not None
        usage = int(cgroup._read(d, "memory.usage_in_bytes"))
        memsw = cgroup._read_opt(d, "memory.memsw.usage_in_bytes")
        return MemoryStats(
            usage=usage,
            peak=int(cgroup._read(d, "memory.max_usage_in_bytes")),
            limit=fs1.parse_limit(cgroup._read(d, "memory.limit_in_bytes")),
            failcnt=_v1_failcnt(cgroup, d),
            oom_kills=fs1.parse_flat(cgroup._read(d, "memory.oom_control")).get("oom_kill", 0),
            oom_events=None,
            swap_usage=None if memsw is None else max(int(memsw) - usage, 0),
            stat=fs1.parse_flat(cgroup._read(d, "memory.stat")),
        )
    if side == "v2":
        d = cgroup._v2dir()
        assert d is not None
        events = fs1.parse_flat(cgroup._read(d, "memory.events"))
        peak = cgroup._read_opt(d, "memory.peak")
        swap = cgroup._read_opt(d, "memory.swap.current")
        return MemoryStats(
            usage=int(cgroup._read(d, "memory.current")),
            peak=None if peak is None else int(peak),
            limit=fs2.parse_max(cgroup._read(d, "memory.max")),
            failcnt=events.get("max", 0),
            oom_kills=events.get("oom_kill", 0),
            oom_events=events.get("oom", 0),
            swap_usage=None if swap is None else int(swap),
            stat=fs1.parse_flat(cgroup._read(d, "memory.stat")),
        )
    return None


def _v1_failcnt(cgroup: FsManager, d: str) -> int:
    # A failed charge counts at memsw (memory+swap) or at memory, never both.
    memsw = cgroup._read_opt(d, "memory.memsw.failcnt")
    return int(cgroup._read(d, "memory.failcnt")) + (int(memsw) if memsw is not None else 0)


def memory_events(cgroup: FsManager) -> Dict[str, int]:
    c: Dict[str, int] = {}
    side = cgroup._side("memory", "memory")
    if side == "v1":
        d = cgroup._v1dir("memory")
        assert d is not None
        c["oom_kill"] = fs1.parse_flat(cgroup._read(d, "memory.oom_control")).get("oom_kill", 0)
        c["max"] = _v1_failcnt(cgroup, d)
    elif side == "v2":
        d = cgroup._v2dir()
        assert d is not None
        ev = fs1.parse_flat(cgroup._read(d, "memory.events"))
        for k in ("oom_kill", "oom", "max", "high"):
            c[k] = ev.get(k, 0)
    return c


def cpu_stats(cgroup: FsManager) -> Optional[CpuStats]:
    from .stats import CpuStats

    acct = cgroup._v1dir("cpuacct")
    cpu = cgroup._v1dir("cpu")
    throttle: Dict[str, int] = {}
    if cpu is not None:
        throttle = fs1.parse_flat(cgroup._read_opt(cpu, "cpu.stat") or "")
    if acct is not None:
        user = cgroup._read_opt(acct, "cpuacct.usage_user")
        system = cgroup._read_opt(acct, "cpuacct.usage_sys")
        return CpuStats(
            usage_ns=int(cgroup._read(acct, "cpuacct.usage")),
            user_ns=None if user is None else int(user),
            system_ns=None if system is None else int(system),
            per_cpu_ns=fs1.parse_percpu(cgroup._read(acct, "cpuacct.usage_percpu")),
            periods=throttle.get("nr_periods", 0),
            throttled_periods=throttle.get("nr_throttled", 0),
            throttled_ns=throttle.get("throttled_time", 0),
        )
    d = cgroup._has_v2_file("cpu.stat")
    if d is None:
        return None
    st = fs1.parse_flat(cgroup._read(d, "cpu.stat"))
    if cpu is None:
        throttle = {
            "nr_periods": st.get("nr_periods", 0),
            "nr_throttled": st.get("nr_throttled", 0),
            "throttled_time": st.get("throttled_usec", 0) * 1000,
        }
    return CpuStats(
        usage_ns=st.get("usage_usec", 0) * 1000,
        user_ns=st.get("user_usec", 0) * 1000,
        system_ns=st.get("system_usec", 0) * 1000,
        per_cpu_ns=None,
        periods=throttle.get("nr_periods", 0),
        throttled_periods=throttle.get("nr_throttled", 0),
        throttled_ns=throttle.get("throttled_time", 0),
    )


def _pids_dir(cgroup: FsManager) -> Optional[str]:
    side = cgroup._side("pids", "pids")
    return cgroup._v1dir("pids") if side == "v1" else cgroup._v2dir() if side == "v2" else None


def pids_stats(cgroup: FsManager) -> Optional[PidsStats]:
    from .stats import PidsStats

    d = _pids_dir(cgroup)
    if d is None:
        return None
    return PidsStats(current=int(cgroup._read(d, "pids.current")), limit=fs2.parse_max(cgroup._read(d, "pids.max")))


def pids_events(cgroup: FsManager) -> Dict[str, int]:
    d = _pids_dir(cgroup)
    raw = None if d is None else cgroup._read_opt(d, "pids.events")
    return {} if raw is None else {"pids_max": fs1.parse_flat(raw).get("max", 0)}


def io_stats(cgroup: FsManager) -> Tuple[IODeviceStats, ...]:
    from .stats import IODeviceStats

    side = cgroup._side("blkio", "io")
    if side == "v1":
        d = cgroup._v1dir("blkio")
        assert d is not None
        rows = fs1.parse_blkio(
            cgroup._read(d, "blkio.throttle.io_service_bytes_recursive"),
            cgroup._read(d, "blkio.throttle.io_serviced_recursive"),
        )
    elif side == "v2":
        d = cgroup._v2dir()
        assert d is not None
        rows = fs2.parse_io_stat(cgroup._read(d, "io.stat"))
    else:
        return ()
    return tuple(IODeviceStats(*row) for row in rows)


def hugetlb_stats(cgroup: FsManager) -> Dict[str, HugetlbStats]:
    from .stats import HugetlbStats

    side = cgroup._side("hugetlb", "hugetlb")
    out: Dict[str, HugetlbStats] = {}
    for size in cgroup._page_sizes():
        if side == "v1":
            d = cgroup._v1dir("hugetlb")
            assert d is not None
            out[size] = HugetlbStats(
                usage=int(cgroup._read(d, f"hugetlb.{size}.usage_in_bytes")),
                peak=int(cgroup._read(d, f"hugetlb.{size}.max_usage_in_bytes")),
                limit=fs1.parse_limit(cgroup._read(d, f"hugetlb.{size}.limit_in_bytes")),
                failcnt=int(cgroup._read(d, f"hugetlb.{size}.failcnt")),
            )
        elif side == "v2":
            d = cgroup._v2dir()
            assert d is not None
            out[size] = HugetlbStats(
                usage=int(cgroup._read(d, f"hugetlb.{size}.current")),
                peak=None,
                limit=fs2.parse_max(cgroup._read(d, f"hugetlb.{size}.max")),
                failcnt=fs1.parse_flat(cgroup._read(d, f"hugetlb.{size}.events")).get("max", 0),
            )
    return out
