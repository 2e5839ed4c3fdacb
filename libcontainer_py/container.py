"""Container: a named container with a create/start split and persistent
state, so that any process can load, start, signal, pause, inspect and
destroy it; exec into it; stats, events and live updates of its limits.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
import weakref
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import attrs

from . import _native
from ._home import read_beneath, with_home
from ._statedir import NETWORK_RECORD, make_root, no_process_message, utc_now
from ._statedir import wait_gone as _wait_gone
from ._status_rules import ACCEPTS, refusal
from .capabilities import Capabilities
from .cgroups import CgroupConfig, Event, Layout, Manager, Resource, Stats, detect, new_manager
from .cgroups._ops import v1_placement
from .config import Config
from .errors import ConfigError, ContainerError, host_error
from .errors import ContainerExists as ContainerExists  # its old home
from .hooks import PHASES, Callback, Hook, HookError, Hooks, check_callbacks, oci_state, run_phase
from .namespaces import KINDS, PROC_NAMES, Namespaces
from .popen import DEVNULL, PIPE, ContainerProcess, StdioArg
from .process import Process, User
from .serialize import config_from_dict, config_json
from .spawn import start_through_socket
from .state import (
    DEFAULT_ROOT,
    START_SOCKET,
    State,
    commit_state,
    container_dir,
    is_valid_id,
    list_ids,
    process_start_time,
    read_config_document,
    read_state,
    recorded_status,
    remove_state,
    stage_state,
    write_config,
    write_intent_state,
    write_state,
)

if TYPE_CHECKING:  # imported where used: the CLI's create/run never needs psutil
    import psutil

    from .cgroups.fsio import CgroupFS

_SAME = object()
#: How long destroy() waits for the container's first process after SIGKILL.
KILL_TIMEOUT = 30.0


def _no_such_process() -> type[Exception]:
    import psutil

    return psutil.NoSuchProcess  # exec(): keep the container's setting


class StateError(ContainerError):
    """The operation does not fit the container's state (start twice, pause a
    stopped container...)."""

    def __init__(self, container_id: str, operation: str, status: str) -> None:
        super().__init__(refusal(container_id, operation, status))
        self.container_id = container_id
        self.operation = operation
        self.status = status


@attrs.frozen
class ContainerState:
    """What ``Container.state()`` returns (the fields of runc's state)."""

    id: str
    status: str
    pid: int
    created: str
    bundle: Optional[str]
    rootfs: Optional[str]
    annotations: Dict[str, str]


def check_id(container_id: Any) -> str:
    """Ids are 1-64 characters of letters, digits, '_', '.', '-' (they name a
    directory, a cgroup and, by default, the hostname)."""
    if not is_valid_id(container_id):
        raise ConfigError("container id", f"expected 1-64 of [A-Za-z0-9_.-] starting alnum, got {container_id!r}")
    return str(container_id)


class Container:
    """``Container.create(id, config)`` sets everything up (namespaces,
    mounts, cgroup), records the state under ``root`` and leaves the process
    waiting before execve; ``start()`` -- from this or any other process
    (``Container.load(id)``) -- lets it exec.  Use it as a context manager,
    or call ``destroy()``, to kill it and remove its cgroup and state.
    """

    def __init__(
        self,
        state: State,
        root: str,
        *,
        config: Optional[Config] = None,
        process: Optional[ContainerProcess] = None,
    ) -> None:
        self.id = state.id
        self.root = root
        #: The container's State as stored in its state directory (pid, cgroup,
        #: namespaces, config): what another process needs to manage it.
        self.stored_state = state
        self._config = config
        self._config_read = config is not None
        #: The first process, when it is this process's child.
        self.process = process
        # The container, not its first process's object, owns the cgroup: it
        # outlives this process (and that object) until destroy().
        self._manager: Optional[Manager] = process.detach_cgroup() if process is not None else None
        self._destroyed = False
        self._execs = 0
        # exec'd processes are this process's children (CLONE_PARENT): while
        # one is an unreaped zombie, the container's PID 1 cannot finish
        # exiting, so destroy() reaps them as it waits.
        self._exec_procs: List[weakref.ReferenceType[ContainerProcess]] = []
        self._callbacks: Dict[str, Tuple[Callback, ...]] = {}

    def __repr__(self) -> str:
        try:
            status = self.status()
        except Exception:  # a repr must not fail (the cgroup may be gone)
            status = "unknown"
        return f"<Container id={self.id!r} pid={self.stored_state.pid} status={status} root={self.root!r}>"

    def _repr_html_(self) -> str:
        """id, status, pid, cgroup and where its state is, as a table (for notebooks)."""
        from ._html import table

        try:
            status = self.status()
        except Exception:  # as __repr__: the cgroup may be gone
            status = "unknown"
        rows = [("id", self.id), ("status", status), ("pid", str(self.stored_state.pid)), ("root", self.root)]
        rows += [(name, str(value)) for name, value in self._html_details() if value]
        return table("Container", rows)

    def _html_details(self) -> List[Tuple[str, Any]]:
        stored = self.stored_state
        return [("bundle", stored.bundle), ("rootfs", stored.rootfs), ("cgroup", stored.cgroup_path)]

    # -- making and finding containers ---------------------------------------

    @classmethod
    def create(
        cls,
        container_id: str,
        config: Config,
        *,
        root: str = DEFAULT_ROOT,
        bundle: Optional[str] = None,
        annotations: Optional[Mapping[str, str]] = None,
        stdin: StdioArg = None,
        stdout: StdioArg = None,
        stderr: StdioArg = None,
        pass_fds: Sequence[int] = (),
        callbacks: Optional[Mapping[str, Sequence[Callback]]] = None,
        no_process: bool = False,
        _cgroup_fs: Optional[CgroupFS] = None,
    ) -> Container:
        """Create the container; its process waits for ``start()``.

        ``callbacks``: Python hooks by phase ("create_runtime", "poststart"...),
        called with the state document; they run only in this process (the
        executable ``config.hooks`` run whoever starts or destroys it).
        ``no_process``: ``config.process`` is a stand-in (OCI's ``process``
        is optional at create): its program is not looked for, and start()
        refuses; the container can be exec'd into, paused, deleted.

        Raises ConfigError for a bad config or id (before anything exists),
        ContainerExists for an id already recorded, a StepError subclass
        (MountError, ExecError...) naming the child's failing step, or
        HookError; on any failure the process, its cgroup and its state
        directory are gone: nothing is left behind."""
        check_id(container_id)
        fns = check_callbacks(callbacks)
        directory = container_dir(root, container_id)
        try:
            make_root(root)
            os.mkdir(directory, 0o711)
        except FileExistsError:
            raise ContainerExists(f"container {container_id!r} already exists under {root}") from None
        except OSError as exc:
            raise host_error(f"container {container_id}: cannot make its state directory under {root}", exc) from exc
        process = None
        labels = dict(annotations or {})
        staged: List[State] = []

        def on_cloned(proc: ContainerProcess, pid: int) -> None:
            # While the child sets itself up: the config's file, then the
            # full record beside the intent (which needs the config first).
            write_config(root, container_id, config_json(config))
            state = _state_of(container_id, config, proc, pid, bundle, labels, no_process)
            if state is not None:  # None: it failed already, _drive says how
                stage_state(root, state)
                staged.append(state)

        try:
            # First a record of what will exist (its cgroup), so that whatever
            # happens to this process, destroy() can find and remove it.
            # the host's cgroup layout, read once for the intent and the process
            host = detect() if config.cgroup is not None else None
            write_intent_state(root, _intent(container_id, config, host))
            process = ContainerProcess(
                config,
                container_id=container_id,
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                pass_fds=pass_fds,
                start_socket=os.path.join(directory, START_SOCKET),
                on_hooks=_create_hooks(container_id, config, fns, bundle, annotations or {}),
                on_listener=_seccomp_agent(config.seccomp, container_id, "creating", bundle, annotations),
                network_dir=directory,
                on_cloned=on_cloned,
                no_process=no_process,
                host_cgroups=host,
                cgroup_fs=_cgroup_fs,  # the command line's recipe records it (cli/_create_recipe.py)
            )
            if staged and staged[0].pid == process.pid:
                state = staged[0]
                commit_state(root, container_id)
            else:  # a FORK step replaced the cloned child
                now = _state_of(container_id, config, process, process.pid, bundle, labels, no_process)
                if now is None:
                    raise ContainerError(f"container {container_id}: its process died while being created")
                state = now
                write_state(root, state)
            process.recorded()
        except OSError as exc:
            _undo_create(root, container_id, process)
            if isinstance(exc, ContainerError):
                raise
            raise host_error(f"container {container_id}: create failed", exc) from exc
        except BaseException:
            _undo_create(root, container_id, process)
            raise
        container = cls(state, root, config=config, process=process)
        container._callbacks = fns
        return container

    @property
    def config(self) -> Optional[Config]:
        """The container's config: the one it was created with, or, for a
        loaded container, the stored copy (``config.json``, or an older
        version's record), read on first use (a list of thousands stays
        cheap); None when there is none this version can read (the
        container stays manageable, without exec)."""
        if not self._config_read:
            self._config_read = True
            document = self.stored_state.config
            if document is None:
                document = read_config_document(self.root, self.id)
            if document is not None:
                try:
                    self._config = config_from_dict(document)
                except ConfigError:
                    pass  # written by another version: manageable, but no exec
        return self._config

    def _hooks(self, *phases: str) -> Hooks:
        """The config's executable hooks, when it has some of ``phases``:
        the record says so (a record of an older version, or a config at
        hand, is asked instead), so that a loaded container without hooks
        never reads its config to start or to be destroyed."""
        stored = self.stored_state
        if not self._config_read and stored.config is None and not set(phases) & set(stored.hook_phases):
            return Hooks()
        return self.config.hooks if self.config is not None else Hooks()

    @classmethod
    def load(cls, container_id: str, *, root: str = DEFAULT_ROOT) -> Container:
        """The container ``container_id`` as recorded under ``root``, from any
        process (its config comes from the state, so exec works too).
        Raises StateNotFound when there is no such container; reads only."""
        check_id(container_id)
        return cls(read_state(root, container_id), root)

    @classmethod
    def list(cls, *, root: str = DEFAULT_ROOT) -> List[Container]:
        """Every container recorded under ``root`` (records that cannot be read
        are skipped); reads only, raises nothing for an empty or missing root."""
        out = []
        for cid in list_ids(root):
            try:
                out.append(cls.load(cid, root=root))
            except ContainerError:
                continue  # removed meanwhile
        return out

    # -- state ---------------------------------------------------------------

    @property
    def record(self) -> State:
        """``stored_state``'s former name."""
        return self.stored_state

    @property
    def pid(self) -> int:
        """The first process's pid (in this process's pid namespace), from the state."""
        return self.stored_state.pid

    def _alive(self) -> bool:
        if self._destroyed:
            return False
        if self.process is not None and self.process.poll() is not None:
            return False
        return process_start_time(self.pid) == self.stored_state.pid_start

    def state(self) -> ContainerState:
        """The container's state now, with runc's fields."""
        return ContainerState(
            id=self.id,
            status=self.status(),
            pid=self.pid,
            created=self.stored_state.created,
            bundle=self.stored_state.bundle,
            rootfs=self.stored_state.rootfs,
            annotations=dict(self.stored_state.annotations),
        )

    def status(self) -> str:
        """creating, created, running, paused or stopped."""
        if self._destroyed or (self.process is not None and self.process.poll() is not None):
            return "stopped"
        cgroup = self._cgroup_or_none()
        return recorded_status(self.root, self.stored_state, cgroup.paused if cgroup is not None else (lambda: False))

    @property
    def network_status(self) -> List[Dict[str, Any]]:
        """The CNI results of the container's networks (interfaces, ips,
        routes, dns) as recorded in its state directory, in the order of
        ``config.network``; from any process."""
        from . import _netrun

        doc = _netrun.read_record(container_dir(self.root, self.id)) or {}
        return [item["result"] for item in doc.get("attachments") or [] if item.get("result") is not None]

    @property
    def ip(self) -> Optional[str]:
        """The container's first address on its networks (None without)."""
        from . import _netrun

        found = _netrun.addresses(self.network_status)
        return found[0] if found else None

    def check_network(self) -> None:
        """CNI CHECK of each network against the running container (CniError
        naming the plugin that finds its part changed)."""
        from . import _netrun

        self._require("check_network")
        att = _netrun.from_record(container_dir(self.root, self.id), owned=False)
        if att is None:
            return
        fd = self._open_netns()  # the pid is the container's while this is open
        if fd < 0:
            raise StateError(self.id, "check_network", "stopped")
        try:
            att.check(self.pid)
        finally:
            os.close(fd)

    def _open_netns(self) -> int:
        """An fd of the container's network namespace, or -1 when it is gone
        (opened, then the pid checked: never a recycled pid's)."""
        if self._destroyed or self.pid <= 0:
            return -1
        try:
            fd = os.open(f"/proc/{self.pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return -1
        if not self._alive():
            os.close(fd)
            return -1
        return fd

    def _require(self, operation: str, also: Tuple[str, ...] = ()) -> str:
        """The status, when ``operation`` accepts it (_status_rules.ACCEPTS, or
        ``also``); StateError when not."""
        status = self.status()
        if status not in ACCEPTS[operation] + also:
            raise StateError(self.id, operation, status)
        return status

    def _cgroup_or_none(self) -> Optional[Manager]:
        if self._manager is None and self.stored_state.cgroup_path is not None:
            layout = detect()
            if self.stored_state.cgroup_controllers is not None:
                layout = layout.only(self.stored_state.cgroup_controllers)
            self._manager = new_manager(self.stored_state.cgroup_path, layout, container_id=self.id)
            self._manager.joined = self.stored_state.cgroup_joined
        return self._manager

    @property
    def cgroup(self) -> Optional[Manager]:
        """The container's cgroup manager, or None without a cgroup."""
        return self._cgroup_or_none()

    def _cgroup(self, operation: str) -> Manager:
        cgroup = self._cgroup_or_none()
        if cgroup is None:
            raise ConfigError("cgroup", f"{operation} needs a cgroup (Config.cgroup)")
        return cgroup

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> None:
        """Let the process exec its program (from any process).  The
        start_container hooks run first, in the container; a failing one
        kills the container.  Then the poststart hooks (warnings only).

        Raises StateError unless the container is created, ContainerError for
        one made with ``no_process``, ExecError (SpawnError in a process
        other than the creator) when execve fails, HookError for a failing
        start_container hook.  start() makes nothing, so a failure leaves
        nothing new behind: the container is stopped (its process exited or
        was killed) and keeps its cgroup and state until delete() or
        destroy(), as runc's."""
        self._require("start")
        if self.stored_state.no_process:
            raise ContainerError(no_process_message(self.id))
        hooks = self._hooks("start_container", "poststart")
        try:
            self._run_hooks("start_container", hooks, "created", in_container=True)
        except HookError:
            self.kill(signal.SIGKILL, all=True)
            raise
        plan = self.process.plan if self.process is not None else None
        start_through_socket(os.path.join(container_dir(self.root, self.id), START_SOCKET), plan)
        if self.process is not None and plan is not None:
            # Its steps named a failing step; started, the container's
            # owner keeps no copy of them (~10 KiB each, see docs/lifecycle.md).
            self.process.plan = attrs.evolve(plan, steps=(), argv=(), envp=(), exec_paths=())
        self._run_hooks("poststart", hooks, "running")

    def _run_hooks(self, phase: str, hooks: Hooks, status: str, *, in_container: bool = False) -> None:
        executables, fns = hooks.of(phase), self._callbacks.get(phase, ())
        if not executables and not fns:
            return
        state = oci_state(self.id, status, self.pid, self.stored_state.bundle, self.stored_state.annotations)
        runner = self._as_the_process() if in_container else None
        run_phase(phase, executables, fns, state, in_container=runner)

    def _as_the_process(self) -> Callable[[Hook, bytes], Tuple[int, bytes]]:
        """Runs a start_container hook as runc does: in the container as its
        process would run (namespaces, cgroup, user, capabilities,
        no_new_privs, rlimits, seccomp filter; the process's environment
        when the hook has none), so that what the container may not do, its
        hook may not do either."""
        cgroup = self._cgroup_or_none()
        join = cgroup.dirs() if cgroup is not None else ()

        def run(hook: Hook, document: bytes) -> Tuple[int, bytes]:
            config = self.exec_config(hook.argv, env=_hook_env(hook) or None)
            config = attrs.evolve(config, process=attrs.evolve(config.process, executable=hook.path))
            return _run_hook(config, hook, document, container_id=f"{self.id}-hook", join_cgroups=join, joining=True)

        return run

    def pause(self) -> None:
        """Freeze every process of the container (waits until frozen).
        StateError unless created or running, ConfigError without a cgroup,
        CgroupError if the freezer fails (it is thawed again: the container
        is not left half-frozen)."""
        self._require("pause")
        self._cgroup("pause").freeze()

    def resume(self) -> None:
        """Thaw a paused container (waits until running); StateError unless
        paused, CgroupError if the freezer fails."""
        self._require("resume")
        self._cgroup("resume").thaw()

    def kill(self, sig: int = signal.SIGTERM, *, all: bool = False) -> None:
        """Signal the first process, or with ``all`` every process of the
        cgroup; through a pidfd, after checking that the pid is still the
        container's (never a recycled one).  ``all`` on a stopped container
        does nothing (as runc); a single signal to it is a StateError.
        Signals only: nothing is created."""
        if all and self.status() == "stopped":
            return
        self._require("kill")
        if all and self._cgroup_or_none() is not None:
            for proc in self.processes():
                try:
                    proc.send_signal(sig)
                except _no_such_process():
                    pass
            return
        if self.process is not None:
            self.process.send_signal(sig)
            return
        pidfd = _native.pidfd_open(self.pid)
        try:
            if process_start_time(self.pid) != self.stored_state.pid_start:
                return  # it exited and the pid was reused: nothing of ours to signal
            _native.pidfd_send_signal(pidfd, sig)
        except ProcessLookupError:
            pass
        finally:
            os.close(pidfd)

    def wait(self, timeout: Optional[float] = None) -> Optional[int]:
        """Wait for the first process to exit.  Returns its status when it is
        this process's child, else None (only its parent can know it).
        Raises TimeoutError after ``timeout`` seconds (the container is left
        running)."""
        if self.process is not None:
            return int(self.process.wait(timeout))
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            pidfd = _native.pidfd_open(self.pid)
        except ProcessLookupError:
            return None
        try:
            while process_start_time(self.pid) == self.stored_state.pid_start:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                if left == 0.0:
                    raise TimeoutError(f"container {self.id} still runs after {timeout}s")
                select.select([pidfd], [], [], min(left, 0.1) if left is not None else 0.1)
        finally:
            os.close(pidfd)
        return None

    async def wait_async(self, poll: float = 0.05) -> Optional[int]:
        """``wait()`` for asyncio programs: the event loop is woken when the
        first process exits (its pidfd becomes readable).  ``poll`` (seconds)
        is the interval of the fallback where no pidfd can be had."""
        import asyncio

        own = self.process is None or self.process.pidfd < 0
        try:
            pidfd = _native.pidfd_open(self.pid) if own else self.process.pidfd  # type: ignore[union-attr]
        except OSError:  # gone already (ESRCH), or no pidfds here
            pidfd = -1
        try:
            if pidfd < 0:
                while self._alive():
                    await asyncio.sleep(poll)
            elif self._alive():  # checked after the open: a reused pid is not waited for
                loop = asyncio.get_running_loop()
                exited: asyncio.Future[None] = loop.create_future()

                def readable() -> None:
                    if not exited.done():
                        exited.set_result(None)

                loop.add_reader(pidfd, readable)
                try:
                    await exited
                finally:
                    loop.remove_reader(pidfd)
        finally:
            if own and pidfd >= 0:
                os.close(pidfd)
        if self.process is not None:
            return self.process.wait()
        return None

    def destroy(self) -> None:
        """Kill every process, remove the cgroup and the state; idempotent,
        from any process.  Leaves nothing of the container behind; raises
        ContainerError when exec'd processes of another owner will not
        die."""

        if self._destroyed:
            return
        hooks = self._hooks("poststop")  # read before the config's file goes
        # DEL against the namespace, held past the kill: the container's end
        # of each veth goes at once (and a recycled pid is never asked).
        directory = container_dir(self.root, self.id)
        networked = os.path.exists(os.path.join(directory, NETWORK_RECORD))
        if networked:
            from . import _netrun  # only for a container with networks

            _netrun.check_netns(directory)  # before anything is killed
        netns = self._open_netns() if networked else -1
        try:
            self._destroy()
        finally:
            try:
                if networked:
                    _netrun.detach_recorded(directory, netns)
            finally:
                if netns >= 0:
                    os.close(netns)
                # Whoever removes the record runs poststop, once: another
                # process may have destroyed the container already.
                recorded = os.path.isdir(directory)
                remove_state(self.root, self.id)
        if recorded:
            self._run_hooks("poststop", hooks, "stopped")

    def _destroy(self) -> None:
        if self._alive() and self.process is None:
            try:
                self.kill(signal.SIGKILL)
            except (ContainerError, OSError):
                pass
        self._destroyed = True
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        cgroup = self._cgroup_or_none()
        if cgroup is not None:
            cgroup.destroy()  # kills what is left
        if self.process is not None:
            self.process.close()
            self._wait_reaping_execs(self.process)
            for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
                if stream is not None:
                    stream.close()
        else:
            _wait_gone(self.pid, self.stored_state.pid_start)

    def _wait_reaping_execs(self, process: ContainerProcess) -> None:
        """Wait for the (killed) first process, reaping exec'd ones meanwhile;
        SIGKILL again while waiting, and give up after KILL_TIMEOUT seconds
        with a ContainerError rather than wait for ever."""
        deadline = time.monotonic() + KILL_TIMEOUT
        while True:
            for ref in self._exec_procs:
                proc = ref()
                if proc is not None:
                    proc.poll()
            try:
                process.wait(0.05)
                return
            except subprocess.TimeoutExpired:
                if time.monotonic() >= deadline:
                    raise ContainerError(
                        f"container {self.id}: its process {process.pid} did not exit after SIGKILL"
                    ) from None
                process.kill()

    def delete(self, *, force: bool = False) -> None:
        """Remove a stopped container (cgroup, state); StateError for one
        that is created, running or paused, which stays as it was, unless
        ``force``: it is killed first (as destroy()).  Afterwards nothing of
        the container is left."""
        if not force:
            self._require("delete")
        self.destroy()

    def __enter__(self) -> Container:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.destroy()

    # -- exec ----------------------------------------------------------------

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
        init: bool = False,
        terminal: bool = False,
        scheduler: Any = _SAME,
        io_priority: Any = _SAME,
        exec_cpu_affinity: Any = _SAME,
        new_session: Optional[bool] = None,
        passwd_home: Optional[bool] = None,
    ) -> Config:
        """The Config of a process that joins this container: every namespace
        of its first process, its security settings and scheduling
        (overridable; None for ``seccomp``, ``scheduler``, ``io_priority`` or
        ``exec_cpu_affinity``: none; ``new_session`` and ``passwd_home``
        None: as the first process; the home looked up in the container's
        /etc/passwd as its processes see it), no rootfs or cgroup of its own (but a
        chroot into the container's root when it has no mount namespace)."""
        if self.config is None:
            raise ContainerError(f"container {self.id}: exec needs its config (Container.load(..., config=...))")
        base = self.config.process
        process = attrs.evolve(
            base,
            args=args,
            env=base.env if env is None else env,
            cwd=base.cwd if cwd is None else cwd,
            user=base.user if user is None else user,
            capabilities=base.capabilities if capabilities is None else capabilities,
            no_new_privileges=base.no_new_privileges if no_new_privileges is None else no_new_privileges,
            init=init,
            terminal=terminal,
            scheduler=base.scheduler if scheduler is _SAME else scheduler,
            io_priority=base.io_priority if io_priority is _SAME else io_priority,
            exec_cpu_affinity=base.exec_cpu_affinity if exec_cpu_affinity is _SAME else exec_cpu_affinity,
            new_session=base.new_session if new_session is None else new_session,
            passwd_home=base.passwd_home if passwd_home is None else passwd_home,
        )
        if self.stored_state.namespaces.get("user"):
            self._check_mapped(process.user)
        if process.passwd_home and not process.env.get("HOME"):
            passwd = read_beneath(f"/proc/{self.pid}/root", "etc/passwd")
            process = attrs.evolve(process, env=with_home(process.env, process.user.uid, passwd))
        # Without a mount namespace of its own the container's root is a
        # chroot: the exec'd process enters it too.
        chroot = self.config.rootfs if self.config.namespaces.mount is False else None
        return Config(
            rootfs=chroot,
            namespaces=Namespaces(**self.stored_state.namespaces),
            process=process,
            seccomp=self.config.seccomp if seccomp is _SAME else seccomp,
            cgroup=None,
            memory_policy=self.config.memory_policy,
        )

    def _check_mapped(self, user: User) -> None:
        """A ConfigError, before anything is made, for an exec'd user whose
        ids the container's user namespace does not map (setuid would fail
        with EINVAL in the child)."""
        from .idmap import IDMap
        from .validate import check_user_mapped

        maps = []
        for kind in ("uid", "gid"):
            try:
                with open(f"/proc/{self.pid}/{kind}_map") as f:
                    maps.append(tuple(IDMap(*map(int, line.split())) for line in f if line.strip()))
            except (OSError, ValueError, ConfigError):
                return  # gone, or unreadable: the spawn says what is wrong
        check_user_mapped(user, maps[0], maps[1], "the container's user namespace")

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
        dies_with_owner: bool = True,
        ignore_paused: bool = False,
        sub_cgroups: Optional[Mapping[str, str]] = None,
        **overrides: Any,
    ) -> ContainerProcess:
        """Start ``args`` inside the running container: in every namespace
        of its first process (the user namespace first), in its cgroup, with
        its security settings -- ``overrides`` are those of exec_config()
        (env, cwd, user, capabilities, no_new_privileges, seccomp,
        scheduler, io_priority, exec_cpu_affinity).  Returns
        a Popen-like ContainerProcess (the caller's child), killed when
        this process dies unless ``dies_with_owner`` is False.

        ``ignore_paused``: exec into a paused container too (the process
        is frozen with it until resume()).  ``sub_cgroups``: an existing
        cgroup below the container's to join instead, by controller ("":
        every hierarchy without an entry of its own), as runc's ``exec
        --cgroup``.

        Raises StateError unless the container is created or running (or
        paused with ``ignore_paused``), ConfigError for bad overrides, a
        StepError subclass (ExecError, NamespaceError...) naming the failing
        step; a failed exec leaves no process behind."""
        self._require("exec", also=("paused",) if ignore_paused else ())
        config = self.exec_config(args, **overrides)
        cgroup = self._cgroup_or_none()
        if sub_cgroups and cgroup is None:
            raise ConfigError("sub_cgroups", f"container {self.id} has no cgroup to have sub-cgroups")
        self._execs += 1
        proc = ContainerProcess(
            config,
            container_id=f"{self.id}-exec{self._execs}",
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            pass_fds=pass_fds,
            text=text,
            wait_start=wait_start,
            join_cgroups=_exec_cgroup_dirs(cgroup, sub_cgroups or {}) if cgroup is not None else (),
            joining=True,
            dies_with_owner=dies_with_owner,
            on_listener=_seccomp_agent(
                config.seccomp,
                self.id,
                "running",
                self.stored_state.bundle,
                self.stored_state.annotations,
                init_pid=self.pid,
            ),
        )
        self._exec_procs.append(weakref.ref(proc))
        return proc

    # -- resources -------------------------------------------------------------

    def stats(self) -> Stats:
        """Typed resource usage now (memory, cpu, pids, io, hugetlb); reads the
        cgroup files only.  ConfigError without a cgroup."""
        return self._cgroup("stats").stats()

    def events(self, interval: float = 0.05, timeout: Optional[float] = None) -> Iterator[Event]:
        """OOM and memory-pressure events as they happen; ends when the
        container is empty or after ``timeout``.  ConfigError without a
        cgroup; reads only."""
        return self._cgroup("events").events(interval=interval, timeout=timeout)

    async def events_async(self, interval: float = 0.05, timeout: Optional[float] = None) -> AsyncIterator[Event]:
        """``events()`` for asyncio programs."""
        import asyncio

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
        """Change one resource (Memory, Cpu, Pids, IO...) of the running container.

        StateError for a stopped container, ConfigError without a cgroup,
        CgroupError naming the file the kernel refused; nothing is created
        (only the cgroup's files are written)."""
        self._require("update")
        self._cgroup("update").update(resource)

    def pids(self) -> List[int]:
        """The pids of every process in the container's cgroup (the first process alone without a cgroup)."""
        cgroup = self._cgroup_or_none()
        return cgroup.pids() if cgroup is not None else [self.pid]

    def processes(self) -> List[psutil.Process]:
        """The container's processes as psutil.Process objects."""
        cgroup = self._cgroup_or_none()
        if cgroup is not None:
            return cgroup.processes()
        import psutil

        return [psutil.Process(self.pid)]


