"""Device nodes created in the container's /dev."""

from __future__ import annotations

import stat
from typing import TYPE_CHECKING, Any, Tuple

import attrs

from ._fields import FieldCheck, absolute_path_field, fail, field_options, named_fields, uint32_field

#: Device.type -> the node's file type bits.
FILE_TYPES = {"c": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}


def _kind(field: str, value: Any) -> str:
    if value not in FILE_TYPES:
        raise fail(field, f"must be 'c' (character), 'b' (block) or 'p' (FIFO), got {value!r}")
    return str(value)


if TYPE_CHECKING:  # see _fields: what mypy's attrs plugin reads

    def _kind_field(value: Any) -> str: ...

else:
    _kind_field = FieldCheck(_kind)


@attrs.frozen(field_transformer=named_fields("device"))
class Device:
    """A device node: ``path`` inside the container, type ``c`` (character),
    ``b`` (block) or ``p`` (a FIFO: major and minor 0), its permission bits
    ``mode`` and its owner ``uid``/``gid`` (ids inside the container)."""

    path: str = attrs.field(converter=absolute_path_field)
    type: str = attrs.field(converter=_kind_field)
    major: int = attrs.field(converter=uint32_field)
    minor: int = attrs.field(converter=uint32_field)
    mode: int = attrs.field(default=0o666, converter=uint32_field, metadata=field_options(maximum=0o7777))
    uid: int = attrs.field(default=0, converter=uint32_field)
    gid: int = attrs.field(default=0, converter=uint32_field)

    def __attrs_post_init__(self) -> None:
        if not self.path.startswith("/dev/"):
            raise fail("device.path", f"must be under /dev, got {self.path!r}")
        if self.type == "p" and (self.major or self.minor):
            raise fail("device.major", f"a FIFO has no device number, got {self.major}:{self.minor}")

    @property
    def file_type(self) -> int:
        """The node's S_IF* bits."""
        return FILE_TYPES[self.type]

    @classmethod
    def fifo(cls, path: str, *, mode: int = 0o666, uid: int = 0, gid: int = 0) -> Device:
        """A named pipe at ``path``."""
        return cls(path, "p", 0, 0, mode, uid, gid)


#: null, zero, full, random, urandom and tty, as every container has them.
DEFAULT_DEVICES: Tuple[Device, ...] = (
    Device("/dev/null", "c", 1, 3),
    Device("/dev/zero", "c", 1, 5),
    Device("/dev/full", "c", 1, 7),
    Device("/dev/random", "c", 1, 8),
    Device("/dev/urandom", "c", 1, 9),
    Device("/dev/tty", "c", 5, 0),
)
