"""Sandbox and run(): untrusted programs with limits and an exact verdict."""

from __future__ import annotations

import os
import select
import signal
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import attrs

from .. import _native
from ..cgroups import Layout, Stats, detect
from ..config import Config
from ..errors import ConfigError
from ..plan.steps import Op
from ..popen import PIPE, ContainerProcess
from ..rootfs import Rootfs
from ._boxdir import BoxDir
from ._config import BOX_ENV, BOX_GID, BOX_PATH, BOX_UID, box_config, drop, unenforceable
from ._kernel import CgroupWatch
from ._monitor import Monitor, Stream
from .errors import LimitUnsupported, SandboxError
from .limits import Limits
from .result import (
    DISK_LIMIT,
    INTERNAL_ERROR,
    MEMORY_LIMIT,
    OK,
    RUNTIME_ERROR,
    SIGNALED,
    TIME_LIMIT,
    Result,
)

Files = Mapping[str, Union[bytes, str]]
#: False or "none": no network at all; "loopback": the box's own loopback.
Network = Union[bool, str]
NETWORKS = ("none", "loopback")


def _network(value: Network) -> str:
    if value is False:
        return "none"
    if value not in NETWORKS:
        raise ConfigError(
            "network", f"expected False, 'none' or 'loopback' (the box never reaches the host's), got {value!r}"
        )
    return str(value)


def _rootfs(rootfs: Union[str, os.PathLike[str], Rootfs, None]) -> Optional[Rootfs]:
    if rootfs is None or isinstance(rootfs, Rootfs):
        return rootfs if rootfs is None or rootfs.readonly else attrs.evolve(rootfs, readonly=True)
    return Rootfs.directory(os.fspath(rootfs), readonly=True)


def _from_image(image: Any) -> Tuple[Rootfs, Dict[str, str]]:
    """The read-only root and environment of ``image``, a (store, ref)
    pair of ``lc.images``; the box's HOME and LANG unless the image sets them."""
    from ..images import ImageStore, config_from_image

    if not isinstance(image, tuple) or len(image) != 2 or not isinstance(image[0], ImageStore):
        raise ConfigError("image", f"expected (images.ImageStore, reference), got {image!r}")
    config = config_from_image(image[0], image[1])
    assert config.rootfs is not None
    return attrs.evolve(config.rootfs, readonly=True), {**BOX_ENV, **config.process.env, "HOME": BOX_PATH}


