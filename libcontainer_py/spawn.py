"""The parent side of starting a container: clone, the sync protocol, errors.

The child reports on a SOCK_SEQPACKET socket with fixed-size records; EOF
without an error record means execve succeeded.  Whatever fails, the child
is reaped and every fd made here is closed before the exception leaves.
"""

from __future__ import annotations

import os
import sys

from . import _native
from ._contract import (
    MSG,
    MSG_CHILD_PID,
    MSG_ERROR,
    MSG_GO,
    MSG_READY,
    MSG_SECCOMP_FD,
    MSG_START,
    MSG_TTY_FD,
    MSG_WAITING,
    STAGE_CALL,
    STAGES,
)
from ._kernelfile import write_kernel_file
from ._shortcuts import signal, socket  # _signal, _socket: signal.py and socket.py build IntEnums at import (~3 ms)
from ._statedir import _via_dir_fd, send_start, start_error
from .errors import SpawnError, StepError, step_error_class

TYPE_CHECKING = False  # not typing's: see _shortcuts.py (light: the default run's quick path spawns through here)
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

    from .plan import Plan


class Spawned:
    """A started child: its pid, a pidfd (or -1) and, when it waits for
    start, the parent's end of the sync socket; ``seccomp_fd``: the seccomp
    user-notification listener, when the filter has notify rules;
    ``tty_fd``: the master end of the process's terminal (Process.terminal)."""

    __slots__ = ("pid", "pidfd", "seccomp_fd", "sync_fd", "tty_fd")

    def __init__(self, pid: int, pidfd: int, sync_fd: int = -1, seccomp_fd: int = -1, tty_fd: int = -1) -> None:
        self.pid = pid
        self.pidfd = pidfd
        self.sync_fd = sync_fd
        self.seccomp_fd = seccomp_fd
        self.tty_fd = tty_fd

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"Spawned({fields})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not Spawned:
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    __hash__ = None  # type: ignore[assignment]  # mutable, as attrs.define made it


class _Child:
    """The child being started; reaped or killed exactly once."""

    def __init__(self) -> None:
        self.pid = -1
        self.pidfd = -1
        self.seccomp_fd = -1
        self.tty_fd = -1

    def replace(self, pid: int) -> None:
        """The first child forked the real one (as our child) and exits."""
        self.reap()
        self.close_pidfd()
        self.pid = pid
        try:
            self.pidfd = _native.pidfd_open(pid)
        except OSError as exc:
            raise SpawnError(f"pidfd_open({pid}) failed: {exc.strerror}", exc.errno) from exc

    def reap(self) -> None:
        if self.pid > 0:
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
            self.pid = -1

    def close_pidfd(self) -> None:
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1

    def abandon(self) -> None:
        """Kill and reap a child whose start failed half-way."""
        for name in ("seccomp_fd", "tty_fd"):
            fd = getattr(self, name)
            if fd >= 0:
                os.close(fd)
                setattr(self, name, -1)
        if self.pid > 0:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.reap()
        self.close_pidfd()


