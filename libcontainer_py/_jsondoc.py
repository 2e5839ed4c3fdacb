"""Strict readers of a parsed JSON document (an OCI config.json, a seccomp
profile): each error names its JSON path."""

from __future__ import annotations

import contextlib
import warnings
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

from .errors import ConfigError, wrong_type

#: The largest uint64, how OCI writes "unlimited" rlimits.
UINT64_MAX = 2**64 - 1


class DocumentError(ConfigError):
    """A ConfigError whose ``field`` is already a JSON path of the document."""


def fail(path: str, message: str) -> ConfigError:
    return DocumentError(path, message)


class OciWarning(UserWarning):
    """Something of the document is ignored or read differently than
    written: an unknown property, a setting the kernel no longer has (see
    the docs)."""


def warn(message: str) -> None:
    """An OciWarning for whoever reads the document."""
    warnings.warn(message, OciWarning, stacklevel=3)


def obj(path: str, value: Any, keys: Tuple[str, ...], required: Tuple[str, ...] = ()) -> Mapping[str, Any]:
    """An object of the properties ``keys``.  Unknown properties are
    ignored, as the spec requires, with one OciWarning naming them by their
    JSON paths (``linux.resources.memory.bogus``); the object returned has
    only the known ones."""
    if not isinstance(value, Mapping):
        raise fail(path, wrong_type("an object", value))
    unknown = [key for key in value if key not in keys]
    if unknown:
        names = ", ".join(f"{path}.{key}" if path else str(key) for key in unknown)
        warn(f"unknown {'property' if len(unknown) == 1 else 'properties'} ignored: {names}")
        value = {key: v for key, v in value.items() if key in keys}
    for key in required:
        if key not in value:
            raise fail(f"{path}.{key}" if path else key, "is required")
    known: Mapping[str, Any] = value
    return known


def array(path: str, value: Any) -> List[Any]:
    if not isinstance(value, list):
        raise fail(path, wrong_type("a list", value))
    return value


def string(path: str, value: Any) -> str:
    if not isinstance(value, str):
        raise fail(path, wrong_type("a string", value))
    return value


def strings(path: str, value: Any) -> List[str]:
    return [string(f"{path}[{i}]", v) for i, v in enumerate(array(path, value))]


def boolean(path: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise fail(path, wrong_type("true or false", value))
    return value


def integer(path: str, value: Any, lo: Optional[int] = None, hi: Optional[int] = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(path, wrong_type("an integer", value))
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise fail(path, f"must be between {lo} and {hi}, got {value}")
    return value


def string_map(path: str, value: Any) -> Dict[str, str]:
    if not isinstance(value, Mapping):
        raise fail(path, wrong_type("an object of strings", value))
    return {string(f"{path} key", k): string(f"{path}[{k!r}]", v) for k, v in value.items()}


@contextlib.contextmanager
def at(path: str) -> Iterator[None]:
    """Re-raise a ConfigError of the config classes under the JSON path
    ``path``, keeping the class's own field name in the message."""
    try:
        yield
    except DocumentError:
        raise
    except ConfigError as exc:
        raise DocumentError(path, f"{exc.field}: {exc.message}") from exc
