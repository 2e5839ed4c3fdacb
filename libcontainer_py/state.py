"""On-disk state of a container, so that any process can find and manage it.

``<root>/<id>/state.json`` is written atomically (a temp file, fsync,
rename, fsync of the directory): a reader sees the old or the new state,
never a torn one, even when the writer is killed half-way.  The pid is
stored with the process's start time, so a recycled pid is never mistaken
for the container.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, Callable, Dict, List, Optional, Tuple

import attrs

from .errors import ContainerError

DEFAULT_ROOT = "/run/libcontainer_py"
#: Container ids: 1-64 of letters, digits, '_', '.', '-', starting alnumeric
#: (an id names a directory, a cgroup and, by default, the hostname).
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
STATE_FILE = "state.json"
START_SOCKET = "start.sock"


class StateNotFound(ContainerError):
    """No container of that id under that root."""


def process_start_time(pid: int) -> Optional[int]:
    """The start time of a live (not zombie) ``pid``, field 22 of
    /proc/<pid>/stat, or None when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # The command may hold spaces and parentheses: split after the last ')'.
    fields = data[data.rindex(b")") + 2 :].split()
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


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
    #: kind -> namespace path of the first process (new namespaces only).
    namespaces: Dict[str, str] = attrs.field(factory=dict)
    #: The config as a plain document (serialize.config_to_dict), for exec.
    config: Optional[Dict[str, Any]] = None

    def alive(self) -> bool:
        """The first process still runs (and is the same process)."""
        return process_start_time(self.pid) == self.pid_start


def container_dir(root: str, container_id: str) -> str:
    return os.path.join(root, container_id)


def write_state(root: str, state: State) -> None:
    """Write ``state`` atomically into its container directory."""
    directory = container_dir(root, state.id)
    final = os.path.join(directory, STATE_FILE)
    tmp = final + ".tmp"
    data = json.dumps(attrs.asdict(state), indent=1, sort_keys=True).encode()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, final)
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def read_state(root: str, container_id: str) -> State:
    directory = container_dir(root, container_id)
    path = os.path.join(directory, STATE_FILE)
    try:
        with open(path) as f:
            raw = json.load(f)
    except FileNotFoundError:
        if os.path.isdir(directory):
            # Its creator died between making the directory and writing the
            # first record: nothing else was made yet.
            return State(id=container_id, pid=0, pid_start=0, created="")
        raise StateNotFound(f"no container {container_id!r} under {root}") from None
    except (OSError, ValueError) as exc:
        raise ContainerError(f"cannot read the state of {container_id!r}: {exc}") from exc
    if raw.get("cgroup_controllers") is not None:
        raw["cgroup_controllers"] = tuple(raw["cgroup_controllers"])
    return State(**raw)


def list_ids(root: str) -> List[str]:
    """Ids of the containers under ``root`` (a directory without a record yet
    is one being created, or whose creator died before the first record)."""
    try:
        names = sorted(os.listdir(root))
    except FileNotFoundError:
        return []
    return [n for n in names if os.path.isdir(os.path.join(root, n))]


def remove_state(root: str, container_id: str) -> None:
    """Remove the container's directory and what is in it; idempotent."""
    directory = container_dir(root, container_id)
    for name in (STATE_FILE, STATE_FILE + ".tmp", START_SOCKET):
        try:
            os.unlink(os.path.join(directory, name))
        except FileNotFoundError:
            pass
    try:
        os.rmdir(directory)
    except FileNotFoundError:
        pass


def recorded_status(root: str, record: State, paused: Optional[Callable[[], bool]] = None) -> str:
    """creating, created, running, paused or stopped, from the record and
    /proc alone; ``paused`` asks the container's cgroup (by default a manager
    is made for it: the cgroup modules are imported only then)."""
    if record.pid == 0:
        return "creating"  # or its creator died while creating it: destroy() cleans up
    if not record.alive():
        return "stopped"
    if os.path.exists(os.path.join(container_dir(root, record.id), START_SOCKET)):
        return "created"
    if paused is None and record.cgroup_path is not None:
        from .cgroups import detect, new_manager

        layout = detect()
        if record.cgroup_controllers is not None:
            layout = layout.only(record.cgroup_controllers)
        paused = new_manager(record.cgroup_path, layout, container_id=record.id).paused
    return "paused" if paused is not None and paused() else "running"
