"""Cgroup managers: one implementation, three layouts (v1 "fs", v2 "fs2", hybrid).

:class:`FsManager` routes every controller to where the host has it: a v1
hierarchy if the controller is bound to one, else the cgroup2 mount if the
controller is enabled there, else the setting is refused with
:class:`CgroupUnsupported`.  ``Fs1Manager`` sees only the v1 hierarchies,
``Fs2Manager`` only the cgroup2 mount, ``HybridManager`` both (cgroup2 for
procs, freeze, kill, events and whatever controllers it offers; v1 for the
rest).  Which controllers a resource goes to, and how each is written and
read, is the table RESOURCE_KINDS (:mod:`.resources`, :mod:`.controllers`);
the v1/v2 file formats live in :mod:`.fs1` and :mod:`.fs2`.
"""

from __future__ import annotations

import errno as errno_mod
import functools
import os
import posixpath
import time
import warnings
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Optional, Tuple

from .._fields import text
from ._ops import CgroupOps, RealFS, normalize_path
from .controllers import Controller
from .errors import CgroupError, CgroupUnsupported, CgroupWarning
from .fsio import CgroupFS
from .layout import Hierarchy, Layout, detect
from .resources import RESOURCE_KINDS, CgroupConfig, Devices, Resource
from .units import format_page_size

if TYPE_CHECKING:  # psutil and the stats classes are imported where used: the CLI's run never needs them
    import psutil

    from .stats import Event, Stats

Write = Tuple[str, str, str]


@functools.lru_cache(maxsize=1)
def host_page_sizes() -> List[str]:
    """The huge page sizes of this host, as hugetlb names them ("2MB", "1GB");
    fixed from boot, so read once (callers must not change the list)."""
    out = []
    try:
        names = os.listdir("/sys/kernel/mm/hugepages")
    except OSError:
        return []
    for name in sorted(names):
        if name.startswith("hugepages-") and name.endswith("kB"):
            out.append(format_page_size(int(name[len("hugepages-") : -2]) * 1024))
    return out


def _install_bpf_program(path: str, devices: Devices) -> None:
    """bpf_devices.install, imported on first use."""
    from . import bpf_devices

    bpf_devices.install(path, devices)


#: Each resource class's row of RESOURCE_KINDS.
_KIND_OF = {kind.cls: kind for kind in RESOURCE_KINDS}
#: The v1 name of each cgroup2 controller that has another one ("io": "blkio").
_V1_NAMES = {c.v2: c.v1 for kind in RESOURCE_KINDS for c in kind.controllers}

#: The files of per-device BFQ weights (EOPNOTSUPP: the device's scheduler is not bfq).
_DEVICE_WEIGHT_FILES = ("blkio.weight_device", "blkio.bfq.weight_device", "io.bfq.weight")

#: How often creating a cgroup starts again when a shared parent vanishes.
_PARENT_RETRIES = 5


