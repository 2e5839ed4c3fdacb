"""Container: a named container with a create/start split, pause/resume,
stats, events and live updates of its limits.

The state lives in this object for now; persistent state that another
process can load is the lifecycle work that builds on it.
"""

from __future__ import annotations

import asyncio
import re
import signal
from typing import Any, AsyncIterator, Iterator, List, Mapping, Optional, Sequence

import attrs
import psutil

from .capabilities import Capabilities
from .cgroups import Event, Manager, Resource, Stats
from .config import Config
from .errors import ConfigError, ContainerError
from .namespaces import KINDS, PROC_NAMES, Namespaces
from .popen import ContainerProcess, StdioArg
from .process import User

_SAME = object()  # exec(): keep the container's setting
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class StateError(ContainerError):
    """The operation does not fit the container's state (start twice, pause a
    stopped container...)."""

    def __init__(self, container_id: str, operation: str, status: str) -> None:
        super().__init__(f"container {container_id}: cannot {operation} while {status}")
        self.container_id = container_id
        self.operation = operation
        self.status = status


def check_id(container_id: Any) -> str:
    """Ids are 1-128 characters of letters, digits, '_', '.', '-'."""
    if not isinstance(container_id, str) or not _ID.match(container_id):
        raise ConfigError("container id", f"expected 1-128 of [A-Za-z0-9_.-] starting alnum, got {container_id!r}")
    return container_id


