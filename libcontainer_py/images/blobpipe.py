"""A layer blob read in threads of its own while the caller unpacks it:
one thread reads the blob, hashing it (and copying it to a file, for push)
chunk by chunk as it arrives; another decompresses what was read (gzip,
zstd or none, by its magic bytes) and hashes the tar; the tar's bytes are
handed over in chunks through bounded queues.

Downloading, hashing and inflating mostly run outside the GIL, so the three
stages (reading, inflating, unpacking: its Python and its file-creating
system calls) overlap.  Each chunk passes through once, without copies
between file-object layers: a gzip stream is inflated by a decompression
object fed the chunks as read (ISA-L's when installed).
"""

from __future__ import annotations

import gzip
import hashlib
import importlib
import io
import os
import queue
import threading
from typing import Any, Callable, Iterator, List, Optional, Protocol, Tuple, Type, Union

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 1 << 20
#: Chunks (of about CHUNK bytes) decompressed ahead of the unpacking.
DEPTH = 8
#: Decompressed pieces smaller than this are joined before they are handed
#: over.  Half a MiB of gzip in gives about that much out or more (a bit
#: less for incompressible data: a threshold of CHUNK // 2 joined those
#: pieces two by two, copying them), so this joins only small pieces.
HAND_OVER = CHUNK // 4


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def zstd_module() -> Any:
    """The ``zstandard`` module, or an ImageError saying how to install it."""
    from .errors import ImageError

    try:
        return importlib.import_module("zstandard")
    except ImportError:
        raise ImageError(
            "this layer is zstd-compressed: install the 'zstandard' package (pip install 'libcontainer_py[zstd]')"
        ) from None


def zlib_module() -> Any:
    """ISA-L's zlib (the ``isal`` package, about three times faster) when
    installed, else the standard library's."""
    try:
        return importlib.import_module("isal.isal_zlib")
    except ImportError:
        import zlib

        return zlib


