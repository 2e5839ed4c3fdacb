"""The container's side of lc.call and lc.Pool: run in a fresh interpreter
exec'd inside the container (``python -S``: the caller's sys.path comes with
the call, see _call.BOOT).

``call FD``: read one call from the socket FD, run it, send the outcome.
``zygote FD``: wait for calls; fork a fresh process for each (after this
interpreter's own exec: the executor's no-Python rule is kept), which says
who it is (SCM_CREDENTIALS, so the caller learns its host pid and moves it
into the call's cgroup), then runs the call; its exit status follows.

Frames are a tag byte, a length (8 bytes, big-endian) and a body.  This
module imports only the standard library and cloudpickle (only where
_unpickle cannot do without it).
"""

from __future__ import annotations

import os
import sys

from . import _unpickle
from ._shortcuts import pickle, socket, struct  # their C halves: pickle.py & co. cost ~6 ms at start

TYPE_CHECKING = False  # not typing's: see _shortcuts.py

if TYPE_CHECKING:
    from typing import Any, Callable, List, Optional, Tuple

HEADER = struct.Struct(">cQ")

#: Caller -> callee: the call (sys.path and the pickled function and arguments).
PAYLOAD = b"P"
#: Caller -> zygote, first: the caller's import paths (to warm up with).
PATHS = b"S"
#: Caller -> zygote: fork for a call.  Zygote's child -> caller: ready (with its credentials).
FORK = b"F"
READY = b"R"
#: Callee -> caller: the pickled result; an exception; a result that cannot be pickled.
RESULT = b"O"
EXCEPTION = b"E"
UNPICKLABLE = b"U"
#: Zygote -> caller: the call's process ended (body: its wait status as text).
EXITED = b"X"


def send_frame(sock: socket.socket, tag: bytes, body: bytes = b"") -> None:
    sock.sendall(HEADER.pack(tag, len(body)) + body)


def recv_exactly(sock: socket.socket, size: int) -> Optional[bytes]:
    chunks = []
    while size:
        chunk = sock.recv(min(size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def recv_frame(sock: socket.socket) -> Optional[Tuple[bytes, bytes]]:
    """The next (tag, body), or None at EOF."""
    header = recv_exactly(sock, HEADER.size)
    if header is None:
        return None
    tag, size = HEADER.unpack(header)
    body = recv_exactly(sock, size) if size else b""
    return None if body is None else (tag, body)


def _dumps(value: Any) -> bytes:
    """pickle when it can (cloudpickle costs ~20 ms to import), else cloudpickle."""
    try:
        return pickle.dumps(value)
    except Exception:
        import cloudpickle

        return bytes(cloudpickle.dumps(value))


def _outcome(fn: Callable[..., Any], args: Any, kwargs: Any) -> Tuple[bytes, bytes]:
    """Run the function; (tag, body) of what the caller is told."""
    try:
        result = fn(*args, **kwargs)
    except Exception as exc:
        import traceback  # only now: it costs the start ~2 ms

        tb = traceback.format_exc()
        try:
            pickled: Optional[bytes] = _dumps(exc)
        except Exception:
            pickled = None
        return EXCEPTION, pickle.dumps((pickled, type(exc).__qualname__, str(exc), tb))
    try:
        return RESULT, _dumps(result)
    except Exception as exc:
        return UNPICKLABLE, f"{type(result).__qualname__} object: {exc}".encode()


def use_paths(spec: Tuple[List[str], bool]) -> None:
    """The caller's import paths: instead of ours (the caller's interpreter),
    or after ours (another interpreter, which keeps its own standard library)."""
    paths, own = spec
    if own:
        sys.path.extend(p for p in paths if p not in sys.path)
    else:
        sys.path[:] = paths


def serve_one(sock: socket.socket) -> None:
    """Receive one call, run it, send its outcome."""
    frame = recv_frame(sock)
    if frame is None or frame[0] != PAYLOAD:
        os._exit(70)  # the caller went away
    paths, call, light = pickle.loads(frame[1])
    use_paths(paths)
    fn, args, kwargs = _unpickle.loads(call, light)
    tag, body = _outcome(fn, args, kwargs)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    send_frame(sock, tag, body)


def _forked(sock: socket.socket) -> None:
    """The zygote's child: say who we are, run one call, exit."""
    code = 0
    try:
        creds = struct.pack("3i", os.getpid(), os.getuid(), os.getgid())
        header = HEADER.pack(READY, 0)
        sock.sendmsg([header], [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, creds)])
        serve_one(sock)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 70
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code)


def zygote(sock: socket.socket) -> None:
    """Fork a fresh process per FORK frame; report each one's exit."""
    frame = recv_frame(sock)
    if frame is None or frame[0] != PATHS:
        return
    use_paths(pickle.loads(frame[1]))
    import cloudpickle  # noqa: F401  (warm: by-value functions need it)

    while True:
        frame = recv_frame(sock)
        if frame is None:
            return
        pid = os.fork()
        if pid == 0:
            _forked(sock)
        _, status = os.waitpid(pid, 0)
        send_frame(sock, EXITED, str(os.waitstatus_to_exitcode(status)).encode())
        _reap_orphans()


def _reap_orphans() -> None:
    """As PID 1 of the container: reap what a call left behind."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def main(argv: list[str]) -> None:
    mode, fd = argv[1], int(argv[2])
    sock = socket.socket(fileno=fd)
    try:
        zygote(sock) if mode == "zygote" else serve_one(sock)
        # The call ends with its outcome: no interpreter teardown (~1.5 ms),
        # and threads the function left running do not hold the caller.
        os._exit(0)
    except (BrokenPipeError, ConnectionResetError):
        os._exit(70)  # the caller went away


if __name__ == "__main__":
    main(sys.argv)
