"""Typed statistics and events of a cgroup.

A field is None when this host's layout has no file for it (for example
per-cpu usage on v2, or hugetlb when no hierarchy offers it).  Limits are
None for "no limit".
"""

from __future__ import annotations

from typing import Mapping, Optional, Tuple

import attrs


@attrs.frozen
class MemoryStats:
    """Memory usage in bytes.

    ``failcnt`` counts hits of the limit (v1 ``memory.failcnt`` +
    ``memory.memsw.failcnt``: a failed charge counts at one of them; v2 the
    ``max`` count of ``memory.events``); ``oom_kills`` processes killed by the
    OOM killer in this cgroup (v1 ``oom_kill`` of ``memory.oom_control``, v2
    ``oom_kill`` of ``memory.events``); ``oom_events`` times the cgroup went
    out of memory (v2 ``oom``; v1 has no counter: None).
    """

    usage: int
    peak: Optional[int]
    limit: Optional[int]
    failcnt: int
    oom_kills: int
    oom_events: Optional[int] = None
    swap_usage: Optional[int] = None
    stat: Mapping[str, int] = attrs.field(factory=dict)


@attrs.frozen
class CpuStats:
    """CPU time in nanoseconds; throttling from the CFS bandwidth controller."""

    usage_ns: int
    user_ns: Optional[int]
    system_ns: Optional[int]
    per_cpu_ns: Optional[Tuple[int, ...]]
    periods: int = 0
    throttled_periods: int = 0
    throttled_ns: int = 0


@attrs.frozen
class PidsStats:
    """How many tasks the cgroup holds, and its limit."""

    current: int
    limit: Optional[int]


@attrs.frozen
class IODeviceStats:
    """Bytes and operations read and written on one block device (major:minor)."""

    major: int
    minor: int
    read_bytes: int = 0
    write_bytes: int = 0
    read_ops: int = 0
    write_ops: int = 0


@attrs.frozen
class HugetlbStats:
    """Huge pages of one size in bytes: as MemoryStats, ``failcnt`` counts
    hits of the limit."""

    usage: int
    peak: Optional[int]
    limit: Optional[int]
    failcnt: int


@attrs.frozen
class Stats:
    """A snapshot of a cgroup's accounting.  ``hugetlb`` is keyed by page size ("2MB")."""

    def __repr__(self) -> str:
        """The headline figures; the details are in the fields."""
        parts = []
        if self.memory is not None:
            peak = f" (peak {self.memory.peak} B)" if self.memory.peak is not None else ""
            parts.append(f"memory={self.memory.usage} B{peak}")
            if self.memory.oom_kills:
                parts.append(f"oom_kills={self.memory.oom_kills}")
        if self.cpu is not None:
            parts.append(f"cpu={self.cpu.usage_ns / 1e9:.3f} s")
        if self.pids is not None:
            parts.append(f"pids={self.pids.current}")
        if self.io:
            parts.append(
                f"io={sum(d.read_bytes for d in self.io)} B read, {sum(d.write_bytes for d in self.io)} B written"
            )
        if self.hugetlb:
            parts.append(f"hugetlb={sorted(self.hugetlb)}")
        return f"<Stats {' '.join(parts) or 'no accounting'}>"

    def _repr_html_(self) -> str:
        """The headline figures as a table (for notebooks)."""
        from .._html import stats_rows, table

        return table("Stats", stats_rows(self))

    memory: Optional[MemoryStats] = None
    cpu: Optional[CpuStats] = None
    pids: Optional[PidsStats] = None
    io: Tuple[IODeviceStats, ...] = ()
    hugetlb: Mapping[str, HugetlbStats] = attrs.field(factory=dict)


@attrs.frozen
class Event:
    """Something that happened to the cgroup since the previous reading.

    ``kind``: ``"oom_kill"`` (a process was killed by the OOM killer),
    ``"oom"`` (the cgroup ran out of memory; v2), ``"max"`` (memory usage hit
    the limit: v1 failcnt, v2 memory.events max), ``"high"`` (v2 memory.high
    was exceeded: memory pressure), ``"pids_max"`` (a fork failed at pids.max).
    ``count`` is how many times since the previous event of that kind.
    """

    kind: str
    count: int
