"""Unpickle what cloudpickle wrote without importing cloudpickle.

A function pickled by value (a lambda, a closure, code from ``__main__``)
is rebuilt by a handful of small functions of ``cloudpickle.cloudpickle``;
importing that module costs a fresh interpreter ~20-45 ms (it pulls in
dataclasses, inspect, logging, typing, uuid ...), most of a cold
``lc.call``.  ``loads`` resolves those few names to equivalents here and
everything else (dynamic classes, enums, ...) to the real module, imported
only then.  The caller vouches for the stream: it sets ``light`` only when
its cloudpickle version is one whose rebuilders these match
(``LIGHT_VERSIONS``, checked against cloudpickle by tests/unit/test_unpickle.py).

Imports only the standard library: it runs in the container's fresh
interpreter (see ``_callee``).
"""

from __future__ import annotations

import builtins
import sys
import types

from ._shortcuts import io, pickle  # their C halves: pickle.py imports re

TYPE_CHECKING = False  # not typing's: see _shortcuts.py

if TYPE_CHECKING:
    from typing import Any, Dict, Optional, Tuple

#: The cloudpickle releases (major, minor) whose rebuilders are mirrored here.
LIGHT_VERSIONS = frozenset({(3, 0), (3, 1)})

_MODULE = "cloudpickle.cloudpickle"


class _EmptyCell:
    """Stands for cloudpickle's ``_empty_cell_value`` sentinel."""


def _builtin_type(name: str) -> Any:
    return type if name == "ClassType" else getattr(types, name)


def _make_function(code: types.CodeType, globals_: Dict[str, Any], name: str, argdefs: Any, closure: Any) -> Any:
    globals_["__builtins__"] = builtins.__dict__
    return types.FunctionType(code, globals_, name, argdefs, closure)


def _make_empty_cell() -> types.CellType:
    return types.CellType()


def _make_cell(value: Any = _EmptyCell) -> types.CellType:
    return types.CellType() if value is _EmptyCell else types.CellType(value)


def _function_setstate(obj: Any, state: Tuple[Dict[str, Any], Dict[str, Any]]) -> None:
    attrs, slots = state
    obj.__dict__.update(attrs)
    new_globals = slots.pop("__globals__")
    closure = slots.pop("__closure__")
    slots.pop("_cloudpickle_submodules")  # only held the submodules alive while unpickling
    obj.__globals__.update(new_globals)
    obj.__globals__["__builtins__"] = builtins.__dict__
    if closure is not None:
        for mine, theirs in zip(obj.__closure__, closure):
            try:
                mine.cell_contents = theirs.cell_contents
            except ValueError:  # an empty cell stays empty
                continue
    for name, value in slots.items():
        setattr(obj, name, value)


def _subimport(name: str) -> types.ModuleType:
    __import__(name)
    return sys.modules[name]


def _dynamic_subimport(name: str, variables: Dict[str, Any]) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(variables)
    module.__dict__["__builtins__"] = builtins.__dict__
    return module


_REBUILDERS: Dict[str, Any] = {
    "_builtin_type": _builtin_type,
    "_make_function": _make_function,
    "_make_empty_cell": _make_empty_cell,
    "_make_cell": _make_cell,
    "_empty_cell_value": _EmptyCell,
    "_function_setstate": _function_setstate,
    "subimport": _subimport,
    "dynamic_subimport": _dynamic_subimport,
}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == _MODULE and name in _REBUILDERS:
            return _REBUILDERS[name]
        return super().find_class(module, name)


def loads(data: bytes, light: bool) -> Any:
    """``pickle.loads``, resolving cloudpickle's function rebuilders here when ``light``."""
    if not light:
        return pickle.loads(data)
    return _Unpickler(io.BytesIO(data)).load()


def light_for(version: Optional[str]) -> bool:
    """Whether a stream written by this cloudpickle ``version`` may be read lightly."""
    try:
        major, minor = (int(part) for part in (version or "").split(".")[:2])
    except ValueError:
        return False
    return (major, minor) in LIGHT_VERSIONS
