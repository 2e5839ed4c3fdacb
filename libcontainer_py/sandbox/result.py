"""Result: what a sandboxed run did, and why it ended."""

from __future__ import annotations

from typing import Optional, Tuple

import attrs

from .limits import Limits

OK = "OK"
TIME_LIMIT = "TIME_LIMIT"
WALL_TIME_LIMIT = "WALL_TIME_LIMIT"
MEMORY_LIMIT = "MEMORY_LIMIT"
OUTPUT_LIMIT = "OUTPUT_LIMIT"
PIDS_LIMIT = "PIDS_LIMIT"
DISK_LIMIT = "DISK_LIMIT"
RUNTIME_ERROR = "RUNTIME_ERROR"
SIGNALED = "SIGNALED"
INTERNAL_ERROR = "INTERNAL_ERROR"

#: Every status, the limit verdicts first.
STATUSES = (
    OK,
    TIME_LIMIT,
    WALL_TIME_LIMIT,
    MEMORY_LIMIT,
    OUTPUT_LIMIT,
    PIDS_LIMIT,
    DISK_LIMIT,
    RUNTIME_ERROR,
    SIGNALED,
    INTERNAL_ERROR,
)

#: isolate's meta-file "status" and "message" for each limit verdict.
_ISOLATE = {
    TIME_LIMIT: ("TO", "Time limit exceeded"),
    WALL_TIME_LIMIT: ("TO", "Time limit exceeded (wall clock)"),
    MEMORY_LIMIT: ("SG", "Caught fatal signal 9"),
    OUTPUT_LIMIT: ("SG", "Output limit exceeded"),
    PIDS_LIMIT: ("SG", "Process limit exceeded"),
    DISK_LIMIT: ("RE", "Disk quota exceeded"),
    INTERNAL_ERROR: ("XX", "Internal error of the sandbox"),
}


@attrs.frozen
class Result:
    """One run's verdict and measurements.

    ``status`` is the first limit that fired, else RUNTIME_ERROR (non-zero
    exit), SIGNALED (killed by a signal nobody here sent) or OK;
    ``reasons`` lists every limit that fired, in the order seen.  Times are
    seconds (``cpu_time`` = user + system of every process of the box, from
    the cgroup), ``memory_peak`` bytes.  ``stdout``/``stderr`` hold at most
    the output cap; ``stdout_bytes``/``stderr_bytes`` count all that was
    read.  ``daemons_killed``: processes still in the box when its program
    ended (killed then).  ``enforced``: the limits in force; ``box_id`` the container's id;
    ``message`` what went wrong with an INTERNAL_ERROR.
    """

    status: str
    reasons: Tuple[str, ...]
    exit_code: Optional[int]
    signal: Optional[int]
    cpu_time: float
    user_time: float
    sys_time: float
    wall_time: float
    memory_peak: Optional[int]
    stdout: bytes
    stderr: bytes
    stdout_truncated: bool
    stderr_truncated: bool
    stdout_bytes: int
    stderr_bytes: int
    daemons_killed: int
    enforced: Limits
    box_id: str
    message: str = ""

    def to_isolate_meta(self) -> str:
        """The run as isolate's ``--meta`` file: ``key:value`` lines (times
        in seconds, memory in KiB), so judge front ends can parse it."""
        lines = [
            f"time:{self.cpu_time:.3f}",
            f"time-wall:{self.wall_time:.3f}",
        ]
        if self.memory_peak is not None:
            lines += [f"max-rss:{self.memory_peak // 1024}", f"cg-mem:{self.memory_peak // 1024}"]
        if MEMORY_LIMIT in self.reasons:
            lines.append("cg-oom-killed:1")
        if self.exit_code is not None:
            lines.append(f"exitcode:{self.exit_code}")
        if self.signal is not None:
            lines.append(f"exitsig:{self.signal}")
        if self.status in _ISOLATE:
            status, message = _ISOLATE[self.status]
            lines += [] if self.status == INTERNAL_ERROR else ["killed:1"]
            lines += [f"status:{status}", f"message:{self.message or message}"]
        elif self.status == RUNTIME_ERROR:
            lines += ["status:RE", f"message:Exited with error status {self.exit_code}"]
        elif self.status == SIGNALED:
            lines += ["status:SG", f"message:Caught fatal signal {self.signal}"]
        return "".join(line + "\n" for line in lines)
