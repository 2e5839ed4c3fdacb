"""Limits: what a sandboxed run may use."""

from __future__ import annotations

import math
from typing import Any, Optional

import attrs

from .._fields import fail
from ..cgroups.units import parse_bytes


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


def _to_cpu_time(value: Any) -> Optional[float]:
    return _seconds("limits.cpu_time", value)


def _to_extra_time(value: Any) -> float:
    if value == 0:
        return 0.0
    seconds = _seconds("limits.extra_time", value)
    assert seconds is not None
    return seconds


def _to_wall_time(value: Any) -> Optional[float]:
    return _seconds("limits.wall_time", value)


def _to_memory(value: Any) -> Optional[int]:
    return _size("limits.memory", value, 4 << 20)


def _to_address_space(value: Any) -> Optional[int]:
    return _size("limits.address_space", value, 4 << 20)


def _to_pids(value: Any) -> Optional[int]:
    return _count("limits.pids", value)


def _to_output(value: Any) -> Optional[int]:
    return _size("limits.output", value, 0)


def _to_disk(value: Any) -> int:
    size = _size("limits.disk", value, 4096)
    if size is None:
        raise fail("limits.disk", "the box directory always has a size; give one")
    return size


def _to_open_files(value: Any) -> Optional[int]:
    return _count("limits.open_files", value)


@attrs.frozen
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

    cpu_time: Optional[float] = attrs.field(default=None, converter=_to_cpu_time)
    extra_time: float = attrs.field(default=0.0, converter=_to_extra_time)
    wall_time: Optional[float] = attrs.field(default=None, converter=_to_wall_time)
    memory: Optional[int] = attrs.field(default=None, converter=_to_memory)
    address_space: Optional[int] = attrs.field(default=None, converter=_to_address_space)
    pids: Optional[int] = attrs.field(default=None, converter=_to_pids)
    output: Optional[int] = attrs.field(default=None, converter=_to_output)
    disk: int = attrs.field(default=64 << 20, converter=_to_disk)
    open_files: Optional[int] = attrs.field(default=None, converter=_to_open_files)
