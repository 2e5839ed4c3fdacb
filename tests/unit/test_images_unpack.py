"""Layer extraction and image sources: the parts that need no root."""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
from typing import Any, List

import pytest
from support.images import entry, layer_from_members, sha256, tar_dir, write_docker_archive, write_oci_layout

from libcontainer_py.images import ImageError, UnsafeLayerError, unpack_layer
from libcontainer_py.images import unpack as unpack_mod
from libcontainer_py.images.progress import Progress
from libcontainer_py.images.sources import open_source, read_images
from libcontainer_py.images.unpack import check_digest, entry_parts, symlink_stays_inside


def test_entry_parts() -> None:
    assert entry_parts("./etc/passwd") == ("etc", "passwd")
    assert entry_parts("etc//x/./y/") == ("etc", "x", "y")
    assert entry_parts("./") == ()
    for bad in ("/etc/passwd", "../x", "a/../../b", "a/.."):
        with pytest.raises(UnsafeLayerError):
            entry_parts(bad)


def test_symlink_targets() -> None:
    assert symlink_stays_inside(("bin", "sh"), "/bin/busybox")  # resolved in the container's root
    assert symlink_stays_inside(("usr", "lib", "x"), "../../lib/x")
    assert not symlink_stays_inside(("usr", "x"), "../../etc/shadow")
    assert not symlink_stays_inside(("x",), "..")
    assert symlink_stays_inside(("a", "b"), "c/../../d")


def test_check_digest() -> None:
    assert check_digest("sha256:" + "a" * 64)
    for bad in ("sha256:" + "A" * 64, "sha512:" + "a" * 64, "a" * 64, None, "sha256:" + "a" * 63):
        with pytest.raises(ImageError):
            check_digest(bad)


def members() -> list:
    return [
        (entry("dir", tarfile.DIRTYPE, mode=0o750), None),
        (entry("dir/file", mode=0o640), b"content"),
        (entry("dir/link", tarfile.SYMTYPE, "/dir/file"), None),
        (entry("dir/hard", tarfile.LNKTYPE, "dir/file"), None),
        (entry("replaced"), b"first"),
        (entry("replaced"), b"second"),
    ]


@pytest.mark.parametrize("compression", [None, "gzip", "zstd"])
def test_unpack_files_links_and_digests(tmp_path: Any, compression: Any) -> None:
    layer = layer_from_members(members())
    blob = layer
    if compression == "gzip":
        blob = gzip.compress(layer)
    elif compression == "zstd":
        import zstandard

        blob = zstandard.ZstdCompressor().compress(layer)
    dest = tmp_path / "layer"
    dest.mkdir()
    assert unpack_layer(io.BytesIO(blob), str(dest), digest=sha256(blob), diff_id=sha256(layer)) == sha256(layer)
    assert (dest / "dir" / "file").read_bytes() == b"content"
    assert os.stat(dest / "dir").st_mode & 0o7777 == 0o750
    assert os.stat(dest / "dir" / "file").st_mode & 0o7777 == 0o640
    assert os.readlink(dest / "dir" / "link") == "/dir/file"
    assert os.stat(dest / "dir" / "hard").st_ino == os.stat(dest / "dir" / "file").st_ino
    assert (dest / "replaced").read_bytes() == b"second"


def test_digest_mismatches(tmp_path: Any) -> None:
    layer = layer_from_members(members())
    blob = gzip.compress(layer)
    for kwargs in ({"digest": sha256(b"other")}, {"diff_id": sha256(blob)}):
        dest = tmp_path / str(len(os.listdir(tmp_path)))
        dest.mkdir()
        with pytest.raises(ImageError, match="mismatch"):
            unpack_layer(io.BytesIO(blob), str(dest), **kwargs)


def test_not_a_tar(tmp_path: Any) -> None:
    with pytest.raises(ImageError, match="not a valid tar"):
        unpack_layer(io.BytesIO(gzip.compress(b"x" * 1000)), str(tmp_path))


