"""The exec plan kept beside a container's record (``<root>/<id>/exec.json``),
for the command line's fast exec (cli/_exec_light.py).

It is the plan the library built for an earlier ``exec`` of the same
container process with the same inputs, saved by cli/execute.py once that
exec started: its steps as plain data, with the seccomp program named by
its key in the state root's cache (``.seccomp-cache``, where ``create`` put
it) and its SHA-256, checked when it is read.  The plan depends on argv,
env and cwd only through its CHDIR and EXEC steps and the exec paths,
which the fast exec fills in; whatever else shaped it (the exec's flags
and process.json besides those three) is its ``key``, and the file keeps
the last MAX_PLANS keys' plans.  A plan is used only for the same container
process (pid and start time) and the same key;
anything else -- no plan, another key, a step this module does not know,
a program missing from the cache -- takes the library's path, which saves
a new plan.  Light: os, _jsonlite and our few modules, no config model.
"""

from __future__ import annotations

import os

from .. import _jsonlite, _private_file, _statedir
from .._saved_plan import SavedPlan, SavedStep, step_fields
from .._shortcuts import sha256_hex
from ._common import SECCOMP_CACHE

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from typing import Any, Dict, Optional

    from ..plan import Plan

#: Bumped when the file's layout or what a plan holds changes (an older file
#: is ignored): 2, an exec'd process leads a session of its own (SETSID).
VERSION = 2
#: Plans kept per container (one per key: engines use one or two).
MAX_PLANS = 8

# The steps a saved plan may have (plan.Op's values): joining the
# container's cgroup and namespaces, and the process's own settings.  A plan
# with any other (a terminal, a wait for the parent or for start, a
# listener handed over...) is not saved.
JOIN_CGROUP, SETNS, UNSHARE, FORK, NOT_DUMPABLE = 26, 1, 2, 3, 37
SETUP_FDS, RLIMIT, WRITE_FILE, SCHED_SETATTR, IOPRIO, SCHED_SETAFFINITY, SET_MEMPOLICY = 17, 32, 33, 44, 45, 46, 47
CHDIR, CHROOT, KEEPCAPS, DROP_BOUNDING, SETGROUPS, SETGID, SETUID, CAPSET, AMBIENT = 21, 50, 27, 28, 18, 19, 20, 29, 30
UMASK, PERSONALITY, NO_NEW_PRIVS, SECCOMP, EXEC, SETSID, KEYRING = 22, 43, 31, 36, 24, 52, 53
KNOWN_OPS = frozenset(
    {JOIN_CGROUP, SETNS, UNSHARE, FORK, NOT_DUMPABLE, SETUP_FDS, RLIMIT, WRITE_FILE, SCHED_SETATTR, IOPRIO}
    | {SCHED_SETAFFINITY, SET_MEMPOLICY, CHDIR, CHROOT, KEEPCAPS, DROP_BOUNDING, SETGROUPS, SETGID, SETUID}
    | {CAPSET, AMBIENT, UMASK, PERSONALITY, NO_NEW_PRIVS, SECCOMP, EXEC, SETSID, KEYRING}
)


def _path(root: str, container_id: str) -> str:
    return os.path.join(_statedir.container_dir(root, container_id), _statedir.EXEC_FILE)


def save(root: str, record: Any, key: str, plan: Plan, seccomp_key: Optional[str]) -> None:
    """Keep ``plan`` (an exec's, as built by the library) for the fast exec of
    ``record``'s container; nothing when it has a step the fast exec does not
    take, or a seccomp program not in the cache under ``seccomp_key``.
    Failures are ignored: the file is only a shortcut."""
    steps = []
    seccomp = None
    for step in plan.steps:
        if int(step.op) not in KNOWN_OPS or step.slot != -1 or step.listen_path is not None:
            return
        fields = step_fields(step)
        if step.op == SECCOMP:
            if step.n3 or seccomp_key is None:
                return  # a listener to hand over: the library's
            stored = _private_file.read_program(os.path.join(root, SECCOMP_CACHE), seccomp_key)
            if stored is None or stored[0] != step.data:
                return
            seccomp = {"key": seccomp_key, "sha256": sha256_hex(step.data)}
            del fields["data"]
        steps.append(fields)
    ops = [s["op"] for s in steps]
    if ops.count(CHDIR) != 1 or ops.count(EXEC) != 1 or plan.uid_map or plan.gid_map or plan.slots:
        return
    if record.cgroup_path is not None and JOIN_CGROUP not in ops:
        return  # placed some other way (by clone3?), which the fast path does not do
    from ..process import DEFAULT_PATH

    entry = {
        "container_id": plan.container_id,
        "default_path": DEFAULT_PATH,  # execve's search path when the env has no PATH
        "clone_flags": plan.clone_flags,
        "shares_memory": plan.shares_memory,
        "seccomp": seccomp,
        "steps": steps,
    }
    doc = _read(root, record) or {"version": VERSION, "pid": record.pid, "pid_start": record.pid_start, "plans": {}}
    plans = doc["plans"]
    plans.pop(key, None)
    while len(plans) >= MAX_PLANS:
        del plans[next(iter(plans))]  # the oldest saved
    plans[key] = entry
    final = _path(root, record.id)
    # A shortcut only: nothing when another exec is saving (its .tmp exists) or the write fails.
    _private_file.write_new(final + ".tmp", final, _jsonlite.dumps(doc, compact=True).encode())


def _read(root: str, record: Any) -> Optional[Dict[str, Any]]:
    """The file's document when it is of ``record``'s container process."""
    try:
        with open(os.open(_path(root, record.id), os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW), "rb") as f:
            if not _private_file.trusted(os.fstat(f.fileno())):
                return None  # as the seccomp cache: only a file nobody else may have written
            doc: Dict[str, Any] = _jsonlite.loads(f.read().decode())
        if doc["version"] != VERSION or doc["pid"] != record.pid or doc["pid_start"] != record.pid_start:
            return None
        if not isinstance(doc["plans"], dict):
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return doc


def load(root: str, record: Any, key: str) -> Optional[SavedPlan]:
    """The saved plan of ``record``'s container for ``key``, its seccomp
    program read back and checked; None when there is none to use."""
    doc = _read(root, record)
    if doc is None or key not in doc["plans"]:
        return None
    try:
        entry = doc["plans"][key]
        steps = [SavedStep(fields) for fields in entry["steps"]]
        for step in steps:
            if step.op not in KNOWN_OPS:
                return None
            if step.op == SECCOMP:
                program = _program(root, entry["seccomp"])
                if program is None:
                    return None
                step.data = program
        return SavedPlan(entry, tuple(steps))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _program(root: str, ref: Dict[str, str]) -> Optional[bytes]:
    """The cached program ``ref`` names, if the cache's file is ours and
    holds exactly the program that was saved (its SHA-256)."""
    stored = _private_file.read_program(os.path.join(root, SECCOMP_CACHE), ref["key"])
    if stored is None or sha256_hex(stored[0]) != ref["sha256"]:
        return None
    return stored[0]
