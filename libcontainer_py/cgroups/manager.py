"""Cgroup managers: one interface, three layouts (v1 "fs", v2 "fs2", hybrid).

The three classes share one implementation that routes every controller to
where the host has it: a v1 hierarchy if the controller is bound to one,
else the cgroup2 mount if the controller is enabled there, else the
setting is refused with :class:`CgroupUnsupported`.  ``Fs1Manager`` sees
only the v1 hierarchies, ``Fs2Manager`` only the cgroup2 mount,
``HybridManager`` both (cgroup2 for procs, freeze, kill, events and
whatever controllers it offers; v1 for the rest).  The v1/v2 file formats
live in :mod:`.fs1` and :mod:`.fs2`.
"""

from __future__ import annotations

import abc
import errno as errno_mod
import os
import posixpath
import stat as stat_mod
import time
import warnings
from typing import TYPE_CHECKING, Callable, Dict, Iterator, List, Optional, Tuple

import attrs

from . import fs1, fs2
from ._ops import CgroupOps, RealFS
from .errors import CgroupError, CgroupUnsupported, CgroupWarning
from .fsio import CgroupFS
from .layout import Hierarchy, Layout, detect
from .resources import IO, CgroupConfig, Cpu, Devices, Hugetlb, Memory, Network, Pids, Resource
from .units import format_page_size

if TYPE_CHECKING:  # psutil and the stats classes are imported where used: the CLI's run never needs them
    import psutil

    from .stats import CpuStats, Event, HugetlbStats, IODeviceStats, MemoryStats, PidsStats, Stats

Write = Tuple[str, str, str]


def host_page_sizes() -> List[str]:
    """The huge page sizes of this host, as hugetlb names them ("2MB", "1GB")."""
    out = []
    try:
        names = os.listdir("/sys/kernel/mm/hugepages")
    except OSError:
        return []
    for name in sorted(names):
        if name.startswith("hugepages-") and name.endswith("kB"):
            out.append(format_page_size(int(name[len("hugepages-") : -2]) * 1024))
    return out


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


def _install_bpf_program(path: str, devices: Devices) -> None:
    """bpf_devices.install, imported on first use."""
    from . import bpf_devices

    bpf_devices.install(path, devices)