def spawn(
    plan: Plan,
    *,
    stdio: Tuple[int, int, int] = (-1, -1, -1),
    pass_fds: Sequence[int] = (),
    cgroup_fd: int = -1,
    on_hooks: Optional[Callable[[int, Optional[str]], None]] = None,
    on_cloned: Optional[Callable[[int], None]] = None,
    on_listener: Optional[Callable[[int, int], None]] = None,
    on_parent: Optional[Callable[[int], None]] = None,
) -> Spawned:
    """Start the plan's child and drive it until it execs (or, for a plan
    with WAIT_START, until it waits for start).  ``on_hooks(pid, root)`` runs
    when the child waits for the create hooks (``root``: where its root is
    mounted, in its mount namespace); ``on_cloned(pid)`` right after the
    clone, while the child sets itself up (joining a v1 cgroup alone waits
    ~10 ms for the kernel); ``on_listener(fd, pid)`` gets the seccomp
    listener as soon as the filter is loaded (the fd is closed after it; without
    it, the fd is ``Spawned.seccomp_fd``); ``on_parent(pid)`` runs at the
    child's first WAIT_PARENT, after the id maps (CNI networks); raising
    from any fails the spawn."""
    opened = _open_files(plan)
    try:
        parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    except BaseException:
        _close_all(opened.values())
        raise
    parent_fd, child_fd = parent_sock.detach(), child_sock.detach()
    child = _Child()
    try:
        args = _native.NativeArgs(
            plan, sync_fd=child_fd, stdio=stdio, pass_fds=pass_fds, opened=opened, cgroup_fd=cgroup_fd
        )
        try:
            child.pid, child.pidfd = _native.spawn(args, from_parent_thread=plan.dies_with_owner)
        except OSError as exc:
            raise SpawnError(f"clone failed: {exc.strerror}{_clone_hint(plan, exc)}", exc.errno) from exc
        finally:
            _close_all([child_fd, *opened.values()])
            child_fd, opened = -1, {}
        if on_cloned is not None:
            on_cloned(child.pid)
        if _drive(plan, parent_fd, child, on_hooks, on_listener, on_parent):
            _check_exec(plan, args, child)
    except BaseException:
        child.abandon()
        _close_all([parent_fd, child_fd, *opened.values()])
        _unlink_start_socket(plan)
        raise
    spawned = Spawned(child.pid, child.pidfd, seccomp_fd=child.seccomp_fd, tty_fd=child.tty_fd)
    if plan.waits_for_start or plan.start_socket is not None:
        spawned.sync_fd = parent_fd  # start() / recorded() answers on it
    else:
        os.close(parent_fd)
    return spawned


def _clone_hint(plan: Plan, exc: OSError) -> str:
    """What an unprivileged caller can do about a refused clone."""
    import errno

    from .namespaces import CLONE_FLAGS
    from .plan import Op
    from .rootless import unprivileged, userns_disabled_hint

    if exc.errno not in (errno.EPERM, errno.ENOSPC) or not unprivileged():
        return ""
    if not plan.clone_flags & CLONE_FLAGS["user"] and not any(s.op is Op.SETNS for s in plan.steps):
        return (
            " (a caller without CAP_SYS_ADMIN needs a new user namespace for the others: "
            "namespaces.user=True, as Namespaces.default() has for it)"
        )
    why = userns_disabled_hint()
    return f" ({why}; ask the administrator to allow them)" if why else ""


def recorded(spawned: Spawned) -> None:
    """Tell a child waiting at WAIT_ACCEPT that its state is on disk; it then
    waits for a starter, and outlives this process."""
    fd = spawned.sync_fd
    spawned.sync_fd = -1
    try:
        os.write(fd, MSG.pack(MSG_GO, 0, 0, 0))
    finally:
        os.close(fd)


def start(plan: Plan, spawned: Spawned) -> None:
    """Let a child that waits at WAIT_START exec, and wait until it has."""
    fd = spawned.sync_fd
    spawned.sync_fd = -1
    try:
        os.write(fd, MSG.pack(MSG_START, 0, 0, 0))
        data = os.read(fd, MSG.size)
    finally:
        os.close(fd)
    if data:
        kind, index, err, stage = MSG.unpack(data)
        if kind != MSG_ERROR:
            raise SpawnError(f"unexpected message {kind} from the child")
        raise step_error(plan, index, err, stage)


def _open_files(plan: Plan) -> Dict[int, int]:
    """Open what steps need from the parent's view (namespaces to join,
    cgroup.procs files): step index -> fd, handed to the child."""
    fds: Dict[int, int] = {}
    try:
        for i, step in enumerate(plan.steps):
            if step.listen_path:
                fds[i] = _listen(step.listen_path)
            elif step.open_path:
                try:
                    fds[i] = os.open(step.open_path, step.open_flags | os.O_CLOEXEC)
                except OSError as exc:
                    cls = step_error_class(step.error_class, exc.errno or 0)
                    raise cls(step.what, i, exc.errno or 0, step.open_path, container_id=plan.container_id) from exc
    except BaseException:
        _close_all(fds.values())
        _unlink_start_socket(plan)
        raise
    return fds


