"""ContainerProcess: a subprocess.Popen whose child is a container."""

from __future__ import annotations

import os
import secrets
import subprocess
from typing import IO, Any, Optional, Sequence, Union

from . import _native
from .config import Config
from .plan import Plan, build_plan
from .spawn import spawn

#: What stdin/stdout/stderr accept, as for subprocess.Popen.
StdioArg = Union[None, int, IO[Any]]

PIPE = subprocess.PIPE
DEVNULL = subprocess.DEVNULL
STDOUT = subprocess.STDOUT


def new_container_id() -> str:
    """A random 12-hex-digit id (also the default hostname)."""
    return secrets.token_hex(6)


class ContainerProcess(subprocess.Popen):  # type: ignore[type-arg]
    """The container's first process, with the whole Popen API: ``pid``,
    ``stdin``/``stdout``/``stderr``, ``communicate``, ``wait``, ``poll``,
    ``send_signal``, ``kill``, context manager.

    The config is checked and planned before any fd or process is made.
    ``kill()`` of a container with its own pid namespace ends every process
    in it (the kernel kills the namespace when its PID 1 dies).
    """

    def __init__(
        self,
        config: Config,
        *,
        container_id: Optional[str] = None,
        stdin: StdioArg = None,
        stdout: StdioArg = None,
        stderr: StdioArg = None,
        pass_fds: Sequence[int] = (),
        text: Optional[bool] = None,
        encoding: Optional[str] = None,
        errors: Optional[str] = None,
        bufsize: int = -1,
    ) -> None:
        if not isinstance(config, Config):
            from .errors import ConfigError

            raise ConfigError("config", f"expected Config, got {type(config).__name__}")
        self.config = config
        self.container_id = container_id or new_container_id()
        self.plan: Plan = build_plan(config, self.container_id)
        self.pidfd = -1
        super().__init__(
            list(config.process.args),
            bufsize=bufsize,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            pass_fds=tuple(pass_fds),
            text=text,
            encoding=encoding,
            errors=errors,
        )

    # Popen calls this with the fds it made for the child's stdio; the
    # positional layout has been stable since Python 3.2.
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
        try:
            spawned = spawn(self.plan, stdio=(p2cread, c2pwrite, errwrite), pass_fds=pass_fds)
        finally:
            self._close_pipe_fds(p2cread, p2cwrite, c2pread, c2pwrite, errread, errwrite)  # type: ignore[attr-defined]
        self.pid = spawned.pid
        self.pidfd = spawned.pidfd
        self._child_created = True

    def send_signal(self, sig: int) -> None:
        """Signal the container's first process (through its pidfd, so a
        recycled pid is never hit)."""
        self.poll()
        if self.returncode is not None:
            return
        if self.pidfd >= 0:
            try:
                _native.pidfd_send_signal(self.pidfd, sig)
            except ProcessLookupError:
                pass
        else:
            super().send_signal(sig)

    def close(self) -> None:
        """Release the pidfd (the process itself is waited for by wait())."""
        if self.pidfd >= 0:
            fd, self.pidfd = self.pidfd, -1
            os.close(fd)

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