def _exec_cgroup_dirs(cgroup: Manager, sub: Mapping[str, str]) -> List[str]:
    """The container's cgroup directory in each hierarchy, or the existing
    sub-cgroup below it that ``sub`` names for one of the hierarchy's
    controllers ("" for any)."""
    layout = detect()
    hierarchies = [*layout.v1, *([layout.unified] if layout.unified is not None else [])]
    known = {c for h in hierarchies for c in h.controllers} | {""}
    for controller in sub:
        if controller not in known:
            raise ConfigError("sub_cgroups", f"no cgroup hierarchy has the controller {controller!r}")
    out = []
    for directory in cgroup.dirs():
        owner = next((h for h in hierarchies if directory.startswith(h.mountpoint.rstrip("/") + "/")), None)
        names = owner.controllers if owner is not None else ()
        rel = next((sub[c] for c in names if c in sub), sub.get(""))
        if rel:
            below = os.path.normpath(os.path.join(directory, rel.lstrip("/")))
            if not below.startswith(directory + "/"):
                raise ConfigError("sub_cgroups", f"{rel!r} is not below the container's cgroup")
            if not os.path.isdir(below):
                raise ContainerError(f"sub-cgroup {below} does not exist")
            directory = below
        out.append(directory)
    return out


def _state_of(
    container_id: str,
    config: Config,
    process: ContainerProcess,
    pid: int,
    bundle: Optional[str],
    annotations: Dict[str, str],
    no_process: bool,
) -> Optional[State]:
    """The full record of ``process`` whose first process is ``pid``; None
    when that process is gone (or a zombie)."""
    start = process_start_time(pid)
    if start is None:
        return None
    cgroup = config.cgroup
    namespaces = {
        kind: f"/proc/{pid}/ns/{PROC_NAMES[kind]}" for kind in KINDS if config.namespaces.setting(kind) is not False
    }
    return State(
        id=container_id,
        pid=pid,
        pid_start=start,
        created=utc_now(),
        rootfs=config.rootfs.path if config.rootfs is not None else None,
        bundle=bundle,
        annotations=annotations,
        cgroup_path=process.cgroup.path if process.cgroup is not None else None,
        cgroup_controllers=None if cgroup is None else process.cgroup_controllers,
        cgroup_joined=process.cgroup is not None and process.cgroup.joined,
        namespaces=namespaces,
        no_process=no_process,
        hook_phases=tuple(phase for phase in PHASES if config.hooks.of(phase)),
    )


