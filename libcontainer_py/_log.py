"""The library's logger, ``libcontainer_py``: DEBUG for what each container
does (plan, cgroup, timings), WARNING for what it had to degrade.  A
NullHandler keeps it silent unless the program configures logging; it
never writes to stdout.

``log`` imports ``logging`` (~4 ms at start-up) only once the program has:
before that nothing can have been configured to show a record (no handler
on the root logger, and the NullHandler keeps ``logging.lastResort`` out),
so a record is dropped as logging itself would drop it.  The library's
modules all log through ``log``, never through ``logging.getLogger``.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    import logging
    from typing import Any, Optional

#: The logger's name.
NAME = "libcontainer_py"
#: logging.DEBUG, without importing logging.
DEBUG = 10
#: The methods that emit a record: dropped while logging is not imported.
_EMITTERS = frozenset({"debug", "info", "warning", "error", "exception", "critical", "fatal", "log"})


def _drop(*_args: Any, **_kwargs: Any) -> None:
    """A record no handler could show."""


def _disabled(_level: int) -> bool:
    return False


class _LazyLogger:
    """``logging.getLogger(NAME)`` (with its NullHandler), from the first
    use after the program imported logging; until then records are dropped."""

    def __init__(self) -> None:
        self._logger: Optional[logging.Logger] = None

    def _real(self) -> Optional[logging.Logger]:
        if self._logger is None:
            logging_module = sys.modules.get("logging")
            if logging_module is None:
                return None
            logger = logging_module.getLogger(NAME)
            logger.addHandler(logging_module.NullHandler())
            self._logger = logger
        return self._logger

    def __getattr__(self, name: str) -> Any:
        real = self._real()
        if real is None:
            if name in _EMITTERS:
                return _drop
            if name == "isEnabledFor":
                return _disabled
            import logging  # noqa: F401  # anything else (handlers, levels...) is the real logger's

            real = self._real()
        return getattr(real, name)


if TYPE_CHECKING:
    log: logging.Logger
else:
    log = _LazyLogger()
    log._real()  # the NullHandler now, for a program (or module) that imported logging first
