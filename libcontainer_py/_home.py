"""Reading a small file of a container's root without leaving it, and
``HOME`` as runc sets it: the user's home directory from the container's
/etc/passwd when the environment has no ``HOME`` (or an empty one), ``/``
when the user is not listed.

Light (os and stat only): the command line's fast exec uses it.
"""

from __future__ import annotations

import os
import stat

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from typing import Dict, Mapping, Optional

#: A passwd or group file larger than this is read only so far.
DB_LIMIT = 1 << 20


def read_beneath(root: str, path: str, limit: int = DB_LIMIT) -> Optional[str]:
    """The text of the regular file ``path`` (relative, no ``..``) under the
    directory ``root``, or None when it is missing, not a regular file, or
    reached through a symlink: no component is followed, so a link in the
    container's root cannot point the read at the host's files."""
    parts = [p for p in path.split("/") if p and p != "."]
    if not parts or ".." in parts:
        raise ValueError(f"expected a relative path without '..', got {path!r}")
    try:
        dirfd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        for part in parts[:-1]:
            try:
                sub = os.open(part, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dirfd)
            except OSError:
                return None
            os.close(dirfd)
            dirfd = sub
        try:
            fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dirfd)
        except OSError:
            return None
    finally:
        os.close(dirfd)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return f.read(limit).decode("utf-8", "replace")


def passwd_home(uid: int, passwd: Optional[str]) -> str:
    """The home directory of the first /etc/passwd entry for ``uid``; ``/``
    when there is none (as runc's default)."""
    for line in (passwd or "").splitlines():
        fields = line.split(":")
        if len(fields) >= 6 and not line.startswith("#") and fields[2] == str(uid):
            return fields[5] or "/"
    return "/"


def with_home(env: Mapping[str, str], uid: int, passwd: Optional[str]) -> Dict[str, str]:
    """``env`` with ``HOME`` set as runc sets it when it is missing or
    empty (replaced in place, else last); unchanged otherwise."""
    out = dict(env)
    if not out.get("HOME"):
        out["HOME"] = passwd_home(uid, passwd)
    return out
