"""Where execve looks for a program (light: the command line's exec uses it)."""

from __future__ import annotations

import os

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from typing import Tuple

#: The PATH of a process whose environment has none (and Process's default).
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def exec_candidates(program: str, path: str) -> Tuple[str, ...]:
    """The paths execve tries, in order, like execvpe."""
    if "/" in program:
        return (program,)
    return tuple(os.path.join(d or ".", program) for d in path.split(":"))
