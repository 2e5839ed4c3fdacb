"""The streaming tar reader reads every archive as Python's tarfile does:
each entry's fields and data compared, for archives written by tarfile
(ustar, GNU and pax formats) and by GNU tar (v7, old GNU, sparse files in
every GNU sparse format), fed in chunks of odd sizes."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from libcontainer_py.images.tarstream import BLOCK, TarFormatError, TarReader

FIELDS = ("name", "type", "mode", "uid", "gid", "size", "mtime", "linkname", "devmajor", "devminor")


def chunks_of(data: bytes, size: int) -> Callable[[], bytes]:
    stream = io.BytesIO(data)
    return lambda: stream.read(size)


def with_tarfile(data: bytes) -> List[Dict[str, Any]]:
    out = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|") as tar:
        for m in tar:
            item = {f: getattr(m, f) for f in FIELDS}
            item["pax"] = dict(m.pax_headers)
            item["sparse"] = [tuple(s) for s in m.sparse] if m.sparse is not None else None
            f = tar.extractfile(m) if m.isreg() else None
            item["data"] = f.read() if f is not None else None
            out.append(item)
    return out


def with_reader(data: bytes, chunk: int, tmp_path: Any) -> List[Dict[str, Any]]:
    out = []
    reader = TarReader(chunks_of(data, chunk))
    for i, entry in enumerate(reader):
        item = {f: getattr(entry, f) for f in FIELDS}
        item["pax"] = entry.pax
        item["sparse"] = entry.sparse
        item["data"] = None
        if entry.isreg():
            path = tmp_path / f"data{chunk}-{i}"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                reader.copy_to(fd)
            finally:
                os.close(fd)
            item["data"] = path.read_bytes()
        out.append(item)
    return out


def same_as_tarfile(data: bytes, tmp_path: Any) -> List[Dict[str, Any]]:
    expected = with_tarfile(data)
    for chunk in (1, 7, 512, 1000, 1 << 20):
        assert with_reader(data, chunk, tmp_path) == expected, f"chunks of {chunk}"
    return expected


def info(name: str, kind: bytes = tarfile.REGTYPE, **fields: Any) -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type = kind
    for key, value in fields.items():
        setattr(member, key, value)
    return member


def archive(fmt: int, members: List[Tuple[tarfile.TarInfo, Optional[bytes]]], **kwargs: Any) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt, **kwargs) as tar:
        for member, content in members:
            if content is not None:
                member.size = len(content)
            tar.addfile(member, io.BytesIO(content) if content is not None else None)
    return buf.getvalue()


def members(fmt: int) -> List[Tuple[tarfile.TarInfo, Optional[bytes]]]:
    long_dir = "/".join(["d" * 50] * 3)
    out: List[Tuple[tarfile.TarInfo, Optional[bytes]]] = [
        (info("dir/", tarfile.DIRTYPE, mode=0o750, uid=1000, gid=100, mtime=1_700_000_000), None),
        (info("dir/file", mode=0o640, uid=1, gid=2, mtime=12345), b"content"),
        (info("dir/empty"), b""),
        (info("dir/block", mode=0o600), bytes(range(256)) * 4),  # exactly two blocks
        (info("dir/odd"), os.urandom(1537)),
        (info("dir/sym", tarfile.SYMTYPE, linkname="../etc/passwd"), None),
        (info("dir/hard", tarfile.LNKTYPE, linkname="dir/file"), None),
        (info("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666), None),
        (info("dev/sda", tarfile.BLKTYPE, devmajor=8, devminor=0), None),
        (info("fifo", tarfile.FIFOTYPE), None),
        (info(f"{long_dir}/x", mode=0o755), b"deep"),  # ustar: prefix + name
        (info("./dot/./name"), b"dot"),
        (info("etc/.wh.gone"), b""),
    ]
    if fmt != tarfile.USTAR_FORMAT:
        out += [
            (info("l" * 300), b"a long name"),
            (info("s", tarfile.SYMTYPE, linkname="t" * 200), None),
            (info("big-ids", uid=3_000_000, gid=2**31, mtime=2**34), b"ids"),
        ]
    if fmt == tarfile.PAX_FORMAT:
        xattrs = {"SCHILY.xattr.user.k": "v", "SCHILY.xattr.security.capability": "\x01\x02"}
        out += [
            (info("naïve-ünïcode"), b"utf-8"),
            (info("xattrs", pax_headers=xattrs), b"x"),
            (info("frac", mtime=1_700_000_000.25), b"fractional mtime"),
        ]
    return out


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_python_archives_read_as_tarfile_reads_them(fmt: int, tmp_path: Any) -> None:
    data = archive(fmt, members(fmt))
    read = same_as_tarfile(data, tmp_path)
    assert len(read) == len(members(fmt))


def test_global_pax_headers_apply_to_every_later_entry(tmp_path: Any) -> None:
    data = archive(tarfile.PAX_FORMAT, members(tarfile.PAX_FORMAT), pax_headers={"comment": "hi", "uid": "7"})
    read = same_as_tarfile(data, tmp_path)
    assert all(r["pax"]["comment"] == "hi" for r in read)
    assert {r["uid"] for r in read if "uid" not in r["pax"] or r["pax"]["uid"] == "7"} == {7}


def test_pax_records_replace_fields(tmp_path: Any) -> None:
    records = {"path": "from/pax/", "linkpath": "target", "uid": "x", "mtime": "12.5", "size": "3"}
    member = info("short", tarfile.SYMTYPE, pax_headers=records)
    data = archive(tarfile.PAX_FORMAT, [(member, None), (info("after"), b"abc")])
    read = same_as_tarfile(data, tmp_path)
    assert (read[0]["name"], read[0]["linkname"], read[0]["uid"], read[0]["mtime"]) == ("from/pax", "target", 0, 12.5)


def test_an_empty_archive_is_no_error(tmp_path: Any) -> None:
    """Zeros from the start: an empty layer (Docker's for ENV, WORKDIR...)."""
    for data in (bytes(2 * BLOCK), bytes(20 * BLOCK), bytes(BLOCK)):
        assert same_as_tarfile(data, tmp_path) == []


def test_end_of_archive(tmp_path: Any) -> None:
    data = archive(tarfile.USTAR_FORMAT, [(info("a"), b"1")])
    assert len(same_as_tarfile(data + b"trailing garbage after the end", tmp_path)) == 1
    garbage_header = data[: 2 * BLOCK] + b"x" * BLOCK  # after the first entry: the end, as tarfile reads it
    assert len(same_as_tarfile(garbage_header, tmp_path)) == 1


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"x" * 100, id="short"),
        pytest.param(b"x" * 1024, id="not-a-header"),
    ],
)
def test_not_a_tar(data: bytes, tmp_path: Any) -> None:
    with pytest.raises(tarfile.ReadError):
        with_tarfile(data)
    with pytest.raises(TarFormatError):
        with_reader(data, 512, tmp_path)


