"""One run's cgroup: ``<the box's cgroup>/run-<n>``, made fresh for each
run in the hierarchies that limit and count it (memory, pids, cpuacct on
v1; the cgroup2 mount), with the run's memory and pids limits.

Fresh rather than reused: a cgroup keeps the charge of the pages its
processes left (tmpfs files in the box, page cache), which would count
against the next run's memory limit; making and removing one costs about
0.3 ms.  The run's process joins it itself, before the run (the
cgroup.procs files are handed to the box's server ahead: see
_server.BoxServer.prepare).
"""

from __future__ import annotations

import errno
import os
import time
from typing import List, Optional

from .._kernelfile import write_kernel_file
from ._kernel import CgroupWatch, Usage
from ._places import Places
from .errors import SandboxError
from .limits import Limits


def box_parents(places: Places) -> List[str]:
    """Make the box's cgroup (``places``) where its runs' cgroups go and
    the box's container did not make it (its own is in the devices
    hierarchy and cgroup2 only); the directories made, for
    remove_parents().  A dead owner's are removed with the box's cgroup
    (_owners records its path, and destroying it covers every hierarchy)."""
    made: List[str] = []
    try:
        for d in places.dirs:
            for parent in (os.path.dirname(d), d):
                try:
                    os.mkdir(parent, 0o755)
                    made.append(parent)
                except FileExistsError:
                    pass
    except OSError as exc:
        remove_parents(made)
        raise SandboxError(f"cannot make the box's cgroup {places.dirs}: {exc}") from exc
    return made


def remove_parents(made: List[str]) -> None:
    """Remove what box_parents() made, deepest first; a shared parent
    (libcontainer_py/) that another container uses meanwhile stays."""
    depth = max((p.count("/") for p in made), default=0)
    for d in sorted(made, key=lambda p: -p.count("/")):
        if d.count("/") == depth:
            _rmdir(d)
            continue
        try:
            os.rmdir(d)
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ENOTEMPTY, errno.EBUSY):
                raise SandboxError(f"cannot remove the cgroup {d}: {exc.strerror}") from exc


def v2_controllers(places: Places, server: int) -> None:
    """Where memory or pids are cgroup2 controllers, the runs' cgroups
    need them enabled in the box's (its cgroup.subtree_control), which
    cgroup2 allows only once no process is in it: the box's PID 1
    (``server``) moves to a leaf, ``<box>/server``, first.  Nothing to do
    on v1 and hybrid hosts (this one)."""
    wanted = [name for name, v1 in (("memory", places.memory_v1), ("pids", places.pids_v1)) if not v1]
    wanted = [name for name in wanted if getattr(places, name) is not None]
    if not wanted or places.unified is None:
        return
    try:
        os.mkdir(f"{places.unified}/server", 0o755)
        write_kernel_file(f"{places.unified}/server/cgroup.procs", str(server))
        write_kernel_file(f"{places.unified}/cgroup.subtree_control", " ".join(f"+{name}" for name in wanted))
    except OSError as exc:
        raise SandboxError(f"cannot give the runs of the box {places.unified} their {wanted}: {exc}") from exc


class RunCgroup:
    """A run's cgroup at ``places``: made and watched by the constructor,
    before the run; ``procs_fds`` are the cgroup.procs files the run's
    process writes itself into; its limits are set by limit(), when the
    run comes."""

    def __init__(self, places: Places) -> None:
        self.places = places
        self._made: List[str] = []
        self.procs_fds: List[int] = []
        self.watch: Optional[CgroupWatch] = None
        try:
            for d in places.dirs:
                os.mkdir(d, 0o755)
                self._made.append(d)
            self.procs_fds = [os.open(f"{d}/cgroup.procs", os.O_WRONLY | os.O_CLOEXEC) for d in places.dirs]
            self.watch = CgroupWatch(places)
        except OSError as exc:
            self.remove()
            raise SandboxError(f"cannot make the run's cgroup {places.dirs}: {exc}") from exc
        except BaseException:
            self.remove()
            raise

    def limit(self, limits: Limits) -> None:
        """Set the run's memory and pids limits (its process is in, waiting)."""
        places = self.places
        if limits.memory is not None and places.memory is not None:
            memory = str(limits.memory)
            if places.memory_v1:
                write_kernel_file(f"{places.memory}/memory.limit_in_bytes", memory)
                if os.path.exists(f"{places.memory}/memory.memsw.limit_in_bytes"):  # swap off: memory+swap = memory
                    write_kernel_file(f"{places.memory}/memory.memsw.limit_in_bytes", memory)
            else:
                write_kernel_file(f"{places.memory}/memory.max", memory)
                if os.path.exists(f"{places.memory}/memory.swap.max"):
                    write_kernel_file(f"{places.memory}/memory.swap.max", "0")
        if limits.pids is not None and places.pids is not None:
            write_kernel_file(f"{places.pids}/pids.max", str(limits.pids))

    def close_procs_fds(self) -> None:
        fds, self.procs_fds = self.procs_fds, []
        for fd in fds:
            os.close(fd)

    def kill_now(self) -> bool:
        """SIGKILL every process of the cgroup at once (cgroup.kill); False
        where there is none (the server then kills them)."""
        if self.places.unified is None:
            return False
        try:
            write_kernel_file(f"{self.places.unified}/cgroup.kill", "1")
        except FileNotFoundError:
            return False
        return True

    def usage(self) -> Usage:
        assert self.watch is not None
        return self.watch.usage()

    def close_fds(self) -> None:
        """Close what is open of it (its counters are read); idempotent."""
        self.close_procs_fds()
        if self.watch is not None:
            self.watch.close()
            self.watch = None

    def remove(self) -> None:
        """Remove the (empty) cgroup; idempotent."""
        self.close_fds()
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
                raise SandboxError(f"cannot remove the cgroup {d}: {exc.strerror}") from exc
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
