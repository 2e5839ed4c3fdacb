"""Short reprs for the config classes: the fields that differ from their defaults."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, List, Tuple

import attrs

_NO_DEFAULT = object()


def short_repr(obj: Any) -> str:
    """``Class(field=value, ...)`` with only the fields whose value is not
    the default (required fields always): ``repr(Config())`` is ``Config()``."""
    parts = [f"{field.name}={_value_repr(value)}" for field, value in non_default_fields(obj)]
    return f"{type(obj).__name__}({', '.join(parts)})"


def non_default_fields(obj: Any) -> List[Tuple[Any, Any]]:
    """(attrs field, value) of ``obj``'s fields that are required or differ
    from their default, in declaration order."""
    out = []
    for field in attrs.fields(type(obj)):
        value = getattr(obj, field.name)
        if field.default is not attrs.NOTHING and value == _default(obj, field):
            continue
        out.append((field, value))
    return out


def _default(obj: Any, field: Any) -> Any:
    default = field.default
    try:
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            default = default.factory(obj) if default.takes_self else default.factory()
        return field.converter(default) if field.converter is not None else default
    except Exception:
        return _NO_DEFAULT


def _value_repr(value: Any) -> str:
    if isinstance(value, MappingProxyType):
        return repr(dict(value))
    return repr(value)
