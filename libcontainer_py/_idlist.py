"""The kernel's list format for CPUs and NUMA nodes (``"0-3,7"``, as cpuset
and sysfs write it), and the bit masks of unsigned longs that
sched_setaffinity(2) and set_mempolicy(2) take."""

from __future__ import annotations

import struct
from typing import Any, Iterable, Set, Tuple

from ._fields import fail


def parse(field: str, value: Any, limit: int, what: str = "CPU") -> Tuple[int, ...]:
    """The ids of a list such as ``"0-3,7"`` (each below ``limit``), sorted."""
    example = f"expected a {what} list such as '0-3,7', got {value!r}"
    if not isinstance(value, str) or not value.strip():
        raise fail(field, example)
    ids: Set[int] = set()
    for part in value.split(","):
        low, dash, high = part.strip().partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            raise fail(field, example)
        first, last = int(low), int(high) if dash else int(low)
        if last < first or last >= limit:
            raise fail(field, f"bad range {part.strip()!r} in {value!r} ({what}s are 0 to {limit - 1})")
        ids.update(range(first, last + 1))
    return tuple(sorted(ids))


def format(ids: Tuple[int, ...]) -> str:
    """``(0, 1, 2, 3, 7)`` -> ``"0-3,7"``."""
    parts = []
    start = prev = ids[0]
    for i in (*ids[1:], -1):
        if i == prev + 1:
            prev = i
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = i
    return ",".join(parts)


def bitmask(ids: Iterable[int], bits: int) -> bytes:
    """An array of native unsigned longs with the bits of ``ids`` set (a
    cpu_set_t, a nodemask) holding ``bits`` bits."""
    width = struct.calcsize("L") * 8
    longs = [0] * ((bits + width - 1) // width)
    for i in ids:
        longs[i // width] |= 1 << (i % width)
    return struct.pack(f"{len(longs)}L", *longs)
