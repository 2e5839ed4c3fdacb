"""A layer blob read in a thread of its own while the caller unpacks it:
the blob is hashed (and copied to a file, for push) as it arrives,
decompressed (gzip, zstd or none, by its magic bytes), the tar hashed,
and the tar's bytes handed over in chunks through a bounded queue.

Downloading, hashing and inflating mostly run outside the GIL, so they
overlap the unpacking thread's work (its Python and its file-creating
system calls).
"""

from __future__ import annotations

import gzip
import hashlib
import importlib
import io
import os
import queue
import threading
from typing import Any, Callable, Optional, Protocol, Tuple, Type, Union

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
CHUNK = 1 << 20
#: Chunks (of at most CHUNK bytes) decompressed ahead of the unpacking.
DEPTH = 8


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _Hashing(io.RawIOBase):
    """Reads through ``raw``, hashing what passes, copying it to ``copy_fd``
    and telling ``on_read`` the count so far.  ``failed``: one of those
    raised (the download broke, the copy failed, a callback stopped it)."""

    def __init__(self, raw: Readable, on_read: Optional[Callable[[int], None]], copy_fd: Optional[int]) -> None:
        self.raw = raw
        self.sha = hashlib.sha256()
        self.count = 0
        self.on_read = on_read
        self.copy_fd = copy_fd
        self.failed = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self.raw.read(len(buffer))
            n = len(data)
            self.sha.update(data)
            if self.copy_fd is not None:
                view = memoryview(data)
                while view:
                    view = view[os.write(self.copy_fd, view) :]
            self.count += n
            if self.on_read is not None:
                self.on_read(self.count)
        except BaseException:
            self.failed = True
            raise
        buffer[:n] = data
        return n

    def digest(self) -> str:
        return "sha256:" + self.sha.hexdigest()


def zstd_module() -> Any:
    """The ``zstandard`` module, or an ImageError saying how to install it."""
    from .errors import ImageError

    try:
        return importlib.import_module("zstandard")
    except ImportError:
        raise ImageError(
            "this layer is zstd-compressed: install the 'zstandard' package (pip install 'libcontainer_py[zstd]')"
        ) from None


def gzip_reader(stream: io.BufferedReader[Any]) -> Readable:
    """A gzip stream's reader: ISA-L's (the ``isal`` package, about three
    times faster than zlib) when installed, else the standard library's."""
    try:
        igzip = importlib.import_module("isal.igzip")
    except ImportError:
        return gzip.GzipFile(fileobj=stream, mode="rb")
    reader: Readable = igzip.IGzipFile(fileobj=stream, mode="rb")
    return reader


def decompressed(stream: io.BufferedReader[Any]) -> Readable:
    """``stream`` decompressed according to its magic bytes (gzip, zstd, or none)."""
    head = stream.peek(4)[:4]
    if head[:2] == b"\x1f\x8b":
        return gzip_reader(stream)
    if head == ZSTD_MAGIC:
        reader: Readable = zstd_module().ZstdDecompressor().stream_reader(stream, read_across_frames=True)
        return reader
    return stream


def decompression_errors() -> Tuple[Type[BaseException], ...]:
    """What a corrupt compressed stream raises (zlib, gzip and, when
    installed, ISA-L and zstandard errors)."""
    import zlib

    errors: Tuple[Type[BaseException], ...] = (zlib.error, EOFError, gzip.BadGzipFile)
    for module, name in (("isal.isal_zlib", "error"), ("zstandard", "ZstdError")):
        try:
            errors += (getattr(importlib.import_module(module), name),)
        except ImportError:
            pass
    return errors


_END = object()


class BlobPipe:
    """Reads ``blob`` in a thread: ``read_chunk()`` returns the tar's next
    bytes (``b""`` at its end; raises what reading or decompressing
    raised), ``finish()`` waits for the blob's end and returns (blob
    digest, tar digest), ``abort()`` stops and waits for the thread, and
    ``rest_digest()`` reads what is left of the blob for its digest.

    The caller must end with ``finish()`` or ``abort()``: the thread
    writes to ``copy_fd`` until then."""

    def __init__(
        self, blob: Readable, *, on_read: Optional[Callable[[int], None]] = None, copy_fd: Optional[int] = None
    ) -> None:
        self._raw = _Hashing(blob, on_read, copy_fd)
        self._tar_sha = hashlib.sha256()
        self._queue: queue.Queue[Union[bytes, object]] = queue.Queue(DEPTH)
        self._stop = False
        self._ended = False
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, name="lcpy-layer-read", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            buffered = io.BufferedReader(self._raw, CHUNK)
            plain = decompressed(buffered)
            while not self._stop:
                chunk = plain.read(CHUNK)
                if not chunk:
                    while not self._stop and buffered.read(CHUNK):
                        pass  # what follows the compressed stream counts in the blob's digest
                    break
                self._tar_sha.update(chunk)
                self._queue.put(chunk)
        except BaseException as e:
            self._error = e
        finally:
            self._queue.put(_END)

    def read_chunk(self) -> bytes:
        """The tar's next bytes; ``b""`` at its end."""
        if self._ended:
            return b""
        item = self._queue.get()
        if item is _END:
            self._ended = True
            self._thread.join()
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            return b""
        assert isinstance(item, bytes)
        return item

    def finish(self) -> Tuple[str, str]:
        """Read the rest of the tar (its end-of-archive padding counts in
        its digest) and of the blob; (blob digest, tar digest)."""
        while self.read_chunk():
            pass
        return self._raw.digest(), "sha256:" + self._tar_sha.hexdigest()

    def abort(self) -> None:
        """Stop reading and wait for the thread (nothing is raised)."""
        self._stop = True
        while not self._ended:
            if self._queue.get() is _END:
                self._ended = True
        self._thread.join()
        self._error = None

    def rest_digest(self) -> Optional[str]:
        """After abort(): the blob's digest, the rest of it read (None when
        reading it is what failed)."""
        if self._raw.failed:
            return None
        while self._raw.read(CHUNK):
            pass
        return self._raw.digest()
