"""IDMap: one line of a user namespace's uid_map or gid_map."""

from __future__ import annotations

from typing import Any, Tuple

import attrs

from ._fields import fail, instance_tuple, named_fields, uint32_field


@attrs.frozen(field_transformer=named_fields("idmap"))
class IDMap:
    """Map ``size`` ids starting at ``container_id`` to ``host_id`` onwards."""

    container_id: int = attrs.field(converter=uint32_field)
    host_id: int = attrs.field(converter=uint32_field)
    size: int = attrs.field(default=1, converter=uint32_field)

    def __attrs_post_init__(self) -> None:
        if self.size < 1:
            raise fail("idmap.size", "must be at least 1")

    def contains(self, container_id: int) -> bool:
        """Whether ``container_id`` is inside this range."""
        return self.container_id <= container_id < self.container_id + self.size

    def line(self) -> str:
        """The range as a line of ``/proc/<pid>/uid_map``."""
        return f"{self.container_id} {self.host_id} {self.size}\n"


def idmap_tuple(field: str, value: Any) -> Tuple[IDMap, ...]:
    maps = instance_tuple(field, value, IDMap)
    ordered = sorted(maps, key=lambda m: m.container_id)
    for a, b in zip(ordered, ordered[1:]):
        if a.container_id + a.size > b.container_id:
            raise fail(field, f"ranges overlap: {a} and {b}")
    return maps
