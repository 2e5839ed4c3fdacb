"""What every cgroup manager does to a cgroup that exists: find its
directories, list, kill and freeze its processes, remove it.

Nothing here imports attrs, psutil or typing at run time: the command
line's light commands (``state``, ``delete``, ``pause``...) use these
operations on a recorded container without loading the config model.
:class:`CgroupOps` is the base of :class:`~.manager.FsManager`, so there is
one implementation; :func:`open_recorded` makes one over a plain view of the
host's layout (:class:`HostLayout`, the same data as :class:`~.layout.Layout`)
for a cgroup recorded in a container's state.
"""

from __future__ import annotations

import errno as errno_mod
import os
import posixpath
import select
import time
from _thread import allocate_lock  # a threading.Lock without importing threading (~2 ms)

from .._shortcuts import signal
from ..errors import wrong_type
from .errors import CgroupError, CgroupUnsupported

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from typing import Callable, Dict, List, Optional, Protocol, Sequence, Set, Tuple, Union

    from .fsio import CgroupFS
    from .layout import Layout

    class HierarchyLike(Protocol):
        @property
        def mountpoint(self) -> str: ...

        @property
        def controllers(self) -> Tuple[str, ...]: ...

        @property
        def own(self) -> str: ...

        def dir(self, path: str) -> str: ...

        @property
        def name(self) -> str: ...

    class LayoutLike(Protocol):
        @property
        def v1(self) -> Sequence[HierarchyLike]: ...

        @property
        def unified(self) -> Optional[HierarchyLike]: ...

        @property
        def kind(self) -> str: ...

        def v1_for(self, controller: str) -> Optional[HierarchyLike]: ...

    #: (mountpoint, controllers, root, own) of one hierarchy.
    MountTuple = Tuple[str, Tuple[str, ...], str, str]
    #: (mount id, parent id, device, root, mount point, fs type, super options) of a mountinfo line.
    MountLine = Tuple[str, str, str, str, str, str, List[str]]

#: The parent of the containers' cgroups by default (CgroupConfig.resolved_path).
DEFAULT_PARENT = "libcontainer_py"

#: The v1 controllers the kernel knows (anything else in the options is a mount option).
V1_CONTROLLERS = frozenset(
    {
        "cpu",
        "cpuacct",
        "cpuset",
        "memory",
        "devices",
        "freezer",
        "net_cls",
        "net_prio",
        "blkio",
        "perf_event",
        "hugetlb",
        "pids",
        "rdma",
        "misc",
    }
)


def normalize_path(value: str) -> str:
    """A cgroup path as CgroupConfig.path keeps it: relative, no '.', '..' or '//'."""
    p = value.strip("/")
    if not p or any(part in ("", ".", "..") for part in p.split("/")):
        from ..errors import ConfigError

        raise ConfigError(
            "cgroup.path", f"expected a relative cgroup path like 'a/b' without '.', '..' or '//', got {value!r}"
        )
    return p


def existing_dirs(path: str, controllers: Optional[Sequence[str]] = None, host: Optional[Layout] = None) -> List[str]:
    """The directories cgroup ``path`` has already in this host's hierarchies
    (those of ``controllers`` and the cgroup2 mount, or all); ``host``: the
    layout the caller detected already (else it is read here)."""
    layout: Union[HostLayout, Layout] = HostLayout.detect() if host is None else host
    if controllers is not None:
        layout = layout.only(tuple(controllers))
    v1: Sequence[HierarchyLike] = layout.v1
    unified: Optional[HierarchyLike] = layout.unified
    hierarchies = [*v1, *([unified] if unified is not None else [])]
    return [h.dir(path) for h in hierarchies if os.path.isdir(h.dir(path))]


def parse_flat(text: str) -> Dict[str, int]:
    """``key value`` lines (memory.stat, cpu.stat, memory.oom_control, memory.events)."""
    out: Dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return out


# -- the host's layout, as plain data (layout.py wraps it in attrs classes) ----


def hierarchy_dir(mountpoint: str, path: str) -> str:
    """The directory of cgroup ``path`` (relative to the mount root) in a hierarchy."""
    return posixpath.join(mountpoint, path.strip("/")) if path.strip("/") else mountpoint


