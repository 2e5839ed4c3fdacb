"""The default container's quick run: ``lc.run(argv)`` without the config model.

A fresh interpreter's first ``lc.run(["true"])`` used to spend ~90 ms
before its container: importing attrs (~30 ms: inspect, typing, ast...),
building the config model's classes, ``Config()`` and its plan.  With no
``config`` (``Config()``, the defaults) the plan is the same in every run
but for argv, env, cwd and the container id (the hostname), and the
cgroup's part is the same too.  So the library's path, run by root on a
host where the default container's cgroup is a cgroup2 directory placed
by clone3 (cgroup2 and hybrid hosts), keeps a *recipe* under the state
root (``.quickrun/``): the plan's steps, the seccomp and device programs,
the cgroup's path, and every answer planning took from the host (the HostFS
seam: which top-level directories are links, the capability bounding set,
the last capability...).  The next default run -- in this process or
another -- whose key matches (the library's files, the boot, the euid,
the mount and user namespaces, the cgroup hierarchies) and whose host
still gives every recorded answer spawns that plan with its own argv, env,
cwd and id: the same steps, protections and cgroup as the library's path,
which a test compares.

Only what this module checks exactly as the library would takes the quick
path (argv, env and cwd; stdio, input, timeout, check); anything else --
a user, pass_fds, a container id, an input the library would refuse or
warn about, no recipe, a changed answer, another layout -- returns None
and the library's path runs (and saves a recipe for the next time).  The
recipe file is trusted as the seccomp cache's are (_private_file).  See
docs/decisions.md, "A default run without the config model".
"""

from __future__ import annotations

import os
import posixpath
import subprocess

from . import _owners, _recipes
from ._completed import CompletedProcess, run_stdio
from ._execpath import exec_candidates
from ._pidfd_popen import PidfdPopen
from ._saved_plan import SavedPlan, SavedStep, step_fields
from ._statedir import DEFAULT_ROOT, networks_to_reclaim
from .spawn import spawn

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple

    from .cgroups import Stats
    from .popen import ContainerProcess

#: The recipes' directory under the state root.
DIRECTORY = ".quickrun"
#: Bumped when the recipe's layout changes (an older one is not read).
VERSION = 1
#: At most this many recipes are kept (one per key: hosts, users, namespaces).
LIMIT = 16
#: Stands for the container id in the saved steps and cgroup path.
ID_MARK = "\0id\0"

#: The recipes this process could not save (file names): not tried again.
_unsaved: Set[str] = set()


def _key() -> Optional[Tuple[Dict[str, Any], Optional[str]]]:
    """What a recipe is valid for here, and this process's own cgroup2 path."""
    return _recipes.host_key(DEFAULT_ROOT, VERSION)


def _file_name(key: Dict[str, Any]) -> str:
    return _recipes.file_name(key)


def _directory(root: str) -> str:
    return os.path.join(root, DIRECTORY)


class Recipe:
    """A saved default run: its plan's steps with the id marked, the cgroup's
    path (relative to the cgroup2 mount) and device program, and the
    default process's argv and env."""

    def __init__(self, doc: Dict[str, Any]) -> None:
        self.doc = doc
        self.cgroup_dir: str = doc["cgroup_dir"]
        self.cgroup_path: str = doc["cgroup_path"]
        controllers = doc["cgroup_controllers"]
        self.cgroup_controllers: Optional[Tuple[str, ...]] = None if controllers is None else tuple(controllers)
        self.device_code = bytes.fromhex(doc["device_code"])
        self.default_args: Tuple[str, ...] = tuple(doc["default_args"])
        self.default_env: Dict[str, str] = dict(doc["default_env"])

    def plan(self, container_id: str, argv: Sequence[str], env: Mapping[str, str], cwd: str) -> SavedPlan:
        """The saved plan with this run's id, argv, env and cwd."""
        doc = self.doc
        steps = []
        for i, fields in enumerate(doc["steps"]):
            step = SavedStep(_with_id(fields, container_id))
            if i == doc["chdir"]:
                step.path = step.s1 = cwd
            elif i == doc["exec"]:
                step.path = argv[0]
            steps.append(step)
        plan = SavedPlan({**doc["plan"], "container_id": container_id}, tuple(steps))
        plan.argv = tuple(argv)
        plan.envp = tuple(f"{k}={v}" for k, v in env.items())
        plan.exec_paths = exec_candidates(argv[0], env.get("PATH", plan.default_path))
        return plan