class Sandbox:
    """A box directory (a tmpfs of ``limits.disk`` bytes) that runs
    programs one after another, each in a fresh container with the limits:
    ``put`` files, ``run`` programs (they see the box at /box, their working
    directory), ``get`` what they wrote.  ``close()`` (or leaving the
    ``with`` block) removes the box.

    ``rootfs``: the read-only root (default: the host's system
    directories), or ``image=(store, ref)`` of ``lc.images`` (its layers,
    read-only, and its environment); ``network``: False or "none" (the default), a network
    namespace of its own with no interface up; "loopback", with its own
    loopback up (never the host's).  ``strict=True`` raises LimitUnsupported for a limit
    this host cannot enforce; ``strict=False`` runs without it
    (``Result.enforced`` says what was applied).  Root only for now.
    """

    def __init__(
        self,
        *,
        limits: Optional[Limits] = None,
        rootfs: Union[str, os.PathLike[str], Rootfs, None] = None,
        image: Any = None,
        network: Network = False,
        strict: bool = True,
        env: Optional[Mapping[str, str]] = None,
    ) -> None:
        self.network = _network(network)
        if os.geteuid() != 0:
            raise SandboxError("the sandbox runs as root for now (rootless boxes are not done yet)")
        self.limits = limits if limits is not None else Limits()
        if not isinstance(self.limits, Limits):
            raise ConfigError("limits", f"expected a sandbox.Limits, got {type(self.limits).__name__}")
        self.rootfs = _rootfs(rootfs)
        if image is not None:
            if rootfs is not None:
                raise ConfigError("image", "give a rootfs or an image, not both")
            self.rootfs, image_env = _from_image(image)
            env = image_env if env is None else env
        self.strict = strict
        self.env = env
        self._layout: Layout = detect()
        self.enforced = self._enforceable(self.limits)
        self._box: Optional[BoxDir] = BoxDir(self.limits.disk, BOX_UID, BOX_GID)

    def _enforceable(self, limits: Limits) -> Limits:
        missing = unenforceable(limits, self._layout)
        if missing and self.strict:
            raise LimitUnsupported(*missing[0])
        return drop(limits, [field for field, _ in missing])

    @property
    def path(self) -> str:
        """The box directory on the host (for reading only: use get())."""
        return self._open_box().path

    def _open_box(self) -> BoxDir:
        if self._box is None:
            raise SandboxError("the sandbox is closed")
        return self._box

    def put(self, files: Files, *, executable: bool = False) -> None:
        """Write ``files`` ({relative path: bytes or str}) into the box,
        owned by the box's user (mode 0755 with ``executable``)."""
        box = self._open_box()
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else bytes(content)
            mode = 0o755 if executable else 0o644
            fd = box.open_beneath(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode, make_dirs=True)
            try:
                os.fchown(fd, BOX_UID, BOX_GID)
                os.fchmod(fd, mode)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            except OSError as exc:
                raise SandboxError(f"cannot write {name!r} into the box: {exc.strerror}") from exc
            finally:
                os.close(fd)

    def get(self, name: str) -> bytes:
        """The content of a file of the box (symlinks are not followed)."""
        fd = self._open_box().open_beneath(name, os.O_RDONLY)
        with os.fdopen(fd, "rb") as f:
            return f.read()

    def run(
        self,
        args: Sequence[str],
        *,
        stdin: Union[bytes, str] = b"",
        limits: Optional[Limits] = None,
        env: Optional[Mapping[str, str]] = None,
    ) -> Result:
        """Run ``args`` in a fresh container on the box; returns its Result.
        ``limits`` replaces the sandbox's for this run (its ``disk`` is the
        box's, fixed when the sandbox was made)."""
        box = self._open_box()
        limits = self.limits if limits is None else attrs.evolve(limits, disk=self.limits.disk)
        enforced = self.enforced if limits is self.limits else self._enforceable(limits)
        if isinstance(args, str) or not args:
            raise ConfigError("args", f"expected a non-empty list of strings, got {args!r}")
        config = box_config(
            args, enforced, box=box.path, rootfs=self.rootfs, env=self.env if env is None else env, layout=self._layout
        )
        full_before = box.full()
        stdin_fd = _memfd(stdin.encode() if isinstance(stdin, str) else stdin)
        try:
            proc = _BoxProcess(
                config,
                loopback=self.network == "loopback",
                container_id=f"sbx-{os.urandom(5).hex()}",
                stdin=stdin_fd,
                stdout=PIPE,
                stderr=PIPE,
                wait_start=True,
            )
        finally:
            os.close(stdin_fd)
        with proc:
            return _watch(proc, enforced, self._layout, box, full_before)

    def close(self) -> None:
        """Remove the box directory; idempotent."""
        box, self._box = self._box, None
        if box is not None:
            box.close()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


class _BoxProcess(ContainerProcess):
    """The box's container: its init lingers once the program has exited
    (the INIT step's n1) and never reaps it, so that the program's status
    is read from its zombie and the processes it left are still there to
    be counted when the sandbox ends the box."""

    def __init__(self, config: Config, *, loopback: bool, **kwargs: Any) -> None:
        self._loopback = loopback
        super().__init__(config, **kwargs)

    def _before_spawn(self) -> None:
        steps = tuple(
            attrs.evolve(s, n1=1) if s.op == Op.INIT else s
            for s in self.plan.steps
            if self._loopback or s.op != Op.LOOPBACK_UP
        )
        self.plan = attrs.evolve(self.plan, steps=steps)

    def program(self) -> Tuple[int, int]:
        """The program's pid and a pidfd of it: the init's child that is
        PID 2 of the box (its first fork; orphans reparented to the init
        may be listed beside it already)."""
        with open(f"/proc/{self.pid}/task/{self.pid}/children", encoding="ascii") as f:
            children = [int(p) for p in f.read().split()]
        for pid in children:
            if _ns_pid(pid) == 2:
                return pid, _native.pidfd_open(pid)
        raise SandboxError(f"the box's program is not among its init's children {children}")


