"""Sphinx configuration: the Markdown pages of docs/ as they are (MyST) and
the API reference (api.md) from the docstrings (autodoc), built with
``tox -e docs`` (warnings are errors).  The pages link to each other as they
do on the forge."""

from __future__ import annotations

import re
from typing import Any, List

project = "libcontainer_py"
extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.intersphinx"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "conf.py", "notebooks", ".ipynb_checkpoints"]
# GitHub's anchors for headings, which the pages' links use.
myst_heading_anchors = 4
# The pages are reached through index.md's links, not a toctree (a toctree
# block would show as code where the pages are read on the forge).
suppress_warnings = ["toc.not_included"]

# The reference: signatures as written in the source (string annotations
# stay strings, so no type has to resolve), members in source order.
autodoc_typehints = "signature"
autodoc_member_order = "bysource"
autodoc_preserve_defaults = True
autodoc_type_aliases: dict = {}
autodoc_default_options = {"exclude-members": "__init__, __new__"}
# Types named in signatures that are not documented here (attrs, typing,
# the stdlib) are not cross-referenced: nothing to resolve, nothing to warn.
nitpicky = False
intersphinx_mapping: dict = {}

#: Where files outside docs/ (examples, benchmarks, the README) are read.
REPOSITORY = "https://github.com/libcontainer-py/libcontainer_py/blob/main/"


def _outside_links(_app: Any, _docname: str, source: List[str]) -> None:
    """``](../examples/x.py)`` and ``](notebooks/x.ipynb)`` -> a link to the file in the repository."""
    source[0] = re.sub(r"\]\(\.\./([^)]+)\)", lambda m: f"]({REPOSITORY}{m.group(1)})", source[0])
    source[0] = re.sub(r"\]\((notebooks/[^)]*)\)", lambda m: f"]({REPOSITORY}docs/{m.group(1)})", source[0])


def _reference_links(_app: Any, _docname: str, source: List[str]) -> None:
    """``](api.md#libcontainer_py.X)`` (the page on the forge) -> ``](#libcontainer_py.X)``,
    which Sphinx resolves to the object's entry (a missing one is a warning)."""
    source[0] = source[0].replace("](api.md#libcontainer_py.", "](#libcontainer_py.")


def setup(app: Any) -> None:
    app.connect("source-read", _outside_links)
    app.connect("source-read", _reference_links)
