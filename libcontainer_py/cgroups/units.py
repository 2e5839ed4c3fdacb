"""Human byte sizes: "64M", "1g", "512k", 1048576, "max"."""

from __future__ import annotations

import re
from typing import Any, Optional

from .._fields import fail
from ..errors import wrong_type

#: Binary multiples, as docker and runc read them (k = 1024, m = 1024**2, ...).
_MULTIPLIERS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
# compiled (and cached by re) on first use: not by every start
_SIZE = r"(?i)^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?\s*$"

#: The largest value a cgroup byte limit can hold.
MAX_BYTES = 2**63 - 1

#: The value of a limit field that means "no limit" (written as "max" / -1).
UNLIMITED = -1


def parse_bytes(value: Any, field: str = "size") -> Optional[int]:
    """A byte count from an int or a human size; None for "max" (no limit).

    Suffixes are binary multiples, case-insensitive, with an optional ``b``/``ib``:
    ``"512k"`` = 524288, ``"64M"`` = ``"64MiB"`` = 67108864, ``"1.5G"`` = 1610612736.
    A fraction must come out as a whole number of bytes.  Raises ConfigError
    naming ``field`` for anything else (negative numbers, bools, junk).
    """
    if isinstance(value, bool):
        raise fail(field, f"expected a size like 64M or an int, got {value!r}")
    if isinstance(value, int):
        if not 0 <= value <= MAX_BYTES:
            raise fail(field, f"must be between 0 and {MAX_BYTES}, got {value}")
        return value
    if not isinstance(value, str):
        raise fail(field, wrong_type("a size like 64M or an int", value))
    if value.strip().lower() == "max":
        return None
    m = re.match(_SIZE, value)
    if m is None:
        raise fail(field, f"not a size (use a number with an optional k/M/G/T/P suffix, or 'max'): {value!r}")
    result: int
    number: str = m.group(1)
    suffix: str = m.group(2).lower()
    mult: int = _MULTIPLIERS[suffix]
    if "." in number:
        whole, frac = number.split(".")
        scaled: int = int(whole + frac) * mult
        div = 10 ** len(frac)
        if scaled % div:
            raise fail(field, f"{value!r} is not a whole number of bytes")
        result = scaled // div
    else:
        result = int(number) * mult
    if result > MAX_BYTES:
        raise fail(field, f"{value!r} is larger than {MAX_BYTES} bytes")
    return result


def format_page_size(size: int) -> str:
    """A huge page size the way the kernel names hugetlb files (2MB, 1GB, 64KB; mem_fmt())."""
    if size >= 1 << 30:
        return f"{size >> 30}GB"
    if size >= 1 << 20:
        return f"{size >> 20}MB"
    return f"{size >> 10}KB"
