"""The container's record and status without loading the library: ``state``,
``list`` and ``kill`` read ``state.json`` and /proc (the cgroup modules are
imported only to tell a running container from a paused one), with the
same rules as ``Container`` (state.recorded_status, state.ID_PATTERN).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Tuple

from . import CliError

if TYPE_CHECKING:
    from ..state import State


def read(root: str, container_id: str) -> State:
    from ..state import ID_PATTERN, StateNotFound, read_state

    if not ID_PATTERN.match(container_id):
        raise CliError("invalid container id format: " + container_id)
    try:
        return read_state(root, container_id)
    except StateNotFound:
        raise CliError("container does not exist") from None


def status(root: str, record: State) -> str:
    """creating, created, running, paused or stopped (state.recorded_status)."""
    from ..state import recorded_status

    return recorded_status(root, record)


def load(root: str, container_id: str) -> Tuple[State, str]:
    record = read(root, container_id)
    return record, status(root, record)


def signal_first(record: State, sig: int) -> None:
    """Signal the container's first process through a pidfd, after checking
    that the pid is still the container's (as Container.kill())."""
    import signal

    from ..state import process_start_time

    try:
        pidfd = os.pidfd_open(record.pid)
    except ProcessLookupError:
        return
    try:
        if process_start_time(record.pid) != record.pid_start:
            return
        signal.pidfd_send_signal(pidfd, sig)
    except ProcessLookupError:
        pass
    finally:
        os.close(pidfd)
