"""ContainerProcess: a subprocess.Popen whose child is a container."""

from __future__ import annotations

import errno
import functools
import os
import signal
import subprocess
import time
from typing import IO, TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Sequence, Set, Tuple, Union

import attrs

from . import _owners
from ._log import DEBUG
from ._log import log as _log
from ._pidfd_popen import PidfdPopen
from ._popen_args import (
    UserArg,
    check_config,
    check_host_paths,
    check_pass_fds,
    with_passwd_home,
    with_process_args,
)
from ._privilege import cgroups_unprivileged
from ._statedir import DEFAULT_ROOT, networks_to_reclaim
from .cgroups import CgroupConfig, CgroupError, Layout, Manager, Stats, detect, new_manager
from .cgroups._ops import v1_placement
from .cgroups.fsio import CgroupFS
from .config import Config
from .errors import ConfigError, ContainerError, ContainerExists, StepError, host_error
from .plan import Plan, build_plan
from .plan.cgroupfs import container_cgroup_dirs
from .spawn import Spawned, recorded, spawn
from .spawn import start as start_spawned

if TYPE_CHECKING:
    from ._hostfs import HostFS
    from ._netrun import Attachments

#: What stdin/stdout/stderr accept, as for subprocess.Popen.
StdioArg = Union[None, int, IO[Any]]

PIPE = subprocess.PIPE
DEVNULL = subprocess.DEVNULL
STDOUT = subprocess.STDOUT


def _reclaim_networks() -> None:
    """_netrun.reclaim, imported only when there are records of attached
    containers' networks (most programs never attach one)."""
    if not networks_to_reclaim():
        return
    from . import _netrun

    _netrun.reclaim(DEFAULT_ROOT)


def new_container_id() -> str:
    """A random 12-hex-digit id (also the default hostname)."""
    return os.urandom(6).hex()  # secrets.token_hex(6), without importing hashlib


