"""Process and User: what runs in the container, and as whom."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Optional, Tuple

import attrs

from ._fields import (
    FieldCheck,
    absolute_path_field,
    boolean_field,
    fail,
    field_options,
    freeze_mapping_field,
    instance_of,
    instance_tuple,
    named_fields,
    optional_absolute_path_field,
    optional_instance_field,
    str_tuple,
    uint32,
    uint32_field,
)
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


def _args(field: str, value: Any) -> Tuple[str, ...]:
    args = str_tuple(field, value, allow_empty_items=True)
    if not args:
        raise fail(field, "must name a program to run")
    if not args[0]:
        raise fail(f"{field}[0]", "the program name must not be empty")
    return args


def _rlimits(field: str, value: Any) -> Tuple[Rlimit, ...]:
    limits = instance_tuple(field, value, Rlimit)
    kinds = [limit.type for limit in limits]
    dupes = sorted({k for k in kinds if kinds.count(k) > 1})
    if dupes:
        raise fail(field, f"given twice: {dupes}")
    return limits


def _keyring(field: str, value: Any) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, str) or not value or "\0" in value or value.startswith(".") or len(value.encode()) > 4095:
        raise fail(field, f"expected a keyring name (not empty, no NUL, not starting with '.'), got {value!r}")
    return value


def _oom_score_adj(field: str, value: Any) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not -1000 <= value <= 1000:
        raise fail(field, f"must be an int from -1000 to 1000, got {value!r}")
    return value


if TYPE_CHECKING:  # see _fields: what mypy's attrs plugin reads

    def _gids_field(value: Any) -> Tuple[int, ...]: ...
    def _args_field(value: Any) -> Tuple[str, ...]: ...
    def _rlimits_field(value: Any) -> Tuple[Rlimit, ...]: ...
    def _oom_score_adj_field(value: Any) -> Optional[int]: ...
    def _keyring_field(value: Any) -> Optional[str]: ...

else:
    _gids_field = FieldCheck(_gids)
    _args_field = FieldCheck(_args)
    _rlimits_field = FieldCheck(_rlimits)
    _oom_score_adj_field = FieldCheck(_oom_score_adj, keeps_none=True)
    _keyring_field = FieldCheck(_keyring, keeps_none=True)


@attrs.frozen(field_transformer=named_fields("user"))
class User:
    """The uid, gid and supplementary groups the process runs with."""

    __repr__ = short_repr

    uid: int = attrs.field(default=0, converter=uint32_field)
    gid: int = attrs.field(default=0, converter=uint32_field)
    additional_gids: Tuple[int, ...] = attrs.field(default=(), converter=_gids_field)


@attrs.frozen(field_transformer=named_fields("process"))
class Process:
    """The container's process: its argv, environment, cwd, user and umask.

    ``args[0]`` without a slash is looked up in the ``PATH`` of ``env``
    inside the container.
    """

    __repr__ = short_repr

    args: Tuple[str, ...] = attrs.field(converter=_args_field)
    env: Mapping[str, str] = attrs.field(factory=lambda: dict(DEFAULT_ENV), converter=freeze_mapping_field)
    cwd: str = attrs.field(default="/", converter=absolute_path_field)
    user: User = attrs.field(factory=User, validator=instance_of(User))
    umask: int = attrs.field(default=0o022, converter=uint32_field, metadata=field_options(maximum=0o777))
    #: Defaults to the usual container set; Capabilities.all() for a privileged one.
    capabilities: Capabilities = attrs.field(factory=Capabilities.default, validator=instance_of(Capabilities))
    #: prctl(PR_SET_NO_NEW_PRIVS): setuid binaries and file caps grant nothing.
    no_new_privileges: bool = attrs.field(default=True, converter=boolean_field)
    rlimits: Tuple[Rlimit, ...] = attrs.field(default=(), converter=_rlimits_field)
    #: The program to execute, when it is not args[0] (which is then only
    #: argv[0]), like subprocess's ``executable``; None: args[0] in PATH.
    executable: Optional[str] = attrs.field(default=None, converter=optional_absolute_path_field)
    #: A pseudo-terminal on 0/1/2 (from the container's /dev/ptmx); its
    #: master end is handed to the caller (ContainerProcess.tty_fd).
    terminal: bool = attrs.field(default=False, converter=boolean_field)
    #: A session and process group of its own (setsid(2)), as subprocess's
    #: ``start_new_session``: a terminal's signals and a kill of the caller's
    #: process group miss it.  The command line sets it, as runc does for
    #: every process; a terminal gives one anyway.  Not an OCI field.
    new_session: bool = attrs.field(default=False, converter=boolean_field)
    #: When ``env`` has no ``HOME`` (or an empty one), the process gets the
    #: user's home directory from the container's /etc/passwd (``/`` when
    #: the user is not listed), as runc sets it; a process exec'd later
    #: looks up its own user.  The command line sets it.  Not an OCI field.
    passwd_home: bool = attrs.field(default=False, converter=boolean_field)
    #: The session keyring the process joins (made if there is none yet),
    #: so that it does not share its caller's; ``None`` keeps the caller's.
    #: The command line names it ``_ses.<id>`` for a container and its exec'd
    #: processes, as runc, unless ``--no-new-keyring``.  Not an OCI field.
    session_keyring: Optional[str] = attrs.field(default=None, converter=_keyring_field)
    #: Make ``cwd`` (and its missing parents, mode 0755, owned by the
    #: container's root) when the root lacks it, as runc does for a
    #: container's process; without it a missing ``cwd`` is a CwdError.
    #: The command line sets it for create and run.  Not an OCI field.
    make_cwd: bool = attrs.field(default=False, converter=boolean_field)
    #: Run a tiny init as PID 1 that reaps zombies, forwards signals to the
    #: program and exits with its status (for programs not written to be PID 1).
    init: bool = attrs.field(default=False, converter=boolean_field)
    #: -1000..1000; lowering it below the caller's needs CAP_SYS_RESOURCE.
    oom_score_adj: Optional[int] = attrs.field(default=None, converter=_oom_score_adj_field)
    #: CPU scheduling policy (sched_setattr(2)); None keeps the caller's.
    scheduler: Optional[Scheduler] = attrs.field(
        default=None, converter=optional_instance_field, metadata=field_options(cls=Scheduler)
    )
    #: I/O priority (ioprio_set(2)); None keeps the caller's.
    io_priority: Optional[IOPriority] = attrs.field(
        default=None, converter=optional_instance_field, metadata=field_options(cls=IOPriority)
    )
    #: The CPUs of processes exec'd into the container (not of this one).
    exec_cpu_affinity: Optional[ExecCPUAffinity] = attrs.field(
        default=None, converter=optional_instance_field, metadata=field_options(cls=ExecCPUAffinity)
    )
