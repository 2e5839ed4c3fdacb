"""The image store, for real: archives built here from a busybox rootfs are
imported, run on an overlay of their layers, shared, garbage-collected;
malicious layers are refused without touching anything outside the store."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
import textwrap
import time
from typing import Any, Dict, List, Tuple

import pytest
from support.busybox import make_rootfs
from support.images import (
    entry,
    layer_from_dir,
    layer_from_members,
    tar_dir,
    write_docker_archive,
    write_oci_layout,
)

import libcontainer_py as lc
from libcontainer_py.images import ImageError, ImageNotFound, ImageStore, UnsafeLayerError, config_from_image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = {
    "Entrypoint": ["/bin/sh", "-c"],
    "Cmd": ['echo "$GREETING from $(pwd) as $(id -u):$(id -g)"'],
    "Env": ["GREETING=hello", "PATH=/bin:/usr/bin"],
    "WorkingDir": "/srv",
    "User": "user",
    "Labels": {"org.example.role": "test"},
}


@pytest.fixture(scope="module")
def layers(tmp_path_factory: Any) -> Tuple[bytes, bytes]:
    """Layer 1: busybox, /etc/motd, /data/{old,keep}.  Layer 2 deletes
    /etc/group (whiteout), replaces /etc/motd, makes /data opaque with only
    /data/new in it, adds /srv."""
    tmp = tmp_path_factory.mktemp("layers")
    base = make_rootfs(str(tmp / "base"))
    (tmp / "base" / "etc" / "motd").write_text("base\n")
    (tmp / "base" / "data").mkdir()
    (tmp / "base" / "data" / "old").write_text("old\n")
    (tmp / "base" / "data" / "keep").write_text("keep\n")
    top = tmp / "top"
    (top / "etc").mkdir(parents=True)
    (top / "etc" / ".wh.group").write_text("")
    (top / "etc" / "motd").write_text("top\n")
    (top / "data").mkdir()
    (top / "data" / ".wh..wh..opq").write_text("")
    (top / "data" / "new").write_text("new\n")
    (top / "srv").mkdir()
    return layer_from_dir(base), layer_from_dir(str(top))


def expected_files(base_layer: bytes) -> List[str]:
    """What the container's root must hold: layer 1 with layer 2 applied."""
    import io

    with tarfile.open(fileobj=io.BytesIO(base_layer)) as tar:
        names = {"/" + m.name for m in tar.getmembers()}
    names -= {"/etc/group", "/data/old", "/data/keep"}
    names |= {"/data/new", "/srv", "/"}
    return sorted(names)


