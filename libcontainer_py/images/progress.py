"""Progress: a plain-text line on stderr (only when stderr is a terminal),
``tqdm.auto`` bars, or a callback of the caller's."""

from __future__ import annotations

import importlib
import sys
import threading
import time
from typing import Any, Callable, Dict, Optional, TextIO, Union

import attrs


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


@attrs.frozen
class PullProgress:
    """One step of a pull or push, as told to a ``progress=`` callback:
    ``status`` is ``"exists"`` (already there: nothing sent), ``"downloading"``
    / ``"uploading"`` (``done`` of ``total`` bytes), then ``"done"``."""

    digest: str
    status: str
    done: int
    total: Optional[int]


ProgressCallback = Callable[[PullProgress], None]


class Reporter:
    """Fans progress events out to a callback, ``tqdm.auto`` bars (when
    installed and asked for) or one summed line on a terminal.  Callbacks
    are called from the download threads, one at a time."""

    def __init__(self, label: str, sink: Union[bool, ProgressCallback, None], total: int) -> None:
        self._lock = threading.Lock()
        self._callback: Optional[ProgressCallback] = sink if callable(sink) else None
        self._done: Dict[str, int] = {}
        self._bars: Dict[str, Any] = {}
        self._tqdm = _tqdm() if sink is True or (sink is None and sys.stderr.isatty()) else None
        enabled = sink is True or (sink is None and sys.stderr.isatty())
        self._line = Progress(label, total, enabled) if self._tqdm is None and self._callback is None else None

    def __call__(self, digest: str, status: str, done: int, total: Optional[int]) -> None:
        with self._lock:
            if self._callback is not None:
                self._callback(PullProgress(digest, status, done, total))
            if self._tqdm is not None:
                bar = self._bars.get(digest)
                if bar is None:
                    bar = self._bars[digest] = self._tqdm(
                        total=total, desc=digest[7:19], unit="B", unit_scale=True, leave=False
                    )
                bar.update(done - bar.n)
                if status in ("done", "exists"):
                    bar.close()
            if self._line is not None:
                self._done[digest] = done
                self._line.update(sum(self._done.values()))

    def close(self, message: str = "done") -> None:
        with self._lock:
            for bar in self._bars.values():
                bar.close()
            if self._line is not None:
                self._line.close(message)


def _tqdm() -> Any:
    try:
        return importlib.import_module("tqdm.auto").tqdm
    except ImportError:
        return None
