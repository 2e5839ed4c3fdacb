"""A box: one container made when the Sandbox is, whose PID 1 serves the
sandbox's runs (serve.c) on its sync socket.

A run's process is made ahead (PREPARE, with the run's cgroup.procs
files): it moves itself into the run's cgroups and waits.  RUN (its stdio
attached with SCM_RIGHTS, its steps and argv in the shared ``Region``)
makes it walk the steps and exec; the server answers STARTED (or the
failed step).  EXITED comes when the program ends; the server then
counts, kills and reaps what the run left, and DONE says the box is as
the run found it.  KILL ends every process of the run at once.  Answers
come in the order of the requests; nothing waits for a PREPARE's.  OPEN
opens a file of the box for this process (a rootless box: only the box's
own root may).
"""

from __future__ import annotations

import collections
import os
import socket
import struct
from typing import Any, Deque, Optional, Sequence, Tuple

from .._contract import (
    MSG,
    MSG_DONE,
    MSG_ERROR,
    MSG_EXITED,
    MSG_KILL,
    MSG_OPEN,
    MSG_OPENED,
    MSG_PREPARE,
    MSG_PREPARED,
    MSG_RUN,
    MSG_STARTED,
)
from ..cgroups import FsManager
from ..config import Config
from ..plan import Plan, Step
from ..plan.steps import HostFS
from ..popen import DEVNULL, ContainerProcess
from ..spawn import step_error
from ._plan import server_plan
from ._region import Region
from .errors import SandboxError


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

    def _before_spawn(self) -> None:
        self.full_plan = self.plan
        areas = b"".join(struct.pack("QQ", start, end) for start, end in HostFS().creator_areas())
        self.plan = server_plan(
            self.plan, region=self._region.address, box=self._box, creator_areas=areas, loopback=self._loopback
        )


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
        #: The requests whose answers are to come, in order.
        self._waiting: Deque[str] = collections.deque()
        #: Why the last PREPARE failed ("" if it did not).
        self._unprepared = ""
        self._run: Optional[Plan] = None

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

    def _request(self, kind: int, answer: str, fds: Sequence[int] = ()) -> None:
        """Send a request; its answer is read, in order, by next_event()."""
        self._send(kind, fds)
        self._waiting.append(answer)

    def prepare(self, cgroup_files: Sequence[int]) -> None:
        """Have the next run's process made: it moves itself into the
        cgroups of ``cgroup_files`` (cgroup.procs files) and waits.  During
        a run the server makes it once the run is over.  Not waited for."""
        self._request(MSG_PREPARE, "prepare", cgroup_files)

    def start(
        self,
        steps: Tuple[Step, ...],
        argv: Sequence[str],
        envp: Sequence[str],
        paths: Sequence[str],
        stdio: Sequence[int],
    ) -> None:
        """Start a run: the prepared process walks ``steps`` with ``stdio``
        (stdin, stdout, stderr) and execs.  Not waited for: next_event()
        gives STARTED, or raises the failed step's StepError (ExecNotFound...)."""
        self.region.write_run(steps, argv, envp, paths)
        self._run = Plan(self.container_id, 0, steps, tuple(argv), tuple(envp), tuple(paths))
        self._request(MSG_RUN, "run", stdio)

    def next_event(self) -> Tuple[int, int]:
        """The next event of the run: (STARTED, pid), (EXITED, wait status)
        or (DONE, processes it left); answers to PREPARE are taken in
        passing."""
        while True:
            kind, step, err, value, fd = self.receive()
            if fd is not None:
                os.close(fd)
            if kind in (MSG_EXITED, MSG_DONE):
                return kind, value
            what = self._waiting.popleft() if self._waiting else "nothing"
            if what == "prepare":
                self._unprepared = (
                    "" if kind == MSG_PREPARED else f"; its process could not be made: {os.strerror(err)}"
                )
            elif what == "run" and kind == MSG_STARTED:
                return kind, value
            elif what == "run" and kind == MSG_ERROR:
                raise self._run_error(step, err, value)
            else:
                raise SandboxError(f"the box {self.container_id} answered {kind} to {what}")

    def _run_error(self, step: int, err: int, stage: int) -> Exception:
        if step >= 0 and self._run is not None:
            return step_error(self._run, step, err, stage)
        return SandboxError(f"the box {self.container_id} cannot start a process: {os.strerror(err)}{self._unprepared}")

    def exited_at(self) -> float:
        """When the program ended (time.monotonic's clock), as the server saw it."""
        return int(self.region.header.exited_ns) / 1e9

    def kill(self) -> None:
        """SIGKILL every process of the run now (the server, from PID 1)."""
        self._send(MSG_KILL)

    def open(self, path: str, flags: int, mode: int, owner: Tuple[int, int], make_dirs: bool) -> int:
        """An fd of ``path`` in the box, opened by the server (OSError)."""
        self.region.write_open(path, flags, mode, owner, make_dirs)
        self._request(MSG_OPEN, "open")
        while True:
            kind, _step, err, _value, fd = self.receive()
            what = self._waiting.popleft() if self._waiting else "nothing"
            if what == "prepare":
                self._unprepared = (
                    "" if kind == MSG_PREPARED else f"; its process could not be made: {os.strerror(err)}"
                )
                continue
            if what == "open" and kind == MSG_OPENED and fd is not None:
                return fd
            if fd is not None:
                os.close(fd)
            if what == "open" and kind == MSG_ERROR:
                raise OSError(err, os.strerror(err))
            raise SandboxError(f"the box {self.container_id} answered {kind} to {what}")

    def stop(self) -> None:
        """SIGKILL the box's PID 1 (the kernel then kills every process in
        it) without waiting; close() waits.  Idempotent."""
        sock, self._sock = self._sock, None
        if sock is not None:
            self._proc.kill()
            sock.close()

    def close(self) -> None:
        """End the box and remove its cgroup; idempotent."""
        self.stop()
        if self.region.closed:
            return
        try:
            self._proc.wait()
        finally:
            self._proc.close()
            self.region.close()
