#!/usr/bin/env python3
"""Pulling an image of about 50 MB from a registry on the loopback: ours
(``ImageStore.pull``: download, check, unpack into the store) beside
``skopeo copy docker://... oci:DIR`` (download and check, no unpacking),
in one run, alternating, medians.  Target: ours <= 1.2x skopeo.  A third
row does the same work as ours in two steps: ``skopeo copy`` to an OCI
directory, then ``ImageStore.import_layout`` of it (the unpacking).  A
fourth, ``floor``, is what the unpacking alone costs with the fastest tools
here: GNU ``tar -xzf`` of each layer blob into a fresh directory, the layers
at once; ``floor-igzip`` the same with ISA-L's inflate (the isal package,
which ours uses when installed) feeding ``tar -x``, and ``floor-pigz``
with ``pigz -dc | tar -x`` when pigz is installed.  Nothing is downloaded,
hashed or recorded there: no pull can be faster.  ``floor-httpx`` is the
floor of a pull through httpx: per layer, a thread downloads the blob from
the registry with httpx (``iter_raw``), hashes it (sha256), inflates it with
ISA-L and pipes the tar into ``tar -xf - -C DIR`` (hashing the tar too), the
layers at once; nothing is recorded, no syncfs.  ``floor-urllib3`` is the
same through urllib3 (the client a pull uses: reads of 1 MiB), the floor
of a pull through it; ``floor-httpx`` only when httpx is installed (the
``registry`` extra no longer brings it).

The image (built once, untimed, gzip layers as registries hold them): a
busybox root; 3000 small text files (about 25 MB before compression); 24
files of 1 MiB of random bytes (incompressible).  It is written as an OCI
layout, pushed to Debian's ``docker-registry`` (serving on 127.0.0.1 with
storage in a temp dir) by skopeo.  Each round pulls into a fresh store and
copies into a fresh OCI directory; all are removed after the round.

Run as root, from the repository root, with the ``registry`` extra and the
Debian packages docker-registry, skopeo and busybox-static (pigz optional):

    python3 benchmarks/bench_pull.py
    python3 benchmarks/bench_pull.py --iterations 5 --concurrency 3

The ``cpu s`` column is the CPU time of the benchmark's process (every
thread) and of the children it waited for (skopeo, tar, gzip), the
registry's not counted: on a shared machine wall times follow the load,
CPU times much less.

Exit status 1 when something fails to run, 0 otherwise (a missed target
is reported, not an error).
"""

from __future__ import annotations

import argparse
import fcntl
import gzip
import hashlib
import importlib.util
import io
import json
import os
import random
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from support.images import blob_writer, image_config, write_layout_index
from support.registry import Registry

from libcontainer_py.images import ImageStore

TARGET = 1.2


def tar_of(entries: List[Tuple[str, bytes]], dirs: List[str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in dirs:
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def busybox_layer() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in ("bin", "etc", "proc", "sys", "dev", "tmp"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        tar.add("/bin/busybox", arcname="bin/busybox")
        applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True, check=True).stdout
        for applet in applets.split():
            if applet != "busybox":
                info = tarfile.TarInfo(f"bin/{applet}")
                info.type, info.linkname = tarfile.SYMTYPE, "busybox"
                tar.addfile(info)
    return buf.getvalue()


def build_layers() -> List[bytes]:
    rng = random.Random(42)
    words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(5000)]
    text = [(f"usr/share/doc/f{i:04d}.txt", b" ".join(rng.choices(words, k=1500))) for i in range(3000)]
    binary = [(f"opt/data/blob{i:02d}.bin", rng.randbytes(1 << 20)) for i in range(24)]
    return [
        busybox_layer(),
        tar_of(text, ["usr", "usr/share", "usr/share/doc"]),
        tar_of(binary, ["opt", "opt/data"]),
    ]


def write_layout(path: str, layers: List[bytes]) -> int:
    """An OCI layout of gzip layers; returns the compressed size."""
    put = blob_writer(path)
    gz = [gzip.compress(layer, compresslevel=6, mtime=0) for layer in layers]
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **put(image_config(layers))},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **put(g)} for g in gz],
    }
    desc = put(json.dumps(manifest).encode())
    annotations = {"org.opencontainers.image.ref.name": "big"}
    write_layout_index(
        path, [{"mediaType": "application/vnd.oci.image.manifest.v1+json", **desc, "annotations": annotations}]
    )
    return sum(len(g) for g in gz)


def layer_blobs(layout: str) -> List[str]:
    """The paths of the layer blobs of the layout's one image."""
    blobs = os.path.join(layout, "blobs", "sha256")
    with open(os.path.join(layout, "index.json")) as f:
        manifest_digest = json.load(f)["manifests"][0]["digest"]
    with open(os.path.join(blobs, manifest_digest[7:])) as f:
        return [os.path.join(blobs, d["digest"][7:]) for d in json.load(f)["layers"]]