class Manager(abc.ABC):
    """A container's cgroup on this host (one directory per hierarchy).

    Lifecycle: ``create()`` makes the directories, ``apply(config)`` writes
    the limits, the process is placed with ``clone_fd()`` (CLONE_INTO_CGROUP)
    or ``add(pid)`` before it runs user code, and ``destroy()`` kills what is
    left and removes every directory.  Every failure is a CgroupError.
    """

    #: The cgroup path, relative to each hierarchy's root ("libcontainer_py/<id>").
    path: str

    #: True when create() found the cgroup made already (by someone else) and
    #: joined it: destroy() then neither kills its processes nor removes it.
    joined: bool = False
    #: False: create() refuses a cgroup that exists (CgroupError, EEXIST)
    #: instead of joining it -- for a path made of the container's id, where
    #: an existing cgroup is another container of that id.
    join_existing: bool = True

    @abc.abstractmethod
    def create(self) -> None:
        """Make the cgroup in every hierarchy; where it exists already, join
        it with a CgroupWarning (and set ``joined``).  On failure, whatever
        was made is removed again."""

    @abc.abstractmethod
    def apply(self, config: CgroupConfig) -> None:
        """Write every resource of ``config``; CgroupUnsupported for a setting the host cannot honour."""

    @abc.abstractmethod
    def update(self, resource: Resource) -> None:
        """Change one resource of a (possibly running) cgroup; unset fields are left alone."""

    @abc.abstractmethod
    def add(self, pid: int) -> None:
        """Move process ``pid`` into the cgroup in every hierarchy."""

    @abc.abstractmethod
    def clone_fd(self) -> Optional[int]:
        """A new directory fd of the cgroup2 directory for clone3's
        CLONE_INTO_CGROUP (the caller closes it), or None when placement
        needs writes to v1 hierarchies (then call ``add(pid)``)."""

    @abc.abstractmethod
    def freeze(self, timeout: float = 5.0) -> None:
        """Freeze every process and wait until the cgroup is frozen."""

    @abc.abstractmethod
    def thaw(self, timeout: float = 5.0) -> None:
        """Thaw and wait until the cgroup is running again."""

    @abc.abstractmethod
    def paused(self) -> bool:
        """True while frozen."""

    @abc.abstractmethod
    def pids(self) -> List[int]:
        """The processes in the cgroup (sorted)."""

    @abc.abstractmethod
    def kill_now(self) -> None:
        """SIGKILL every process of the cgroup now, without waiting for them to go."""

    @abc.abstractmethod
    def kill(self, timeout: float = 10.0) -> None:
        """SIGKILL every process and wait until the cgroup is empty."""

    @abc.abstractmethod
    def destroy(self, timeout: float = 10.0) -> None:
        """Kill what is left and remove every directory this cgroup has; idempotent."""

    @abc.abstractmethod
    def stats(self) -> Stats:
        """Accounting and limits now."""

    @abc.abstractmethod
    def poll_events(self) -> List[Event]:
        """The events since the previous call (the first call sets the baseline)."""

    @abc.abstractmethod
    def dirs(self) -> List[str]:
        """The cgroup's directory in every hierarchy it uses."""

    @abc.abstractmethod
    def exists(self) -> bool:
        """True if the cgroup directory exists in some hierarchy."""

    def processes(self) -> List[psutil.Process]:
        """The processes in the cgroup as psutil.Process objects."""
        import psutil

        out = []
        for pid in self.pids():
            try:
                out.append(psutil.Process(pid))
            except psutil.NoSuchProcess:
                continue
        return out

    def oom_kills(self) -> int:
        """How many processes of the cgroup the OOM killer killed."""
        mem = self.stats().memory
        if mem is None:
            raise CgroupUnsupported("no memory controller: OOM kills are not counted on this host")
        return mem.oom_kills

    def events(self, interval: float = 0.05, timeout: Optional[float] = None) -> Iterator[Event]:
        """OOM and memory-pressure events as they happen, by polling the
        counters every ``interval`` seconds; ends when the cgroup is empty
        (after a last reading), is removed, or after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self.poll_events()
        while True:
            if not self.exists():
                return
            empty = not self.pids()
            yield from self.poll_events()
            if empty or (deadline is not None and time.monotonic() >= deadline):
                return
            time.sleep(interval)


#: The files of per-device BFQ weights (EOPNOTSUPP: the device's scheduler is not bfq).
_DEVICE_WEIGHT_FILES = ("blkio.weight_device", "blkio.bfq.weight_device", "io.bfq.weight")

#: How often creating a cgroup starts again when a shared parent vanishes.
_PARENT_RETRIES = 5


class FsManager(CgroupOps, Manager):
    """The implementation shared by the three layouts (see the module docstring)."""

    layout: Layout

    def __init__(
        self,
        path: str,
        layout: Layout,
        *,
        fs: Optional[CgroupFS] = None,
        container_id: Optional[str] = None,
        page_sizes: Optional[Callable[[], List[str]]] = None,
        install_device_program: Optional[Callable[[str, Devices], None]] = None,
    ) -> None:
        self.path = CgroupConfig(path=path).path or ""
        self.layout = layout
        self.container_id = container_id
        self._fs: CgroupFS = fs if fs is not None else RealFS()
        self._page_sizes = page_sizes or host_page_sizes
        self._install_device_program = install_device_program or _install_bpf_program
        self._made: List[str] = []
        self._found: List[str] = []
        self._counters: Optional[Dict[str, int]] = None
        self._check_placement()

    # -- where things are (more in CgroupOps) ---------------------------------

    def _side(self, v1name: str, v2name: str) -> Optional[str]:
        if self.layout.v1_for(v1name) is not None:
            return "v1"
        if self.layout.v2_has(v2name):
            return "v2"
        return None

    # -- create / destroy ------------------------------------------------------

    def create(self) -> None:
        self._found = []
        try:
            for h in self.layout.v1:
                self._mkdirs(h, cpuset="cpuset" in h.controllers)
            if self.layout.unified is not None:
                self._mkdirs(self.layout.unified, enable=self._v2_wanted())
        except BaseException:
            self._remove_made()
            raise
        self._counters = None
        if self._found and not self.join_existing:
            self._remove_made()
            raise CgroupError("the cgroup already exists", path=self._found[0], errno=errno_mod.EEXIST)
        self.joined = bool(self._found)
        if self.joined:
            self._warn_joined()

    def _warn_joined(self) -> None:
        procs = self.pids()
        warnings.warn(
            CgroupWarning(
                f"cgroup {self.path!r} exists already ({', '.join(self._found)}"
                f"{f'; {len(procs)} processes in it' if procs else ''}): the container joins it,"
                " and leaves it in place afterwards"
            ),
            stacklevel=3,
        )

    def _v2_wanted(self) -> List[str]:
        u = self.layout.unified
        assert u is not None
        return [c for c in u.controllers if self.layout.v1_for("blkio" if c == "io" else c) is None]

    def _mkdirs(self, h: Hierarchy, *, cpuset: bool = False, enable: Optional[List[str]] = None) -> None:
        """Make the path's directories in ``h``.  Another container's
        destroy() may remove a shared parent (libcontainer_py/) while it is
        empty, that is, until our own directory is in it: a file of it then
        reads ENODEV or ENOENT, and the walk starts again from the top."""
        for attempt in range(_PARENT_RETRIES):
            try:
                self._mkdirs_once(h, cpuset=cpuset, enable=enable)
                return
            except CgroupError as e:
                if e.errno not in (errno_mod.ENOENT, errno_mod.ENODEV) or attempt == _PARENT_RETRIES - 1:
                    raise
                self._made = [d for d in self._made if self._fs.exists(d)]

    def _mkdirs_once(self, h: Hierarchy, *, cpuset: bool, enable: Optional[List[str]]) -> None:
        parts = self.path.split("/")
        cur = h.dir("")
        for i, part in enumerate(parts):
            if enable:
                self._enable(cur, enable)
            child = posixpath.join(cur, part)
            last = i == len(parts) - 1
            if self._fs.exists(child) or not self._mkdir_racing(child):
                if last and child not in self._found:
                    self._found.append(child)
            else:
                self._made.append(child)
            if cpuset:
                self._fill_cpuset(cur, child)
            cur = child

    def _fill_cpuset(self, parent: str, child: str) -> None:
        """Copy the parent's cpuset.cpus and cpuset.mems into ``child`` where
        they are empty: v1 leaves them empty in a new cpuset cgroup, and a
        task cannot join one (ENOSPC).  Done on the whole path, ancestors that
        existed before included (a pod's cgroup made by someone else), as runc does."""
        for name in ("cpuset.cpus", "cpuset.mems"):
            if not self._fs.read(self._file(child, name)).strip():
                self._fs.write(self._file(child, name), self._fs.read(self._file(parent, name)).strip())

    def _mkdir_racing(self, path: str) -> bool:
        """mkdir; False if it appeared meanwhile (another container made it).
        A parent removed meanwhile by another container's destroy is made
        again."""
        for _ in range(5):
            try:
                self._fs.mkdir(path)
                return True
            except CgroupError as e:
                if e.errno == errno_mod.EEXIST:
                    return False
                if e.errno != errno_mod.ENOENT:
                    raise
                parent = posixpath.dirname(path)
                try:
                    self._fs.mkdir(parent)
                except CgroupError as pe:
                    if pe.errno != errno_mod.EEXIST:
                        raise
        raise CgroupError("cannot create cgroup: its parent keeps disappearing", path=path, errno=errno_mod.ENOENT)

    def _enable(self, d: str, controllers: List[str]) -> None:
        present = set(self._fs.read(self._file(d, "cgroup.subtree_control")).split())
        missing = [c for c in controllers if c not in present]
        if missing:
            self._fs.write(self._file(d, "cgroup.subtree_control"), " ".join("+" + c for c in missing))

    # -- limits ----------------------------------------------------------------

    def apply(self, config: CgroupConfig) -> None:
        for resource in config.resources():
            self.update(resource)

    def update(self, resource: Resource) -> None:
        if isinstance(resource, Memory):
            self._memory(resource)
        elif isinstance(resource, Cpu):
            bw = attrs.evolve(resource, cpus=None, mems=None)
            cs = Cpu(cpus=resource.cpus, mems=resource.mems)
            self._simple("cpu", "cpu", bw, fs1.cpu_writes, self._fs2_cpu)
            self._simple("cpuset", "cpuset", cs, fs1.cpu_writes, self._fs2_cpu)
        elif isinstance(resource, Pids):
            self._simple("pids", "pids", resource, fs1.pids_writes, fs2.pids_writes)
        elif isinstance(resource, IO):
            self._simple("blkio", "io", resource, self._fs1_io, lambda io: fs2.io_writes(io, resolve=resolve_device))
        elif isinstance(resource, Hugetlb):
            self._simple("hugetlb", "hugetlb", resource, fs1.hugetlb_writes, fs2.hugetlb_writes)
        elif isinstance(resource, Network):
            classid = Network(class_id=resource.class_id)
            prio = Network(priorities=resource.priorities)
            self._simple("net_cls", "net_cls", classid, fs1.network_writes, fs1.network_writes)
            self._simple("net_prio", "net_prio", prio, fs1.network_writes, fs1.network_writes)
        elif isinstance(resource, Devices):
            self._devices(resource)
        else:
            raise CgroupError(f"not a cgroup resource: {resource!r}")

    def _fs2_cpu(self, c: Cpu) -> List[Write]:
        current = None
        if c.period_us is not None and c.quota_us is None:
            d = self._v2dir()
            assert d is not None
            current = self._fs.read(self._file(d, "cpu.max"))
        return fs2.cpu_writes(c, current_max=current)

    def _fs1_io(self, io: IO) -> List[Write]:
        d = self._v1dir("blkio")
        assert d is not None

        def first(*names: str) -> Optional[str]:
            return next((f for f in names if self._fs.exists(self._file(d, f))), None)

        return fs1.io_writes(
            io,
            weight_file=first("blkio.weight", "blkio.bfq.weight"),
            weight_device_file=first("blkio.weight_device", "blkio.bfq.weight_device"),
            resolve=resolve_device,
        )

    def _simple(
        self,
        v1name: str,
        v2name: str,
        resource: object,
        v1writes: Callable[..., List[Write]],
        v2writes: Callable[..., List[Write]],
    ) -> None:
        side = self._side(v1name, v2name)
        if side == "v1":
            self._write_all(v1writes(resource), v1=True)
        elif side == "v2":
            self._write_all(v2writes(resource), v1=False)
        else:
            writes = v2writes(resource) if self.layout.unified is not None else v1writes(resource)
            if writes:
                raise CgroupUnsupported(
                    f"the {v1name if v1name == v2name else v1name + '/' + v2name} controller is not available on"
                    f" this host ({self.layout.kind} layout), needed for {writes[0][1]}"
                )

    def _target(self, controller: str, v1: bool) -> str:
        d = self._v1dir(controller) if v1 else self._v2dir()
        assert d is not None
        return d

    def _write_all(self, writes: List[Write], *, v1: bool) -> None:
        rt_period: Optional[Tuple[str, str]] = None
        for controller, name, value in writes:
            path = self._file(self._target(controller, v1), name)
            if not self._fs.exists(path):
                raise CgroupUnsupported(
                    f"this host has no {name} for the {controller} controller", path=path, value=value
                )
            try:
                self._fs.write(path, value)
            except CgroupError as e:
                if name == "cpu.rt_period_us" and e.errno == errno_mod.EINVAL:
                    rt_period = (path, value)  # may fit once the runtime is written (runc's order)
                    continue
                if name in _DEVICE_WEIGHT_FILES and e.errno == errno_mod.EOPNOTSUPP:
                    raise CgroupUnsupported(
                        f"per-device weights in {name} need the bfq I/O scheduler on the device",
                        path=path,
                        value=value,
                        errno=e.errno,
                    ) from e
                raise
        if rt_period is not None:
            self._fs.write(*rt_period)

    def _memory(self, m: Memory) -> None:
        side = self._side("memory", "memory")
        if side == "v2":
            if m.swap_max is not None:
                d = self._v2dir()
                assert d is not None
                if not self._fs.exists(self._file(d, "memory.swap.max")):
                    raise CgroupUnsupported("memory.swap_max needs swap accounting (no memory.swap.max)")
            self._write_all(fs2.memory_writes(m), v1=False)
            self._kernel_tcp_ignored(m, "cgroup v2 counts TCP buffers in memory.max")
            return
        if side is None:
            if attrs.asdict(m) != attrs.asdict(Memory()):
                raise CgroupUnsupported(f"the memory controller is not available on this host ({self.layout.kind})")
            return
        d = self._v1dir("memory")
        assert d is not None
        memsw = self._file(d, "memory.memsw.limit_in_bytes")
        has_memsw = self._fs.exists(memsw)
        cur_limit = fs1.parse_limit(self._fs.read(self._file(d, "memory.limit_in_bytes")))
        cur_memsw = fs1.parse_limit(self._fs.read(memsw)) if has_memsw else None
        has_tcp = self._fs.exists(self._file(d, fs1.KMEM_TCP))
        writes = fs1.memory_writes(
            m, current_limit=cur_limit, current_memsw=cur_memsw, has_memsw=has_memsw, has_kmem_tcp=has_tcp
        )
        self._write_all(writes, v1=True)
        if not has_tcp:
            self._kernel_tcp_ignored(m, f"this kernel's memory cgroup has no {fs1.KMEM_TCP}")

    @staticmethod
    def _kernel_tcp_ignored(m: Memory, why: str) -> None:
        if m.kernel_tcp is not None:
            warnings.warn(f"memory.kernel_tcp ignored: {why}", CgroupWarning, stacklevel=4)

    def _devices(self, devices: Devices) -> None:
        if self.layout.v1_for("devices") is not None:
            self._write_all(fs1.devices_writes(devices), v1=True)
            return
        d = self._v2dir()
        if d is None:
            raise CgroupUnsupported("no devices controller and no cgroup2 mount for a device program")
        self._install_device_program(d, devices)

    # -- processes -------------------------------------------------------------

    def add(self, pid: int) -> None:
        for d in dict.fromkeys(self.dirs()):
            self._fs.write(self._file(d, "cgroup.procs"), str(pid))

    def clone_fd(self) -> Optional[int]:
        d = self._v2dir()
        if self.layout.v1 or d is None:
            return None
        try:
            return os.open(d, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as e:
            raise CgroupError("cannot open the cgroup for CLONE_INTO_CGROUP", path=d, errno=e.errno) from e

    # -- stats -------------------------------------------------------------------

    def _read(self, d: str, name: str) -> str:
        return self._fs.read(self._file(d, name))

    def _read_opt(self, d: str, name: str) -> Optional[str]:
        path = self._file(d, name)
        return self._fs.read(path) if self._fs.exists(path) else None

    def stats(self) -> Stats:
        from .stats import Stats

        return Stats(
            memory=self._memory_stats(),
            cpu=self._cpu_stats(),
            pids=self._pids_stats(),
            io=self._io_stats(),
            hugetlb=self._hugetlb_stats(),
        )

    def _memory_stats(self) -> Optional[MemoryStats]:
        from .stats import MemoryStats

        side = self._side("memory", "memory")
        if side == "v1":
            d = self._v1dir("memory")
            assert d is not None
            usage = int(self._read(d, "memory.usage_in_bytes"))
            memsw = self._read_opt(d, "memory.memsw.usage_in_bytes")
            return MemoryStats(
                usage=usage,
                peak=int(self._read(d, "memory.max_usage_in_bytes")),
                limit=fs1.parse_limit(self._read(d, "memory.limit_in_bytes")),
                failcnt=self._v1_failcnt(d),
                oom_kills=fs1.parse_flat(self._read(d, "memory.oom_control")).get("oom_kill", 0),
                oom_events=None,
                swap_usage=None if memsw is None else max(int(memsw) - usage, 0),
                stat=fs1.parse_flat(self._read(d, "memory.stat")),
            )
        if side == "v2":
            d = self._v2dir()
            assert d is not None
            events = fs1.parse_flat(self._read(d, "memory.events"))
            peak = self._read_opt(d, "memory.peak")
            swap = self._read_opt(d, "memory.swap.current")
            return MemoryStats(
                usage=int(self._read(d, "memory.current")),
                peak=None if peak is None else int(peak),
                limit=fs2.parse_max(self._read(d, "memory.max")),
                failcnt=events.get("max", 0),
                oom_kills=events.get("oom_kill", 0),
                oom_events=events.get("oom", 0),
                swap_usage=None if swap is None else int(swap),
                stat=fs1.parse_flat(self._read(d, "memory.stat")),
            )
        return None

    def _v1_failcnt(self, d: str) -> int:
        # A failed charge counts at memsw (memory+swap) or at memory, never both.
        memsw = self._read_opt(d, "memory.memsw.failcnt")
        return int(self._read(d, "memory.failcnt")) + (int(memsw) if memsw is not None else 0)

    def _cpu_stats(self) -> Optional[CpuStats]:
        from .stats import CpuStats

        acct = self._v1dir("cpuacct")
        cpu = self._v1dir("cpu")
        throttle: Dict[str, int] = {}
        if cpu is not None:
            throttle = fs1.parse_flat(self._read_opt(cpu, "cpu.stat") or "")
        if acct is not None:
            user = self._read_opt(acct, "cpuacct.usage_user")
            system = self._read_opt(acct, "cpuacct.usage_sys")
            return CpuStats(
                usage_ns=int(self._read(acct, "cpuacct.usage")),
                user_ns=None if user is None else int(user),
                system_ns=None if system is None else int(system),
                per_cpu_ns=fs1.parse_percpu(self._read(acct, "cpuacct.usage_percpu")),
                periods=throttle.get("nr_periods", 0),
                throttled_periods=throttle.get("nr_throttled", 0),
                throttled_ns=throttle.get("throttled_time", 0),
            )
        d = self._has_v2_file("cpu.stat")
        if d is None:
            return None
        st = fs1.parse_flat(self._read(d, "cpu.stat"))
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

    def _pids_stats(self) -> Optional[PidsStats]:
        from .stats import PidsStats

        side = self._side("pids", "pids")
        d = self._v1dir("pids") if side == "v1" else self._v2dir() if side == "v2" else None
        if d is None:
            return None
        return PidsStats(current=int(self._read(d, "pids.current")), limit=fs2.parse_max(self._read(d, "pids.max")))

    def _io_stats(self) -> Tuple[IODeviceStats, ...]:
        from .stats import IODeviceStats

        side = self._side("blkio", "io")
        if side == "v1":
            d = self._v1dir("blkio")
            assert d is not None
            rows = fs1.parse_blkio(
                self._read(d, "blkio.throttle.io_service_bytes_recursive"),
                self._read(d, "blkio.throttle.io_serviced_recursive"),
            )
        elif side == "v2":
            d = self._v2dir()
            assert d is not None
            rows = fs2.parse_io_stat(self._read(d, "io.stat"))
        else:
            return ()
        return tuple(IODeviceStats(*row) for row in rows)

    def _hugetlb_stats(self) -> Dict[str, HugetlbStats]:
        from .stats import HugetlbStats

        side = self._side("hugetlb", "hugetlb")
        out: Dict[str, HugetlbStats] = {}
        for size in self._page_sizes():
            if side == "v1":
                d = self._v1dir("hugetlb")
                assert d is not None
                out[size] = HugetlbStats(
                    usage=int(self._read(d, f"hugetlb.{size}.usage_in_bytes")),
                    peak=int(self._read(d, f"hugetlb.{size}.max_usage_in_bytes")),
                    limit=fs1.parse_limit(self._read(d, f"hugetlb.{size}.limit_in_bytes")),
                    failcnt=int(self._read(d, f"hugetlb.{size}.failcnt")),
                )
            elif side == "v2":
                d = self._v2dir()
                assert d is not None
                out[size] = HugetlbStats(
                    usage=int(self._read(d, f"hugetlb.{size}.current")),
                    peak=None,
                    limit=fs2.parse_max(self._read(d, f"hugetlb.{size}.max")),
                    failcnt=fs1.parse_flat(self._read(d, f"hugetlb.{size}.events")).get("max", 0),
                )
        return out

    # -- events ------------------------------------------------------------------

    def _event_counters(self) -> Dict[str, int]:
        c: Dict[str, int] = {}
        side = self._side("memory", "memory")
        if side == "v1":
            d = self._v1dir("memory")
            assert d is not None
            c["oom_kill"] = fs1.parse_flat(self._read(d, "memory.oom_control")).get("oom_kill", 0)
            c["max"] = self._v1_failcnt(d)
        elif side == "v2":
            d = self._v2dir()
            assert d is not None
            ev = fs1.parse_flat(self._read(d, "memory.events"))
            for k in ("oom_kill", "oom", "max", "high"):
                c[k] = ev.get(k, 0)
        pside = self._side("pids", "pids")
        pd = self._v1dir("pids") if pside == "v1" else self._v2dir() if pside == "v2" else None
        if pd is not None:
            raw = self._read_opt(pd, "pids.events")
            if raw is not None:
                c["pids_max"] = fs1.parse_flat(raw).get("max", 0)
        return c

    def poll_events(self) -> List[Event]:
        try:
            now = self._event_counters()
        except CgroupError as e:
            if e.errno == errno_mod.ENOENT:
                return []
            raise
        before, self._counters = self._counters, now
        if before is None:
            return []
        from .stats import Event

        return [Event(k, v - before.get(k, 0)) for k, v in now.items() if v > before.get(k, 0)]


class Fs1Manager(FsManager):
    """cgroup v1: one directory per hierarchy; the cgroup2 mount (if any) is not used."""

    def __init__(
        self,
        path: str,
        layout: Optional[Layout] = None,
        *,
        fs: Optional[CgroupFS] = None,
        container_id: Optional[str] = None,
        page_sizes: Optional[Callable[[], List[str]]] = None,
    ) -> None:
        super().__init__(path, (layout or detect()).only_v1(), fs=fs, container_id=container_id, page_sizes=page_sizes)


class Fs2Manager(FsManager):
    """cgroup v2: the unified hierarchy only (v1 hierarchies, if any, are not used)."""

    def __init__(
        self,
        path: str,
        layout: Optional[Layout] = None,
        *,
        fs: Optional[CgroupFS] = None,
        container_id: Optional[str] = None,
        page_sizes: Optional[Callable[[], List[str]]] = None,
        install_device_program: Optional[Callable[[str, Devices], None]] = None,
    ) -> None:
        only = (layout or detect()).only_v2()
        if only.unified is None:
            raise CgroupError("no cgroup2 file system is mounted")
        super().__init__(
            path,
            only,
            fs=fs,
            container_id=container_id,
            page_sizes=page_sizes,
            install_device_program=install_device_program,
        )


class HybridManager(FsManager):
    """Hybrid: cgroup2 for procs, freeze, kill, events and the controllers it
    offers; the v1 hierarchies for every other controller."""


def new_manager(path: str, layout: Optional[Layout] = None, *, container_id: Optional[str] = None) -> Manager:
    """The manager for this host's layout (detected when ``layout`` is None)."""
    layout = layout or detect()
    kind = layout.kind
    if kind == "v1":
        return Fs1Manager(path, layout, container_id=container_id)
    if kind == "v2":
        return Fs2Manager(path, layout, container_id=container_id)
    return HybridManager(path, layout, container_id=container_id)
