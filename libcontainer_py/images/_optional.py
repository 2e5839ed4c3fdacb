"""Optional dependencies of the image code (urllib3, zstandard), imported when needed."""

from __future__ import annotations

import importlib
from typing import Any

from .errors import ImageError


def optional_module(name: str, missing: str) -> Any:
    """The module ``name``, or an ImageError saying ``missing`` (what needs it, how to install it)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        raise ImageError(missing) from None
