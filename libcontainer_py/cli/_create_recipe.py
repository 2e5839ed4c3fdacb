"""The command line's create recipes: what the library did to create a
container of a config.json, kept to be done again without the config model
(cli/_create_light.py).

An engine creates every container of an image and set of flags from the
same config.json but for a few values: podman's differ in the container id
(in mount sources, the cgroup path, the start socket), its 12-digit prefix
(the hostname, ``HOSTNAME``), the root's path (a layer id of its own) and
the annotations (a creation time).  ``Inputs`` reads a create's config.json
and flags with those values marked; with the annotations left out (they
are only recorded), the marked document and flags are the recipe's key.
After the library's path created a container, ``save`` keeps what it did,
marked the same way: the plan's steps, every question planning asked of
the host and its answer, the cgroup's file operations
(cgroups.script.Recorder), and the record and config files it wrote.  A
later create whose key matches does the same with its own values put back.

A recipe is saved only for what the quick create repeats exactly: run as
root (not in a delegated cgroup), no hooks, no terminal, no id maps, no
seccomp listener or network, no warning but the document's own (said
again by the quick create), an absolute root
without symbolic links (or one relative to the bundle), and no value of
the recipe's that holds a marked one in another form.  Without ``HOME`` in
config.json the environment is made again from the new root's
/etc/passwd, as the library makes it.  The files live under
the state root (``.create/``), trusted as the seccomp cache's are.
Light to read (no attrs): ``save`` alone imports the library.
"""

from __future__ import annotations

import os

from .. import _jsonlite, _recipes, _statedir
from .._home import read_beneath, with_home
from .._saved_plan import SavedPlan, SavedStep, step_fields
from ._argv import root_of

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Tuple

    from ..cgroups.script import Recorder
    from ..container import Container
    from ._argv import Args

#: The recipes' directory under the command line's state root.
DIRECTORY = ".create"
#: Bumped when a recipe's layout changes (an older one is not read).
VERSION = 1
#: At most this many recipes are kept (an engine's images and flag sets;
#: podman's mounts come in four orders).
LIMIT = 64
#: What stands for each varying value in a recipe (NUL: never in a JSON text).
ID_MARK, SHORT_MARK, ROOT_MARK = "\0id\0", "\0short\0", "\0root\0"
PID_MARK = "\0pid\0"
_HEX = frozenset("0123456789abcdef")
_NUL = "\\u0000"  # a NUL in a JSON text


def _plain(value: str) -> bool:
    """Written as it is in a JSON text (no escapes), so that marking the
    text marks the value wherever it is."""
    return value.isascii() and value.isprintable() and '"' not in value and "\\" not in value


class Inputs:
    """One create's config.json and flags: the document, its annotations,
    the varying values and the key with them marked."""

    def __init__(self, args: Args, bundle: str, doc: Dict[str, Any], annotations: Dict[str, str]) -> None:
        self.container_id: str = args.container_id
        self.bundle = bundle
        self.doc = doc
        self.annotations = annotations
        root = doc["root"]["path"]
        #: (value, mark), marked in this order: the root may hold the id.
        self.marks: List[Tuple[str, str]] = [(root, ROOT_MARK)] if root.startswith("/") else []
        self.marks.append((self.container_id, ID_MARK))
        if len(self.container_id) == 64 and set(self.container_id) <= _HEX:
            self.marks.append((self.container_id[:12], SHORT_MARK))  # podman's hostname
        self.root = root if root.startswith("/") else None
        #: The root's path on the host, as the library resolves it (a relative one is the bundle's).
        self.root_dir = root if root.startswith("/") else os.path.join(bundle, root)
        flags = [args.preserve_fds, args.no_pivot, args.no_new_keyring, bundle, root_of(args)]
        unrecorded = {k: v for k, v in doc.items() if k != "annotations"}
        text = _jsonlite.dumps([flags, unrecorded], compact=True)
        if _NUL in text:
            raise ValueError("a NUL in config.json")  # would read as a mark
        self.key = self.mark(text)

    def mark(self, text: str) -> str:
        """A JSON text with each value replaced by its mark (as JSON writes a
        NUL: read back, the strings hold the marks)."""
        for value, mark in self.marks:
            text = text.replace(value, mark.replace("\0", _NUL))
        return text

    def unmark(self, text: str) -> str:
        """A string read from a marked text with the values put back."""
        for value, mark in self.marks:
            text = text.replace(mark, value)
        return text