def _intent(container_id: str, config: Config, host: Optional[Layout]) -> State:
    """The state written before anything is made: no process yet (pid 0);
    ``host``: the host's cgroup layout (with a cgroup)."""
    cgroup = config.cgroup
    controllers = None
    if cgroup is not None:
        from . import rootless

        layout = host = detect() if host is None else host
        if rootless.cgroups_unprivileged():
            # where popen will make it: in the delegated subtree, or nowhere
            delegated = rootless.delegated_cgroup(cgroup, layout, container_id)
            cgroup, layout = delegated if delegated is not None else (None, layout)
        if cgroup is not None and not cgroup.accounting:
            controllers = v1_placement(cgroup.controllers(), layout.v1, layout.unified)
    return State(
        id=container_id,
        pid=0,
        pid_start=0,
        created=utc_now(),
        cgroup_path=cgroup.resolved_path(container_id) if cgroup is not None else None,
        cgroup_controllers=controllers,
        # A cgroup that exists already is joined, not made: never removed by a
        # cleanup of this record, even if creating stops half-way.
        cgroup_joined=cgroup is not None and bool(_existing_cgroup(cgroup, container_id, host)),
    )


def _existing_cgroup(cgroup: CgroupConfig, container_id: str, host: Optional[Layout] = None) -> List[str]:
    from .cgroups._ops import existing_dirs

    controllers = None if cgroup.accounting else cgroup.controllers()
    return existing_dirs(cgroup.resolved_path(container_id), controllers, host)


