"""Threads that clone attached containers and never exit.

An attached container (``lc.run``, ``ContainerProcess``) must die with the
process that owns it, whatever kills that process.  The child asks for that
with PR_SET_PDEATHSIG, whose known trap is that the kernel sends the signal
when the *thread* that cloned the child exits, not the process: a container
started from a worker thread that then ends would be killed with it.

So attached containers are cloned from the main thread, which lives as
long as the interpreter, or, from any other thread, by threads kept here
for the life of the process: each caller borrows an idle one (or a new one when all are
busy, so that concurrent starts stay concurrent) and gives it back.  They
are daemon threads, so they never hold up the interpreter's exit, and they
die only with the process, which is exactly when their children must.  A
forked child process starts with none (``os.register_at_fork``).
"""

from __future__ import annotations

import errno
import os
import queue
import threading

TYPE_CHECKING = False  # not typing's: see _shortcuts.py (light: the default run's quick path spawns through here)
if TYPE_CHECKING:
    from typing import Any, Callable, List, Optional, Tuple, TypeVar

    T = TypeVar("T")


class _Parent:
    """One thread that runs the calls it is given, one at a time."""

    def __init__(self) -> None:
        self._calls: queue.SimpleQueue[Optional[Tuple[Callable[[], Any], List[Any], threading.Event]]]
        self._calls = queue.SimpleQueue()
        thread = threading.Thread(target=self._serve, name="libcontainer_py-parent", daemon=True)
        thread.start()

    def _serve(self) -> None:
        while True:
            item = self._calls.get()
            if item is None:
                return
            fn, box, done = item
            try:
                box.append((True, fn()))
            except BaseException as exc:  # handed back to the caller, whatever it is
                box.append((False, exc))
            finally:
                done.set()

    def call(self, fn: Callable[[], T], undo: Callable[[T], None]) -> T:
        box: List[Tuple[bool, Any]] = []
        done = threading.Event()
        self._calls.put((fn, box, done))
        interrupted: Optional[BaseException] = None
        while not done.is_set():
            try:
                done.wait()
            except BaseException as exc:  # Ctrl-C: the clone ends in a moment; wait for it
                interrupted = exc
        ok, value = box[0]
        if not ok:
            raise value
        if interrupted is not None:
            undo(value)  # nobody will own what was made
            raise interrupted
        return value  # type: ignore[no-any-return]


_lock = threading.Lock()
_idle: List[_Parent] = []


def call_in_parent_thread(fn: Callable[[], T], undo: Callable[[T], None]) -> T:
    """Run ``fn`` (a clone) in a thread that lives as long as this process;
    if the caller is interrupted meanwhile, ``undo`` what it returned."""
    if threading.current_thread() is threading.main_thread():
        return fn()  # the main thread lives as long as the interpreter: no hop
    with _lock:
        parent = _idle.pop() if _idle else None
    if parent is None:
        try:
            parent = _Parent()
        except RuntimeError as exc:  # "can't start new thread": a pids limit, say
            raise OSError(errno.EAGAIN, f"cannot start a thread to clone from: {exc}") from exc
    try:
        return parent.call(fn, undo)
    finally:
        with _lock:
            _idle.append(parent)


def _forget_after_fork() -> None:
    global _lock
    _lock = threading.Lock()
    _idle.clear()


os.register_at_fork(after_in_child=_forget_after_fork)
