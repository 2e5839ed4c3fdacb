"""Device nodes created in the container's /dev."""

from __future__ import annotations

import stat
from typing import Any, Tuple

import attrs

from ._fields import absolute_path, fail, instance_tuple, uint32

#: Device.type -> the node's file type bits.
FILE_TYPES = {"c": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}


def _kind(field: str, value: Any) -> str:
    if value not in FILE_TYPES:
        raise fail(field, f"must be 'c' (character), 'b' (block) or 'p' (FIFO), got {value!r}")
    return str(value)


def _to_device_path(value: Any) -> str:
    return absolute_path("device.path", value)


def _to_device_type(value: Any) -> str:
    return _kind("device.type", value)


def _to_device_major(value: Any) -> int:
    return uint32("device.major", value)


def _to_device_minor(value: Any) -> int:
    return uint32("device.minor", value)


def _to_device_mode(value: Any) -> int:
    return uint32("device.mode", value, maximum=0o7777)


def _to_device_uid(value: Any) -> int:
    return uint32("device.uid", value)


def _to_device_gid(value: Any) -> int:
    return uint32("device.gid", value)


@attrs.frozen
class Device:
    """A device node: ``path`` inside the container, type ``c`` (character),
    ``b`` (block) or ``p`` (a FIFO: major and minor 0), its permission bits
    ``mode`` and its owner ``uid``/``gid`` (ids inside the container)."""

    path: str = attrs.field(converter=_to_device_path)
    type: str = attrs.field(converter=_to_device_type)
    major: int = attrs.field(converter=_to_device_major)
    minor: int = attrs.field(converter=_to_device_minor)
    mode: int = attrs.field(default=0o666, converter=_to_device_mode)
    uid: int = attrs.field(default=0, converter=_to_device_uid)
    gid: int = attrs.field(default=0, converter=_to_device_gid)

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


def device_tuple(field: str, value: Any) -> Tuple[Device, ...]:
    return instance_tuple(field, value, Device)