def hierarchy_name(mountpoint: str, controllers: Tuple[str, ...]) -> str:
    return ",".join(controllers) or posixpath.basename(mountpoint)


def layout_kind(v1: Sequence[HierarchyLike], unified: Optional[HierarchyLike]) -> str:
    """``"v1"``, ``"v2"`` or ``"hybrid"``."""
    has_v1 = any(c in V1_CONTROLLERS for h in v1 for c in h.controllers)
    if unified is None:
        return "v1"
    return "hybrid" if has_v1 else "v2"


#: The cgroup2 controller of a v1 one, where their names differ.
_V2_NAME = {"blkio": "io", "cpuacct": "cpu"}


def unified_needed(controllers: Sequence[str], unified: Sequence[str]) -> Tuple[str, ...]:
    """Of the cgroup2 controllers ``unified`` (the host's), those the v1
    ``controllers`` need: what a cgroup without accounting enables on the
    cgroup2 mount (its directory tracks, freezes and kills the processes
    with none)."""
    wanted = {_V2_NAME.get(c, c) for c in controllers}
    return tuple(c for c in unified if c in wanted)


def v1_placement(
    controllers: Sequence[str], v1: Sequence[HierarchyLike], unified: Optional[HierarchyLike]
) -> Tuple[str, ...]:
    """The v1 controllers a new cgroup needing ``controllers`` joins, on a
    host with these ``v1`` hierarchies and ``unified`` mount.

    Device rules alone need no v1 hierarchy when root has a cgroup2 mount
    beside them (a hybrid host): they become a BPF program on the cgroup2
    directory, which the kernel checks before, and whatever, the v1 devices
    cgroup allows.  The process is then placed at clone (CLONE_INTO_CGROUP)
    instead of moved into a v1 cgroup, a move that waits for an RCU grace
    period.  Any other controller keeps the v1 hierarchies, devices too.
    """
    wanted = tuple(controllers)
    if wanted == ("devices",) and unified is not None and layout_kind(v1, unified) == "hybrid" and os.geteuid() == 0:
        return ()
    return wanted


_OCTAL_DIGITS = frozenset("01234567")


def _unescape(field: str) -> str:
    """A mountinfo field with its ``\\ooo`` escapes decoded."""
    parts = field.split("\\")
    out = [parts[0]]
    for part in parts[1:]:
        if len(part) >= 3 and set(part[:3]) <= _OCTAL_DIGITS:
            out.append(chr(int(part[:3], 8)) + part[3:])
        else:
            out.append("\\" + part)
    return "".join(out)


def _own_paths(proc_cgroup: str) -> Tuple[Dict[str, str], Optional[str]]:
    """controller (or name=X) -> path, and the v2 path, from /proc/<pid>/cgroup."""
    v1: Dict[str, str] = {}
    v2: Optional[str] = None
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hid, controllers, path = parts
        if hid == "0" and controllers == "":
            v2 = path
        else:
            for c in controllers.split(","):
                if c:
                    v1[c] = path
    return v1, v2


def _visible(own: Optional[str], root: str) -> str:
    if own is None:
        return "/"
    if root == "/":
        return own
    if own == root or own.startswith(root.rstrip("/") + "/"):
        return "/" + own[len(root) :].strip("/")
    return "/"


def _mount_lines(mountinfo: str) -> List[MountLine]:
    out: List[MountLine] = []
    for line in mountinfo.splitlines():
        fields = line.split()
        if "-" not in fields:
            continue
        sep = fields.index("-")
        if len(fields) < sep + 4 or sep < 5:
            continue
        out.append(
            (
                fields[0],
                fields[1],
                fields[2],
                _unescape(fields[3]),
                _unescape(fields[4]),
                fields[sep + 1],
                fields[sep + 3].split(","),
            )
        )
    return out


def _under(path: str, top: str) -> bool:
    return top == "/" or path == top or path.startswith(top.rstrip("/") + "/")


