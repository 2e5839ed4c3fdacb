"""What attached containers own, recorded so that a dead owner's is reclaimed.

An attached container (``lc.run``, ``ContainerProcess``) dies with the
process that owns it (PR_SET_PDEATHSIG, see _parents.py), but its cgroup
cannot remove itself.  So before the cgroup is made, the owner records it
in ``<root>/.owned/<container id>`` (a symlink whose target is the text):
its own pid and start time and the cgroup's path; the record goes when the
cgroup does.  Whoever next starts a container on the same state root lists
that directory (one entry per
attached container alive now: cheap) and, for each owner that is gone,
claims the record by renaming it (one claimer wins), kills and removes the
cgroup, and deletes the claim.  A claimer that dies meanwhile leaves its
claim, which the next one takes over the same way.
"""

from __future__ import annotations

import os
from typing import Callable, Dict, Iterator, List, Optional, Tuple

from ._log import log
from ._statedir import is_valid_id, process_start_time

OWNED = ".owned"
_CLAIM = ".claim-"


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


def claim_dead(directory: str, dead: Callable[[str], bool]) -> Iterator[Tuple[str, str]]:
    """(container id, claimed path) of each record in ``directory`` that
    ``dead(path)`` says a dead owner left and that this process claimed
    first, by renaming it; the claims of dead claimers are taken over."""
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
    it fails).  The record is a symlink whose target is its text: made in
    one call, it is never seen half-written."""
    directory = os.path.join(root, OWNED)
    path = os.path.join(directory, container_id)
    text = f"{me()} {cgroup_path}"
    for _ in range(2):
        try:
            os.symlink(text, path)
            return path
        except FileNotFoundError:
            try:
                os.makedirs(directory, mode=0o700, exist_ok=True)
            except OSError:
                return None
        except OSError:
            return None  # taken: a live owner's container has this id (its cgroup exists too)
    return None


def forget(path: Optional[str]) -> None:
    """The cgroup is gone (or handed over): drop its record."""
    if path is not None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _read(path: str) -> Optional[Tuple[str, str]]:
    try:
        owner, _, cgroup_path = os.readlink(path).partition(" ")
    except OSError:
        return None
    return (owner, cgroup_path) if owner and cgroup_path else None


def reclaim(root: str) -> List[str]:
    """Remove the cgroups (and records) of attached containers whose owner
    died; the ids reclaimed."""

    def dead(path: str) -> bool:
        found = _read(path)
        return found is not None and not alive(found[0])

    done = []
    for container_id, claim in claim_dead(os.path.join(root, OWNED), dead):
        found = _read(claim)
        if found is not None:
            _remove_cgroup(container_id, found[1])
            log.warning("reclaimed the cgroup %s of container %s, whose owner died", found[1], container_id)
        os.unlink(claim)
        done.append(container_id)
    return done


def _remove_cgroup(container_id: str, cgroup_path: str) -> None:
    from .cgroups import detect, new_manager

    new_manager(cgroup_path, detect(), container_id=container_id).destroy()
