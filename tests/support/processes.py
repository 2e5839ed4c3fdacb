"""Running commands to their end without subprocess's polls, and stopping
the daemons tests start (containerd, docker-registry)."""

from __future__ import annotations

import signal
import subprocess
import threading
from typing import Any, List, Sequence


def wait_for(argv: Sequence[str], *, timeout: float, input: bytes = b"", **popen: Any) -> int:
    """``subprocess.run(argv, input=input, timeout=timeout, **popen).returncode``
    for output sent to files, waiting in waitpid: subprocess waits with a
    timeout by polling waitpid between sleeps growing to 50 ms, so every
    command seemed up to 50 ms longer.  A timer kills a command still running
    after ``timeout`` seconds, which raises TimeoutExpired as subprocess's."""
    popen.setdefault("stdin", subprocess.PIPE)
    assert not input or popen["stdin"] == subprocess.PIPE
    proc = subprocess.Popen(list(argv), **popen)
    killed: List[bool] = []
    watchdog = threading.Timer(timeout, lambda: (killed.append(True), proc.kill()))
    watchdog.start()
    try:
        if proc.stdin is not None:
            try:
                if input:
                    proc.stdin.write(input)
                proc.stdin.close()
            except BrokenPipeError:
                pass
        status = proc.wait()
    finally:
        watchdog.cancel()
    if killed:
        raise subprocess.TimeoutExpired(list(argv), timeout)
    return status


def terminate(proc: subprocess.Popen[Any], timeout: float) -> None:
    """SIGTERM ``proc`` and reap it; SIGKILL it when it has not exited within ``timeout`` seconds."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
