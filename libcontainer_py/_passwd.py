"""A user as docker's ``--user`` names it (``name``, ``uid``, ``name:group``,
``uid:gid``), resolved against the text of /etc/passwd and /etc/group."""

from __future__ import annotations

from typing import List, Optional

from ._fields import fail
from .process import User


def _parse_db(text: str) -> List[List[str]]:
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def resolve_user(spec: str, passwd: Optional[str], group: Optional[str]) -> User:
    """``user``, ``uid``, ``user:group``, ``uid:gid`` (and mixes) -> User,
    names looked up in the image's /etc/passwd and /etc/group text (None:
    the file is missing).  A named user also gets the groups listing it."""
    if not spec:
        return User(0, 0)
    user_part, _, group_part = spec.partition(":")
    users = _parse_db(passwd or "")
    groups = _parse_db(group or "")
    entry = next((u for u in users if len(u) >= 4 and (u[0] == user_part or u[2] == user_part)), None)
    if user_part.isdigit():
        uid = int(user_part)
    elif entry is not None:
        uid = int(entry[2])
    else:
        raise fail("process.user", f"no user {user_part!r} in the image's /etc/passwd")
    if group_part.isdigit():
        gid = int(group_part)
    elif group_part:
        match = next((g for g in groups if len(g) >= 3 and g[0] == group_part), None)
        if match is None:
            raise fail("process.user", f"no group {group_part!r} in the image's /etc/group")
        gid = int(match[2])
    else:
        gid = int(entry[3]) if entry is not None else 0
    additional: List[int] = []
    if entry is not None and not group_part:
        for g in groups:
            if len(g) >= 4 and entry[0] in g[3].split(",") and int(g[2]) != gid:
                additional.append(int(g[2]))
    return User(uid, gid, additional)
