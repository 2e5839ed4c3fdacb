"""The export lists are the packages' TYPE_CHECKING imports, read as text:
the reading agrees with Python's own parser, and every name resolves."""

from __future__ import annotations

import ast
import importlib
from typing import Dict, Tuple

import pytest

import libcontainer_py as lc
from libcontainer_py import _exports, cgroups

PACKAGES = [lc, cgroups]


def parsed_exports(source: str) -> Dict[str, Tuple[str, str]]:
    """What read_exports should give, by ast."""
    tree = ast.parse(source)
    block = next(node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING")
    out: Dict[str, Tuple[str, str]] = {}
    for node in block.body:
        if isinstance(node, ast.ImportFrom) and node.level:
            module = "." * node.level + (node.module or "")
            for alias in node.names:
                if node.module is None:
                    out[alias.asname or alias.name] = ("." + alias.name, "")
                else:
                    out[alias.asname or alias.name] = (module, alias.name)
    return out


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.__name__)
def test_the_text_reading_agrees_with_the_parser(package: object) -> None:
    with open(package.__file__, encoding="utf-8") as f:  # type: ignore[attr-defined]
        source = f.read()
    assert _exports.read_exports(source) == parsed_exports(source)


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.__name__)
def test_every_export_resolves_to_its_module_attribute(package: object) -> None:
    name = package.__name__  # type: ignore[attr-defined]
    for export, (module, attribute) in _exports.read_exports(open(package.__file__).read()).items():  # type: ignore[attr-defined]
        expected = importlib.import_module(module, name)
        if attribute:
            expected = getattr(expected, attribute)
        assert getattr(package, export) is expected, export
    assert sorted(package.__all__) == sorted(_exports.read_exports(open(package.__file__).read()))  # type: ignore[attr-defined]


def test_unknown_names_are_attribute_errors() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        lc.nothing_here  # noqa: B018
    assert "Config" in dir(lc) and "cgroups" in dir(lc) and "Stats" in dir(cgroups)


def test_reading_handles_parentheses_aliases_and_comments() -> None:
    source = (
        "x = 1\nif TYPE_CHECKING:\n    from typing import Any\n\n"
        "    from . import images as images\n"
        "    from .a import (\n        B as B,  # a comment\n        C as D,\n    )\n"
        "    from .e.f import G as G\n\ndef after(): pass\n"
    )
    assert _exports.read_exports(source) == {
        "images": (".images", ""),
        "B": (".a", "B"),
        "D": (".a", "C"),
        "G": (".e.f", "G"),
    }
