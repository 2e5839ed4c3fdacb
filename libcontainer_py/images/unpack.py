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
import importlib
import math
import os
import re
import stat
import sys
from typing import Any, Callable, List, Optional, Tuple, Type

from .._lcnative import ffi, lib
from . import tarstream as tar
from .blobpipe import ZSTD_MAGIC as ZSTD_MAGIC  # where it was
from .blobpipe import BlobPipe, Readable, decompression_errors
from .errors import DigestMismatchError, ImageError, UnsafeLayerError
from .tarstream import Entry, TarFormatError, TarReader

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


_DIGEST = re.compile(r"sha256:[0-9a-f]{64}\Z")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def check_digest(value: Any, what: str = "digest") -> str:
    """``value`` if it is a ``sha256:<64 hex>`` digest, else ImageError."""
    if not isinstance(value, str) or not _DIGEST.match(value):
        raise ImageError(f"{what}: expected sha256:<64 hex digits>, got {value!r}")
    return value


def entry_parts(name: str) -> Tuple[str, ...]:
    """The path components of a tar entry name; refuses absolute names and ``..``."""
    if name.startswith("/"):
        raise UnsafeLayerError(name, "absolute path")
    parts = name.split("/")
    if "" in parts or "." in parts:
        parts = [p for p in parts if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeLayerError(name, "'..' in the path")
    return tuple(parts)


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

    def __init__(self, root: str, reader: TarReader) -> None:
        self.reader = reader
        self.root_fd = os.open(root, _DIR_FLAGS)
        self.is_root = os.geteuid() == 0
        #: mknod of devices (not whiteouts): root of the initial user namespace only
        self.opaque = opaque_xattr()
        self.can_mknod = self.opaque == OPAQUE_XATTR
        #: Directories whose owner, mode and mtime are set last (deepest first).
        self.dirs: List[Tuple[Tuple[str, ...], Entry]] = []
        #: The directory opened last (entries come grouped by directory). Its
        #: fd is lent to the entry being made; when another directory is
        #: opened, or anything but a regular file is removed (a directory or
        #: symlink on its way may go), it is retired: closed once the next
        #: entry starts, never while an fd of it may still be in use.
        self._last: Optional[Tuple[Tuple[str, ...], int]] = None
        self._retired: List[int] = []
        #: Small files not made yet (flush()): (dir fd, name, data, entry).
        #: Anything else that touches the layer flushes them first, and no
        #: fd they use is closed before.
        self.batch: List[Tuple[int, bytes, memoryview, Entry]] = []
        self._batch_bytes = 0
        #: The directory part of the last entry name whose components were
        #: checked (entry_parts), and those components: a name in the same
        #: directory only needs its leaf checked.
        self._head = ""
        self._head_parts: Tuple[str, ...] = ()

    def close(self) -> None:
        self.forget()
        self._close_retired()
        os.close(self.root_fd)

    def forget(self) -> None:
        if self._last is not None:
            self._retired.append(self._last[1])
            self._last = None

    def _close_retired(self) -> None:
        while self._retired:
            os.close(self._retired.pop())

    def open_dir(self, entry: str, parts: Tuple[str, ...], *, create: bool) -> int:
        """An fd of the directory ``parts`` (made if missing and ``create``),
        lent until the current entry is done; refuses to go through a
        symlink or a non-directory."""
        if self._last is not None and self._last[0] == parts:
            return self._last[1]
        self.flush()  # the walk sees (and may not make) what the batch makes
        fd = self._walk(entry, parts, create=create)
        self.forget()
        self._last = (parts, fd)
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

    def own(self, fd: int, entry: Entry) -> None:
        if self.is_root:
            os.fchown(fd, entry.uid, entry.gid)
        os.fchmod(fd, entry.mode & 0o7777)
        if entry.pax:
            for key, value in entry.pax.items():
                if key.startswith("SCHILY.xattr.") and not key[13:].startswith("trusted."):
                    try:
                        os.setxattr(fd, key[13:], value.encode("utf-8", "surrogateescape"))
                    except OSError as e:
                        if e.errno not in (errno.ENOTSUP, errno.EPERM):
                            raise
        os.utime(fd, (entry.mtime, entry.mtime))

    def add(self, entry: Entry) -> None:
        if not self.batch:
            self._close_retired()  # no fd is lent out between entries, nor held by the batch
        name = entry.name
        head, slash, leaf = name.rpartition("/")
        if slash and head == self._head and leaf not in _NOT_LEAVES:
            dir_parts = self._head_parts  # as entry_parts(name)[:-1]: checked for a name before
        else:
            parts = entry_parts(name)
            if not parts:  # the layer's root itself
                if entry.type == tar.DIRTYPE:
                    self.dirs.append(((), entry))
                return
            dir_parts = parts[:-1]
            if slash and parts[-1] == leaf:  # a head that is not "" (nor "/": refused above)
                self._head, self._head_parts = head, dir_parts
            leaf = parts[-1]
        if leaf.startswith(WHITEOUT_PREFIX):
            self.flush()
            self.whiteout(name, dir_parts + (leaf,))
            return
        self.make(entry, dir_parts, self.open_dir(name, dir_parts, create=True), leaf)

    def whiteout(self, name: str, parts: Tuple[str, ...]) -> None:
        leaf = parts[-1]
        if leaf == OPAQUE_MARKER:
            os.setxattr(self.open_dir(name, parts[:-1], create=True), self.opaque, b"y")
            return
        if leaf.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
            return  # aufs bookkeeping (.wh..wh.plnk...): not part of the tree
        target = leaf[len(WHITEOUT_PREFIX) :]
        dir_fd = self.open_dir(name, parts[:-1], create=True)
        self.clear(dir_fd, target, keep_dir=False)
        os.mknod(target, stat.S_IFCHR, os.makedev(0, 0), dir_fd=dir_fd)

    def make(self, entry: Entry, dir_parts: Tuple[str, ...], dir_fd: int, leaf: str) -> None:
        name = entry.name
        kind = entry.type
        if kind in tar.REGULAR_TYPES:
            self.write_file(entry, dir_fd, leaf)
            return
        self.flush()  # anything but a small file sees the files before it
        parts = dir_parts + (leaf,)
        if kind == tar.DIRTYPE:
            if not self.clear(dir_fd, leaf, keep_dir=True):
                os.mkdir(leaf, 0o700, dir_fd=dir_fd)
            self.dirs.append((parts, entry))
            return
        if kind == tar.SYMTYPE:
            if not symlink_stays_inside(parts, entry.linkname):
                raise UnsafeLayerError(name, f"symlink target {entry.linkname!r} leaves the layer")
            self.clear(dir_fd, leaf, keep_dir=False)
            os.symlink(entry.linkname, leaf, dir_fd=dir_fd)
            if self.is_root:
                os.chown(leaf, entry.uid, entry.gid, dir_fd=dir_fd, follow_symlinks=False)
            os.utime(leaf, (entry.mtime, entry.mtime), dir_fd=dir_fd, follow_symlinks=False)
            return
        if kind == tar.LNKTYPE:
            self.hardlink(entry, dir_fd, leaf)
            return
        if kind == tar.CHRTYPE or kind == tar.BLKTYPE:
            if not self.can_mknod:
                raise UnsafeLayerError(name, "device nodes need root")
            node = stat.S_IFCHR if kind == tar.CHRTYPE else stat.S_IFBLK
            self.clear(dir_fd, leaf, keep_dir=False)
            os.mknod(leaf, node | 0o600, os.makedev(entry.devmajor, entry.devminor), dir_fd=dir_fd)
        elif kind == tar.FIFOTYPE:
            self.clear(dir_fd, leaf, keep_dir=False)
            os.mkfifo(leaf, 0o600, dir_fd=dir_fd)
        else:
            raise UnsafeLayerError(name, f"unsupported entry type {kind!r}")
        fd = os.open(leaf, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        try:  # a device or fifo: set its owner and mode without opening it
            if self.is_root:
                os.chown(leaf, entry.uid, entry.gid, dir_fd=dir_fd, follow_symlinks=False)
            os.chmod(f"/proc/self/fd/{fd}", entry.mode & 0o7777)
        finally:
            os.close(fd)

    def write_file(self, entry: Entry, dir_fd: int, leaf: str) -> None:
        if _fits_native(entry, leaf):
            data = self.reader.data_view(SMALL_FILE)
            if data is not None:
                self.batch.append((dir_fd, leaf.encode(_FS_ENCODING, _FS_ERRORS), data, entry))
                self._batch_bytes += len(data)
                if len(self.batch) >= BATCH_FILES or self._batch_bytes >= BATCH_BYTES:
                    self.flush()
                return
        self.flush()
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(leaf, flags, 0o600, dir_fd=dir_fd)
        except FileExistsError:  # a later entry replaces an earlier one
            self.clear(dir_fd, leaf, keep_dir=False)
            fd = os.open(leaf, flags, 0o600, dir_fd=dir_fd)
        try:
            self.reader.copy_to(fd)
            self.own(fd, entry)
        finally:
            os.close(fd)

    def flush(self) -> None:
        """Make the batched small files, in order, by native calls that run
        without the GIL (lc_unpack_files: create, write, owner, mode,
        times): one GIL hand-over for many files, not five per file."""
        batch, self.batch, self._batch_bytes = self.batch, [], 0
        start = 0
        while start < len(batch):
            todo = batch[start:]
            keep: List[Any] = []  # the names and buffers the array points to
            rows = []
            for dir_fd, name, data, entry in todo:
                c_name, c_data = ffi.new("char[]", name), ffi.from_buffer(data)
                keep += (c_name, c_data)
                mtime = entry.mtime
                sec, nsec = (mtime, 0) if type(mtime) is int else _timespec(mtime)
                rows.append((dir_fd, entry.mode & 0o7777, entry.uid, entry.gid, c_name, c_data, len(data), sec, nsec))
            files = ffi.new("struct lc_unpack_file[]", rows)  # in the struct's field order
            err = ffi.new("int *")
            done = lib.lc_unpack_files(files, len(todo), self.is_root, err)
            if done == len(todo):
                return
            dir_fd, name, _data, entry = todo[done]
            if err[0] != errno.EEXIST:
                raise OSError(err[0], os.strerror(err[0]), entry.name)
            self.clear(dir_fd, os.fsdecode(name), keep_dir=False)  # a later entry replaces an earlier one
            start += done

    def hardlink(self, entry: Entry, dir_fd: int, leaf: str) -> None:
        name = entry.name
        try:
            target = entry_parts(entry.linkname)
        except UnsafeLayerError as e:
            raise UnsafeLayerError(name, f"hard link to {entry.linkname!r}: {e.reason}") from None
        if not target:
            raise UnsafeLayerError(name, "hard link to the layer's root")
        src_fd = self.open_dir(name, target[:-1], create=False)
        try:
            st = os.stat(target[-1], dir_fd=src_fd, follow_symlinks=False)
        except FileNotFoundError:
            raise UnsafeLayerError(name, f"hard link to {entry.linkname!r}, not in the layer") from None
        if stat.S_ISDIR(st.st_mode):
            raise UnsafeLayerError(name, f"hard link to a directory {entry.linkname!r}")
        existing = _lstat(dir_fd, leaf)
        if existing is not None and os.path.samestat(existing, st):
            return  # already that file
        self.clear(dir_fd, leaf, keep_dir=False)
        os.link(target[-1], leaf, src_dir_fd=src_fd, dst_dir_fd=dir_fd, follow_symlinks=False)

    def finish(self) -> None:
        """Owners, modes and times of the directories, deepest first."""
        self.flush()
        for parts, entry in sorted(self.dirs, key=lambda d: -len(d[0])):
            self._close_retired()
            self.own(self.open_dir(entry.name, parts, create=False), entry)


#: Regular files up to this size are batched (flush()), and made natively.
SMALL_FILE = 256 << 10
#: A batch is made when it holds this many files or bytes.
BATCH_FILES = 256
BATCH_BYTES = 4 << 20
_ID_MAX = 2**32 - 2  # (uid_t)-1 means "unchanged" to fchown
#: What os.fsencode does, without its call.
_FS_ENCODING, _FS_ERRORS = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()
#: Last components that entry_parts() drops or refuses.
_NOT_LEAVES = ("", ".", "..")
_TIME_MAX = 2**62


def _fits_native(entry: Entry, leaf: str) -> bool:
    """Whether lc_unpack_files can make this file as write_file() would:
    no xattrs to set, ids and time in the C types, no NUL in the name."""
    if entry.pax and any(key.startswith("SCHILY.xattr.") for key in entry.pax):
        return False
    return (
        0 <= entry.uid <= _ID_MAX
        and 0 <= entry.gid <= _ID_MAX
        and -_TIME_MAX < entry.mtime < _TIME_MAX
        and "\0" not in leaf
    )


def _timespec(mtime: float) -> Tuple[int, int]:
    """(seconds, nanoseconds) of a time, rounded as os.utime() does (down)."""
    if isinstance(mtime, int):
        return mtime, 0
    frac, whole = math.modf(mtime)
    sec, nsec = int(whole), math.floor(frac * 1e9)
    if nsec >= 1_000_000_000:
        sec, nsec = sec + 1, nsec - 1_000_000_000
    elif nsec < 0:
        sec, nsec = sec - 1, nsec + 1_000_000_000
    return sec, nsec


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
    return unpack_blob(blob, dest, digest=digest, diff_id=diff_id, on_read=on_read)[1]


def unpack_blob(
    blob: Readable,
    dest: str,
    *,
    digest: Optional[str] = None,
    diff_id: Optional[str] = None,
    on_read: Optional[Callable[[int], None]] = None,
    copy_fd: Optional[int] = None,
) -> Tuple[str, str]:
    """unpack_layer(), the blob also written to ``copy_fd`` as it is read;
    returns (the blob's digest, the diff_id).  The blob is read,
    decompressed and hashed in a thread while this one makes the files.
    A layer that fails to unpack is read to its end when its digest is
    known: a blob that is not what its digest says raises
    DigestMismatchError (the failure chained), however it broke."""
    what = digest or diff_id or ""
    pipe = BlobPipe(blob, on_read=on_read, copy_fd=copy_fd)
    try:
        try:
            _extract(pipe.read_chunk, dest)
            blob_digest, tar_digest = pipe.finish()
        except TarFormatError as e:
            raise ImageError(f"layer {what}: not a valid tar stream: {e}") from e
        except zstd_errors() as e:
            raise ImageError(f"layer {what}: bad zstd data: {e}") from e
        except decompression_errors() as e:
            raise ImageError(f"layer {what}: not a valid tar stream: {e}") from e
    except ImageError as e:
        pipe.abort()
        got = pipe.rest_digest() if digest is not None else None
        if digest is not None and got is not None and got != digest:
            raise DigestMismatchError("layer", digest, got) from e
        raise
    except BaseException:
        pipe.abort()
        raise
    if digest is not None and blob_digest != digest:
        raise DigestMismatchError("layer", digest, blob_digest)
    if diff_id is not None and tar_digest != diff_id:
        raise DigestMismatchError("layer diff_id", diff_id, tar_digest)
    return blob_digest, tar_digest


def _extract(read_chunk: Callable[[], bytes], dest: str) -> None:
    """The tar's entries made under ``dest``, then the directories' owners,
    modes and times."""
    reader = TarReader(read_chunk)
    layer = _Layer(dest, reader)
    try:
        for entry in reader:
            layer.add(entry)
        layer.finish()
    finally:
        layer.close()


def zstd_errors() -> Tuple[Type[BaseException], ...]:
    try:
        return (importlib.import_module("zstandard").ZstdError,)
    except ImportError:
        return ()
