"""Stopping the daemons tests start (containerd, docker-registry)."""

from __future__ import annotations

import signal
import subprocess
from typing import Any


def terminate(proc: subprocess.Popen[Any], timeout: float) -> None:
    """SIGTERM ``proc`` and reap it; SIGKILL it when it has not exited within ``timeout`` seconds."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
