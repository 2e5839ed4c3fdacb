"""Build image layers and archives (OCI layout, OCI archive, docker-archive)
with tarfile, json and hashlib only: what skopeo or docker save would write."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .busybox import make_rootfs


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_from_dir(path: str) -> bytes:
    """A layer tar of the tree at ``path`` (names relative, sorted, no
    leading ./).  Whiteouts are written as they are in the tree: empty
    files named .wh.NAME and .wh..wh..opq."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(dirs + files):
                full = os.path.join(root, name)
                tar.add(full, arcname=os.path.relpath(full, path), recursive=False)
    return buf.getvalue()


def busybox_layer(path: str, motd: str) -> bytes:
    """A layer of a busybox root made at ``path`` (support.busybox), its
    /etc/motd saying ``motd``."""
    make_rootfs(path)
    with open(os.path.join(path, "etc", "motd"), "w") as f:
        f.write(motd)
    return layer_from_dir(path)


def layer_from_members(members: Sequence[Tuple[tarfile.TarInfo, Optional[bytes]]]) -> bytes:
    """A layer tar of hand-made entries (for malicious layers)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def entry(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "", mode: int = 0o644) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.mode = mode
    return info


def compress(layer: bytes, how: Optional[str]) -> Tuple[bytes, str]:
    """(blob, media type) of a layer tar, compressed with gzip, zstd or not."""
    if how == "gzip":
        return gzip.compress(layer, mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip"
    if how == "zstd":
        import zstandard

        return zstandard.ZstdCompressor().compress(layer), "application/vnd.oci.image.layer.v1.tar+zstd"
    return layer, "application/vnd.oci.image.layer.v1.tar"


def image_config(
    layers: Sequence[bytes], config: Optional[Dict[str, Any]] = None, architecture: str = "amd64"
) -> bytes:
    doc = {
        "architecture": architecture,
        "os": "linux",
        "config": config or {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [sha256(layer) for layer in layers]},
    }
    return json.dumps(doc, sort_keys=True).encode()


def blob_writer(path: str) -> Callable[[bytes], Dict[str, Any]]:
    """``put(data)`` writing blobs into the OCI layout at ``path`` (made
    here); it returns the blob's descriptor fields (digest, size)."""
    blobs = os.path.join(path, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)

    def put(data: bytes) -> Dict[str, Any]:
        with open(os.path.join(blobs, sha256(data)[7:]), "wb") as f:
            f.write(data)
        return {"digest": sha256(data), "size": len(data)}

    return put


def write_layout_index(path: str, manifests: Sequence[Dict[str, Any]]) -> None:
    """The layout's index.json (listing ``manifests``) and oci-layout files."""
    with open(os.path.join(path, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": list(manifests)}, f)
    with open(os.path.join(path, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)


def write_oci_layout(
    path: str,
    layers: Sequence[bytes],
    *,
    config: Optional[Dict[str, Any]] = None,
    ref_name: str = "test:latest",
    compression: Optional[str] = "gzip",
    architecture: str = "amd64",
) -> str:
    """An OCI image layout directory at ``path``; returns the manifest digest."""
    put = blob_writer(path)
    cfg = image_config(layers, config, architecture)
    descriptors: List[Dict[str, Any]] = []
    for layer in layers:
        blob, media = compress(layer, compression)
        descriptors.append({"mediaType": media, **put(blob)})
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **put(cfg)},
            "layers": descriptors,
        }
    ).encode()
    desc = put(manifest)
    annotations = {"org.opencontainers.image.ref.name": ref_name}
    write_layout_index(
        path, [{"mediaType": "application/vnd.oci.image.manifest.v1+json", **desc, "annotations": annotations}]
    )
    return str(desc["digest"])


def tar_dir(path: str, archive: str) -> str:
    """A tar of the directory's contents (an OCI archive of a layout)."""
    with tarfile.open(archive, "w") as tar:
        for name in sorted(os.listdir(path)):
            tar.add(os.path.join(path, name), arcname=name)
    return archive


def write_docker_archive(
    archive: str, layers: Sequence[bytes], *, config: Optional[Dict[str, Any]] = None, tags: Sequence[str] = ()
) -> str:
    """A docker-archive (``docker save``) tar; returns the config digest."""
    cfg = image_config(layers, config)
    with tarfile.open(archive, "w") as tar:

        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        paths = []
        for layer in layers:
            paths.append(f"{sha256(layer)[7:]}/layer.tar")
            add(paths[-1], layer)
        add(f"{sha256(cfg)[7:]}.json", cfg)
        manifest = [{"Config": f"{sha256(cfg)[7:]}.json", "RepoTags": list(tags), "Layers": paths}]
        add("manifest.json", json.dumps(manifest).encode())
    return sha256(cfg)
