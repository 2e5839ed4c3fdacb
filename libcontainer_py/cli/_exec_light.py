"""``exec`` without the config model: the saved exec plan (cli/_exec_plan.py)
with this exec's argv, env and cwd, handed to the C executor.

An engine runs ``exec`` for every probe and ``kubectl exec``, each in a new
process; the library's path imports the config model, builds the exec's
Config and plan, and costs ~8x runc's exec.  This path reads the record,
the process.json (if any) and the saved plan -- the steps the library built
for an earlier exec of the same container process with the same inputs
(the plan's ``key``: the flags and process.json fields besides args, env
and cwd) -- and spawns it as spawn.spawn would: the same joins (cgroup,
then every namespace, user first), identity, capabilities, rlimits,
no_new_privs and seccomp program, as that exec had.  Whatever it does not
take -- a terminal, a console socket, --preserve-fds, --cgroup, a status
other than created or running, an input the library would check or warn
about, no saved plan for the key -- returns None and the library's path
runs (and saves a plan for the next time).  Light: no attrs, typing,
psutil or config model (tests/test_cli.py checks what it imports).
"""

from __future__ import annotations

import os
import posixpath
import sys

from .. import _jsonlite, _native, _statedir
from .._contract import MSG, MSG_CHILD_PID, MSG_ERROR
from .._execpath import exec_candidates
from .._home import read_beneath, with_home
from .._shortcuts import signal, socket
from . import _exec_plan, _light
from ._argv import root_of
from ._common import exit_status, signals_forwarded, write_pid_file

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Tuple

    from .._saved_plan import SavedPlan
    from ._argv import Args
    from ._log import Logger

    _Inputs = Tuple[List[str], Dict[str, str], str]

#: process.json's fields the library reads (oci/spec.py's; a unit test
#: checks): with any other it warns, which is the library's to do.
PROCESS_KEYS = frozenset(
    {"terminal", "consoleSize", "user", "args", "env", "cwd", "capabilities", "rlimits", "noNewPrivileges"}
    | {"oomScoreAdj", "apparmorProfile", "selinuxLabel", "scheduler", "ioPriority", "execCPUAffinity"}
)
#: What the fast exec fills in itself; the rest of process.json is the plan's key.
_PER_EXEC = ("args", "env", "cwd")


def plan_key(args: Args, process: Optional[Dict[str, Any]]) -> str:
    """What shaped an exec's plan besides its argv, env and cwd: the flags
    that change it and the process.json's other fields."""
    doc = None if process is None else {k: v for k, v in process.items() if k not in _PER_EXEC}
    inputs = {
        "additional_gids": args.additional_gids,
        "cap": args.cap,
        "no_new_privs": args.no_new_privs,
        "process": doc,
        "user": args.user,
    }
    return _jsonlite.dumps(_jsonlite.sorted_keys(inputs), compact=True)


def _text(value: Any, allow_empty: bool = False) -> bool:
    """What _fields.text accepts (a str without NUL)."""
    return isinstance(value, str) and "\0" not in value and (allow_empty or value != "")


def _read_process(path: str) -> Optional[Dict[str, Any]]:
    """The process.json when this path can take it as it is (else the
    library reads it, with its errors and warnings)."""
    try:
        with open(path, "rb") as f:
            doc = _jsonlite.loads(f.read().decode())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or not set(doc) <= PROCESS_KEYS or doc.get("terminal"):
        return None
    if not isinstance(doc.get("args"), list) or not isinstance(doc.get("env", []), list) or "cwd" not in doc:
        return None
    return doc


def _cwd(value: Any) -> Optional[str]:
    """_fields.absolute_path's result, or None where it would refuse."""
    if not _text(value) or not value.startswith("/") or ".." in value.split("/"):
        return None
    return str(posixpath.normpath(value).replace("//", "/"))