def _visible_cgroup_mounts(lines: List[MountLine]) -> List[MountLine]:
    """The cgroup mounts not covered by another mount.  A mount is covered
    when, on the way to it, a mount C (itself or one of its ancestors) has a
    sibling mounted on the same parent at C's mount point or above it, later
    than C: a tmpfs mounted over /sys/fs/cgroup hides the hierarchies
    mounted there before it (as in a private mount namespace that builds
    another cgroup layout)."""
    by_id = {m[0]: m for m in lines}
    children: Dict[str, List[MountLine]] = {}
    for m in lines:
        children.setdefault(m[1], []).append(m)

    def covered(c: MountLine) -> bool:
        for n in children.get(c[1], ()):
            if n[0] != c[0] and _under(c[4], n[4]) and (n[4] != c[4] or int(n[0]) > int(c[0])):
                return True
        return False

    out = []
    for m in lines:
        if m[5] not in ("cgroup", "cgroup2"):
            continue
        c: Optional[MountLine] = m
        seen: Set[str] = set()
        hidden = False
        while c is not None and c[0] not in seen and not hidden:
            seen.add(c[0])
            hidden = covered(c)
            c = by_id.get(c[1])
        if not hidden:
            out.append(m)
    return out


#: The last texts parse_mounts read and what it made of them: a container's
#: start reads the same mount table as the one before it.
_last_parse: Optional[Tuple[Tuple[str, str, str], Tuple[List[MountTuple], Optional[MountTuple]]]] = None


def parse_mounts(
    mountinfo: str, proc_cgroup: str = "", unified_controllers: str = ""
) -> Tuple[List[MountTuple], Optional[MountTuple]]:
    """The v1 hierarchies and the cgroup2 mount described by mountinfo text,
    as (mountpoint, controllers, root, own) tuples (see layout.parse_layout).
    Mounts hidden under a later mount are left out."""
    global _last_parse
    texts = (mountinfo, proc_cgroup, unified_controllers)
    last = _last_parse
    if last is not None and last[0] == texts:
        return list(last[1][0]), last[1][1]
    parsed = _parse_mounts(mountinfo, proc_cgroup, unified_controllers)
    _last_parse = (texts, parsed)
    return list(parsed[0]), parsed[1]


def _parse_mounts(
    mountinfo: str, proc_cgroup: str, unified_controllers: str
) -> Tuple[List[MountTuple], Optional[MountTuple]]:
    own_v1, own_v2 = _own_paths(proc_cgroup)
    by_dev: Dict[str, Tuple[str, str, Tuple[str, ...]]] = {}
    unified: Optional[Tuple[str, str]] = None
    order: List[str] = []
    for _mid, _pid, dev, root, mountpoint, fstype, options in _visible_cgroup_mounts(_mount_lines(mountinfo)):
        if fstype == "cgroup2":
            if unified is None or (root == "/" and unified[1] != "/"):
                unified = (mountpoint, root)
        elif fstype == "cgroup":
            controllers = tuple(o for o in options if o in V1_CONTROLLERS or o.startswith("name="))
            if not controllers:
                continue
            if dev not in by_dev:
                order.append(dev)
            if dev not in by_dev or (root == "/" and by_dev[dev][1] != "/"):
                by_dev[dev] = (mountpoint, root, controllers)
    v1: List[MountTuple] = []
    for dev in order:
        mountpoint, root, controllers = by_dev[dev]
        own = next((own_v1[c] for c in controllers if c in own_v1), None)
        v1.append((mountpoint, controllers, root, _visible(own, root)))
    u: Optional[MountTuple] = None
    if unified is not None:
        u = (unified[0], tuple(unified_controllers.split()), unified[1], _visible(own_v2, unified[1]))
    return v1, u


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError as e:
        raise CgroupError("cannot read", path=path, errno=e.errno) from e


