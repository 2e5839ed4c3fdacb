"""Process and User: what runs in the container, and as whom."""

from __future__ import annotations

from typing import Any, Mapping, Optional, Tuple

import attrs

from ._fields import absolute_path, boolean, fail, freeze_mapping, instance_tuple, str_tuple, uint32
from ._repr import short_repr
from .capabilities import Capabilities
from .limits import Rlimit
from .scheduling import ExecCPUAffinity, IOPriority, Scheduler

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_ENV: Mapping[str, str] = {"PATH": DEFAULT_PATH}


def _gids(field: str, value: Any) -> Tuple[int, ...]:
    if isinstance(value, (str, bytes, int)):
        raise fail(field, f"expected a sequence of gids, got {value!r}")
    return tuple(uint32(f"{field}[{i}]", g) for i, g in enumerate(value))


def _to_user_uid(value: Any) -> int:
    return uint32("user.uid", value)


def _to_user_gid(value: Any) -> int:
    return uint32("user.gid", value)


def _to_user_additional_gids(value: Any) -> Tuple[int, ...]:
    return _gids("user.additional_gids", value)


def _to_process_args(value: Any) -> Tuple[str, ...]:
    return _args("process.args", value)


def _to_process_env(value: Any) -> Mapping[str, str]:
    return freeze_mapping("process.env", value)


def _to_process_cwd(value: Any) -> str:
    return absolute_path("process.cwd", value)


def _to_process_umask(value: Any) -> int:
    return _umask("process.umask", value)


@attrs.frozen
class User:
    """The uid, gid and supplementary groups the process runs with."""

    __repr__ = short_repr

    uid: int = attrs.field(default=0, converter=_to_user_uid)
    gid: int = attrs.field(default=0, converter=_to_user_gid)
    additional_gids: Tuple[int, ...] = attrs.field(default=(), converter=_to_user_additional_gids)


def _args(field: str, value: Any) -> Tuple[str, ...]:
    args = str_tuple(field, value, allow_empty_items=True)
    if not args:
        raise fail(field, "must name a program to run")
    if not args[0]:
        raise fail(f"{field}[0]", "the program name must not be empty")
    return args


def _umask(field: str, value: Any) -> int:
    return uint32(field, value, maximum=0o777)


def _to_process_no_new_privileges(value: Any) -> bool:
    return boolean("process.no_new_privileges", value)


def _to_process_executable(value: Any) -> Optional[str]:
    return None if value is None else absolute_path("process.executable", value)


def _to_process_terminal(value: Any) -> bool:
    return boolean("process.terminal", value)


def _to_process_init(value: Any) -> bool:
    return boolean("process.init", value)


def _to_process_rlimits(value: Any) -> Tuple[Rlimit, ...]:
    limits = instance_tuple("process.rlimits", value, Rlimit)
    kinds = [limit.type for limit in limits]
    dupes = sorted({k for k in kinds if kinds.count(k) > 1})
    if dupes:
        raise fail("process.rlimits", f"given twice: {dupes}")
    return limits


def _to_process_scheduler(value: Any) -> Optional[Scheduler]:
    if value is not None and not isinstance(value, Scheduler):
        raise fail("process.scheduler", f"expected a Scheduler or None, got {type(value).__name__} {value!r}")
    return value


def _to_process_io_priority(value: Any) -> Optional[IOPriority]:
    if value is not None and not isinstance(value, IOPriority):
        raise fail("process.io_priority", f"expected an IOPriority or None, got {type(value).__name__} {value!r}")
    return value


def _to_process_exec_cpu_affinity(value: Any) -> Optional[ExecCPUAffinity]:
    if value is not None and not isinstance(value, ExecCPUAffinity):
        raise fail(
            "process.exec_cpu_affinity", f"expected an ExecCPUAffinity or None, got {type(value).__name__} {value!r}"
        )
    return value


def _to_process_oom_score_adj(value: Any) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not -1000 <= value <= 1000:
        raise fail("process.oom_score_adj", f"must be an int from -1000 to 1000, got {value!r}")
    return value


@attrs.frozen
class Process:
    """The container's process: its argv, environment, cwd, user and umask.

    ``args[0]`` without a slash is looked up in the ``PATH`` of ``env``
    inside the container.
    """

    __repr__ = short_repr

    args: Tuple[str, ...] = attrs.field(converter=_to_process_args)
    env: Mapping[str, str] = attrs.field(factory=lambda: dict(DEFAULT_ENV), converter=_to_process_env)
    cwd: str = attrs.field(default="/", converter=_to_process_cwd)
    user: User = attrs.field(factory=User)
    umask: int = attrs.field(default=0o022, converter=_to_process_umask)
    #: Defaults to the usual container set; Capabilities.all() for a privileged one.
    capabilities: Capabilities = attrs.field(factory=Capabilities.default)
    #: prctl(PR_SET_NO_NEW_PRIVS): setuid binaries and file caps grant nothing.
    no_new_privileges: bool = attrs.field(default=True, converter=_to_process_no_new_privileges)
    rlimits: Tuple[Rlimit, ...] = attrs.field(default=(), converter=_to_process_rlimits)
    #: The program to execute, when it is not args[0] (which is then only
    #: argv[0]), like subprocess's ``executable``; None: args[0] in PATH.
    executable: Optional[str] = attrs.field(default=None, converter=_to_process_executable)
    #: A pseudo-terminal on 0/1/2 (from the container's /dev/ptmx); its
    #: master end is handed to the caller (ContainerProcess.tty_fd).
    terminal: bool = attrs.field(default=False, converter=_to_process_terminal)
    #: Run a tiny init as PID 1 that reaps zombies, forwards signals to the
    #: program and exits with its status (for programs not written to be PID 1).
    init: bool = attrs.field(default=False, converter=_to_process_init)
    #: -1000..1000; lowering it below the caller's needs CAP_SYS_RESOURCE.
    oom_score_adj: Optional[int] = attrs.field(default=None, converter=_to_process_oom_score_adj)
    #: CPU scheduling policy (sched_setattr(2)); None keeps the caller's.
    scheduler: Optional[Scheduler] = attrs.field(default=None, converter=_to_process_scheduler)
    #: I/O priority (ioprio_set(2)); None keeps the caller's.
    io_priority: Optional[IOPriority] = attrs.field(default=None, converter=_to_process_io_priority)
    #: The CPUs of processes exec'd into the container (not of this one).
    exec_cpu_affinity: Optional[ExecCPUAffinity] = attrs.field(default=None, converter=_to_process_exec_cpu_affinity)

    @capabilities.validator
    def _check_capabilities(self, _attr: attrs.Attribute[Capabilities], value: Any) -> None:
        if not isinstance(value, Capabilities):
            raise fail("process.capabilities", f"expected Capabilities, got {type(value).__name__} {value!r}")

    @user.validator
    def _check_user(self, _attr: attrs.Attribute[User], value: Any) -> None:
        if not isinstance(value, User):
            raise fail("process.user", f"expected User, got {type(value).__name__} {value!r}")
