"""The light commands: ``state``, ``list``, ``start``, ``delete``, ``kill``,
``pause``, ``resume`` and ``ps`` without loading the library.

They read ``state.json`` as the plain document it is (never the config's
file), /proc, and the container's cgroup through cgroups._ops: no config
model, no attrs, no psutil (an engine calls these several times per
container, each in a new process).  The status is state.recorded_status's
and what each operation accepts is _status_rules's, as for ``Container``,
with the same messages.
Whatever is unusual -- an invalid id, executable hooks to run, no cgroup
where one is needed -- returns False, and the command then takes the
library's path.
"""

from __future__ import annotations

import os

from .. import _statedir
from .._shortcuts import signal
from .._status_rules import ACCEPTS, refusal, runc_refusal
from ._errors import CliError

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional, Tuple

    from ..cgroups._ops import CgroupOps

#: The fields of state.State: a record with others (or without the first
#: four) is handed to State to fail as it always did.
_REQUIRED = frozenset({"id", "pid", "pid_start", "created"})
_FIELDS = _REQUIRED | {
    "rootfs",
    "bundle",
    "annotations",
    "cgroup_path",
    "cgroup_controllers",
    "cgroup_joined",
    "namespaces",
    "config",
    "no_process",
    "hook_phases",
}


class Record:
    """The fields of state.State, read from the stored document."""

    def __init__(self, raw: Dict[str, Any]) -> None:
        self.id: str = raw["id"]
        self.pid: int = raw["pid"]
        self.pid_start: int = raw["pid_start"]
        self.created: str = raw["created"]
        self.rootfs: Optional[str] = raw.get("rootfs")
        self.bundle: Optional[str] = raw.get("bundle")
        self.annotations: Dict[str, str] = raw.get("annotations", {})
        self.cgroup_path: Optional[str] = raw.get("cgroup_path")
        self.cgroup_controllers: Optional[Tuple[str, ...]] = raw.get("cgroup_controllers")
        self.cgroup_joined: bool = raw.get("cgroup_joined", False)
        self.config: Optional[Dict[str, Any]] = raw.get("config")
        self.no_process: bool = raw.get("no_process", False)
        self.hook_phases: Tuple[str, ...] = raw.get("hook_phases", ())

    def alive(self) -> bool:
        """The first process still runs (and is the same process)."""
        return _statedir.process_start_time(self.pid) == self.pid_start

    def runs_hooks(self, *phases: str) -> bool:
        """Whether the recorded config may have executable hooks of these
        phases (only the library runs hooks): the record's ``hook_phases``,
        or in a record of an older version, its config."""
        config = self.config
        if config is None:
            return any(phase in self.hook_phases for phase in phases)
        hooks = config.get("hooks") if isinstance(config, dict) else None
        if not isinstance(hooks, dict):
            return True
        return any(hooks.get(phase) for phase in phases)


def _record(raw: Dict[str, Any]) -> Record:
    keys = set(raw)
    if not keys <= _FIELDS or not _REQUIRED <= keys:
        from ..state import State

        State(**raw)  # raises the TypeError read_state always raised for it
    return Record(raw)


def valid_id(container_id: str) -> bool:
    return _statedir.is_valid_id(container_id)


def read(root: str, container_id: str) -> Record:
    if not valid_id(container_id):
        raise CliError("invalid container id format: " + container_id)
    raw = _statedir.read_record(root, container_id)
    if raw is None:
        raise CliError("container does not exist")
    return _record(raw)


def status(root: str, record: Record) -> str:
    """creating, created, running, paused or stopped (state.recorded_status)."""
    return _statedir.recorded_status(root, record)


def load(root: str, container_id: str) -> Tuple[Record, str]:
    record = read(root, container_id)
    return record, status(root, record)


def _load(root: str, container_id: str) -> Optional[Record]:
    """As Container.load: None for an id the library must report itself."""
    if not valid_id(container_id):
        return None
    raw = _statedir.read_record(root, container_id)
    if raw is None:
        raise CliError("container does not exist")
    return _record(raw)


def _cgroup(record: Record) -> Optional[CgroupOps]:
    """The container's cgroup, as Container's manager would see it."""
    if record.cgroup_path is None:
        return None
    from ..cgroups._ops import open_recorded

    return open_recorded(
        record.cgroup_path, record.cgroup_controllers, container_id=record.id, joined=record.cgroup_joined
    )


def _status(root: str, record: Record, cgroup: Optional[CgroupOps]) -> str:
    """Container.status() of a loaded container."""
    paused: Callable[[], bool] = cgroup.paused if cgroup is not None else (lambda: False)
    return _statedir.recorded_status(root, record, paused)


