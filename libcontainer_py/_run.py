"""run(): start a container, wait for it, return what it did.

Light until it needs the config model: a default container (no config)
may take the quick path (_quickrun.py), which does not import it.
"""

from __future__ import annotations

import os
import subprocess

from ._completed import CompletedProcess as CompletedProcess
from ._completed import run_stdio as run_stdio
from ._statedir import DEFAULT_ROOT, container_dir, is_valid_id

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from typing import Any, Mapping, Optional, Sequence, Union

    from ._popen_args import UserArg
    from .config import Config
    from .popen import StdioArg


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
    save = False
    if config is None and user is None and not pass_fds and container_id is None:
        from . import _quickrun

        quick, save = _quickrun.run(
            args,
            env=env,
            cwd=cwd,
            shell=shell,
            stdin=stdin,
            input=input,
            stdout=stdout,
            stderr=stderr,
            capture_output=capture_output,
            timeout=timeout,
            text=text,
            encoding=encoding,
            errors=errors,
            universal_newlines=universal_newlines,
        )
        if quick is not None:
            if check:
                quick.check_returncode()
            return quick
    from ._popen_args import check_config
    from .config import Config
    from .errors import ContainerExists, TimeoutExpired
    from .popen import ContainerProcess

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
        if save:  # a default container the quick path had no recipe for
            from . import _quickrun

            _quickrun.save(proc)
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