def _ns_pid(pid: int) -> int:
    """A process's pid in its own pid namespace (the last NSpid of its status)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("NSpid:"):
                return int(line.split()[-1])
    return -1


def _zombie_status(pid: int) -> int:
    """The wait status of an exited, unreaped process (/proc/<pid>/stat, field 52)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    return int(stat[stat.rindex(b")") + 2 :].split()[49])


def _memfd(data: bytes) -> int:
    fd = os.memfd_create("stdin", os.MFD_CLOEXEC)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _watch(proc: _BoxProcess, limits: Limits, layout: Layout, box: BoxDir, full_before: bool) -> Result:
    """Start the waiting process, watch it to its end and judge it."""
    manager = proc.cgroup
    assert manager is not None and proc.stdout is not None and proc.stderr is not None
    watch = CgroupWatch(layout, manager.path)
    pidfd = -1
    try:
        streams = [Stream(proc.stdout.fileno(), limits.output), Stream(proc.stderr.fileno(), limits.output)]
        left: List[int] = []
        status: List[int] = []
        program = 0

        def end_box() -> None:
            # The program has exited (a zombie the init keeps): its status,
            # and what else is in the box was left behind by it.
            if program and _exited(pidfd):
                status.append(_zombie_status(program))
                left.extend(p for p in manager.pids() if p not in (proc.pid, program))
            # SIGKILL to every process of the cgroup at once (a limit is
            # acted on now, not once PID 1 has been scheduled to die), then
            # to the box's PID 1: the kernel kills every other process of
            # its pid namespace, forks included, before PID 1 can be reaped
            # (proc.wait() below); close() then removes the cgroup.
            manager.kill_now()
            try:
                _native.pidfd_send_signal(proc.pidfd, signal.SIGKILL)
            except ProcessLookupError:
                pass

        started = time.monotonic()
        proc.start()
        program, pidfd = proc.program()
        monitor = Monitor(pidfd, streams, watch, limits, end_box)
        wall = monitor.run(started)
        proc.wait()
        stats = manager.stats()
    finally:
        watch.close()
        if pidfd >= 0:
            os.close(pidfd)
    return _judge(
        proc.container_id,
        status[0] if status else None,
        len(left),
        monitor,
        streams,
        stats,
        limits,
        wall,
        box,
        full_before,
    )


def _exited(fd: int) -> bool:
    p = select.poll()
    p.register(fd, select.POLLIN)
    return bool(p.poll(0))


def _judge(
    box_id: str,
    status_word: Optional[int],
    daemons: int,
    monitor: Monitor,
    streams: Sequence[Stream],
    stats: Stats,
    limits: Limits,
    wall: float,
    box: BoxDir,
    full_before: bool,
) -> Result:
    """The verdict from what the kernel reported."""
    reasons = list(monitor.reasons)
    cpu = stats.cpu
    cpu_time = cpu.usage_ns / 1e9 if cpu is not None else 0.0
    memory = stats.memory
    if memory is not None and memory.oom_kills and MEMORY_LIMIT not in reasons:
        reasons.append(MEMORY_LIMIT)
    if limits.cpu_time is not None and cpu_time > limits.cpu_time and TIME_LIMIT not in reasons:
        reasons.append(TIME_LIMIT)
    if not full_before and box.full():
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
        user_time=(cpu.user_ns or 0) / 1e9 if cpu is not None else 0.0,
        sys_time=(cpu.system_ns or 0) / 1e9 if cpu is not None else 0.0,
        wall_time=wall,
        memory_peak=memory.peak if memory is not None else None,
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


def run(
    args: Sequence[str],
    *,
    files: Optional[Files] = None,
    stdin: Union[bytes, str] = b"",
    limits: Optional[Limits] = None,
    network: Network = False,
    rootfs: Union[str, os.PathLike[str], Rootfs, None] = None,
    image: Any = None,
    strict: bool = True,
    env: Optional[Mapping[str, str]] = None,
) -> Result:
    """Run ``args`` once in a fresh sandbox holding ``files``; see Sandbox."""
    with Sandbox(limits=limits, rootfs=rootfs, image=image, network=network, strict=strict, env=env) as box:
        if files:
            box.put(files)
        return box.run(args, stdin=stdin)
