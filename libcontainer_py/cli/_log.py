"""runc's way of reporting: logrus records to --log (or stderr)."""

from __future__ import annotations

import os
import sys
import time

from .. import _jsonlite

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from typing import Optional, TextIO


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _quote(msg: str) -> str:
    """logrus quotes a value that is not a plain word (as Go's %q)."""
    if msg and all(c.isalnum() or c in "-._/@^+" for c in msg):
        return msg
    return _jsonlite.dumps(msg)


class Logger:
    """Writes records as logrus does: ``time="..." level=error msg="..."``,
    or with ``json``: ``{"level":"error","msg":"...","time":"..."}``."""

    def __init__(self, path: str, fmt: str, debug: bool) -> None:
        self.path = path
        self.fmt = fmt
        self.debug_on = debug

    def _stream(self) -> Optional[TextIO]:
        if not self.path:
            return None
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError:
            return None
        return os.fdopen(fd, "a")

    def record(self, level: str, msg: str) -> str:
        if self.fmt == "json":
            return _jsonlite.dumps({"level": level, "msg": msg, "time": _now()}, compact=True)
        return f'time="{_now()}" level={level} msg={_quote(msg)}'

    def write(self, level: str, msg: str) -> bool:
        """Write a record; returns whether it went to stderr."""
        line = self.record(level, msg) + "\n"
        stream = self._stream()
        if stream is None:
            sys.stderr.write(line)
            sys.stderr.flush()
            return True
        with stream:
            stream.write(line)
        return False

    def debug(self, msg: str) -> None:
        if self.debug_on:
            self.write("debug", msg)

    def warning(self, msg: str) -> None:
        self.write("warning", msg)

    def fatal(self, msg: str) -> None:
        """An error ending the command: logged, and on stderr as plain text
        when the log is a file (runc's fatal())."""
        if not self.write("error", msg):
            sys.stderr.write(msg + "\n")
            sys.stderr.flush()
