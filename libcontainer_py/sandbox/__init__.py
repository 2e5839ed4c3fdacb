"""Run untrusted code with limits and a verdict taken from what the kernel
reports (``from libcontainer_py import sandbox``); see docs/sandbox.md."""

from __future__ import annotations

from .box import Sandbox, run
from .errors import LimitUnsupported, SandboxError
from .limits import Limits
from .result import (
    DISK_LIMIT,
    INTERNAL_ERROR,
    MEMORY_LIMIT,
    OK,
    OUTPUT_LIMIT,
    PIDS_LIMIT,
    RUNTIME_ERROR,
    SIGNALED,
    STATUSES,
    TIME_LIMIT,
    WALL_TIME_LIMIT,
    Result,
)

__all__ = [
    "DISK_LIMIT",
    "INTERNAL_ERROR",
    "MEMORY_LIMIT",
    "OK",
    "OUTPUT_LIMIT",
    "PIDS_LIMIT",
    "RUNTIME_ERROR",
    "SIGNALED",
    "STATUSES",
    "TIME_LIMIT",
    "WALL_TIME_LIMIT",
    "LimitUnsupported",
    "Limits",
    "Result",
    "Sandbox",
    "SandboxError",
    "run",
]
