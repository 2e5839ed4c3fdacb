"""The box directory's files as put() and get() reach them.

As root the box is a tmpfs mounted on the host (``_boxdir.BoxDir``) and
bound into the box: this process opens its files itself.  A rootless box
mounts its tmpfs in its own mount namespace, owned by the box's ids,
which the user's process cannot write: the box's server opens the files
(serve_files.c: the same walk, no symlink followed) and hands the fds over.
"""

from __future__ import annotations

import errno
import os
from typing import Optional, Protocol, Tuple

from ._boxdir import BoxDir, _parts, _path_error
from ._server import BoxServer
from .errors import SandboxError

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC


class BoxFiles(Protocol):
    def create(self, name: str, mode: int) -> int:
        """``name`` created (or truncated) for writing, owned by the box's user, with ``mode``."""

    def open_read(self, name: str) -> int: ...

    def full(self) -> bool:
        """No free block left (the tmpfs reached its size)."""

    @property
    def path(self) -> str: ...

    def close(self) -> None: ...


class HostFiles:
    """The box on the host (root)."""

    def __init__(self, box: BoxDir) -> None:
        self.box = box

    @property
    def path(self) -> str:
        return self.box.path

    def create(self, name: str, mode: int) -> int:
        fd = self.box.open_beneath(name, _CREATE, mode, make_dirs=True)
        try:
            os.fchown(fd, self.box.uid, self.box.gid)
            os.fchmod(fd, mode)
        except OSError as exc:
            os.close(fd)
            raise SandboxError(f"cannot write {name!r} into the box: {exc.strerror}") from exc
        return fd

    def open_read(self, name: str) -> int:
        return self.box.open_beneath(name, os.O_RDONLY)

    def full(self) -> bool:
        return self.box.full()

    def close(self) -> None:
        self.box.close()


class ServedFiles:
    """The box in its own mount namespace (rootless), through its server."""

    def __init__(self, server: BoxServer, owner: Tuple[int, int]) -> None:
        self.server, self.owner = server, owner
        self._dir: Optional[int] = self._open(".", os.O_PATH, 0, False)

    @property
    def path(self) -> str:
        raise SandboxError("a rootless box is mounted in its own mount namespace only: use get() and put()")

    def _open(self, name: str, flags: int, mode: int, make_dirs: bool) -> int:
        path = "." if name == "." else "/".join(_parts(name))
        try:
            return self.server.open(path, flags, mode, self.owner, make_dirs)
        except OSError as exc:
            if exc.errno == errno.EINVAL:
                raise SandboxError(f"{name!r} is not a regular file of the box") from exc
            raise _path_error(name, exc) from exc

    def create(self, name: str, mode: int) -> int:
        return self._open(name, _CREATE, mode, True)

    def open_read(self, name: str) -> int:
        return self._open(name, os.O_RDONLY, 0, False)

    def full(self) -> bool:
        if self._dir is None:
            raise SandboxError("the sandbox is closed")
        st = os.fstatvfs(self._dir)
        return st.f_bavail == 0 or st.f_favail == 0

    def close(self) -> None:
        fd, self._dir = self._dir, None
        if fd is not None:
            os.close(fd)
