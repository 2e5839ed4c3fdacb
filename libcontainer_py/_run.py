"""run(): start a container, wait for it, return what it did."""

from __future__ import annotations

import os
import signal
import subprocess
from typing import Any, Mapping, Optional, Sequence, Tuple, Union

from ._popen_args import UserArg, check_config
from ._statedir import DEFAULT_ROOT, container_dir, is_valid_id
from .cgroups import Stats
from .config import Config
from .errors import ConfigError, ContainerExists, ProcessExitError, TimeoutExpired
from .popen import PIPE, ContainerProcess, StdioArg


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


def run(
    args: Union[str, Sequence[str], None] = None,
    *,
    config: Optional[Config] = None,
    env: Optional[Mapping[str, str]] = None,
    cwd: Union[str, os.PathLike[str], None] = None,
    user: UserArg = None,
    shell: bool = False,
    stdin: StdioArg = None,
    input: Any = None,
    stdout: StdioArg = None,
    stderr: StdioArg = None,
    capture_output: bool = False,
    timeout: Optional[float] = None,
    check: bool = False,
    pass_fds: Sequence[int] = (),
    text: Optional[bool] = None,
    encoding: Optional[str] = None,
    errors: Optional[str] = None,
    universal_newlines: Optional[bool] = None,
    container_id: Optional[str] = None,
) -> CompletedProcess:
    """Run ``args`` (or ``config.process``) in a container and wait for it,
    like subprocess.run.

    ``env`` (replaces the process's environment), ``cwd``, ``user`` (a uid,
    "uid:gid" or a name in the container's /etc/passwd), ``shell=True``
    (a str command run by ``/bin/sh -c`` in the container) and the stdio
    arguments are subprocess's.

    With no config, the container is ``Config()``: new mount, uts, ipc, pid,
    net and cgroup namespaces on ``Rootfs.host()``.  On ``timeout`` the
    container is killed and reaped and TimeoutExpired is raised; ``check``
    raises ProcessExitError for a non-zero status.

    Bad arguments or config raise ConfigError before anything is made; a
    child that fails before its program runs raises a StepError subclass
    (ExecNotFound, MountError...) naming the step.  Whatever happens, the
    container's processes, mounts, cgroup and fds are gone when run()
    returns or raises: it leaves nothing behind.
    """
    config = check_config(config) if config is not None else Config()
    if container_id is not None and is_valid_id(container_id):
        # a recorded container's id (a running one's is refused by its cgroup)
        if os.path.lexists(container_dir(DEFAULT_ROOT, container_id)):
            raise ContainerExists(f"container {container_id!r} already exists under {DEFAULT_ROOT}")
    stdin, stdout, stderr = run_stdio(stdin, stdout, stderr, input=input, capture_output=capture_output)
    with ContainerProcess(
        config,
        args=args,
        env=env,
        cwd=cwd,
        user=user,
        shell=shell,
        container_id=container_id,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        pass_fds=pass_fds,
        text=text,
        encoding=encoding,
        errors=errors,
        universal_newlines=universal_newlines,
    ) as proc:
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            proc.kill()
            out, err = proc.communicate()
            raise TimeoutExpired(
                proc.args, exc.timeout, output=out, stderr=err, container_id=proc.container_id
            ) from None
        except BaseException:
            proc.kill()
            raise
        returncode = proc.poll()
        assert returncode is not None
        stats = proc.cgroup.stats() if proc.cgroup is not None else None
    result = CompletedProcess(proc.args, returncode, out, err, container_id=proc.container_id, stats=stats)
    if check:
        result.check_returncode()
    return result
