"""CPU time of a run without a cgroup (an unprivileged user with no
delegated cgroup): what the box's server reaped (struct rusage of each
process it reaped, with what that one reaped: µs, exact), plus what the
live processes of the box used so far (each one's CPU clock, ns, and the
children it reaped, which /proc counts in clock ticks).

Once the run is over the server has reaped everything, so the final count
is the exact one; during the run it is off by at most a tick per live
process that reaped children, which only moves the moment a CPU limit is
acted on, never the verdict's number.
"""

from __future__ import annotations

import os
import time
from typing import Iterator, List, Tuple

from ._kernel import Usage
from ._region import Region

_TICK_NS = 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def _clock(pid: int) -> int:
    """The CPU-time clock of a process (clock_getcpuclockid: every thread)."""
    return ((~pid) << 3) | 2


def _children(pid: int) -> List[int]:
    out: List[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                out.extend(int(p) for p in f.read().split())
        except OSError:
            continue
    return out


def _descendants(pid: int) -> Iterator[int]:
    todo = _children(pid)
    while todo:
        child = todo.pop()
        yield child
        todo.extend(_children(child))


def _live_ns(pid: int) -> int:
    """A live process's own CPU time and that of the children it reaped."""
    try:
        own = time.clock_gettime_ns(_clock(pid))
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return 0  # gone meanwhile: its time is its reaper's now
    return own + (int(fields[13]) + int(fields[14])) * _TICK_NS  # cutime, cstime


class TreeClock:
    """The CPU time of the processes of a box (below ``server``) since
    this object was made (the start of a run)."""

    def __init__(self, server: int, region: Region) -> None:
        self._server, self._region = server, region
        self._base = region.reaped_usec()

    def _reaped(self) -> Tuple[int, int]:
        user, system = self._region.reaped_usec()
        return (user - self._base[0]) * 1000, (system - self._base[1]) * 1000

    def cpu_ns(self) -> int:
        return sum(self._reaped()) + sum(_live_ns(p) for p in _descendants(self._server))

    def usage(self) -> Usage:
        """Once the run is over (everything reaped): exact."""
        user, system = self._reaped()
        return Usage(user + system, user, system)
