"""A coroutine function that takes another function's parameters.

``run_async`` takes exactly what ``run`` does: the keyword list is written
once, on run.  Callers and mypy see run's parameters (ParamSpec); help(),
``inspect.signature`` and Sphinx show them (through ``__wrapped__``); the
coroutine's body receives them bound, defaults filled in, as attributes of
one namespace.
"""

from __future__ import annotations

import functools
import inspect
import types
from typing import TYPE_CHECKING, Any, Callable, Coroutine, TypeVar

if TYPE_CHECKING:
    from typing import ParamSpec  # Python 3.10; the type checker's only

    P = ParamSpec("P")

R = TypeVar("R")


def parameters_of(
    model: Callable[P, object],
) -> Callable[[Callable[[Any], Coroutine[Any, Any, R]]], Callable[P, Coroutine[Any, Any, R]]]:
    """Decorate ``async def body(given)``: the result takes ``model``'s
    arguments (a TypeError when they do not fit, as ``model`` would raise)
    and awaits ``body`` with them as attributes of ``given``."""
    signature = inspect.signature(model)

    def decorate(body: Callable[[Any], Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        @functools.wraps(body)
        async def call(*args: P.args, **kwargs: P.kwargs) -> R:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            return await body(types.SimpleNamespace(**bound.arguments))

        call.__wrapped__ = model  # type: ignore[assignment]  # what help() and Sphinx show
        return call

    return decorate
