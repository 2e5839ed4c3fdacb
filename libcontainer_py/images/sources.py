"""Where images come from: an OCI image layout directory, a tar of one (an
OCI archive, ``skopeo copy ... oci-archive:``), or a docker-archive
(``docker save``: manifest.json with Config and Layers)."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tarfile
from typing import IO, Any, Dict, List, Optional, Tuple

import attrs

from .errors import ImageError
from .unpack import check_digest, entry_parts

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
REF_NAME = "org.opencontainers.image.ref.name"
_INDEXES = (OCI_INDEX, DOCKER_LIST)
_MANIFESTS = (OCI_MANIFEST, DOCKER_MANIFEST)
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le", "s390x": "s390x"}


class Source:
    """Files of an image source, by their path inside it."""

    def open(self, path: str) -> IO[bytes]:
        raise NotImplementedError

    def exists(self, path: str) -> bool:
        raise NotImplementedError

    def read(self, path: str, limit: int = 64 << 20) -> bytes:
        with self.open(path) as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise ImageError(f"{path}: larger than {limit} bytes")
        return data

    def close(self) -> None:
        pass

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class DirSource(Source):
    """An OCI image layout directory (or an unpacked docker-archive)."""

    def __init__(self, path: str) -> None:
        if not os.path.isdir(path):
            raise ImageError(f"{path}: not a directory")
        self.path = path

    def _path(self, path: str) -> str:
        return os.path.join(self.path, *entry_parts(path))

    def open(self, path: str) -> IO[bytes]:
        try:
            return open(self._path(path), "rb")
        except FileNotFoundError:
            raise ImageError(f"{self.path}: no {path}") from None

    def exists(self, path: str) -> bool:
        return os.path.isfile(self._path(path))


class TarSource(Source):
    """A tar archive (optionally compressed as a whole) of an image layout."""

    def __init__(self, path: str) -> None:
        try:
            self.tar = tarfile.open(path, "r:*")
        except (OSError, tarfile.TarError) as e:
            raise ImageError(f"{path}: not a readable tar archive: {e}") from e
        self.path = path
        self.members: Dict[str, tarfile.TarInfo] = {}
        for member in self.tar.getmembers():
            if member.isreg() or member.islnk() or member.issym():  # links resolve inside the archive
                self.members["/".join(entry_parts(member.name))] = member

    def open(self, path: str) -> IO[bytes]:
        member = self.members.get("/".join(entry_parts(path)))
        data = None if member is None else self.tar.extractfile(member)
        if data is None:
            raise ImageError(f"{self.path}: no {path}")
        return data

    def exists(self, path: str) -> bool:
        return "/".join(entry_parts(path)) in self.members

    def close(self) -> None:
        self.tar.close()


def open_source(path: str) -> Source:
    """A DirSource for a directory, else a TarSource."""
    return DirSource(path) if os.path.isdir(path) else TarSource(path)


@attrs.frozen
class LayerBlob:
    """One layer as the source holds it."""

    path: str
    #: Digest of the blob as stored (compressed); None when unknown (docker-archive).
    digest: Optional[str]
    size: Optional[int]
    media_type: str


@attrs.frozen
class ImageManifest:
    """One image found in a source, its manifest and config read and checked."""

    digest: str
    manifest: bytes
    config_digest: str
    config: bytes
    layers: Tuple[LayerBlob, ...]
    diff_ids: Tuple[str, ...]
    names: Tuple[str, ...]


def _json(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except ValueError as e:
        raise ImageError(f"{what}: not valid JSON: {e}") from e


def _digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _blob_path(digest: str) -> str:
    return "blobs/sha256/" + check_digest(digest)[7:]


def _read_blob(source: Source, descriptor: Any, what: str) -> Tuple[str, bytes]:
    if not isinstance(descriptor, dict):
        raise ImageError(f"{what}: expected a descriptor object, got {descriptor!r}")
    digest = check_digest(descriptor.get("digest"), f"{what} digest")
    data = source.read(_blob_path(digest))
    if _digest_of(data) != digest:
        raise ImageError(f"{what}: digest mismatch: expected {digest}, got {_digest_of(data)}")
    return digest, data


def _diff_ids(config: bytes, count: int) -> Tuple[str, ...]:
    doc = _json(config, "image config")
    rootfs = doc.get("rootfs") if isinstance(doc, dict) else None
    ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(ids, list):
        raise ImageError("image config: no rootfs.diff_ids list")
    if len(ids) != count:
        raise ImageError(f"image config lists {len(ids)} diff_ids for {count} layers")
    return tuple(check_digest(d, f"rootfs.diff_ids[{i}]") for i, d in enumerate(ids))


def _platform_matches(descriptor: Dict[str, Any]) -> bool:
    plat = descriptor.get("platform")
    if not isinstance(plat, dict):
        return True
    arch = _ARCH.get(platform.machine(), platform.machine())
    return bool(plat.get("os", "linux") == "linux" and plat.get("architecture", arch) == arch)


def _oci_images(source: Source, index: Any, names: Tuple[str, ...], depth: int = 0) -> List[ImageManifest]:
    if depth > 4 or not isinstance(index, dict) or not isinstance(index.get("manifests"), list):
        raise ImageError("index.json: expected an image index with a manifests list")
    out = []
    for i, desc in enumerate(index["manifests"]):
        if not isinstance(desc, dict):
            raise ImageError(f"index manifests[{i}]: expected an object")
        annotations = desc.get("annotations") or {}
        name = annotations.get(REF_NAME) if isinstance(annotations, dict) else None
        these = names + ((name,) if isinstance(name, str) and name else ())
        media = desc.get("mediaType")
        if media in _INDEXES:
            _digest, data = _read_blob(source, desc, f"index manifests[{i}]")
            nested = _oci_images(source, _json(data, "image index"), these, depth + 1)
            out.extend(nested[:1])  # the first image for this platform
            continue
        if media not in _MANIFESTS and media is not None:
            continue  # an artifact, a signature...: not an image
        if not _platform_matches(desc):
            continue
        digest, data = _read_blob(source, desc, f"index manifests[{i}]")
        out.append(_oci_image(source, digest, data, these))
    return out


def _oci_image(source: Source, digest: str, data: bytes, names: Tuple[str, ...]) -> ImageManifest:
    manifest = _json(data, f"manifest {digest}")
    if not isinstance(manifest, dict) or not isinstance(manifest.get("layers"), list):
        raise ImageError(f"manifest {digest}: expected an image manifest with a layers list")
    config_digest, config = _read_blob(source, manifest.get("config"), f"manifest {digest} config")
    layers = []
    for i, desc in enumerate(manifest["layers"]):
        if not isinstance(desc, dict):
            raise ImageError(f"manifest {digest} layers[{i}]: expected an object")
        layer_digest = check_digest(desc.get("digest"), f"layers[{i}] digest")
        size = desc.get("size")
        layers.append(
            LayerBlob(
                path=_blob_path(layer_digest),
                digest=layer_digest,
                size=size if isinstance(size, int) else None,
                media_type=str(desc.get("mediaType", OCI_LAYER)),
            )
        )
    diff_ids = _diff_ids(config, len(layers))
    return ImageManifest(digest, data, config_digest, config, tuple(layers), diff_ids, names)


def _docker_images(source: Source) -> List[ImageManifest]:
    entries = _json(source.read("manifest.json"), "manifest.json")
    if not isinstance(entries, list):
        raise ImageError("manifest.json: expected a list")
    out = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
            raise ImageError(f"manifest.json[{i}]: expected an object with Config and Layers")
        config = source.read(entry["Config"])
        config_digest = _digest_of(config)
        paths = entry.get("Layers")
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise ImageError(f"manifest.json[{i}]: Layers must be a list of paths")
        diff_ids = _diff_ids(config, len(paths))
        layers = []
        for path in paths:
            parts = entry_parts(path)
            # docker >= 25 stores layers as blobs/sha256/<digest>: a known digest.
            known = len(parts) == 3 and parts[:2] == ("blobs", "sha256")
            layers.append(LayerBlob(path, "sha256:" + parts[2] if known else None, None, OCI_LAYER))
        # No manifest in a docker-archive: the image is named by an OCI manifest
        # made from its config and diff_ids (the layers as unpacked).
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest},
            "layers": [{"mediaType": OCI_LAYER, "digest": d} for d in diff_ids],
        }
        data = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
        tags = entry.get("RepoTags") or []
        names = tuple(t for t in tags if isinstance(t, str) and t)
        out.append(ImageManifest(_digest_of(data), data, config_digest, config, tuple(layers), diff_ids, names))
    return out


def read_images(source: Source) -> List[ImageManifest]:
    """The images of a source: an OCI layout (index.json) first, else a
    docker-archive (manifest.json)."""
    if source.exists("index.json"):
        return _oci_images(source, _json(source.read("index.json"), "index.json"), ())
    if source.exists("manifest.json"):
        return _docker_images(source)
    raise ImageError("neither an OCI image layout (index.json) nor a docker-archive (manifest.json)")