def untar_all(blobs: List[str], dest: str, inflate: str) -> None:
    """Each gzip blob unpacked into a directory of its own under ``dest``
    by GNU tar, all at once; ``inflate``: "gzip" (tar -xzf), "pigz" (pigz
    -dc | tar -x) or "igzip" (ISA-L's inflate, the isal package, in a
    thread of this process writing to tar -x)."""
    procs: List[subprocess.Popen[bytes]] = []
    feeders: List[threading.Thread] = []
    for i, blob in enumerate(blobs):
        out = os.path.join(dest, str(i))
        os.makedirs(out)
        if inflate == "gzip":
            procs.append(subprocess.Popen(["tar", "-xzf", blob, "-C", out]))
        elif inflate == "pigz":
            cmd = f"pigz -dc {shlex.quote(blob)} | tar -xf - -C {shlex.quote(out)}"
            procs.append(subprocess.Popen(["bash", "-o", "pipefail", "-c", cmd]))
        else:
            proc = subprocess.Popen(["tar", "-xf", "-", "-C", out], stdin=subprocess.PIPE)
            procs.append(proc)
            feeders.append(threading.Thread(target=igzip_into, args=(blob, proc)))
            feeders[-1].start()
    for feeder in feeders:
        feeder.join()
    failed = [p.args for p in procs if p.wait() != 0]
    if failed:
        raise RuntimeError(f"failed: {failed}")


def igzip_into(blob: str, proc: subprocess.Popen[bytes]) -> None:
    from isal import igzip

    assert proc.stdin is not None
    with igzip.open(blob, "rb") as f, proc.stdin:
        shutil.copyfileobj(f, proc.stdin, 1 << 20)


def httpx_untar_all(base: str, blobs: List[str], dest: str) -> None:
    """floor-httpx: each layer blob downloaded from ``base`` (the
    repository's ``/v2/NAME`` URL) by a thread of its own with httpx,
    hashed, inflated by ISA-L and piped into ``tar -x`` in a directory of
    its own under ``dest``, the tar hashed too; all at once.  A digest
    that differs raises."""
    import httpx

    with httpx.Client(timeout=60) as client:

        def one(i: int, blob: str) -> None:
            httpx_into(client, f"{base}/blobs/sha256:{os.path.basename(blob)}", os.path.join(dest, str(i)))

        each_in_a_thread(one, blobs)


def httpx_into(client: Any, url: str, out: str) -> None:
    with client.stream("GET", url, follow_redirects=True) as response:
        response.raise_for_status()
        untar_stream(response.iter_raw(), url, out)


def urllib3_untar_all(base: str, blobs: List[str], dest: str) -> None:
    """floor-urllib3: floor-httpx through one urllib3 PoolManager, the
    blobs read 1 MiB at a time."""
    import urllib3

    pool = urllib3.PoolManager(maxsize=16, retries=False, timeout=60)

    def one(i: int, blob: str) -> None:
        url = f"{base}/blobs/sha256:{os.path.basename(blob)}"
        response = pool.request("GET", url, preload_content=False, decode_content=False)
        if response.status != 200:
            raise RuntimeError(f"{url}: {response.status}")
        chunks = iter(lambda: response.read(1 << 20), b"")
        untar_stream(chunks, url, os.path.join(dest, str(i)))
        response.release_conn()

    try:
        each_in_a_thread(one, blobs)
    finally:
        pool.clear()