def run(config: lc.Config, script: str) -> str:
    r = lc.run(["sh", "-c", script], config=config, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def bb(store: ImageStore, ref: Any, **kwargs: Any) -> lc.Config:
    return lc.Config(rootfs=store.rootfs(ref, **kwargs), process=lc.Process(args=["true"]))


def tree(path: str) -> Dict[str, Tuple[int, int, str]]:
    """Every entry under path: (mode, mtime_ns, sha256 of a file's content)."""
    out = {}
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            full = os.path.join(root, name)
            st = os.lstat(full)
            digest = ""
            if os.path.isfile(full) and not os.path.islink(full):
                with open(full, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
            out[os.path.relpath(full, path)] = (st.st_mode, st.st_mtime_ns, digest)
    return out


def layer_dirs(store: ImageStore) -> Dict[str, Tuple[int, int]]:
    base = os.path.join(store.root, "layers", "sha256")
    stats = {n: os.stat(os.path.join(base, n)) for n in os.listdir(base)}
    return {n: (st.st_ino, st.st_mtime_ns) for n, st in stats.items()}


@pytest.fixture(params=["oci-layout", "oci-archive", "docker-archive", "oci-zstd"])
def source(request: Any, layers: Tuple[bytes, bytes], tmp_path: Any) -> str:
    kind = request.param
    if kind == "docker-archive":
        write_docker_archive(str(tmp_path / "img.tar"), layers, config=CONFIG, tags=["test:latest"])
        return str(tmp_path / "img.tar")
    if kind == "oci-zstd":
        import zstandard  # noqa: F401  (a test dependency)
    layout = str(tmp_path / "layout")
    write_oci_layout(layout, layers, config=CONFIG, compression="zstd" if kind == "oci-zstd" else "gzip")
    return tar_dir(layout, str(tmp_path / "img.oci.tar")) if kind == "oci-archive" else layout


def test_import_and_run_shows_exactly_the_right_files(source: str, layers: Any, tmp_path: Any) -> None:
    store = ImageStore(str(tmp_path / "store"))
    image = store.import_archive(source)
    assert image.names == ("test:latest",) and len(image.layers) == 2
    assert store.get("test") == image == store.get(image.digest) == store.get(image.short_id)
    out = run(bb(store, "test"), "cat /etc/motd /data/new; find / -xdev | sort")
    lines = out.splitlines()
    assert lines[:2] == ["top", "new"]
    assert lines[2:] == expected_files(layers[0])
    # The layers are stored as overlay reads them: a whiteout device, an opaque dir.
    top = store.layer_path(image.layers[1])
    st = os.lstat(os.path.join(top, "etc", "group"))
    assert os.major(st.st_rdev) == 0 and os.minor(st.st_rdev) == 0 and (st.st_mode & 0o170000) == 0o020000
    assert os.getxattr(os.path.join(top, "data"), "trusted.overlay.opaque") == b"y"
    assert os.listdir(os.path.join(store.root, "tmp")) == []


def test_config_from_image(layers: Any, tmp_path: Any) -> None:
    write_oci_layout(str(tmp_path / "layout"), layers, config=CONFIG)
    store = ImageStore(str(tmp_path / "store"))
    image = store.import_layout(str(tmp_path / "layout"))
    config = config_from_image(store, image)
    assert config.process.user == lc.User(1000, 1000)  # "user" from the image's /etc/passwd
    assert config.process.env["GREETING"] == "hello" and config.process.cwd == "/srv"
    r = lc.run(config=config, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello from /srv as 1000:1000\n"
    over = config_from_image(store, image, cmd=["echo $GREETING"], env={"GREETING": "bye"}, user="0:0", hostname="h")
    assert lc.run(config=over, capture_output=True, text=True, timeout=30).stdout == "bye\n"
    assert config_from_image(store, image, entrypoint=["/bin/echo"]).process.args == ("/bin/echo",)
    assert store.labels(image) == {"org.example.role": "test"}
    with pytest.raises(lc.ConfigError, match="no group 'wheel'"):  # layer 2 deleted /etc/group
        config_from_image(store, image, user="user:wheel")


def test_second_import_unpacks_nothing(layers: Any, tmp_path: Any) -> None:
    archive = str(tmp_path / "a.tar")
    write_docker_archive(archive, layers, tags=["a:1"])
    store = ImageStore(str(tmp_path / "store"))
    first = store.import_archive(archive)
    before = layer_dirs(store)
    assert len(before) == 2
    # Again, and a second image sharing the base layer under another name.
    assert store.import_archive(archive) == first
    write_docker_archive(str(tmp_path / "b.tar"), layers[:1], tags=["b:1"])
    second = store.import_archive(str(tmp_path / "b.tar"))
    assert layer_dirs(store) == before  # same inodes, same mtimes: nothing unpacked again
    assert second.layers == first.layers[:1]
    assert [i.names for i in store.list()] == [("a:1",), ("b:1",)]


def test_writes_are_invisible_to_the_image_and_other_containers(layers: Any, tmp_path: Any) -> None:
    write_oci_layout(str(tmp_path / "layout"), layers)
    store = ImageStore(str(tmp_path / "store"))
    image = store.import_archive(str(tmp_path / "layout"))
    before = {d: tree(store.layer_path(d)) for d in image.layers}
    upper, work = tmp_path / "upper", tmp_path / "work"
    upper.mkdir()
    work.mkdir()
    mine = bb(store, image, upper=str(upper), work=str(work))
    run(mine, "echo mine > /etc/motd; rm /bin/ls; echo new > /data/mine")
    with lc.ContainerProcess(
        lc.Config(rootfs=store.rootfs(image), process=lc.Process(args=["sh", "-c", "echo busy > /busy; sleep 5"]))
    ) as busy:
        time.sleep(0.3)
        script = "cat /etc/motd; ls /data; [ -e /bin/ls ] && echo ls; [ -e /busy ] && echo busy || echo no-busy"
        out = run(bb(store, image), script)
        busy.kill()
    assert out.split() == ["top", "new", "ls", "no-busy"]
    assert run(mine, "cat /etc/motd /data/mine; [ -e /bin/ls ] || echo gone").split() == ["mine", "new", "gone"]
    assert {d: tree(store.layer_path(d)) for d in image.layers} == before  # the image is untouched


CANARY_FILES = {"secret": "do not touch\n"}


@pytest.fixture
def canary(tmp_path: Any) -> str:
    path = tmp_path / "canary"
    path.mkdir()
    for name, text in CANARY_FILES.items():
        (path / name).write_text(text)
    return str(path)


def malicious_layers(canary: str) -> Dict[str, bytes]:
    sym, lnk, reg, dirt = tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.REGTYPE, tarfile.DIRTYPE
    depth = "../" * 12
    return {
        "dotdot": layer_from_members([(entry(f"{depth}{canary[1:]}/pwned"), b"x")]),
        "dotdot-in-middle": layer_from_members([(entry("etc/../../pwned"), b"x")]),
        "absolute": layer_from_members([(entry(f"{canary}/pwned"), b"x")]),
        "write-through-absolute-symlink": layer_from_members(
            [(entry("escape", sym, canary), None), (entry("escape/pwned"), b"x")]
        ),
        "mkdir-through-symlink": layer_from_members(
            [(entry("escape", sym, canary), None), (entry("escape/sub", dirt, mode=0o755), None)]
        ),
        "relative-symlink-out": layer_from_members([(entry("escape", sym, depth + canary[1:]), None)]),
        "hardlink-to-host-file": layer_from_members([(entry("h", lnk, f"{canary}/secret"), None)]),
        "hardlink-dotdot": layer_from_members([(entry("h", lnk, f"{depth}{canary[1:]}/secret"), None)]),
        "hardlink-through-symlink": layer_from_members(
            [(entry("escape", sym, canary), None), (entry("h", lnk, "escape/secret"), None)]
        ),
        "whiteout-through-symlink": layer_from_members(
            [(entry("escape", sym, canary), None), (entry("escape/.wh.secret", reg), b"")]
        ),
        "opaque-through-symlink": layer_from_members(
            [(entry("escape", sym, canary), None), (entry("escape/.wh..wh..opq", reg), b"")]
        ),
        "write-then-truncate-via-symlink": layer_from_members(
            [(entry("ok"), b"fine"), (entry("escape", sym, canary), None), (entry("escape/secret"), b"")]
        ),
    }


@pytest.mark.parametrize("case", list(malicious_layers("/x")))
def test_malicious_layer_is_refused(case: str, canary: str, tmp_path: Any, layers: Any) -> None:
    store = ImageStore(str(tmp_path / "store"))
    write_docker_archive(str(tmp_path / "ok.tar"), layers[:1], tags=["ok"])
    store.import_archive(str(tmp_path / "ok.tar"))
    before_canary, before_store = tree(canary), tree(store.root)
    evil = malicious_layers(canary)[case]
    write_oci_layout(str(tmp_path / "evil"), [layers[0], evil], compression=None)
    with pytest.raises(UnsafeLayerError):
        store.import_archive(str(tmp_path / "evil"))
    assert tree(canary) == before_canary
    after_store = tree(store.root)
    assert after_store.pop("tmp")[0] == before_store.pop("tmp")[0] and os.listdir(store.root + "/tmp") == []
    assert after_store == before_store  # no new layer, no temp dir left, no record
    assert not os.path.exists("/pwned")


def test_absolute_symlinks_are_kept_and_never_followed(canary: str, tmp_path: Any, layers: Any) -> None:
    """An absolute symlink is normal in images (it resolves inside the
    container); replacing it by a file replaces the link, not its target."""
    sym = tarfile.SYMTYPE
    layer = layer_from_members([(entry("link", sym, f"{canary}/secret"), None), (entry("link"), b"replaced")])
    write_oci_layout(str(tmp_path / "img"), [layers[0], layer], compression=None)
    store = ImageStore(str(tmp_path / "store"))
    store.import_archive(str(tmp_path / "img"))
    assert open(f"{canary}/secret").read() == "do not touch\n"
    assert run(bb(store, "test:latest"), "cat /link") == "replaced"


def test_digest_mismatch_is_refused(layers: Any, tmp_path: Any) -> None:
    layout = str(tmp_path / "layout")
    write_oci_layout(layout, layers, compression=None)
    blobs = os.path.join(layout, "blobs", "sha256")
    biggest = max(os.listdir(blobs), key=lambda n: os.path.getsize(os.path.join(blobs, n)))
    with open(os.path.join(blobs, biggest), "r+b") as f:
        f.seek(600)
        f.write(b"tampered")
    store = ImageStore(str(tmp_path / "store"))
    with pytest.raises(ImageError, match="mismatch"):
        store.import_archive(layout)
    assert os.listdir(os.path.join(store.root, "layers", "sha256")) == []
    assert store.list() == []


def test_gc_removes_exactly_the_unreferenced_layers(layers: Any, tmp_path: Any) -> None:
    store = ImageStore(str(tmp_path / "store"))
    write_docker_archive(str(tmp_path / "a.tar"), layers, tags=["a"])
    write_docker_archive(str(tmp_path / "b.tar"), layers[:1], tags=["b"])
    a = store.import_archive(str(tmp_path / "a.tar"))
    b = store.import_archive(str(tmp_path / "b.tar"))
    assert store.gc() == []
    assert store.remove("a") == a
    with pytest.raises(ImageNotFound):
        store.get("a")
    assert store.gc() == [a.layers[1]]  # the base layer is still b's
    assert sorted(os.listdir(os.path.join(store.root, "layers", "sha256"))) == [b.layers[0][7:]]
    blobs = sorted(os.listdir(os.path.join(store.root, "blobs", "sha256")))
    # b's manifest, config and layer blob (kept for push; a docker-archive's is the layer tar: its diff_id)
    assert blobs == sorted([b.digest[7:], b.config_digest[7:], b.layers[0][7:]])
    assert run(bb(store, "b"), "cat /etc/motd") == "base\n"
    # A layer a running container still uses is kept.
    with lc.ContainerProcess(lc.Config(rootfs=store.rootfs("b"), process=lc.Process(args=["sleep", "5"]))) as p:
        time.sleep(0.3)
        store.remove("b")
        assert store.gc() == []
        p.kill()
    assert store.gc() == [b.layers[0]]
    assert os.listdir(os.path.join(store.root, "layers", "sha256")) == []


IMPORTER = textwrap.dedent(
    """
    import os, sys, time
    sys.path.insert(0, {root!r})
    from libcontainer_py.images import ImageStore
    while not os.path.exists({go!r}):
        time.sleep(0.001)
    print(ImageStore({store!r}).import_archive({archive!r}).digest)
    """
)


def test_concurrent_imports_end_with_one_consistent_store(layers: Any, tmp_path: Any) -> None:
    archive = str(tmp_path / "img.tar")
    write_docker_archive(archive, layers, tags=["same:1"])
    store_dir, go = str(tmp_path / "store"), str(tmp_path / "go")
    script = IMPORTER.format(root=ROOT, go=go, store=store_dir, archive=archive)
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(4)]
    time.sleep(0.5)
    open(go, "w").close()
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0] * 4
    assert len(set(outs)) == 1
    store = ImageStore(store_dir)
    (image,) = store.list()
    assert image.digest == outs[0] and image.names == ("same:1",)
    assert sorted(os.listdir(os.path.join(store_dir, "layers", "sha256"))) == sorted(d[7:] for d in image.layers)
    assert os.listdir(os.path.join(store_dir, "tmp")) == []
    with open(os.path.join(store_dir, "images.json")) as f:
        assert list(json.load(f)["images"]) == [image.digest]
    assert run(bb(store, "same:1"), "cat /etc/motd") == "top\n"


def test_several_images_in_one_source_and_removal_by_digest(layers: Any, tmp_path: Any) -> None:
    layout = str(tmp_path / "layout")
    write_oci_layout(layout, layers[:1], ref_name="one:1")
    with open(os.path.join(layout, "index.json")) as f:
        first = json.load(f)["manifests"]
    write_oci_layout(layout, layers, ref_name="two:2")
    with open(os.path.join(layout, "index.json")) as f:
        index = json.load(f)
    index["manifests"] += first
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump(index, f)
    store = ImageStore(str(tmp_path / "store"))
    with pytest.raises(ImageError, match=r"2 images.*pass name="):
        store.import_layout(layout)
    one = store.import_layout(layout, name="one:1", tag="extra:1")
    two = store.import_layout(layout, name="two:2")
    assert one.names == ("one:1", "extra:1") and two.layers[0] == one.layers[0]
    assert store.remove("one:1").digest == one.digest and store.get("extra:1") == store.get(one.digest)
    store.remove(one.digest)  # a digest removes the image and all its names
    assert [i.names for i in store.list()] == [("two:2",)]
    with pytest.raises(ImageNotFound):
        store.get("extra:1")


GC_LOOP = textwrap.dedent(
    """
    import os, sys, time
    sys.path.insert(0, {root!r})
    from libcontainer_py.images import ImageStore
    store = ImageStore({store!r})
    while not os.path.exists({go!r}):
        time.sleep(0.001)
    end = time.monotonic() + 3
    while time.monotonic() < end and not os.path.exists({done!r}):
        store.gc()
    """
)


def test_gc_running_beside_imports_never_breaks_an_image(layers: Any, tmp_path: Any) -> None:
    store_dir, go, done = str(tmp_path / "store"), str(tmp_path / "go"), str(tmp_path / "done")
    archives = []
    for i in range(3):
        archives.append(str(tmp_path / f"img{i}.tar"))
        write_docker_archive(archives[-1], layers, tags=[f"img:{i}"])
    ImageStore(store_dir)
    gc = subprocess.Popen([sys.executable, "-c", GC_LOOP.format(root=ROOT, store=store_dir, go=go, done=done)])
    importers = [
        subprocess.Popen([sys.executable, "-c", IMPORTER.format(root=ROOT, go=go, store=store_dir, archive=a)])
        for a in archives
    ]
    time.sleep(0.5)
    open(go, "w").close()
    assert [p.wait(timeout=120) for p in importers] == [0, 0, 0]
    open(done, "w").close()
    assert gc.wait(timeout=60) == 0
    store = ImageStore(store_dir)
    (image,) = store.list()  # one image (the same content) with all three names
    assert sorted(image.names) == ["img:0", "img:1", "img:2"]
    for diff_id in image.layers:
        assert os.path.isdir(store.layer_path(diff_id))
    assert run(bb(store, "img:1"), "cat /etc/motd") == "top\n"


def test_import_reports_progress_to_a_callback(layers: Tuple[bytes, bytes], tmp_path: Any) -> None:
    layout = str(tmp_path / "layout")
    write_oci_layout(layout, layers, config=CONFIG)
    store = ImageStore(str(tmp_path / "store"), progress=False)
    calls: List[Tuple[str, int, Any]] = []
    image = store.import_archive(layout, progress=lambda label, done, total: calls.append((label, done, total)))
    blobs = os.path.join(layout, "blobs", "sha256")
    manifest = json.loads(open(os.path.join(blobs, image.digest[7:])).read())
    sizes = [d["size"] for d in manifest["layers"]]
    for i, size in enumerate(sizes):
        mine = [c for c in calls if c[0].startswith(f"layer {i + 1}/2 {image.layers[i][7:19]}")]
        assert mine and mine[-1][1:] == (size, size), calls  # the last call: the whole blob read
        assert all(total == size and 0 <= done <= size for _, done, total in mine)
        assert [d for _, d, _ in mine] == sorted(d for _, d, _ in mine)
    calls.clear()
    assert store.import_archive(layout, progress=lambda *a: calls.append(a)) == image
    assert calls == []  # the layers are in the store: nothing unpacked, nothing reported
