"""The API reference covers the public API, every public callable says what
it does (and, where it touches the host, what it raises and what a failure
leaves), and nothing a user reads or runs imports from tests/."""

from __future__ import annotations

import glob
import inspect
import os
import re
from typing import Any, Iterator, List, Tuple

import pytest

import libcontainer_py as lc
from libcontainer_py import images

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def public_callables() -> Iterator[Tuple[str, Any]]:
    """(name, function) of every public name of ``lc.__all__`` and of every
    public method or property of its classes (exceptions: their own only)."""
    for name in lc.__all__:
        obj = getattr(lc, name)
        if inspect.ismodule(obj) or not callable(obj):
            continue
        yield name, obj
        if not inspect.isclass(obj) or issubclass(obj, BaseException):
            continue
        for klass in obj.__mro__:
            if not klass.__module__.startswith("libcontainer_py"):
                continue
            for attr, value in vars(klass).items():
                function = value.fget if isinstance(value, property) else getattr(value, "__func__", value)
                if not attr.startswith("_") and callable(function):
                    yield f"{name}.{attr}", function


def test_every_public_callable_has_a_docstring() -> None:
    missing = [name for name, obj in public_callables() if not (inspect.getdoc(obj) or "").strip()]
    assert missing == []


# The calls that make or change things on the host: their docstrings name
# what they raise and what a failure leaves behind.
HOST_CALLS = [
    lc.run,
    lc.ContainerProcess,
    lc.Container.create,
    lc.Container.start,
    lc.Container.exec,
    lc.Container.destroy,
    lc.Container.delete,
    lc.Container.update,
    lc.Container.pause,
    images.ImageStore.import_archive,
]


@pytest.mark.parametrize("call", HOST_CALLS, ids=lambda c: c.__qualname__)
def test_host_calls_say_what_they_raise_and_leave(call: Any) -> None:
    doc = inspect.getdoc(call) or ""
    assert re.search(r"\b[A-Z][A-Za-z]*(Error|Exists|NotFound)\b", doc), doc
    assert re.search(r"\b(raises?|Raises)\b|StateError|ConfigError", doc), doc
    assert re.search(r"nothing|no partial|leaves no|left", doc), doc


def test_the_reference_lists_every_public_name() -> None:
    with open(os.path.join(ROOT, "docs", "api.md")) as f:
        text = f.read()
    listed = set(re.findall(r"^\.\. auto\w+:: libcontainer_py\.(\w+)$", text, flags=re.M))
    assert set(lc.__all__) - {"images"} <= listed
    assert ".. automodule:: libcontainer_py.images" in text


def reader_files() -> List[str]:
    patterns = ["examples/*.py", "docs/*.md", "docs/notebooks/*.ipynb", "README.md"]
    return sorted(p for pattern in patterns for p in glob.glob(os.path.join(ROOT, pattern)))


@pytest.mark.parametrize("path", reader_files(), ids=lambda p: os.path.relpath(p, ROOT))
def test_nothing_a_reader_runs_imports_from_tests(path: str) -> None:
    with open(path) as f:
        text = f.read()
    assert not re.search(r"from support[. ]|import support|sys\.path\.insert\([^)]*tests", text)
