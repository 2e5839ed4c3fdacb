"""The file system seam: every cgroup read, write, mkdir and rmdir goes through a CgroupFS.

The real one is ``_ops.RealFS`` (the command line's light path uses it
without this module); unit tests replace it with a dict-backed fake.
"""

from __future__ import annotations

from typing import List, Protocol

from .errors import CgroupError

__all__ = ["CgroupFS", "is_errno"]


class CgroupFS(Protocol):
    """What a manager needs from the file system."""

    def read(self, path: str) -> str: ...

    def write(self, path: str, value: str) -> None: ...

    def exists(self, path: str) -> bool: ...

    def mkdir(self, path: str) -> None: ...

    def rmdir(self, path: str) -> None: ...

    def subdirs(self, path: str) -> List[str]: ...


def is_errno(err: CgroupError, *codes: int) -> bool:
    return err.errno in codes