class _MountTable:
    """/proc/self/mountinfo, read again only when the mount table changed.

    The file stays open (close-on-exec): poll(2) on it reports POLLPRI once
    after any mount or unmount in its mount namespace since the last poll
    (proc(5)), so an unchanged table costs one poll instead of the kernel
    writing it out again (~60 µs for 24 mounts, milliseconds for the
    hundreds of a Kubernetes node).  In a new mount namespace (unshare,
    setns) it is opened again; a forked child closes its copy."""

    def __init__(self) -> None:
        self._lock = allocate_lock()
        self._fd = -1
        self._ns = 0  # the inode of the mount namespace the fd was opened in
        self._text = ""
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        """In a forked child: its copy of the fd goes, and the lock is new."""
        self._lock = allocate_lock()
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = -1

    def text(self) -> str:
        ns = os.stat("/proc/self/ns/mnt").st_ino
        with self._lock:
            if self._fd >= 0 and ns == self._ns and not self._changed():
                return self._text
            if self._fd >= 0:
                os.close(self._fd)
            self._fd = -1
            fd = os.open("/proc/self/mountinfo", os.O_RDONLY | os.O_CLOEXEC)
            try:
                self._changed(fd)  # what happened before this read is in it
                self._text = _read_all(fd)
            except BaseException:
                os.close(fd)
                raise
            self._fd, self._ns = fd, ns
            return self._text

    def _changed(self, fd: int = -1) -> bool:
        poller = select.poll()
        poller.register(self._fd if fd < 0 else fd, select.POLLPRI)
        return bool(poller.poll(0))

    def fd(self) -> int:
        """The kept fd, or -1 (a test's fd count leaves it out)."""
        with self._lock:
            return self._fd


def _read_all(fd: int) -> str:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "surrogateescape")


_mount_table = _MountTable()


def kept_fds() -> Tuple[int, ...]:
    """The fds this module keeps open for the process's life (the mount table's)."""
    fd = _mount_table.fd()
    return (fd,) if fd >= 0 else ()


def host_mounts() -> Tuple[List[MountTuple], Optional[MountTuple]]:
    """This host's hierarchies as the calling process sees them (layout.detect)."""
    try:
        mountinfo = _mount_table.text()
    except OSError as e:
        raise CgroupError("cannot read", path="/proc/self/mountinfo", errno=e.errno) from e
    v1, unified = parse_mounts(mountinfo, _read("/proc/self/cgroup"))
    if unified is not None:
        controllers = _read(posixpath.join(unified[0], "cgroup.controllers"))
        unified = (unified[0], tuple(controllers.split()), unified[2], unified[3])
    if not v1 and unified is None:
        raise CgroupError("no cgroup file system is mounted", path="/proc/self/mountinfo")
    return v1, unified


class HostHierarchy:
    """A plain :class:`~.layout.Hierarchy` (same fields, same methods)."""

    __slots__ = ("controllers", "mountpoint", "own", "root")

    def __init__(self, mountpoint: str, controllers: Tuple[str, ...], root: str = "/", own: str = "/") -> None:
        self.mountpoint, self.controllers, self.root, self.own = mountpoint, controllers, root, own

    def dir(self, path: str) -> str:
        return hierarchy_dir(self.mountpoint, path)

    @property
    def name(self) -> str:
        return hierarchy_name(self.mountpoint, self.controllers)


class HostLayout:
    """A plain :class:`~.layout.Layout`: what the operations below need of it."""

    __slots__ = ("unified", "v1")

    def __init__(self, v1: Sequence[HostHierarchy], unified: Optional[HostHierarchy]) -> None:
        self.v1, self.unified = tuple(v1), unified

    @classmethod
    def detect(cls) -> HostLayout:
        v1, unified = host_mounts()
        return cls([HostHierarchy(*m) for m in v1], HostHierarchy(*unified) if unified is not None else None)

    @property
    def kind(self) -> str:
        return layout_kind(self.v1, self.unified)

    def only(self, controllers: Sequence[str]) -> HostLayout:
        wanted = set(controllers)
        unified = self.unified
        if unified is not None:
            unified = HostHierarchy(
                unified.mountpoint, unified_needed(controllers, unified.controllers), unified.root, unified.own
            )
        return HostLayout([h for h in self.v1 if wanted & set(h.controllers)], unified)

    def v1_for(self, controller: str) -> Optional[HostHierarchy]:
        for h in self.v1:
            if controller in h.controllers:
                return h
        return None


