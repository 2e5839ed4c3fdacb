"""The part of a container's Popen that ContainerProcess and the quick run's
process (_quickrun.py) share: signals through the pidfd, and close() --
what the object owns besides the process -- after the wait of ``with``
and at garbage collection.  Light (no attrs, typing or config model)."""

from __future__ import annotations

import select
import subprocess
import time

from . import _native

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from typing import Any, Optional, Sequence, Tuple


def _require_popen_hooks() -> None:
    """Popen.__init__ spawns through _execute_child, which PidfdPopen
    replaces: on a Python without these private hooks the program would run
    on the host, so this module (and every container process) refuses to
    load instead."""
    for hook in ("_execute_child", "_close_pipe_fds"):
        if not callable(getattr(subprocess.Popen, hook, None)):
            raise ImportError(f"subprocess.Popen has no {hook} here: a container's process cannot replace its spawning")


_require_popen_hooks()


class PidfdPopen(subprocess.Popen):  # type: ignore[type-arg]
    """A subprocess.Popen whose process is signalled through ``pidfd`` (when
    it has one: a recycled pid is never hit) and whose ``close()`` releases
    what it owns (fds, the cgroup)."""

    pidfd = -1

    def _execute_child(
        self,
        args: Any,
        executable: Any,
        preexec_fn: Any,
        close_fds: Any,
        pass_fds: Sequence[int],
        cwd: Any,
        env: Any,
        startupinfo: Any,
        creationflags: Any,
        shell: Any,
        p2cread: int,
        p2cwrite: int,
        c2pread: int,
        c2pwrite: int,
        errread: int,
        errwrite: int,
        *_rest: Any,
    ) -> None:
        """subprocess.Popen's hook: the container's process instead of a fork
        of this one (``_spawn_child``); the child's ends of the pipes closed
        here whatever happens."""
        try:
            self._spawn_child((p2cread, c2pwrite, errwrite), pass_fds)
        finally:
            self._close_pipe_fds(p2cread, p2cwrite, c2pread, c2pwrite, errread, errwrite)  # type: ignore[attr-defined]
        self._child_created = True

    def _spawn_child(self, stdio: Tuple[int, int, int], pass_fds: Sequence[int]) -> None:
        """Start the process with these stdin, stdout and stderr fds; set
        ``pid`` and ``pidfd``."""
        raise NotImplementedError

    def _wait(self, timeout: Optional[float]) -> Optional[int]:
        """subprocess.Popen's wait.  With a timeout, Popen polls waitpid
        between sleeps that grow to 50 ms, so an exit is seen up to 50 ms
        late (``run(..., timeout=30)`` of a 70 ms program took 118 ms); the
        pidfd becomes readable at the exit, so poll(2) on it wakes then."""
        pidfd = self.pidfd
        if timeout is None or self.returncode is not None or pidfd < 0:
            return super()._wait(timeout)  # type: ignore[misc, no-any-return]
        deadline = time.monotonic() + timeout
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        while True:
            left = deadline - time.monotonic()
            events = poller.poll(max(0, int(left * 1000) + 1))  # ms, rounded up: no busy loop
            if events and not events[0][1] & select.POLLNVAL:
                return super()._wait(None)  # type: ignore[misc, no-any-return]  # exited: waitpid returns at once
            if events:  # the fd was closed meanwhile (close(), disown()): subprocess's own wait
                return super()._wait(max(0.0, deadline - time.monotonic()))  # type: ignore[misc, no-any-return]
            if time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(self.args, timeout)

    def send_signal(self, sig: int) -> None:
        """Signal the container's first process (through its pidfd, so a
        recycled pid is never hit)."""
        self.poll()
        if self.returncode is not None:
            return
        self._sending(sig)
        if self.pidfd >= 0:
            try:
                _native.pidfd_send_signal(self.pidfd, sig)
            except ProcessLookupError:
                pass
        else:
            super().send_signal(sig)

    def _sending(self, sig: int) -> None:
        """Called with each signal about to be sent."""

    def close(self) -> None:
        """Release what the object owns besides the process."""
        raise NotImplementedError

    def __exit__(self, *exc: Any) -> None:
        try:
            super().__exit__(*exc)
        finally:
            self.close()

    def __del__(self, *args: Any, **kwargs: Any) -> None:
        if not getattr(self, "_child_created", False):
            return
        super().__del__(*args, **kwargs)
        try:
            self.close()
        except Exception:
            pass
