"""Short reprs for the config classes: the fields that differ from their defaults."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import attrs

_NO_DEFAULT = object()


def short_repr(obj: Any) -> str:
    """``Class(field=value, ...)`` with only the fields whose value is not
    the default (required fields always): ``repr(Config())`` is ``Config()``."""
    parts = []
    for field in attrs.fields(type(obj)):
        value = getattr(obj, field.name)
        if field.default is not attrs.NOTHING and value == _default(obj, field):
            continue
        parts.append(f"{field.name}={_value_repr(value)}")
    return f"{type(obj).__name__}({', '.join(parts)})"


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
