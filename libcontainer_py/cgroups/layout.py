"""The host's cgroup layout: v1 hierarchies, the cgroup2 mount, and where we are in each.

:func:`parse_layout` is pure (it takes the text of /proc/self/mountinfo,
/proc/self/cgroup and the unified root's cgroup.controllers), so unit tests
feed it v1-only, v2-only and hybrid samples; :func:`detect` reads the real files.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Optional, Tuple

import attrs

from ._ops import (
    V1_CONTROLLERS,
    hierarchy_dir,
    hierarchy_name,
    host_mounts,
    layout_kind,
    parse_mounts,
    unified_needed,
)

if TYPE_CHECKING:
    from ._ops import MountTuple

__all__ = ["V1_CONTROLLERS", "Hierarchy", "Layout", "detect", "parse_layout"]


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
        return hierarchy_dir(self.mountpoint, path)

    @property
    def name(self) -> str:
        return hierarchy_name(self.mountpoint, self.controllers)


@attrs.frozen
class Layout:
    """The v1 hierarchies and the cgroup2 mount of a host."""

    v1: Tuple[Hierarchy, ...] = ()
    unified: Optional[Hierarchy] = None
    #: Made by only(): the host may have controllers this layout leaves out.
    partial: bool = False

    @property
    def kind(self) -> str:
        """``"v1"``, ``"v2"`` or ``"hybrid"``."""
        return layout_kind(self.v1, self.unified)

    def only(self, controllers: Tuple[str, ...]) -> Layout:
        """This layout with just the v1 hierarchies of ``controllers``, and
        of the cgroup2 controllers just those they need (the cgroup2 mount
        stays: it tracks, freezes and kills the processes)."""
        wanted = set(controllers)
        unified = self.unified
        if unified is not None:
            unified = attrs.evolve(unified, controllers=unified_needed(controllers, unified.controllers))
        v1 = tuple(h for h in self.v1 if wanted & set(h.controllers))
        return attrs.evolve(self, v1=v1, unified=unified, partial=True)

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


def parse_layout(mountinfo: str, proc_cgroup: str = "", unified_controllers: str = "") -> Layout:
    """The layout described by mountinfo text.

    A hierarchy mounted more than once (same device number) is taken once,
    preferring the mount of its root.  ``unified_controllers`` is the content
    of the cgroup2 root's ``cgroup.controllers``.
    """
    v1, unified = parse_mounts(mountinfo, proc_cgroup, unified_controllers)
    return Layout(tuple(Hierarchy(*m) for m in v1), Hierarchy(*unified) if unified is not None else None)


def detect() -> Layout:
    """The layout of this host, as the calling process sees it."""
    global _last
    found = host_mounts()
    last = _last
    if last is not None and last[0] == found:
        return last[1]  # frozen: the same hierarchies make the same Layout
    v1, unified = found
    layout = Layout(tuple(Hierarchy(*m) for m in v1), Hierarchy(*unified) if unified is not None else None)
    _last = (found, layout)
    return layout


#: What detect() found last and made of it.
_last: Optional[Tuple[Tuple[List[MountTuple], Optional[MountTuple]], Layout]] = None