def _listen(path: str) -> int:
    """A listening unix socket at ``path`` (for WAIT_ACCEPT)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        _via_dir_fd(sock, path, "bind")
        sock.listen(1)
    except OSError as exc:
        sock.close()
        raise SpawnError(f"cannot listen on {path}: {exc.strerror or exc}", exc.errno) from exc
    return sock.detach()


def _unlink_start_socket(plan: Plan) -> None:
    path = plan.start_socket
    if path is not None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def start_through_socket(path: str, plan: Optional[Plan] = None) -> None:
    """Start a child that waits at WAIT_ACCEPT, from any process, and wait
    until it has exec'd; a failure after the start raises its step error."""
    report = send_start(path)
    if report is not None:
        _, index, err, stage = report
        if plan is not None:
            raise step_error(plan, index, err, stage)
        raise start_error(index, err)


def _check_exec(plan: Plan, args: _native.NativeArgs, child: _Child) -> None:
    """EOF without an error record: execve succeeded, unless the child
    could not send its record (the socket needs memory; a memory limit too
    small to start leaves none) and wrote it only to the shared page."""
    failed = args.failed_step()
    if failed is not None:
        child.reap()
        raise step_error(plan, *failed)


if TYPE_CHECKING:
    _OnHooks = Optional[Callable[[int, Optional[str]], None]]
    _OnListener = Optional[Callable[[int, int], None]]
    _OnParent = Optional[Callable[[int], None]]


def _drive(
    plan: Plan,
    fd: int,
    child: _Child,
    on_hooks: _OnHooks = None,
    on_listener: _OnListener = None,
    on_parent: _OnParent = None,
) -> bool:
    """Answer the child's messages until it execs, fails or waits for start;
    True at EOF (the child exec'd or exited), False when it waits."""
    sock = socket.socket(fileno=fd)
    try:
        while True:
            data, fds = _recv_fds(sock, MSG.size)
            for extra in fds[1:]:
                os.close(extra)
            if fds:
                os.set_inheritable(fds[0], False)
                name = "tty_fd" if data and MSG.unpack(data)[0] == MSG_TTY_FD else "seccomp_fd"
                if getattr(child, name) >= 0:
                    os.close(getattr(child, name))
                setattr(child, name, fds[0])
            if not data:
                return True
            if not _answer(plan, fd, child, data, on_hooks, on_parent):
                return False
            if child.seccomp_fd >= 0 and on_listener is not None:
                _hand_to_agent(child, on_listener)
    finally:
        sock.detach()


def _recv_fds(sock: Any, size: int) -> Tuple[bytes, List[int]]:
    """``socket.recv_fds(sock, size, 1)``'s message and fds, with socket's C half."""
    data, ancillary, _flags, _addr = sock.recvmsg(size, socket.CMSG_LEN(4))
    fds: List[int] = []
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            whole = len(payload) - len(payload) % 4
            fds += [int.from_bytes(payload[i : i + 4], sys.byteorder, signed=True) for i in range(0, whole, 4)]
    return data, fds


