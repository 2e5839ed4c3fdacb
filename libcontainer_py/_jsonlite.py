"""JSON for the command line's light commands, without the json package.

``import json`` costs ~8 ms in a fresh interpreter (json imports re, re
imports enum), more than the rest of ``state`` or ``start`` put together.
CPython's ``_json`` accelerator (see _shortcuts.py) parses and escapes without them: ``loads``
uses its scanner and ``dumps`` its string encoder, and both give what
``json.loads`` / ``json.dumps`` give (tests/unit/test_jsonlite.py checks
that on generated documents).  Anything the fast path does not take (an
interpreter without ``_json``, a malformed document, a type other than the
JSON ones) goes to the json package, so its errors are json's own.
"""

from __future__ import annotations

from ._shortcuts import json_accelerator as _json

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from typing import Any, Callable, List, Optional

_WHITESPACE = " \t\n\r"  # json's whitespace, which loads() allows around a document


def _constant(name: str) -> float:
    return float(name)  # NaN, Infinity, -Infinity: what json.loads gives for them


class _Decoder:
    """The attributes of json.JSONDecoder that _json's scanner reads."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_constant)


_scan: Optional[Callable[[str, int], Any]] = None if _json is None else _json.make_scanner(_Decoder())
_encode_str: Callable[[str], str] = (lambda s: s) if _json is None else _json.encode_basestring_ascii


def loads(text: str) -> Any:
    """``json.loads(text)`` for a str."""
    if _scan is not None:
        doc = text.strip(_WHITESPACE)
        try:
            value, end = _scan(doc, 0)
        except (StopIteration, ValueError, SystemError):
            # json.loads raises its error with its message (the scanner
            # needs json.decoder imported to raise one: without, SystemError)
            pass
        else:
            if end == len(doc):
                return value
    import json

    return json.loads(text)


def dumps(value: Any, indent: Optional[int] = None, compact: bool = False) -> str:
    """``json.dumps(value, indent=indent)``, or with ``compact``
    ``json.dumps(value, separators=(",", ":"))``: for None, bools, ints,
    floats, strs, lists, tuples and dicts with str keys."""
    if _json is not None:
        out: List[str] = []
        item_sep = "," if compact or indent is not None else ", "
        key_sep = ":" if compact else ": "
        try:
            _write(value, out, indent, 0, item_sep, key_sep)
        except _Unsupported:
            pass  # json coerces some keys and raises its TypeError for the rest
        else:
            return "".join(out)
    import json

    return json.dumps(value, indent=indent, separators=(",", ":") if compact else None)


def sorted_keys(value: Any) -> Any:
    """``value`` with every object's keys in order: ``dumps(sorted_keys(v))``
    is ``json.dumps(v, sort_keys=True)``."""
    if isinstance(value, dict):
        return {k: sorted_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [sorted_keys(v) for v in value]
    return value


class _Unsupported(Exception):
    """A value the fast writer leaves to json."""


def _write(value: Any, out: List[str], indent: Optional[int], depth: int, item_sep: str, key_sep: str) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_encode_str(value))
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        out.append(_float(value))
    elif isinstance(value, (list, tuple)):
        _write_items(value, out, indent, depth, item_sep, key_sep, "[", "]")
    elif isinstance(value, dict):
        _write_items(value, out, indent, depth, item_sep, key_sep, "{", "}")
    else:
        raise _Unsupported


def _float(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


def _write_items(
    items: Any, out: List[str], indent: Optional[int], depth: int, item_sep: str, key_sep: str, open_: str, close: str
) -> None:
    if not items:
        out.append(open_ + close)
        return
    newline = "" if indent is None else "\n" + " " * (indent * (depth + 1))
    out.append(open_)
    first = True
    for item in items:
        if not first:
            out.append(item_sep)
        out.append(newline)
        first = False
        if open_ == "{":
            if not isinstance(item, str):
                raise _Unsupported
            out.append(_encode_str(item))
            out.append(key_sep)
            _write(items[item], out, indent, depth + 1, item_sep, key_sep)
        else:
            _write(item, out, indent, depth + 1, item_sep, key_sep)
    if indent is not None:
        out.append("\n" + " " * (indent * depth))
    out.append(close)
