"""Sandbox and run(): untrusted programs with limits and an exact verdict."""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any, ContextManager, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import attrs

from .. import rootless
from .._log import log
from ..cgroups import CgroupConfig, Layout, detect
from ..errors import ConfigError
from ..plan import Step, build_plan
from ..plan.process import exec_candidates
from ..process import DEFAULT_PATH
from ..rootfs import Rootfs
from ._boxdir import BoxDir
from ._boxfiles import BoxFiles, HostFiles, ServedFiles
from ._config import BOX_ENV, BOX_PATH, box_config, box_identity, drop, rlimits, server_config, unenforceable
from ._places import Places
from ._plan import run_steps
from ._runcgroup import RunCgroup, box_parents, remove_parents, v2_controllers
from ._runner import Request, run_once
from ._server import BoxServer
from .errors import LimitUnsupported, SandboxError
from .limits import Limits
from .result import Result

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


def _strings(field: str, values: Sequence[str]) -> None:
    for v in values:
        if not isinstance(v, str) or "\0" in v:
            raise ConfigError(field, f"expected strings without NUL, got {v!r}")


def _runs_layout(layout: Layout, box_id: str) -> Tuple[Optional[Layout], bool]:
    """Where the runs' cgroups are made (None: nowhere), and whether the
    caller is unprivileged: the host's ``layout`` for root; for another
    user a delegated cgroup2 directory (cgroup2 only), if it has one."""
    if not rootless.cgroups_unprivileged():
        return layout, False
    from ..cgroups import CgroupError

    try:
        delegated = rootless.delegated_cgroup(CgroupConfig(accounting=True), layout, box_id)
    except CgroupError:
        delegated = None
    return (delegated[1] if delegated is not None else None), True


