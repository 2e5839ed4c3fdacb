"""Push an image to a registry and pull it back into another store, then
run it: a private registry on 127.0.0.1, as a test harness or a CI job
would have one.

    python3 examples/registry.py      (as root; needs docker-registry,
                                       busybox-static and the 'registry' extra)

The registry is Debian's ``docker-registry`` serving on a free port of the
loopback with its storage in a temporary directory (a registry on the
loopback may be plain HTTP, as Docker and podman allow).  The image is
examples/images.py's two-layer busybox image.  Everything is removed at the
end, the registry stopped; the exit status is 0 when the pulled image ran
and printed what it should.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import urllib3
from images import make_rootfs, tar_of, write_oci_archive

import libcontainer_py as lc
from libcontainer_py.images import ImageStore

REGISTRY = "/usr/bin/docker-registry"


def start_registry(tmp):
    """docker-registry on a free loopback port; returns (process, host:port)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        host = f"127.0.0.1:{s.getsockname()[1]}"
    config = os.path.join(tmp, "registry.yml")
    with open(config, "w") as f:
        f.write(
            "version: 0.1\nlog:\n  level: error\n"
            f"storage:\n  filesystem:\n    rootdirectory: {tmp}/registry\n"
            f"http:\n  addr: {host}\n  secret: example\n"
        )
    proc = subprocess.Popen([REGISTRY, "serve", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):  # until it answers (at most 30 s)
        try:
            if urllib3.request("GET", f"http://{host}/v2/", timeout=5, retries=False).status == 200:
                return proc, host
        except urllib3.exceptions.HTTPError:
            time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise RuntimeError("docker-registry did not start")


def main():
    if os.geteuid() != 0 or not os.path.exists(REGISTRY):
        print("run as root, with docker-registry installed", file=sys.stderr)
        return 1
    tmp = tempfile.mkdtemp(prefix="registry-example-")
    proc = None
    try:
        make_rootfs(os.path.join(tmp, "layer1"))
        os.makedirs(os.path.join(tmp, "layer2", "etc"))
        with open(os.path.join(tmp, "layer2", "etc", "motd"), "w") as f:
            f.write("pulled from a registry\n")
        layers = [tar_of(os.path.join(tmp, "layer1")), tar_of(os.path.join(tmp, "layer2"))]
        config = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["cat", "/etc/motd"]}}
        write_oci_archive(os.path.join(tmp, "demo.oci.tar"), layers, config, "demo:1")
        proc, host = start_registry(tmp)

        # Push from one store...
        local = ImageStore(os.path.join(tmp, "local"), progress=False)
        image = local.import_archive(os.path.join(tmp, "demo.oci.tar"))
        digest = local.push(image, f"{host}/examples/demo:1")
        print(f"pushed {image.short_id} as {host}/examples/demo:1 ({digest[:19]})")

        # ...and pull into another, watching the layers come in.
        store = ImageStore(os.path.join(tmp, "store"))
        seen = {}

        def progress(event):
            seen[event.digest[7:19]] = event.status

        pulled = store.pull(f"{host}/examples/demo:1", progress=progress)
        print(f"pulled {pulled.names[0]}: layers {seen}")
        again = {}
        store.pull(f"{host}/examples/demo:1", progress=lambda e: again.update({e.digest[7:19]: e.status}))
        print(f"pulled again: {again}")  # every layer 'exists': nothing downloaded

        cfg = lc.Config.from_image(store, f"{host}/examples/demo:1", pull="missing")
        r = lc.run(config=cfg, capture_output=True, text=True, timeout=30)
        print(r.stdout, end="")
        ok = (
            r.stdout == "pulled from a registry\n"
            and pulled.digest == image.digest == digest
            and set(again.values()) == {"exists"}
        )
        print("ok" if ok else f"unexpected: {r}")
        return 0 if ok else 1
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait()
        shutil.rmtree(tmp)


if __name__ == "__main__":
    sys.exit(main())
