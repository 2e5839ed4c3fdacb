"""A tar stream read in one pass, the way image layers arrive: ustar, pax
(extended and global headers), GNU (long names and links, sparse files)
and v7 headers, each field read as Python's ``tarfile`` reads it, at a
fraction of its cost per entry.

``TarReader(read_chunk)`` takes the archive's bytes in chunks of any size
(``read_chunk()`` returns ``b""`` at the end) and yields ``Entry``
objects; ``copy_to(fd)`` writes the current entry's data into a file
(holes of a sparse file left as holes).  Data not copied is skipped.  A
malformed archive raises ``TarFormatError``; as with ``tarfile``, a zero
block, or a header that is not one after the first, ends the archive.

Header blocks are parsed natively (_native/tar_header.c), those of a chunk
read ahead in one call (``lc_tar_headers``); a number field only Python's
``int()`` can judge (a sign, ``0o``, underscores, beyond 2**62) sends its
block to the Python parser.
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from typing import Callable, Dict, Iterator, List, Optional, Tuple

from .._lcnative import ffi as _ffi
from .._lcnative import lib as _lib

BLOCK = 512

REGTYPE, AREGTYPE, LNKTYPE, SYMTYPE = b"0", b"\0", b"1", b"2"
CHRTYPE, BLKTYPE, DIRTYPE, FIFOTYPE, CONTTYPE = b"3", b"4", b"5", b"6", b"7"
GNU_LONGNAME, GNU_LONGLINK, GNU_SPARSE = b"L", b"K", b"S"
PAX_EXTENDED, PAX_GLOBAL, SOLARIS_EXTENDED = b"x", b"g", b"X"
#: Entries whose data follows their header (with tarfile: and any type it does not know).
REGULAR_TYPES = (REGTYPE, AREGTYPE, CONTTYPE, GNU_SPARSE)
SUPPORTED_TYPES = REGULAR_TYPES + (LNKTYPE, SYMTYPE, CHRTYPE, BLKTYPE, DIRTYPE, FIFOTYPE, GNU_LONGNAME, GNU_LONGLINK)
_GNU_TYPES = (GNU_LONGNAME, GNU_LONGLINK, GNU_SPARSE)
#: Header records read ahead per native call (lc_tar_headers), and their size.
_AHEAD = 256
_RECORD = _lib.LC_TAR_RECORD
_FIELDS = _lib.LC_TAR_FIELDS

_HEADER = struct.Struct("100s8s8s8s12s12s8sc100s8x32s32s8s8s155s12x")
_SIGNED = struct.Struct("148b8x356b")
_PAX_RECORD = re.compile(rb"(\d+) ([^=]+)=")
_PAX_CHARSET = re.compile(rb"\d+ hdrcharset=([^\n]+)\n")
_PAX_SPARSE_OFFSET = re.compile(rb"\d+ GNU.sparse.offset=(\d+)\n")
_PAX_SPARSE_NUMBYTES = re.compile(rb"\d+ GNU.sparse.numbytes=(\d+)\n")
_PAX_NAME_FIELDS = ("path", "linkpath", "uname", "gname")


class TarFormatError(Exception):
    """The stream is not a tar archive, or one cut short."""


class _NoHeader(Exception):
    """No header where one was expected: ``why``; ``end`` when that ends
    the archive quietly after its first entry (tarfile's leniency)."""

    def __init__(self, why: str, end: bool) -> None:
        super().__init__(why)
        self.end = end


class _ZeroBlock(_NoHeader):
    """A block of zeros where a header was expected: the end of the
    archive, even before its first entry (an empty layer)."""

    def __init__(self) -> None:
        super().__init__("end of file header", True)


class Entry:
    """One member: its header fields after pax and GNU extensions.  ``size``
    is the size of the file (a sparse one's with its holes); ``sparse`` the
    (offset, length) of its data segments, else None; ``pax`` the pax
    records that apply to it (global ones included)."""

    __slots__ = (
        "devmajor",
        "devminor",
        "gid",
        "linkname",
        "mode",
        "mtime",
        "name",
        "pax",
        "size",
        "sparse",
        "type",
        "uid",
    )

    def __init__(self) -> None:
        self.name = ""
        self.type = REGTYPE
        self.mode = self.uid = self.gid = self.size = self.devmajor = self.devminor = 0
        self.mtime: float = 0
        self.linkname = ""
        self.pax: Dict[str, str] = {}
        self.sparse: Optional[List[Tuple[int, int]]] = None

    def isreg(self) -> bool:
        return self.type in REGULAR_TYPES

    def isdir(self) -> bool:
        return self.type == DIRTYPE

    def has_data(self) -> bool:
        """Whether data blocks follow the header (as tarfile decides)."""
        return self.type in REGULAR_TYPES or self.type not in SUPPORTED_TYPES

    def __repr__(self) -> str:
        return f"<Entry {self.name!r} type={self.type!r} size={self.size}>"


def _text(field: bytes) -> str:
    """A NUL-terminated string field, as tarfile decodes names."""
    end = field.find(b"\0")
    return (field if end < 0 else field[:end]).decode("utf-8", "surrogateescape")


def _number(field: bytes) -> int:
    """An octal number field, or GNU's base-256 (first byte 0x80 or 0xff)."""
    n = _NUMBERS.get(field)
    if n is None:
        n = _parse_number(field)
        if len(_NUMBERS) < 4096:  # modes, owners and times repeat from entry to entry
            _NUMBERS[field] = n
    return n


_NUMBERS: Dict[bytes, int] = {}


def _parse_number(field: bytes) -> int:
    first = field[0]
    if first == 0o200 or first == 0o377:
        n = int.from_bytes(field[1:], "big")
        return n - 256 ** (len(field) - 1) if first == 0o377 else n
    end = field.find(b"\0")
    try:
        return int((field if end < 0 else field[:end]).decode("ascii").strip() or "0", 8)
    except ValueError:
        raise _NoHeader("invalid header", True) from None


def _byte_sum(data: bytes) -> int:
    """The sum of the bytes of ``data`` (256 at most): the low half of its
    adler32 is 1 + that sum modulo 65521, which 256 * 255 stays below."""
    return (zlib.adler32(data) & 0xFFFF) - 1


def _padded(size: int) -> int:
    return (size + BLOCK - 1) & ~(BLOCK - 1)


def _pax_field(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("utf-8", "surrogateescape")


def _header_py(buf: bytes) -> Entry:
    """A header block parsed in Python, as tarfile's ``TarInfo.frombuf``
    (``TarReader._header`` without the native parser: for number fields
    with a sign, ``0o`` or underscores, or beyond 2**62)."""
    if buf.count(0) == BLOCK:
        raise _ZeroBlock()
    name, mode, uid, gid, size, mtime, chksum, kind, link, _un, _gn, major, minor, prefix = _HEADER.unpack(buf)
    checksum = _number(chksum)
    unsigned = 256 + _byte_sum(buf[:256]) + _byte_sum(buf[256:]) - _byte_sum(buf[148:156])
    if checksum != unsigned and checksum != 256 + sum(_SIGNED.unpack(buf)):
        raise _NoHeader("bad checksum", True)
    entry = Entry()
    entry.name = _text(name)
    entry.mode = _number(mode)
    entry.uid = _number(uid)
    entry.gid = _number(gid)
    entry.size = _number(size)
    if entry.size < 0:
        raise TarFormatError(f"{_text(name)!r}: a negative size")
    entry.mtime = _number(mtime)
    entry.type = kind
    entry.linkname = _text(link)
    entry.devmajor = _number(major)
    entry.devminor = _number(minor)
    if kind == AREGTYPE and entry.name.endswith("/"):
        entry.type = DIRTYPE  # v7: a directory is a file named with a slash
    if entry.type == DIRTYPE:
        entry.name = entry.name.rstrip("/")
    if prefix[0] and kind not in _GNU_TYPES:
        entry.name = _text(prefix) + "/" + entry.name
    return entry


class TarReader:
    """The entries of a tar stream, in order (see the module's docstring)."""

    def __init__(self, read_chunk: Callable[[], bytes]) -> None:
        self._read_chunk = read_chunk
        self._buf = b""
        self._pos = 0
        self._eof = False
        #: Bytes of the archive consumed: where the next header starts, once
        #: ``_left`` bytes of the current entry's data are skipped.
        self._offset = 0
        self._left = 0
        self._current: Optional[Entry] = None
        self._globals: Dict[str, str] = {}
        self._fields = _ffi.new("long long[]", _FIELDS)
        #: Headers read ahead in the current chunk (lc_tar_headers): the
        #: flat records, the next one's index, and the chunk they are of.
        self._ahead = _ffi.new("long long[]", _RECORD * _AHEAD)
        self._records: List[int] = []
        self._next_record = 0
        self._records_of = b""

    def __iter__(self) -> Iterator[Entry]:
        while True:
            entry = self.next()
            if entry is None:
                return
            yield entry

    def next(self) -> Optional[Entry]:
        """The next entry, or None at the end of the archive."""
        self._skip(self._left)
        self._left = 0
        self._current = None
        start = self._offset
        try:
            entry = self._member()
        except _NoHeader as e:
            if isinstance(e, _ZeroBlock) or (e.end and start > 0):
                return None
            raise TarFormatError(str(e)) from None
        self._current = entry
        return entry

    # -- the stream ---------------------------------------------------------

    def _refill(self) -> bool:
        """The next chunk as the buffer; the caller has used up the last one
        (no copy of a chunk's rest joined to the next one)."""
        if self._eof:
            return False
        chunk = self._read_chunk()
        if not chunk:
            self._eof = True
            return False
        self._buf = chunk
        self._pos = 0
        return True

    def _take(self, n: int) -> bytes:
        """``n`` bytes, or fewer at the end of the stream; only bytes that
        straddle two chunks are copied together."""
        pos = self._pos
        end = pos + n
        if end <= len(self._buf):
            self._pos = end
            self._offset += n
            return self._buf[pos:end]
        pieces = []
        while n > 0:
            avail = len(self._buf) - self._pos
            if not avail:
                if not self._refill():
                    break
                continue
            k = min(n, avail)
            pieces.append(self._buf[self._pos : self._pos + k])
            self._pos += k
            n -= k
        data = b"".join(pieces)
        self._offset += len(data)
        return data

    def _skip(self, n: int) -> None:
        self._consume(n, None)

    def _copy(self, n: int, fd: int) -> None:
        self._consume(n, fd)

    def _consume(self, n: int, fd: Optional[int]) -> None:
        """Move past ``n`` bytes of the stream, written to ``fd`` unless it is None."""
        while n > 0:
            avail = len(self._buf) - self._pos
            if not avail:
                if not self._refill():
                    raise TarFormatError("unexpected end of data")
                continue
            k = min(n, avail)
            if fd is not None:
                view = memoryview(self._buf)[self._pos : self._pos + k]
                while view:
                    view = view[os.write(fd, view) :]
            self._pos += k
            self._offset += k
            n -= k

    def data_view(self, limit: int) -> Optional[memoryview]:
        """The current entry's whole data, read in (as copy_to() would),
        when it is a plain (not sparse) file of at most ``limit`` bytes;
        else None, and nothing read."""
        entry = self._current
        if entry is None or entry.sparse is not None or entry.size > limit or not entry.has_data():
            return None
        n = min(entry.size, self._left)
        pos = self._pos
        if pos + n <= len(self._buf):
            view = memoryview(self._buf)[pos : pos + n]
            self._pos += n
            self._offset += n
        else:  # across chunks: only this file's bytes copied together
            view = memoryview(self._take(n))
            if len(view) != n:
                raise TarFormatError("unexpected end of data")
        self._left -= n
        return view

    def copy_to(self, fd: int) -> None:
        """Write the current entry's data to ``fd`` (at its offset 0)."""
        entry = self._current
        if entry is None or not entry.has_data():
            return
        if entry.sparse is None:
            n = min(entry.size, self._left)
            self._copy(n, fd)
            self._left -= n
            return
        for offset, length in entry.sparse:
            if length > self._left:
                raise TarFormatError(f"{entry.name}: a sparse map beyond the entry's data")
            if length:
                os.lseek(fd, offset, os.SEEK_SET)
                self._copy(length, fd)
                self._left -= length
        os.ftruncate(fd, entry.size)

    # -- headers --------------------------------------------------------------

    def _header(self) -> Tuple[Entry, bytes]:
        """The next header block parsed as tarfile's ``TarInfo.frombuf``,
        natively: with the headers after it in the chunk read ahead in the
        same call (lc_tar_headers), each used when the reader gets to its
        offset.  A number field only Python's ``int()`` can judge sends the
        block to ``_header_py``."""
        pos = self._pos
        i = self._next_record
        records = self._records
        if i < len(records) and records[i + 1] == pos and self._buf is self._records_of:
            self._next_record = i + _RECORD
            buf = self._take(BLOCK)
        elif pos + BLOCK <= len(self._buf):
            n = _lib.lc_tar_headers(self._buf, len(self._buf), pos, self._ahead, _AHEAD)
            records = self._records = _ffi.unpack(self._ahead, n * _RECORD)
            self._records_of = self._buf
            i, self._next_record = 0, _RECORD
            buf = self._take(BLOCK)
        else:  # across two chunks
            buf = self._take(BLOCK)
            if len(buf) != BLOCK:
                raise _NoHeader("empty header" if not buf else "truncated header", True)
            records, i = [_lib.lc_tar_header(buf, self._fields), -1, *_ffi.unpack(self._fields, _FIELDS)], 0
        status = records[i]
        if status:
            if status == _lib.LC_TAR_ZERO:
                raise _ZeroBlock()
            if status == _lib.LC_TAR_INVALID:
                raise _NoHeader("invalid header", True)
            if status == _lib.LC_TAR_CHECKSUM:
                raise _NoHeader("bad checksum", True)
            if status == _lib.LC_TAR_NEGATIVE:
                raise TarFormatError(f"{_text(buf[:100])!r}: a negative size")
            return _header_py(buf), buf
        name_len, link_len, prefix_len, mode, uid, gid, size, mtime, major, minor = records[i + 2 : i + _RECORD]
        entry = Entry()
        name = buf[:name_len].decode("utf-8", "surrogateescape")
        kind = buf[156:157]
        entry.mode = mode
        entry.uid = uid
        entry.gid = gid
        entry.size = size
        entry.mtime = mtime
        entry.type = kind
        if link_len:
            entry.linkname = buf[157 : 157 + link_len].decode("utf-8", "surrogateescape")
        entry.devmajor = major
        entry.devminor = minor
        if kind == AREGTYPE and name.endswith("/"):
            entry.type = DIRTYPE  # v7: a directory is a file named with a slash
        if entry.type == DIRTYPE:
            name = name.rstrip("/")
        if prefix_len and kind not in _GNU_TYPES:
            name = buf[345 : 345 + prefix_len].decode("utf-8", "surrogateescape") + "/" + name
        entry.name = name
        return entry, buf

    def _one_header(self) -> List[int]:
        """A record for the block at the current position (not whole in the
        buffer), without taking it."""
        pos, offset = self._pos, self._offset
        buf = self._take(BLOCK)
        if len(buf) != BLOCK:
            raise _NoHeader("empty header" if not buf else "truncated header", True)
        status = _lib.lc_tar_header(buf, self._fields)
        record = [status, -1, *_ffi.unpack(self._fields, _lib.LC_TAR_FIELDS)]
        # put the block back: the chunk now starts with it
        self._buf, self._pos, self._offset = buf + self._buf[self._pos :], 0, offset
        del pos
        return record

    def _member(self) -> Entry:
        """One entry, with the extension headers before it applied."""
        entry, buf = self._header()
        kind = entry.type
        if kind == GNU_LONGNAME or kind == GNU_LONGLINK:
            data = self._take(_padded(entry.size))
            following = self._following()
            if kind == GNU_LONGNAME:
                following.name = _text(data)
            else:
                following.linkname = _text(data)
            if following.type == DIRTYPE:
                following.name = following.name.removesuffix("/")
            return following
        if kind == GNU_SPARSE:
            return self._gnu_sparse(entry, buf)
        if kind in (PAX_EXTENDED, PAX_GLOBAL, SOLARIS_EXTENDED):
            return self._pax(entry)
        self._left = _padded(entry.size) if entry.has_data() else 0
        if self._globals:
            self._apply_pax(entry, self._globals)
        if entry.type == DIRTYPE:
            entry.name = entry.name.rstrip("/")
        return entry

    def _following(self) -> Entry:
        """The entry an extension header applies to."""
        try:
            return self._member()
        except _NoHeader as e:
            raise TarFormatError(str(e)) from None

    def _gnu_sparse(self, entry: Entry, buf: bytes) -> Entry:
        """An old GNU sparse file: its map in the header and extension blocks."""
        structs = []
        for pos in range(386, 386 + 4 * 24, 24):
            structs.append((_number(buf[pos : pos + 12]), _number(buf[pos + 12 : pos + 24])))
        extended = bool(buf[482])
        real_size = _number(buf[483:495])
        while extended:
            block = self._take(BLOCK)
            if len(block) != BLOCK:
                raise TarFormatError("unexpected end of data")
            for pos in range(0, 21 * 24, 24):
                offset, length = _number(block[pos : pos + 12]), _number(block[pos + 12 : pos + 24])
                if offset and length:
                    structs.append((offset, length))
            extended = bool(block[504])
        entry.sparse = structs
        self._left = _padded(entry.size)
        entry.size = real_size
        if self._globals:
            self._apply_pax(entry, self._globals)
        return entry

    def _pax(self, header: Entry) -> Entry:
        buf = self._take(_padded(header.size))
        records = self._globals if header.type == PAX_GLOBAL else dict(self._globals)
        charset = _PAX_CHARSET.search(buf)
        if charset is not None:
            records["hdrcharset"] = _pax_field(charset.group(1))
        pos = 0
        while match := _PAX_RECORD.match(buf, pos):
            length = int(match.group(1))
            if length == 0:
                raise TarFormatError("invalid pax header")
            keyword = _pax_field(match.group(2))
            records[keyword] = _pax_field(buf[match.end(2) + 1 : match.start(1) + length - 1])
            pos += length
        entry = self._following()
        if "GNU.sparse.map" in records:  # GNU sparse 0.1
            try:
                numbers = [int(x) for x in records["GNU.sparse.map"].split(",")]
            except ValueError:
                raise TarFormatError("invalid GNU.sparse.map") from None
            entry.sparse = list(zip(numbers[::2], numbers[1::2]))
        elif "GNU.sparse.size" in records:  # GNU sparse 0.0
            offsets = [int(m) for m in _PAX_SPARSE_OFFSET.findall(buf)]
            lengths = [int(m) for m in _PAX_SPARSE_NUMBYTES.findall(buf)]
            entry.sparse = list(zip(offsets, lengths))
        elif records.get("GNU.sparse.major") == "1" and records.get("GNU.sparse.minor") == "0":
            entry.sparse = self._sparse_map_in_data()
        if header.type != PAX_GLOBAL:
            self._apply_pax(entry, records)
            if "size" in records:
                self._left = _padded(entry.size) if entry.has_data() else 0
        return entry

    def _sparse_map_in_data(self) -> List[Tuple[int, int]]:
        """GNU sparse 1.0: the map is at the start of the entry's data, in
        decimal lines, padded to a block."""
        taken = BLOCK
        text = self._take(BLOCK)
        numbers: List[int] = []
        try:
            count, text = text.split(b"\n", 1)
            while len(numbers) < int(count) * 2:
                if b"\n" not in text:
                    more = self._take(BLOCK)
                    if not more:
                        raise TarFormatError("unexpected end of data")
                    text += more
                    taken += BLOCK
                number, text = text.split(b"\n", 1)
                numbers.append(int(number))
        except ValueError:
            raise TarFormatError("invalid GNU sparse 1.0 map") from None
        self._left -= min(taken, self._left)
        return list(zip(numbers[::2], numbers[1::2]))

    @staticmethod
    def _apply_pax(entry: Entry, records: Dict[str, str]) -> None:
        """Fields replaced by pax records, as tarfile's ``_apply_pax_info``."""
        for keyword, value in records.items():
            if keyword == "GNU.sparse.name" or keyword == "path":
                entry.name = value.rstrip("/") if keyword == "path" else value
            elif keyword in ("GNU.sparse.size", "GNU.sparse.realsize", "size"):
                try:
                    entry.size = int(value)
                except ValueError:
                    if keyword != "size":
                        raise TarFormatError(f"invalid {keyword}") from None
                    entry.size = 0
            elif keyword == "linkpath":
                entry.linkname = value
            elif keyword == "mtime":
                try:
                    entry.mtime = float(value)
                except ValueError:
                    entry.mtime = 0
            elif keyword == "uid" or keyword == "gid":
                try:
                    number = int(value)
                except ValueError:
                    number = 0
                setattr(entry, keyword, number)
        entry.pax = dict(records)
