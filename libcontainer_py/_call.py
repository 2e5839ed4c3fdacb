"""lc.call: run a Python function in a fresh container and get its result.

The function, its arguments and the caller's sys.path are pickled
(cloudpickle: lambdas, closures and __main__ code by value) and sent over a
socket to a fresh interpreter -- the caller's own ``sys.executable`` --
exec'd in the container (libcontainer_py._callee); the container sees the
caller's interpreter and import paths read-only.  Trusted code only:
unpickling the result runs code in the caller.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import socket
import sys
import sysconfig
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, TypeVar

import attrs

from . import _callee, _unpickle
from ._popen_args import check_config
from .cgroups import Manager, Stats
from .config import Config
from .errors import (
    CallError,
    CallMemoryError,
    CallTimeout,
    ConfigError,
    InterpreterMismatch,
    RemoteError,
    SerializationError,
    WorkerCrashed,
)
from .mounts import Mount
from .rootfs import HOST_PATHS

T = TypeVar("T")

#: Never bound from the caller: the container's own file systems.
_NOT_BOUND = ("/", "/proc", "/sys", "/dev", "/run")


@attrs.frozen
class CallStats:
    """A call's resource figures (None where the host does not record one)."""

    cpu_time: Optional[float]
    peak_memory: Optional[int]
    wall_time: float
    oom_kills: int = 0

    @classmethod
    def of(cls, stats: Optional[Stats], began: float) -> CallStats:
        """The figures of a call from its cgroup's ``stats`` (None: not
        measured) and the ``time.monotonic()`` it began at."""
        memory = stats.memory if stats is not None else None
        cpu = stats.cpu if stats is not None else None
        return cls(
            cpu.usage_ns / 1e9 if cpu is not None else None,
            memory.peak if memory is not None else None,
            time.monotonic() - began,
            memory.oom_kills if memory is not None else 0,
        )


# -- what the container must see ---------------------------------------------


