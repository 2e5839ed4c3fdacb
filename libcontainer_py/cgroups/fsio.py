"""The file system seam: every cgroup read, write, mkdir and rmdir goes through a CgroupFS.

Unit tests replace :class:`RealFS` with a dict-backed fake.
"""

from __future__ import annotations

import os
from typing import List, Protocol

from .errors import CgroupError


class CgroupFS(Protocol):
    """What a manager needs from the file system."""

    def read(self, path: str) -> str: ...

    def write(self, path: str, value: str) -> None: ...

    def exists(self, path: str) -> bool: ...

    def mkdir(self, path: str) -> None: ...

    def rmdir(self, path: str) -> None: ...

    def subdirs(self, path: str) -> List[str]: ...


class RealFS:
    """The real cgroup file systems.  Every OSError becomes a CgroupError naming
    the file and the value, with the OSError chained (``errno`` kept)."""

    def read(self, path: str) -> str:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as e:
            raise CgroupError("cannot open cgroup file", path=path, errno=e.errno) from e
        try:
            chunks = []
            while True:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
            return b"".join(chunks).decode()
        except OSError as e:
            raise CgroupError("cannot read cgroup file", path=path, errno=e.errno) from e
        finally:
            os.close(fd)

    def write(self, path: str, value: str) -> None:
        # One write(2) per value: cgroup files parse each write on its own.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        except OSError as e:
            raise CgroupError("cannot open cgroup file", path=path, value=value, errno=e.errno) from e
        try:
            data = value.encode()
            if os.write(fd, data) != len(data):
                raise CgroupError("short write to cgroup file", path=path, value=value)
        except OSError as e:
            raise CgroupError("cannot write cgroup file", path=path, value=value, errno=e.errno) from e
        finally:
            os.close(fd)

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def mkdir(self, path: str) -> None:
        try:
            os.mkdir(path, 0o755)
        except OSError as e:
            raise CgroupError("cannot create cgroup", path=path, errno=e.errno) from e

    def rmdir(self, path: str) -> None:
        try:
            os.rmdir(path)
        except OSError as e:
            raise CgroupError("cannot remove cgroup", path=path, errno=e.errno) from e

    def subdirs(self, path: str) -> List[str]:
        try:
            return sorted(e.name for e in os.scandir(path) if e.is_dir(follow_symlinks=False))
        except FileNotFoundError:
            return []
        except OSError as e:
            raise CgroupError("cannot list cgroup", path=path, errno=e.errno) from e


def is_errno(err: CgroupError, *codes: int) -> bool:
    return err.errno in codes
