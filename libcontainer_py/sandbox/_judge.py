"""The verdict of a run from what the kernel reported."""

from __future__ import annotations

import os
import signal
from typing import List, Optional, Sequence

from ._kernel import Usage
from ._monitor import Stream
from .limits import Limits
from .result import DISK_LIMIT, INTERNAL_ERROR, MEMORY_LIMIT, OK, RUNTIME_ERROR, SIGNALED, TIME_LIMIT, Result


def judge(
    box_id: str,
    status_word: Optional[int],
    daemons: int,
    fired: Sequence[str],
    streams: Sequence[Stream],
    usage: Usage,
    limits: Limits,
    wall: float,
    filled_disk: bool,
) -> Result:
    """The Result: every limit that fired (``fired``: the monitor's, in
    order; then the OOM kills, the CPU time over its limit and a box that
    became full, read now), and the program's status otherwise."""
    reasons: List[str] = list(fired)
    cpu_time = usage.cpu_ns / 1e9
    if usage.oom_kills and MEMORY_LIMIT not in reasons:
        reasons.append(MEMORY_LIMIT)
    if limits.cpu_time is not None and cpu_time > limits.cpu_time and TIME_LIMIT not in reasons:
        reasons.append(TIME_LIMIT)
    if filled_disk:
        reasons.append(DISK_LIMIT)
    message = ""
    if status_word is None:
        # Killed by the sandbox before it exited (a limit): SIGKILL, ours.
        status_word = signal.SIGKILL
        message = "" if reasons else "the program's exit status was lost"
    code = os.waitstatus_to_exitcode(status_word)
    sig = -code if code < 0 else None
    exit_code = None if sig is not None else code
    if message:
        status = INTERNAL_ERROR
    elif reasons:
        status = reasons[0]
    elif sig is not None:
        status = SIGNALED
    elif exit_code:
        status = RUNTIME_ERROR
    else:
        status = OK
    out, err = streams
    return Result(
        status=status,
        reasons=tuple(reasons),
        exit_code=exit_code,
        signal=sig,
        cpu_time=cpu_time,
        user_time=usage.user_ns / 1e9,
        sys_time=usage.sys_ns / 1e9,
        wall_time=wall,
        memory_peak=usage.memory_peak,
        stdout=bytes(out.data),
        stderr=bytes(err.data),
        stdout_truncated=out.over,
        stderr_truncated=err.over,
        stdout_bytes=out.total,
        stderr_bytes=err.total,
        daemons_killed=daemons,
        enforced=limits,
        box_id=box_id,
        message=message,
    )
