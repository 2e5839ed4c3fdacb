"""The bridge to the C extension: a Plan becomes C structs, kept alive here."""

from __future__ import annotations

import mmap
import os

from ._lcnative import ffi, lib

TYPE_CHECKING = False  # not typing's: see _shortcuts.py (the light exec imports this module)
if TYPE_CHECKING:
    from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

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
        a.n_early_keep = len(early)
        # MAP_SHARED and written once here, so that the child's copy is the
        # same page and writing it costs the child no memory.
        self._report_page = mmap.mmap(-1, mmap.PAGESIZE)
        self._report_page.write(bytes(ffi.sizeof("struct lc_msg")))
        self._report = ffi.cast("struct lc_msg *", self._own(ffi.from_buffer(self._report_page)))
        a.report = self._report
        self.args = a

    def failed_step(self) -> Optional[Tuple[int, int, int]]:
        """(step, errno, stage) of a step the child reported failed in the
        shared page, or None."""
        r = self._report
        if r.kind != lib.LC_MSG_ERROR:
            return None
        return int(r.step), int(r.err), int(r.value)

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


def spawn(args: NativeArgs, *, from_parent_thread: bool = False) -> Tuple[int, int]:
    """Clone the child; returns (pid, pidfd or -1).  Raises OSError.
    ``from_parent_thread``: clone from a thread that never exits (for a
    child that dies with the thread that cloned it: _parents.py)."""
    if from_parent_thread:
        from ._parents import call_in_parent_thread

        return call_in_parent_thread(lambda: _clone(args), _kill_and_reap)
    return _clone(args)


def _clone(args: NativeArgs) -> Tuple[int, int]:
    pidfd = ffi.new("int *", -1)
    pid = lib.lc_spawn(args.args, pidfd)
    if pid < 0:
        err = ffi.errno
        raise OSError(err, os.strerror(err))
    return pid, pidfd[0]


def _kill_and_reap(spawned: Tuple[int, int]) -> None:
    pid, pidfd = spawned
    try:
        os.kill(pid, 9)  # SIGKILL (the signal module is not loaded here)
        os.waitpid(pid, 0)
    except OSError:
        pass
    if pidfd >= 0:
        os.close(pidfd)


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