def read_inputs(args: Args) -> Optional[Inputs]:
    """The create's inputs when a recipe could be made or used for them;
    None for anything the library must read itself (its errors, warnings
    and the cases above)."""
    if os.geteuid() != 0 or args.console_socket or not _statedir.is_valid_id(args.container_id):
        return None
    bundle = os.path.abspath(args.bundle or os.getcwd())
    try:
        with open(os.path.join(bundle, "config.json"), "rb") as f:
            doc = _jsonlite.loads(f.read().decode())
        process, root = doc["process"], doc["root"]["path"]
        env, annotations = process["env"], doc.get("annotations", {})
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(doc, dict) or not isinstance(process, dict) or process.get("terminal") or doc.get("hooks"):
        return None
    if not isinstance(env, list) or not all(isinstance(e, str) and "=" in e for e in env):
        return None  # the library refuses it, and says why
    if not isinstance(annotations, dict) or not all(
        type(k) is str and k and type(v) is str for k, v in annotations.items()
    ):
        return None  # the library refuses them, and says why
    if type(root) is not str or not _plain(root) or root in ("", "/"):
        return None
    if root.startswith("/") and os.path.realpath(root) != root:
        return None  # the library's paths may hold the resolved one: not marked
    if not _plain(args.container_id) or len(args.container_id) < 12 or not _plain(bundle):
        return None  # a short id may be part of other values: not marked
    try:
        return Inputs(args, bundle, doc, annotations)
    except ValueError:
        return None


def recipe_name(args: Args, inputs: Inputs) -> Optional[Tuple[Dict[str, Any], str]]:
    """The host's key and the file name of the recipe for ``inputs``."""
    found = _recipes.host_key(root_of(args), VERSION)
    if found is None:
        return None
    host = found[0]
    return host, _recipes.file_name([host, inputs.key])


def passwd_envp(inputs: Inputs) -> List[str]:
    """The process's environment as the library gives it to a config.json
    without ``HOME``: the user's home from the root's /etc/passwd
    (_popen_args.with_passwd_home), each variable where its last setting is."""
    process = inputs.doc["process"]
    env: Dict[str, str] = {}
    for item in process["env"]:
        name, value = item.split("=", 1)
        env.pop(name, None)
        env[name] = value
    uid = (process.get("user") or {}).get("uid", 0)
    env = with_home(env, uid, read_beneath(inputs.root_dir, "etc/passwd"))
    return [f"{k}={v}" for k, v in env.items()]


def _needs_home(inputs: Inputs) -> bool:
    """Whether the library adds ``HOME``: none, or an empty one, set last."""
    env = dict(item.split("=", 1) for item in inputs.doc["process"]["env"])
    return not env.get("HOME")


def _unmarked(inputs: Inputs, value: Any) -> Any:
    """``value`` (plain data) with the marks in its strings put back."""
    if isinstance(value, str):
        return inputs.unmark(value)
    if isinstance(value, list):
        return [_unmarked(inputs, v) for v in value]
    if isinstance(value, dict):
        return {k: _unmarked(inputs, v) for k, v in value.items()}
    return value


class Recipe:
    """A saved create, its marks put back for ``inputs``."""

    def __init__(self, doc: Dict[str, Any], inputs: Inputs) -> None:
        self._inputs = inputs
        self.cgroup_ops: List[List[Any]] = self._values(doc["cgroup_ops"])
        #: The cgroup2 directory clone3 places the child in, if it does.
        self.clone_into: Optional[str] = self._values(doc["clone_into"])
        #: What the library warned of the document (OciWarning), said again.
        self.warnings: List[str] = self._values(doc["warnings"])
        self.config_file: bytes = inputs.unmark(doc["config_file"]).encode()
        self._intent: Dict[str, Any] = self._values(doc["intent"])
        self._record: Dict[str, Any] = self._values(doc["record"])
        steps = self._steps(doc["steps"])
        plan = self._values(doc["plan"])
        self.plan = SavedPlan(plan, steps)
        self.plan.argv = tuple(plan["argv"])
        # HOME from this root's /etc/passwd when config.json has none
        self.plan.envp = tuple(passwd_envp(inputs) if plan.get("home") else plan["envp"])
        self.plan.exec_paths = tuple(plan["exec_paths"])

    def _values(self, value: Any) -> Any:
        return _unmarked(self._inputs, value)

    def _steps(self, steps: List[Dict[str, Any]]) -> Tuple[SavedStep, ...]:
        """The saved steps, their programs as saved (not marked)."""
        return tuple(
            SavedStep({k: v if k == "data" else self._values(v) for k, v in fields.items()}) for fields in steps
        )

    def intent(self, created: str) -> bytes:
        """The record written before anything is made (state.State's, pid 0)."""
        return _jsonlite.dumps(_jsonlite.sorted_keys({**self._intent, "created": created}), compact=True).encode()

    def record(self, pid: int, pid_start: int, created: str) -> bytes:
        """The full record of the container whose first process is ``pid``
        (state._record_bytes' text)."""
        doc = dict(self._record)
        doc.update(pid=pid, pid_start=pid_start, created=created, annotations=self._inputs.annotations)
        doc["namespaces"] = {k: v.replace(PID_MARK, str(pid)) for k, v in doc["namespaces"].items()}
        return _jsonlite.dumps(_jsonlite.sorted_keys(doc), compact=True).encode()


def load(args: Args, inputs: Inputs) -> Tuple[Optional[Recipe], bool]:
    """The recipe for ``inputs`` if the host still answers as it did; and
    whether the library's path should save one (there is none)."""
    named = recipe_name(args, inputs)
    if named is None:
        return None, False
    host, name = named
    doc = _recipes.load(os.path.join(root_of(args), DIRECTORY), name)
    if doc is None:
        return None, True
    try:
        if doc.get("host") != host or doc.get("key") != inputs.key:
            return None, True
        if not _recipes.answers_hold(_unmarked(inputs, doc["answers"])):
            return None, True
        return Recipe(doc, inputs), False
    except (ValueError, KeyError, TypeError, AttributeError):
        return None, True


