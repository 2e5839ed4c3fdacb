"""The native header parser (lc_tar_header, behind TarReader._header) reads
each header block as Python's tarfile reads it: the edge cases of the
header format, each archive compared entry by entry with tarfile's reading
(tests/unit/test_tarstream.py compares whole archives), and each block
compared with the Python parser it falls back to."""

from __future__ import annotations

import io
import random
import tarfile
from typing import Any, Dict, List

import pytest
from libcontainer_py._lcnative import ffi, lib

from libcontainer_py.images import tarstream
from libcontainer_py.images.tarstream import BLOCK, TarFormatError, TarReader

FIELDS = ("name", "type", "mode", "uid", "gid", "size", "mtime", "linkname", "devmajor", "devminor")


def block(name: str = "file", **fields: Any) -> bytearray:
    """A ustar header block written by tarfile."""
    member = tarfile.TarInfo(name)
    for key, value in fields.items():
        setattr(member, key, value)
    return bytearray(member.tobuf(tarfile.USTAR_FORMAT))


def seal(header: bytearray, *, signed: bool = False) -> bytes:
    """The block with its checksum field rewritten: the unsigned sum of its
    bytes (the checksum field as spaces), or the signed one."""
    header[148:156] = b" " * 8
    total = 256 + sum((b - 256 if b > 127 else b) if signed else b for i, b in enumerate(header) if not 148 <= i < 156)
    header[148:156] = b"%06o\0 " % (total & 0o777777) if total >= 0 else b"-%05o\0 " % -total
    return bytes(header)


def number_field(header: bytearray, offset: int, length: int, text: bytes) -> bytearray:
    header[offset : offset + length] = text.ljust(length, b"\0")[:length]
    return header


def tarfile_entries(data: bytes) -> List[Dict[str, Any]]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|") as tar:
        return [{f: getattr(m, f) for f in FIELDS} for m in tar]


def reader_entries(data: bytes) -> List[Dict[str, Any]]:
    stream = io.BytesIO(data)
    return [{f: getattr(e, f) for f in FIELDS} for e in TarReader(lambda: stream.read(700))]


def same_as_tarfile(data: bytes) -> List[Dict[str, Any]]:
    expected = tarfile_entries(data)
    assert reader_entries(data) == expected
    return expected


def parsed(header: bytes) -> Dict[str, Any]:
    """The Python parser's reading of one block (its error when it raises), to
    compare the native one with."""
    try:
        entry = tarstream._header_py(header)
    except (TarFormatError, tarstream._NoHeader) as e:
        return {"error": str(e)}
    return {f: getattr(entry, f) for f in FIELDS}


def natively(header: bytes) -> Dict[str, Any]:
    reader = TarReader(iter([header, b""]).__next__)
    try:
        entry, _buf = reader._header()
    except (TarFormatError, tarstream._NoHeader) as e:
        return {"error": str(e)}
    return {f: getattr(entry, f) for f in FIELDS}


END = bytes(2 * BLOCK)
FIRST = bytes(block("first", size=3)) + b"abc".ljust(BLOCK, b"\0")


def test_signed_checksum_is_accepted() -> None:
    """Old tars summed signed bytes: a name with bytes above 127 makes the
    signed sum differ from the unsigned one."""
    header = seal(block("naïve-é"), signed=True)
    assert lib.lc_tar_header(header, ffi.new("long long[]", lib.LC_TAR_FIELDS)) == lib.LC_TAR_OK
    assert same_as_tarfile(header + END)[0]["name"] == "naïve-é"
    assert natively(header) == parsed(header)


def test_bad_checksum() -> None:
    header = bytearray(seal(block("x")))
    header[0] ^= 1  # the name changed, the checksum not
    with pytest.raises(tarfile.ReadError, match="bad checksum"):
        tarfile_entries(bytes(header) + END)
    with pytest.raises(TarFormatError, match="bad checksum"):
        reader_entries(bytes(header) + END)
    assert len(same_as_tarfile(FIRST + bytes(header) + END)) == 1  # after the first entry: the end
    assert natively(bytes(header)) == parsed(bytes(header)) == {"error": "bad checksum"}


@pytest.mark.parametrize(
    "offset,length,field,value",
    [
        (108, 8, "uid", b"\x80\0\0\0\x7f\xff\xff\xff"),
        (116, 8, "gid", b"\x80\x01\x02\x03\x04\x05\x06\x07"),
        (124, 12, "size", b"\x80" + (1000).to_bytes(11, "big")),
        (136, 12, "mtime", b"\x80" + (2**40).to_bytes(11, "big")),
        (136, 12, "mtime", b"\xff" + (2**88 - 5).to_bytes(11, "big")),  # -5
        (136, 12, "mtime", b"\x80" + (2**80).to_bytes(11, "big")),  # beyond 2**62: the Python parser's
        (136, 12, "mtime", b"\xff" + (1).to_bytes(11, "big")),  # below -2**62
        (100, 8, "mode", b"\xff" * 8),  # -1
    ],
)
def test_base256_numbers(offset: int, length: int, field: str, value: bytes) -> None:
    header = block("big", size=0)
    header[offset : offset + length] = value
    data = seal(header) + bytes(1024 * BLOCK)  # the data of a size up to 1000, then the end
    assert reader_entries(data)[0] == tarfile_entries(data)[0]
    assert natively(seal(header)) == parsed(seal(header))


def test_negative_size() -> None:
    header = block("neg")
    header[124:136] = b"\xff" * 12
    data = seal(header)
    assert natively(data) == parsed(data) == {"error": "'neg': a negative size"}
    with pytest.raises(TarFormatError, match="negative"):
        reader_entries(data + END)


