"""Device nodes created in the container's /dev."""

from __future__ import annotations

from typing import Any, Tuple

import attrs

from ._fields import absolute_path, fail, instance_tuple, uint32


def _kind(field: str, value: Any) -> str:
    if value not in ("c", "b"):
        raise fail(field, f"must be 'c' (character) or 'b' (block), got {value!r}")
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


@attrs.frozen
class Device:
    """A device node: ``path`` inside the container, type ``c`` or ``b``."""

    path: str = attrs.field(converter=_to_device_path)
    type: str = attrs.field(converter=_to_device_type)
    major: int = attrs.field(converter=_to_device_major)
    minor: int = attrs.field(converter=_to_device_minor)
    mode: int = attrs.field(default=0o666, converter=_to_device_mode)

    def __attrs_post_init__(self) -> None:
        if not self.path.startswith("/dev/"):
            raise fail("device.path", f"must be under /dev, got {self.path!r}")


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
