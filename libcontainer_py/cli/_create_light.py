"""``create`` without the config model: a saved recipe (cli/_create_recipe.py)
done again with this container's id, root, bundle and annotations.

An engine runs ``create`` once per container, each in a new process, and
loading the typed model alone (attrs, the config classes, the OCI
converter) costs more than runc's whole create (docs/decisions.md,
"podman's 1.3x").  This path reads config.json as plain data and, when a
recipe of the library's path matches it (the same document and flags but
for the marked values, the host answering planning's questions as it did),
does what that create did, in its order: the state directory and the
intent record, the cgroup's file operations (cgroups.script.Replay: the
same directories, limits and device program), the plan's steps spawned
with the start socket, the config file and full record written while the
child sets itself up, then the pid file.  Whatever it does not take goes
the library's path: no recipe, another key, a changed
answer, and any failure on the way -- what was made is taken back first,
and the library's path then fails (or succeeds) with its own errors.
Light: no attrs, typing or config model (tests/test_cli_create.py checks what it imports).
"""

from __future__ import annotations

import os

from .. import _owners, _statedir
from .._shortcuts import signal
from ..cgroups.script import Replay
from ..spawn import recorded, spawn
from . import _create_recipe
from ._argv import root_of
from ._common import hand_over

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from typing import Optional, Tuple

    from ..spawn import Spawned
    from ._argv import Args
    from ._create_recipe import Inputs, Recipe
    from ._log import Logger


def create(args: Args, log: Logger) -> Tuple[bool, Optional[Inputs]]:
    """Create the container of ``args`` through its recipe: (True, None)
    when done; else (False, inputs to save a recipe of after the library's
    create, or None when none should be saved).  Why not goes to the debug log."""
    inputs = _create_recipe.read_inputs(args)
    if inputs is None:
        log.debug("create: not through a recipe: a config or flags the library's path alone takes")
        return False, None
    recipe, save = _create_recipe.load(args, inputs)
    if recipe is None:
        log.debug(f"create: not through a recipe: {'none saved' if save else 'the host answers otherwise'}")
        return False, inputs if save else None
    if not os.path.isdir(inputs.root_dir) or _statedir.networks_to_reclaim():
        log.debug("create: not through a recipe: no root, or networks to reclaim first")
        return False, None  # the library says why, or reclaims them first
    failed = _Create(args, recipe).run()
    if failed is not None:
        # The library's path answers; if it succeeds, its recipe replaces
        # this one (a shared parent cgroup made since, for one).
        log.debug(f"create: the recipe failed, taken back ({failed}): the library's path")
        return False, inputs
    for message in recipe.warnings:  # the library's path gives them as it reads the document
        log.warning(f"config.json: {message}")
    return True, None


class _Create:
    """One create through a recipe, and the undoing of it."""

    def __init__(self, args: Args, recipe: Recipe) -> None:
        self.args = args
        self.recipe = recipe
        self.root = root_of(args)
        self.directory = _statedir.container_dir(self.root, args.container_id)
        self.cgroup = Replay(recipe.cgroup_ops)
        self.spawned: Optional[Spawned] = None
        self.staged = False

    def run(self) -> Optional[str]:
        """None once created; else what failed (all of it taken back)."""
        try:
            _statedir.make_root(self.root)
            os.mkdir(self.directory, 0o711)
        except OSError as exc:
            return str(exc)  # an id in use (ContainerExists), an unusable root: the library's to say
        try:
            self._create()
        except Exception as exc:
            self._undo()
            return f"{type(exc).__name__}: {exc}"
        except BaseException:
            self._undo()
            raise
        spawned = self.spawned
        assert spawned is not None
        recorded(spawned)  # the child may now wait for a starter, and outlive this process
        if spawned.pidfd >= 0:
            os.close(spawned.pidfd)
        return None

    def _create(self) -> None:
        # container.Container.create's order: the intent first, so that
        # whatever happens to this process, delete finds the cgroup.
        _statedir.write_intent(self.directory, self.recipe.intent(_statedir.utc_now()))
        _owners.reclaim(_statedir.DEFAULT_ROOT)  # popen.ContainerProcess's
        self.cgroup.run()
        pass_fds = tuple(range(3, 3 + self.args.preserve_fds))
        into = self.recipe.clone_into
        cgroup_fd = -1 if into is None else os.open(into, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            self.spawned = spawn(
                self.recipe.plan,  # type: ignore[arg-type]
                pass_fds=pass_fds,
                cgroup_fd=cgroup_fd,
                on_cloned=self._on_cloned,
            )
        finally:
            if cgroup_fd >= 0:
                os.close(cgroup_fd)
        if not self.staged:
            raise RuntimeError("the container's process died while being created")
        state = os.path.join(self.directory, _statedir.STATE_FILE)
        os.rename(state + ".tmp", state)
        # The pid file (cli/lifecycle's hand_over): a failure here is the
        # library's to report, after it made the container again and removed it.
        hand_over(-1, None, "", self.args.pid_file, self.spawned.pid)

    def _on_cloned(self, pid: int) -> None:
        """While the child sets itself up: the config file, then the full
        record beside the intent (container.Container.create's on_cloned)."""
        _statedir.write_new(os.path.join(self.directory, _statedir.CONFIG_FILE), self.recipe.config_file)
        start = _statedir.process_start_time(pid)
        if start is not None:
            path = os.path.join(self.directory, _statedir.STATE_FILE)
            _statedir.write_temp(path, self.recipe.record(pid, start, _statedir.utc_now()))
            self.staged = True

    def _undo(self) -> None:
        """The process, the cgroup and the state go (popen's and container's undo)."""
        spawned = self.spawned
        if spawned is not None:
            try:
                os.kill(spawned.pid, signal.SIGKILL)
                os.waitpid(spawned.pid, 0)
            except OSError:
                pass
            for fd in (spawned.pidfd, spawned.sync_fd):
                if fd >= 0:
                    os.close(fd)
        self.cgroup.undo()
        _statedir.remove_state(self.root, self.args.container_id)
