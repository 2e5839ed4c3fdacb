"""Pull images from a registry into an ImageStore, and push them back
(the OCI distribution protocol; see registry.py for the wire side)."""

from __future__ import annotations

import concurrent.futures
import functools
import os
import threading
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Tuple, Union

from .credentials import AuthArg
from .errors import ImageError
from .platforms import Platform, choose
from .progress import Reporter
from .reference import Reference, parse
from .registry import RegistryClient, digest_of
from .sources import _INDEXES, _MANIFESTS, OCI_LAYER, OCI_MANIFEST, ImageManifest, LayerBlob, _diff_ids, _json
from .unpack import check_digest

if TYPE_CHECKING:
    from .store import Image, ImageRef, ImageStore, ProgressArg

DEFAULT_CONCURRENCY = 3


def pull(
    store: ImageStore,
    ref: str,
    *,
    auth: AuthArg = None,
    platform: Union[str, Platform, None] = None,
    insecure: bool = False,
    progress: ProgressArg = None,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> Image:
    """Fetch ``ref`` (a name or name@digest) and record it in ``store``
    under its short name; layers the store has are not fetched."""
    reference = parse(ref)
    want = Platform.parse(platform) if isinstance(platform, str) else platform or Platform.here()
    if not isinstance(concurrency, int) or concurrency < 1:
        raise ImageError(f"concurrency: expected an int >= 1, got {concurrency!r}")
    with RegistryClient(reference.domain, reference.path, auth=auth, insecure=insecure) as client:
        found = _fetch_manifest(store, client, reference, want)
        sink = progress if progress is not None else store.progress
        reporter = Reporter(f"pull {reference.familiar}", sink, sum(b.size or 0 for b in found.layers))
        try:
            with store._lock("gc.lock", shared=True):  # no gc until the image is recorded
                _fetch_layers(store, client, found, reporter, concurrency)
                for digest, data in ((found.digest, found.manifest), (found.config_digest, found.config)):
                    if not os.path.exists(store._blob_path(digest)):
                        store._write_atomic(store._blob_path(digest), data)
                image = store._record(found, None)
        except BaseException:
            reporter.close("failed")
            raise
        reporter.close()
        return image


def _stored_blob(store: ImageStore, digest: str) -> Optional[bytes]:
    """A blob the store has (checked again), or None."""
    try:
        with open(store._blob_path(digest), "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None
    return data if digest_of(data) == digest else None


def _fetch_manifest(store: ImageStore, client: RegistryClient, reference: Reference, want: Platform) -> ImageManifest:
    """The image manifest for ``want`` (through an index), its config, checked."""
    data, media, digest = client.manifest(reference.digest or reference.tag or "latest")
    for _ in range(3):
        doc = _json(data, f"manifest {digest}")
        media = (doc.get("mediaType") if isinstance(doc, dict) else None) or media
        if media not in _INDEXES and not (isinstance(doc, dict) and "manifests" in doc and "layers" not in doc):
            break
        manifests = doc.get("manifests") if isinstance(doc, dict) else None
        if not isinstance(manifests, list):
            raise ImageError(f"index {digest}: no manifests list")
        chosen = choose(manifests, want)
        data, media, digest = client.manifest(check_digest(chosen.get("digest"), f"index {digest} manifest digest"))
    if media not in _MANIFESTS and media:
        raise ImageError(f"{reference}: {media!r} is not an image manifest")
    if not isinstance(doc, dict) or not isinstance(doc.get("layers"), list) or not isinstance(doc.get("config"), dict):
        raise ImageError(f"manifest {digest}: expected an image manifest with config and layers")
    config_digest = check_digest(doc["config"].get("digest"), f"manifest {digest} config digest")
    config = _stored_blob(store, config_digest) or client.blob_bytes(config_digest)
    layers = tuple(_layer(digest, i, d) for i, d in enumerate(doc["layers"]))
    names = (reference.familiar,)
    return ImageManifest(digest, data, config_digest, config, layers, _diff_ids(config, len(layers)), names)


def _layer(manifest: str, i: int, desc: Any) -> LayerBlob:
    if not isinstance(desc, dict):
        raise ImageError(f"manifest {manifest} layers[{i}]: expected an object")
    digest = check_digest(desc.get("digest"), f"manifest {manifest} layers[{i}] digest")
    size = desc.get("size")
    if not isinstance(size, int) or size < 0:
        raise ImageError(f"manifest {manifest} layers[{i}]: no size")
    return LayerBlob(digest, digest, size, str(desc.get("mediaType", OCI_LAYER)))


def _fetch_layers(
    store: ImageStore, client: RegistryClient, found: ImageManifest, reporter: Reporter, concurrency: int
) -> None:
    """Download and unpack the layers the store lacks, ``concurrency`` at
    once; the first failure cancels the rest (each cleans up its own)."""
    missing: Dict[str, LayerBlob] = {}
    for blob, diff_id in zip(found.layers, found.diff_ids):
        if os.path.isdir(store.layer_path(diff_id)):
            reporter(blob.digest or diff_id, "exists", blob.size or 0, blob.size)
        else:
            missing.setdefault(diff_id, blob)
    if not missing:
        return
    stop = threading.Event()
    with concurrent.futures.ThreadPoolExecutor(min(concurrency, len(missing)), "lcpy-pull") as pool:
        futures = [pool.submit(_fetch_layer, store, client, b, d, reporter, stop) for d, b in missing.items()]
        try:
            concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_EXCEPTION)
        finally:
            failed = [f.exception() for f in futures if f.done() and not f.cancelled() and f.exception()]
            if failed or any(not f.done() for f in futures):  # a failure, or KeyboardInterrupt here
                stop.set()
                for f in futures:
                    f.cancel()
                concurrent.futures.wait(futures)
        if failed:
            raise failed[0]  # type: ignore[misc]


def _fetch_layer(
    store: ImageStore, client: RegistryClient, blob: LayerBlob, diff_id: str, reporter: Reporter, stop: threading.Event
) -> None:
    digest = blob.digest or diff_id

    def on_read(n: int) -> None:
        if stop.is_set():
            raise ImageError(f"layer {digest}: download stopped (another layer failed)")
        reporter(digest, "downloading", n, blob.size)

    store._unpack(functools.partial(client.open_blob, digest, blob.size), digest, diff_id, on_read)
    reporter(digest, "done", blob.size or 0, blob.size)


def push(
    store: ImageStore,
    ref: ImageRef,
    dest: str,
    *,
    auth: AuthArg = None,
    insecure: bool = False,
    progress: ProgressArg = None,
) -> str:
    """Upload image ``ref`` of ``store`` as ``dest`` (a name with a tag or
    digest); blobs the registry has are not sent.  Returns the manifest digest."""
    image = store.get(ref)
    target = parse(dest)
    with open(store._blob_path(image.digest), "rb") as f:
        manifest = f.read()
    doc = _json(manifest, f"manifest {image.digest}")
    media = doc.get("mediaType") or OCI_MANIFEST
    blobs = _push_blobs(store, image, doc)
    sink = progress if progress is not None else store.progress
    reporter = Reporter(f"push {target.familiar}", sink, sum(size for _d, size in blobs))
    with RegistryClient(target.domain, target.path, auth=auth, insecure=insecure, actions="pull,push") as client:
        try:
            for digest, size in blobs:
                if client.has_blob(digest):
                    reporter(digest, "exists", size, size)
                    continue
                chunks = functools.partial(_read_chunks, store._blob_path(digest), digest, size, reporter)
                client.upload_blob(digest, size, chunks)
                reporter(digest, "done", size, size)
            pushed = client.put_manifest(target.digest or target.tag or "latest", manifest, media)
        except BaseException:
            reporter.close("failed")
            raise
        reporter.close()
    return pushed


def _push_blobs(store: ImageStore, image: Image, doc: Any) -> List[Tuple[str, int]]:
    """(digest, size) of the layer blobs and the config; ImageError for a
    layer blob the store does not keep."""
    layers = doc.get("layers") if isinstance(doc, dict) else None
    if not isinstance(layers, list):
        raise ImageError(f"manifest {image.digest}: no layers list")
    out = []
    for desc in [*layers, doc.get("config")]:
        digest = check_digest(desc.get("digest") if isinstance(desc, dict) else None, "manifest blob digest")
        path = store._blob_path(digest)
        if not os.path.exists(path):
            raise ImageError(
                f"image {image.short_id}: blob {digest} is not kept in the store "
                "(its layer was unpacked before blobs were kept, or from another image): pull or import it again"
            )
        out.append((digest, os.path.getsize(path)))
    return out


def _read_chunks(path: str, digest: str, size: int, reporter: Reporter) -> Iterator[bytes]:
    done = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            done += len(chunk)
            reporter(digest, "uploading", done, size)
            yield chunk
