"""Namespaces: each kind is new (True), inherited (False) or joined (a path)."""

from __future__ import annotations

import os
from typing import Any, Dict, Tuple, Union

import attrs

from ._fields import fail
from ._repr import short_repr

#: True creates a new namespace, False stays in the caller's, a path joins one.
NamespaceSetting = Union[bool, str]

KINDS: Tuple[str, ...] = ("user", "mount", "uts", "ipc", "pid", "net", "cgroup", "time")

CLONE_FLAGS: Dict[str, int] = {
    "time": 0x00000080,
    "mount": 0x00020000,
    "cgroup": 0x02000000,
    "uts": 0x04000000,
    "ipc": 0x08000000,
    "user": 0x10000000,
    "pid": 0x20000000,
    "net": 0x40000000,
}

#: The name of each kind under /proc/<pid>/ns/.
PROC_NAMES: Dict[str, str] = {
    "user": "user",
    "mount": "mnt",
    "uts": "uts",
    "ipc": "ipc",
    "pid": "pid",
    "net": "net",
    "cgroup": "cgroup",
    "time": "time",
}


def _setting(kind: str) -> Any:
    def convert(value: Any) -> NamespaceSetting:
        if isinstance(value, bool):
            return value
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if isinstance(value, str):
            if not value.startswith("/") or "\0" in value:
                raise fail(f"namespaces.{kind}", f"a namespace to join must be an absolute path, got {value!r}")
            return value
        raise fail(
            f"namespaces.{kind}",
            f"expected True (new), False (inherit) or a path to join, got {value!r}",
        )

    return convert


def _field(kind: str) -> Any:
    return attrs.field(default=False, converter=_setting(kind))


@attrs.frozen
class Namespaces:
    """Which namespaces the container gets.

    ``Namespaces()`` shares every namespace with the caller;
    ``Namespaces.default()`` is what a container usually has.
    """

    __repr__ = short_repr

    user: NamespaceSetting = _field("user")
    mount: NamespaceSetting = _field("mount")
    uts: NamespaceSetting = _field("uts")
    ipc: NamespaceSetting = _field("ipc")
    pid: NamespaceSetting = _field("pid")
    net: NamespaceSetting = _field("net")
    cgroup: NamespaceSetting = _field("cgroup")
    time: NamespaceSetting = _field("time")

    @classmethod
    def default(cls) -> Namespaces:
        """New mount, uts, ipc, pid, net and cgroup namespaces; for a caller
        without CAP_SYS_ADMIN (a non-root user) a new user namespace too
        (see rootless.py)."""
        from .rootless import unprivileged

        return cls(user=unprivileged(), mount=True, uts=True, ipc=True, pid=True, net=True, cgroup=True)

    @classmethod
    def all(cls) -> Namespaces:
        """Every kind new, the user namespace included."""
        return cls(**{kind: True for kind in KINDS})

    def setting(self, kind: str) -> NamespaceSetting:
        """The setting of namespace ``kind``: True (new), False (the caller's) or a path to join."""
        value: NamespaceSetting = getattr(self, kind)
        return value

    def is_new(self, kind: str) -> bool:
        """Whether namespace ``kind`` (``"pid"``, ``"net"``...) is a new one."""
        return self.setting(kind) is True

    def new(self) -> Tuple[str, ...]:
        """The kinds that are created."""
        return tuple(k for k in KINDS if self.setting(k) is True)

    def joined(self) -> Dict[str, str]:
        """kind -> path of the namespaces that are joined."""
        return {k: v for k in KINDS if isinstance(v := self.setting(k), str)}

    def clone_flags(self) -> int:
        """The CLONE_NEW* flags of the new namespaces."""
        flags = 0
        for kind in self.new():
            flags |= CLONE_FLAGS[kind]
        return flags
