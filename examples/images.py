"""Build a two-layer OCI image from busybox, import it into an image store
and run it on an overlay of its layers.

    python3 examples/images.py        (as root; needs busybox-static)

Layer 1 is a busybox root; layer 2 replaces /etc/motd and deletes
/etc/group (a whiteout).  Everything is made in a temporary directory that
is removed at the end; the exit status is 0 when the container saw exactly
what it should.
"""

import gzip
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
import tempfile

from _checks import BUSYBOX, make_busybox_rootfs  # the examples' shared busybox root

import libcontainer_py as lc
from libcontainer_py.images import ImageStore, config_from_image


def make_rootfs(path):
    """Layer 1's tree: busybox in /bin with a symlink per applet, a minimal /etc."""
    files = {"passwd": "root:x:0:0:root:/root:/bin/sh\n", "group": "root:x:0:\n", "motd": "from layer 1\n"}
    make_busybox_rootfs(path, ("bin", "etc", "proc", "sys", "dev", "tmp"), files)


def tar_of(path):
    """A layer: the tree at ``path`` as an uncompressed tar, names relative."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(os.listdir(path)):
            tar.add(os.path.join(path, name), arcname=name)
    return buf.getvalue()


def write_oci_archive(archive, layers, config, name):
    """An OCI archive (what ``skopeo copy ... oci-archive:`` writes): an OCI
    layout (index.json, blobs/sha256/...) in a tar, layers gzip-compressed."""
    blobs = {}

    def blob(data, media_type):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    config = dict(config, rootfs={"type": "layers", "diff_ids": []})
    layer_descriptors = []
    for layer in layers:
        config["rootfs"]["diff_ids"].append("sha256:" + hashlib.sha256(layer).hexdigest())
        layer_descriptors.append(blob(gzip.compress(layer), "application/vnd.oci.image.layer.v1.tar+gzip"))
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": blob(json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json"),
        "layers": layer_descriptors,
    }
    top = blob(json.dumps(manifest).encode(), manifest["mediaType"])
    top["annotations"] = {"org.opencontainers.image.ref.name": name}
    files = {
        "oci-layout": json.dumps({"imageLayoutVersion": "1.0.0"}).encode(),
        "index.json": json.dumps({"schemaVersion": 2, "manifests": [top]}).encode(),
    }
    files.update({f"blobs/sha256/{d[7:]}": data for d, data in blobs.items()})
    with tarfile.open(archive, "w") as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def main():
    if os.geteuid() != 0 or not os.path.exists(BUSYBOX):
        print("run as root, with busybox-static installed", file=sys.stderr)
        return 1
    tmp = tempfile.mkdtemp(prefix="images-example-")
    try:
        make_rootfs(os.path.join(tmp, "layer1"))
        top = os.path.join(tmp, "layer2", "etc")
        os.makedirs(top)
        with open(os.path.join(top, "motd"), "w") as f:
            f.write("from layer 2\n")
        open(os.path.join(top, ".wh.group"), "w").close()  # deletes layer 1's /etc/group
        layers = [tar_of(os.path.join(tmp, "layer1")), tar_of(os.path.join(tmp, "layer2"))]
        config = {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["sh", "-c", "cat /etc/motd; ls /etc"], "Env": ["GREETING=hi"]},
        }
        write_oci_archive(os.path.join(tmp, "demo.oci.tar"), layers, config, "demo:latest")

        store = ImageStore(os.path.join(tmp, "store"))
        image = store.import_archive(os.path.join(tmp, "demo.oci.tar"))
        print(f"imported {image.names[0]} ({image.short_id}), {len(image.layers)} layers:")
        for diff_id in image.layers:
            print("   ", store.layer_path(diff_id))

        r = lc.run(config=config_from_image(store, "demo"), capture_output=True, text=True, timeout=30)
        print(r.stdout, end="")
        ok = r.returncode == 0 and r.stdout.split() == ["from", "layer", "2", "motd", "passwd"]
        print("ok" if ok else f"unexpected: {r.returncode} {r.stderr}")
        return 0 if ok else 1
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    sys.exit(main())
