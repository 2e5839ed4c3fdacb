"""asyncio: run_async() and create_subprocess_exec(), like asyncio's.

The exit is seen through the process's pidfd, which becomes readable when
the process ends (``loop.add_reader``): no thread, no child watcher, no
polling.  The container is set up in the calling thread, as run() does (a
few milliseconds: the set-up is the C executor's).
"""

from __future__ import annotations

import asyncio
import io
import locale
import os
from typing import Any, Mapping, Optional, Sequence, Tuple, Union

from ._parameters import parameters_of
from ._popen_args import UserArg, check_config, with_process_args
from ._run import CompletedProcess, run, run_stdio
from .cgroups import Stats
from .config import Config
from .errors import ConfigError, TimeoutExpired
from .popen import ContainerProcess, StdioArg

__all__ = ["AsyncContainerProcess", "create_subprocess_exec", "run_async"]


class AsyncContainerProcess:
    """A container's first process for asyncio, like asyncio.subprocess.Process:
    ``pid``, ``returncode``, ``stdin`` (a StreamWriter), ``stdout`` and
    ``stderr`` (StreamReaders) for PIPEs, ``wait()``, ``communicate()``,
    ``send_signal()``, ``terminate()``, ``kill()``.

    When the process has exited, its cgroup is read (``stats``) and removed:
    nothing is left to close.  ``async with`` kills it if the block is left
    early."""

    def __init__(self, proc: ContainerProcess, loop: asyncio.AbstractEventLoop) -> None:
        self._proc = proc
        self._loop = loop
        self.stdin: Optional[asyncio.StreamWriter] = None
        self.stdout: Optional[asyncio.StreamReader] = None
        self.stderr: Optional[asyncio.StreamReader] = None
        #: The cgroup's usage, read when the process exited (None without a cgroup).
        self.stats: Optional[Stats] = None
        self._exited: asyncio.Future[int] = loop.create_future()
        self._pidfd = proc.pidfd if proc.pidfd >= 0 else os.pidfd_open(proc.pid)
        self._own_pidfd = proc.pidfd < 0
        loop.add_reader(self._pidfd, self._on_exit)

    @property
    def pid(self) -> int:
        """The process's pid, as this process sees it."""
        return int(self._proc.pid)

    @property
    def container_id(self) -> str:
        """The id of the process's container."""
        return self._proc.container_id

    @property
    def returncode(self) -> Optional[int]:
        """None while it runs; ``-n`` when ended by signal n."""
        return self._proc.returncode

    @property
    def args(self) -> Any:
        """The args the process was started with (``Popen.args``)."""
        return self._proc.args

    def __repr__(self) -> str:
        state = "running" if self.returncode is None else f"returncode={self.returncode}"
        return f"<AsyncContainerProcess id={self.container_id!r} pid={self.pid} {state}>"

    async def _connect(self) -> None:
        proc = self._proc
        if proc.stdout is not None:
            self.stdout = await _reader(self._loop, proc.stdout)
        if proc.stderr is not None:
            self.stderr = await _reader(self._loop, proc.stderr)
        if proc.stdin is not None:
            self.stdin = await _writer(self._loop, proc.stdin)

    def _on_exit(self) -> None:
        """The pidfd is readable: the process has exited.  Reap it, keep
        the cgroup's figures, remove the cgroup."""
        self._loop.remove_reader(self._pidfd)
        proc = self._proc
        try:
            code = proc.wait()
            if proc.cgroup is not None:
                self.stats = proc.cgroup.stats()
        except BaseException as exc:
            if not self._exited.done():
                self._exited.set_exception(exc)
            return
        finally:
            if self._own_pidfd:
                os.close(self._pidfd)
            proc.close()
        if not self._exited.done():
            self._exited.set_result(code)

    async def wait(self) -> int:
        """Wait for the process to exit; its returncode."""
        return await asyncio.shield(self._exited)

    async def communicate(self, input: Optional[bytes] = None) -> Tuple[Optional[bytes], Optional[bytes]]:
        """Send ``input``, read stdout and stderr to their ends, wait for the exit."""
        if input is not None and self.stdin is None:
            raise ConfigError("input", "the process was not started with stdin=PIPE")
        out, err, _ = await asyncio.gather(_read_all(self.stdout), _read_all(self.stderr), self._feed(input))
        await self.wait()
        return out, err

    async def _feed(self, data: Optional[bytes]) -> None:
        if self.stdin is None:
            return
        try:
            if data:
                self.stdin.write(data)
                await self.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            self.stdin.close()

    def send_signal(self, sig: int) -> None:
        """Signal the process through its pidfd (``ContainerProcess.send_signal``)."""
        self._proc.send_signal(sig)

    def terminate(self) -> None:
        """SIGTERM (see ContainerProcess.terminate for a PID 1 without a handler)."""
        self._proc.terminate()

    def kill(self) -> None:
        """Send SIGKILL through the pidfd (``ContainerProcess.kill``); nothing once it is reaped."""
        self._proc.kill()

    async def __aenter__(self) -> AsyncContainerProcess:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self.returncode is None:
            self.kill()
        await self.wait()


