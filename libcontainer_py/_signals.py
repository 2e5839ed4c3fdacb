"""Signal numbers and pidfd signalling without the signal module.

``import signal`` builds three IntEnums (and imports enum): ~4 ms of a
light command's start.  Its C half, ``_signal``, has the same numbers and
functions; the names are those of ``signal.Signals`` (upper case, ``SIG``
but not ``SIG_``).
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # no stub: signal's C half

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs milliseconds at start-up: for the checker only
    from typing import Optional

SIGKILL: int = _signal.SIGKILL
SIGRTMIN: int = _signal.SIGRTMIN
SIGRTMAX: int = _signal.SIGRTMAX


def number(name: str) -> Optional[int]:
    """The number of the signal ``name`` (``SIGTERM``), as
    ``signal.Signals[name]`` has it, or None."""
    if not name.isupper() or not name.startswith("SIG") or name.startswith("SIG_"):
        return None
    value = getattr(_signal, name, None)
    return value if isinstance(value, int) else None


def pidfd_send_signal(pidfd: int, sig: int) -> None:
    """signal.pidfd_send_signal."""
    _signal.pidfd_send_signal(pidfd, sig)
