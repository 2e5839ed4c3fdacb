"""ImageStore: a content-addressed store of unpacked image layers.

Layout under the store's root::

    images.json            names and images (manifest digest -> config, layers)
    images.lock            flock: held while images.json is read-modified-written
    gc.lock                flock: shared by imports, exclusive for gc
    blobs/sha256/<hex>     manifests and image configs
    layers/sha256/<hex>    one unpacked layer per diff_id: overlay lower dirs
    tmp/                   layers being unpacked (renamed into layers/ when whole)

A layer is unpacked once, in a fresh directory under tmp/, checked, then
renamed into place: readers never see half a layer and two importers of
the same layer cannot corrupt each other (the second rename loses and its
copy is dropped).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import hashlib
import io
import json
import os
import shutil
import tempfile
from typing import IO, Any, Callable, ContextManager, Dict, Iterator, List, Optional, Set, Tuple, Union, cast

import attrs

from ..rootfs import Rootfs
from . import _userns
from .blobpipe import Readable
from .credentials import AuthArg
from .errors import DigestMismatchError, ImageError, ImageNotFound
from .platforms import Platform
from .progress import LayerProgressCallback, Progress, ProgressCallback
from .reference import key, name_for, parse_or_none
from .sources import ImageManifest, Source, open_source, read_images
from .unpack import check_digest, unpack_blob

#: Root's store; another user's is $XDG_DATA_HOME/libcontainer_py (by
#: default ~/.local/share/libcontainer_py), decided when the store is made.
DEFAULT_STORE = "/var/lib/libcontainer_py"


def default_store() -> str:
    """DEFAULT_STORE for root, a directory of the user's own for anyone else."""
    if os.geteuid() == 0:
        return DEFAULT_STORE
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data, "libcontainer_py")


@attrs.frozen
class Image:
    """An image in the store: its manifest digest (its identity), its config
    digest, its layers' diff_ids (the base first) and its names."""

    digest: str
    config_digest: str
    layers: Tuple[str, ...]
    names: Tuple[str, ...] = ()

    @property
    def short_id(self) -> str:
        return self.digest[7:19]


ImageRef = Union[str, Image]
ProgressArg = Union[bool, ProgressCallback, None]


