"""The container's NUMA memory policy (``MemoryPolicy``, set_mempolicy(2)),
OCI's ``linux.memoryPolicy``: on which nodes its memory is allocated."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Tuple

import attrs

from . import _idlist
from ._fields import FieldCheck, fail, named_fields

#: Mode names ("bind", or OCI's "MPOL_BIND") -> MPOL_* numbers.
MODES = {
    "default": 0,
    "preferred": 1,
    "bind": 2,
    "interleave": 3,
    "local": 4,
    "preferred_many": 5,
    "weighted_interleave": 6,
}
#: Modes that take no nodes, and those that need some ("preferred" takes none or some).
NO_NODES = frozenset({"default", "local"})
NEEDS_NODES = frozenset({"bind", "interleave", "preferred_many", "weighted_interleave"})
#: Mode flags by name ("static_nodes", or OCI's "MPOL_F_STATIC_NODES").
FLAGS = {"numa_balancing": 1 << 13, "relative_nodes": 1 << 14, "static_nodes": 1 << 15}
#: The nodes a mask holds (the kernel's largest MAX_NUMNODES).
MAX_NODES = 1024


def _mode(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise fail(field, f"expected a mode name like 'bind', got {value!r}")
    name = value.lower().removeprefix("mpol_")
    if name not in MODES:
        raise fail(field, f"unknown {value!r} (known: {', '.join(MODES)})")
    return name


def _nodes(field: str, value: Any) -> Optional[str]:
    if value is None or value == "":
        return None
    return _idlist.format(_idlist.parse(field, value, MAX_NODES, "node"))


def _flags(field: str, value: Any) -> Tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise fail(field, f"expected a list of flag names, got {value!r}")
    names = []
    for item in value:
        name = item.lower().removeprefix("mpol_f_") if isinstance(item, str) else item
        if name not in FLAGS:
            raise fail(field, f"unknown {item!r} (known: {', '.join(FLAGS)})")
        names.append(name)
    return tuple(dict.fromkeys(names))


if TYPE_CHECKING:  # see _fields: what mypy's attrs plugin reads

    def _mode_field(value: Any) -> str: ...
    def _nodes_field(value: Any) -> Optional[str]: ...
    def _flags_field(value: Any) -> Tuple[str, ...]: ...

else:
    _mode_field = FieldCheck(_mode)
    _nodes_field = FieldCheck(_nodes, keeps_none=True)
    _flags_field = FieldCheck(_flags)


@attrs.frozen(field_transformer=named_fields("memory_policy"))
class MemoryPolicy:
    """The NUMA memory policy of the container's processes (set_mempolicy(2)).

    ``mode``: ``"default"``, ``"local"`` (no nodes), ``"preferred"`` (one
    node, or none for local), ``"bind"``, ``"interleave"``,
    ``"preferred_many"``, ``"weighted_interleave"`` (some nodes); OCI's
    ``"MPOL_BIND"`` spellings too.  ``nodes``: a node list, ``"0-1,3"``.
    ``flags``: ``"static_nodes"`` or ``"relative_nodes"`` (not both),
    ``"numa_balancing"`` (with ``"bind"`` only).
    """

    mode: str = attrs.field(converter=_mode_field)
    nodes: Optional[str] = attrs.field(default=None, converter=_nodes_field)
    flags: Tuple[str, ...] = attrs.field(default=(), converter=_flags_field)

    def __attrs_post_init__(self) -> None:
        if self.mode in NO_NODES and self.nodes is not None:
            raise fail("memory_policy.nodes", f"mode {self.mode!r} takes no nodes, got {self.nodes!r}")
        if self.mode in NEEDS_NODES and self.nodes is None:
            raise fail("memory_policy.nodes", f"mode {self.mode!r} needs nodes")
        if self.mode == "preferred" and self.nodes is not None and not self.nodes.isdigit():
            raise fail(
                "memory_policy.nodes", f"mode 'preferred' takes one node (preferred_many takes more): {self.nodes}"
            )
        if {"static_nodes", "relative_nodes"} <= set(self.flags):
            raise fail("memory_policy.flags", "static_nodes and relative_nodes exclude each other")
        if "numa_balancing" in self.flags and self.mode != "bind":
            raise fail("memory_policy.flags", f"numa_balancing goes with mode 'bind', not {self.mode!r}")

    @property
    def mode_value(self) -> int:
        """The mode argument of set_mempolicy(2): the mode with its flags."""
        value = MODES[self.mode]
        for name in self.flags:
            value |= FLAGS[name]
        return value

    def node_mask(self) -> bytes:
        """The nodemask argument (MAX_NODES bits; empty without nodes)."""
        if self.nodes is None:
            return b""
        return _idlist.bitmask(_idlist.parse("memory_policy.nodes", self.nodes, MAX_NODES, "node"), MAX_NODES)