def _with_id(fields: Dict[str, Any], container_id: str) -> Dict[str, Any]:
    return {k: v.replace(ID_MARK, container_id) if isinstance(v, str) else v for k, v in fields.items()}


def load(root: str = DEFAULT_ROOT) -> Optional[Tuple[Recipe, Optional[str]]]:
    """The recipe for this process here, if the host still answers as it
    did; with this process's own cgroup2 path."""
    found = _key()
    if found is None:
        return None
    recipe = _load(root, found[0])
    return None if recipe is None else (recipe, found[1])


def _load(root: str, key: Dict[str, Any]) -> Optional[Recipe]:
    doc = _recipes.load(_directory(root), _file_name(key))
    try:
        if doc is None or doc.get("key") != key or not _recipes.answers_hold(doc["answers"]):
            return None
        return Recipe(doc)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


# -- the run ------------------------------------------------------------------


def _text(value: Any, allow_empty: bool = False) -> bool:
    return type(value) is str and "\0" not in value and (allow_empty or bool(value))


def quick_inputs(
    args: Any, env: Any, cwd: Any, shell: bool, recipe: Recipe
) -> Optional[Tuple[Tuple[str, ...], Dict[str, str], str]]:
    """argv, env and cwd as the library would make them of these arguments,
    or None for anything it would refuse, convert or warn about."""
    if shell:
        if not _text(args):
            return None
        argv: Tuple[str, ...] = ("/bin/sh", "-c", args)
    elif args is None:
        argv = recipe.default_args
    elif type(args) in (list, tuple) and args and _text(args[0]) and all(_text(a, True) for a in args):
        argv = tuple(args)
    else:
        return None
    if env is None:
        environ = recipe.default_env
    elif type(env) is dict and all(_text(k) and "=" not in k and _text(v, True) for k, v in env.items()):
        environ = dict(env)
    else:
        return None
    if cwd is None:
        directory = "/"
    elif _text(cwd) and cwd.startswith("/") and ".." not in cwd.split("/"):
        directory = posixpath.normpath(cwd).replace("//", "/")
    else:
        return None
    return argv, environ, directory


def run(
    args: Any,
    *,
    env: Any,
    cwd: Any,
    shell: bool,
    stdin: Any,
    input: Any,
    stdout: Any,
    stderr: Any,
    capture_output: bool,
    timeout: Optional[float],
    text: Optional[bool],
    encoding: Optional[str],
    errors: Optional[str],
    universal_newlines: Optional[bool],
) -> Tuple[Optional[CompletedProcess], bool]:
    """The default container's run through a recipe; (None, save) when the
    library's path must run instead, ``save`` saying whether its run
    should leave a recipe (none was found for these inputs)."""
    if os.geteuid() != 0:
        return None, False
    found = _key()
    if found is None:
        return None, False
    key, own = found
    recipe = _load(DEFAULT_ROOT, key)
    if recipe is None:
        return None, _file_name(key) not in _unsaved
    inputs = quick_inputs(args, env, cwd, shell, recipe)
    if inputs is None:
        return None, False
    if networks_to_reclaim():
        return None, False  # the library's path reclaims them first
    container_id = os.urandom(6).hex()  # popen.new_container_id's
    cgroup = QuickCgroup(recipe, container_id)
    if not cgroup.placeable(own):
        return None, False  # the library refuses it, and says why
    stdin, stdout, stderr = run_stdio(stdin, stdout, stderr, input=input, capture_output=capture_output)
    argv, environ, directory = inputs
    plan = recipe.plan(container_id, argv, environ, directory)
    _owners.reclaim(DEFAULT_ROOT)
    cgroup.create()
    try:
        proc = QuickProcess(
            plan,
            cgroup,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            text=text,
            encoding=encoding,
            errors=errors,
            universal_newlines=universal_newlines,
        )
    except BaseException:
        cgroup.remove()
        raise
    with proc:
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            proc.kill()
            out, err = proc.communicate()
            from .errors import TimeoutExpired

            raise TimeoutExpired(proc.args, exc.timeout, output=out, stderr=err, container_id=container_id) from None
        except BaseException:
            proc.kill()
            raise
        returncode = proc.poll()
        assert returncode is not None
        figures = cgroup.snapshot()
    path = cgroup.path
    result = CompletedProcess.with_stats_of(
        proc.args, returncode, out, err, container_id, lambda: _typed_stats(path, figures)
    )
    return result, False


