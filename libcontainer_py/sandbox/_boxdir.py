"""The box directory: a size-capped tmpfs, mounted on the host for the
sandbox's lifetime and bound into each run at /box.

It is mounted at ``<state root>/.sandboxes/<owner>.<random>/box``, where
``<owner>`` is the creating process's pid and start time: a box whose owner
died without closing it is unmounted and removed by the next ``BoxDir``
(as ``_owners`` reclaims the cgroups of dead owners).

Files in it are written by untrusted code: the host reaches them only
through ``open_beneath`` (no symlink is followed, nothing outside the box
is reached).
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
from typing import List, Optional

from .._log import log
from .._owners import alive, me
from .._statedir import DEFAULT_ROOT
from .errors import SandboxError

_CLAIM = ".claim-"

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

    def __init__(self, size: int, uid: int, gid: int, *, root: str = DEFAULT_ROOT) -> None:
        boxes = os.path.join(root, ".sandboxes")
        reclaim(boxes)
        os.makedirs(boxes, mode=0o700, exist_ok=True)
        self._record = os.path.join(boxes, f"{me()}.{os.urandom(5).hex()}")
        self.path = os.path.join(self._record, "box")
        self.uid, self.gid, self.size = uid, gid, size
        data = f"size={size},mode=0755,uid={uid},gid={gid}".encode()
        os.mkdir(self._record, 0o711)
        os.mkdir(self.path, 0o700)
        try:
            ret = _libc.mount(b"sandbox", self.path.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, data)
            _check(ret, "mount a tmpfs on", self.path)
        except BaseException:
            os.rmdir(self.path)
            os.rmdir(self._record)
            raise
        self.fd: Optional[int] = os.open(self.path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        self.dev = os.fstat(self.fd).st_dev

    def close(self) -> None:
        """Unmount (lazily: a run that still holds it keeps it alive) and remove; idempotent."""
        if self.fd is None:
            return
        os.close(self.fd)
        self.fd = None
        _remove(self._record)

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


def _remove(record: str) -> None:
    box = os.path.join(record, "box")
    _check(_libc.umount2(box.encode(), _MNT_DETACH), "unmount", box)
    os.rmdir(box)
    os.rmdir(record)


def reclaim(boxes: str) -> List[str]:
    """Unmount and remove the boxes of owners that are gone; returns their paths."""
    try:
        names = os.listdir(boxes)
    except FileNotFoundError:
        return []
    gone = []
    for name in names:
        if name.startswith(_CLAIM) or alive(name.partition(".")[0]):
            continue
        claim = os.path.join(boxes, f"{_CLAIM}{name}")
        try:
            os.rename(os.path.join(boxes, name), claim)  # one reclaimer wins
        except FileNotFoundError:
            continue
        log.warning("sandbox box %s: its owner is gone, removing it", name)
        try:
            _remove(claim)
        except (OSError, SandboxError) as exc:
            log.warning("sandbox box %s: cannot remove it: %s", name, exc)
            continue
        gone.append(os.path.join(boxes, name))
    return gone


def _parts(name: str) -> list[str]:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not isinstance(name, str) or not parts or ".." in parts or name.startswith("/") or "\0" in name:
        raise SandboxError(f"expected a relative path inside the box without '..', got {name!r}")
    return parts


def _path_error(name: str, exc: OSError) -> SandboxError:
    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
        return SandboxError(f"{name!r} is a symlink or not a directory: the box's paths are not followed")
    return SandboxError(f"{name!r}: {exc.strerror}")