def _create_hooks(
    container_id: str,
    config: Config,
    fns: Mapping[str, Tuple[Callback, ...]],
    bundle: Optional[str],
    annotations: Mapping[str, str],
) -> Optional[Callable[[int, Optional[str]], None]]:
    """What the parent runs while the child waits before pivot_root, or None
    when there is nothing to run (the child then does not wait)."""
    phases = ("prestart", "create_runtime", "create_container")
    if not any(config.hooks.of(p) or fns.get(p) for p in phases):
        return None

    def run(pid: int, root: Optional[str]) -> None:
        state = oci_state(container_id, "creating", pid, bundle, annotations)
        namespaces = {k: f"/proc/{pid}/ns/{PROC_NAMES[k]}" for k in KINDS if config.namespaces.setting(k) is not False}
        for phase in phases:
            runner = _in_namespaces(pid, namespaces, cwd=root or "/") if phase == "create_container" else None
            run_phase(phase, config.hooks.of(phase), fns.get(phase, ()), state, in_container=runner)

    return run


def _in_namespaces(
    pid: int, namespaces: Mapping[str, str], cwd: str = "/"
) -> Callable[[Hook, bytes], Tuple[int, bytes]]:
    """Runs a create_container hook in the namespaces of ``pid``, in ``cwd``
    (the root's path there, as runc's run in the rootfs), with every
    capability and no filter: at create the container's confinement is not
    in place yet, and runc runs these hooks from its own init likewise."""

    def run(hook: Hook, document: bytes) -> Tuple[int, bytes]:
        config = Config(
            rootfs=None,
            namespaces=Namespaces(**namespaces),
            process=Process(
                args=hook.argv,
                executable=hook.path,
                env=_hook_env(hook),
                cwd=cwd,
                capabilities=Capabilities.all(),
                no_new_privileges=False,
            ),
            seccomp=None,
            cgroup=None,
        )
        return _run_hook(config, hook, document)

    return run