def each_in_a_thread(one: Callable[[int, str], None], blobs: List[str]) -> None:
    """``one(i, blob)`` for every blob, each in a thread of its own, all at
    once; the first exception raised in any of them is raised here."""
    errors: List[BaseException] = []

    def guarded(i: int, blob: str) -> None:
        try:
            one(i, blob)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=guarded, args=(i, blob)) for i, blob in enumerate(blobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def untar_stream(chunks: Iterator[bytes], url: str, out: str) -> None:
    """The gzip blob in ``chunks`` hashed, inflated by ISA-L, the tar
    hashed and piped into ``tar -x`` in ``out``; raises for a blob that is
    not what ``url`` names."""
    from isal import isal_zlib

    os.makedirs(out)
    proc = subprocess.Popen(["tar", "-xf", "-", "-b", "2048", "-C", out], stdin=subprocess.PIPE)
    assert proc.stdin is not None
    fcntl.fcntl(proc.stdin.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)
    blob_sha, tar_sha = hashlib.sha256(), hashlib.sha256()
    inflater = isal_zlib.decompressobj(31)
    try:
        with proc.stdin:
            for data in chunks:
                blob_sha.update(data)
                piece = inflater.decompress(data)
                tar_sha.update(piece)
                proc.stdin.write(piece)
            piece = inflater.flush()
            tar_sha.update(piece)
            proc.stdin.write(piece)
    finally:
        if proc.wait() != 0:
            raise RuntimeError(f"tar -x of {url} failed")
    if "sha256:" + blob_sha.hexdigest() != url.rsplit("/", 1)[1] or not inflater.eof:
        raise RuntimeError(f"{url}: not the blob its digest names")
    assert tar_sha.hexdigest()


def cpu_seconds() -> float:
    """CPU time of this process (all its threads) and of its waited-for
    children (skopeo, tar, gzip) so far; the registry's is not counted."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=3, help="layers downloaded at once by ours")
    parser.add_argument("--tmpdir", default="/var/tmp", help="where stores and OCI copies go (a disk, as in use)")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-pull-", dir=args.tmpdir)
    registry = None
    try:
        layers = build_layers()
        size = write_layout(os.path.join(tmp, "layout"), layers)
        registry = Registry(os.path.join(tmp, "registry")).start()
        host = registry.host
        ref = f"{host}/bench/big:1"
        subprocess.run(
            ["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"oci:{tmp}/layout:big", f"docker://{ref}"],
            check=True,
        )
        print(f"image: {len(layers)} gzip layers, {size / 1e6:.1f} MB compressed, {sum(map(len, layers)) / 1e6:.1f} MB")
        print(f"registry: docker-registry on {host}; {args.iterations} rounds, alternating; stores in {args.tmpdir}")
        blobs = layer_blobs(os.path.join(tmp, "layout"))
        inflaters = ["gzip"] + [name for name in ("pigz",) if shutil.which(name)]
        inflaters += ["igzip"] if importlib.util.find_spec("isal") is not None else []

        def ours(n: int) -> None:
            store = ImageStore(os.path.join(tmp, f"store{n}"), progress=False)
            store.pull(ref, concurrency=args.concurrency)

        def skopeo(n: int) -> None:
            subprocess.run(
                ["skopeo", "copy", "--quiet", "--src-tls-verify=false", f"docker://{ref}", f"oci:{tmp}/copy{n}:big"],
                check=True,
            )

        def skopeo_import(n: int) -> None:
            skopeo(n + 1000)
            ImageStore(os.path.join(tmp, f"store{n + 1000}"), progress=False).import_layout(f"{tmp}/copy{n + 1000}")

        def floor(inflate: str) -> Callable[[int], None]:
            return lambda n: untar_all(blobs, os.path.join(tmp, f"floor{n}", inflate), inflate)

        runners: Dict[str, Callable[[int], None]] = {"ours": ours, "skopeo": skopeo, "skopeo+import": skopeo_import}
        for inflate in inflaters:
            runners["floor" if inflate == "gzip" else f"floor-{inflate}"] = floor(inflate)
        base = f"http://{host}/v2/bench/big"
        if "igzip" in inflaters and importlib.util.find_spec("httpx") is not None:
            runners["floor-httpx"] = lambda n: httpx_untar_all(base, blobs, os.path.join(tmp, f"floor{n}", "httpx"))
        if "igzip" in inflaters:
            runners["floor-urllib3"] = lambda n: urllib3_untar_all(
                base, blobs, os.path.join(tmp, f"floor{n}", "urllib3")
            )
        names = list(runners)
        times: Dict[str, List[float]] = {name: [] for name in names}
        cpus: Dict[str, List[float]] = {name: [] for name in names}
        for n in range(args.iterations + 1):  # round 0 is a warm-up
            order = names[n % len(names) :] + names[: n % len(names)]
            for name in order:
                t, cpu = time.perf_counter(), cpu_seconds()
                runners[name](n)
                if n:
                    times[name].append(time.perf_counter() - t)
                    cpus[name].append(cpu_seconds() - cpu)
            for k in (n, n + 1000):
                for sub in (f"store{k}", f"copy{k}", f"floor{k}"):
                    shutil.rmtree(os.path.join(tmp, sub), ignore_errors=True)
        print(f"{'':14} {'median s':>9} {'min s':>7} {'max s':>7} {'cpu s':>7}")
        for name, samples in times.items():
            cpu_median = statistics.median(cpus[name])
            print(
                f"{name:14} {statistics.median(samples):9.3f} {min(samples):7.3f} {max(samples):7.3f} {cpu_median:7.3f}"
            )
        median = {name: statistics.median(samples) for name, samples in times.items()}
        ratio = median["ours"] / median["skopeo"]
        verdict = "met" if ratio <= TARGET else "NOT met"
        print(f"ours/skopeo (medians)         {ratio:.2f}  target <= {TARGET}  {verdict}")
        print(f"ours/skopeo+import (medians)  {median['ours'] / median['skopeo+import']:.2f}  (same work: no target)")
        for client in ("httpx", "urllib3"):
            row = f"floor-{client}"
            if row in median:
                print(
                    f"ours/{row + ' (medians)':<25}{median['ours'] / median[row]:.2f}  "
                    f"({row}/skopeo {median[row] / median['skopeo']:.2f}: a pull through {client} at best)"
                )
        floor_name = min(
            (name for name in names if name.startswith("floor") and name not in ("floor-httpx", "floor-urllib3")),
            key=median.__getitem__,
        )
        floor = median[floor_name]
        print(
            f"floor/skopeo (medians)        {floor / median['skopeo']:.2f}  "
            f"(the fastest unpacking alone, {floor_name}; ours/floor {median['ours'] / floor:.2f})"
        )
        return 0
    finally:
        if registry is not None:
            registry.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
