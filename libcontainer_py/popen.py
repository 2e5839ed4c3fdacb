"""ContainerProcess: a subprocess.Popen whose child is a container."""

from __future__ import annotations

import os
import subprocess
from typing import IO, Any, Callable, List, Optional, Sequence, Union

import attrs

from . import _native
from .cgroups import CgroupConfig, DeviceRule, Devices, Manager, Stats, detect, new_manager
from .config import Config
from .errors import ConfigError, ContainerError
from .plan import Plan, build_plan
from .plan.cgroupfs import container_cgroup_dirs
from .spawn import Spawned, recorded, spawn
from .spawn import start as start_spawned

#: What stdin/stdout/stderr accept, as for subprocess.Popen.
StdioArg = Union[None, int, IO[Any]]

PIPE = subprocess.PIPE
DEVNULL = subprocess.DEVNULL
STDOUT = subprocess.STDOUT


def new_container_id() -> str:
    """A random 12-hex-digit id (also the default hostname)."""
    return os.urandom(6).hex()  # secrets.token_hex(6), without importing hashlib


class ContainerProcess(subprocess.Popen):  # type: ignore[type-arg]
    """The container's first process, with the whole Popen API: ``pid``,
    ``stdin``/``stdout``/``stderr``, ``communicate``, ``wait``, ``poll``,
    ``send_signal``, ``kill``, context manager.

    The config is checked and planned before any fd, cgroup or process is
    made.  With ``wait_start=True`` the process is set up completely and
    waits before execve until ``start()``; with ``start_socket`` it waits
    for a connection to that path, from any process
    (spawn.start_through_socket); ``join_cgroups`` moves it into
    an existing cgroup (its directories) instead of one of its own.  ``kill()`` of a container with
    its own pid namespace ends every process in it (the kernel kills the
    namespace when its PID 1 dies); ``close()`` (also on leaving a ``with``
    block) removes its cgroup, killing whatever is left in it.
    ``on_hooks(pid)``, ``meanwhile()`` and ``joining`` are Container's: the
    create hooks while the child waits for them, work done in this process
    while the child sets itself up, and that the process is exec'd into a
    container (its ``exec_cpu_affinity`` applies).
    """

    def __init__(
        self,
        config: Config,
        *,
        container_id: Optional[str] = None,
        stdin: StdioArg = None,
        stdout: StdioArg = None,
        stderr: StdioArg = None,
        pass_fds: Sequence[int] = (),
        text: Optional[bool] = None,
        encoding: Optional[str] = None,
        errors: Optional[str] = None,
        bufsize: int = -1,
        wait_start: bool = False,
        start_socket: Optional[str] = None,
        join_cgroups: Sequence[str] = (),
        on_hooks: Optional[Callable[[int], None]] = None,
        meanwhile: Optional[Callable[[], None]] = None,
        joining: bool = False,
        no_process: bool = False,
    ) -> None:
        if not isinstance(config, Config):
            raise ConfigError("config", f"expected Config, got {type(config).__name__}")
        self.config = config
        self.container_id = container_id or new_container_id()
        self.pidfd = -1
        #: The seccomp user-notification listener (an fd this object owns,
        #: closed by close()), or -1 when the filter has no notify rule.
        self.seccomp_fd = -1
        #: With Process(terminal=True): the terminal's master end (an fd this
        #: object owns, closed by close()); read the program's output from it
        #: and write its input to it.
        self.tty_fd = -1
        self.cgroup: Optional[Manager] = None
        self._spawned: Optional[Spawned] = None
        manager = None
        # join_cgroups: directories of an existing cgroup to join (exec).
        procs: List[str] = [os.path.join(d, "cgroup.procs") for d in join_cgroups]
        # On a cgroup2-only host clone3 places the child (CLONE_INTO_CGROUP);
        # elsewhere the child moves itself in as its first step.
        self._at_clone = False
        # For a Mount.cgroup: the host's layout and the cgroup's directories
        # (made below, after planning and before the spawn).
        host_layout = None
        cgroup_dirs = {}
        if config.cgroup is not None:
            layout = host_layout = detect()
            if not config.cgroup.accounting:
                layout = layout.only(config.cgroup.controllers())
            path = config.cgroup.resolved_path(self.container_id)
            manager = new_manager(path, layout, container_id=self.container_id)
            self._at_clone = layout.kind == "v2"
            if not self._at_clone:
                procs = [os.path.join(d, "cgroup.procs") for d in manager.dirs()]
            cgroup_dirs = container_cgroup_dirs(layout, manager.path)
        self.plan: Plan = build_plan(
            config,
            self.container_id,
            wait_start=wait_start,
            start_socket=start_socket,
            cgroup_procs=procs,
            cgroup_at_clone=self._at_clone,
            create_hooks=on_hooks is not None,
            cgroup_layout=host_layout,
            cgroup_dirs=cgroup_dirs,
            joining=joining,
            no_process=no_process,
        )
        self._on_hooks = on_hooks
        self._meanwhile = meanwhile
        if manager is not None and config.cgroup is not None:
            manager.create()
            self.cgroup = manager
            try:
                manager.apply(_with_config_devices(config))
            except BaseException:
                self._remove_cgroup()
                raise
        try:
            super().__init__(
                list(config.process.args),
                bufsize=bufsize,
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                pass_fds=tuple(pass_fds),
                text=text,
                encoding=encoding,
                errors=errors,
            )
        except BaseException:
            self._remove_cgroup()
            raise

    # Popen calls this with the fds it made for the child's stdio; the
    # positional layout has been stable since Python 3.2.
    def _execute_child(
        self,
        args: Any,
        executable: Any,
        preexec_fn: Any,
        close_fds: Any,
        pass_fds: Sequence[int],
        cwd: Any,
        env: Any,
        startupinfo: Any,
        creationflags: Any,
        shell: Any,
        p2cread: int,
        p2cwrite: int,
        c2pread: int,
        c2pwrite: int,
        errread: int,
        errwrite: int,
        *_rest: Any,
    ) -> None:
        cgroup_fd = -1
        try:
            if self._at_clone and self.cgroup is not None:
                cgroup_fd = self.cgroup.clone_fd() or -1
            spawned = spawn(
                self.plan,
                stdio=(p2cread, c2pwrite, errwrite),
                pass_fds=pass_fds,
                cgroup_fd=cgroup_fd,
                on_hooks=self._on_hooks,
                meanwhile=self._meanwhile,
            )
        finally:
            if cgroup_fd >= 0:
                os.close(cgroup_fd)
            self._close_pipe_fds(p2cread, p2cwrite, c2pread, c2pwrite, errread, errwrite)  # type: ignore[attr-defined]
        self.pid = spawned.pid
        self.pidfd = spawned.pidfd
        self.seccomp_fd = spawned.seccomp_fd
        self.tty_fd = spawned.tty_fd
        self._child_created = True
        if spawned.sync_fd >= 0:
            self._spawned = spawned

    @property
    def started(self) -> bool:
        """Whether the process has exec'd (always, unless made with wait_start)."""
        return self._spawned is None

    def start(self) -> None:
        """Let a process made with ``wait_start=True`` exec its program."""
        if self._spawned is None:
            raise ContainerError("the container's process has already started")
        spawned, self._spawned = self._spawned, None
        start_spawned(self.plan, spawned)

    def detach_cgroup(self) -> Optional[Manager]:
        """Hand the cgroup over (to a Container): close() and garbage
        collection of this object then leave it alone."""
        manager, self.cgroup = self.cgroup, None
        return manager

    def disown(self) -> None:
        """Give the process up: this object will never wait for or reap it.

        For a caller that exits and leaves the process to whoever inherits
        it (init, or a subreaper such as conmon or containerd's shim, which
        must see its exit status).  Closes the pidfd, terminal and seccomp
        fds.  A process with a cgroup of its own is refused: nobody would
        remove the cgroup (hand it over with detach_cgroup(), as Container
        does, or use ``Config(cgroup=None)``)."""
        if self._spawned is not None:
            raise ContainerError("start (or record) the process before disowning it")
        if self.cgroup is not None:
            raise ContainerError("the process owns its cgroup: detach_cgroup() before disowning it")
        self._child_created = False
        self._release_fds()

    def recorded(self) -> None:
        """For a process made with ``start_socket``: its state is recorded,
        it may now wait for a starter (and outlive this process)."""
        if self._spawned is None:
            raise ContainerError("the container's process is not waiting to be recorded")
        spawned, self._spawned = self._spawned, None
        recorded(spawned)

    def stats(self) -> Stats:
        """Resource usage from the container's cgroup (needs ``config.cgroup``)."""
        if self.cgroup is None:
            raise ConfigError("cgroup", "this container has no cgroup (Config.cgroup is None)")
        return self.cgroup.stats()

    def send_signal(self, sig: int) -> None:
        """Signal the container's first process (through its pidfd, so a
        recycled pid is never hit)."""
        self.poll()
        if self.returncode is not None:
            return
        if self.pidfd >= 0:
            try:
                _native.pidfd_send_signal(self.pidfd, sig)
            except ProcessLookupError:
                pass
        else:
            super().send_signal(sig)

    def close(self) -> None:
        """Release the pidfd and remove the cgroup (killing what is left in
        it); the process itself is reaped by wait()."""
        if self._spawned is not None:
            os.close(self._spawned.sync_fd)  # the waiting child sees EOF and exits
            self._spawned = None
        self._release_fds()
        self._remove_cgroup()

    def _release_fds(self) -> None:
        for name in ("pidfd", "seccomp_fd", "tty_fd"):
            fd = getattr(self, name)
            if fd >= 0:
                setattr(self, name, -1)
                os.close(fd)

    def _remove_cgroup(self) -> None:
        manager, self.cgroup = self.cgroup, None
        if manager is not None:
            manager.destroy()

    def __exit__(self, *exc: Any) -> None:
        try:
            if self._spawned is not None:
                self.close()
            super().__exit__(*exc)
        finally:
            self.close()

    def __del__(self, *args: Any, **kwargs: Any) -> None:
        if not getattr(self, "_child_created", False):
            return
        super().__del__(*args, **kwargs)
        try:
            self.close()
        except Exception:
            pass


def _with_config_devices(config: Config) -> CgroupConfig:
    """The cgroup config with the config's own device nodes allowed, as runc
    does: a node made in /dev must also open."""
    cgroup = config.cgroup
    assert cgroup is not None
    if cgroup.devices is None or not config.devices:
        return cgroup
    extra = tuple(DeviceRule(True, d.type, d.major, d.minor, "rwm") for d in config.devices)
    return attrs.evolve(cgroup, devices=Devices(cgroup.devices.rules + extra))
