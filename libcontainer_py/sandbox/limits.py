"""Limits: what a sandboxed run may use."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Optional

import attrs

from .._fields import FieldCheck, fail, field_options, named_fields
from ..cgroups.units import parse_bytes

#: The smallest memory and address space limit.
_MEMORY_FLOOR = 4 << 20


def _seconds(field: str, value: Any) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise fail(field, f"expected a positive number of seconds or None, got {value!r}")
    return float(value)


def _size(field: str, value: Any, floor: int) -> Optional[int]:
    if value is None:
        return None
    size = parse_bytes(value, field)
    if size is None or size < floor:
        raise fail(field, f"must be at least {floor} bytes, got {value!r}")
    return size


def _count(field: str, value: Any) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 2**31:
        raise fail(field, f"expected a positive int or None, got {value!r}")
    return value


def _seconds_or_zero(field: str, value: Any) -> float:
    seconds = 0.0 if value == 0 else _seconds(field, value)
    assert seconds is not None
    return seconds


def _box_size(field: str, value: Any) -> int:
    size = _size(field, value, 4096)
    if size is None:
        raise fail(field, "the box directory always has a size; give one")
    return size


if TYPE_CHECKING:  # see _fields: what mypy's attrs plugin reads

    def _seconds_field(value: Any) -> Optional[float]: ...
    def _seconds_or_zero_field(value: Any) -> float: ...
    def _size_field(value: Any) -> Optional[int]: ...
    def _box_size_field(value: Any) -> int: ...
    def _count_field(value: Any) -> Optional[int]: ...

else:
    _seconds_field = FieldCheck(_seconds, keeps_none=True)
    _seconds_or_zero_field = FieldCheck(_seconds_or_zero)
    _size_field = FieldCheck(_size, keeps_none=True)
    _box_size_field = FieldCheck(_box_size)
    _count_field = FieldCheck(_count, keeps_none=True)


@attrs.frozen(field_transformer=named_fields("limits"))
class Limits:
    """The limits of one sandboxed run; ``None`` is "no limit".

    Sizes are ints or strings with a binary suffix ("256M").  ``cpu_time``
    is CPU seconds of every thread and process of the box together (the
    cgroup's counter); the box is killed at ``cpu_time + extra_time``.
    ``memory`` is a memory limit with swap off (tmpfs pages written in
    the box count); ``address_space`` an opt-in RLIMIT_AS per process.
    ``output`` caps stdout and stderr each (that many bytes kept).
    ``disk`` sizes the box directory's tmpfs (and the private /tmp and
    /dev/shm).  ``open_files`` is RLIMIT_NOFILE.
    """

    cpu_time: Optional[float] = attrs.field(default=None, converter=_seconds_field)
    extra_time: float = attrs.field(default=0.0, converter=_seconds_or_zero_field)
    wall_time: Optional[float] = attrs.field(default=None, converter=_seconds_field)
    memory: Optional[int] = attrs.field(
        default=None, converter=_size_field, metadata=field_options(floor=_MEMORY_FLOOR)
    )
    address_space: Optional[int] = attrs.field(
        default=None, converter=_size_field, metadata=field_options(floor=_MEMORY_FLOOR)
    )
    pids: Optional[int] = attrs.field(default=None, converter=_count_field)
    output: Optional[int] = attrs.field(default=None, converter=_size_field, metadata=field_options(floor=0))
    disk: int = attrs.field(default=64 << 20, converter=_box_size_field)
    open_files: Optional[int] = attrs.field(default=None, converter=_count_field)
