"""Sphinx configuration: the Markdown pages of docs/ as they are (MyST), built
with ``tox -e docs`` (warnings are errors).  A minimal start: no theme, no
API reference yet; the pages link to each other as they do on the forge."""

from __future__ import annotations

import re
from typing import Any, List

project = "libcontainer_py"
extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "conf.py"]
# GitHub's anchors for headings, which the pages' links use.
myst_heading_anchors = 4
# The pages are reached through index.md's links, not a toctree (a toctree
# block would show as code where the pages are read on the forge).
suppress_warnings = ["toc.not_included"]

#: Where files outside docs/ (examples, benchmarks, the README) are read.
REPOSITORY = "https://github.com/libcontainer-py/libcontainer_py/blob/main/"


def _outside_links(_app: Any, _docname: str, source: List[str]) -> None:
    """``](../examples/x.py)`` -> a link to the file in the repository."""
    source[0] = re.sub(r"\]\(\.\./([^)]+)\)", lambda m: f"]({REPOSITORY}{m.group(1)})", source[0])


def setup(app: Any) -> None:
    app.connect("source-read", _outside_links)