class FsManager(CgroupOps):
    """A container's cgroup on this host (one directory per hierarchy); the
    implementation shared by the three layouts (see the module docstring).

    Lifecycle: ``create()`` makes the directories, ``apply(config)`` writes
    the limits, the process is placed with ``clone_fd()`` (CLONE_INTO_CGROUP)
    or ``add(pid)`` before it runs user code, and ``destroy()`` kills what is
    left and removes every directory.  Every failure is a CgroupError.
    """

    #: The cgroup path, relative to each hierarchy's root ("libcontainer_py/<id>").
    path: str
    layout: Layout

    #: True when create() found the cgroup made already (by someone else) and
    #: joined it: destroy() then neither kills its processes nor removes it.
    joined: bool = False
    #: False: create() refuses a cgroup that exists (CgroupError, EEXIST)
    #: instead of joining it -- for a path made of the container's id, where
    #: an existing cgroup is another container of that id.
    join_existing: bool = True

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
        self.path = normalize_path(text("cgroup.path", path))  # as CgroupConfig.path keeps it
        self.layout = self._restrict(layout if layout is not None else detect())
        self.container_id = container_id
        self._fs: CgroupFS = fs if fs is not None else RealFS()
        self._page_sizes = page_sizes or host_page_sizes
        self._install_device_program = install_device_program or _install_bpf_program
        self._made: List[str] = []
        self._found: List[str] = []
        self._counters: Optional[Dict[str, int]] = None
        self._check_placement()

    @staticmethod
    def _restrict(layout: Layout) -> Layout:
        """The part of ``layout`` this kind of manager uses (all of it here)."""
        return layout

    # -- where things are (more in CgroupOps) ---------------------------------

    def _side(self, v1name: str, v2name: str) -> Optional[str]:
        if self.layout.v1_for(v1name) is not None:
            return "v1"
        if self.layout.v2_has(v2name):
            return "v2"
        return None

    # -- create / destroy ------------------------------------------------------

    def create(self) -> None:
        """Make the cgroup in every hierarchy; where it exists already, join
        it with a CgroupWarning (and set ``joined``).  On failure, whatever
        was made is removed again."""
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
        """The cgroup2 controllers to enable: those no v1 hierarchy has."""
        u = self.layout.unified
        assert u is not None
        return [c for c in u.controllers if self.layout.v1_for(_V1_NAMES.get(c, c)) is None]

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
        A parent removed meanwhile by another container's destroy is an
        ENOENT CgroupError: _mkdirs walks again from the top, so that the
        parent made again gets its controllers enabled and its cpuset filled."""
        try:
            self._fs.mkdir(path)
            return True
        except CgroupError as e:
            if e.errno == errno_mod.EEXIST:
                return False
            raise

    def _enable(self, d: str, controllers: List[str]) -> None:
        present = set(self._fs.read(self._file(d, "cgroup.subtree_control")).split())
        missing = [c for c in controllers if c not in present]
        if missing:
            self._fs.write(self._file(d, "cgroup.subtree_control"), " ".join("+" + c for c in missing))

    # -- limits ----------------------------------------------------------------

    def apply(self, config: CgroupConfig) -> None:
        """Write every resource of ``config``; CgroupUnsupported for a setting the host cannot honour."""
        for resource in config.resources():
            self.update(resource)

    def update(self, resource: Resource) -> None:
        """Change one resource of a (possibly running) cgroup; unset fields are left alone."""
        kind = _KIND_OF.get(type(resource))
        if kind is None:
            raise CgroupError(f"not a cgroup resource: {resource!r}")
        for controller, part in kind.parts(resource):
            if controller.apply is not None:
                controller.apply(self, part)
            else:
                self._route(controller, part)

    def _route(self, controller: Controller, part: Any) -> None:
        """Write ``part`` where the host has the controller: its v1
        hierarchy, else the cgroup2 mount, else refuse it if it sets anything."""
        v1writes = controller.v1_writes
        assert v1writes is not None, f"{controller.v1}: neither writes nor apply"
        v2writes = controller.v2_writes or v1writes  # no cgroup2 controller: v1's writes name what is refused
        v1name, v2name = controller.v1, controller.v2
        side = self._side(v1name, v2name)
        if side == "v1":
            self._write_all(v1writes(self, part), v1=True)
        elif side == "v2":
            self._write_all(v2writes(self, part), v1=False)
        else:
            writes = v2writes(self, part) if self.layout.unified is not None else v1writes(self, part)
            if writes:
                raise self.unavailable(v1name, v2name, f", needed for {writes[0][1]}")

    def unavailable(self, v1name: str, v2name: str, needed: str = "") -> CgroupUnsupported:
        """The error for a controller this cgroup does not have: one the host
        lacks, or one a cgroup made without accounting left out."""
        from .layout import detect

        name = v1name if v1name == v2name else v1name + "/" + v2name
        host = detect()
        if self.layout.partial and (host.v1_for(v1name) is not None or host.v2_has(v2name)):
            return CgroupUnsupported(
                f"this cgroup was made without the {name} controller (accounting=False, and no such limit"
                f" then){needed}: set the limit when the container is made, or make it with accounting=True"
            )
        return CgroupUnsupported(
            f"the {name} controller is not available on this host ({self.layout.kind} layout){needed}"
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

    # -- processes -------------------------------------------------------------

    def add(self, pid: int) -> None:
        """Move process ``pid`` into the cgroup in every hierarchy."""
        for d in dict.fromkeys(self.dirs()):
            self._fs.write(self._file(d, "cgroup.procs"), str(pid))

    def clone_fd(self) -> Optional[int]:
        """A new directory fd of the cgroup2 directory for clone3's
        CLONE_INTO_CGROUP (the caller closes it), or None when placement
        needs writes to v1 hierarchies (then call ``add(pid)``)."""
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
        """Accounting and limits now."""
        from .stats import Stats

        return Stats(**{kind.field: kind.stats(self) for kind in RESOURCE_KINDS if kind.stats is not None})

    # -- events ------------------------------------------------------------------

    def _event_counters(self) -> Dict[str, int]:
        counters: Dict[str, int] = {}
        for kind in RESOURCE_KINDS:
            if kind.events is not None:
                counters.update(kind.events(self))
        return counters

    def poll_events(self) -> List[Event]:
        """The events since the previous call (the first call sets the baseline)."""
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


class Fs1Manager(FsManager):
    """cgroup v1: one directory per hierarchy; the cgroup2 mount (if any) is not used."""

    @staticmethod
    def _restrict(layout: Layout) -> Layout:
        return layout.only_v1()


class Fs2Manager(FsManager):
    """cgroup v2: the unified hierarchy only (v1 hierarchies, if any, are not used)."""

    @staticmethod
    def _restrict(layout: Layout) -> Layout:
        only = layout.only_v2()
        if only.unified is None:
            raise CgroupError("no cgroup2 file system is mounted")
        return only


class HybridManager(FsManager):
    """Hybrid: cgroup2 for procs, freeze, kill, events and the controllers it
    offers; the v1 hierarchies for every other controller."""


#: The manager type: FsManager, by the name the library had for its interface.
Manager = FsManager


def new_manager(
    path: str,
    layout: Optional[Layout] = None,
    *,
    container_id: Optional[str] = None,
    fs: Optional[CgroupFS] = None,
) -> FsManager:
    """The manager for this host's layout (detected when ``layout`` is None);
    ``fs``: its file system (the real one by default), which also installs
    the device programs if it has an ``install_device_program(path, devices)``
    (cgroups.script.Recorder)."""
    layout = layout or detect()
    kind = layout.kind
    cls: type[FsManager] = Fs1Manager if kind == "v1" else Fs2Manager if kind == "v2" else HybridManager
    install = getattr(fs, "install_device_program", None)
    return cls(path, layout, container_id=container_id, fs=fs, install_device_program=install)
