"""Converters and validators shared by the config classes (attrs idioms)."""

from __future__ import annotations

import os
import posixpath
from typing import Any, Iterable, Mapping, Tuple, Type, TypeVar

from .errors import ConfigError

T = TypeVar("T")


def fail(field: str, message: str) -> ConfigError:
    return ConfigError(field, message)


def text(field: str, value: Any, *, allow_empty: bool = False) -> str:
    """A str without NUL bytes (os.PathLike accepted)."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, bytes):
        raise fail(field, f"expected str, got bytes {value!r}")
    if not isinstance(value, str):
        raise fail(field, f"expected str, got {type(value).__name__} {value!r}")
    if "\0" in value:
        raise fail(field, f"contains a NUL byte: {value!r}")
    if not value and not allow_empty:
        raise fail(field, "must not be empty")
    return value


def absolute_path(field: str, value: Any) -> str:
    """An absolute, normalised path with no '..' component."""
    path = text(field, value)
    if not path.startswith("/"):
        raise fail(field, f"must be an absolute path, got {path!r}")
    if ".." in path.split("/"):
        raise fail(field, f"must not contain '..', got {path!r}")
    return posixpath.normpath(path).replace("//", "/")


def uint32(field: str, value: Any, *, maximum: int = 2**32 - 2) -> int:
    """A non-negative integer id (uid, gid, count) that fits the kernel's types."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(field, f"expected int, got {type(value).__name__} {value!r}")
    if not 0 <= value <= maximum:
        raise fail(field, f"must be between 0 and {maximum}, got {value}")
    return value


def boolean(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise fail(field, f"expected bool, got {type(value).__name__} {value!r}")
    return value


def str_tuple(field: str, values: Any, *, allow_empty_items: bool = False) -> Tuple[str, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise fail(field, f"expected a sequence of str, got {type(values).__name__} {values!r}")
    return tuple(text(f"{field}[{i}]", v, allow_empty=allow_empty_items) for i, v in enumerate(values))


def freeze_mapping(field: str, value: Any) -> Mapping[str, str]:
    """A read-only copy of a str -> str mapping (environment, annotations)."""
    from types import MappingProxyType

    if not isinstance(value, Mapping):
        raise fail(field, f"expected a mapping, got {type(value).__name__} {value!r}")
    out = {}
    for key, val in value.items():
        k = text(f"{field} key", key)
        if "=" in k:
            raise fail(field, f"key {k!r} must not contain '='")
        out[k] = text(f"{field}[{k!r}]", val, allow_empty=True)
    return MappingProxyType(out)


def instance_tuple(field: str, value: Any, cls: Type[T]) -> Tuple[T, ...]:
    """A tuple of ``cls`` instances from any iterable (not a str, nor one
    instance alone), each checked, the error naming ``field[i]``."""
    if isinstance(value, (str, bytes, cls)) or not isinstance(value, Iterable):
        raise fail(field, f"expected a sequence of {cls.__name__}, got {value!r}")
    items = tuple(value)
    for i, item in enumerate(items):
        if not isinstance(item, cls):
            raise fail(f"{field}[{i}]", f"expected {cls.__name__}, got {type(item).__name__} {item!r}")
    return items
