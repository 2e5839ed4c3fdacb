"""Where a cgroup's files are, by what the sandbox reads and writes there:
memory, pids and CPU accounting (a v1 hierarchy each, or the cgroup2
mount), and the cgroup2 directory (cgroup.kill).  Worked out once per box
from the host's layout; a run's cgroup is the box's ``below("run-<n>")``.
"""

from __future__ import annotations

from typing import Optional, Tuple

import attrs

from ..cgroups import Layout


@attrs.frozen
class Places:
    """A cgroup's directory for each role (None: the host has no such
    accounting); ``*_v1`` says which file format is there."""

    memory: Optional[str] = None
    memory_v1: bool = True
    pids: Optional[str] = None
    pids_v1: bool = True
    cpu: Optional[str] = None
    cpu_v1: bool = True
    unified: Optional[str] = None

    @classmethod
    def of(cls, layout: Layout, path: str) -> Places:
        """The places of cgroup ``path`` (relative to the hierarchies' roots)."""
        unified = layout.unified.dir(path) if layout.unified is not None else None

        def role(controller: str, v2_too: bool) -> Tuple[Optional[str], bool]:
            h = layout.v1_for(controller)
            if h is not None:
                return h.dir(path), True
            return (unified, False) if v2_too else (None, False)

        memory, memory_v1 = role("memory", layout.v2_has("memory"))
        pids, pids_v1 = role("pids", layout.v2_has("pids"))
        cpu, cpu_v1 = role("cpuacct", unified is not None)  # cpu.stat is in every cgroup2 directory
        return cls(memory, memory_v1, pids, pids_v1, cpu, cpu_v1, unified)

    @property
    def dirs(self) -> Tuple[str, ...]:
        """Every directory, once."""
        found = (self.memory, self.pids, self.cpu, self.unified)
        return tuple(dict.fromkeys(d for d in found if d is not None))

    def below(self, name: str) -> Places:
        """The places of the child cgroup ``name``."""

        def child(d: Optional[str]) -> Optional[str]:
            return None if d is None else f"{d}/{name}"

        return attrs.evolve(
            self, memory=child(self.memory), pids=child(self.pids), cpu=child(self.cpu), unified=child(self.unified)
        )