class ContainerProcess(PidfdPopen):
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

    The process dies with this one (SIGKILL, whatever ends this process,
    also from a thread that has since exited: see _parents.py) unless
    ``dies_with_owner=False``, or by default with ``start_socket``
    (a detached container, which outlives its creator).
    ``on_hooks(pid, root)``, ``on_cloned(self, pid)`` and ``joining`` are Container's: the
    create hooks while the child waits for them, work done in this process
    while the child sets itself up (its cgroup made, ``pid`` the cloned
    child's, which a FORK step may replace), and that the process is exec'd into a
    container (its ``exec_cpu_affinity`` applies).  With a
    ``Seccomp.listener_path``, the seccomp listener goes to that agent
    (``on_listener(fd, pid)``: Container's, with the container's state;
    by default a state naming ``container_id``), not to ``seccomp_fd``.
    With ``Config.network``, the CNI plugins ADD the networks while the child
    waits, and ``close()`` DELs them; ``network_dir`` (Container's state
    directory) keeps their record elsewhere than ``<root>/.network/<id>``,
    and then the caller DELs them.  ``host_cgroups``: the host's cgroup
    layout, when the caller (Container) has just read it; ``cgroup_fs``: the
    cgroup's file system (cgroups.script.Recorder, for the command line's
    recipes), the real one by default.

    Raises ConfigError for a bad config (nothing made yet), a StepError
    subclass (ExecNotFound, MountError, NamespaceError...) naming the
    child's failing step and its errno, SpawnError or CgroupError; when the
    constructor raises, the child, its cgroup, its mounts and every fd made
    for it are gone: nothing is left behind.
    """

    def __init__(
        self,
        config: Config,
        *,
        args: Union[str, Sequence[str], None] = None,
        env: Optional[Mapping[str, str]] = None,
        cwd: Union[str, os.PathLike[str], None] = None,
        user: UserArg = None,
        shell: bool = False,
        container_id: Optional[str] = None,
        stdin: StdioArg = None,
        stdout: StdioArg = None,
        stderr: StdioArg = None,
        pass_fds: Sequence[int] = (),
        text: Optional[bool] = None,
        encoding: Optional[str] = None,
        errors: Optional[str] = None,
        universal_newlines: Optional[bool] = None,
        bufsize: int = -1,
        wait_start: bool = False,
        start_socket: Optional[str] = None,
        join_cgroups: Sequence[str] = (),
        on_hooks: Optional[Callable[[int, Optional[str]], None]] = None,
        on_cloned: Optional[Callable[[ContainerProcess, int], None]] = None,
        joining: bool = False,
        dies_with_owner: Optional[bool] = None,
        on_listener: Optional[Callable[[int, int], None]] = None,
        no_process: bool = False,
        network_dir: Optional[str] = None,
        host_cgroups: Optional[Layout] = None,
        cgroup_fs: Optional[CgroupFS] = None,
    ) -> None:
        began = self._began = time.monotonic()
        config = with_process_args(check_config(config), args, env=env, cwd=cwd, user=user, shell=shell)
        check_host_paths(config)
        config = with_passwd_home(config)
        check_pass_fds(pass_fds)
        self.config = config
        #: Signals this object sent (send_signal, terminate, kill): an init's
        #: ``128 + n`` status for one of them is reported as ``-n``.
        self._signals_sent: Set[int] = set()
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
        self._network: Optional[Attachments] = None
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
        cgroup_config = config.cgroup
        layout = None
        if cgroup_config is not None:
            layout = host_layout = detect() if host_cgroups is None else host_cgroups
            if cgroups_unprivileged():
                from .rootless import delegated_cgroup

                delegated = delegated_cgroup(cgroup_config, layout, self.container_id)
                cgroup_config, layout = delegated if delegated is not None else (None, None)
                host_layout = layout
        #: The v1 controllers the container's cgroup joined (None: all, for accounting).
        self.cgroup_controllers: Optional[Tuple[str, ...]] = None
        if cgroup_config is not None and layout is not None:
            if not cgroup_config.accounting:
                self.cgroup_controllers = v1_placement(cgroup_config.controllers(), layout.v1, layout.unified)
                layout = layout.only(self.cgroup_controllers)
            path = cgroup_config.resolved_path(self.container_id)
            manager = new_manager(path, layout, container_id=self.container_id, fs=cgroup_fs)
            # An existing cgroup at a path given explicitly is joined (as
            # runc); at the default path, made of the id, it is a duplicate id.
            manager.join_existing = config.cgroup is not None and config.cgroup.path is not None
            self._at_clone = layout.kind == "v2"
            if not self._at_clone:
                procs = [os.path.join(d, "cgroup.procs") for d in manager.dirs()]
            cgroup_dirs = container_cgroup_dirs(layout, manager.path)
        # What attached containers of dead owners left goes first (so their
        # ids are free again); this one's cgroup is recorded before it exists.
        _owners.reclaim(DEFAULT_ROOT)
        _reclaim_networks()
        plan_config = self._prepare_network(config, network_dir)
        try:
            self.plan: Plan = self._build_plan(
                plan_config,
                wait_start,
                start_socket,
                procs,
                on_hooks,
                host_layout,
                cgroup_dirs,
                joining,
                dies_with_owner,
                no_process,
            )
        except BaseException:
            self._detach_network()
            raise
        self._on_hooks = on_hooks
        self._on_cloned = on_cloned
        if on_listener is None and config.seccomp is not None and config.seccomp.listener_path is not None:
            from .seccomp.agent import agent_callback

            on_listener = agent_callback(config.seccomp, self.container_id, "creating")
        self._on_listener = on_listener
        self._owned: Optional[str] = None
        try:
            self._make_cgroup(manager, cgroup_config)
        except BaseException:
            self._detach_network()
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
                universal_newlines=universal_newlines,
            )
        except OSError as exc:
            self._undo(failed=True)
            if isinstance(exc, ContainerError):
                raise
            raise host_error(f"container {self.container_id}: cannot start it", exc) from exc
        except BaseException:
            self._undo(failed=True)
            raise
        if self._network is not None:
            self._network.release_files()  # bound in the container by now
            if not self._network.owned:
                self._network.release_netns()  # the Container DELs from its record
        if _log.isEnabledFor(DEBUG):
            _log.debug(
                "container %s: pid %d, args %s, rootfs %r, new namespaces %s, %d steps, cgroup %s, set up in %.1f ms",
                self.container_id,
                self.pid,
                list(config.process.args),
                config.rootfs,
                [a.name for a in attrs.fields(type(config.namespaces)) if getattr(config.namespaces, a.name) is True],
                len(self.plan.steps),
                self.cgroup.dirs() if self.cgroup is not None else None,
                (time.monotonic() - began) * 1e3,
            )

    def _build_plan(
        self,
        config: Config,
        wait_start: bool,
        start_socket: Optional[str],
        procs: List[str],
        on_hooks: Optional[Callable[[int, Optional[str]], None]],
        host_layout: Any,
        cgroup_dirs: Any,
        joining: bool,
        dies_with_owner: Optional[bool],
        no_process: bool = False,
    ) -> Plan:
        self._plan_inputs: Dict[str, Any] = dict(
            wait_start=wait_start,
            start_socket=start_socket,
            cgroup_procs=procs,
            cgroup_at_clone=self._at_clone,
            create_hooks=on_hooks is not None,
            cgroup_layout=host_layout,
            cgroup_dirs=cgroup_dirs,
            joining=joining,
            # Attached (subprocess-like) unless any process may start it.
            dies_with_owner=start_socket is None if dies_with_owner is None else dies_with_owner,
            no_process=no_process,
        )
        self._plan_config = config
        return build_plan(config, self.container_id, **self._plan_inputs)

    def plan_again(self, host: HostFS) -> Plan:
        """The plan built again as it was, asking ``host`` (a recording
        HostFS: what the plan depends on of the host, for a recipe)."""
        return build_plan(self._plan_config, self.container_id, host=host, **self._plan_inputs)

    def _make_cgroup(self, manager: Optional[Manager], cgroup: Optional[CgroupConfig]) -> None:
        if manager is not None and cgroup is not None:
            if self.plan.dies_with_owner:
                self._owned = _owners.record(DEFAULT_ROOT, self.container_id, manager.path)
            try:
                _create_cgroup(manager, self.container_id)
            except BaseException:
                _owners.forget(self._owned)
                raise
            self.cgroup = manager
            try:
                manager.apply(cgroup)
            except BaseException:
                self._remove_cgroup()
                raise

    def _prepare_network(self, config: Config, network_dir: Optional[str]) -> Config:
        """The networks' directory, record and files (before the plan, whose
        binds of resolv.conf and hosts need them); the config to plan."""
        if not config.network:
            return config
        from . import _netrun

        owned = network_dir is None
        directory = network_dir or _netrun.owned_directory(DEFAULT_ROOT, self.container_id)
        network = _netrun.Attachments(config.network, self.container_id, directory, owned=owned)
        try:
            mounts = network.prepare(with_files=config.rootfs is not None)
        except FileExistsError:
            raise ContainerExists(f"container {self.container_id!r} already exists (its {directory} does)") from None
        except OSError as exc:
            network.detach()
            raise host_error(f"container {self.container_id}: cannot record its networks in {directory}", exc) from exc
        except BaseException:
            network.detach()
            raise
        self._network = network
        mounts = [m for m in mounts if config.mounts.find(m.destination) is None]  # the caller's own win
        return attrs.evolve(config, mounts=config.mounts + mounts)

    def _attach_network(self, pid: int) -> None:
        """While the child waits: CNI ADD of each network (on_parent)."""
        assert self._network is not None
        config = self.config
        hostname = config.hostname or (self.container_id if config.namespaces.uts is True else None)
        self._network.add(pid, hostname)

    def _detach_network(self, failed: bool = True) -> None:
        """DEL the networks (ours, or anyone's when starting failed); a
        started Container's are its own to DEL: only let them go."""
        network, self._network = self._network, None
        if network is not None:
            if network.owned or failed:
                network.detach()
            else:
                network.release_files()
                network.release_netns()

    def _undo(self, failed: bool = False) -> None:
        try:
            self._remove_cgroup()
        finally:
            self._detach_network(failed)

    @property
    def network_status(self) -> List[Dict[str, Any]]:
        """The CNI results of the container's networks (interfaces, ips,
        routes, dns), in the order of ``config.network``."""
        if self._network is None:
            return []
        return [dict(r) for r in self._network.results if r is not None]

    @property
    def ip(self) -> Optional[str]:
        """The container's first address on its networks (None without)."""
        from ._netrun import addresses

        found = addresses(self.network_status)
        return found[0] if found else None

    def check_network(self) -> None:
        """CNI CHECK of each network (CniError naming the plugin when one
        finds its part changed)."""
        if self._network is None or not self._network.owned:
            raise ContainerError(f"container {self.container_id}: no network held by this object")
        if self.poll() is not None:
            raise ContainerError(f"container {self.container_id}: its process has exited")
        self._network.check(self.pid)  # our unreaped child: the pid is its

    # Popen calls this with the fds it made for the child's stdio; the
    # positional layout has been stable since Python 3.2.
    def _spawn_child(self, stdio: Tuple[int, int, int], pass_fds: Sequence[int]) -> None:
        self._before_spawn()
        cgroup_fd = -1
        try:
            if self._at_clone and self.cgroup is not None:
                cgroup_fd = self.cgroup.clone_fd() or -1
            spawned = spawn(
                self.plan,
                stdio=stdio,
                pass_fds=pass_fds,
                cgroup_fd=cgroup_fd,
                on_hooks=self._on_hooks,
                on_cloned=None if self._on_cloned is None else functools.partial(self._on_cloned, self),
                on_listener=self._on_listener,
                on_parent=self._attach_network if self._network is not None else None,
            )
        except StepError as exc:
            _blame_the_memory_limit(exc, self.cgroup, self.config)
            raise
        finally:
            self._on_cloned = None  # run once; what it holds is not kept with the process
            if cgroup_fd >= 0:
                os.close(cgroup_fd)
        self.pid = spawned.pid
        self.pidfd = spawned.pidfd
        self.seccomp_fd = spawned.seccomp_fd
        self.tty_fd = spawned.tty_fd
        if spawned.sync_fd >= 0:
            self._spawned = spawned

    def _before_spawn(self) -> None:
        """Called with the stdio fds made, just before the spawn: a subclass
        may change ``self.plan`` here (the sandbox does)."""

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
        _owners.forget(self._owned)
        self._owned = None
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
        # A detached container's process stays this process's child until
        # reaped, so its pid cannot be recycled meanwhile: signals and wait()
        # need no pidfd, and thousands of live containers hold no fd each.
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1

    def stats(self) -> Stats:
        """Resource usage from the container's cgroup (needs ``config.cgroup``)."""
        if self.cgroup is None:
            raise ConfigError("cgroup", "this container has no cgroup (Config.cgroup is None)")
        return self.cgroup.stats()

    def __repr__(self) -> str:
        code = getattr(self, "returncode", None)
        state = "running" if code is None else f"returncode={code}"
        pid = getattr(self, "pid", None)
        return f"<ContainerProcess id={self.container_id!r} pid={pid} {state} args={list(self.config.process.args)!r}>"

    def terminate(self) -> None:
        """End the container's process with SIGTERM, as subprocess does.

        The kernel drops a SIGTERM sent to the PID 1 of a pid namespace that
        has no handler for it (a ``sleep``, a ``sh``): such a process is sent
        SIGKILL instead, so terminate() always terminates (``returncode``
        is then ``-9``).  With ``Process(init=True)`` the init forwards the
        SIGTERM to the program, and ``returncode`` is ``-15``."""
        self.poll()
        if self.returncode is None and self._pid1_ignores(signal.SIGTERM):
            _log.debug("container %s: PID 1 has no SIGTERM handler, sending SIGKILL", self.container_id)
            self.send_signal(signal.SIGKILL)
        else:
            self.send_signal(signal.SIGTERM)

    def _pid1_ignores(self, sig: int) -> bool:
        """The process is PID 1 of its own pid namespace (no init) and has
        no handler for ``sig``: the kernel would drop it."""
        process = self.config.process
        if process.init or self.config.namespaces.pid is not True or not self.started:
            return False
        try:
            with open(f"/proc/{self.pid}/status", encoding="ascii") as f:
                fields = dict(line.split(":\t", 1) for line in f.read().splitlines() if ":\t" in line)
        except OSError:
            return False
        caught = int(fields.get("SigCgt", "0"), 16)
        return not caught & (1 << (sig - 1))

    def _handle_exitstatus(self, *args: Any, **kwargs: Any) -> None:
        super()._handle_exitstatus(*args, **kwargs)  # type: ignore[misc]
        code = self.returncode
        if self.config.process.init and code is not None and code > 128 and (code - 128) in self._signals_sent:
            self.returncode = -(code - 128)  # the init's report of the program's death by our signal
        _log.debug(
            "container %s: pid %d exited with %s after %.3f s",
            self.container_id,
            self.pid,
            self.returncode,
            time.monotonic() - self._began,
        )

    def _sending(self, sig: int) -> None:
        self._signals_sent.add(int(sig))

    def close(self) -> None:
        """Release the pidfd and remove the cgroup (killing what is left in
        it); the process itself is reaped by wait()."""
        if self._spawned is not None:
            os.close(self._spawned.sync_fd)  # the waiting child sees EOF and exits
            self._spawned = None
        self._release_fds()
        self._undo()

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
        _owners.forget(getattr(self, "_owned", None))
        self._owned = None

    def __exit__(self, *exc: Any) -> None:
        if self._spawned is not None:
            self.close()  # a process waiting for start() is let go first
        super().__exit__(*exc)


def _blame_the_memory_limit(exc: StepError, manager: Optional[Manager], config: Config) -> None:
    """Say so when a set-up step failed with the cgroup's memory limit
    reached (its fail count): the limit is too small for the container to
    start, whatever errno the step got (ENOMEM, ENOSPC, ENFILE...)."""
    memory = config.cgroup.memory if config.cgroup is not None else None
    if manager is None or memory is None or memory.max is None or memory.max < 0:
        return
    try:
        stats = manager.stats().memory
    except (OSError, ContainerError):
        return
    if stats is None or not stats.failcnt:
        return
    exc.args = (
        f"{exc.args[0]}: the container reached its memory limit (memory.max = {memory.max} bytes)"
        " while being set up; the limit is too small for it to start",
    )


def _create_cgroup(manager: Manager, container_id: str) -> None:
    """Make the container's cgroup; one that exists means a container of
    that id is running (ContainerExists)."""
    try:
        manager.create()
    except CgroupError as exc:
        if exc.errno == errno.EEXIST:
            raise ContainerExists(f"container {container_id!r} already exists (its cgroup {exc.path} does)") from exc
        raise