def test_cut_short(tmp_path: Any) -> None:
    data = archive(tarfile.PAX_FORMAT, [(info("a"), os.urandom(5000)), (info("b"), b"2")])
    for end in (BLOCK + 100, BLOCK + 5000):  # in the first entry's data, in its padding
        with pytest.raises(tarfile.ReadError):
            with_tarfile(data[:end])
        with pytest.raises(TarFormatError, match="unexpected end"):
            with_reader(data[:end], 512, tmp_path)
    long_name = archive(tarfile.GNU_FORMAT, [(info("n" * 300), b"x")])
    with pytest.raises(TarFormatError):  # an extension header with nothing after it
        with_reader(long_name[: 3 * BLOCK], 512, tmp_path)


def test_negative_size_is_refused(tmp_path: Any) -> None:
    header = bytearray(archive(tarfile.GNU_FORMAT, [(info("neg"), b"")])[:BLOCK])
    header[124:136] = b"\xff" * 12  # base-256: -1
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header)
    with pytest.raises(TarFormatError, match="negative"):
        with_reader(bytes(header) + bytes(2 * BLOCK), 512, tmp_path)


def gnu_tar(tmp_path: Any, *options: str) -> bytes:
    """A GNU tar archive of a directory holding a sparse file, a long name
    and a hard link, written with ``options``."""
    src = tmp_path / "src"
    if not src.exists():
        src.mkdir()
        with open(src / "sparse", "wb") as f:
            for i in range(40):  # 40 data segments (more than one extension block's worth)
                f.seek(i * 16384)
                f.write(b"segment %d " % i * 30)
            f.truncate(40 * 16384 + 12345)
        (src / ("n" * 150)).write_bytes(b"long")
        os.link(src / "sparse", src / "hard")
        os.symlink("sparse", src / "sym")
        (src / "sub").mkdir()
    out = tmp_path / "out.tar"
    subprocess.run(["tar", "-C", str(src), "-cf", str(out), *options, "."], check=True)
    return out.read_bytes()


