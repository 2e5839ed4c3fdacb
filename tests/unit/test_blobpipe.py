"""A layer blob read, hashed and copied in one thread, decompressed in
another, while the caller unpacks it (images.blobpipe, images.unpack.unpack_blob):
the same layer whichever gzip reader is installed, every failure reported
as before, and the reading thread always ended."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import threading
import zlib
from typing import Any, Iterator, List

import pytest
from support.images import entry, layer_from_members, sha256

from libcontainer_py.images import DigestMismatchError, ImageError, UnsafeLayerError, blobpipe
from libcontainer_py.images.unpack import unpack_blob, unpack_layer


@pytest.fixture(params=["isal", "zlib"])
def gzip_reader(request: Any, monkeypatch: Any) -> str:
    """Each test once with ISA-L's gzip reader and once with the standard library's."""
    if request.param == "isal":
        pytest.importorskip("isal")  # the registry extra, which the test extra includes
    else:
        real = blobpipe.importlib.import_module

        def no_isal(name: str) -> Any:
            if name.startswith("isal"):
                raise ImportError(name)
            return real(name)

        monkeypatch.setattr(blobpipe.importlib, "import_module", no_isal)
    return str(request.param)


@pytest.fixture(autouse=True)
def no_reader_thread_left() -> Iterator[None]:
    yield
    assert not [t for t in threading.enumerate() if t.name in ("lcpy-layer-read", "lcpy-layer-inflate")]


def big_layer() -> bytes:
    """Text files (a few MB of tar, compressible) and a random one."""
    members = [(entry("d", tarfile.DIRTYPE, mode=0o755), None)]
    members += [(entry(f"d/f{i}"), (b"line %d\n" % i) * 2000) for i in range(300)]
    members.append((entry("d/random"), os.urandom(1 << 20)))
    return layer_from_members(members)


def tree(path: Any) -> dict:
    out = {}
    for root, _dirs, files in os.walk(path):
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                out[os.path.relpath(os.path.join(root, name), path)] = f.read()
    return out


def test_gzip_layer_unpacked_and_checked(gzip_reader: str, tmp_path: Any) -> None:
    layer = big_layer()
    blob = gzip.compress(layer, mtime=0)
    dest = tmp_path / "layer"
    dest.mkdir()
    seen: List[int] = []
    got = unpack_blob(io.BytesIO(blob), str(dest), digest=sha256(blob), diff_id=sha256(layer), on_read=seen.append)
    assert got == (sha256(blob), sha256(layer))
    assert seen[-1] == len(blob)
    files = tree(dest)
    assert len(files) == 301 and files["d/f7"] == b"line 7\n" * 2000


def test_the_blob_is_copied_as_read(tmp_path: Any) -> None:
    layer = big_layer()
    blob = gzip.compress(layer, mtime=0) + b"\0" * 1000  # zero padding after the gzip stream counts too
    dest = tmp_path / "layer"
    dest.mkdir()
    fd = os.open(tmp_path / "copy", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        assert unpack_blob(io.BytesIO(blob), str(dest), copy_fd=fd)[0] == sha256(blob)
    finally:
        os.close(fd)
    assert (tmp_path / "copy").read_bytes() == blob


def test_multi_member_gzip(gzip_reader: str, tmp_path: Any) -> None:
    layer = big_layer()
    half = len(layer) // 2
    blob = gzip.compress(layer[:half]) + gzip.compress(layer[half:])
    assert unpack_layer(io.BytesIO(blob), str(tmp_path), diff_id=sha256(layer)) == sha256(layer)


@pytest.mark.parametrize("damage", ["truncated", "crc", "deflate", "trailing-garbage"])
def test_a_damaged_gzip_stream_is_an_image_error(damage: str, gzip_reader: str, tmp_path: Any) -> None:
    blob = gzip.compress(big_layer(), mtime=0)
    damaged = {
        "truncated": blob[: len(blob) // 2],
        "crc": blob[:-8] + b"\0\0\0\0" + blob[-4:],
        "deflate": blob[:100] + b"\xff" * 64 + blob[164:],
        "trailing-garbage": blob + b"garbage!",
    }[damage]
    with pytest.raises(ImageError) as info:
        unpack_layer(io.BytesIO(damaged), str(tmp_path))
    assert "not a valid tar stream" in str(info.value) or "mismatch" in str(info.value)
    assert not isinstance(info.value, DigestMismatchError)  # no digest given: nothing to compare


def test_a_damaged_blob_with_a_digest_is_a_digest_mismatch(gzip_reader: str, tmp_path: Any) -> None:
    """However the damage breaks the unpacking, the rest of the blob is
    read and its digest compared: the registry sent something else."""
    blob = gzip.compress(big_layer(), mtime=0)
    damaged = blob[:100] + b"\xff" * 64 + blob[164:]
    with pytest.raises(DigestMismatchError, match=f"expected {sha256(blob)}") as info:
        unpack_blob(io.BytesIO(damaged), str(tmp_path), digest=sha256(blob))
    assert isinstance(info.value.__cause__, ImageError)


def test_an_unsafe_entry_early_in_a_big_layer(tmp_path: Any) -> None:
    """The unpacking stops at once; the reading thread, blocked on a full
    queue, is stopped too, and the error is the unsafe entry."""
    members = [(entry("/etc/passwd"), b"x")] + [(entry(f"f{i}"), os.urandom(1 << 20)) for i in range(20)]
    layer = layer_from_members(members)
    with pytest.raises(UnsafeLayerError, match="absolute"):
        unpack_blob(io.BytesIO(layer), str(tmp_path), digest=sha256(layer))


@pytest.mark.parametrize("with_digest", [False, True])
def test_a_deflate_error_early_in_a_big_blob(with_digest: bool, tmp_path: Any) -> None:
    """The inflating thread fails at once while the reading one still has
    megabytes to read (more than its queue holds): both end, and with a
    digest the rest is read and compared."""
    members = [(entry(f"f{i}"), os.urandom(1 << 20)) for i in range(24)]
    blob = gzip.compress(layer_from_members(members), compresslevel=1, mtime=0)
    assert len(blob) > blobpipe.DEPTH * blobpipe.CHUNK * 2
    damaged = blob[:100] + b"\xff" * 64 + blob[164:]
    expected = DigestMismatchError if with_digest else ImageError
    with pytest.raises(expected):
        unpack_blob(io.BytesIO(damaged), str(tmp_path), digest=sha256(blob) if with_digest else None)


class Broken(io.RawIOBase):
    """A download that breaks after ``good`` bytes."""

    def __init__(self, data: bytes, good: int) -> None:
        self.data = io.BytesIO(data)
        self.good = good

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.data.tell() >= self.good:
            raise ConnectionResetError("the registry went away")
        chunk = self.data.read(min(len(buffer), 65536))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_a_broken_download_is_raised_as_it_is(tmp_path: Any) -> None:
    blob = gzip.compress(big_layer(), mtime=0)
    with pytest.raises(ConnectionResetError, match="went away"):
        unpack_blob(Broken(blob, len(blob) // 2), str(tmp_path), digest=sha256(blob))


def test_a_progress_callback_can_stop_the_download(tmp_path: Any) -> None:
    blob = gzip.compress(big_layer(), mtime=0)

    def stop(n: int) -> None:
        if n > 100_000:
            raise ImageError("download stopped (another layer failed)")

    with pytest.raises(ImageError, match="download stopped"):
        unpack_blob(io.BytesIO(blob), str(tmp_path), digest=sha256(blob), on_read=stop)


def test_the_reading_thread_ends_when_the_caller_is_interrupted(tmp_path: Any, monkeypatch: Any) -> None:
    """A KeyboardInterrupt while files are made ends the reading thread too."""
    from libcontainer_py.images import unpack

    real = unpack._Layer.add
    calls = []

    def interrupted(self: Any, item: Any) -> None:
        calls.append(item)
        if len(calls) == 3:
            raise KeyboardInterrupt
        real(self, item)

    monkeypatch.setattr(unpack._Layer, "add", interrupted)
    with pytest.raises(KeyboardInterrupt):
        unpack_blob(io.BytesIO(gzip.compress(big_layer())), str(tmp_path))


def test_deflate_errors_are_known(gzip_reader: str) -> None:
    assert zlib.error in blobpipe.decompression_errors()
    if gzip_reader == "isal":
        from isal import isal_zlib

        assert isal_zlib.error in blobpipe.decompression_errors()


def test_an_empty_layer(gzip_reader: str, tmp_path: Any) -> None:
    """1024 zero bytes, gzipped: the empty layer of Docker's ENV and WORKDIR steps."""
    layer = bytes(1024)
    blob = gzip.compress(layer)
    assert unpack_blob(io.BytesIO(blob), str(tmp_path), digest=sha256(blob), diff_id=sha256(layer)) == (
        sha256(blob),
        sha256(layer),
    )
    assert os.listdir(tmp_path) == []