def test_device_nodes_need_root(tmp_path: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(unpack_mod.os, "geteuid", lambda: 1000)
    layer = layer_from_members([(entry("dev/sda", tarfile.BLKTYPE), None)])
    with pytest.raises(UnsafeLayerError, match="device nodes need root"):
        unpack_layer(io.BytesIO(layer), str(tmp_path))


def test_zstd_missing_names_the_package(tmp_path: Any, monkeypatch: Any) -> None:
    real = unpack_mod.importlib.import_module

    def no_zstd(name: str) -> Any:
        if name == "zstandard":
            raise ImportError(name)
        return real(name)

    monkeypatch.setattr(unpack_mod.importlib, "import_module", no_zstd)
    with pytest.raises(ImageError, match=r"zstandard.*libcontainer_py\[zstd\]"):
        unpack_layer(io.BytesIO(unpack_mod.ZSTD_MAGIC + b"\0" * 100), str(tmp_path))


def test_read_images_from_each_format(tmp_path: Any) -> None:
    layer = layer_from_members([(entry("hello"), b"hi")])
    config = {"Cmd": ["/hello"], "Labels": {"a": "b"}}
    digest = write_oci_layout(str(tmp_path / "layout"), [layer], config=config, ref_name="x:1")
    tar_dir(str(tmp_path / "layout"), str(tmp_path / "oci.tar"))
    write_docker_archive(str(tmp_path / "docker.tar"), [layer], config=config, tags=["x:1", "y:2"])
    for path in ("layout", "oci.tar"):
        with open_source(str(tmp_path / path)) as source:
            (image,) = read_images(source)
        assert image.digest == digest and image.names == ("x:1",) and image.diff_ids == (sha256(layer),)
        assert image.layers[0].digest is not None and image.layers[0].media_type.endswith("+gzip")
    with open_source(str(tmp_path / "docker.tar")) as source:
        (image,) = read_images(source)
    assert image.names == ("x:1", "y:2") and image.diff_ids == (sha256(layer),) and image.layers[0].digest is None


def test_bad_sources(tmp_path: Any) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageError, match="neither"), open_source(str(tmp_path / "empty")) as source:
        read_images(source)
    (tmp_path / "junk.tar").write_bytes(b"junk")
    with pytest.raises(ImageError, match="tar"):
        open_source(str(tmp_path / "junk.tar"))
    layout = str(tmp_path / "layout")
    write_oci_layout(layout, [layer_from_members([(entry("a"), b"a")])])
    index = os.path.join(layout, "index.json")
    with open(index) as f:
        text = f.read()
    with open(index, "w") as f:
        f.write(text.replace('"digest": "sha256:', '"digest": "sha256:0'))
    with pytest.raises(ImageError, match="digest"), open_source(layout) as source:
        read_images(source)


def test_progress_is_silent_without_a_terminal(capsys: Any) -> None:
    p = Progress("layer", 100)
    p.update(50)
    p.close()
    assert capsys.readouterr().err == ""
    p = Progress("layer", 100, enabled=True)
    p.update(50)
    p.close()
    assert "layer" in capsys.readouterr().err


def test_progress_goes_to_a_callback_alone(capsys: Any) -> None:
    calls: List[Any] = []
    p = Progress("layer 1/1", 100, enabled=True, callback=lambda *a: calls.append(a))
    p.update(10)
    p.update(60)  # within a tenth of a second: not reported
    p.close()
    assert calls == [("layer 1/1", 10, 100), ("layer 1/1", 60, 100)]
    assert capsys.readouterr().err == ""
    p = Progress("layer", None, callback=lambda *a: calls.append(a))
    p.update(5)
    p.close("failed")  # a failed layer gets no final call
    assert calls[2:] == [("layer", 5, None)]


def test_progress_is_a_tqdm_bar_when_tqdm_is_installed(capsys: Any) -> None:
    import tqdm  # noqa: F401  (the notebooks extra, which the test extra includes)

    p = Progress("layer 2/2", 2048, enabled=True)
    assert type(p._bar).__module__.startswith("tqdm")
    p.update(1024)
    p.close()
    err = capsys.readouterr().err
    assert "layer 2/2" in err and "2.00k" in err and "done" in err, err


def unpacked_tree(path: Any) -> dict:
    """name -> (mode, uid, gid, mtime_ns, content) of every entry under path."""
    out = {}
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            full = os.path.join(root, name)
            st = os.lstat(full)
            content = b""
            if os.path.isfile(full):
                with open(full, "rb") as f:
                    content = f.read()
            out[os.path.relpath(full, path)] = (st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, content)
    return out


