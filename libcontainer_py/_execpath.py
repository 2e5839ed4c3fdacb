"""Where execve looks for a program (light: the command line's exec uses it)."""

from __future__ import annotations

import os

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from typing import Tuple


def exec_candidates(program: str, path: str) -> Tuple[str, ...]:
    """The paths execve tries, in order, like execvpe."""
    if "/" in program:
        return (program,)
    return tuple(os.path.join(d or ".", program) for d in path.split(":"))
