"""The box directory: a size-capped tmpfs, mounted on the host for the
sandbox's lifetime and bound into each run at /box.

Files in it are written by untrusted code: the host reaches them only
through ``open_beneath`` (no symlink is followed, nothing outside the box
is reached).
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
import tempfile
from typing import Optional

from .errors import SandboxError

_libc = ctypes.CDLL(None, use_errno=True)
_MS_NOSUID, _MS_NODEV = 0x2, 0x4
_MNT_DETACH = 0x2


def _check(ret: int, what: str, path: str) -> None:
    if ret < 0:
        err = ctypes.get_errno()
        raise SandboxError(f"{what} {path}: {os.strerror(err)}") from OSError(err, os.strerror(err), path)


class BoxDir:
    """A tmpfs of ``size`` bytes owned by ``uid``:``gid``, at a fresh
    temporary directory of the host; ``close()`` unmounts and removes it."""

    def __init__(self, size: int, uid: int, gid: int) -> None:
        self.path = tempfile.mkdtemp(prefix="lc-sandbox-")
        self.uid, self.gid, self.size = uid, gid, size
        data = f"size={size},mode=0755,uid={uid},gid={gid}".encode()
        try:
            ret = _libc.mount(b"sandbox", self.path.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, data)
            _check(ret, "mount a tmpfs on", self.path)
        except BaseException:
            os.rmdir(self.path)
            raise
        self.fd: Optional[int] = os.open(self.path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        self.dev = os.fstat(self.fd).st_dev

    def close(self) -> None:
        """Unmount (lazily: a run that still holds it keeps it alive) and remove; idempotent."""
        if self.fd is None:
            return
        os.close(self.fd)
        self.fd = None
        _check(_libc.umount2(self.path.encode(), _MNT_DETACH), "unmount", self.path)
        os.rmdir(self.path)

    def full(self) -> bool:
        """No free block left (the tmpfs reached its size)."""
        st = os.statvfs(self.path)
        return st.f_bavail == 0 or st.f_favail == 0

    def open_beneath(self, name: str, flags: int, mode: int = 0o644, *, make_dirs: bool = False) -> int:
        """Open ``name`` (relative, '/'-separated) inside the box without
        following any symlink; SandboxError for a name that leaves the box."""
        if self.fd is None:
            raise SandboxError("the sandbox is closed")
        parts = _parts(name)
        dirfd = os.open(".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=self.fd)
        try:
            for part in parts[:-1]:
                dirfd = self._step(dirfd, part, make_dirs)
            try:
                fd = os.open(parts[-1], flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dirfd)
            except OSError as exc:
                raise _path_error(name, exc) from exc
        finally:
            os.close(dirfd)
        st = os.fstat(fd)
        if st.st_dev != self.dev or not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise SandboxError(f"{name!r} is not a regular file of the box")
        return fd

    def _step(self, dirfd: int, part: str, make: bool) -> int:
        if make:
            try:
                os.mkdir(part, 0o755, dir_fd=dirfd)
                os.chown(part, self.uid, self.gid, dir_fd=dirfd, follow_symlinks=False)
            except FileExistsError:
                pass
        try:
            nxt = os.open(part, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dirfd)
        except OSError as exc:
            raise _path_error(part, exc) from exc
        finally:
            os.close(dirfd)
        if os.fstat(nxt).st_dev != self.dev:
            os.close(nxt)
            raise SandboxError(f"{part!r} leaves the box")
        return nxt


def _parts(name: str) -> list[str]:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not isinstance(name, str) or not parts or ".." in parts or name.startswith("/") or "\0" in name:
        raise SandboxError(f"expected a relative path inside the box without '..', got {name!r}")
    return parts


def _path_error(name: str, exc: OSError) -> SandboxError:
    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
        return SandboxError(f"{name!r} is a symlink or not a directory: the box's paths are not followed")
    return SandboxError(f"{name!r}: {exc.strerror}")
