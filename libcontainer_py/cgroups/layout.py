"""The host's cgroup layout: v1 hierarchies, the cgroup2 mount, and where we are in each.

:func:`parse_layout` is pure (it takes the text of /proc/self/mountinfo,
/proc/self/cgroup and the unified root's cgroup.controllers), so unit tests
feed it v1-only, v2-only and hybrid samples; :func:`detect` reads the real files.
"""

from __future__ import annotations

import posixpath
import re
from typing import Dict, FrozenSet, List, Optional, Tuple

import attrs

from .errors import CgroupError

#: The v1 controllers the kernel knows (anything else in the options is a mount option).
V1_CONTROLLERS: FrozenSet[str] = frozenset(
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

_OCTAL = re.compile(r"\\([0-7]{3})")


def _unescape(field: str) -> str:
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), field)


@attrs.frozen
class Hierarchy:
    """One mounted hierarchy.

    ``controllers``: for v1 the controllers bound to it (and ``name=...`` for a
    named hierarchy); for the cgroup2 mount those listed in the root's
    ``cgroup.controllers``.  ``own`` is the calling process's cgroup in it,
    relative to ``mountpoint`` ("/" when at the root or not visible).
    """

    mountpoint: str
    controllers: Tuple[str, ...]
    root: str = "/"
    own: str = "/"

    def dir(self, path: str) -> str:
        """The directory of cgroup ``path`` (relative to the mount root)."""
        return posixpath.join(self.mountpoint, path.strip("/")) if path.strip("/") else self.mountpoint

    @property
    def name(self) -> str:
        return ",".join(self.controllers) or posixpath.basename(self.mountpoint)


@attrs.frozen
class Layout:
    """The v1 hierarchies and the cgroup2 mount of a host."""

    v1: Tuple[Hierarchy, ...] = ()
    unified: Optional[Hierarchy] = None

    @property
    def kind(self) -> str:
        """``"v1"``, ``"v2"`` or ``"hybrid"``."""
        has_v1 = any(c in V1_CONTROLLERS for h in self.v1 for c in h.controllers)
        if self.unified is None:
            return "v1"
        return "hybrid" if has_v1 else "v2"

    def only(self, controllers: Tuple[str, ...]) -> Layout:
        """This layout with just the v1 hierarchies of ``controllers`` (the
        cgroup2 mount stays: it tracks, freezes and kills the processes)."""
        wanted = set(controllers)
        return attrs.evolve(self, v1=tuple(h for h in self.v1 if wanted & set(h.controllers)))

    def v1_for(self, controller: str) -> Optional[Hierarchy]:
        """The v1 hierarchy ``controller`` is bound to, if any."""
        for h in self.v1:
            if controller in h.controllers:
                return h
        return None

    def v2_has(self, controller: str) -> bool:
        return self.unified is not None and controller in self.unified.controllers

    def only_v1(self) -> Layout:
        """This layout without the cgroup2 mount (what the fs1 manager uses)."""
        return attrs.evolve(self, unified=None)

    def only_v2(self) -> Layout:
        """This layout without the v1 hierarchies (what the fs2 manager uses)."""
        return attrs.evolve(self, v1=())


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


def parse_layout(mountinfo: str, proc_cgroup: str = "", unified_controllers: str = "") -> Layout:
    """The layout described by mountinfo text.

    A hierarchy mounted more than once (same device number) is taken once,
    preferring the mount of its root.  ``unified_controllers`` is the content
    of the cgroup2 root's ``cgroup.controllers``.
    """
    own_v1, own_v2 = _own_paths(proc_cgroup)
    by_dev: Dict[str, Tuple[str, str, Tuple[str, ...]]] = {}
    unified: Optional[Tuple[str, str]] = None
    order: List[str] = []
    for line in mountinfo.splitlines():
        fields = line.split()
        if "-" not in fields:
            continue
        sep = fields.index("-")
        if len(fields) < sep + 4 or sep < 5:
            continue
        dev, root, mountpoint = fields[2], _unescape(fields[3]), _unescape(fields[4])
        fstype, options = fields[sep + 1], fields[sep + 3].split(",")
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
    v1 = []
    for dev in order:
        mountpoint, root, controllers = by_dev[dev]
        own = next((own_v1[c] for c in controllers if c in own_v1), None)
        v1.append(Hierarchy(mountpoint, controllers, root, _visible(own, root)))
    u = None
    if unified is not None:
        u = Hierarchy(unified[0], tuple(unified_controllers.split()), unified[1], _visible(own_v2, unified[1]))
    return Layout(tuple(v1), u)


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError as e:
        raise CgroupError("cannot read", path=path, errno=e.errno) from e


def detect() -> Layout:
    """The layout of this host, as the calling process sees it."""
    layout = parse_layout(_read("/proc/self/mountinfo"), _read("/proc/self/cgroup"))
    if layout.unified is not None:
        controllers = _read(posixpath.join(layout.unified.mountpoint, "cgroup.controllers"))
        layout = attrs.evolve(layout, unified=attrs.evolve(layout.unified, controllers=tuple(controllers.split())))
    if not layout.v1 and layout.unified is None:
        raise CgroupError("no cgroup file system is mounted", path="/proc/self/mountinfo")
    return layout