@pytest.mark.skipif(shutil.which("tar") is None, reason="GNU tar")
@pytest.mark.parametrize(
    "options",
    [
        ("--format=gnu", "--sparse"),
        ("--format=oldgnu", "--sparse"),
        ("--format=posix", "--sparse", "--sparse-version=0.0"),
        ("--format=posix", "--sparse", "--sparse-version=0.1"),
        ("--format=posix", "--sparse", "--sparse-version=1.0"),
        ("--format=v7",),
        ("--format=ustar",),
    ],
    ids=lambda o: " ".join(o),
)
def test_gnu_tar_archives_read_as_tarfile_reads_them(options: Tuple[str, ...], tmp_path: Any) -> None:
    if "v7" in options[0] or "ustar" in options[0]:
        (tmp_path / "src").mkdir()
        (tmp_path / "src" / "dir").mkdir()
        (tmp_path / "src" / "dir" / "file").write_bytes(b"v7")
        subprocess.run(["tar", "-C", str(tmp_path / "src"), "-cf", str(tmp_path / "o.tar"), *options, "."], check=True)
        data = (tmp_path / "o.tar").read_bytes()
    else:
        data = gnu_tar(tmp_path, *options)
    read = same_as_tarfile(data, tmp_path)
    sparse = [r for r in read if r["name"].endswith("sparse")]
    if sparse:
        with open(tmp_path / "src" / "sparse", "rb") as f:
            assert sparse[0]["data"] == f.read()
        if "--sparse" in options:
            assert sparse[0]["sparse"]


_NAME_PART = st.text(alphabet="abcé._-", min_size=1, max_size=40).filter(lambda p: p not in (".", ".."))
_MEMBER = st.tuples(
    st.lists(_NAME_PART, min_size=1, max_size=6).map("/".join),
    st.sampled_from([tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.FIFOTYPE]),
    st.binary(max_size=2000),
    st.integers(0, 2**21 - 1),  # uid and gid (7 octal digits: any format)
    st.integers(0, 2**33 - 1),  # mtime (11 octal digits)
    st.integers(0, 0o7777),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fmt=st.sampled_from([tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT]),
    specs=st.lists(_MEMBER, max_size=12),
    chunk=st.integers(1, 2000),
)
def test_any_archive_reads_as_tarfile_reads_it(fmt: int, specs: List[Any], chunk: int, tmp_path: Any) -> None:
    entries: List[Tuple[tarfile.TarInfo, Optional[bytes]]] = []
    for name, kind, data, owner, mtime, mode in specs:
        if fmt == tarfile.USTAR_FORMAT and (len(name.encode()) > 100 or not name.isascii()):
            name = name.encode("ascii", "replace").decode()[:100]
        member = info(
            name, kind, uid=owner, gid=owner, mtime=mtime, mode=mode, linkname="t" if kind in (b"1", b"2") else ""
        )
        entries.append((member, data if kind == tarfile.REGTYPE else None))
    try:
        data = archive(fmt, entries)
    except ValueError:  # a name ustar cannot hold
        return
    expected = with_tarfile(data)
    assert with_reader(data, chunk, tmp_path) == expected
