"""Safe layer extraction: a layer tar (plain, gzip or zstd) into an empty
directory, as overlayfs expects it, with its digests checked.

Every entry is made relative to a directory fd opened with O_NOFOLLOW, one
component at a time, so nothing is ever followed out of the layer: a name
with ``..`` or a leading ``/`` is refused, a write through a symlink is
refused, a hard link must name an entry of the layer itself.  Whiteouts
become what overlayfs reads: ``.wh.NAME`` a character device 0:0 named NAME,
``.wh..wh..opq`` the xattr ``trusted.overlay.opaque=y`` on its directory.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import importlib
import io
import os
import re
import stat
import tarfile
from typing import Any, Callable, List, Optional, Protocol, Tuple, Type

from ._optional import optional_module
from .errors import DigestMismatchError, ImageError, UnsafeLayerError

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
#: What overlayfs reads with the ``userxattr`` option (kernel >= 5.11): the
#: opaque mark of a layer unpacked without root of the initial user namespace.
USER_OPAQUE_XATTR = "user.overlay.opaque"


def opaque_xattr() -> str:
    """The opaque xattr this process writes and reads: trusted.* needs
    CAP_SYS_ADMIN in the initial user namespace; others use user.*, and
    their overlay roots are mounted with ``userxattr``."""
    from .._statedir import _in_user_namespace

    return OPAQUE_XATTR if os.geteuid() == 0 and not _in_user_namespace() else USER_OPAQUE_XATTR


ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}\Z")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def check_digest(value: Any, what: str = "digest") -> str:
    """``value`` if it is a ``sha256:<64 hex>`` digest, else ImageError."""
    if not isinstance(value, str) or not _DIGEST.match(value):
        raise ImageError(f"{what}: expected sha256:<64 hex digits>, got {value!r}")
    return value


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class HashingReader(io.RawIOBase):
    """Reads through ``raw``, hashing and counting what passes."""

    def __init__(self, raw: Readable, on_read: Optional[Callable[[int], None]] = None, *, hashing: bool = True) -> None:
        self.raw = raw
        self.sha = hashlib.sha256()
        self.hashing = hashing
        self.count = 0
        self.on_read = on_read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self._passed(data)
        return n

    def _passed(self, data: bytes) -> None:
        if self.hashing:
            self.sha.update(data)
        self.count += len(data)
        if self.on_read is not None:
            self.on_read(self.count)

    def digest(self) -> str:
        return "sha256:" + self.sha.hexdigest()


def zstd_module() -> Any:
    """The ``zstandard`` module, or an ImageError saying how to install it."""
    missing = "this layer is zstd-compressed: install the 'zstandard' package (pip install 'libcontainer_py[zstd]')"
    return optional_module("zstandard", missing)


def decompressed(stream: io.BufferedReader[Any]) -> Readable:
    """``stream`` decompressed according to its magic bytes (gzip, zstd, or none)."""
    head = stream.peek(4)[:4]
    if head[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=stream, mode="rb")
    if head == ZSTD_MAGIC:
        reader: Readable = zstd_module().ZstdDecompressor().stream_reader(stream, read_across_frames=True)
        return reader
    return stream


def entry_parts(name: str) -> Tuple[str, ...]:
    """The path components of a tar entry name; refuses absolute names and ``..``."""
    if name.startswith("/"):
        raise UnsafeLayerError(name, "absolute path")
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if ".." in parts:
        raise UnsafeLayerError(name, "'..' in the path")
    return parts


def symlink_stays_inside(parts: Tuple[str, ...], target: str) -> bool:
    """Whether a relative symlink at ``parts`` pointing to ``target`` stays
    in the layer (absolute targets are resolved in the container's root)."""
    if target.startswith("/"):
        return True
    level = len(parts) - 1
    for component in target.split("/"):
        if component == "..":
            level -= 1
            if level < 0:
                return False
        elif component not in ("", "."):
            level += 1
    return True


def _rmtree_at(dir_fd: int, name: str) -> None:
    """Remove ``name`` (a file or a whole tree) under dir_fd, following nothing."""
    st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(name, dir_fd=dir_fd)
        return
    fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    try:
        for child in os.listdir(fd):
            _rmtree_at(fd, child)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=dir_fd)


