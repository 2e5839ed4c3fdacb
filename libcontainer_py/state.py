"""On-disk state of a container, so that any process can find and manage it.

``<root>/<id>/state.json`` is written atomically (a temp file renamed
over it): a reader sees the old or the new state, never a torn one, even
when the writer is killed half-way.  Nothing is fsynced: the records
describe processes, which a power loss ends too (see docs/decisions.md).  The pid is
stored with the process's start time, so a recycled pid is never mistaken
for the container.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Optional, Tuple

import attrs

from ._statedir import (
    DEFAULT_ROOT,
    START_SOCKET,
    STATE_FILE,
    container_dir,
    is_valid_id,
    list_ids,
    process_start_time,
    read_record,
    recorded_status,
    remove_state,
)
from .errors import ContainerError

__all__ = [
    "DEFAULT_ROOT",
    "is_valid_id",
    "START_SOCKET",
    "STATE_FILE",
    "State",
    "StateNotFound",
    "container_dir",
    "list_ids",
    "process_start_time",
    "read_state",
    "recorded_status",
    "remove_state",
    "write_state",
]


class StateNotFound(ContainerError):
    """No container of that id under that root."""


@attrs.frozen
class State:
    """What another process needs to manage a container."""

    id: str
    pid: int
    pid_start: int
    created: str
    rootfs: Optional[str] = None
    bundle: Optional[str] = None
    annotations: Dict[str, str] = attrs.field(factory=dict)
    #: The cgroup: its path, and whether only some hierarchies are used.
    cgroup_path: Optional[str] = None
    cgroup_controllers: Optional[Tuple[str, ...]] = None
    #: The cgroup existed before the container: destroy() leaves it (and its processes) alone.
    cgroup_joined: bool = False
    #: kind -> namespace path of the first process (new namespaces only).
    namespaces: Dict[str, str] = attrs.field(factory=dict)
    #: The config as a plain document (serialize.config_to_dict), for exec.
    config: Optional[Dict[str, Any]] = None
    #: Created without a process (OCI's ``process`` is optional at create):
    #: its process is a stand-in that start() refuses to start.
    no_process: bool = False

    def alive(self) -> bool:
        """The first process still runs (and is the same process)."""
        return process_start_time(self.pid) == self.pid_start


def write_state(root: str, state: State) -> None:
    """Write ``state`` atomically into its container directory."""
    directory = container_dir(root, state.id)
    final = os.path.join(directory, STATE_FILE)
    tmp = final + ".tmp"
    # Compact, so that json encodes it in C (with an indent it does so in
    # Python: ~4 ms for a large config); fields as they are (asdict would
    # copy the config document, which is plain data already).
    fields = {a.name: getattr(state, a.name) for a in attrs.fields(State)}
    data = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.rename(tmp, final)


def read_state(root: str, container_id: str) -> State:
    raw = read_record(root, container_id)
    if raw is None:
        raise StateNotFound(f"no container {container_id!r} under {root}")
    return State(**raw)
