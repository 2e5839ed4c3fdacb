"""One run's cgroup: ``<the box's cgroup>/run-<n>``, made fresh for each
run in the hierarchies that limit and count it (memory, pids, cpuacct on
v1; the cgroup2 mount), with the run's memory and pids limits.

Fresh rather than reused: a cgroup keeps the charge of the pages its
processes left (tmpfs files in the box, page cache), which would count
against the next run's memory limit; making and removing one costs about
0.2 ms here (benchmarks/README.md).  The run's process joins it itself,
first thing (the cgroup.procs files are handed to the server ahead of the run: see
_server.BoxServer.prepare).
"""

from __future__ import annotations

import errno
import os
import time
from typing import List, Optional

from ..cgroups import Layout
from ._kernel import CgroupWatch, Usage
from .errors import SandboxError
from .limits import Limits

#: The v1 controllers a run's cgroup is made in (where the host has them).
_V1 = ("memory", "pids", "cpuacct")


def directories(layout: Layout, path: str) -> List[str]:
    """Where cgroup ``path`` of a run is, one directory per hierarchy it is in."""
    v1 = {h.mountpoint: h for h in (layout.v1_for(c) for c in _V1) if h is not None}
    dirs = [h.dir(path) for h in v1.values()]
    if layout.unified is not None:
        dirs.append(layout.unified.dir(path))
    return dirs


def _write(path: str, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


class RunCgroup:
    """A run's cgroup below ``box`` (the box's cgroup path) in ``layout``:
    made and watched by the constructor, before the run; ``procs_fds`` are
    the cgroup.procs files the run's process writes itself into; its
    limits are set by limit(), when the run comes."""

    def __init__(self, layout: Layout, box: str, number: int) -> None:
        self.path = f"{box}/run-{number}"
        self.layout = layout
        self._made: List[str] = []
        self.procs_fds: List[int] = []
        self.watch: Optional[CgroupWatch] = None
        dirs = directories(layout, self.path)
        try:
            for d in dirs:
                os.mkdir(d, 0o755)
                self._made.append(d)
            self.procs_fds = [os.open(os.path.join(d, "cgroup.procs"), os.O_WRONLY | os.O_CLOEXEC) for d in dirs]
            self.watch = CgroupWatch(layout, self.path)
        except OSError as exc:
            self.remove()
            raise SandboxError(f"cannot make the run's cgroup {self.path}: {exc}") from exc
        except BaseException:
            self.remove()
            raise

    def limit(self, limits: Limits) -> None:
        """Set the run's memory and pids limits (its process is in, waiting)."""
        layout = self.layout
        memory = layout.v1_for("memory")
        if limits.memory is not None and memory is not None:
            d = memory.dir(self.path)
            _write(os.path.join(d, "memory.limit_in_bytes"), str(limits.memory))
            memsw = os.path.join(d, "memory.memsw.limit_in_bytes")
            if os.path.exists(memsw):  # swap off: memory+swap = memory
                _write(memsw, str(limits.memory))
        elif limits.memory is not None and layout.v2_has("memory"):
            d = self._v2dir()
            _write(os.path.join(d, "memory.max"), str(limits.memory))
            if os.path.exists(os.path.join(d, "memory.swap.max")):
                _write(os.path.join(d, "memory.swap.max"), "0")
        pids = layout.v1_for("pids")
        if limits.pids is not None and pids is not None:
            _write(os.path.join(pids.dir(self.path), "pids.max"), str(limits.pids))
        elif limits.pids is not None and layout.v2_has("pids"):
            _write(os.path.join(self._v2dir(), "pids.max"), str(limits.pids))

    def _v2dir(self) -> str:
        assert self.layout.unified is not None
        return self.layout.unified.dir(self.path)

    def close_procs_fds(self) -> None:
        fds, self.procs_fds = self.procs_fds, []
        for fd in fds:
            os.close(fd)

    def kill_now(self) -> bool:
        """SIGKILL every process of the cgroup at once (cgroup.kill); False
        where there is none (the server then kills them)."""
        if self.layout.unified is None:
            return False
        try:
            _write(os.path.join(self._v2dir(), "cgroup.kill"), "1")
        except FileNotFoundError:
            return False
        return True

    def usage(self) -> Usage:
        assert self.watch is not None
        return self.watch.usage()

    def remove(self) -> None:
        """Remove the (empty) cgroup; idempotent."""
        self.close_procs_fds()
        if self.watch is not None:
            self.watch.close()
            self.watch = None
        made, self._made = self._made, []
        for d in reversed(made):
            _rmdir(d)


def _rmdir(d: str) -> None:
    """rmdir; the last processes of a run may still be leaving it (EBUSY)."""
    delay = 0.0005
    deadline = time.monotonic() + 5
    while True:
        try:
            os.rmdir(d)
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                raise SandboxError(f"cannot remove the run's cgroup {d}: {exc.strerror}") from exc
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