def _inputs(args: Args, base: Dict[str, Any], process: Optional[Dict[str, Any]]) -> Optional[_Inputs]:
    """argv, env and cwd as execute._exec would make them, or None where it
    would refuse them (its message is the library's to give)."""
    env: Dict[str, str] = dict(base["env"])
    cwd = base["cwd"]
    argv = list(args.args)
    if process is not None:
        argv, env, cwd = process["args"], {}, process["cwd"]
        for item in process.get("env") or []:
            if not _text(item) or "=" not in item:
                return None
            k, v = item.split("=", 1)
            env.pop(k, None)  # the last one wins (oci/spec.py's _process)
            env[k] = v
    for item in args.env:
        k, sep, v = item.partition("=")
        if not sep:
            return None
        env[k] = v
    if args.cwd:
        cwd = args.cwd
    if not argv or not all(_text(a, allow_empty=True) for a in argv) or not argv[0]:
        return None
    if not all(_text(k) and "=" not in k and _text(v, allow_empty=True) for k, v in env.items()):
        return None
    path = _cwd(cwd)
    return None if path is None else (argv, env, path)


def _uid(args: Args, base: Dict[str, Any], process: Optional[Dict[str, Any]]) -> Optional[int]:
    """The exec'd process's uid as execute._exec takes it (--user, else the
    process.json's, else the container's); None where it would refuse it."""
    if args.user:
        text = args.user.partition(":")[0]
        return int(text) if text.isdigit() else None
    user = process.get("user") if process is not None else base.get("user")
    if process is not None and user is None:
        return 0  # a process.json without a user: root, as oci.spec's _user
    uid = user.get("uid") if isinstance(user, dict) else None
    return uid if type(uid) is int and uid >= 0 else None


def run(args: Args, log: Logger) -> Optional[int]:
    """The exec's exit status (0 with --detach), or None: the library's turn."""
    if args.tty or args.console_socket or args.preserve_fds or args.cgroup:
        return None
    root = root_of(args)
    if not _statedir.is_valid_id(args.container_id):
        return None
    record, status = _light.load(root, args.container_id)
    # The config document: its own file, or inside a record of an older version.
    config = record.config if record.config is not None else _statedir.read_config_document(root, record.id)
    if status not in ("created", "running") or not isinstance(config, dict):
        return None
    base = config.get("process")
    if not isinstance(base, dict) or base.get("executable") is not None:
        return None
    process = None
    if args.process:
        process = _read_process(args.process)
        if process is None:
            return None
    inputs = _inputs(args, base, process)
    if inputs is None:
        return None
    plan = _exec_plan.load(root, record, plan_key(args, process))
    if plan is None:
        return None
    log.debug("exec: the saved plan, without the config model")
    argv, env, cwd = inputs
    if not env.get("HOME"):  # as execute._exec: the user's home from the container's /etc/passwd
        uid = _uid(args, base, process)
        if uid is None:
            return None
        env = with_home(env, uid, read_beneath(f"/proc/{record.pid}/root", "etc/passwd"))
    for step in plan.steps:
        if step.op == _exec_plan.CHDIR:
            step.s1 = step.path = cwd
        elif step.op == _exec_plan.EXEC:
            step.path = argv[0]
    plan.argv = tuple(argv)
    plan.envp = tuple(f"{k}={v}" for k, v in env.items())
    plan.exec_paths = exec_candidates(argv[0], env.get("PATH", plan.default_path))
    if args.detach:
        child = _start(args, plan, record)
        if child is None:
            return None
        os.close(child.pidfd)  # the engine's subreaper reaps it, and must see its status
        return 0
    running = _Running()
    # Forwarding from before the clone (as runc's handler): a signal that
    # comes while the process starts is passed on once it runs.
    with signals_forwarded(running, False):
        child = _start(args, plan, record)
        if child is None:
            return None
        running.started(child.pidfd)
        _, wait_status = os.waitpid(child.pid, 0)
    os.close(child.pidfd)
    return exit_status(os.waitstatus_to_exitcode(wait_status))


def _start(args: Args, plan: SavedPlan, record: _light.Record) -> Optional[_Child]:
    """The running process, its pid in --pid-file; None: nothing was started."""
    child = _spawn(plan, record)
    if child is not None and args.pid_file:
        try:
            write_pid_file(args.pid_file, child.pid)
        except BaseException:
            child.kill()
            raise
    return child


