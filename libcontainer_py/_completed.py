"""What run() returns (CompletedProcess) and how its stdio arguments combine.

Light (no attrs, typing or config model): the default container's quick
path (_quickrun.py) returns the same CompletedProcess as the library's
path, its ``stats`` made from the cgroup's files read at the exit, typed
(cgroups.Stats) on first use.
"""

from __future__ import annotations

import signal
import subprocess

from .errors import ConfigError, ProcessExitError

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from typing import Any, Callable, Optional, Tuple

    from .cgroups import Stats
    from .popen import StdioArg

PIPE = subprocess.PIPE


class CompletedProcess(subprocess.CompletedProcess):  # type: ignore[type-arg]
    """What run() returns: args, returncode, stdout, stderr, container_id;
    with a cgroup also ``stats`` (taken after the exit) and ``oom_killed``."""

    def __init__(
        self,
        args: Any,
        returncode: int,
        stdout: Any = None,
        stderr: Any = None,
        container_id: Optional[str] = None,
        stats: Optional[Stats] = None,
    ) -> None:
        super().__init__(args, returncode, stdout, stderr)
        self.container_id = container_id
        self.stats = stats

    @classmethod
    def with_stats_of(
        cls, args: Any, returncode: int, stdout: Any, stderr: Any, container_id: str, stats: Callable[[], Stats]
    ) -> CompletedProcess:
        """A result whose ``stats`` is made by ``stats()`` when first read
        (from figures already taken: the cgroup itself is gone)."""
        result = cls(args, returncode, stdout, stderr, container_id)
        result._make_stats = stats
        return result

    _stats: Optional[Stats] = None
    _make_stats: Optional[Callable[[], Stats]] = None

    @property
    def stats(self) -> Optional[Stats]:
        """The cgroup's figures after the exit (None without a cgroup)."""
        if self._make_stats is not None:
            self._stats, self._make_stats = self._make_stats(), None
        return self._stats

    @stats.setter
    def stats(self, value: Optional[Stats]) -> None:
        self._stats, self._make_stats = value, None

    def __repr__(self) -> str:
        parts = [f"args={self.args!r}", f"returncode={self.returncode}", f"container_id={self.container_id!r}"]
        parts += [
            f"{name}={value!r}"
            for name, value in (("stdout", self.stdout), ("stderr", self.stderr))
            if value is not None
        ]
        if self.stats is not None:
            parts.append(f"stats={self.stats!r}")
        return f"CompletedProcess({', '.join(parts)})"

    def _repr_html_(self) -> str:
        """args, status, output and the cgroup's figures as a table (for notebooks)."""
        from ._html import stats_rows, table

        rows = [("args", self.args), ("returncode", str(self.returncode)), ("container_id", str(self.container_id))]
        rows += [(name, value) for name, value in (("stdout", self.stdout), ("stderr", self.stderr)) if value]
        if self.stats is not None:
            rows += [("oom_killed", str(self.oom_killed)), *stats_rows(self.stats)]
        return table("CompletedProcess", rows)

    @property
    def oom_killed(self) -> bool:
        """Killed by SIGKILL while the OOM killer was acting in its cgroup."""
        memory = self.stats.memory if self.stats else None
        return self.returncode == -signal.SIGKILL and memory is not None and memory.oom_kills > 0

    @property
    def peak_memory(self) -> Optional[int]:
        """The cgroup's peak memory use in bytes (None without a cgroup)."""
        memory = self.stats.memory if self.stats else None
        return memory.peak if memory else None

    @property
    def cpu_time(self) -> Optional[float]:
        """CPU seconds used by every process of the container."""
        cpu = self.stats.cpu if self.stats else None
        return cpu.usage_ns / 1e9 if cpu else None

    def check_returncode(self) -> None:
        """Raise ProcessExitError if the exit status is non-zero."""
        if self.returncode:
            raise ProcessExitError(self.returncode, self.args, self.stdout, self.stderr, self.container_id)


def run_stdio(
    stdin: StdioArg, stdout: StdioArg, stderr: StdioArg, *, input: Any, capture_output: bool
) -> Tuple[StdioArg, StdioArg, StdioArg]:
    """run()'s stdin, stdout and stderr: a pipe for ``input``, pipes for
    ``capture_output``; a ConfigError when they are combined with their own."""
    if input is not None:
        if stdin is not None:
            raise ConfigError("stdin", "stdin and input cannot both be given")
        stdin = PIPE
    if capture_output:
        if stdout is not None or stderr is not None:
            raise ConfigError("capture_output", "cannot be combined with stdout or stderr")
        stdout = stderr = PIPE
    return stdin, stdout, stderr
