"""One run in a box: its stdio, its start, the watch to its end, the
verdict."""

from __future__ import annotations

import os
import time
from typing import Callable, Optional, Sequence, Tuple

import attrs

from ..errors import StepError
from ..plan import Step
from ._boxfiles import BoxFiles
from ._judge import judge
from ._monitor import Monitor, Stream
from ._proctime import TreeClock
from ._runcgroup import RunCgroup
from ._server import BoxServer
from .errors import SandboxError
from .limits import Limits
from .result import Result


@attrs.frozen
class Request:
    """What a run is: its process's steps, argv, environment, the paths
    execve tries, and its stdin."""

    steps: Tuple[Step, ...]
    argv: Tuple[str, ...]
    envp: Tuple[str, ...]
    paths: Tuple[str, ...]
    stdin: bytes


def run_once(
    server: BoxServer,
    files: BoxFiles,
    cgroup: Optional[RunCgroup],
    request: Request,
    limits: Limits,
    *,
    meanwhile: Callable[[], None],
    abort: Callable[[], None],
) -> Result:
    """Start the prepared process (in ``cgroup``, its limits set), do
    ``meanwhile`` while it starts, watch the run to its end and judge it.
    A run cut short (an interrupt, a box gone) calls ``abort``: nothing of
    it may go on.  A program that cannot be started raises its StepError."""
    full_before = files.full()
    out_r = out_w = err_r = err_w = stdin_fd = -1
    try:
        stdin_fd = _memfd(request.stdin)
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        clock = TreeClock(server.pid, server.region) if cgroup is None else None
        streams = [Stream(out_r, limits.output), Stream(err_r, limits.output)]
        watch = cgroup.watch if cgroup is not None else None
        cpu_ns = watch.cpu_ns if watch is not None else clock.cpu_ns  # type: ignore[union-attr]

        def kill() -> None:
            if cgroup is not None:
                cgroup.kill_now()
            server.kill()

        monitor = Monitor(server, streams, watch, cpu_ns, limits, kill)
        started = time.monotonic()
        try:
            try:
                server.start(request.steps, request.argv, request.envp, request.paths, [stdin_fd, out_w, err_w])
            finally:
                _close([stdin_fd, out_w, err_w])
                stdin_fd = out_w = err_w = -1
            meanwhile()
            wall = monitor.run(started)
        except StepError:
            raise  # the program could not be started: nothing runs
        except BaseException:
            abort()
            raise
        usage = cgroup.usage() if cgroup is not None else clock.usage()  # type: ignore[union-attr]
        if server.region.scratch_errno:
            why = os.strerror(server.region.scratch_errno)
            raise SandboxError(f"the box's /tmp or /dev/shm could not be emptied after a run: {why}")
    finally:
        _close([stdin_fd, out_w, err_w, out_r, err_r])
    filled = not full_before and files.full()
    return judge(
        server.container_id, monitor.status, monitor.daemons, monitor.reasons, streams, usage, limits, wall, filled
    )


def _close(fds: Sequence[int]) -> None:
    for fd in fds:
        if fd >= 0:
            os.close(fd)


def _memfd(data: bytes) -> int:
    fd = os.memfd_create("stdin", os.MFD_CLOEXEC)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd
