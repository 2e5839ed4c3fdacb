"""A box: one container made when the Sandbox is, whose PID 1 serves the
sandbox's runs (serve.c) on its sync socket.

A run's process is made ahead (PREPARE, with the run's cgroup.procs
files): it moves itself into the run's cgroups and waits.  RUN (its stdio
attached with SCM_RIGHTS, its steps and argv in the shared ``Region``)
makes it walk the steps and exec; the server answers STARTED (or the
failed step).  EXITED comes when the program ends; END
makes the server count, kill and reap what the run left, and DONE says
the box is as the run found it.  KILL ends every process of the run at
once.  OPEN opens a file of the box for this process (a rootless box:
only the box's own root may).
"""

from __future__ import annotations

import os
import socket
import struct
from typing import Any, Optional, Sequence, Tuple

from .._contract import MSG, MSG_ERROR
from .._lcnative import lib
from ..cgroups import FsManager
from ..config import Config
from ..plan import Plan, Step
from ..plan.steps import HostFS
from ..popen import DEVNULL, ContainerProcess
from ..spawn import _step_error
from ._plan import server_plan
from ._region import Region
from .errors import SandboxError

MSG_PREPARE: int = lib.LC_MSG_PREPARE
MSG_PREPARED: int = lib.LC_MSG_PREPARED
MSG_RUN: int = lib.LC_MSG_RUN
MSG_STARTED: int = lib.LC_MSG_STARTED
MSG_EXITED: int = lib.LC_MSG_EXITED
MSG_KILL: int = lib.LC_MSG_KILL
MSG_END: int = lib.LC_MSG_END
MSG_DONE: int = lib.LC_MSG_DONE
MSG_OPEN: int = lib.LC_MSG_OPEN
MSG_OPENED: int = lib.LC_MSG_OPENED


class _BoxProcess(ContainerProcess):
    """The box's container, planned as a server: its plan is cut where
    the process part starts (see _plan.server_plan); ``full_plan`` keeps
    the whole, whose process part is each run's."""

    def __init__(self, config: Config, *, region: Region, box: Optional[str], loopback: bool, **kwargs: Any) -> None:
        self._region, self._box, self._loopback = region, box, loopback
        super().__init__(config, stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL, **kwargs)
        # SERVE reported READY: the sync socket is the server's from now on.
        spawned, self._spawned = self._spawned, None
        assert spawned is not None
        self.server_fd = spawned.sync_fd

    def _execute_child(self, *args: Any) -> None:
        self.full_plan = self.plan
        areas = b"".join(struct.pack("QQ", start, end) for start, end in HostFS().creator_areas())
        self.plan = server_plan(
            self.plan, region=self._region.address, box=self._box, creator_areas=areas, loopback=self._loopback
        )
        super()._execute_child(*args)


