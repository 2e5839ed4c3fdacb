"""The bridge to the C extension: a Plan becomes C structs, kept alive here."""

from __future__ import annotations

import os
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from ._lcnative import ffi, lib
from .plan import Plan

_MAX_FD = os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 1024


class NativeArgs:
    """struct lc_spawn_args for one spawn, owning every buffer it points to."""

    def __init__(
        self,
        plan: Plan,
        *,
        sync_fd: int,
        stdio: Tuple[int, int, int],
        pass_fds: Sequence[int],
        opened: Dict[int, int],
        cgroup_fd: int = -1,
    ) -> None:
        self._owned: List[Any] = []
        steps = ffi.new("struct lc_step[]", len(plan.steps))
        for i, s in enumerate(plan.steps):
            c = steps[i]
            c.op = int(s.op)
            c.flags = s.flags
            c.mflags = s.mflags
            c.n1 = opened.get(i, s.n1)
            c.n2 = s.n2
            c.n3 = s.n3
            c.s1 = self._str(s.s1)
            c.s2 = self._str(s.s2)
            c.s3 = self._str(s.s3)
            c.s4 = self._str(s.s4)
            c.slot = s.slot
            if s.gids:
                c.buf = self._own(ffi.new("unsigned int[]", list(s.gids)))
                c.buflen = len(s.gids)
            elif s.data:
                c.buf = self._own(ffi.new("char[]", s.data))
                c.buflen = len(s.data)
        self._owned.append(steps)
        keep = sorted(set(pass_fds))
        early = sorted(
            {0, 1, 2, sync_fd, *keep, *(fd for fd in stdio if fd >= 0), *opened.values()}
            | ({cgroup_fd} if cgroup_fd >= 0 else set())
        )
        a = ffi.new("struct lc_spawn_args *")
        a.clone_flags = plan.clone_flags
        a.cgroup_fd = cgroup_fd
        a.vfork = int(plan.shares_memory)
        a.sync_fd = sync_fd
        a.steps = steps
        a.nsteps = len(plan.steps)
        a.stdio = list(stdio)
        a.keep_fds = self._own(ffi.new("int[]", keep)) if keep else ffi.NULL
        a.nkeep = len(keep)
        a.argv = self._strv(plan.argv)
        a.envp = self._strv(plan.envp)
        a.exec_paths = self._strv(plan.exec_paths)
        a.nexec = len(plan.exec_paths)
        a.max_fd = _MAX_FD
        if plan.slots:
            a.slots = self._own(ffi.new("int[]", [-1] * plan.slots))
        a.nslots = plan.slots
        a.early_keep = self._own(ffi.new("int[]", early))
        a.nearly = len(early)
        self.args = a

    def _own(self, obj: Any) -> Any:
        self._owned.append(obj)
        return obj

    def _str(self, value: Optional[str]) -> Any:
        if value is None:
            return ffi.NULL
        return self._own(ffi.new("char[]", os.fsencode(value)))

    def _strv(self, values: Iterable[str]) -> Any:
        items = [self._str(v) for v in values]
        return self._own(ffi.new("char *[]", items + [ffi.NULL]))


def spawn(args: NativeArgs) -> Tuple[int, int]:
    """Clone the child; returns (pid, pidfd or -1).  Raises OSError."""
    pidfd = ffi.new("int *", -1)
    pid = lib.lc_spawn(args.args, pidfd)
    if pid < 0:
        err = ffi.errno
        raise OSError(err, os.strerror(err))
    return pid, pidfd[0]


def pidfd_open(pid: int) -> int:
    fd = lib.lc_pidfd_open(pid)
    if fd < 0:
        err = ffi.errno
        raise OSError(err, os.strerror(err))
    return int(fd)


def pidfd_getfd(pidfd: int, fd: int) -> int:
    """A close-on-exec copy of fd ``fd`` of the process of ``pidfd``."""
    copy = lib.lc_pidfd_getfd(pidfd, fd)
    if copy < 0:
        err = ffi.errno
        raise OSError(err, os.strerror(err))
    return int(copy)


def pidfd_send_signal(pidfd: int, sig: int) -> None:
    if lib.lc_pidfd_send_signal(pidfd, sig) < 0:
        err = ffi.errno
        raise OSError(err, os.strerror(err))


def constant(name: str) -> int:
    """An LC_* constant of the C header (tests compare them with plan.Op)."""
    return int(getattr(lib, name))
