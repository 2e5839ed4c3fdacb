"""What attached containers own, recorded so that a dead owner's is reclaimed.

An attached container (``lc.run``, ``ContainerProcess``) dies with the
process that owns it (PR_SET_PDEATHSIG, see _parents.py), but its cgroup
cannot remove itself.  So before the cgroup is made, the owner records it
in ``<root>/.owned/<container id>``: its own pid and start time and the
cgroup's path; the record goes when the cgroup does.  Whoever next starts
a container on the same state root lists that directory (one entry per
attached container alive now: cheap) and, for each owner that is gone,
claims the record by renaming it (one claimer wins), kills and removes the
cgroup, and deletes the claim.  A claimer that dies meanwhile leaves its
claim, which the next one takes over the same way.

A record of a cgroup at its default path (``libcontainer_py/<id>``) is a
hard link to the owner's file, ``.owned/.owner-<pid>-<start time>``,
which holds the owner's text and is made once per process: a link makes
no inode, and making one costs up to a millisecond on an ext4 without a
journal that freed many lately (``recently_deleted``).  A record of any
other path is a symlink whose target is the owner and the path.  Either
is made in one call, so it is never seen half-written, and fails if the
id is taken.  The owner's file goes at the owner's exit, or with a
reclaim once its owner is dead.
"""

from __future__ import annotations

import atexit
import errno
import os

from ._log import log
from ._statedir import is_valid_id, process_start_time

TYPE_CHECKING = False  # not typing's: see _shortcuts.py (light: the default run's quick path records through here)
if TYPE_CHECKING:
    from typing import Callable, Dict, Iterator, List, Optional, Tuple

OWNED = ".owned"
_CLAIM = ".claim-"
_OWNER_PREFIX = ".owner-"


_ME: Dict[int, str] = {}


def me() -> str:
    """This process as an owner: pid and start time (read once per process)."""
    pid = os.getpid()
    if pid not in _ME:
        _ME[pid] = f"{pid}-{process_start_time(pid)}"
    return _ME[pid]


def alive(owner: str) -> bool:
    """Whether the process an owner string names (pid-start time) lives."""
    pid, _, start = owner.partition("-")
    try:
        return pid != "0" and str(process_start_time(int(pid))) == start
    except ValueError:
        return False


def claim_dead(
    directory: str, dead: Callable[[str], bool], names: Optional[List[str]] = None
) -> Iterator[Tuple[str, str]]:
    """(container id, claimed path) of each record in ``directory`` (or of
    ``names`` in it, listed by the caller) that ``dead(path)`` says a dead
    owner left and that this process claimed first, by renaming it; the
    claims of dead claimers are taken over."""
    if names is None:
        try:
            names = os.listdir(directory)
        except OSError:
            return
    for name in names:
        container_id, _, claimer = name.partition(_CLAIM)
        if not is_valid_id(container_id) or (claimer and alive(claimer)):
            continue
        path = os.path.join(directory, name)
        if not dead(path):
            continue
        claim = os.path.join(directory, container_id + _CLAIM + me())
        try:
            os.rename(path, claim)
        except OSError:
            continue  # another process claimed it first
        yield container_id, claim


def record(root: str, container_id: str, cgroup_path: str) -> Optional[str]:
    """Record that this process owns ``cgroup_path``; the record's path, or
    None where the state root cannot be written (a caller without rights
    there) or a live owner holds the id (the cgroup then exists, and making
    it fails)."""
    directory = os.path.join(root, OWNED)
    path = os.path.join(directory, container_id)
    default = cgroup_path == _default_path(container_id)
    for _ in range(2):
        try:
            if default:
                os.link(_owner_file(directory), path)
            else:
                os.symlink(f"{me()} {cgroup_path}", path)
            return path
        except FileNotFoundError:  # no directory yet, or someone removed the owner's file
            _OWNER_FILES.pop(directory, None)
            try:
                os.makedirs(directory, mode=0o700, exist_ok=True)
            except OSError:
                return None
        except OSError:
            return None  # taken: a live owner's container has this id (its cgroup exists too)
    return None


#: directory -> this process's owner file there (made by _owner_file).
_OWNER_FILES: Dict[str, str] = {}


def _owner_file(directory: str) -> str:
    """This process's owner file in ``directory``, made the first time
    (its text written before any record links to it); removed at exit."""
    path = _OWNER_FILES.get(directory)
    if path is not None and path.endswith(_OWNER_PREFIX + me()):
        return path
    path = os.path.join(directory, _OWNER_PREFIX + me())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, me().encode())
    finally:
        os.close(fd)
    if not _OWNER_FILES:
        atexit.register(_remove_owner_files)
    _OWNER_FILES[directory] = path
    return path


def _remove_owner_files() -> None:
    """At exit: this process's owner files go (records still linked to one
    keep its text, for whoever reclaims them)."""
    for path in _OWNER_FILES.values():
        if path.endswith(_OWNER_PREFIX + me()):  # not a forked child's copy of the table
            try:
                os.unlink(path)
            except OSError:
                pass
    _OWNER_FILES.clear()


def _default_path(container_id: str) -> str:
    from .cgroups._ops import DEFAULT_PARENT

    return f"{DEFAULT_PARENT}/{container_id}"


def forget(path: Optional[str]) -> None:
    """The cgroup is gone (or handed over): drop its record."""
    if path is not None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _read(path: str, container_id: str) -> Optional[Tuple[str, str]]:
    """(owner, cgroup path) of a record (a symlink, or a link to an owner's file)."""
    try:
        owner, _, cgroup_path = os.readlink(path).partition(" ")
    except OSError as e:
        if e.errno != errno.EINVAL:
            return None
        try:  # not a symlink: a link to the owner's file
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            owner, cgroup_path = os.read(fd, 256).decode(errors="replace"), _default_path(container_id)
        finally:
            os.close(fd)
    return (owner, cgroup_path) if owner and cgroup_path else None


def reclaim(root: str) -> List[str]:
    """Remove the cgroups (and records) of attached containers whose owner
    died; the ids reclaimed."""

    def dead(path: str) -> bool:
        found = _read(path, os.path.basename(path))
        return found is not None and not alive(found[0])

    directory = os.path.join(root, OWNED)
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    done = []
    for container_id, claim in claim_dead(directory, dead, names):
        found = _read(claim, container_id)
        if found is not None:
            _remove_cgroup(container_id, found[1])
            log.warning("reclaimed the cgroup %s of container %s, whose owner died", found[1], container_id)
        os.unlink(claim)
        done.append(container_id)
    _remove_dead_owner_files(directory, names)
    return done


def _remove_dead_owner_files(directory: str, names: List[str]) -> None:
    """The owner files that dead owners left (killed: no exit handler ran)."""
    mine = _OWNER_PREFIX + me()
    for name in names:
        if name.startswith(_OWNER_PREFIX) and name != mine and not alive(name[len(_OWNER_PREFIX) :]):
            try:
                os.unlink(os.path.join(directory, name))
            except OSError:
                pass


def _remove_cgroup(container_id: str, cgroup_path: str) -> None:
    from .cgroups import detect, new_manager

    new_manager(cgroup_path, detect(), container_id=container_id).destroy()