class _Layer:
    """The layer directory being filled, reached only through fds."""

    def __init__(self, root: str) -> None:
        self.root_fd = os.open(root, _DIR_FLAGS)
        self.is_root = os.geteuid() == 0
        #: mknod of devices (not whiteouts): root of the initial user namespace only
        self.opaque = opaque_xattr()
        self.can_mknod = self.opaque == OPAQUE_XATTR
        #: Directories whose owner, mode and mtime are set last (deepest first).
        self.dirs: List[Tuple[Tuple[str, ...], tarfile.TarInfo]] = []
        #: The directory opened last (entries come grouped by directory):
        #: forgotten whenever anything but a regular file is removed.
        self._last: Optional[Tuple[Tuple[str, ...], int]] = None

    def close(self) -> None:
        self.forget()
        os.close(self.root_fd)

    def forget(self) -> None:
        if self._last is not None:
            os.close(self._last[1])
            self._last = None

    def open_dir(self, entry: str, parts: Tuple[str, ...], *, create: bool) -> int:
        """An fd of the directory ``parts`` (made if missing and ``create``);
        refuses to go through a symlink or a non-directory."""
        if self._last is not None and self._last[0] == parts:
            return os.dup(self._last[1])
        fd = self._walk(entry, parts, create=create)
        self.forget()
        self._last = (parts, os.dup(fd))
        return fd

    def _walk(self, entry: str, parts: Tuple[str, ...], *, create: bool) -> int:
        fd = os.dup(self.root_fd)
        try:
            for part in parts:
                try:
                    child = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise UnsafeLayerError(entry, f"{'/'.join(parts)!r} is not in the layer") from None
                    os.mkdir(part, 0o755, dir_fd=fd)
                    child = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except OSError as e:
                    if e.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise UnsafeLayerError(entry, f"{part!r} is a symlink or not a directory") from None
                    raise
                os.close(fd)
                fd = child
        except BaseException:
            os.close(fd)
            raise
        return fd

    def clear(self, dir_fd: int, leaf: str, *, keep_dir: bool) -> bool:
        """Remove what is at ``leaf`` (a later entry replaces an earlier one);
        True when it is a directory kept for a directory entry."""
        try:
            st = os.stat(leaf, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        if keep_dir and stat.S_ISDIR(st.st_mode):
            return True
        if not stat.S_ISREG(st.st_mode):
            self.forget()  # a directory or symlink on the way of the cached one may go
        _rmtree_at(dir_fd, leaf)
        return False

    def own(self, fd: int, member: tarfile.TarInfo) -> None:
        if self.is_root:
            os.fchown(fd, member.uid, member.gid)
        os.fchmod(fd, member.mode & 0o7777)
        for key, value in member.pax_headers.items():
            if key.startswith("SCHILY.xattr.") and not key[13:].startswith("trusted."):
                try:
                    os.setxattr(fd, key[13:], value.encode("utf-8", "surrogateescape"))
                except OSError as e:
                    if e.errno not in (errno.ENOTSUP, errno.EPERM):
                        raise
        os.utime(fd, (member.mtime, member.mtime))

    def add(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        name = member.name
        parts = entry_parts(name)
        if not parts:  # the layer's root itself
            if member.isdir():
                self.dirs.append(((), member))
            return
        leaf = parts[-1]
        if leaf.startswith(WHITEOUT_PREFIX):
            self.whiteout(name, parts)
            return
        dir_fd = self.open_dir(name, parts[:-1], create=True)
        try:
            self.make(tar, member, parts, dir_fd, leaf)
        finally:
            os.close(dir_fd)

    def whiteout(self, name: str, parts: Tuple[str, ...]) -> None:
        leaf = parts[-1]
        if leaf == OPAQUE_MARKER:
            fd = self.open_dir(name, parts[:-1], create=True)
            try:
                os.setxattr(fd, self.opaque, b"y")
            finally:
                os.close(fd)
            return
        if leaf.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
            return  # aufs bookkeeping (.wh..wh.plnk...): not part of the tree
        target = leaf[len(WHITEOUT_PREFIX) :]
        dir_fd = self.open_dir(name, parts[:-1], create=True)
        try:
            self.clear(dir_fd, target, keep_dir=False)
            os.mknod(target, stat.S_IFCHR, os.makedev(0, 0), dir_fd=dir_fd)
        finally:
            os.close(dir_fd)

    def make(
        self, tar: tarfile.TarFile, member: tarfile.TarInfo, parts: Tuple[str, ...], dir_fd: int, leaf: str
    ) -> None:
        name = member.name
        if member.isdir():
            if not self.clear(dir_fd, leaf, keep_dir=True):
                os.mkdir(leaf, 0o700, dir_fd=dir_fd)
            self.dirs.append((parts, member))
            return
        if member.issym():
            if not symlink_stays_inside(parts, member.linkname):
                raise UnsafeLayerError(name, f"symlink target {member.linkname!r} leaves the layer")
            self.clear(dir_fd, leaf, keep_dir=False)
            os.symlink(member.linkname, leaf, dir_fd=dir_fd)
            if self.is_root:
                os.chown(leaf, member.uid, member.gid, dir_fd=dir_fd, follow_symlinks=False)
            os.utime(leaf, (member.mtime, member.mtime), dir_fd=dir_fd, follow_symlinks=False)
            return
        if member.islnk():
            self.hardlink(member, dir_fd, leaf)
            return
        if member.ischr() or member.isblk():
            if not self.can_mknod:
                raise UnsafeLayerError(name, "device nodes need root")
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            self.clear(dir_fd, leaf, keep_dir=False)
            os.mknod(leaf, kind | 0o600, os.makedev(member.devmajor, member.devminor), dir_fd=dir_fd)
        elif member.isfifo():
            self.clear(dir_fd, leaf, keep_dir=False)
            os.mkfifo(leaf, 0o600, dir_fd=dir_fd)
        elif member.isreg():
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            try:
                fd = os.open(leaf, flags, 0o600, dir_fd=dir_fd)
            except FileExistsError:  # a later entry replaces an earlier one
                self.clear(dir_fd, leaf, keep_dir=False)
                fd = os.open(leaf, flags, 0o600, dir_fd=dir_fd)
            try:
                data = tar.extractfile(member)
                assert data is not None
                while chunk := data.read(1 << 20):
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fd, view) :]
                self.own(fd, member)
            finally:
                os.close(fd)
            return
        else:
            raise UnsafeLayerError(name, f"unsupported entry type {member.type!r}")
        fd = os.open(leaf, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        try:  # a device or fifo: set its owner and mode without opening it
            if self.is_root:
                os.chown(leaf, member.uid, member.gid, dir_fd=dir_fd, follow_symlinks=False)
            os.chmod(f"/proc/self/fd/{fd}", member.mode & 0o7777)
        finally:
            os.close(fd)

    def hardlink(self, member: tarfile.TarInfo, dir_fd: int, leaf: str) -> None:
        name = member.name
        try:
            target = entry_parts(member.linkname)
        except UnsafeLayerError as e:
            raise UnsafeLayerError(name, f"hard link to {member.linkname!r}: {e.reason}") from None
        if not target:
            raise UnsafeLayerError(name, "hard link to the layer's root")
        src_fd = self.open_dir(name, target[:-1], create=False)
        try:
            try:
                st = os.stat(target[-1], dir_fd=src_fd, follow_symlinks=False)
            except FileNotFoundError:
                raise UnsafeLayerError(name, f"hard link to {member.linkname!r}, not in the layer") from None
            if stat.S_ISDIR(st.st_mode):
                raise UnsafeLayerError(name, f"hard link to a directory {member.linkname!r}")
            existing = _lstat(dir_fd, leaf)
            if existing is not None and os.path.samestat(existing, st):
                return  # already that file
            self.clear(dir_fd, leaf, keep_dir=False)
            os.link(target[-1], leaf, src_dir_fd=src_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
        finally:
            os.close(src_fd)

    def finish(self) -> None:
        """Owners, modes and times of the directories, deepest first."""
        for parts, member in sorted(self.dirs, key=lambda d: -len(d[0])):
            fd = self.open_dir(member.name, parts, create=False)
            try:
                self.own(fd, member)
            finally:
                os.close(fd)


def _lstat(dir_fd: int, leaf: str) -> Optional[os.stat_result]:
    try:
        return os.stat(leaf, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def unpack_layer(
    blob: Readable,
    dest: str,
    *,
    digest: Optional[str] = None,
    diff_id: Optional[str] = None,
    on_read: Optional[Callable[[int], None]] = None,
) -> str:
    """Unpack the layer ``blob`` (a tar, gzip or zstd compressed) into the
    empty directory ``dest``; returns its diff_id (the sha256 of the tar).

    ``digest`` (of the blob as given) and ``diff_id`` are checked when
    given: a mismatch raises ImageError.  An unsafe entry raises
    UnsafeLayerError.  On error ``dest`` holds a partial layer: the caller
    removes it.  ``on_read(n)`` is told how many blob bytes were read.
    """
    compressed = HashingReader(blob, on_read, hashing=digest is not None)
    buffered = io.BufferedReader(compressed, 1 << 20)
    plain = HashingReader(decompressed(buffered))
    plain_buffered = io.BufferedReader(plain, 1 << 20)
    layer = _Layer(dest)
    try:
        try:
            with tarfile.open(fileobj=plain_buffered, mode="r|") as tar:
                for member in tar:
                    layer.add(tar, member)
            while plain_buffered.read(1 << 20):
                pass  # the end-of-archive padding counts in the digest
        except (tarfile.TarError, EOFError, gzip.BadGzipFile) as e:
            raise ImageError(f"layer {digest or diff_id or ''}: not a valid tar stream: {e}") from e
        except zstd_errors() as e:
            raise ImageError(f"layer {digest or diff_id or ''}: bad zstd data: {e}") from e
        layer.finish()
    finally:
        layer.close()
    while buffered.read(1 << 20):
        pass
    if digest is not None and compressed.digest() != digest:
        raise DigestMismatchError("layer", digest, compressed.digest())
    if diff_id is not None and plain.digest() != diff_id:
        raise DigestMismatchError("layer diff_id", diff_id, plain.digest())
    return plain.digest()


def zstd_errors() -> Tuple[Type[BaseException], ...]:
    try:
        return (importlib.import_module("zstandard").ZstdError,)
    except ImportError:
        return ()
