"""Pull and push against a real registry on the loopback: Debian's
docker-registry (the reference implementation), images put there by skopeo
and by our own push.  What is checked is what the registry served (its
access log), what skopeo reads back, what the store holds on disk and what
a container of the pulled image prints.  Nothing but 127.0.0.1 is contacted."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import secrets
import tarfile
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from support.images import (
    blob_writer,
    busybox_layer,
    compress,
    entry,
    image_config,
    layer_from_members,
    sha256,
    write_layout_index,
    write_oci_layout,
)
from support.registry import Front, Registry, push_layout, skopeo

import libcontainer_py as lc
from libcontainer_py.images import (
    DigestMismatchError,
    ImageError,
    ImageNotFound,
    ImageStore,
    PullProgress,
    RegistryAuthError,
    config_from_image,
)
from libcontainer_py.images.sources import DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST

USER = ("lcpy", "s3cret-Pa55")
CMD = {"Cmd": ["sh", "-c", "cat /etc/motd"]}


@pytest.fixture(scope="module")
def registry(tmp_path_factory: Any) -> Iterator[Registry]:
    reg = Registry(str(tmp_path_factory.mktemp("registry"))).start()
    yield reg
    reg.stop()


@pytest.fixture(scope="module")
def auth_registry(tmp_path_factory: Any) -> Iterator[Registry]:
    reg = Registry(str(tmp_path_factory.mktemp("auth-registry")), user=USER).start()
    yield reg
    reg.stop()


@pytest.fixture(scope="module")
def base_layer(tmp_path_factory: Any) -> bytes:
    root = tmp_path_factory.mktemp("bb")
    return busybox_layer(str(root / "root"), "pulled busybox\n")


def motd_layer(text: str) -> bytes:
    return layer_from_members([(entry("etc", tarfile.DIRTYPE, mode=0o755), None), (entry("etc/motd"), text.encode())])


@pytest.fixture(scope="module")
def layout(tmp_path_factory: Any, base_layer: bytes) -> Tuple[str, List[bytes]]:
    """An OCI layout of two layers: busybox, then a new /etc/motd."""
    layers = [base_layer, motd_layer("two layers\n")]
    path = str(tmp_path_factory.mktemp("layout") / "oci")
    write_oci_layout(path, layers, config=CMD, ref_name="bb")
    return path, layers


@pytest.fixture
def store(tmp_path: Any) -> ImageStore:
    return ImageStore(str(tmp_path / "store"))


def run_image(store: ImageStore, ref: str) -> str:
    cid = "lcpy-reg-" + secrets.token_hex(4)
    r = lc.run(config=config_from_image(store, ref), capture_output=True, text=True, timeout=60, container_id=cid)
    assert r.returncode == 0, r
    return str(r.stdout)


def store_files(store: ImageStore) -> Dict[str, List[str]]:
    return {sub: sorted(os.listdir(os.path.join(store.root, *sub.split("/")))) for sub in ("layers/sha256", "tmp")}


# -- pull ---------------------------------------------------------------------


def test_pull_and_run(registry: Registry, layout: Tuple[str, List[bytes]], store: ImageStore, no_leaks: None) -> None:
    path, layers = layout
    push_layout(path, "bb", f"{registry.host}/lcpy-pull/bb:1")
    events: List[PullProgress] = []
    image = store.pull(f"{registry.host}/lcpy-pull/bb:1", progress=events.append)
    assert image.names == (f"{registry.host}/lcpy-pull/bb:1",)
    assert image.layers == tuple(sha256(layer) for layer in layers)
    assert run_image(store, f"{registry.host}/lcpy-pull/bb:1") == "two layers\n"
    manifest = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{registry.host}/lcpy-pull/bb:1")
    assert image.digest == "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
    got = {e.digest for e in events if e.status == "done"}
    assert got == {d["digest"] for d in json.loads(manifest)["layers"]}
    done = [e for e in events if e.status == "done"]
    assert all(e.done == e.total for e in done)


def test_pull_docker_schema2_by_digest(
    registry: Registry, layout: Tuple[str, List[bytes]], store: ImageStore, no_leaks: None
) -> None:
    """skopeo --format v2s2 stores a Docker manifest; pulled by its digest."""
    path, _ = layout
    push_layout(path, "bb", f"{registry.host}/lcpy-v2s2/bb:1", "--format", "v2s2")
    raw = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{registry.host}/lcpy-v2s2/bb:1")
    assert json.loads(raw)["mediaType"] == DOCKER_MANIFEST
    digest = "sha256:" + hashlib.sha256(raw.encode()).hexdigest()
    image = store.pull(f"{registry.host}/lcpy-v2s2/bb@{digest}")
    assert image.digest == digest and image.names == (f"{registry.host}/lcpy-v2s2/bb@{digest}",)
    assert run_image(store, f"{registry.host}/lcpy-v2s2/bb@{digest}") == "two layers\n"


def test_second_pull_downloads_nothing(
    registry: Registry, layout: Tuple[str, List[bytes]], store: ImageStore, tmp_path: Any, no_leaks: None
) -> None:
    path, _ = layout
    push_layout(path, "bb", f"{registry.host}/lcpy-again/bb:1")
    before = len(registry.blob_gets())
    image = store.pull(f"{registry.host}/lcpy-again/bb:1")
    first = registry.blob_gets()[before:]
    assert len(first) == 3  # the config and two layers
    inodes = [os.stat(store.layer_path(d)).st_ino for d in image.layers]
    events: List[PullProgress] = []
    assert store.pull(f"{registry.host}/lcpy-again/bb:1", progress=events.append) == image
    assert registry.blob_gets()[before + len(first) :] == []  # no blob fetched, not even the config
    assert [os.stat(store.layer_path(d)).st_ino for d in image.layers] == inodes
    assert {e.status for e in events} == {"exists"}
    # another image on the same base: only its own layer and config are fetched
    other = str(tmp_path / "other")
    write_oci_layout(other, [layout[1][0], motd_layer("other top\n")], config=CMD, ref_name="bb")
    push_layout(other, "bb", f"{registry.host}/lcpy-again/other:1")
    before = len(registry.blob_gets())
    second = store.pull(f"{registry.host}/lcpy-again/other:1")
    fetched = registry.blob_gets()[before:]
    assert len(fetched) == 2 and second.layers[0] == image.layers[0]
    assert not any(uri.endswith(sha256(compress(layout[1][0], "gzip")[0])) for uri in fetched)


def test_pull_missing_from_config(registry: Registry, layout: Tuple[str, List[bytes]], store: ImageStore) -> None:
    path, _ = layout
    push_layout(path, "bb", f"{registry.host}/lcpy-missing/bb:1")
    ref = f"{registry.host}/lcpy-missing/bb:1"
    with pytest.raises(ImageNotFound):
        lc.Config.from_image(store, ref)
    before = len(registry.requests())
    config = lc.Config.from_image(store, ref, pull="missing")
    assert len(registry.requests()) > before
    r = lc.run(config=config, capture_output=True, text=True, timeout=60, container_id="lcpy-reg-missing")
    assert r.stdout == "two layers\n"
    before = len(registry.requests())
    lc.Config.from_image(store, ref, pull="missing")
    assert len(registry.requests()) == before  # in the store: the registry is not asked
    with pytest.raises(lc.ConfigError, match="pull"):
        lc.Config.from_image(store, ref, pull="sometimes")


def test_unknown_image_is_not_found(registry: Registry, store: ImageStore) -> None:
    with pytest.raises(ImageNotFound, match=r"MANIFEST_UNKNOWN|NAME_UNKNOWN"):
        store.pull(f"{registry.host}/lcpy-none/bb:1")
    assert store.list() == []


@pytest.mark.parametrize("what", ["layer", "config", "manifest"])
def test_tampered_blob_refused(
    what: str, registry: Registry, base_layer: bytes, tmp_path: Any, store: ImageStore, no_leaks: None
) -> None:
    """A blob changed in the registry's storage: refused, nothing kept."""
    layer = motd_layer(f"tampered {what}\n")
    path = str(tmp_path / "oci")
    manifest_digest = write_oci_layout(path, [base_layer, layer], config=CMD, ref_name="bb")
    repo = f"{registry.host}/lcpy-tamper-{what}/bb"
    push_layout(path, "bb", f"{repo}:1")
    manifest = json.loads(open(os.path.join(path, "blobs/sha256", manifest_digest[7:])).read())
    victim = {
        "layer": manifest["layers"][1]["digest"],
        "config": manifest["config"]["digest"],
        "manifest": manifest_digest,
    }[what]
    with open(registry.blob_file(victim), "r+b") as f:
        data = f.read()
        f.seek(0)
        old, new = {
            "layer": (data[-8:], b"\0" * 8),
            "config": (b"amd64", b"AMD64"),
            "manifest": (b"config.v1", b"CONFIG.v1"),
        }[what]
        assert data.count(old) == 1
        f.write(data.replace(old, new))
    with pytest.raises(DigestMismatchError, match=f"expected {victim}"):
        store.pull(f"{repo}:1")
    assert store.list() == []
    files = store_files(store)
    assert files["tmp"] == []
    assert sha256(layer)[7:] not in files["layers/sha256"]
    assert not os.path.exists(os.path.join(store.root, "blobs/sha256", victim[7:]))