def _under(path: str, roots: Iterable[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def _module_roots() -> List[str]:
    """Where imported top-level modules live (editable installs put packages
    outside sys.path, behind a finder)."""
    roots = []
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if "." in name or not isinstance(file, str):
            continue
        where = os.path.dirname(os.path.abspath(file))
        if os.path.basename(file).startswith("__init__.") and os.path.basename(where) == name:
            roots.append(os.path.dirname(where))
        elif os.path.basename(file).split(".")[0] == name:
            roots.append(where)
    return roots


_paths_cache: Dict[Tuple[Any, ...], List[str]] = {}


def caller_paths(executable: str = sys.executable) -> List[str]:
    """The directories the caller's interpreter and imports need, outside
    the host directories Rootfs.host() has already, fewest first (nested
    ones dropped).  Computed again when sys.path, the modules or the
    working directory change."""
    key = (executable, tuple(sys.path), len(sys.modules), os.getcwd())
    found = _paths_cache.get(key)
    if found is None:
        found = _paths_cache[key] = _caller_paths(executable)
        while len(_paths_cache) > 8:
            del _paths_cache[next(iter(_paths_cache))]
    return list(found)


def _caller_paths(executable: str) -> List[str]:
    wanted = [sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix]
    wanted += [os.path.dirname(executable), os.path.dirname(os.path.realpath(executable))]
    wanted += [os.getcwd() if entry == "" else entry for entry in sys.path]
    wanted += _module_roots()
    found = set()
    for path in wanted:
        for candidate in {os.path.abspath(path), os.path.realpath(path)}:
            if os.path.isfile(candidate):  # a zip on sys.path
                candidate = os.path.dirname(candidate)
            if os.path.isdir(candidate) and candidate not in _NOT_BOUND and not _under(candidate, HOST_PATHS):
                found.add(candidate)
    kept: List[str] = []
    for path in sorted(found):
        if not _under(path, kept):
            kept.append(path)
    return kept


def call_config(config: Optional[Config]) -> Config:
    """The container of a call: ``config`` (default ``Config()``) with the
    caller's paths bound read-only and the cgroup accounting every
    controller (peak memory and CPU time for the figures)."""
    config = check_config(config) if config is not None else Config()
    present = {m.destination for m in config.mounts}
    binds = [Mount.bind(p, p, readonly=True) for p in caller_paths() if p not in present]
    cgroup = attrs.evolve(config.cgroup, accounting=True) if config.cgroup is not None else None
    return attrs.evolve(config, mounts=config.mounts + binds, cgroup=cgroup)


#: The callee's start: without site (its .pth files and editable finders
#: cost ~10 ms); the caller's sys.path, and where its imported packages
#: live, come with the call.
BOOT = "import sys; sys.path[0] = {root!r}; from libcontainer_py._callee import main; main(sys.argv)"


def callee_args(mode: str, fd: int, python: Optional[str] = None) -> List[str]:
    root = os.path.dirname(os.path.dirname(os.path.abspath(_callee.__file__)))
    return [python or sys.executable, "-S", "-u", "-B", "-c", BOOT.format(root=root), mode, str(fd)]


_import_paths_cache: Dict[Tuple[Any, ...], List[str]] = {}


def import_paths(python: Optional[str] = None) -> Tuple[List[str], bool]:
    """The caller's sys.path, then where its imported top-level packages
    live when no sys.path entry finds them (editable installs' finders);
    for another interpreter (``python``), without the caller's standard
    library, and to go after its own sys.path."""
    key = (tuple(sys.path), len(sys.modules), os.getcwd())
    if _import_paths_cache.get(key) is None:
        _import_paths_cache.clear()  # one entry: the caller's paths change rarely
        found = [os.getcwd() if entry == "" else entry for entry in sys.path]
        found += [root for root in dict.fromkeys(_module_roots()) if root not in found]
        _import_paths_cache[key] = found
    paths = list(_import_paths_cache[key])
    if python is None:
        return paths, False
    stdlib = {sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib")}
    stdlib |= {os.path.join(p, "lib-dynload") for p in list(stdlib)}
    return [p for p in paths if p not in stdlib and not p.endswith(".zip")], True


_VERSION_SCRIPT = "import sys; print('%d.%d' % sys.version_info[:2])"


def check_interpreter(config: Config, python: Optional[str]) -> None:
    """Another interpreter (``python``, a path in the container) must be
    this Python's version (pickled code is not portable between versions):
    InterpreterMismatch if not.  It runs once, in a container of ``config``."""
    from ._run import run

    if python is None:
        return
    if not isinstance(python, str) or not python.startswith("/"):
        raise ConfigError("python", f"must be an absolute path in the container, got {python!r}")
    done = run([python, "-S", "-c", _VERSION_SCRIPT], config=config, capture_output=True, text=True, timeout=60)
    ours = f"{sys.version_info[0]}.{sys.version_info[1]}"
    theirs = done.stdout.strip()
    if done.returncode != 0 or theirs != ours:
        said = f"is Python {theirs}" if done.returncode == 0 else f"failed ({done.returncode}: {done.stderr.strip()!r})"
        raise InterpreterMismatch(
            "python",
            f"{python} in the container {said}; this process is Python {ours}, and pickled code needs the same",
        )


# -- the payload ---------------------------------------------------------------


def _cloudpickle() -> Any:
    try:
        import cloudpickle
    except ImportError as exc:
        raise ImportError(f"lc.call and lc.Pool need cloudpickle: pip install 'libcontainer_py[call]' ({exc})") from exc
    return cloudpickle


def _first_unpicklable(fn: Any, args: Sequence[Any], kwargs: Dict[str, Any]) -> str:
    cloudpickle = _cloudpickle()

    named: List[Tuple[str, Any]] = [("the function", fn)]
    named += [(f"argument {i}", a) for i, a in enumerate(args)]
    named += [(f"argument {k!r}", v) for k, v in kwargs.items()]
    for what, value in named:
        try:
            cloudpickle.dumps(value)
        except Exception:
            return f"{what} ({type(value).__qualname__})"
    return "the call"


def payload(fn: Callable[..., Any], args: Sequence[Any], kwargs: Dict[str, Any], python: Optional[str] = None) -> bytes:
    """The PAYLOAD frame's body; SerializationError naming what cannot be pickled."""
    cloudpickle = _cloudpickle()

    try:
        call = cloudpickle.dumps((fn, tuple(args), dict(kwargs)))
    except Exception as exc:
        raise SerializationError(_first_unpicklable(fn, args, kwargs), f"cannot be pickled: {exc}") from exc
    light = _unpickle.light_for(getattr(cloudpickle, "__version__", None))
    return pickle.dumps((import_paths(python), call, light))


# -- the outcome ---------------------------------------------------------------


class _RemoteTraceback(Exception):
    """The cause of a re-raised exception: the traceback in the container."""

    def __init__(self, tb: str) -> None:
        super().__init__(tb)
        self.tb = tb

    def __str__(self) -> str:
        return f'\n"""\n{self.tb}"""'


def _with_figures(exc: CallError, figures: CallStats) -> CallError:
    exc.cpu_time, exc.peak_memory, exc.wall_time = figures.cpu_time, figures.peak_memory, figures.wall_time
    return exc


def rebuild(tag: bytes, body: bytes, figures: CallStats) -> Any:
    """The result of a RESULT frame, or raise what the others say."""
    if tag == _callee.RESULT:
        try:
            return pickle.loads(body)
        except Exception as exc:
            raise _with_figures(SerializationError("the result", f"cannot be unpickled here: {exc}"), figures) from exc
    if tag == _callee.UNPICKLABLE:
        raise _with_figures(SerializationError("the result", f"cannot be pickled: {body.decode()}"), figures)
    pickled, type_name, message, tb = pickle.loads(body)
    try:
        remote = pickle.loads(pickled) if pickled is not None else None
    except Exception:
        remote = None
    if not isinstance(remote, BaseException):
        remote = _with_figures(RemoteError(type_name, message, tb), figures)
    raise remote from _RemoteTraceback(tb)


def failure(status: int, figures: CallStats, timed_out: Optional[float], what: str) -> CallError:
    """The error for a call that ended without a result."""
    if timed_out is not None:
        return _with_figures(CallTimeout(f"{what} timed out after {timed_out} s; its cgroup was killed"), figures)
    if figures.oom_kills and status == -signal.SIGKILL:
        peak = f" (peak {figures.peak_memory} bytes)" if figures.peak_memory is not None else ""
        return _with_figures(CallMemoryError(f"{what} was killed by the OOM killer{peak}"), figures)
    if status < 0:
        name = signal.Signals(-status).name if -status in signal.valid_signals() else str(-status)
        return _with_figures(WorkerCrashed(f"{what} died of {name}", signal=-status), figures)
    return _with_figures(WorkerCrashed(f"{what} exited with status {status}", exitcode=status), figures)


def wait_frame(sock: socket.socket, deadline: Optional[float]) -> Optional[Tuple[bytes, bytes]]:
    """The next frame; None at EOF; TimeoutError past ``deadline``."""
    if deadline is not None:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([sock], [], [], left)[0]:
            raise TimeoutError
    return _callee.recv_frame(sock)


def check_timeout(timeout: Optional[float]) -> Optional[float]:
    if timeout is not None and not timeout > 0:
        raise ConfigError("timeout", f"must be a positive number of seconds, got {timeout!r}")
    return timeout


# -- lc.call ---------------------------------------------------------------------


def call(
    fn: Callable[..., T],
    /,
    *args: Any,
    config: Optional[Config] = None,
    timeout: Optional[float] = None,
    python: Optional[str] = None,
    **kwargs: Any,
) -> T:
    """Run ``fn(*args, **kwargs)`` in a fresh container and return its result.

    The function's exceptions are raised here (the remote traceback as the
    cause); a call that ends otherwise raises CallTimeout, CallMemoryError
    or WorkerCrashed.  ``config`` defaults to ``Config()``; ``python``
    names another interpreter in the container (an image's), which must be
    this Python's version (InterpreterMismatch).  For trusted code:
    unpickling the result runs code in this process.
    """
    value, _ = call_with_stats(fn, args, kwargs, config=config, timeout=timeout, python=python)
    return value  # type: ignore[no-any-return]


def call_with_stats(
    fn: Callable[..., Any],
    args: Sequence[Any],
    kwargs: Dict[str, Any],
    *,
    config: Optional[Config] = None,
    timeout: Optional[float] = None,
    on_stats: Optional[Callable[[CallStats], None]] = None,
    python: Optional[str] = None,
) -> Tuple[Any, CallStats]:
    """lc.call, also returning the call's figures (errors carry them too;
    ``on_stats`` sees them however the call ends, once it has run)."""
    from .popen import DEVNULL, ContainerProcess

    began = time.monotonic()
    timeout = check_timeout(timeout)
    if not callable(fn):
        raise ConfigError("fn", f"must be callable, got {type(fn).__qualname__}")
    body = payload(fn, args, kwargs, python)
    config = call_config(config)
    check_interpreter(config, python)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with ContainerProcess(
            config, args=callee_args("call", theirs.fileno(), python), stdin=DEVNULL, pass_fds=[theirs.fileno()]
        ) as proc:
            theirs.close()
            deadline = None if timeout is None else began + timeout
            frame, timed_out = _exchange(ours, body, deadline, proc.cgroup)
            if timed_out:
                proc.kill()
            status = proc.wait()
            figures = CallStats.of(proc.cgroup.stats() if proc.cgroup is not None else None, began)
            if on_stats is not None:
                on_stats(figures)
    finally:
        ours.close()
        theirs.close()
    if frame is not None:
        return rebuild(*frame, figures), figures
    raise failure(status, figures, timeout if timed_out else None, f"the call of {_name(fn)}")


def _exchange(
    sock: socket.socket, body: bytes, deadline: Optional[float], cgroup: Optional[Manager]
) -> Tuple[Optional[Tuple[bytes, bytes]], bool]:
    """Send the call, wait for its outcome: (frame or None at EOF, timed out)."""
    try:
        _callee.send_frame(sock, _callee.PAYLOAD, body)
        return wait_frame(sock, deadline), False
    except TimeoutError:
        if cgroup is not None:
            cgroup.kill()
        return None, True
    except (BrokenPipeError, ConnectionResetError):
        return None, False


def _name(fn: Any) -> str:
    return str(getattr(fn, "__qualname__", None) or type(fn).__qualname__)