def _hook_env(hook: Hook) -> Dict[str, str]:
    return dict(item.split("=", 1) for item in hook.env)


def _run_hook(config: Config, hook: Hook, document: bytes, **spawn: Any) -> Tuple[int, bytes]:
    """Run one hook process of ``config``: the state on its stdin; its
    status and stderr."""
    with ContainerProcess(config, stdin=PIPE, stdout=DEVNULL, stderr=PIPE, **spawn) as proc:
        try:
            _, err = proc.communicate(document, timeout=hook.timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    return int(proc.returncode), err or b""


def _undo_create(root: str, container_id: str, process: Optional[ContainerProcess]) -> None:
    """What a failed create made goes: its process, cgroup and state."""

    netns = -1
    if process is not None and process.poll() is None:
        try:  # our unreaped child: its pid is its own
            netns = os.open(f"/proc/{process.pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            pass
    try:
        if process is not None:
            process.kill()
            process.close()
            process.wait()
        from . import _netrun

        _netrun.detach_recorded(container_dir(root, container_id), netns)
    finally:
        if netns >= 0:
            os.close(netns)
        remove_state(root, container_id)


def _seccomp_agent(seccomp: Any, *args: Any, **kwargs: Any) -> Optional[Callable[[int, int], None]]:
    """seccomp.agent.agent_callback, imported only for a filter that names an agent."""
    if seccomp is None or seccomp.listener_path is None:
        return None
    from .seccomp.agent import agent_callback

    return agent_callback(seccomp, *args, **kwargs)