# -- platforms ------------------------------------------------------------------


def write_index(path: str, images: List[Tuple[Dict[str, str], List[bytes], Dict[str, Any]]]) -> None:
    """An OCI layout whose index lists one manifest per platform."""
    put = blob_writer(path)
    entries = []
    for plat, layers, config in images:
        cfg = json.loads(image_config(layers, config, plat["architecture"]))
        cfg.update({k: v for k, v in plat.items() if k == "variant"})
        cfg_blob = json.dumps(cfg).encode()
        descs = []
        for layer in layers:
            blob, media = compress(layer, "gzip")
            descs.append({"mediaType": media, **put(blob)})
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **put(cfg_blob)},
            "layers": descs,
        }
        entries.append({"mediaType": OCI_MANIFEST, **put(json.dumps(manifest).encode()), "platform": plat})
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
    idx = put(json.dumps(index).encode())
    write_layout_index(
        path, [{"mediaType": OCI_INDEX, **idx, "annotations": {"org.opencontainers.image.ref.name": "multi"}}]
    )


def test_index_of_several_platforms(
    registry: Registry, base_layer: bytes, tmp_path: Any, store: ImageStore, no_leaks: None
) -> None:
    platforms = [
        {"os": "linux", "architecture": "arm", "variant": "v6"},
        {"os": "linux", "architecture": "arm64"},
        {"os": "linux", "architecture": "amd64"},
        {"os": "linux", "architecture": "arm", "variant": "v7"},
    ]
    images = [(p, [base_layer, motd_layer(f"{p['architecture']}{p.get('variant', '')}\n")], CMD) for p in platforms]
    write_index(str(tmp_path / "multi"), images)
    repo = f"{registry.host}/lcpy-multi/bb"
    push_layout(str(tmp_path / "multi"), "multi", f"{repo}:1", "--all")
    raw = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{repo}:1"))
    assert raw["mediaType"] == OCI_INDEX and len(raw["manifests"]) == 4
    image = store.pull(f"{repo}:1")  # this machine: linux/amd64
    assert run_image(store, f"{repo}:1") == "amd64\n"
    assert image.digest == raw["manifests"][2]["digest"]
    for platform, want, i in (
        ("linux/arm/v7", "armv7", 3),
        ("linux/arm64/v8", "arm64", 1),
        ("linux/arm/v6", "armv6", 0),
    ):
        other = store.pull(f"{repo}:1", platform=platform)
        assert other.digest == raw["manifests"][i]["digest"]
        motd = open(os.path.join(store.layer_path(other.layers[1]), "etc", "motd")).read()
        assert motd == want + "\n"
    with pytest.raises(ImageError, match=r"no manifest for linux/s390x \(it has: linux/arm/v6, linux/arm64"):
        store.pull(f"{repo}:1", platform="linux/s390x")
    # by the index's digest: this platform's image, found again by that name
    index_digest = (
        "sha256:"
        + hashlib.sha256(skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{repo}:1").encode()).hexdigest()
    )
    by_digest = store.pull(f"{repo}@{index_digest}")
    assert by_digest.digest == image.digest
    assert store.get(f"{repo}@{index_digest}") == by_digest
    assert f"{repo}@{index_digest}" in by_digest.names


# -- credentials --------------------------------------------------------------------


@pytest.fixture
def no_stored_credentials(monkeypatch: Any, tmp_path: Any) -> Any:
    """No credentials file of the machine is read: HOME and the others point into tmp_path."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    return monkeypatch


def auth_entry(user: str, password: str) -> Dict[str, str]:
    return {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def auth_image(auth_registry: Registry, layout: Tuple[str, List[bytes]]) -> str:
    ref = f"{auth_registry.host}/lcpy-auth/bb:1"
    skopeo(
        "copy",
        "--quiet",
        "--dest-tls-verify=false",
        "--dest-creds",
        ":".join(USER),
        f"oci:{layout[0]}:bb",
        f"docker://{ref}",
    )
    return ref


def test_credentials_missing_and_wrong(
    auth_image: str, store: ImageStore, no_stored_credentials: Any, caplog: Any, no_leaks: None
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(RegistryAuthError, match="wants credentials"):
        store.pull(auth_image)
    with pytest.raises(RegistryAuthError, match="unauthorized with the credentials of 'lcpy'") as info:
        store.pull(auth_image, auth=("lcpy", "wrong-Pa55word"))
    assert "wrong-Pa55word" not in str(info.value) and "wrong-Pa55word" not in caplog.text
    assert store.list() == [] and store_files(store)["layers/sha256"] == []
    assert "s3cret" not in repr(lc.images.Credentials(*USER))


def test_credentials_given(auth_image: str, store: ImageStore, no_stored_credentials: Any, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    store.pull(auth_image, auth=USER)
    assert run_image(store, auth_image) == "two layers\n"
    assert USER[1] not in caplog.text


@pytest.mark.parametrize("where", ["docker", "podman", "REGISTRY_AUTH_FILE"])
def test_credentials_stored(
    where: str, auth_image: str, auth_registry: Registry, store: ImageStore, no_stored_credentials: Any, tmp_path: Any
) -> None:
    doc = {"auths": {auth_registry.host: auth_entry(*USER), "other.example": auth_entry("x", "y")}}
    path = {
        "docker": tmp_path / "home" / ".docker" / "config.json",
        "podman": tmp_path / "run" / "containers" / "auth.json",
        "REGISTRY_AUTH_FILE": tmp_path / "auth.json",
    }[where]
    if where == "REGISTRY_AUTH_FILE":
        no_stored_credentials.setenv("REGISTRY_AUTH_FILE", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    image = store.pull(auth_image)
    assert run_image(store, auth_image) == "two layers\n"
    # wrong stored credentials are named by their file, not shown
    path.write_text(json.dumps({"auths": {auth_registry.host: auth_entry("lcpy", "stale-Pa55")}}))
    with pytest.raises(RegistryAuthError, match=f"from {path}") as info:
        store.pull(auth_image.replace(":1", "@" + image.digest))
    assert "stale-Pa55" not in str(info.value)


# -- bearer tokens, redirects, resumption (a front of the registry) -------------------


def test_bearer_token_and_redirect_to_storage(
    registry: Registry, layout: Tuple[str, List[bytes]], store: ImageStore, no_stored_credentials: Any, no_leaks: None
) -> None:
    push_layout(layout[0], "bb", f"{registry.host}/lcpy-bearer/bb:1")
    with Front(registry, token=USER, redirect=True) as front:
        ref = f"{front.host}/lcpy-bearer/bb:1"
        with pytest.raises(RegistryAuthError, match="token service refused anonymous access"):
            store.pull(ref)
        image = store.pull(ref, auth=USER)
    assert run_image(store, ref) == "two layers\n"
    assert "repository:lcpy-bearer/bb:pull" in front.scopes
    storage = [s for s in front.seen if s["path"].startswith("/storage/")]
    assert len(storage) == 3  # config and two layers, fetched from the other origin
    assert all(s["auth"] is None for s in storage)  # the token is not sent to the storage host
    blob_requests = [s for s in front.seen if "/blobs/" in s["path"] and s["path"].startswith("/v2/")]
    assert blob_requests and all((s["auth"] or "").startswith("Bearer ") for s in blob_requests)
    assert image.layers == tuple(sha256(layer) for layer in layout[1])


def test_interrupted_blob_resumed(
    registry: Registry, base_layer: bytes, tmp_path: Any, store: ImageStore, no_leaks: None
) -> None:
    path = str(tmp_path / "oci")
    manifest_digest = write_oci_layout(path, [base_layer, motd_layer("resumed\n")], config=CMD, ref_name="bb")
    push_layout(path, "bb", f"{registry.host}/lcpy-resume/bb:1")
    manifest = json.loads(open(os.path.join(path, "blobs/sha256", manifest_digest[7:])).read())
    big = manifest["layers"][0]
    with Front(registry) as front:
        front.cut.add(big["digest"])
        ref = f"{front.host}/lcpy-resume/bb:1"
        store.pull(ref)
    gets = [s for s in front.seen if s["path"].endswith(big["digest"]) and s["method"] == "GET"]
    assert [g["range"] for g in gets] == [None, f"bytes={big['size'] // 2}-"]
    assert run_image(store, ref) == "resumed\n"
    assert os.path.getsize(os.path.join(store.root, "blobs/sha256", big["digest"][7:])) == big["size"]


def test_interrupted_blob_resumed_from_a_server_without_ranges(
    registry: Registry, base_layer: bytes, tmp_path: Any, store: ImageStore, no_leaks: None
) -> None:
    """The second GET asks for the rest, the server sends the whole blob
    (200): what was received already is skipped, the blob is whole."""
    path = str(tmp_path / "oci")
    manifest_digest = write_oci_layout(path, [base_layer, motd_layer("no ranges\n")], config=CMD, ref_name="bb")
    push_layout(path, "bb", f"{registry.host}/lcpy-norange/bb:1")
    manifest = json.loads(open(os.path.join(path, "blobs/sha256", manifest_digest[7:])).read())
    big = manifest["layers"][0]
    with Front(registry) as front:
        front.cut.add(big["digest"])
        front.ignore_range = True
        ref = f"{front.host}/lcpy-norange/bb:1"
        image = store.pull(ref)
    gets = [s for s in front.seen if s["path"].endswith(big["digest"]) and s["method"] == "GET"]
    assert [g["range"] for g in gets] == [None, f"bytes={big['size'] // 2}-"]
    assert run_image(store, ref) == "no ranges\n"
    with open(os.path.join(store.root, "blobs/sha256", big["digest"][7:]), "rb") as f:
        assert sha256(f.read()) == big["digest"]
    assert image.layers[0] == sha256(base_layer)


def test_layers_download_a_bounded_number_at_once(
    registry: Registry, base_layer: bytes, tmp_path: Any, store: ImageStore, no_leaks: None
) -> None:
    """Five layers, concurrency=2: the front holds each layer download until
    three are in flight (or a second passed); never more than two are."""
    layers = [base_layer] + [motd_layer(f"layer {i}\n") for i in range(4)]
    path = str(tmp_path / "oci")
    manifest_digest = write_oci_layout(path, layers, config=CMD, ref_name="bb")
    push_layout(path, "bb", f"{registry.host}/lcpy-concurrent/bb:1")
    manifest = json.loads(open(os.path.join(path, "blobs/sha256", manifest_digest[7:])).read())
    with Front(registry) as front:
        front.gated = {d["digest"] for d in manifest["layers"]}
        front.gate = 3
        store.pull(f"{front.host}/lcpy-concurrent/bb:1", concurrency=2)
    assert front.max_in_flight == 2
    assert run_image(store, f"{front.host}/lcpy-concurrent/bb:1") == "layer 3\n"


# -- push ---------------------------------------------------------------------------


def test_push_then_skopeo_reads_it(
    registry: Registry, layout: Tuple[str, List[bytes]], store: ImageStore, tmp_path: Any, no_leaks: None
) -> None:
    """An imported image pushed by us: skopeo inspects and copies it back;
    a second push sends no blob."""
    image = store.import_layout(layout[0])
    dest = f"{registry.host}/lcpy-push/bb:7"
    before = len(registry.requests())
    events: List[PullProgress] = []
    assert store.push(image, dest, progress=events.append) == image.digest
    info = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{dest}"))
    assert info["Digest"] == image.digest and info["Architecture"] == "amd64"
    raw = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{dest}").encode()
    assert raw == open(os.path.join(store.root, "blobs/sha256", image.digest[7:]), "rb").read()
    puts = [uri for method, uri, status in registry.requests()[before:] if method == "PUT" and status == 201]
    assert len(puts) == 4  # two layers, the config, the manifest
    skopeo("copy", "--quiet", "--src-tls-verify=false", f"docker://{dest}", f"oci:{tmp_path}/back:bb")
    other = ImageStore(str(tmp_path / "other"))
    assert other.import_layout(str(tmp_path / "back")).digest == image.digest
    assert run_image(other, image.digest) == "two layers\n"
    assert {e.status for e in events} >= {"uploading", "done"}
    before = len(registry.requests())
    events.clear()
    store.push(image, f"{registry.host}/lcpy-push/bb:8", progress=events.append)
    methods = [(m, s) for m, uri, s in registry.requests()[before:] if "/blobs/" in uri]
    assert methods and all(m == "HEAD" and s == 200 for m, s in methods)
    assert {e.status for e in events} == {"exists"}


def test_push_with_credentials(
    auth_registry: Registry, layout: Tuple[str, List[bytes]], store: ImageStore, no_stored_credentials: Any
) -> None:
    image = store.import_layout(layout[0])
    dest = f"{auth_registry.host}/lcpy-push-auth/bb:1"
    with pytest.raises(RegistryAuthError):
        store.push(image, dest)
    store.push(image, dest, auth=USER)
    info = json.loads(skopeo("inspect", "--tls-verify=false", "--creds", ":".join(USER), f"docker://{dest}"))
    assert info["Digest"] == image.digest


def test_push_of_an_unknown_image(registry: Registry, store: ImageStore) -> None:
    with pytest.raises(ImageNotFound):
        store.push("nothing:1", f"{registry.host}/lcpy-push/none:1")


# -- the transport's redirects --------------------------------------------------------


def test_authorization_follows_redirects_only_within_its_origin() -> None:
    """A hop to another origin (localhost is not 127.0.0.1) gets no
    Authorization, a hop back to the registry's origin gets it again; 303
    turns a POST into a GET without its body; relative Locations resolve."""
    import http.server
    import threading

    from libcontainer_py.images.transport import Transport, origin

    seen: List[Tuple[str, str, Any, Any]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def answer(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            seen.append((method, self.headers["Host"] + self.path, self.headers.get("Authorization"), body))
            port = self.server.server_address[1]
            hops = {
                "/start": f"http://localhost:{port}/away",
                "/away": f"http://127.0.0.1:{port}/back",
                "/back": "/end",
            }
            code = 303 if self.path == "/start" and method == "POST" else 307
            self.send_response(code if self.path in hops else 200)
            if self.path in hops:
                self.send_header("Location", hops[self.path])
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def do_GET(self) -> None:
            self.answer("GET")

        def do_POST(self) -> None:
            self.answer("POST")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    transport = Transport()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        auth = (origin(base), "Bearer t0ken")
        response = transport.send("GET", f"{base}/start", authorization=auth)
        assert response.status_code == 200 and response.url == f"{base}/end" and response.content == b"ok"
        assert [(m, where.split(":")[0] + where[where.index("/") :], a) for m, where, a, _ in seen] == [
            ("GET", "127.0.0.1/start", "Bearer t0ken"),
            ("GET", "localhost/away", None),
            ("GET", "127.0.0.1/back", "Bearer t0ken"),
            ("GET", "127.0.0.1/end", "Bearer t0ken"),
        ]
        seen.clear()
        transport.send("POST", f"{base}/start", body=b"data", authorization=auth)
        assert [(m, b) for m, _, _, b in seen] == [("POST", b"data"), ("GET", b""), ("GET", b""), ("GET", b"")]
    finally:
        transport.close()
        server.shutdown()
        server.server_close()
        thread.join()
