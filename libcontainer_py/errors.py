"""The exception hierarchy: everything the library raises is a ContainerError."""

from __future__ import annotations

import errno as errno_mod
import os

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from typing import Any, List, Optional, Type

    from ._process_errors import ProcessExitError as ProcessExitError
    from ._process_errors import TimeoutExpired as TimeoutExpired


class ContainerError(Exception):
    """Base class of every error raised by libcontainer_py."""

    container_id: Optional[str] = None


class ContainerExists(ContainerError):
    """A container of that id already exists (under that state root, or
    running with its cgroup)."""


class ConfigError(ContainerError, ValueError):
    """The configuration is invalid; raised before any kernel object exists.

    ``field`` names the offending setting (``"process.cwd"``, ``"mounts[2]"``).
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class SpawnError(ContainerError):
    """Starting the container failed in the parent (clone, maps, sync)."""

    def __init__(self, message: str, errno: Optional[int] = None) -> None:
        super().__init__(message)
        self.errno = errno


def wrong_type(expected: str, value: Any) -> str:
    """The message for a value of the wrong type: what was expected, what came."""
    return f"expected {expected}, got {type(value).__name__} {value!r}"


def host_error(message: str, exc: OSError) -> SpawnError:
    """The typed error for an OSError of the host (ENOSPC on the state root,
    EMFILE, EAGAIN from a pids limit...) met while making a container: a
    SpawnError with its errno, raised ``from`` the OSError."""
    return SpawnError(f"{message}: {exc.strerror or exc}", exc.errno)


class StepError(ContainerError):
    """A step of the container's set-up failed in the child.

    Carries what the step did (``step``, e.g. "bind mount /srv"), its
    ``index`` in the plan, the path it was working on (``path``) and the
    errno; the OSError is chained as the cause.
    """

    def __init__(
        self,
        step: str,
        index: int,
        err: int,
        path: Optional[str] = None,
        detail: str = "",
        container_id: Optional[str] = None,
    ) -> None:
        where = f" {path!r}" if path is not None else ""
        extra = f" ({detail})" if detail else ""
        code = errno_mod.errorcode.get(err, str(err))
        super().__init__(f"step {index} {step}{where}{extra} failed: [{code}] {os.strerror(err)}")
        # after the base's __init__: OSError's (of the subclasses below) resets errno
        self.step = step
        self.index = index
        self.errno = err
        self.strerror = os.strerror(err)
        self.path = path
        self.detail = detail
        self.container_id = container_id


class NamespaceError(StepError):
    """Joining or creating a namespace failed."""


class MountError(StepError):
    """A mount, device node, symlink or root filesystem step failed."""


class CgroupJoinError(StepError):
    """The child could not move itself into its cgroup."""


class IdentityError(StepError):
    """Setting the user, groups or hostname of the container failed."""


class SecurityError(StepError):
    """Setting capabilities, rlimits, no_new_privs, seccomp or a sysctl failed."""


class CwdError(StepError):
    """The working directory could not be entered."""


class ExecError(StepError):
    """execve of the container's program failed (missing binary, no permission)."""


class ExecNotFound(ExecError, FileNotFoundError):  # type: ignore[misc]  # errno is never None here
    """The program does not exist in the container (ENOENT, ENOTDIR): also a
    FileNotFoundError, as subprocess raises for a missing program."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filename = self.path

    def __str__(self) -> str:
        return Exception.__str__(self)  # the step's message, not OSError's


class ExecPermissionError(ExecError, PermissionError):  # type: ignore[misc]
    """The program may not be executed (EACCES, EPERM): also a PermissionError."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filename = self.path

    def __str__(self) -> str:
        return Exception.__str__(self)  # the step's message, not OSError's


class CallError(ContainerError):
    """A function run by ``lc.call`` or an ``lc.Pool`` did not return.

    Carries the call's resource figures: ``cpu_time`` (seconds of CPU used
    by every process of the call), ``peak_memory`` (bytes; None where the
    host does not record it) and ``wall_time`` (seconds)."""

    cpu_time: Optional[float] = None
    peak_memory: Optional[int] = None
    wall_time: Optional[float] = None


class CallTimeout(CallError, TimeoutError):
    """The call ran out of time; its whole cgroup was killed."""


class CallMemoryError(CallError, MemoryError):
    """The OOM killer ended the call (its cgroup counted an OOM kill)."""


class WorkerCrashed(CallError):
    """The interpreter running the call died without a result: a signal
    (``signal``: SIGSEGV, SIGKILL...) or an exit (``exitcode``: os._exit,
    sys.exit); the other is None."""

    def __init__(self, message: str, *, signal: Optional[int] = None, exitcode: Optional[int] = None) -> None:
        super().__init__(message)
        self.signal = signal
        self.exitcode = exitcode


class RemoteError(CallError):
    """An exception of the called function that cannot be rebuilt in the
    caller: its ``type_name``, ``message`` and remote ``traceback`` text."""

    def __init__(self, type_name: str, message: str, traceback: str) -> None:
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.type_name = type_name
        self.message = message
        self.traceback = traceback

    def __reduce__(self) -> Any:
        return (type(self), (self.type_name, self.message, self.traceback))


class SerializationError(CallError, TypeError):
    """An argument or a result could not be pickled or unpickled; the
    message names the object (``what``: "argument 0", "the result"...)."""

    def __init__(self, what: str, message: str) -> None:
        super().__init__(f"{what}: {message}")
        self.what = what


class InterpreterMismatch(ConfigError):
    """The interpreter chosen for lc.call or lc.Pool (``python=``) is not
    this Python's version, or does not run."""


def step_error_class(cls: Type[StepError], err: int) -> Type[StepError]:
    """The class of a step's error: for exec, the OSError subclass Python
    users catch (FileNotFoundError, PermissionError) when the errno says so."""
    if issubclass(cls, ExecError):
        if err in (errno_mod.ENOENT, errno_mod.ENOTDIR):
            return ExecNotFound
        if err in (errno_mod.EACCES, errno_mod.EPERM):
            return ExecPermissionError
    return cls


def __getattr__(name: str) -> Any:
    # The two subclasses of subprocess's exceptions live apart: importing
    # subprocess costs milliseconds that the command line's light commands
    # (which import this module) should not pay.
    if name in ("ProcessExitError", "TimeoutExpired"):
        from . import _process_errors

        value = getattr(_process_errors, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> List[str]:
    return sorted([*globals(), "ProcessExitError", "TimeoutExpired"])
