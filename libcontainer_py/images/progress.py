"""A plain-text progress line on stderr, only when stderr is a terminal."""

from __future__ import annotations

import sys
import time
from typing import Optional, TextIO


class Progress:
    """``update(done)`` redraws ``label  done/total MB`` at most ten times a
    second; ``close()`` ends the line.  Silent when ``enabled`` is False
    (the default: enabled only when stderr is a tty)."""

    def __init__(self, label: str, total: Optional[int], enabled: Optional[bool] = None) -> None:
        self.stream: TextIO = sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.label = label
        self.total = total
        self._last = 0.0
        self._drawn = False

    def update(self, done: int) -> None:
        now = time.monotonic()
        if not self.enabled or now - self._last < 0.1:
            return
        self._last = now
        mb = done / 1e6
        if self.total:
            pct = min(100, done * 100 // self.total)
            bar = "#" * (pct // 5)
            text = f"\r{self.label} [{bar:<20}] {pct:3d}% {mb:.1f}/{self.total / 1e6:.1f} MB"
        else:
            text = f"\r{self.label} {mb:.1f} MB"
        self.stream.write(text)
        self.stream.flush()
        self._drawn = True

    def close(self, message: str = "done") -> None:
        if self.enabled:
            self.stream.write(f"\r{self.label} {message}\033[K\n")
            self.stream.flush()
