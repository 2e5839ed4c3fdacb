"""Rlimit: a resource limit of the container's process."""

from __future__ import annotations

import resource
from typing import Any

import attrs

from ._fields import fail

#: Limit names ("nofile" or "RLIMIT_NOFILE") -> resource numbers.
RLIMITS = {
    name[len("RLIMIT_") :].lower(): getattr(resource, name) for name in dir(resource) if name.startswith("RLIMIT_")
}
INFINITY = resource.RLIM_INFINITY


def _kind(value: Any) -> str:
    if not isinstance(value, str):
        raise fail("rlimit.type", f"expected a limit name like 'nofile', got {value!r}")
    name = value.lower()
    if name.startswith("rlimit_"):
        name = name[len("rlimit_") :]
    if name not in RLIMITS:
        raise fail("rlimit.type", f"unknown limit {value!r} (known: {', '.join(sorted(RLIMITS))})")
    return name


def _amount(field: str, value: Any) -> int:
    if value is None or value == INFINITY:
        return INFINITY
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise fail(field, f"expected a non-negative int or None (unlimited), got {value!r}")
    return value


def _finite(amount: int) -> float:
    return float("inf") if amount == INFINITY else amount


def _to_soft(value: Any) -> int:
    return _amount("rlimit.soft", value)


def _to_hard(value: Any) -> int:
    return _amount("rlimit.hard", value)


@attrs.frozen
class Rlimit:
    """``Rlimit("nofile", soft=1024, hard=1024)``; the hard limit defaults to
    the soft one; None means unlimited (``INFINITY``).

    Raising a hard limit above the caller's needs CAP_SYS_RESOURCE; without
    it the container's start fails with an error naming the limit.
    """

    type: str = attrs.field(converter=_kind)
    soft: int = attrs.field(converter=_to_soft)
    hard: int = attrs.field(default=attrs.Factory(lambda self: self.soft, takes_self=True), converter=_to_hard)

    def __attrs_post_init__(self) -> None:
        if _finite(self.soft) > _finite(self.hard):
            raise fail("rlimit.soft", f"{self.type}: soft limit {self.soft} is above the hard limit {self.hard}")

    @property
    def resource(self) -> int:
        """The RLIMIT_* number of ``type``."""
        return int(RLIMITS[self.type])