async def _reader(loop: asyncio.AbstractEventLoop, pipe: Any) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    return reader


async def _writer(loop: asyncio.AbstractEventLoop, pipe: Any) -> asyncio.StreamWriter:
    transport, protocol = await loop.connect_write_pipe(
        lambda: asyncio.StreamReaderProtocol(asyncio.StreamReader()), pipe
    )
    return asyncio.StreamWriter(transport, protocol, None, loop)


async def _read_all(reader: Optional[asyncio.StreamReader]) -> Optional[bytes]:
    return None if reader is None else await reader.read()


async def create_subprocess_exec(
    *args: str,
    config: Optional[Config] = None,
    stdin: StdioArg = None,
    stdout: StdioArg = None,
    stderr: StdioArg = None,
    env: Optional[Mapping[str, str]] = None,
    cwd: Union[str, os.PathLike[str], None] = None,
    user: UserArg = None,
    pass_fds: Sequence[int] = (),
    container_id: Optional[str] = None,
) -> AsyncContainerProcess:
    """Start ``args`` (or ``config.process``) in a container, like
    asyncio.create_subprocess_exec: bytes streams for PIPEs."""
    loop = asyncio.get_running_loop()
    proc = ContainerProcess(
        config if config is not None else Config(),
        args=list(args) if args else None,
        env=env,
        cwd=cwd,
        user=user,
        container_id=container_id,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        pass_fds=pass_fds,
    )
    try:
        aproc = AsyncContainerProcess(proc, loop)
        await aproc._connect()
    except BaseException:
        proc.kill()
        proc.wait()
        proc.close()
        raise
    return aproc


@parameters_of(run)
async def run_async(given: Any) -> CompletedProcess:
    """``await run_async(...)``: run() for asyncio, with the same arguments
    and result; other tasks run while the container does."""
    stdin, stdout, stderr = run_stdio(
        given.stdin, given.stdout, given.stderr, input=given.input, capture_output=given.capture_output
    )
    encoding, errors, timeout = given.encoding, given.errors, given.timeout
    decode = bool(given.text or encoding or errors or given.universal_newlines)
    enc = encoding or locale.getpreferredencoding(False)
    data = given.input.encode(enc, errors or "strict") if decode and isinstance(given.input, str) else given.input
    base = check_config(given.config) if given.config is not None else Config()
    args = given.args
    if given.shell or isinstance(args, str):
        base = with_process_args(base, args, shell=given.shell)
        args = None
    proc = await create_subprocess_exec(
        *(args or ()),
        config=base,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        env=given.env,
        cwd=given.cwd,
        user=given.user,
        pass_fds=given.pass_fds,
        container_id=given.container_id,
    )
    async with proc:
        try:
            out, err = await asyncio.wait_for(proc.communicate(data), timeout)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            raise TimeoutExpired(proc.args, timeout or 0, container_id=proc.container_id) from None
    stdout_data: Any = _decode(out, enc, errors) if decode else out
    stderr_data: Any = _decode(err, enc, errors) if decode else err
    assert proc.returncode is not None
    result = CompletedProcess(
        proc.args, proc.returncode, stdout_data, stderr_data, container_id=proc.container_id, stats=proc.stats
    )
    if given.check:
        result.check_returncode()
    return result


def _decode(data: Optional[bytes], encoding: str, errors: Optional[str]) -> Optional[str]:
    if data is None:
        return None
    return io.TextIOWrapper(io.BytesIO(data), encoding=encoding, errors=errors).read()
