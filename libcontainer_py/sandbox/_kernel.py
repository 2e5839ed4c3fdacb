"""What the kernel reports about a run's cgroup, read through open fds:
its CPU time, its OOM kills and pids-limit hits, its memory high-water
mark, and the fds to wait on for them (an eventfd on v1's
memory.oom_control, inotify on v2's event files)."""

from __future__ import annotations

import ctypes
import os
from typing import List, Optional, Tuple

import attrs

from ..cgroups import Layout

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


def _flat(raw: bytes) -> dict[str, int]:
    out = {}
    for line in raw.decode().splitlines():
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            out[key] = int(value)
    return out


def _pread(fd: int) -> bytes:
    return os.pread(fd, 4096, 0)


class CgroupWatch:
    """The kernel's counters of one cgroup, and fds that become readable
    when they change.  ``wake_fds`` go to epoll; ``pids_needs_polling`` is
    True where the kernel does not notify pids-limit hits (v1)."""

    def __init__(self, layout: Layout, path: str) -> None:
        self._fds: List[int] = []
        self.wake_fds: List[int] = []
        self._oom_fd, self._pids_fd, self._peak_fd = -1, -1, -1
        self._user_sys_fds: Tuple[int, int] = (-1, -1)
        self.pids_needs_polling = False
        self._inotify = -1
        try:
            self._cpu_fd, self._cpu_v2 = self._cpu_files(layout, path)
            self._memory_files(layout, path)
            pids = layout.v1_for("pids")
            if pids is not None:
                self._pids_fd = self._open(os.path.join(pids.dir(path), "pids.events"))
                self.pids_needs_polling = True  # v1 pids.events is never notified (measured)
            elif layout.v2_has("pids"):
                self._pids_fd = self._watched(os.path.join(self._v2(layout, path), "pids.events"))
        except BaseException:
            self.close()
            raise

    def _memory_files(self, layout: Layout, path: str) -> None:
        memory = layout.v1_for("memory")
        if memory is not None:
            d = memory.dir(path)
            self._oom_fd = self._open(os.path.join(d, "memory.oom_control"))
            self._peak_fd = self._open(os.path.join(d, "memory.max_usage_in_bytes"))
            efd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
            self._fds.append(efd)
            with open(os.path.join(d, "cgroup.event_control"), "w") as f:
                f.write(f"{efd} {self._oom_fd}")
            self.wake_fds.append(efd)
        elif layout.v2_has("memory"):
            d = self._v2(layout, path)
            self._oom_fd = self._watched(os.path.join(d, "memory.events"))
            if os.path.exists(os.path.join(d, "memory.peak")):
                self._peak_fd = self._open(os.path.join(d, "memory.peak"))

    @staticmethod
    def _v2(layout: Layout, path: str) -> str:
        assert layout.unified is not None
        return layout.unified.dir(path)

    def _cpu_files(self, layout: Layout, path: str) -> Tuple[int, bool]:
        acct = layout.v1_for("cpuacct")
        if acct is not None:
            d = acct.dir(path)
            user, system = (os.path.join(d, f"cpuacct.usage_{k}") for k in ("user", "sys"))
            if os.path.exists(user) and os.path.exists(system):
                self._user_sys_fds = (self._open(user), self._open(system))
            return self._open(os.path.join(d, "cpuacct.usage")), False
        return self._open(os.path.join(self._v2(layout, path), "cpu.stat")), True

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
        raw = _pread(self._cpu_fd)
        if self._cpu_v2:
            return _flat(raw).get("usage_usec", 0) * 1000
        return int(raw)

    def oom_kills(self) -> int:
        if self._oom_fd < 0:
            return 0
        return _flat(_pread(self._oom_fd)).get("oom_kill", 0)

    def pids_max_hits(self) -> int:
        if self._pids_fd < 0:
            return 0
        return _flat(_pread(self._pids_fd)).get("max", 0)

    def usage(self) -> Usage:
        """Everything the run used, once it is over."""
        cpu = self.cpu_ns()
        if self._cpu_v2:
            stat = _flat(_pread(self._cpu_fd))
            user, system = stat.get("user_usec", 0) * 1000, stat.get("system_usec", 0) * 1000
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