def test_small_files_made_natively_as_by_the_python_path(tmp_path: Any, monkeypatch: Any) -> None:
    """lc_unpack_files (native calls, many small files each) leaves what the
    per-system-call path leaves: modes with set-id bits, owners, times (a
    pax fraction rounded the same way), a replaced file's last content."""
    owned = entry("d/setuid", mode=0o4755)
    owned.uid = owned.gid = 1000
    frac = entry("d/frac", mode=0o640)
    frac.mtime = 1700000000.123456789
    old = entry("d/old", mode=0o444)
    old.mtime = 5
    with_xattr = entry("d/xattr")
    with_xattr.pax_headers = {"SCHILY.xattr.user.test": "v"}
    layer = layer_from_members(
        [
            (entry("d", tarfile.DIRTYPE, mode=0o755), None),
            (owned, b"#!/bin/sh\n"),
            (frac, b"fraction"),
            (old, b"old"),
            (with_xattr, b"x"),
            (entry("d/replaced"), b"first"),
            (entry("d/replaced", mode=0o600), b"second"),
            (entry("d/big"), os.urandom(unpack_mod.SMALL_FILE + 1000)),
        ]
    )
    native, python = tmp_path / "native", tmp_path / "python"
    native.mkdir()
    python.mkdir()
    unpack_layer(io.BytesIO(layer), str(native))
    monkeypatch.setattr(unpack_mod, "SMALL_FILE", -1)  # every file through os.open/os.write/os.fchown...
    unpack_layer(io.BytesIO(layer), str(python))
    got = unpacked_tree(native)
    assert got == unpacked_tree(python)
    mode, uid, gid, _mtime_ns, content = got["d/setuid"]
    assert mode == 0o104755 and content == b"#!/bin/sh\n"
    assert (uid, gid) == ((1000, 1000) if os.geteuid() == 0 else (os.geteuid(), os.getegid()))
    assert got["d/frac"][3] // 10**9 == 1700000000 and got["d/frac"][3] % 10**9 > 123000000
    assert got["d/old"][0] == 0o100444 and got["d/old"][3] == 5 * 10**9
    assert got["d/replaced"][0] == 0o100600 and got["d/replaced"][4] == b"second"


@pytest.mark.parametrize(
    "case",
    ["file-then-path-through-it", "file-then-dir", "file-then-hardlink", "file-then-whiteout", "file-then-symlink"],
)
def test_batched_small_files_keep_the_order_of_entries(case: str, tmp_path: Any, monkeypatch: Any) -> None:
    """What a later entry does to an earlier small file (made later, in a
    batch) ends as when each file is made at once: an error, or a tree."""
    later = {
        "file-then-path-through-it": (entry("d/x/y"), b"under a file"),
        "file-then-dir": (entry("d/x", tarfile.DIRTYPE, mode=0o700), None),
        "file-then-hardlink": (entry("d/h", tarfile.LNKTYPE, "d/x"), None),
        "file-then-whiteout": (entry("d/.wh.x"), b""),
        "file-then-symlink": (entry("d/x", tarfile.SYMTYPE, "elsewhere"), None),
    }[case]
    members = [(entry("d", tarfile.DIRTYPE, mode=0o755), None), (entry("d/a"), b"a"), (entry("d/x"), b"x"), later]
    layer = layer_from_members(members)

    def outcome(dest: Any) -> Any:
        dest.mkdir()
        try:
            unpack_layer(io.BytesIO(layer), str(dest))
        except (ImageError, OSError) as e:
            return type(e).__name__
        tree = unpacked_tree(dest)  # a whiteout's time is when it was made
        return {n: v[:3] + v[4:] if stat.S_ISCHR(v[0]) else v for n, v in tree.items()}

    native = outcome(tmp_path / "native")
    monkeypatch.setattr(unpack_mod, "SMALL_FILE", -1)
    assert native == outcome(tmp_path / "python")
    if case == "file-then-path-through-it":
        assert native == "UnsafeLayerError"
    else:
        assert isinstance(native, dict) and native["d/a"][4] == b"a"


@pytest.mark.parametrize("name", ["d/..", "/d/y", "d/../y", "d/./../../y", "d//../y"])
def test_names_beside_a_checked_one_are_checked(name: str, tmp_path: Any) -> None:
    """A name in the directory of the entry before it has only its last
    component checked (the directory's were): '..' or an absolute name is
    refused all the same, and nothing is made outside the layer."""
    layer = layer_from_members(
        [(entry("d", tarfile.DIRTYPE, mode=0o755), None), (entry("d/x"), b"x"), (entry(name), b"y")]
    )
    dest = tmp_path / "layer"
    dest.mkdir()
    with pytest.raises(UnsafeLayerError):
        unpack_layer(io.BytesIO(layer), str(dest))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["layer"]
    assert not (tmp_path / "y").exists() and not os.path.exists("/d/y")