class ImageStore:
    """Images and their unpacked layers under ``root`` (made if missing).

    Safe to share between processes: imports, removals and gc of several
    processes at once leave one consistent store.  ``progress``: a progress
    line on stderr while importing (None: only when stderr is a terminal).
    """

    def __init__(self, root: Optional[str] = None, *, progress: Optional[bool] = None) -> None:
        root = os.path.abspath(os.path.expanduser(os.fspath(root if root is not None else default_store())))
        if ":" in root or "," in root:
            raise ImageError(f"{root}: an overlay cannot use a directory with ':' or ',' in its path")
        self.root = root
        self.progress = progress
        try:
            for sub in ("blobs/sha256", "layers/sha256", "tmp"):
                os.makedirs(os.path.join(root, sub), mode=0o700, exist_ok=True)
            os.chmod(os.path.join(root, "layers"), 0o755)
        except OSError as exc:
            raise ImageError(f"{root}: cannot make the image store there: {exc.strerror or exc}") from exc

    def __repr__(self) -> str:
        return f"ImageStore({self.root!r})"

    # -- paths and locks --------------------------------------------------

    def layer_path(self, diff_id: str) -> str:
        """The unpacked layer ``diff_id`` (an overlay lower directory)."""
        return os.path.join(self.root, "layers", "sha256", check_digest(diff_id)[7:])

    def _blob_path(self, digest: str) -> str:
        return os.path.join(self.root, "blobs", "sha256", check_digest(digest)[7:])

    @contextlib.contextmanager
    def _lock(self, name: str, *, shared: bool = False) -> Iterator[None]:
        fd = os.open(os.path.join(self.root, name), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _write_atomic(self, path: str, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def _read_meta(self) -> Dict[str, Any]:
        try:
            with open(os.path.join(self.root, "images.json"), "rb") as f:
                meta: Dict[str, Any] = json.load(f)
        except FileNotFoundError:
            return {"version": 1, "images": {}}
        return meta

    def _write_meta(self, meta: Dict[str, Any]) -> None:
        self._write_atomic(os.path.join(self.root, "images.json"), json.dumps(meta, indent=1, sort_keys=True).encode())

    # -- import -------------------------------------------------------------

    def import_archive(
        self,
        path: str,
        *,
        name: Optional[str] = None,
        tag: Optional[str] = None,
        progress: Optional[LayerProgressCallback] = None,
    ) -> Image:
        """Import an OCI archive, a docker-archive (tar files) or an OCI
        layout directory.  With several images in it, ``name`` picks one by
        its ref name; ``tag`` adds a name to the imported image.

        ``progress(label, done, total)`` is called while each layer that is
        not in the store yet is unpacked (``done`` of ``total`` bytes of its
        blob, None when unknown; at most ten times a second, and once more
        when the layer is whole).  Without it the store's ``progress``
        setting decides: a ``tqdm.auto`` bar when tqdm is installed, else a
        line on stderr.

        Raises ImageError (UnsafeLayerError for a layer that would write
        outside its directory, a digest that does not match...) and
        ImageNotFound; a failed import leaves no partial layer, blob or
        name in the store.  Two processes importing at once are safe."""
        with open_source(os.fspath(path)) as source:
            return self._import(source, name, tag, os.fspath(path), progress)

    def import_layout(
        self,
        path: str,
        *,
        name: Optional[str] = None,
        tag: Optional[str] = None,
        progress: Optional[LayerProgressCallback] = None,
    ) -> Image:
        """Import from an OCI image layout directory (index.json, blobs/), as
        import_archive()."""
        if not os.path.isdir(path):
            raise ImageError(f"{path}: not a directory (an OCI image layout)")
        return self.import_archive(path, name=name, tag=tag, progress=progress)

    def _import(
        self,
        source: Source,
        name: Optional[str],
        tag: Optional[str],
        path: str,
        callback: Optional[LayerProgressCallback],
    ) -> Image:
        # only an OCI layout's ref.name may be a bare tag; docker's RepoTags are names
        oci = source.exists("index.json")
        found = [attrs.evolve(m, names=tuple(name_for(n, path, oci) for n in m.names)) for m in read_images(source)]
        if name is not None:
            want = key(name_for(name, path, oci))
            found = [m for m in found if want in {key(n) for n in m.names}]
        if len(found) != 1:
            names = [n for m in found for n in m.names] or [m.digest for m in found]
            what = f"no image named {name!r}" if name is not None and not found else f"{len(found)} images"
            raise ImageError(f"{what} in the source ({', '.join(names)}): pass name= to pick one")
        image = found[0]
        with self._lock("gc.lock", shared=True):  # no gc until the image is recorded
            for i, (blob, diff_id) in enumerate(zip(image.layers, image.diff_ids)):
                if not os.path.isdir(self.layer_path(diff_id)):
                    label = f"layer {i + 1}/{len(image.layers)} {diff_id[7:19]}"
                    progress = Progress(label, blob.size, self.progress, callback)
                    try:
                        self._unpack(functools.partial(source.open, blob.path), blob.digest, diff_id, progress.update)
                    except BaseException:
                        progress.close("failed")
                        raise
                    progress.close()
            for digest, data in ((image.digest, image.manifest), (image.config_digest, image.config)):
                if not os.path.exists(self._blob_path(digest)):
                    self._write_atomic(self._blob_path(digest), data)
            return self._record(image, tag)

    def _unpack(
        self,
        open_blob: Callable[[], ContextManager[Readable]],
        digest: Optional[str],
        diff_id: str,
        on_read: Optional[Callable[[int], None]] = None,
    ) -> None:
        """Unpack a layer blob into layers/ and keep the blob in blobs/ (for
        push), both only once checked; nothing of a failed one stays."""
        tmp_root = os.path.join(self.root, "tmp")
        tmp = tempfile.mkdtemp(dir=tmp_root, prefix="layer-")
        fd, blob_tmp = tempfile.mkstemp(dir=tmp_root, prefix="blob-")
        try:
            try:
                os.chmod(tmp, 0o755)
                with open_blob() as blob:
                    if _userns.needed():  # a non-root caller: owners through its id ranges
                        got = _unpack_in_userns(blob, fd, tmp, digest, diff_id)
                    else:
                        got, _ = unpack_blob(blob, tmp, digest=digest, diff_id=diff_id, on_read=on_read, copy_fd=fd)
                _syncfs(fd)  # the layer and its blob on disk before either is renamed into place
            finally:
                os.close(fd)
            os.replace(blob_tmp, self._blob_path(got))
            try:
                os.rename(tmp, self.layer_path(diff_id))
            except OSError as e:
                if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
                _rmtree(tmp)  # another import made it first: the same content
        except BaseException:
            _rmtree(tmp, ignore_errors=True)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(blob_tmp)
            raise

    def _record(self, found: ImageManifest, tag: Optional[str]) -> Image:
        with self._lock("images.lock"):
            meta = self._read_meta()
            images = meta.setdefault("images", {})
            entry = images.setdefault(
                found.digest, {"config": found.config_digest, "layers": list(found.diff_ids), "names": []}
            )
            entry["blobs"] = [b.digest or d for b, d in zip(found.layers, found.diff_ids)]
            for new in found.names + ((_familiar(tag),) if tag else ()):
                for other in images.values():  # a name moves to the image imported last
                    other["names"] = [n for n in other["names"] if key(n) != key(new)]
                entry["names"].append(new)
            self._write_meta(meta)
            return _image(found.digest, entry)

    # -- registries ------------------------------------------------------------

    def pull(
        self,
        ref: str,
        *,
        auth: AuthArg = None,
        platform: Union[str, Platform, None] = None,
        insecure: bool = False,
        progress: ProgressArg = None,
        concurrency: int = 3,
    ) -> Image:
        """Pull ``ref`` (``alpine``, ``quay.io/a/b:1``, ``name@sha256:...``)
        from its registry into the store, for this machine's platform (or
        ``platform="linux/arm64"``); layers already here are not fetched.
        ``auth``: a ``(user, password)`` pair, else the stored credentials.
        ``insecure``: plain HTTP or an unverified certificate is accepted
        (always for registries on the loopback).  ``progress``: a callback
        given PullProgress events, True for bars, False for none.  Needs
        the ``registry`` extra (urllib3)."""
        from .distribution import pull

        return pull(
            self, ref, auth=auth, platform=platform, insecure=insecure, progress=progress, concurrency=concurrency
        )

    def push(
        self, ref: ImageRef, dest: str, *, auth: AuthArg = None, insecure: bool = False, progress: ProgressArg = None
    ) -> str:
        """Push image ``ref`` of the store to the reference ``dest``; blobs
        the registry has are not sent.  Returns the manifest digest."""
        from .distribution import push

        return push(self, ref, dest, auth=auth, insecure=insecure, progress=progress)

    # -- queries --------------------------------------------------------------

    def list(self) -> List[Image]:
        """The images in the store, sorted by their first name (then digest)."""
        with self._lock("images.lock", shared=True):
            images = self._read_meta()["images"]
        return sorted((_image(d, e) for d, e in images.items()), key=lambda i: (i.names[:1] or ("~",), i.digest))

    def get(self, ref: ImageRef) -> Image:
        """The image named ``ref``: a name (``busybox``, ``busybox:1.36``), a
        manifest digest, a unique digest prefix (12 hex digits or more), or
        an Image.  Raises ImageNotFound."""
        with self._lock("images.lock", shared=True):
            return self._find(self._read_meta()["images"], ref)

    def _find(self, images: Dict[str, Any], ref: ImageRef) -> Image:
        found = [_image(d, e) for d, e in images.items()]
        if isinstance(ref, Image):
            ref = ref.digest
        for image in found:
            if ref == image.digest:
                return image
        wanted = parse_or_none(ref)
        if wanted is not None and wanted.digest is not None:  # name@sha256:...
            for image in found:
                if image.digest == wanted.digest and _in_repository(image, wanted.repository):
                    return image
            for image in found:  # pulled by an index's digest: named so
                if str(wanted) in {key(n) for n in image.names}:
                    return image
        elif wanted is not None:
            for image in found:
                if str(wanted) in {key(n) for n in image.names}:
                    return image
        hexpart = ref[7:] if ref.startswith("sha256:") else ref
        if len(hexpart) >= 12:
            matches = [i for i in found if i.digest[7:].startswith(hexpart)]
            if len(matches) == 1:
                return matches[0]
        raise ImageNotFound(f"no image {ref!r} in {self.root}")

    def image_config(self, ref: ImageRef) -> Dict[str, Any]:
        """The image's config document (OCI image config: ``config`` holds
        Entrypoint, Cmd, Env, WorkingDir, User, Labels...)."""
        with open(self._blob_path(self.get(ref).config_digest), "rb") as f:
            config: Dict[str, Any] = json.load(f)
        return config

    def labels(self, ref: ImageRef) -> Dict[str, str]:
        """The image's labels (config.Labels), e.g. to use as annotations."""
        labels = (self.image_config(ref).get("config") or {}).get("Labels") or {}
        return {str(k): str(v) for k, v in labels.items()}

    def rootfs(
        self, ref: ImageRef, upper: Optional[str] = None, work: Optional[str] = None, *, readonly: bool = False
    ) -> Rootfs:
        """An overlay root of the image's layers (read-only, shared) with a
        writable ``upper`` directory (and ``work``, on the same file system),
        or a throwaway tmpfs upper when ``upper`` is None."""
        image = self.get(ref)
        lower = [self.layer_path(d) for d in image.layers]
        for path in lower:
            if not os.path.isdir(path):
                raise ImageError(f"image {image.short_id}: layer {path} is missing")
        if not lower:  # an image without layers: an empty root
            lower = [os.path.join(self.root, "layers", "empty")]
            os.makedirs(lower[0], mode=0o755, exist_ok=True)
        return Rootfs.overlay(lower, upper, work, readonly=readonly)

    # -- removal ---------------------------------------------------------------

    def remove(self, ref: ImageRef) -> Image:
        """Remove a name, and the image when that was its last name (a digest
        removes the image and all its names).  Layers stay until gc()."""
        with self._lock("images.lock"):
            meta = self._read_meta()
            images = meta["images"]
            image = self._find(images, ref)
            entry = images[image.digest]
            named = [n for n in entry["names"] if isinstance(ref, str) and key(n) == key(ref)]
            if named and ref != image.digest:
                entry["names"] = [n for n in entry["names"] if n not in named]
            else:
                entry["names"] = []
            if not entry["names"]:
                del images[image.digest]
            self._write_meta(meta)
        return image

    def gc(self) -> List[str]:
        """Remove the layers and blobs no image refers to (and what failed
        imports left in tmp/); returns the diff_ids of the removed layers.
        A layer still mounted by a running container is kept."""
        removed = []
        with self._lock("gc.lock"), self._lock("images.lock"):
            images = self._read_meta()["images"]
            layers = {d for e in images.values() for d in e["layers"]}
            blobs = {e["config"] for e in images.values()} | set(images)
            blobs.update(b for e in images.values() for b in e.get("blobs", ()))
            in_use = _mounted_layers(os.path.join(self.root, "layers", "sha256"))
            layers_dir = os.path.join(self.root, "layers", "sha256")
            for name in sorted(os.listdir(layers_dir)):
                digest = "sha256:" + name
                if digest in layers or name in in_use:
                    continue
                doomed = tempfile.mkdtemp(dir=os.path.join(self.root, "tmp"), prefix="gc-")
                os.rename(os.path.join(layers_dir, name), os.path.join(doomed, "layer"))  # gone at once
                _rmtree(doomed)
                removed.append(digest)
            blobs_dir = os.path.join(self.root, "blobs", "sha256")
            for name in os.listdir(blobs_dir):
                if "sha256:" + name not in blobs:
                    os.unlink(os.path.join(blobs_dir, name))
            tmp = os.path.join(self.root, "tmp")
            for name in os.listdir(tmp):  # no import runs while gc.lock is exclusive
                _rmtree(os.path.join(tmp, name), ignore_errors=True)
        return removed


def _syncfs(fd: int) -> None:
    """syncfs(2) of the file system holding ``fd``: every file a layer
    unpacked on disk at once, where an fsync of each would wait for each."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syncfs(fd) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"syncfs: {os.strerror(err)}")


def _unpack_in_userns(blob: Readable, fd: int, dest: str, digest: Optional[str], diff_id: str) -> str:
    """Unpack in the caller's user namespace (_userns), the blob copied to
    ``fd`` and checked here; returns its digest."""
    with os.fdopen(os.dup(fd), "wb") as out:
        tee = _Tee(blob, out)
        try:
            _userns.unpack_layer(cast(IO[bytes], tee), dest, digest=None, diff_id=diff_id)
        except ImageError as e:  # a changed blob is a digest mismatch, however it broke the unpacking
            if digest is None:
                raise
            while tee.read(1 << 20):
                pass
            if tee.digest() != digest:
                raise DigestMismatchError("layer", digest, tee.digest()) from e
            raise
    if digest is not None and tee.digest() != digest:
        raise DigestMismatchError("layer", digest, tee.digest())
    return tee.digest()


class _Tee(io.RawIOBase):
    """Reads through ``raw``, copying what passes to ``out`` and hashing it."""

    def __init__(self, raw: Readable, out: IO[bytes]) -> None:
        self.raw = raw
        self.out = out
        self.sha = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.out.write(data)
        self.sha.update(data)
        return n

    def digest(self) -> str:
        return "sha256:" + self.sha.hexdigest()


def _rmtree(path: str, *, ignore_errors: bool = False) -> None:
    """Remove a layer's tree; a non-root caller's layers hold files of its
    subordinate ids, removed in its user namespace."""
    if not _userns.needed():
        shutil.rmtree(path, ignore_errors=ignore_errors)
        return
    try:
        _userns.rmtree(path)
    except (ImageError, OSError):
        if not ignore_errors:
            raise


def _familiar(name: str) -> str:
    parsed = parse_or_none(name)
    return parsed.familiar if parsed is not None else name


def _in_repository(image: Image, repository: str) -> bool:
    """An image without names is in every repository (it was imported so)."""
    names = [parse_or_none(n) for n in image.names]
    return not image.names or any(n is not None and n.repository == repository for n in names)


def _image(digest: str, entry: Dict[str, Any]) -> Image:
    return Image(digest, entry["config"], tuple(entry["layers"]), tuple(entry["names"]))


def _mounted_layers(layers_dir: str) -> Set[str]:
    """Names of the layer directories that an overlay mount uses as a lower
    directory, in any mount namespace of this machine (best effort)."""
    seen: Set[str] = set()
    used: Set[str] = set()
    prefix = layers_dir + "/"
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            ns = os.readlink(f"/proc/{pid}/ns/mnt")
            if ns in seen:
                continue
            seen.add(ns)
            with open(f"/proc/{pid}/mountinfo") as f:
                text = f.read()
        except OSError:
            continue
        for line in text.splitlines():
            if prefix not in line or "lowerdir=" not in line:
                continue
            for option in line.rsplit(" ", 1)[-1].split(","):
                if option.startswith("lowerdir="):
                    for lower in option[9:].split(":"):
                        if lower.startswith(prefix):
                            used.add(lower[len(prefix) :].split("/")[0])
    return used
