"""The part of a container's Popen that ContainerProcess and the quick run's
process (_quickrun.py) share: signals through the pidfd, and close() --
what the object owns besides the process -- after the wait of ``with``
and at garbage collection.  Light (no attrs, typing or config model)."""

from __future__ import annotations

import subprocess

from . import _native

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from typing import Any


class PidfdPopen(subprocess.Popen):  # type: ignore[type-arg]
    """A subprocess.Popen whose process is signalled through ``pidfd`` (when
    it has one: a recycled pid is never hit) and whose ``close()`` releases
    what it owns (fds, the cgroup)."""

    pidfd = -1

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
