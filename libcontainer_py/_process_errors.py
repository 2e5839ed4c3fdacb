"""ProcessExitError and TimeoutExpired (see errors.py, where they are found
by name: they subclass subprocess's exceptions, and only what raises or
catches them should pay for importing subprocess)."""

from __future__ import annotations

import subprocess

from .errors import ContainerError

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from typing import Any, Optional

__all__ = ["ProcessExitError", "TimeoutExpired"]


class ProcessExitError(ContainerError, subprocess.CalledProcessError):
    """``check=True`` and the container's process exited with a non-zero status."""

    def __init__(
        self, returncode: int, cmd: Any, output: Any = None, stderr: Any = None, container_id: Optional[str] = None
    ) -> None:
        subprocess.CalledProcessError.__init__(self, returncode, cmd, output, stderr)
        self.container_id = container_id


class TimeoutExpired(ContainerError, subprocess.TimeoutExpired):
    """The container did not finish in time; it was killed and reaped."""

    def __init__(
        self, cmd: Any, timeout: float, output: Any = None, stderr: Any = None, container_id: Optional[str] = None
    ) -> None:
        subprocess.TimeoutExpired.__init__(self, cmd, timeout, output, stderr)
        self.container_id = container_id


for _cls in (ProcessExitError, TimeoutExpired):
    _cls.__module__ = "libcontainer_py.errors"  # where they are documented and found
