"""On-disk state of a container, so that any process can find and manage it.

``<root>/<id>/state.json``, the record, is written atomically (a temp file
renamed over it): a reader sees the old or the new record, never a torn
one, even when the writer is killed half-way.  ``<root>/<id>/config.json``,
the config document (apart, so that listing thousands of records reads a
few hundred bytes each), is written once, before the full record that
makes it read.  Nothing is fsynced: the records
describe processes, which a power loss ends too (see docs/decisions.md).  The pid is
stored with the process's start time, so a recycled pid is never mistaken
for the container.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any, Dict, Optional, Tuple

import attrs

from ._statedir import (
    CONFIG_FILE,
    DEFAULT_ROOT,
    START_SOCKET,
    STATE_FILE,
    container_dir,
    is_valid_id,
    list_ids,
    process_start_time,
    read_config_document,
    read_record,
    recorded_status,
    remove_state,
    write_atomic,
    write_intent,
    write_new,
    write_temp,
)
from .errors import ContainerError

__all__ = [
    "CONFIG_FILE",
    "DEFAULT_ROOT",
    "is_valid_id",
    "START_SOCKET",
    "STATE_FILE",
    "State",
    "StateNotFound",
    "container_dir",
    "list_ids",
    "process_start_time",
    "read_config_document",
    "read_state",
    "recorded_status",
    "record_document",
    "remove_state",
    "commit_state",
    "stage_state",
    "write_config",
    "write_intent_state",
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
    #: The config as a plain document (serialize.config_to_dict), in records
    #: written before the config had a file of its own (``config.json``,
    #: read_config_document, read only when needed); None in newer ones.
    config: Optional[Dict[str, Any]] = None
    #: Created without a process (OCI's ``process`` is optional at create):
    #: its process is a stand-in that start() refuses to start.
    no_process: bool = False
    #: The phases for which the config has executable hooks (so that whoever
    #: starts or deletes the container knows without reading the config).
    hook_phases: Tuple[str, ...] = ()

    def alive(self) -> bool:
        """The first process still runs (and is the same process)."""
        return process_start_time(self.pid) == self.pid_start


def record_document(state: State) -> Dict[str, Any]:
    """The keys of ``state.json``: every field of State (the one place where
    the record's keys are put together), ``config`` only when the state has
    one (a record of an older version, written again)."""
    # Fields as they are: asdict would copy the documents, plain data already.
    fields = {a.name: getattr(state, a.name) for a in attrs.fields(State)}
    if fields["config"] is None:
        del fields["config"]
    return fields


def _record_bytes(state: State) -> bytes:
    # Compact, so that json encodes it in C (with an indent it does so in Python).
    return json.dumps(record_document(state), sort_keys=True, separators=(",", ":")).encode()


def write_state(root: str, state: State) -> None:
    """Write ``state`` atomically into its container directory."""
    write_atomic(os.path.join(container_dir(root, state.id), STATE_FILE), _record_bytes(state))


def write_intent_state(root: str, state: State) -> None:
    """Write the intent ``state`` (pid 0, before anything is made): an
    extended attribute of the container's directory where the file system
    has them, else the record file; the full record (stage_state, then
    commit_state) takes its place."""
    write_intent(container_dir(root, state.id), _record_bytes(state))


def stage_state(root: str, state: State) -> None:
    """Write ``state`` beside the record (``state.json.tmp``), where no
    reader looks, until commit_state() puts it in place: the file is made
    while the child sets itself up, the rename alone waits for it."""
    write_temp(os.path.join(container_dir(root, state.id), STATE_FILE), _record_bytes(state))


def commit_state(root: str, container_id: str) -> None:
    """Rename the record stage_state() wrote over the one in place (atomic)."""
    path = os.path.join(container_dir(root, container_id), STATE_FILE)
    os.rename(path + ".tmp", path)


#: Per state root, the config file last written there and its document: the
#: next container of the same document gets a hard link to it, not a file of
#: its own (a few roots at most are remembered).
_last_config: Dict[str, Tuple[bytes, str]] = {}
_last_config_lock = threading.Lock()
_LAST_CONFIGS = 8


def write_config(root: str, container_id: str, document: bytes) -> None:
    """Write the container's config document (JSON, serialize.config_json)
    into its new directory, once, before the full record: only a full
    record's config is read, so no temp file is needed (the intent's
    torn config is never read as valid, and destroy() removes it).

    When the last config file written under ``root`` holds the same
    document, it is hard-linked instead (no file made: docs/lifecycle.md);
    the link is kept only if it reads back as ``document``, else (that
    container destroyed, its id reused, too many links, another file
    system) a file is written as before."""
    path = os.path.join(container_dir(root, container_id), CONFIG_FILE)
    with _last_config_lock:
        last = _last_config.get(root)
    if last is not None and last[0] == document and _link_same(last[1], path, document):
        return
    write_new(path, document)
    with _last_config_lock:
        _last_config.pop(root, None)
        while len(_last_config) >= _LAST_CONFIGS:
            del _last_config[next(iter(_last_config))]
        _last_config[root] = (document, path)


def _link_same(source: str, path: str, document: bytes) -> bool:
    """Hard-link ``source`` at ``path`` if it holds ``document``; False (and
    nothing at ``path``) otherwise."""
    try:
        os.link(source, path)
    except FileExistsError:
        raise
    except OSError:
        return False
    try:
        with open(path, "rb") as f:
            if f.read(len(document) + 1) == document:
                return True
    except OSError:
        pass
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    return False


def read_state(root: str, container_id: str) -> State:
    raw = read_record(root, container_id)
    if raw is None:
        raise StateNotFound(f"no container {container_id!r} under {root}")
    return State(**raw)
