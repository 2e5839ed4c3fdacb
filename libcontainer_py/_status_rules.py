"""Which statuses each container operation accepts, and how a refusal reads.

One table for ``Container`` and the command line, whose light path
(cli/_light.py) manages a recorded container without ``Container`` and must
refuse exactly what it refuses.  The statuses are those
_statedir.recorded_status derives: creating, created, running, paused,
stopped.  Imports nothing: the light commands load it.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from typing import Dict, Optional, Tuple

#: operation -> the statuses it accepts
ACCEPTS: Dict[str, Tuple[str, ...]] = {
    "start": ("created",),
    "pause": ("created", "running"),  # a created container can be paused too (as runc)
    "resume": ("paused",),
    "kill": ("created", "running", "paused"),  # kill(all=True) of a stopped one does nothing instead
    "update": ("created", "running", "paused"),
    "check_network": ("created", "running", "paused"),
    "exec": ("created", "running"),  # and paused with ignore_paused
    # Unless forced.  runtime.md: deleting a container that is not stopped
    # is an error (runc 1.1 deletes a created one).
    "delete": ("stopped", "creating"),
}


def refusal(container_id: str, operation: str, status: str) -> str:
    """StateError's message."""
    return f"container {container_id}: cannot {operation} while {status}"


#: runc's words when the command line refuses an operation, by status ("": any other).
_RUNC_REFUSALS: Dict[str, Dict[str, str]] = {
    "start": {
        "stopped": "cannot start a container that has stopped",
        "running": "cannot start an already running container",
        "": "cannot start a container in the {status} state",
    },
    "pause": {"": "container not running"},
    "resume": {"": "container not paused"},
    "kill": {"": "container not running"},
    "delete": {"": "cannot delete container {id} that is not stopped: {status}"},
}


def runc_refusal(operation: str, container_id: str, status: str) -> Optional[str]:
    """The command line's message when ``operation`` does not accept
    ``status`` (runc's), or None when it does."""
    if status in ACCEPTS[operation]:
        return None
    words = _RUNC_REFUSALS[operation]
    return words.get(status, words[""]).format(id=container_id, status=status)