# -- saving, after the library's path created a container -----------------------


def save(args: Args, inputs: Inputs, container: Container, recorder: Recorder, warnings: List[str]) -> bool:
    """Keep what the library did to create ``container`` of ``inputs`` (and
    the ``warnings`` it gave of the document), when a later create can do it
    again exactly; False (nothing written) otherwise.  Failures to write are
    not errors: a recipe is a shortcut."""
    named = recipe_name(args, inputs)
    doc = None if named is None or recorder.failed else _recipe_of(args, inputs, container, recorder, warnings)
    if doc is None or named is None:
        return False
    doc["host"], doc["key"] = named[0], inputs.key
    return _recipes.save(os.path.join(root_of(args), DIRECTORY), named[1], doc, LIMIT)


def _recipe_of(
    args: Args, inputs: Inputs, container: Container, recorder: Recorder, warnings: List[str]
) -> Optional[Dict[str, Any]]:
    from .._privilege import cgroups_unprivileged
    from ..plan import Op
    from ..state import State, record_document

    proc = container.process
    if proc is None or cgroups_unprivileged():
        return None
    config, plan = proc.config, proc.plan
    if config.network or (config.seccomp is not None and config.seccomp.listener_path is not None):
        return None
    if plan.uid_map or plan.gid_map or plan.slots or plan.deny_setgroups or plan.map_helper:
        return None
    # On a cgroup2-only host clone3 places the child (CLONE_INTO_CGROUP): no step does.
    clone_into = None
    if proc._at_clone:
        dirs = container.cgroup.dirs() if container.cgroup is not None else []
        if len(dirs) != 1:
            return None
        clone_into = dirs[0]
    home = _needs_home(inputs)
    if home and passwd_envp(inputs) != list(plan.envp):
        return None  # an environment this module would not make again
    host = _recipes.RecordingHost()
    if proc.plan_again(host) != plan or any(a[0] not in _recipes.REPLAYABLE for a in host.answers):
        return None  # planned from something the recorded answers do not cover
    steps = []
    for step in plan.steps:
        if step.slot != -1 or step.op is Op.FORK or (step.op is Op.SECCOMP and step.n3):
            return None  # a preopened fd, another first process, a listener to hand over
        steps.append(step_fields(step))
    state = container.record
    directory = _statedir.container_dir(root_of(args), inputs.container_id)
    with open(os.path.join(directory, _statedir.CONFIG_FILE), "rb") as f:
        config_file = f.read().decode()
    pid = str(state.pid)
    record = record_document(state)
    record.update(pid=0, pid_start=0, created="", annotations={})
    record["namespaces"] = {k: v.replace(f"/proc/{pid}/", f"/proc/{PID_MARK}/") for k, v in state.namespaces.items()}
    # container._intent's record: nothing made yet, pid 0
    intent = record_document(
        State(
            id=state.id,
            pid=0,
            pid_start=0,
            created="",
            cgroup_path=state.cgroup_path,
            cgroup_controllers=state.cgroup_controllers,
            cgroup_joined=state.cgroup_joined,
        )
    )
    doc = {
        "plan": {
            "container_id": plan.container_id,
            "clone_flags": plan.clone_flags,
            "shares_memory": plan.shares_memory,
            "dies_with_owner": plan.dies_with_owner,
            "waits_for_start": plan.waits_for_start,
            "start_socket": plan.start_socket,
            "default_path": _default_path(),
            "argv": list(plan.argv),
            "envp": [] if home else list(plan.envp),
            "home": home,
            "exec_paths": list(plan.exec_paths),
        },
        "clone_into": clone_into,
        "steps": steps,
        "answers": host.answers,
        "cgroup_ops": recorder.ops,
        "config_file": config_file,
        "intent": intent,
        "record": record,
        "warnings": warnings,
    }
    # Programs (seccomp's) are bytes, not text: kept out of the marking.
    programs = [fields.pop("data", None) for fields in steps]
    try:
        marked = inputs.mark(_jsonlite.dumps(doc, compact=True))
    except ValueError:
        return None
    if not _faithful(marked, inputs):
        return None
    result: Dict[str, Any] = _jsonlite.loads(marked)
    for fields, data in zip(result["steps"], programs):
        if data is not None:
            fields["data"] = data
    return result


def _faithful(marked: str, inputs: Inputs) -> bool:
    """No varying value is left in the marked recipe in another form: the
    id in either case, or a long component of the root's path (a layer id)."""
    left = [inputs.container_id.lower(), inputs.container_id.upper()]
    if inputs.root is not None:
        left += [part for part in inputs.root.split("/") if len(part) >= 32]
    return not any(v in marked for v in left)


def _default_path() -> str:
    from ..process import DEFAULT_PATH

    return DEFAULT_PATH