class BoxServer:
    """The box's container and the connection to its server."""

    def __init__(self, config: Config, *, box: Optional[str], loopback: bool) -> None:
        self.region = Region()
        try:
            self._proc = _BoxProcess(
                config, region=self.region, box=box, loopback=loopback, container_id=f"sbx-{os.urandom(5).hex()}"
            )
        except BaseException:
            self.region.close()
            raise
        self._sock: Optional[socket.socket] = socket.socket(fileno=self._proc.server_fd)
        self.pid: int = self._proc.pid
        self.container_id = self._proc.container_id
        self.plan: Plan = self._proc.full_plan
        self._preparing = False
        #: Why the last PREPARE failed, read before its run came.
        self._unprepared = ""

    @property
    def config(self) -> Config:
        """The box's Config (its process part is each run's)."""
        return self._proc.config

    @property
    def cgroup(self) -> Optional[FsManager]:
        """The box's own cgroup (the runs' are below it), if any."""
        manager = self._proc.cgroup
        assert manager is None or isinstance(manager, FsManager)
        return manager

    def fileno(self) -> int:
        return self._open().fileno()

    def _open(self) -> socket.socket:
        if self._sock is None:
            raise SandboxError("the sandbox is closed")
        return self._sock

    def _send(self, kind: int, fds: Sequence[int] = ()) -> None:
        try:
            socket.send_fds(self._open(), [MSG.pack(kind, 0, 0, 0)], list(fds))
        except OSError as exc:
            raise SandboxError(f"the box {self.container_id} is gone: {exc.strerror}") from exc

    def receive(self) -> Tuple[int, int, int, int, Optional[int]]:
        """One message of the server: (kind, step, errno, value, fd or None)."""
        data, fds, _flags, _addr = socket.recv_fds(self._open(), MSG.size, 1)
        if len(data) != MSG.size:
            for fd in fds:
                os.close(fd)
            raise SandboxError(f"the box {self.container_id} is gone (its server ended)")
        kind, step, err, value = MSG.unpack(data)
        return kind, step, err, value, (fds[0] if fds else None)

    def _answer(self, expected: int) -> Tuple[int, Optional[int]]:
        kind, _step, err, value, fd = self.receive()
        if kind == expected:
            return value, fd
        if fd is not None:
            os.close(fd)
        if kind == MSG_ERROR:
            raise OSError(err, os.strerror(err))
        raise SandboxError(f"the box {self.container_id} answered {kind}, not {expected}")

    def prepare(self, cgroup_files: Sequence[int]) -> None:
        """Have the next run's process made: it moves itself into the
        cgroups of ``cgroup_files`` (cgroup.procs files) and waits.  Not
        waited for: the answer is read by the next start()."""
        self._send(MSG_PREPARE, cgroup_files)
        self._preparing = True

    def _prepared(self) -> str:
        """Read the answer to a PREPARE not waited for; why it failed, or ""."""
        if not self._preparing:
            return ""
        self._preparing = False
        kind, _step, err, _value, fd = self.receive()
        if fd is not None:
            os.close(fd)
        if kind == MSG_PREPARED:
            return ""
        return f": its process could not join the run's cgroup ({os.strerror(err)})"

    def start(
        self,
        steps: Tuple[Step, ...],
        argv: Sequence[str],
        envp: Sequence[str],
        paths: Sequence[str],
        stdio: Sequence[int],
    ) -> int:
        """Start a run: the prepared process walks ``steps`` with ``stdio``
        (stdin, stdout, stderr) and execs; its pid in the box.  A failed
        step raises its StepError (ExecNotFound...)."""
        self.region.write_run(steps, argv, envp, paths)
        self._send(MSG_RUN, stdio)
        unprepared, self._unprepared = self._prepared() or self._unprepared, ""
        kind, step, err, value, fd = self.receive()
        if fd is not None:
            os.close(fd)
        if kind == MSG_STARTED:
            return value
        if kind == MSG_ERROR and step >= 0:
            plan = Plan(self.container_id, 0, steps, tuple(argv), tuple(envp), tuple(paths))
            raise _step_error(plan, step, err, value)
        if kind == MSG_ERROR:
            why = unprepared or f": {os.strerror(err)}"
            raise SandboxError(f"the box {self.container_id} cannot start a process{why}")
        raise SandboxError(f"the box {self.container_id} answered {kind} to a run")

    def kill(self) -> None:
        """SIGKILL every process of the run now (the server, from PID 1)."""
        self._send(MSG_KILL)

    def end(self) -> None:
        """Ask for the run's end; DONE comes (through receive) when it is over."""
        self._send(MSG_END)

    def open(self, path: str, flags: int, mode: int, owner: Tuple[int, int], make_dirs: bool) -> int:
        """An fd of ``path`` in the box, opened by the server (OSError)."""
        self.region.write_open(path, flags, mode, owner, make_dirs)
        self._send(MSG_OPEN)
        self._unprepared = self._prepared() or self._unprepared
        _value, fd = self._answer(MSG_OPENED)
        if fd is None:
            raise SandboxError(f"the box {self.container_id} sent no file")
        return fd

    def close(self) -> None:
        """End the box (its PID 1, so every process in it) and remove its
        cgroup; idempotent."""
        sock, self._sock = self._sock, None
        if sock is None:
            return
        self._proc.kill()
        sock.close()
        try:
            self._proc.wait()
        finally:
            self._proc.close()
            self.region.close()