def _require(root: str, record: Record, cgroup: Optional[CgroupOps], operation: str) -> str:
    """Container._require: StateError's message when not accepted."""
    now = _status(root, record, cgroup)
    if now not in ACCEPTS[operation]:
        raise CliError(refusal(record.id, operation, now))
    return now


def refuse_as_runc(operation: str, container_id: str, status: str) -> None:
    """The command line's refusal of ``operation`` in ``status`` (runc's
    words), checked before the library's own."""
    message = runc_refusal(operation, container_id, status)
    if message is not None:
        raise CliError(message)


def signal_first(record: Record, sig: int) -> None:
    """Signal the container's first process through a pidfd, after checking
    that the pid is still the container's (as Container.kill())."""
    _signal_if_started(record.pid, record.pid_start, sig)


def _signal_pid(pid: int, sig: int) -> None:
    """Signal ``pid`` unless it exited (or is a zombie) meanwhile, never a
    recycled pid: it must have the same start time after the pidfd is open."""
    start = _statedir.process_start_time(pid)
    if start is not None:
        _signal_if_started(pid, start, sig)


def _signal_if_started(pid: int, start: int, sig: int) -> None:
    """Signal ``pid`` through a pidfd if, once the pidfd is open, the
    process still has the start time ``start`` (so it is not a recycled pid)."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        if _statedir.process_start_time(pid) == start:
            signal.pidfd_send_signal(pidfd, sig)
    except ProcessLookupError:
        pass
    finally:
        os.close(pidfd)


def start(root: str, container_id: str) -> bool:
    """``start``: Container.load, the status checks, Container.start."""
    record = _load(root, container_id)
    if record is None or record.runs_hooks("start_container", "poststart"):
        return False
    cgroup = _cgroup(record)
    refuse_as_runc("start", record.id, _status(root, record, cgroup))
    _require(root, record, cgroup, "start")
    if record.no_process:
        raise CliError(_statedir.no_process_message(record.id))
    report = _statedir.send_start(os.path.join(_statedir.container_dir(root, record.id), _statedir.START_SOCKET))
    if report is not None:
        raise _statedir.start_error(report[1], report[2])
    return True


def is_container_error(exc: BaseException) -> bool:
    from ..errors import ContainerError

    return isinstance(exc, ContainerError)


def delete(root: str, container_id: str, force: bool) -> bool:
    """``delete``: Container.load, the status check, Container.destroy."""
    if not valid_id(container_id):
        return False
    raw = _statedir.read_record(root, container_id)
    if raw is None:
        if force:
            return True
        raise CliError("container does not exist")
    record = _record(raw)
    if record.runs_hooks("poststop"):
        return False
    cgroup = _cgroup(record)
    now = _status(root, record, cgroup)
    if not force:
        refuse_as_runc("delete", record.id, now)
    # Container.destroy() of a container that is not this process's child.
    if record.alive():
        try:
            if _status(root, record, cgroup) in ACCEPTS["kill"]:
                signal_first(record, 9)  # SIGKILL
        except Exception as exc:  # as destroy(): ContainerError and OSError are ignored
            if not isinstance(exc, OSError) and not is_container_error(exc):
                raise
    try:
        if cgroup is not None:
            cgroup.destroy()  # kills what is left
        _statedir.wait_gone(record.pid, record.pid_start)
    finally:
        _statedir.remove_state(root, record.id)
    return True


def kill_all(root: str, container_id: str, sig: int) -> bool:
    """``kill --all``: Container.kill(sig, all=True), every process of the cgroup."""
    record = _load(root, container_id)
    if record is None or record.cgroup_path is None:
        return False
    cgroup = _cgroup(record)
    assert cgroup is not None
    if _status(root, record, cgroup) == "stopped":
        return True  # as runc: nothing left to signal
    _require(root, record, cgroup, "kill")
    for pid in cgroup.pids():
        _signal_pid(pid, sig)
    return True


def freeze(root: str, container_id: str, *, frozen: bool) -> bool:
    """``pause`` (frozen) or ``resume``: the status check, Container.pause/resume."""
    record = _load(root, container_id)
    if record is None or record.cgroup_path is None:
        return False
    cgroup = _cgroup(record)
    assert cgroup is not None
    operation = "pause" if frozen else "resume"
    refuse_as_runc(operation, record.id, _status(root, record, cgroup))
    _require(root, record, cgroup, operation)
    if frozen:
        cgroup.freeze()
    else:
        cgroup.thaw()
    return True


def pids(root: str, container_id: str) -> Optional[List[int]]:
    """``ps``: the container's pids after the status check, or None for the library's path."""
    record = _load(root, container_id)
    if record is None:
        return None
    cgroup = _cgroup(record)
    if _status(root, record, cgroup) == "stopped":
        return []  # as runc: nothing runs, which is not an error
    return sorted(cgroup.pids() if cgroup is not None else [record.pid])
