"""lc.Pool: warm interpreters in containers that run functions, a fresh
process in a fresh cgroup per call.

Each worker is a container whose process is a zygote interpreter
(libcontainer_py._callee); for a call it forks, the child tells its
credentials over the socket (the kernel translates its pid into ours), is
moved into a new cgroup under the worker's, and only then receives the
call.  A worker whose zygote dies is replaced.
"""

from __future__ import annotations

import asyncio
import pickle
import queue
import socket
import struct
import threading
import time
from concurrent.futures import Future
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from . import _callee, _owners
from ._call import (
    CallStats,
    call_config,
    callee_args,
    check_interpreter,
    check_timeout,
    failure,
    import_paths,
    payload,
    rebuild,
    wait_frame,
)
from ._log import log as _log
from ._statedir import DEFAULT_ROOT
from .cgroups import Manager, detect, new_manager
from .config import Config
from .errors import ConfigError, ContainerError, WorkerCrashed
from .popen import new_container_id

_CREDS = struct.Struct("3i")


class _Worker:
    """One zygote container and its socket; runs one call at a time."""

    def __init__(self, config: Config, number: int, python: Optional[str] = None) -> None:
        from .popen import DEVNULL, ContainerProcess

        self._ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._ours.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self._layout = detect()
        #: The cgroups of finished calls, and the next call's (with their records).
        self._used: List[Tuple[Manager, Optional[str]]] = []
        self._spare: Optional[Tuple[Manager, Optional[str]]] = None
        try:
            self.proc = ContainerProcess(
                config, args=callee_args("zygote", theirs.fileno(), python), stdin=DEVNULL, pass_fds=[theirs.fileno()]
            )
        except BaseException:
            self._ours.close()
            raise
        finally:
            theirs.close()
        self.number = number
        try:
            _callee.send_frame(self._ours, _callee.PATHS, pickle.dumps(import_paths(python)))
        except OSError:
            pass  # a zygote dead already: the first call finds out

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def run(self, body: bytes, config: Config, timeout: Optional[float], what: str) -> Tuple[Any, CallStats]:
        """One call: fork, place the child in a fresh cgroup, send, wait.
        The cgroup is left for tidy() (after the caller has the outcome)."""
        began = time.monotonic()
        deadline = None if timeout is None else began + timeout
        cgroup = self._fresh_cgroup(config)
        _callee.send_frame(self._ours, _callee.FORK)
        cgroup.add(self._ready_pid())
        _callee.send_frame(self._ours, _callee.PAYLOAD, body)
        timed_out = False
        try:
            frame = wait_frame(self._ours, deadline)
        except TimeoutError:
            cgroup.kill()
            timed_out = True
            frame = wait_frame(self._ours, None)  # the zygote reports the kill
        outcome: Optional[Tuple[bytes, bytes]] = None
        if frame is not None and frame[0] != _callee.EXITED:
            outcome, frame = frame, wait_frame(self._ours, None)
        if frame is None or frame[0] != _callee.EXITED:
            raise self.lost()
        figures = CallStats.of(cgroup.stats(), began)
        if outcome is not None:
            return rebuild(*outcome, figures), figures
        raise failure(int(frame[1]), figures, timeout if timed_out else None, what)

    def _ready_pid(self) -> int:
        """Our pid of the zygote's new child, from its READY frame's credentials."""
        size = _callee.HEADER.size
        data, ancillary, _, _ = self._ours.recvmsg(size, socket.CMSG_SPACE(_CREDS.size))
        if len(data) < size:
            data += _callee.recv_exactly(self._ours, size - len(data)) or b""
        for level, kind, creds in ancillary:
            if (level, kind) == (socket.SOL_SOCKET, socket.SCM_CREDENTIALS) and data[:1] == _callee.READY:
                pid, _, _ = _CREDS.unpack(creds[: _CREDS.size])
                return int(pid)
        raise self.lost()

    def _fresh_cgroup(self, config: Config) -> Manager:
        """The spare cgroup (made by tidy()) or a new one; used by this call."""
        if self._spare is None:
            self._spare = self._new_cgroup(config)
        self._used.append(self._spare)
        spare, self._spare = self._spare, None
        return spare[0]

    def _new_cgroup(self, config: Config) -> Tuple[Manager, Optional[str]]:
        """A new cgroup for one call, beside the worker's, and its record as
        the caller's (so that it is reclaimed if the caller dies)."""
        assert config.cgroup is not None
        call_id = new_container_id()
        cgroup = new_manager(config.cgroup.resolved_path(call_id), self._layout, container_id=call_id)
        cgroup.join_existing = False
        owned = _owners.record(DEFAULT_ROOT, call_id, cgroup.path)
        try:
            cgroup.create()
        except BaseException:
            _owners.forget(owned)
            raise
        try:
            cgroup.apply(config.cgroup)
        except BaseException:
            _drop((cgroup, owned))
            raise
        return cgroup, owned

    def tidy(self, config: Optional[Config]) -> None:
        """Remove the cgroups of finished calls (killing what they left);
        with ``config``, make the next call's cgroup now, off its path."""
        used, self._used = self._used, []
        for cgroup in used:
            _drop(cgroup)
        if config is not None and self._spare is None and self.alive:
            self._spare = self._new_cgroup(config)

    def lost(self) -> WorkerCrashed:
        """The zygote died or broke the protocol: it is ended (and replaced on the next call)."""
        self.proc.kill()
        status = self.proc.wait()
        if status < 0:
            return WorkerCrashed(f"worker {self.number}'s interpreter died of signal {-status}", signal=-status)
        return WorkerCrashed(f"worker {self.number}'s interpreter exited with status {status}", exitcode=status)

    def close(self) -> None:
        self._ours.close()  # the zygote sees EOF and exits
        if self._spare is not None:
            self._used.append(self._spare)
            self._spare = None
        try:
            self.proc.wait(timeout=5)
        except Exception:
            self.proc.kill()
            self.proc.wait()
        finally:
            self.proc.close()
            self.tidy(None)