class RealFS:
    """The real cgroup file system: each failure is a CgroupError naming
    the file and the value, with the OSError chained (``errno`` kept)."""

    def read(self, path: str) -> str:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as e:
            raise CgroupError("cannot open cgroup file", path=path, errno=e.errno) from e
        try:
            chunks = []
            while True:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
            return b"".join(chunks).decode()
        except OSError as e:
            raise CgroupError("cannot read cgroup file", path=path, errno=e.errno) from e
        finally:
            os.close(fd)

    def write(self, path: str, value: str) -> None:
        # One write(2) per value: cgroup files parse each write on its own.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        except OSError as e:
            raise CgroupError("cannot open cgroup file", path=path, value=value, errno=e.errno) from e
        try:
            data = value.encode()
            if os.write(fd, data) != len(data):
                raise CgroupError("short write to cgroup file", path=path, value=value)
        except OSError as e:
            raise CgroupError("cannot write cgroup file", path=path, value=value, errno=e.errno) from e
        finally:
            os.close(fd)

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def mkdir(self, path: str) -> None:
        try:
            os.mkdir(path, 0o755)
        except OSError as e:
            raise CgroupError("cannot create cgroup", path=path, errno=e.errno) from e

    def rmdir(self, path: str) -> None:
        try:
            os.rmdir(path)
        except OSError as e:
            raise CgroupError("cannot remove cgroup", path=path, errno=e.errno) from e

    def subdirs(self, path: str) -> List[str]:
        try:
            return sorted(e.name for e in os.scandir(path) if e.is_dir(follow_symlinks=False))
        except FileNotFoundError:
            return []
        except OSError as e:
            raise CgroupError("cannot list cgroup", path=path, errno=e.errno) from e