class Sandbox:
    """A box that runs programs one after another, each a fresh process
    with the limits: ``put`` files into its directory (a tmpfs of
    ``limits.disk`` bytes), ``run`` programs (they see it at /box, their
    working directory), ``get`` what they wrote.  ``close()`` (or leaving
    the ``with`` block) ends the box.

    The box is one container made here (namespaces, mounts, the seccomp
    filter), kept between runs: each run is a process its PID 1 forks,
    in a cgroup of its own with the run's limits, and nothing of a run
    survives into the next.  Runs of one Sandbox take turns (a lock).

    ``rootfs``: the read-only root (default: the host's system
    directories), or ``image=(store, ref)`` of ``lc.images`` (its layers,
    read-only, and its environment); ``network``: False or "none" (the default), a network
    namespace of its own with no interface up; "loopback", with its own
    loopback up (never the host's).  ``strict=True`` raises LimitUnsupported for a limit
    this host cannot enforce; ``strict=False`` runs without it
    (``Result.enforced`` says what was applied).  An unprivileged user
    gets a rootless box (docs/sandbox.md).
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
        self._server: Optional[BoxServer] = None
        self._files: Optional[BoxFiles] = None
        #: Where the runs' cgroups go (None: a rootless box without delegation has none).
        self._places: Optional[Places] = None
        self._parents: List[str] = []
        #: The next run's cgroup (its process waits in it), and the runs' before, to remove.
        self._next: Optional[RunCgroup] = None
        self._ran: List[RunCgroup] = []
        self._prepared = False
        self._runs = 0
        self._lock = threading.Lock()
        self.network = _network(network)
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
        self.env = dict(env) if env is not None else None
        self._identity = box_identity()
        self._host_layout = detect()
        self._layout, self._rootless = _runs_layout(self._host_layout, "sbx")
        self.enforced = self._enforceable(self.limits)
        try:
            server = self._make_box()
            self._steps: Dict[Tuple[Optional[int], Optional[int]], Tuple[Step, ...]] = {
                self._rlimit_key(self.enforced): run_steps(server.plan)
            }
            self._make_cgroups(server)
            self._prepare()
        except BaseException:
            self.close()
            raise

    def _make_box(self) -> BoxServer:
        """The box's directory and container."""
        host_box = None if self._rootless else BoxDir(self.limits.disk, *self._identity)
        try:
            config = box_config(
                ("true",),
                self.enforced,
                box=host_box.path if host_box is not None else None,
                rootfs=self.rootfs,
                env=self.env,
                layout=self._host_layout,
                identity=self._identity,
            )
            server = BoxServer(
                server_config(config), box=None if host_box else BOX_PATH, loopback=self.network == "loopback"
            )
        except BaseException:
            if host_box is not None:
                host_box.close()
            raise
        self._server = server
        self._files = HostFiles(host_box) if host_box is not None else ServedFiles(server, self._identity)
        return server

    def _make_cgroups(self, server: BoxServer) -> None:
        """The box's cgroup where its runs' go (they go below it)."""
        box_cgroup = server.cgroup
        if box_cgroup is None:
            self._layout = None
            return
        if self._layout is not None:
            self._places = Places.of(self._layout, box_cgroup.path)
            self._parents = box_parents(self._places)
            v2_controllers(self._places, server.pid)

    def _prepare(self) -> None:
        """Make the next run's cgroup and have the box make its process,
        which moves in and waits (while nothing else happens: moving costs
        a grace period of the kernel's then, not in the run)."""
        server, _ = self._open()
        self._runs += 1
        places = self._places
        cgroup = None if places is None else RunCgroup(places.below(f"run-{self._runs}"))
        try:
            server.prepare(cgroup.procs_fds if cgroup is not None else ())
        except BaseException:
            if cgroup is not None:
                cgroup.remove()
            raise
        if cgroup is not None:
            cgroup.close_procs_fds()
        self._next, self._prepared = cgroup, True

    def _enforceable(self, limits: Limits) -> Limits:
        missing = unenforceable(limits, self._layout, rootless=self._rootless)
        if missing and self.strict:
            raise LimitUnsupported(*missing[0])
        return drop(limits, [field for field, _ in missing])

    @property
    def path(self) -> str:
        """The box directory on the host (for reading only: use get()); a
        rootless box has none (SandboxError)."""
        return self._open()[1].path

    def _open(self) -> Tuple[BoxServer, BoxFiles]:
        if self._server is None or self._files is None:
            raise SandboxError("the sandbox is closed")
        return self._server, self._files

    def _files_lock(self) -> ContextManager[Any]:
        """Files of a rootless box go through its server, one request at a
        time: put() and get() wait for a run in progress."""
        return self._lock if isinstance(self._files, ServedFiles) else contextlib.nullcontext()

    def put(self, files: Files, *, executable: bool = False) -> None:
        """Write ``files`` ({relative path: bytes or str}) into the box,
        owned by the box's user (mode 0755 with ``executable``)."""
        with self._files_lock():
            self._put(files, executable)

    def _put(self, files: Files, executable: bool) -> None:
        _, box = self._open()
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else bytes(content)
            fd = box.create(name, 0o755 if executable else 0o644)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            except OSError as exc:
                raise SandboxError(f"cannot write {name!r} into the box: {exc.strerror}") from exc
            finally:
                os.close(fd)

    def get(self, name: str) -> bytes:
        """The content of a file of the box (symlinks are not followed)."""
        with self._files_lock():
            fd = self._open()[1].open_read(name)
        with os.fdopen(fd, "rb") as f:
            return f.read()

    # -- a run -------------------------------------------------------------------

    @staticmethod
    def _rlimit_key(limits: Limits) -> Tuple[Optional[int], Optional[int]]:
        return limits.open_files, limits.address_space

    def _run_steps(self, limits: Limits) -> Tuple[Step, ...]:
        """The steps of a run's process for ``limits`` (its rlimits), planned once."""
        key = self._rlimit_key(limits)
        if key not in self._steps:
            server, _ = self._open()
            config = attrs.evolve(server.config, process=attrs.evolve(server.config.process, rlimits=rlimits(limits)))
            self._steps[key] = run_steps(build_plan(config, server.container_id))
        return self._steps[key]

    def run(
        self,
        args: Sequence[str],
        *,
        stdin: Union[bytes, str] = b"",
        limits: Optional[Limits] = None,
        env: Optional[Mapping[str, str]] = None,
    ) -> Result:
        """Run ``args`` in a fresh process in the box; returns its Result.
        ``limits`` replaces the sandbox's for this run (its ``disk`` is the
        box's, fixed when the sandbox was made)."""
        return self._run_checked(args, stdin, limits, env, prepare_next=True)

    def _run_checked(
        self,
        args: Sequence[str],
        stdin: Union[bytes, str],
        limits: Optional[Limits],
        env: Optional[Mapping[str, str]],
        *,
        prepare_next: bool,
    ) -> Result:
        """run(); ``prepare_next=False``: the sandbox is closed right after
        (sandbox.run), no next run is prepared."""
        limits = self.limits if limits is None else attrs.evolve(limits, disk=self.limits.disk)
        enforced = self.enforced if limits is self.limits else self._enforceable(limits)
        if isinstance(args, str) or not args:
            raise ConfigError("args", f"expected a non-empty list of strings, got {args!r}")
        _strings("args", args)
        environment = dict(env if env is not None else self.env if self.env is not None else BOX_ENV)
        envp = [f"{k}={v}" for k, v in environment.items()]
        _strings("env", envp)
        with self._lock:
            server, files = self._open()
            steps = self._run_steps(enforced)
            paths = exec_candidates(args[0], environment.get("PATH", DEFAULT_PATH))
            data = stdin.encode() if isinstance(stdin, str) else bytes(stdin)
            return self._run(server, files, steps, list(args), envp, paths, data, enforced, prepare_next)

    def _run(
        self,
        server: BoxServer,
        files: BoxFiles,
        steps: Tuple[Step, ...],
        argv: List[str],
        envp: List[str],
        paths: Sequence[str],
        stdin: bytes,
        limits: Limits,
        prepare_next: bool,
    ) -> Result:
        if not self._prepared:
            self._prepare()
        cgroup, self._next, self._prepared = self._next, None, False
        if cgroup is not None:
            self._ran.append(cgroup)  # removed while the next run starts, or by close()
        try:
            if cgroup is not None:
                cgroup.limit(limits)
            request = Request(steps, tuple(argv), tuple(envp), tuple(paths), stdin)
            return run_once(
                server,
                files,
                cgroup,
                request,
                limits,
                meanwhile=lambda: self._meanwhile(prepare_next),
                abort=self.close,
            )
        finally:
            if cgroup is not None:
                cgroup.close_fds()  # its counters are read

    def _meanwhile(self, prepare_next: bool) -> None:
        """While a run starts: remove the cgroups of the runs before (empty
        since their DONE), make the next run's (the box makes its process
        once this run is over)."""
        done, self._ran = self._ran[:-1], self._ran[-1:]
        for cgroup in done:
            cgroup.remove()
        if not prepare_next:
            return
        try:
            self._prepare()
        except (OSError, SandboxError) as exc:
            log.warning("sandbox: cannot prepare the next run now (%s); the next run tries again", exc)

    def close(self) -> None:
        """End the box and remove its directory; idempotent."""
        server, self._server = self._server, None
        files, self._files = self._files, None
        prepared, ran = self._next, self._ran
        self._next, self._ran = None, []
        parents, self._parents = self._parents, []
        try:
            if server is not None:
                server.stop()  # the kernel ends the box meanwhile
            if files is not None:
                files.close()
            for cgroup in ran:
                cgroup.remove()  # empty since their run's DONE (a run cut short: emptied by the stop)
        finally:
            try:
                if server is not None:
                    server.close()
            finally:
                if prepared is not None:
                    prepared.remove()  # its waiting process died with the box
                remove_parents(parents)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


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
        return box._run_checked(args, stdin, None, None, prepare_next=False)
