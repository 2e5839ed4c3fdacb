"""Namespaces: each kind is new (True), inherited (False) or joined (a path)."""

from __future__ import annotations

import os
from typing import Any, Dict, NamedTuple, Tuple, Union

import attrs

from ._fields import fail
from ._repr import short_repr

#: True creates a new namespace, False stays in the caller's, a path joins one.
NamespaceSetting = Union[bool, str]


class NamespaceKind(NamedTuple):
    """One kind of namespace, as each layer names it."""

    #: The Namespaces field ("net").
    name: str
    #: Its type in OCI's linux.namespaces ("network").
    oci_type: str
    #: Its CLONE_NEW* flag, for clone, unshare and setns.
    clone_flag: int
    #: Its name under /proc/<pid>/ns/ ("mnt").
    proc_name: str
    #: Its place among the kinds a child joins with setns: user first (its
    #: capabilities then cover joining the others), mount last (as runc).
    setns_order: int


#: Every kind, in the order of the Namespaces fields: the one table the
#: rest reads (a new kind is a row here and a field of Namespaces).
NAMESPACE_KINDS: Tuple[NamespaceKind, ...] = (
    NamespaceKind("user", "user", 0x10000000, "user", setns_order=0),
    NamespaceKind("mount", "mount", 0x00020000, "mnt", setns_order=7),
    NamespaceKind("uts", "uts", 0x04000000, "uts", setns_order=2),
    NamespaceKind("ipc", "ipc", 0x08000000, "ipc", setns_order=1),
    NamespaceKind("pid", "pid", 0x20000000, "pid", setns_order=4),
    NamespaceKind("net", "network", 0x40000000, "net", setns_order=3),
    NamespaceKind("cgroup", "cgroup", 0x02000000, "cgroup", setns_order=5),
    NamespaceKind("time", "time", 0x00000080, "time", setns_order=6),
)

KINDS: Tuple[str, ...] = tuple(k.name for k in NAMESPACE_KINDS)
CLONE_FLAGS: Dict[str, int] = {k.name: k.clone_flag for k in NAMESPACE_KINDS}
#: The name of each kind under /proc/<pid>/ns/.
PROC_NAMES: Dict[str, str] = {k.name: k.proc_name for k in NAMESPACE_KINDS}
#: The kinds in the order a child joins them.
SETNS_ORDER: Tuple[str, ...] = tuple(k.name for k in sorted(NAMESPACE_KINDS, key=lambda k: k.setns_order))


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
        from ._privilege import unprivileged

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