def gunzip(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The gzip stream in ``chunks`` inflated, in pieces of at most CHUNK
    bytes; several members follow one another, zero bytes may pad them.
    Raises what the inflater raises for corrupt data (a bad CRC too), or
    EOFError for a stream cut short."""
    zlib = zlib_module()
    inflater: Any = None  # None: between members
    for data in chunks:
        while data:
            if inflater is None:
                data = data.lstrip(b"\0")
                if not data:
                    break
                inflater = zlib.decompressobj(31)
            piece = inflater.decompress(data, CHUNK)
            if piece:
                yield piece
            if inflater.eof:
                data, inflater = inflater.unused_data, None
            else:
                data = inflater.unconsumed_tail
    if inflater is not None:
        raise EOFError("Compressed file ended before the end-of-stream marker was reached")


class _ChunkFile(io.RawIOBase):
    """``chunks`` as a file object (for zstandard's stream reader)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.pending or next(self.chunks, b"")
        n = min(len(buffer), len(data))
        buffer[:n] = data[:n]
        self.pending = data[n:]
        return n


def unzstd(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The zstd stream in ``chunks`` decompressed (all its frames)."""
    reader = zstd_module().ZstdDecompressor().stream_reader(_ChunkFile(chunks), read_across_frames=True)
    while piece := reader.read(CHUNK):
        yield piece
    for _ in chunks:
        pass  # what follows the compressed stream counts in the blob's digest


def decompressed(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The blob in ``chunks`` decompressed according to its magic bytes
    (gzip, zstd, or none)."""
    first = b""
    for first in chunks:
        if len(first) >= 4:
            break
        more = next(chunks, b"")
        if not more:
            break
        first += more  # a tiny first read: the magic may need more bytes
    if not first:
        return iter(())
    rest = _chained(first, chunks)
    if first[:2] == GZIP_MAGIC:
        return gunzip(rest)
    if first[:4] == ZSTD_MAGIC:
        return unzstd(rest)
    return rest


def _chained(first: bytes, chunks: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from chunks


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
    """Reads ``blob`` in two threads of its own: ``read_chunk()`` returns the
    tar's next bytes (``b""`` at its end; raises what reading or
    decompressing raised), ``finish()`` waits for the blob's end and returns
    (blob digest, tar digest), ``abort()`` stops and waits for the threads,
    and ``rest_digest()`` reads what is left of the blob for its digest.

    One thread downloads the blob, hashes and copies it; the other inflates
    what the first read and hashes the tar.  Split so, a layer's work is a
    chain of three stages (download, inflate, unpack) that two CPUs run side
    by side, not two; each stage mostly runs outside the GIL or in C.

    The caller must end with ``finish()`` or ``abort()``: the threads
    write to ``copy_fd`` until then."""

    def __init__(
        self, blob: Readable, *, on_read: Optional[Callable[[int], None]] = None, copy_fd: Optional[int] = None
    ) -> None:
        self._blob = blob
        self._on_read = on_read
        self._copy_fd = copy_fd
        self._blob_sha = hashlib.sha256()
        self._count = 0
        #: Reading the blob, copying it or the callback raised.
        self._failed = False
        self._tar_sha = hashlib.sha256()
        #: The blob's chunks, from the reading thread to the inflating one.
        self._read: queue.Queue[Union[bytes, object]] = queue.Queue(DEPTH)
        self._read_error: Optional[BaseException] = None
        #: The tar's bytes, from the inflating thread to the caller.
        self._queue: queue.Queue[Union[bytes, object]] = queue.Queue(DEPTH)
        self._stop = False
        self._ended = False
        self._error: Optional[BaseException] = None
        self._reader = threading.Thread(target=self._fetch, name="lcpy-layer-read", daemon=True)
        self._thread = threading.Thread(target=self._run, name="lcpy-layer-inflate", daemon=True)
        self._reader.start()
        self._thread.start()

    def _chunks(self) -> Iterator[bytes]:
        """The blob's chunks as read, hashed, copied and counted, until its
        end or until stopped."""
        read, on_read, copy_fd = self._blob.read, self._on_read, self._copy_fd
        while not self._stop:
            try:
                data = read(CHUNK)
                if not data:
                    return
                if len(data) < CHUNK // 2:  # a download's small pieces: hashed, copied and inflated together
                    pieces, size = [data], len(data)
                    while size < CHUNK // 2 and (more := read(CHUNK)):
                        pieces.append(more)
                        size += len(more)
                    data = b"".join(pieces)
                self._blob_sha.update(data)
                if copy_fd is not None:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(copy_fd, view) :]
                self._count += len(data)
                if on_read is not None:
                    on_read(self._count)
            except BaseException:
                self._failed = True
                raise
            yield data

    def _fetch(self) -> None:
        """The reading thread: the blob's chunks into ``_read``, then _END."""
        try:
            for data in self._chunks():
                self._read.put(data)
        except BaseException as e:
            self._read_error = e
        finally:
            self._read.put(_END)

    def _fetched(self) -> Iterator[bytes]:
        """What the reading thread read; at its end, what it raised."""
        while (item := self._read.get()) is not _END:
            assert isinstance(item, bytes)
            yield item
        self._read.put(_END)  # seen again by _drain_read: the reader has ended
        if self._read_error is not None:
            raise self._read_error

    def _run(self) -> None:
        """The inflating thread: the tar's bytes into ``_queue``, then _END;
        the reading thread has ended when it puts _END."""
        try:
            pieces: List[bytes] = []
            size = 0
            for piece in decompressed(self._fetched()):
                pieces.append(piece)
                size += len(piece)
                if size >= HAND_OVER:  # fewer, bigger hand-overs
                    self._hand_over(pieces)
                    pieces, size = [], 0
            if pieces:
                self._hand_over(pieces)
        except BaseException as e:
            self._error = e
        finally:
            self._stop = True  # the reader stops at its next chunk if it has not ended
            self._drain_read()
            self._reader.join()
            self._queue.put(_END)

    def _drain_read(self) -> None:
        """Take the reading thread's chunks until its _END (so that it is
        never left blocked on a full queue)."""
        while self._read.get() is not _END:
            pass

    def _hand_over(self, pieces: List[bytes]) -> None:
        chunk = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        self._tar_sha.update(chunk)
        self._queue.put(chunk)

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
        return "sha256:" + self._blob_sha.hexdigest(), "sha256:" + self._tar_sha.hexdigest()

    def abort(self) -> None:
        """Stop reading and wait for the threads (nothing is raised)."""
        self._stop = True
        while not self._ended:
            if self._queue.get() is _END:
                self._ended = True
        self._thread.join()
        self._error = None

    def rest_digest(self) -> Optional[str]:
        """After abort(): the blob's digest, the rest of it read (None when
        reading it is what failed)."""
        if self._failed:
            return None
        while data := self._blob.read(CHUNK):
            self._blob_sha.update(data)
        return "sha256:" + self._blob_sha.hexdigest()