@pytest.mark.parametrize(
    "text",
    [
        b"0000644",  # the usual
        b"644",
        b"  644  ",
        b"\t644\x1c",  # Python's whitespace, stripped
        b"644\0garbage",  # up to the NUL
        b"",  # nothing: 0
        b"       ",  # only spaces: 0
        b"+644",  # int() takes a sign, 0o, underscores: the Python parser's
        b"0o644",
        b"6_4_4",
        b"-7",
        b"+-7",  # int() refuses these: an invalid header
        b"6 4",
        b"648",
        b"\xe9",
        b"x",
    ],
)
def test_octal_numbers(text: bytes) -> None:
    header = seal(number_field(block("mode"), 100, 8, text))
    assert natively(header) == parsed(header)
    try:
        expected = tarfile_entries(header + END)
    except tarfile.ReadError:
        with pytest.raises(TarFormatError, match="invalid header"):
            reader_entries(header + END)
        assert len(same_as_tarfile(FIRST + header + END)) == 1  # after the first entry: the end
    else:
        assert reader_entries(header + END) == expected


def test_invalid_checksum_field() -> None:
    header = block("c")
    header[148:156] = b"zzzzzz\0 "
    data = bytes(header)
    assert natively(data) == parsed(data) == {"error": "invalid header"}
    with pytest.raises(TarFormatError, match="invalid header"):
        reader_entries(data + END)


def test_prefix_field() -> None:
    """ustar's prefix (155 bytes) and name: joined with a slash, but not for
    GNU's extension headers, which use those bytes otherwise."""
    deep = "/".join(["p" * 60] * 2) + "/" + "n" * 90
    header = block(deep, size=2)
    assert header[345] != 0  # the prefix field is used
    data = bytes(header) + b"hi".ljust(BLOCK, b"\0")
    assert same_as_tarfile(data + END)[0]["name"] == deep
    assert natively(bytes(header)) == parsed(bytes(header))
    full = block("d", type=tarfile.DIRTYPE)
    full[0:100] = b"d" * 100  # a 100-byte name: no NUL in its field
    full[345:500] = b"q" * 155  # and a 155-byte prefix
    assert same_as_tarfile(seal(full) + END)[0]["name"] == "q" * 155 + "/" + "d" * 100
    assert natively(seal(full)) == parsed(seal(full))


def test_v7_directory() -> None:
    """A v7 header: type NUL, no magic; a name ending with a slash is a directory."""
    header = block("olddir/", mode=0o755)
    header[156:157] = b"\0"
    header[257:265] = bytes(8)  # no "ustar" magic
    data = seal(header)
    read = same_as_tarfile(data + END)
    assert (read[0]["name"], read[0]["type"]) == ("olddir", tarfile.DIRTYPE)
    assert natively(data) == parsed(data)
    plain = block("oldfile", size=1)
    plain[156:157] = b"\0"
    assert same_as_tarfile(seal(plain) + b"x".ljust(BLOCK, b"\0") + END)[0]["type"] == tarfile.AREGTYPE


def test_links_and_devices() -> None:
    for header in (
        block("l", type=tarfile.SYMTYPE, linkname="t" * 100),  # a linkname filling its field
        block("h", type=tarfile.LNKTYPE, linkname="x/ÿ"),
        block("c", type=tarfile.CHRTYPE, devmajor=0o7777777, devminor=1),
    ):
        assert same_as_tarfile(bytes(header) + END)
        assert natively(bytes(header)) == parsed(bytes(header))


def test_zero_block() -> None:
    assert natively(bytes(BLOCK)) == parsed(bytes(BLOCK)) == {"error": "end of file header"}


def test_random_blocks_read_as_the_python_parser_reads_them() -> None:
    """Blocks of a real header with bytes changed here and there, checksum
    resealed: whatever each field holds, both parsers agree."""

    rng = random.Random(7)
    base = block("dir/name", size=100, uid=1000, gid=1000, mtime=1_700_000_000, linkname="ln")
    charset = b"01234567 \0\t+-_oO89x\x80\xff"
    seen = set()
    for _ in range(3000):
        header = bytearray(base)
        for _ in range(rng.randint(1, 6)):
            header[rng.choice(range(100, 345))] = rng.choice(charset)
        data = seal(header, signed=rng.random() < 0.2)
        native, python = natively(data), parsed(data)
        assert native == python, bytes(header[100:160])
        seen.add(str(native.get("error")) if native else "")
    assert {"invalid header", "None"} <= seen  # both outcomes were exercised


@pytest.mark.parametrize("ustar_size", [10, 5000])
def test_headers_read_ahead_where_a_pax_size_moves_the_next_one(ustar_size: int) -> None:
    """Headers are read ahead at the offsets their size fields announce; a
    pax size record moves the next header elsewhere (and the guessed offset
    may hold data that looks like anything): read as tarfile reads it."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        member = tarfile.TarInfo("moved")
        member.size, member.pax_headers = 700, {"size": "700"}
        inner = tarfile.TarInfo("inner")  # a header inside the data, where the ustar size points
        inner.size = 0
        tar.addfile(member, io.BytesIO(bytes(512 - 0) + inner.tobuf(tarfile.USTAR_FORMAT)[:188]))
        for i in range(5):
            tar.addfile(tarfile.TarInfo(f"after{i}"), io.BytesIO(b""))
    data = bytearray(buf.getvalue())
    header = data.index(b"moved\0") // BLOCK * BLOCK  # the ustar header after the pax one
    data[header : header + BLOCK] = seal(number_field(data[header : header + BLOCK], 124, 12, b"%011o" % ustar_size))
    read = same_as_tarfile(bytes(data))
    assert [r["name"] for r in read] == ["moved"] + [f"after{i}" for i in range(5)]
    assert read[0]["size"] == 700