class _Running:
    """The exec'd process, as signals_forwarded needs it: what comes before
    it runs is kept for it."""

    tty_fd = -1

    def __init__(self) -> None:
        self.pidfd = -1
        self.pending: List[int] = []

    def started(self, pidfd: int) -> None:
        self.pidfd = pidfd
        for sig in self.pending:
            self.send_signal(sig)
        self.pending.clear()

    def send_signal(self, sig: int) -> None:
        if self.pidfd < 0:
            self.pending.append(sig)
            return
        try:
            signal.pidfd_send_signal(self.pidfd, sig)
        except ProcessLookupError:
            pass


def _open_files(plan: SavedPlan) -> Optional[Dict[int, int]]:
    """The namespaces and cgroup.procs files the steps join: index -> fd."""
    opened: Dict[int, int] = {}
    for i, step in enumerate(plan.steps):
        if step.open_path is not None:
            try:
                opened[i] = os.open(step.open_path, step.open_flags | os.O_CLOEXEC)
            except OSError:
                _close(opened.values())
                return None  # the library's path names the failure
    return opened


class _Child:
    """The process being started: its pid and pidfd (-1 until cloned)."""

    pid = pidfd = -1

    def kill(self) -> None:
        _kill(self.pid, self.pidfd)


def _spawn(plan: SavedPlan, record: _light.Record) -> Optional[_Child]:
    """Clone the child and answer it until it execs; None when nothing was
    started and the library's path should run (and say what failed)."""
    opened = _open_files(plan)
    if opened is None:
        return None
    if not record.alive():  # the namespaces opened are the container's, not a recycled pid's
        _close(opened.values())
        return None
    parent, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    child_fd = child_end.detach()
    child = _Child()
    try:
        try:
            native = _native.NativeArgs(plan, sync_fd=child_fd, stdio=(-1, -1, -1), pass_fds=(), opened=opened)  # type: ignore[arg-type]
            child.pid, child.pidfd = _native.spawn(native)
        except OSError:
            return None  # nothing was started: the library's path says why (SpawnError)
        finally:
            _close([child_fd, *opened.values()])
        _drive(plan, parent, native, child)
    except BaseException:
        if child.pid > 0:
            child.kill()
        raise
    finally:
        parent.close()
    return child


def _drive(plan: SavedPlan, parent: Any, native: _native.NativeArgs, child: _Child) -> None:
    """Answer the child until it execs (EOF): a new pid when it forks into
    the pid namespace, a failure as the library's exception."""
    while True:
        data, ancdata, _flags, _addr = parent.recvmsg(MSG.size, 64)
        _close_passed(ancdata)
        if not data:
            break
        kind, index, err, value = MSG.unpack(data)
        if kind == MSG_CHILD_PID:  # the first child forked the process into the pid namespace
            os.waitpid(child.pid, 0)
            os.close(child.pidfd)
            child.pid, child.pidfd = value, -1
            child.pidfd = _native.pidfd_open(value)
        elif kind == MSG_ERROR:
            raise _step_error(plan, index, err, value)
        else:
            raise _step_error(plan, -1, 0, 0)
    failed = native.failed_step()
    if failed is not None:
        raise _step_error(plan, *failed)


def _step_error(plan: SavedPlan, index: int, err: int, stage: int) -> Exception:
    """spawn.step_error's exception (the library's path raises the same)."""
    from ..spawn import step_error

    return step_error(plan.typed(), index, err, stage)


def _kill(pid: int, pidfd: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except OSError:
        pass
    if pidfd >= 0:
        os.close(pidfd)


def _close_passed(ancdata: List[Tuple[int, int, bytes]]) -> None:
    """No fd is expected (no terminal, no listener): close any sent."""
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            _close(int.from_bytes(data[i : i + 4], sys.byteorder) for i in range(0, len(data) - len(data) % 4, 4))


def _close(fds: Any) -> None:
    for fd in fds:
        if fd >= 0:
            os.close(fd)