def _drop(cgroup: Tuple[Manager, Optional[str]]) -> None:
    cgroup[0].destroy()
    _owners.forget(cgroup[1])


_STOP = object()


class Pool:
    """``workers`` warm interpreters in containers (``config``, default
    ``Config()``; it needs a cgroup), each running one call at a time in a
    fresh process and cgroup: ``call``, ``submit`` (a
    concurrent.futures.Future), ``map``, ``call_async``; ``close()`` or a
    ``with`` block ends them.  ``timeout`` is each call's default;
    ``python`` another interpreter in the containers, as for lc.call."""

    def __init__(
        self,
        workers: int = 2,
        *,
        config: Optional[Config] = None,
        timeout: Optional[float] = None,
        python: Optional[str] = None,
    ) -> None:
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
            raise ConfigError("workers", f"must be a positive int, got {workers!r}")
        self.timeout = check_timeout(timeout)
        self.config = call_config(config)
        if self.config.cgroup is None:
            raise ConfigError("config.cgroup", "a Pool runs each call in a cgroup of its own: it needs a cgroup")
        check_interpreter(self.config, python)
        self.python = python
        self._tasks: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closed = False
        self._workers: List[_Worker] = []
        try:
            for number in range(workers):
                self._workers.append(_Worker(self.config, number, python))
        except BaseException:
            self._stop_workers()
            raise
        self._threads = [
            threading.Thread(target=self._serve, args=(i,), name=f"lc-pool-{i}", daemon=True) for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Run ``fn(*args, **kwargs)`` in a worker; its Future."""
        return self._submit(fn, args, kwargs, self.timeout)

    def call(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """submit() and wait for the result."""
        return self.submit(fn, *args, **kwargs).result()

    async def call_async(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """submit() for asyncio: await the result."""
        return await asyncio.wrap_future(self.submit(fn, *args, **kwargs))

    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any], timeout: Optional[float] = None) -> Iterator[Any]:
        """``fn`` over the items, concurrently; the results in order (the
        first exception is raised when its turn comes)."""
        futures = [self._submit(fn, args, {}, check_timeout(timeout) or self.timeout) for args in zip(*iterables)]
        return (f.result() for f in futures)

    def _submit(
        self, fn: Callable[..., Any], args: Sequence[Any], kwargs: Dict[str, Any], timeout: Optional[float]
    ) -> Future[Any]:
        if self._closed:
            raise ContainerError("the pool is closed")
        if not callable(fn):
            raise ConfigError("fn", f"must be callable, got {type(fn).__qualname__}")
        future: Future[Any] = Future()
        self._tasks.put(
            (future, payload(fn, args, kwargs, self.python), timeout, getattr(fn, "__qualname__", "the function"))
        )
        return future

    def _serve(self, index: int) -> None:
        """A worker's thread: run tasks until _STOP, replacing a dead zygote."""
        while True:
            task = self._tasks.get()
            if task is _STOP:
                return
            future, body, timeout, name = task
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(self._run_on(index, body, timeout, f"the call of {name}")[0])
            except BaseException as exc:
                future.set_exception(exc)
            try:
                self._workers[index].tidy(self.config)
            except Exception:
                _log.warning("pool worker %d: cannot prepare its next cgroup", index, exc_info=True)

    def _run_on(self, index: int, body: bytes, timeout: Optional[float], what: str) -> Tuple[Any, CallStats]:
        worker = self._workers[index]
        if not worker.alive:
            worker.close()
            worker = self._workers[index] = _Worker(self.config, index, self.python)
        try:
            return worker.run(body, self.config, timeout, what)
        except OSError:
            if worker.alive:
                raise
            raise worker.lost() from None

    def close(self) -> None:
        """Finish the queued calls, then end every worker."""
        if self._closed:
            return
        self._closed = True
        for _ in self._threads:
            self._tasks.put(_STOP)
        for thread in self._threads:
            thread.join()
        self._stop_workers()

    def _stop_workers(self) -> None:
        for worker in self._workers:
            worker.close()
        self._workers = []

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<Pool workers={len(self._threads)} {state}>"


__all__ = ["Pool"]
