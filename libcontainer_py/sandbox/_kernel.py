"""What the kernel reports about a run's cgroup, read through open fds:
its CPU time, its OOM kills and pids-limit hits, its memory high-water
mark, and the fds to wait on for them (an eventfd on v1's
memory.oom_control, inotify on v2's event files)."""

from __future__ import annotations

import ctypes
import os
from typing import List, Optional, Tuple

import attrs

from .._kernelfile import write_kernel_file
from ._places import Places

_libc = ctypes.CDLL(None, use_errno=True)
_IN_MODIFY = 0x2


@attrs.frozen
class Usage:
    """What a run used: CPU time (ns; all of it, then user and system), the
    memory high-water mark (None: not counted) and the OOM kills."""

    cpu_ns: int
    user_ns: int
    sys_ns: int
    memory_peak: Optional[int] = None
    oom_kills: int = 0


def _flat(raw: bytes) -> dict[bytes, int]:
    """``key value`` lines (memory.oom_control, pids.events, cpu.stat)."""
    out = {}
    for line in raw.split(b"\n"):
        key, _, value = line.partition(b" ")
        if value.isdigit():
            out[key] = int(value)
    return out


def _pread(fd: int) -> bytes:
    return os.pread(fd, 4096, 0)


class CgroupWatch:
    """The kernel's counters of one cgroup (its ``Places``), and fds that
    become readable when they change.  ``wake_fds`` go to epoll;
    ``pids_needs_polling`` is True where the kernel does not notify
    pids-limit hits (v1)."""

    def __init__(self, places: Places) -> None:
        self._fds: List[int] = []
        self.wake_fds: List[int] = []
        self._cpu_fd, self._oom_fd, self._pids_fd, self._peak_fd = -1, -1, -1, -1
        self._user_sys_fds: Tuple[int, int] = (-1, -1)
        self._cpu_v2 = not places.cpu_v1
        self.pids_needs_polling = False
        self._inotify = -1
        try:
            if places.cpu is not None:
                self._cpu_files(places.cpu)
            if places.memory is not None:
                self._memory_files(places.memory, places.memory_v1)
            if places.pids is not None and places.pids_v1:
                self._pids_fd = self._open(f"{places.pids}/pids.events")
                self.pids_needs_polling = True  # v1 pids.events is never notified (measured)
            elif places.pids is not None:
                self._pids_fd = self._watched(f"{places.pids}/pids.events")
        except BaseException:
            self.close()
            raise

    def _memory_files(self, d: str, v1: bool) -> None:
        if v1:
            self._oom_fd = self._open(f"{d}/memory.oom_control")
            self._peak_fd = self._open(f"{d}/memory.max_usage_in_bytes")
            efd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
            self._fds.append(efd)
            write_kernel_file(f"{d}/cgroup.event_control", f"{efd} {self._oom_fd}")
            self.wake_fds.append(efd)
        else:
            self._oom_fd = self._watched(f"{d}/memory.events")
            if os.path.exists(f"{d}/memory.peak"):
                self._peak_fd = self._open(f"{d}/memory.peak")

    def _cpu_files(self, d: str) -> None:
        if self._cpu_v2:
            self._cpu_fd = self._open(f"{d}/cpu.stat")
            return
        self._cpu_fd = self._open(f"{d}/cpuacct.usage")
        try:
            self._user_sys_fds = (self._open(f"{d}/cpuacct.usage_user"), self._open(f"{d}/cpuacct.usage_sys"))
        except FileNotFoundError:
            pass  # an old kernel: the time is not split

    def _open(self, path: str) -> int:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self._fds.append(fd)
        return fd

    def _watched(self, path: str) -> int:
        if self._inotify < 0:
            self._inotify = _libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
            if self._inotify < 0:
                err = ctypes.get_errno()
                raise OSError(err, os.strerror(err), "inotify_init1")
            self._fds.append(self._inotify)
            self.wake_fds.append(self._inotify)
        if _libc.inotify_add_watch(self._inotify, path.encode(), _IN_MODIFY) < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), path)
        return self._open(path)

    def drain(self, fd: int) -> None:
        """Consume a wake-up of ``fd`` (one of ``wake_fds``)."""
        try:
            os.read(fd, 4096 if fd == self._inotify else 8)
        except BlockingIOError:
            pass

    def cpu_ns(self) -> int:
        """CPU time of every process of the cgroup so far, in ns."""
        if self._cpu_fd < 0:
            return 0
        raw = _pread(self._cpu_fd)
        if self._cpu_v2:
            return _flat(raw).get(b"usage_usec", 0) * 1000
        return int(raw)

    def oom_kills(self) -> int:
        if self._oom_fd < 0:
            return 0
        return _flat(_pread(self._oom_fd)).get(b"oom_kill", 0)

    def pids_max_hits(self) -> int:
        if self._pids_fd < 0:
            return 0
        return _flat(_pread(self._pids_fd)).get(b"max", 0)

    def usage(self) -> Usage:
        """Everything the run used, once it is over."""
        cpu = self.cpu_ns()
        if self._cpu_v2 and self._cpu_fd >= 0:
            stat = _flat(_pread(self._cpu_fd))
            user, system = stat.get(b"user_usec", 0) * 1000, stat.get(b"system_usec", 0) * 1000
        elif self._user_sys_fds[0] >= 0:
            user, system = (int(_pread(fd)) for fd in self._user_sys_fds)
        else:
            user, system = 0, 0
        peak = int(_pread(self._peak_fd)) if self._peak_fd >= 0 else None
        return Usage(cpu, user, system, peak, self.oom_kills())

    def close(self) -> None:
        fds, self._fds = self._fds, []
        for fd in fds:
            os.close(fd)
