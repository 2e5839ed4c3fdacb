"""The run's event loop: one epoll over the box's server socket (the
program's end, the run's), the output pipes and the cgroup's event fds;
its timeout is the next deadline (wall clock, or when the CPU time could
next reach its limit), so each limit is acted on when it is reached, not
at the next tick of a poll."""

from __future__ import annotations

import os
import select
import time
from typing import Callable, Dict, List, Optional

from .._contract import MSG_DONE, MSG_EXITED
from ._kernel import CgroupWatch
from ._server import BoxServer
from .limits import Limits
from .result import MEMORY_LIMIT, OUTPUT_LIMIT, PIDS_LIMIT, TIME_LIMIT, WALL_TIME_LIMIT

#: The shortest wait between two readings of the CPU counter near the limit.
_CPU_MIN_WAIT = 0.0005
#: How often pids.events is read where the kernel does not notify it (v1).
PIDS_POLL = 0.005


class Stream:
    """One output pipe: keeps the first ``cap`` bytes, counts them all."""

    def __init__(self, fd: int, cap: Optional[int]) -> None:
        os.set_blocking(fd, False)
        self.fd, self.cap = fd, cap
        self.data = bytearray()
        self.total = 0
        self.open = True

    def read(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                return
            if not chunk:
                self.open = False
                return
            self.total += len(chunk)
            room = len(chunk) if self.cap is None else max(0, self.cap - len(self.data))
            self.data += chunk[:room]

    @property
    def over(self) -> bool:
        return self.cap is not None and self.total > self.cap


class Monitor:
    """Watches one run from its start until its program has exited, the
    box has killed and reaped what it left (DONE) and the pipes are closed.
    ``kill()`` ends every process of the run at once (a limit fired)."""

    def __init__(
        self,
        server: BoxServer,
        streams: List[Stream],
        watch: Optional[CgroupWatch],
        cpu_ns: Callable[[], int],
        limits: Limits,
        kill: Callable[[], None],
    ) -> None:
        self.server, self.streams, self.watch, self.limits = server, streams, watch, limits
        self._cpu_ns, self._kill = cpu_ns, kill
        self.reasons: List[str] = []
        self.killed = False
        #: The program's wait status, when it exited; the processes it left
        #: (killed when it ended).
        self.status: Optional[int] = None
        self.daemons = 0
        self.exited_at: Optional[float] = None
        self._on_its_own = False
        self.done = False
        self._ncpus = max(1, len(os.sched_getaffinity(0)))
        self._cpu_kill_ns = None if limits.cpu_time is None else int((limits.cpu_time + limits.extra_time) * 1e9)

    def fire(self, reason: str) -> None:
        if reason not in self.reasons:
            self.reasons.append(reason)
        if not self.killed:
            self.killed = True
            self._kill()

    def run(self, started: float) -> float:
        """Wait for the end; returns the wall time of the program (from
        ``started``, time.monotonic before the start was asked for)."""
        ep = select.epoll()
        try:
            by_fd: Dict[int, Stream] = {s.fd: s for s in self.streams}
            server = self.server.fileno()
            for fd in [server, *by_fd, *(self.watch.wake_fds if self.watch is not None else ())]:
                ep.register(fd, select.EPOLLIN)
            wall_deadline = None if self.limits.wall_time is None else started + self.limits.wall_time
            next_cpu = started
            while not self.done or any(s.open for s in self.streams):
                now = time.monotonic()
                if not self.killed and self.exited_at is None:
                    next_cpu = self._check(now, wall_deadline, next_cpu)
                timeout = self._timeout(now, wall_deadline, next_cpu)
                for fd, _ in ep.poll(timeout):
                    if fd == server:
                        self._from_server(ep, server)
                    elif fd in by_fd:
                        self._read(ep, by_fd[fd])
                    elif self.watch is not None:
                        self.watch.drain(fd)
            assert self.exited_at is not None
            return self.exited_at - started
        finally:
            ep.close()

    def _from_server(self, ep: select.epoll, server: int) -> None:
        kind, value = self.server.next_event()  # a failed start raises its StepError
        if kind == MSG_EXITED:
            self.exited_at = self.server.exited_at()
            self.status = value
            self._on_its_own = not self.killed
            if not self.killed:
                self._check_counters()
        elif kind == MSG_DONE:
            # What a program that ended on its own left; after a limit's kill
            # the box's processes are dying, not left.
            self.daemons = max(value, 0) if self._on_its_own else 0
            self.done = True
            ep.unregister(server)

    def _read(self, ep: select.epoll, stream: Stream) -> None:
        stream.read()
        if not stream.open:
            ep.unregister(stream.fd)
        if stream.over and self.exited_at is None:
            self.fire(OUTPUT_LIMIT)
        elif stream.over and OUTPUT_LIMIT not in self.reasons:
            self.reasons.append(OUTPUT_LIMIT)

    def _check_counters(self) -> None:
        if self.watch is None:
            return
        if self.watch.oom_kills():
            self.fire(MEMORY_LIMIT)
        if self.limits.pids is not None and self.watch.pids_max_hits():
            self.fire(PIDS_LIMIT)

    def _check(self, now: float, wall_deadline: Optional[float], next_cpu: float) -> float:
        """Act on every limit reached; returns when to read the CPU time next."""
        self._check_counters()
        if wall_deadline is not None and now >= wall_deadline:
            self.fire(WALL_TIME_LIMIT)
        if self._cpu_kill_ns is None or now < next_cpu:
            return next_cpu
        left = self._cpu_kill_ns - self._cpu_ns()
        if left <= 0:
            self.fire(TIME_LIMIT)
            return next_cpu
        # The box cannot use more than one CPU second per second per CPU.
        return now + max(_CPU_MIN_WAIT, left / 1e9 / self._ncpus)

    def _timeout(self, now: float, wall_deadline: Optional[float], next_cpu: float) -> float:
        if self.killed or self.exited_at is not None:
            return -1
        waits = [next_cpu - now] if self._cpu_kill_ns is not None else []
        if wall_deadline is not None:
            waits.append(wall_deadline - now)
        if self.limits.pids is not None and self.watch is not None and self.watch.pids_needs_polling:
            waits.append(PIDS_POLL)
        return max(0.0, min(waits)) if waits else -1
