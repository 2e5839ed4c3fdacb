"""Progress: of a layer being unpacked (``Progress``: a caller's callback, a
``tqdm.auto`` bar when tqdm is installed (a widget in a notebook that has
ipywidgets), or a plain line on stderr), and of a pull or push (``Reporter``:
``PullProgress`` events to a callback, bars, or one summed line)."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import time
from typing import Any, Callable, Dict, Optional, TextIO, Union

import attrs

#: ``progress(label, done, total)``: ``done`` bytes of the layer's blob read
#: so far, of ``total`` (None when the source does not say).
LayerProgressCallback = Callable[[str, int, Optional[int]], None]


class Progress:
    """``update(done)`` reports ``label  done/total`` at most ten times a
    second; ``close()`` ends the report (a last call with everything read).

    With ``callback``, it alone is called.  Otherwise, when ``enabled`` (by
    default: stderr is a terminal, or this runs in a Jupyter kernel), a
    ``tqdm.auto`` bar if tqdm is installed, else a line on stderr.
    """

    def __init__(
        self,
        label: str,
        total: Optional[int],
        enabled: Optional[bool] = None,
        callback: Optional[LayerProgressCallback] = None,
    ) -> None:
        self.stream: TextIO = sys.stderr
        self.enabled = (self.stream.isatty() or _in_notebook()) if enabled is None else enabled
        self.label = label
        self.total = total
        self.callback = callback
        self._done = 0
        self._last = 0.0
        self._bar = _tqdm_bar(label, total) if self.enabled and callback is None else None

    def update(self, done: int) -> None:
        self._done = done
        now = time.monotonic()
        if now - self._last < 0.1:
            return
        self._last = now
        if self.callback is not None:
            self.callback(self.label, done, self.total)
        elif self._bar is not None:
            self._bar.update(done - self._bar.n)
        elif self.enabled:
            self._line(done)

    def _line(self, done: int) -> None:
        mb = done / 1e6
        if self.total:
            pct = min(100, done * 100 // self.total)
            bar = "#" * (pct // 5)
            text = f"\r{self.label} [{bar:<20}] {pct:3d}% {mb:.1f}/{self.total / 1e6:.1f} MB"
        else:
            text = f"\r{self.label} {mb:.1f} MB"
        self.stream.write(text)
        self.stream.flush()

    def close(self, message: str = "done") -> None:
        """End the report: ``message`` is "done" or "failed" (a callback is
        called a last time only when done)."""
        if self.callback is not None:
            if message == "done":
                self.callback(self.label, self._done, self.total)
        elif self._bar is not None:
            self._bar.update(self._done - self._bar.n)
            self._bar.set_postfix_str(message, refresh=False)
            self._bar.close()
        elif self.enabled:
            self.stream.write(f"\r{self.label} {message}\033[K\n")
            self.stream.flush()


def _in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (its stderr is not a terminal,
    but its output is shown)."""
    return "ipykernel" in sys.modules


def _tqdm_bar(label: str, total: Optional[int]) -> Any:
    """A ``tqdm.auto`` bar in bytes (a widget in a notebook with ipywidgets,
    else text), or None when tqdm is not installed."""
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    if _in_notebook() and importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm  # without ipywidgets it would warn, then draw text as tqdm does
    return tqdm(total=total, desc=label, unit="B", unit_scale=True, unit_divisor=1024, leave=True)


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
    """tqdm.auto's bar class, or None when tqdm is not installed."""
    try:
        return importlib.import_module("tqdm.auto").tqdm
    except ImportError:
        return None
