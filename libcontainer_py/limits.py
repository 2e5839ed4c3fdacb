"""Rlimit: a resource limit of the container's process."""

from __future__ import annotations

import resource
from typing import TYPE_CHECKING, Any

import attrs

from ._fields import FieldCheck, fail, named_fields

#: Limit names ("nofile" or "RLIMIT_NOFILE") -> resource numbers.
RLIMITS = {
    name[len("RLIMIT_") :].lower(): getattr(resource, name) for name in dir(resource) if name.startswith("RLIMIT_")
}
INFINITY = resource.RLIM_INFINITY


def _kind(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise fail(field, f"expected a limit name like 'nofile', got {value!r}")
    name = value.lower()
    if name.startswith("rlimit_"):
        name = name[len("rlimit_") :]
    if name not in RLIMITS:
        raise fail(field, f"unknown limit {value!r} (known: {', '.join(sorted(RLIMITS))})")
    return name


def _amount(field: str, value: Any) -> int:
    if value is None or value == INFINITY:
        return INFINITY
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise fail(field, f"expected a non-negative int or None (unlimited), got {value!r}")
    return value


def _finite(amount: int) -> float:
    return float("inf") if amount == INFINITY else amount


if TYPE_CHECKING:  # see _fields: what mypy's attrs plugin reads

    def _kind_field(value: Any) -> str: ...
    def _amount_field(value: Any) -> int: ...

else:
    _kind_field = FieldCheck(_kind)
    _amount_field = FieldCheck(_amount)


@attrs.frozen(field_transformer=named_fields("rlimit"))
class Rlimit:
    """``Rlimit("nofile", soft=1024, hard=1024)``; the hard limit defaults to
    the soft one; None means unlimited (``INFINITY``).

    Raising a hard limit above the caller's needs CAP_SYS_RESOURCE; without
    it the container's start fails with an error naming the limit.
    """

    type: str = attrs.field(converter=_kind_field)
    soft: int = attrs.field(converter=_amount_field)
    hard: int = attrs.field(default=attrs.Factory(lambda self: self.soft, takes_self=True), converter=_amount_field)

    def __attrs_post_init__(self) -> None:
        if _finite(self.soft) > _finite(self.hard):
            raise fail("rlimit.soft", f"{self.type}: soft limit {self.soft} is above the hard limit {self.hard}")

    @property
    def resource(self) -> int:
        """The RLIMIT_* number of ``type``."""
        return int(RLIMITS[self.type])