class CgroupOps:
    """The operations on an existing cgroup, over ``path`` (normalised),
    ``layout`` (a Layout or HostLayout) and ``_fs``."""

    path: str
    layout: LayoutLike
    container_id: Optional[str]
    _fs: CgroupFS
    _made: List[str]
    #: The cgroup existed before the container joined it: not ours to kill or remove.
    joined: bool = False

    def _check_placement(self) -> None:
        target = "/" + self.path
        for h in self._hierarchies():
            own = h.own.rstrip("/") or "/"
            if own == target or own.startswith(target + "/"):
                raise CgroupError(
                    f"refusing cgroup {self.path!r}: it contains this process's own cgroup {own!r} in {h.name}",
                    path=h.dir(self.path),
                )
            if own != "/" and target.startswith(own + "/"):
                raise CgroupError(
                    f"refusing cgroup {self.path!r}: it is inside this process's own cgroup {own!r} in {h.name};"
                    " create it beside it",
                    path=h.dir(self.path),
                )

    def _hierarchies(self) -> List[HierarchyLike]:
        return list(self.layout.v1) + ([self.layout.unified] if self.layout.unified is not None else [])

    def _v1dirs(self) -> List[str]:
        return [h.dir(self.path) for h in self.layout.v1]

    def _v1dir(self, controller: str) -> Optional[str]:
        h = self.layout.v1_for(controller)
        return None if h is None else h.dir(self.path)

    def _v2dir(self) -> Optional[str]:
        u = self.layout.unified
        return None if u is None else u.dir(self.path)

    def dirs(self) -> List[str]:
        """The cgroup's directory in every hierarchy it uses."""
        v2 = self._v2dir()
        return self._v1dirs() + ([v2] if v2 is not None else [])

    def _file(self, d: str, name: str) -> str:
        return posixpath.join(d, name)

    def exists(self) -> bool:
        """True if the cgroup directory exists in some hierarchy."""
        return any(self._fs.exists(d) for d in self.dirs())

    def _remove_made(self) -> None:
        for d in reversed(self._made):
            try:
                self._fs.rmdir(d)
            except CgroupError as e:
                if e.errno not in (errno_mod.ENOENT, errno_mod.EBUSY, errno_mod.ENOTEMPTY):
                    raise
        self._made = []

    def destroy(self, timeout: float = 10.0) -> None:
        """Kill what is left and remove every directory this cgroup has; idempotent."""
        if self.joined:
            # Someone else's cgroup: its processes and directories stay; only
            # what this manager made on the way (known in its own process) goes.
            self._remove_made()
            return
        deadline = time.monotonic() + timeout
        # A directory with no process and no sub-cgroup left (a container
        # that has exited) goes at once; the others are emptied first.
        busy = [d for d in dict.fromkeys(self.dirs()) if not self._rmdir_if_empty(d)]
        leaves = [d for d in busy if self._fs.exists(d)]
        if leaves and self.pids():
            self.kill(timeout=max(deadline - time.monotonic(), 0.1))
        for d in leaves:
            self._rmdir_tree(d, deadline)
        leafset = set(self.dirs())
        self._made = [d for d in self._made if d not in leafset]
        self._remove_made()
        self._remove_empty_parents()

    def _rmdir_if_empty(self, d: str) -> bool:
        """Remove ``d`` if it holds no process and no sub-cgroup; whether it is gone."""
        try:
            self._fs.rmdir(d)
        except CgroupError as e:
            if e.errno in (errno_mod.EBUSY, errno_mod.ENOTEMPTY):
                return False
            if e.errno != errno_mod.ENOENT:
                raise
        return True

    def _remove_empty_parents(self) -> None:
        """Remove the path's parents (libcontainer_py/) when no other
        container uses them any more, whoever made them: with overlapping
        containers the one that made a parent may not be the last to go."""
        # Only our own parent (libcontainer_py/): a custom path's parents may
        # belong to someone else, even when empty.
        parts = self.path.split("/")[:-1]
        if parts != [DEFAULT_PARENT]:
            return
        for h in self._hierarchies():
            for depth in range(len(parts), 0, -1):
                try:
                    self._fs.rmdir(h.dir("/".join(parts[:depth])))
                except CgroupError as e:
                    if e.errno in (errno_mod.ENOENT, errno_mod.EBUSY, errno_mod.ENOTEMPTY):
                        break
                    raise

    def _rmdir_tree(self, d: str, deadline: float) -> None:
        """Remove ``d`` with the sub-cgroups made below it (``exec --cgroup``'s),
        the deepest first, as runc does."""
        for name in self._fs.subdirs(d):
            self._rmdir_tree(posixpath.join(d, name), deadline)
        self._rmdir_retry(d, deadline)

    def _rmdir_retry(self, d: str, deadline: float) -> None:
        delay = 0.001
        while True:
            try:
                self._fs.rmdir(d)
                return
            except CgroupError as e:
                if e.errno == errno_mod.ENOENT:
                    return
                if e.errno != errno_mod.EBUSY or time.monotonic() >= deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def _procs(self, d: str) -> Set[int]:
        try:
            return {int(x) for x in self._fs.read(self._file(d, "cgroup.procs")).split()}
        except CgroupError as e:
            if e.errno == errno_mod.ENOENT:
                return set()
            raise

    def pids(self) -> List[int]:
        """The processes in the cgroup (sorted)."""
        out: Set[int] = set()
        for d in dict.fromkeys(self.dirs()):
            out |= self._procs(d)
        return sorted(out)

    def _v2_events(self) -> Dict[str, int]:
        d = self._v2dir()
        assert d is not None
        return parse_flat(self._fs.read(self._file(d, "cgroup.events")))

    def _has_v2_file(self, name: str) -> Optional[str]:
        d = self._v2dir()
        if d is not None and self._fs.exists(self._file(d, name)):
            return d
        return None

    def kill_now(self) -> None:
        """SIGKILL every process of the cgroup now, without waiting for them to go."""
        if os.getpid() in self.pids():
            raise CgroupError("refusing to kill a cgroup that holds this process", path=self.dirs()[0])
        d = self._has_v2_file("cgroup.kill")
        if d is not None:
            self._fs.write(self._file(d, "cgroup.kill"), "1")
        else:
            self._signal_v1(set())

    def _signal_v1(self, pids: Set[int]) -> Set[int]:
        """SIGKILL what the v1 hierarchies list (and thaw it); returns those pids."""
        for v1d in dict.fromkeys(self._v1dirs()):
            pids |= self._procs(v1d)
        for pid in pids:
            if pid <= 0 or pid == os.getpid():
                raise CgroupError(f"refusing to signal pid {pid} listed in the cgroup", path=self._v1dirs()[0])
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        fz = self._v1dir("freezer")
        if pids and fz is not None and self._fs.exists(self._file(fz, "freezer.state")):
            if self._fs.read(self._file(fz, "freezer.state")).strip() != "THAWED":
                self._fs.write(self._file(fz, "freezer.state"), "THAWED")
        return pids

    def kill(self, timeout: float = 10.0) -> None:
        """SIGKILL every process and wait until the cgroup is empty."""
        deadline = time.monotonic() + timeout
        if os.getpid() in self.pids():
            raise CgroupError("refusing to kill a cgroup that holds this process", path=self.dirs()[0])
        d = self._has_v2_file("cgroup.kill")
        if d is not None:
            self._fs.write(self._file(d, "cgroup.kill"), "1")
            self._wait(lambda: self._v2_events().get("populated", 0) == 0, deadline, "emptying", d)
        delay = 0.001
        while True:
            pids = self._signal_v1(set())
            if not pids:
                return
            if time.monotonic() >= deadline:
                raise CgroupError(
                    f"processes {sorted(pids)} survived SIGKILL", path=self._v1dirs()[0], errno=errno_mod.ETIMEDOUT
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def _wait(self, done: Callable[[], bool], deadline: float, what: str, path: str) -> None:
        delay = 0.001
        while not done():
            if time.monotonic() >= deadline:
                raise CgroupError(f"timed out {what} the cgroup", path=path, errno=errno_mod.ETIMEDOUT)
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def _freezer(self) -> Tuple[str, str]:
        d = self._has_v2_file("cgroup.freeze")
        if d is not None:
            return "v2", d
        fz = self._v1dir("freezer")
        if fz is not None:
            return "v1", fz
        raise CgroupUnsupported(f"no freezer on this host ({self.layout.kind})")

    def _set_frozen(self, frozen: bool, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        kind, d = self._freezer()
        if kind == "v2":
            self._fs.write(self._file(d, "cgroup.freeze"), "1" if frozen else "0")
            want = 1 if frozen else 0
            try:
                self._wait(
                    lambda: self._v2_events().get("frozen") == want, deadline, "freezing" if frozen else "thawing", d
                )
            except CgroupError:
                if frozen:
                    self._fs.write(self._file(d, "cgroup.freeze"), "0")
                raise
            return
        state = "FROZEN" if frozen else "THAWED"
        path = self._file(d, "freezer.state")

        def reached() -> bool:
            now = self._fs.read(path).strip()
            if now != state:
                self._fs.write(path, state)  # v1 FREEZING can stall: ask again
            return now == state

        self._fs.write(path, state)
        try:
            self._wait(reached, deadline, "freezing" if frozen else "thawing", path)
        except CgroupError:
            if frozen:
                self._fs.write(path, "THAWED")
            raise

    def freeze(self, timeout: float = 5.0) -> None:
        """Freeze every process and wait until the cgroup is frozen."""
        self._set_frozen(True, timeout)

    def thaw(self, timeout: float = 5.0) -> None:
        """Thaw and wait until the cgroup is running again."""
        self._set_frozen(False, timeout)

    def paused(self) -> bool:
        """True while frozen."""
        kind, d = self._freezer()
        if kind == "v2":
            return self._v2_events().get("frozen") == 1
        return self._fs.read(self._file(d, "freezer.state")).strip() == "FROZEN"


def open_recorded(
    path: str,
    controllers: Optional[Sequence[str]] = None,
    *,
    container_id: Optional[str] = None,
    joined: bool = False,
) -> CgroupOps:
    """The operations on the cgroup a container's state records (its path as
    the manager normalised it, the v1 controllers it was limited to, and
    whether it existed before), as ``new_manager(path,
    detect().only(controllers))`` would do them."""
    layout = HostLayout.detect()
    if controllers is not None:
        layout = layout.only(controllers)
    if layout.kind == "v2":  # as new_manager's Fs2Manager: the cgroup2 mount only
        layout = HostLayout((), layout.unified)
    if not isinstance(path, str):
        from ..errors import ConfigError

        raise ConfigError("cgroup.path", wrong_type("str", path))
    ops = CgroupOps()
    ops.path = normalize_path(path)
    ops.layout = layout
    ops.container_id = container_id
    ops._fs = RealFS()
    ops._made = []
    ops.joined = joined
    ops._check_placement()
    return ops