def _answer(plan: Plan, fd: int, child: _Child, data: bytes, on_hooks: _OnHooks, on_parent: _OnParent = None) -> bool:
    """Handle one message; False when the child waits for start."""
    kind, index, err, value = MSG.unpack(data)
    if kind == MSG_ERROR:
        child.reap()
        raise step_error(plan, index, err, value)
    if kind == MSG_CHILD_PID:
        child.replace(value)
    elif kind == MSG_WAITING:
        if 0 <= index < len(plan.steps) and plan.steps[index].phase == "hooks":
            if on_hooks is not None:
                on_hooks(child.pid, plan.root_path)
        else:
            _parent_part(plan, child.pid)
            if on_parent is not None:
                on_parent(child.pid)
        os.write(fd, MSG.pack(MSG_GO, 0, 0, 0))
    elif kind == MSG_READY:
        return False
    elif kind == MSG_SECCOMP_FD and child.seccomp_fd < 0:
        _take_listener(child, value)
        os.write(fd, MSG.pack(MSG_GO, 0, 0, 0))
    elif kind not in (MSG_SECCOMP_FD, MSG_TTY_FD):
        raise SpawnError(f"unexpected message {kind} from the child")
    return True


def _take_listener(child: _Child, number: int) -> None:
    """A copy of the child's listener ``number`` (pidfd_getfd, as runc)."""
    pidfd = child.pidfd
    try:
        if pidfd < 0:
            pidfd = _native.pidfd_open(child.pid)
        child.seccomp_fd = _native.pidfd_getfd(pidfd, number)
    except OSError as exc:
        raise SpawnError(f"taking the seccomp listener of {child.pid} failed: {exc.strerror}", exc.errno) from exc
    finally:
        if pidfd >= 0 and pidfd != child.pidfd:
            os.close(pidfd)


def _hand_to_agent(child: _Child, on_listener: Callable[[int, int], None]) -> None:
    fd, child.seccomp_fd = child.seccomp_fd, -1
    try:
        on_listener(fd, child.pid)
    finally:
        os.close(fd)


def _parent_part(plan: Plan, pid: int) -> None:
    """What the parent does while the child waits: user namespace maps."""
    if plan.map_helper:
        from .rootless import write_maps

        write_maps(pid, plan.uid_map, plan.gid_map)
    elif plan.uid_map or plan.gid_map:
        try:
            if plan.deny_setgroups:
                write_kernel_file(f"/proc/{pid}/setgroups", "deny")
            write_kernel_file(f"/proc/{pid}/uid_map", plan.uid_map)
            write_kernel_file(f"/proc/{pid}/gid_map", plan.gid_map)
        except OSError as exc:
            raise SpawnError(f"writing the id maps of {pid} failed: {exc}", exc.errno) from exc


def step_error(plan: Plan, index: int, err: int, stage: int) -> StepError:
    from .plan import Op

    typed = getattr(plan, "typed", None)  # a saved plan (_saved_plan.py): its steps' ops are ints
    if typed is not None:
        plan = typed()
    if 0 <= index < len(plan.steps):
        step = plan.steps[index]
        detail = STAGES.get(stage, "")
        path = step.path
        if step.op in (Op.EXEC, Op.FIND_EXEC):
            detail = f"tried {', '.join(plan.exec_paths)}" if len(plan.exec_paths) > 1 else ""
        elif step.op is Op.MOUNT and step.s2 and stage == STAGE_CALL:
            detail = f"source {step.s2}"
        cls = step_error_class(step.error_class, err)
        exc = cls(step.what, index, err, path, detail, container_id=plan.container_id)
    else:
        exc = StepError("set-up", index, err, container_id=plan.container_id)
    exc.__cause__ = _os_error(plan, index, err, stage, exc.path)
    return exc


def _os_error(plan: Plan, index: int, err: int, stage: int, path: Optional[str]) -> OSError:
    """The OSError behind a step error; a failed mount names its source too."""
    from .plan import Op

    if 0 <= index < len(plan.steps):
        step = plan.steps[index]
        if step.op is Op.MOUNT and stage == STAGE_CALL and step.s2:
            return OSError(err, os.strerror(err), step.s2, None, step.s1)
        if step.op in (Op.EXEC, Op.FIND_EXEC):
            return OSError(err, os.strerror(err), plan.argv[0])
    return OSError(err, os.strerror(err), path)


def _close_all(fds: Iterable[int]) -> None:
    for fd in fds:
        if fd >= 0:
            os.close(fd)
