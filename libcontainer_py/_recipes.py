"""Recipes: what the library's path did, kept on disk to be done again
without the config model.

Two shortcuts keep recipes under the state root: the default container's
quick run (_quickrun.py, ``.quickrun/``) and the command line's quick
create (cli/_create_light.py, ``.create/``).  This module is what they
share: the key a recipe is valid under on this host (the library's files,
the boot, the user, the mount and user namespaces, the cgroup hierarchies),
the HostFS questions planning asked and their answers (asked again before a
recipe is used), and the recipe files themselves (trusted as the seccomp
cache's are: _private_file).  Light: no attrs, typing or config model.
"""

from __future__ import annotations

import os

from . import _jsonlite, _private_file
from ._hostfs import HostFS
from ._shortcuts import sha256_hex

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Tuple

#: The HostFS questions whose answers a recipe may depend on (plain values).
REPLAYABLE = frozenset(
    {"lstat_kind", "is_dir", "exists", "readlink", "realpath", "mount_point", "euid", "egid"}
    | {"in_user_namespace", "last_capability", "bounding_set", "can_take_fds"}
)

_library: Optional[str] = None


def library_id() -> str:
    """The installed library's files (names, sizes, times), once per process."""
    global _library
    if _library is None:
        top = os.path.dirname(os.path.abspath(__file__))
        entries = []
        for directory, subdirs, files in os.walk(top):
            subdirs[:] = sorted(d for d in subdirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith((".py", ".so")):
                    st = os.stat(os.path.join(directory, name))
                    entries.append(f"{os.path.relpath(directory, top)}/{name} {st.st_size} {st.st_mtime_ns}")
        _library = sha256_hex("\n".join(entries).encode())
    return _library


def read_text(path: str) -> str:
    """A small text file (ASCII; other bytes replaced)."""
    with open(path, encoding="ascii", errors="replace") as f:
        return f.read()


def host_key(root: str, version: int) -> Optional[Tuple[Dict[str, Any], Optional[str]]]:
    """What a recipe under ``root`` is valid for here, and this process's
    own cgroup2 path; None when the host cannot be read."""
    from .cgroups._ops import host_mounts
    from .cgroups.errors import CgroupError

    try:
        v1, unified = host_mounts()
        key = {
            "version": version,
            "library": library_id(),
            "euid": os.geteuid(),
            "egid": os.getegid(),
            "boot": read_text("/proc/sys/kernel/random/boot_id").strip(),
            "mnt": os.stat("/proc/self/ns/mnt").st_ino,
            "user": os.stat("/proc/self/ns/user").st_ino,
            # the hierarchies as mounted here (mount point, controllers, root): a
            # namespace's inode number may be another's, later
            "cgroups": [[m[0], list(m[1]), m[2]] for m in v1]
            + ([["cgroup2", unified[0], list(unified[1]), unified[2]]] if unified is not None else []),
            "root": root,
        }
    except (OSError, CgroupError):
        return None
    return key, None if unified is None else unified[3]


def file_name(key: Any) -> str:
    """The recipe file of ``key`` (any JSON-ready value)."""
    return sha256_hex(_jsonlite.dumps(key, compact=True).encode())[:32] + ".json"


class RecordingHost(HostFS):
    """HostFS that keeps every question asked and its answer."""

    def __init__(self) -> None:
        self.answers: List[List[Any]] = []

    def __getattribute__(self, name: str) -> Any:
        value = super().__getattribute__(name)
        if name.startswith("_") or name == "answers" or not callable(value):
            return value
        answers = super().__getattribute__("answers")

        def asked(*args: Any) -> Any:
            answer = value(*args)
            answers.append([name, list(args), answer])
            return answer

        return asked


def answers_hold(answers: List[List[Any]]) -> bool:
    """Every question planning asked of the host has the same answer now."""
    host = HostFS()
    for method, args, answer in answers:
        if method not in REPLAYABLE or getattr(host, method)(*args) != answer:
            return False
    return True


def load(directory: str, name: str) -> Optional[Dict[str, Any]]:
    """The recipe document in ``directory``/``name``, if the file is one only
    this user could have written; None otherwise."""
    try:
        dir_fd = _private_file.open_directory(directory)
    except OSError:
        return None
    try:
        fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW, dir_fd=dir_fd)
        with open(fd, "rb") as f:
            if not _private_file.trusted(os.fstat(f.fileno())):
                return None
            doc = _jsonlite.loads(f.read().decode())
        return doc if isinstance(doc, dict) else None
    except (OSError, ValueError):
        return None
    finally:
        os.close(dir_fd)


def save(directory: str, name: str, doc: Dict[str, Any], limit: int) -> bool:
    """Write ``doc`` as ``directory``/``name`` (made 0700 if missing), keeping
    at most ``limit`` recipes there (the oldest go); False when it cannot be
    written, which is not an error: a recipe is only a shortcut."""
    try:
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            pass
        dir_fd = _private_file.open_directory(directory)
    except OSError:
        return False
    try:
        _trim(dir_fd, keep=name, limit=limit)
        data = _jsonlite.dumps(doc, compact=True).encode()
        return _private_file.write_new(f".{name}.{os.getpid()}.tmp", name, data, dir_fd=dir_fd)
    finally:
        os.close(dir_fd)


def _trim(dir_fd: int, keep: str, limit: int) -> None:
    """At most ``limit`` - 1 other recipes stay (the oldest go)."""
    try:
        names = [n for n in os.listdir(dir_fd) if n.endswith(".json") and n != keep]
        if len(names) < limit:
            return
        names.sort(key=lambda n: os.stat(n, dir_fd=dir_fd).st_mtime_ns)
        for name in names[: len(names) - limit + 1]:
            os.unlink(name, dir_fd=dir_fd)
    except OSError:
        pass