class Container:
    """``Container.create(id, config)`` sets everything up (namespaces,
    mounts, cgroup) and leaves the process waiting before execve;
    ``start()`` lets it exec.  Use it as a context manager, or call
    ``destroy()``, to kill it and remove its cgroup.
    """

    def __init__(self, container_id: str, config: Config, process: ContainerProcess) -> None:
        self.id = container_id
        self.config = config
        self.process = process
        self._destroyed = False
        self._execs = 0

    @classmethod
    def create(
        cls,
        container_id: str,
        config: Config,
        *,
        stdin: StdioArg = None,
        stdout: StdioArg = None,
        stderr: StdioArg = None,
        pass_fds: Sequence[int] = (),
    ) -> Container:
        """Create the container; its process waits for ``start()``."""
        check_id(container_id)
        process = ContainerProcess(
            config,
            container_id=container_id,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            pass_fds=pass_fds,
            wait_start=True,
        )
        return cls(container_id, config, process)

    # -- state -------------------------------------------------------------

    @property
    def pid(self) -> int:
        return int(self.process.pid)

    def status(self) -> str:
        """created, running, paused or stopped."""
        if self._destroyed or self.process.poll() is not None:
            return "stopped"
        if not self.process.started:
            return "created"
        cgroup = self.process.cgroup
        if cgroup is not None and cgroup.paused():
            return "paused"
        return "running"

    def _require(self, operation: str, *allowed: str) -> str:
        status = self.status()
        if status not in allowed:
            raise StateError(self.id, operation, status)
        return status

    def _cgroup(self, operation: str) -> Manager:
        cgroup = self.process.cgroup
        if cgroup is None:
            raise ConfigError("cgroup", f"{operation} needs a cgroup (Config.cgroup)")
        return cgroup

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        """Let the process exec its program."""
        self._require("start", "created")
        self.process.start()

    def pause(self) -> None:
        """Freeze every process of the container (waits until frozen)."""
        self._require("pause", "running")
        self._cgroup("pause").freeze()

    def resume(self) -> None:
        """Thaw a paused container (waits until running)."""
        self._require("resume", "paused")
        self._cgroup("resume").thaw()

    def kill(self, sig: int = signal.SIGTERM, *, all: bool = False) -> None:
        """Signal the first process, or with ``all`` every process of the cgroup."""
        self._require("kill", "created", "running", "paused")
        if not all:
            self.process.send_signal(sig)
            return
        for proc in self.processes():
            try:
                proc.send_signal(sig)
            except psutil.NoSuchProcess:
                pass

    def wait(self, timeout: Optional[float] = None) -> int:
        """Wait for the first process to exit; returns its status."""
        return int(self.process.wait(timeout))

    async def wait_async(self, poll: float = 0.05) -> int:
        """``wait()`` for asyncio programs."""
        while True:
            code = self.process.poll()
            if code is not None:
                return int(code)
            await asyncio.sleep(poll)

    def destroy(self) -> None:
        """Kill every process, reap the first one and remove the cgroup; idempotent."""
        if self._destroyed:
            return
        self._destroyed = True
        try:
            if self.process.poll() is None:
                self.process.kill()
            self.process.close()  # removes the cgroup, killing the rest
            self.process.wait()
        finally:
            for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
                if stream is not None:
                    stream.close()

    def __enter__(self) -> Container:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.destroy()

    def exec_config(
        self,
        args: Sequence[str],
        *,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
        user: Optional[User] = None,
        capabilities: Optional[Capabilities] = None,
        no_new_privileges: Optional[bool] = None,
        seccomp: Any = _SAME,
    ) -> Config:
        """The Config of a process that joins this container: every namespace
        of its first process, its security settings (overridable), no rootfs
        or cgroup of its own."""
        base = self.config.process
        process = attrs.evolve(
            base,
            args=args,
            env=base.env if env is None else env,
            cwd=base.cwd if cwd is None else cwd,
            user=base.user if user is None else user,
            capabilities=base.capabilities if capabilities is None else capabilities,
            no_new_privileges=base.no_new_privileges if no_new_privileges is None else no_new_privileges,
        )
        return Config(
            rootfs=None,
            namespaces=self._namespaces_to_join(),
            process=process,
            seccomp=self.config.seccomp if seccomp is _SAME else seccomp,
            cgroup=None,
        )

    def exec(
        self,
        args: Sequence[str],
        *,
        stdin: StdioArg = None,
        stdout: StdioArg = None,
        stderr: StdioArg = None,
        pass_fds: Sequence[int] = (),
        text: Optional[bool] = None,
        wait_start: bool = False,
        **overrides: Any,
    ) -> ContainerProcess:
        """Start ``args`` inside the running container: in every namespace
        of its first process (the user namespace first), in its cgroup, with
        its security settings -- ``overrides`` are those of exec_config()
        (env, cwd, user, capabilities, no_new_privileges, seccomp).  Returns
        a Popen-like ContainerProcess (the caller's child)."""
        self._require("exec", "running")
        config = self.exec_config(args, **overrides)
        cgroup = self.process.cgroup
        self._execs += 1
        return ContainerProcess(
            config,
            container_id=f"{self.id}-exec{self._execs}",
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            pass_fds=pass_fds,
            text=text,
            wait_start=wait_start,
            join_cgroups=cgroup.dirs() if cgroup is not None else (),
        )

    def _namespaces_to_join(self) -> Namespaces:
        """Every namespace the container did not share with its creator,
        named by its first process's /proc/<pid>/ns entries."""
        ns = self.config.namespaces
        return Namespaces(
            **{kind: f"/proc/{self.pid}/ns/{PROC_NAMES[kind]}" for kind in KINDS if ns.setting(kind) is not False}
        )

    # -- resources ---------------------------------------------------------

    def stats(self) -> Stats:
        """Typed resource usage now (memory, cpu, pids, io, hugetlb)."""
        return self._cgroup("stats").stats()

    def events(self, interval: float = 0.05, timeout: Optional[float] = None) -> Iterator[Event]:
        """OOM and memory-pressure events as they happen; ends when the
        container is empty or after ``timeout``."""
        return self._cgroup("events").events(interval=interval, timeout=timeout)

    async def events_async(self, interval: float = 0.05, timeout: Optional[float] = None) -> AsyncIterator[Event]:
        """``events()`` for asyncio programs."""
        loop = asyncio.get_running_loop()
        cgroup = self._cgroup("events")
        deadline = None if timeout is None else loop.time() + timeout
        cgroup.poll_events()
        while cgroup.exists():
            empty = not cgroup.pids()
            for event in cgroup.poll_events():
                yield event
            if empty or (deadline is not None and loop.time() >= deadline):
                return
            await asyncio.sleep(interval)

    def update(self, resource: Resource) -> None:
        """Change one resource (Memory, Cpu, Pids, IO...) of the running container."""
        self._require("update", "created", "running", "paused")
        self._cgroup("update").update(resource)

    def pids(self) -> List[int]:
        cgroup = self.process.cgroup
        return cgroup.pids() if cgroup is not None else [self.pid]

    def processes(self) -> List[psutil.Process]:
        """The container's processes as psutil.Process objects."""
        cgroup = self.process.cgroup
        if cgroup is not None:
            return cgroup.processes()
        return [psutil.Process(self.pid)]
