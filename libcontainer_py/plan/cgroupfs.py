"""Planning a ``Mount.cgroup``: the container's own cgroups, laid out as the
host lays them out (runc's mount type "cgroup").

Everything is decided here, from the host's layout and the container's
cgroup directories, and made of plain MOUNT and SYMLINK steps:

- a host with cgroup v2 only: a cgroup2 mount; in a user namespace without
  a cgroup namespace, where the kernel refuses that mount (it needs
  CAP_SYS_ADMIN over the cgroup namespace's user namespace), a recursive
  bind of the container's own cgroup2 directory instead;
- a v1 or hybrid host: a tmpfs, then for each v1 hierarchy a directory
  named as the host's mount point ("memory", "cpu,cpuacct", "systemd"),
  holding the hierarchy mounted in the container's cgroup namespace (whose
  root is the container's cgroup) or, without one, a bind of the
  container's directory of that hierarchy; a symlink for each controller of
  a co-mounted hierarchy ("cpu" -> "cpu,cpuacct"); the tmpfs made read-only
  last when the mount is.  The cgroup2 mount of a hybrid host is left out,
  as runc leaves it out.
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Dict, List, Mapping, Optional

from ..config import Config
from ..mounts import MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REC, Mount
from . import ops
from .steps import Step

if TYPE_CHECKING:
    from ..cgroups.layout import Hierarchy, Layout

MS_REMOUNT = 0x20
#: The flags runc gives its cgroup tmpfs and the hierarchies it mounts.
_DEFAULT_FLAGS = MS_NOSUID | MS_NODEV | MS_NOEXEC


def container_cgroup_dirs(used: Layout, path: str) -> Dict[str, str]:
    """Mount point -> the directory of cgroup ``path`` in each hierarchy of
    ``used`` (the hierarchies the container's cgroup is made in); the
    planner takes the caller's own cgroup for the others."""
    hierarchies = list(used.v1) + ([used.unified] if used.unified is not None else [])
    return {h.mountpoint: h.dir(path) for h in hierarchies}


def _own_dir(h: Hierarchy, dirs: Mapping[str, str]) -> str:
    # Where the container's processes are in this hierarchy: its own cgroup,
    # or, where it has none, the cgroup of the caller they stay in.
    return dirs.get(h.mountpoint) or h.dir(h.own)


def cgroup_mount_steps(m: Mount, config: Config, layout: Optional[Layout], dirs: Mapping[str, str]) -> List[Step]:
    """The steps of one ``Mount.cgroup`` (see the module docstring)."""
    ns = config.namespaces
    cgroupns = ns.cgroup is not False
    userns = ns.user is not False
    if layout is not None and layout.kind == "v2":
        assert layout.unified is not None
        if userns and not cgroupns:
            return [_bind(m, _own_dir(layout.unified, dirs), m.destination, "bind the container's cgroup2 directory")]
        return [
            ops.mount(
                "mount cgroup2",
                m.destination,
                source=m.source or "cgroup",
                fstype="cgroup2",
                mflags=m.mount_flags(),
                propagation=m.propagation_flags(),
            )
        ]
    steps = [
        ops.mount(
            "mount the cgroup tmpfs",
            m.destination,
            source="tmpfs",
            fstype="tmpfs",
            data="mode=755",
            mflags=_DEFAULT_FLAGS,
            propagation=m.propagation_flags(),
        )
    ]
    hierarchies = layout.v1 if layout is not None else ()
    names = [posixpath.basename(h.mountpoint.rstrip("/")) for h in hierarchies]
    for h, name in zip(hierarchies, names):
        target = posixpath.join(m.destination, name)
        if cgroupns:
            steps.append(
                ops.mount(
                    f"mount the cgroup hierarchy {name}",
                    target,
                    source="cgroup",
                    fstype="cgroup",
                    data=",".join(h.controllers),
                    mflags=_DEFAULT_FLAGS | (m.mount_flags() & ~(MS_BIND | MS_REC)),
                )
            )
        else:
            steps.append(_bind(m, _own_dir(h, dirs), target, f"bind the container's cgroup of {name}"))
    for name in names:
        if "," not in name:
            continue
        for part in name.split(","):
            if part and part not in names:
                link = posixpath.join(m.destination, part)
                steps.append(ops.symlink("link a co-mounted cgroup controller", name, link))
    if m.readonly:
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY | _DEFAULT_FLAGS
        steps.append(ops.mount("make the cgroup tmpfs read-only", m.destination, mflags=flags))
    return steps


def _bind(m: Mount, source: str, destination: str, what: str) -> Step:
    return ops.bind(
        what,
        source,
        destination,
        is_file=False,
        readonly=False,
        recursive=True,
        attrs_set=m.bind_attributes(),
        remount=m.mount_flags() & ~(MS_BIND | MS_REC),
        propagation=m.propagation_flags(),
    )