class QuickCgroup:
    """The default container's cgroup2 directory, made and removed as the
    library's manager does: recorded for its owner's crash first, the
    device program attached before any process is in it."""

    def __init__(self, recipe: Recipe, container_id: str) -> None:
        self.path = recipe.cgroup_path.replace(ID_MARK, container_id)
        self.dir = recipe.cgroup_dir.replace(ID_MARK, container_id)
        self.container_id = container_id
        self._code = recipe.device_code
        #: The controllers the library placed it with (ContainerProcess.cgroup_controllers).
        self.controllers: Optional[Tuple[str, ...]] = recipe.cgroup_controllers
        self._owned: Optional[str] = None
        self._made: List[str] = []

    def placeable(self, own: Optional[str]) -> bool:
        """Neither inside nor around this process's own cgroup (the library's check)."""
        if own is None:
            return False
        own = own.rstrip("/") or "/"
        target = "/" + self.path
        return not (own == target or own.startswith(target + "/") or (own != "/" and target.startswith(own + "/")))

    def create(self) -> None:
        from .cgroups import bpf_devices

        self._owned = _owners.record(DEFAULT_ROOT, self.container_id, self.path)
        try:
            parent = os.path.dirname(self.dir)
            try:
                os.mkdir(parent, 0o755)
                self._made.append(parent)
            except FileExistsError:
                pass
            os.mkdir(self.dir, 0o755)
            self._made.append(self.dir)
            bpf_devices.install_code(self.dir, self._code)
        except BaseException:
            self.remove()
            raise

    def open_fd(self) -> int:
        return os.open(self.dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    def snapshot(self) -> Dict[str, str]:
        """The cgroup's files (but cgroup.*), for its Stats once it is gone."""
        figures = {}
        for entry in os.scandir(self.dir):
            if not entry.name.startswith("cgroup.") and entry.is_file():
                try:
                    figures[entry.name] = _recipes.read_text(entry.path)
                except OSError:
                    pass
        return figures

    def remove(self) -> None:
        """Kill what is left in it, remove it, forget the record."""
        for directory in reversed(self._made):
            if directory == self.dir:
                _remove_dir(self)
            else:
                try:
                    os.rmdir(directory)  # the shared parent: only while empty
                except OSError:
                    pass
        self._made.clear()
        _owners.forget(self._owned)
        self._owned = None


def _remove_dir(cgroup: QuickCgroup) -> None:
    """rmdir; when a process is still in it (one that joined from outside:
    the container's own died with its PID 1), the library's destroy, which
    kills and waits first."""
    try:
        os.rmdir(cgroup.dir)
        return
    except FileNotFoundError:
        return
    except OSError as exc:
        import errno

        if exc.errno != errno.EBUSY:
            raise
    from .cgroups._ops import open_recorded

    open_recorded(cgroup.path, cgroup.controllers, container_id=cgroup.container_id).destroy()


def _typed_stats(path: str, figures: Dict[str, str]) -> Stats:
    """The Stats the library's manager would have read from these files."""
    from .cgroups._ops import v1_placement
    from .cgroups.layout import detect
    from .cgroups.manager import new_manager
    from .config import DEFAULT_CGROUP

    layout = detect()
    layout = layout.only(v1_placement(DEFAULT_CGROUP.controllers(), layout.v1, layout.unified))
    manager = new_manager(path, layout)
    return type(manager)(path, layout, fs=_Figures(figures)).stats()


class _Figures:
    """A CgroupFS over the files read at the exit (reads only)."""

    def __init__(self, figures: Dict[str, str]) -> None:
        self._figures = figures

    def read(self, path: str) -> str:
        try:
            return self._figures[os.path.basename(path)]
        except KeyError:
            from .cgroups.errors import CgroupError

            raise CgroupError("not read at the exit", path=path) from None

    def exists(self, path: str) -> bool:
        return os.path.basename(path) in self._figures

    def write(self, path: str, value: str) -> None:
        raise AssertionError("a finished container's figures are read-only")

    def mkdir(self, path: str) -> None:
        raise AssertionError("a finished container's figures are read-only")

    def rmdir(self, path: str) -> None:
        raise AssertionError("a finished container's figures are read-only")

    def subdirs(self, path: str) -> List[str]:
        return []


class QuickProcess(PidfdPopen):
    """A default container's process spawned from a recipe's plan; what
    run() uses of ContainerProcess (pidfd signals, the cgroup removed on
    close)."""

    def __init__(self, plan: SavedPlan, cgroup: QuickCgroup, **kwargs: Any) -> None:
        self.plan = plan
        self.container_id = plan.container_id
        self.pidfd = -1
        self._cgroup: Optional[QuickCgroup] = cgroup
        super().__init__(list(plan.argv), **kwargs)

    def _spawn_child(self, stdio: Tuple[int, int, int], pass_fds: Sequence[int]) -> None:
        assert self._cgroup is not None
        cgroup_fd = self._cgroup.open_fd()
        try:
            spawned = spawn(self.plan, stdio=stdio, cgroup_fd=cgroup_fd)  # type: ignore[arg-type]
        finally:
            os.close(cgroup_fd)
        self.pid = spawned.pid
        self.pidfd = spawned.pidfd

    def close(self) -> None:
        """Release the pidfd and remove the cgroup."""
        if self.pidfd >= 0:
            fd, self.pidfd = self.pidfd, -1
            os.close(fd)
        cgroup, self._cgroup = self._cgroup, None
        if cgroup is not None:
            cgroup.remove()


# -- saving, after the library's path ran a default container -------------------


def save(proc: ContainerProcess, root: str = DEFAULT_ROOT) -> bool:
    """Keep a recipe of ``proc``, a default container the library's path
    started, when its run can be repeated without the config model; False
    (nothing written, and not tried again in this process) otherwise.
    Failures to write are not errors: a recipe is only a shortcut."""
    found = _key()
    if found is None:
        return False
    name = _file_name(found[0])
    saved = _write(root, name, found[0], proc)
    if not saved:
        _unsaved.add(name)
    return saved


def _write(root: str, name: str, key: Dict[str, Any], proc: ContainerProcess) -> bool:
    recipe = _recipe_of(proc)
    if recipe is None or not os.path.isdir(root):
        return False
    recipe["key"] = key
    return _recipes.save(_directory(root), name, recipe, LIMIT)


def _recipe_of(proc: ContainerProcess) -> Optional[Dict[str, Any]]:
    """The recipe document of ``proc`` (without its key), or None when its
    run is not one this module repeats exactly."""
    from .cgroups import bpf_devices
    from .plan import Op
    from .process import DEFAULT_PATH

    config, plan, manager = proc.config, proc.plan, proc.cgroup
    if os.geteuid() != 0 or manager is None or not proc._at_clone or config.cgroup is None:
        return None
    unified = manager.layout.unified
    if manager.layout.v1 or unified is None or unified.controllers or config.process.executable is not None:
        return None  # v1 hierarchies to join, or controllers to enable: not a bare cgroup2 directory
    if config.cgroup.devices is None:
        return None
    host = _recipes.RecordingHost()
    again = proc.plan_again(host)
    if again != plan or plan.uid_map or plan.gid_map or plan.slots or plan.waits_for_start or plan.start_socket:
        return None  # planned from something the recorded answers do not cover
    if any(answer[0] not in _recipes.REPLAYABLE for answer in host.answers):
        return None
    container_id = proc.container_id
    steps, chdir, execs = [], [], []
    for i, step in enumerate(plan.steps):
        if step.slot != -1 or step.listen_path is not None or step.open_path is not None:
            return None
        if step.op is Op.SECCOMP and step.n3:
            return None  # a listener to hand over
        fields = step_fields(step)
        if step.op is Op.CHDIR:
            chdir.append(i)
        elif step.op is Op.EXEC:
            execs.append(i)
        elif step.op is Op.SETHOSTNAME:
            fields = {k: _marked(v, container_id) if k != "what" else v for k, v in fields.items()}
        if any(isinstance(v, str) and container_id in v for v in fields.values()):
            return None  # the id somewhere this module would not put it back
        steps.append(fields)
    if len(chdir) != 1 or len(execs) != 1:
        return None
    return {
        "plan": {
            "clone_flags": plan.clone_flags,
            "shares_memory": plan.shares_memory,
            "dies_with_owner": plan.dies_with_owner,
            "default_path": DEFAULT_PATH,
        },
        "steps": steps,
        "chdir": chdir[0],
        "exec": execs[0],
        "answers": host.answers,
        "cgroup_dir": unified.dir(manager.path).replace(container_id, ID_MARK),
        "cgroup_path": manager.path.replace(container_id, ID_MARK),
        "cgroup_controllers": None if proc.cgroup_controllers is None else list(proc.cgroup_controllers),
        "device_code": bpf_devices.program_code(config.cgroup.devices).hex(),
        "default_args": list(_default_process().args),
        "default_env": dict(_default_process().env),
    }


def _marked(value: Any, container_id: str) -> Any:
    return value.replace(container_id, ID_MARK) if isinstance(value, str) else value


def _default_process() -> Any:
    from .config import Config

    return Config().process
