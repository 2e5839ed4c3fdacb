"""Image config -> container Config: entrypoint and cmd, env, working dir
and user, as docker and podman read them."""

from __future__ import annotations

import hashlib
import os
import posixpath
import stat
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

import attrs

from .._fields import fail
from .._passwd import resolve_user as resolve_user  # its home before _passwd.py
from ..config import Config
from ..process import DEFAULT_ENV, Process, User
from .errors import ImageNotFound
from .store import Image, ImageRef, ImageStore
from .unpack import opaque_xattr

PULL_POLICIES = ("never", "missing", "always")


def _strings(field: str, value: Any) -> Optional[Tuple[str, ...]]:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise fail(field, f"expected a list of str, got {value!r}")
    return tuple(str(v) for v in value)


def image_args(
    config: Mapping[str, Any], entrypoint: Optional[Sequence[str]] = None, cmd: Optional[Sequence[str]] = None
) -> Tuple[str, ...]:
    """Entrypoint + Cmd, docker's way: an ``entrypoint`` given here drops the
    image's Cmd (unless ``cmd`` is given too)."""
    image_entry = _strings("image Entrypoint", config.get("Entrypoint")) or ()
    image_cmd = _strings("image Cmd", config.get("Cmd")) or ()
    entry = tuple(entrypoint) if entrypoint is not None else image_entry
    if cmd is not None:
        rest = tuple(cmd)
    else:
        rest = () if entrypoint is not None else image_cmd
    args = entry + rest
    if not args:
        raise fail("process.args", "the image has no Entrypoint or Cmd: pass cmd=[...]")
    return args


def image_env(config: Mapping[str, Any], env: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """The image's Env (``KEY=value`` strings), PATH defaulted, ``env`` on top."""
    out = dict(DEFAULT_ENV)
    for item in _strings("image Env", config.get("Env")) or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise fail("image Env", f"expected KEY=value, got {item!r}")
        out[key] = value
    out.update(env or {})
    return out


def image_file(store: ImageStore, ref: ImageRef, path: str, limit: int = 1 << 20) -> Optional[str]:
    """The text of a regular file of the image (``etc/passwd``), read from
    its layers as the overlay would show it; None when it is not there (or
    not a regular file).  Nothing is followed: symlinks count as missing."""
    parts = [p for p in path.split("/") if p]
    for diff_id in reversed(store.get(ref).layers):
        here = store.layer_path(diff_id)
        hides_lower = False
        for depth in range(1, len(parts) + 1):
            current = os.path.join(here, *parts[:depth])
            try:
                st = os.lstat(current)
            except FileNotFoundError:
                break  # not in this layer
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                return None  # a whiteout
            if depth == len(parts):
                if not stat.S_ISREG(st.st_mode):
                    return None
                fd = os.open(current, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
                with os.fdopen(fd, "rb") as f:
                    return f.read(limit).decode("utf-8", "replace")
            if not stat.S_ISDIR(st.st_mode):
                return None  # a file (or a symlink) hides what lower layers have
            hides_lower = hides_lower or _opaque(current)
        if hides_lower:
            return None  # an opaque directory: lower layers do not count below it
    return None


def image_has(store: ImageStore, ref: ImageRef, path: str) -> bool:
    """Whether ``path`` exists in the image as the overlay shows it (in any
    form: a symlink on the way, or a file, counts as there: nothing is
    made over it)."""
    parts = [p for p in path.split("/") if p]
    if not parts:
        return True
    for diff_id in reversed(store.get(ref).layers):
        here = store.layer_path(diff_id)
        hides_lower = False
        for depth in range(1, len(parts) + 1):
            try:
                st = os.lstat(os.path.join(here, *parts[:depth]))
            except FileNotFoundError:
                break  # not in this layer
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                return False  # a whiteout
            if depth == len(parts) or not stat.S_ISDIR(st.st_mode):
                return True
            hides_lower = hides_lower or _opaque(os.path.join(here, *parts[:depth]))
        if hides_lower:
            return False
    return False


def workdir_layer(store: ImageStore, path: str) -> str:
    """A tiny read-only layer that holds only the directory ``path`` (root's,
    mode 0755), put on top of an image whose working directory is missing:
    the container finds it, and neither the image's layers nor the upper
    directory are written.  Kept under ``<store>/workdirs``, one per path."""
    path = posixpath.normpath("/" + path)
    layer = os.path.join(store.root, "workdirs", hashlib.sha256(path.encode()).hexdigest()[:32])
    os.makedirs(os.path.join(layer, path.lstrip("/")), mode=0o755, exist_ok=True)
    os.chmod(os.path.join(store.root, "workdirs"), 0o755)
    return layer


def _opaque(path: str) -> bool:
    try:
        return os.getxattr(path, opaque_xattr(), follow_symlinks=False) == b"y"
    except OSError:
        return False


def _pulled(store: ImageStore, ref: ImageRef, pull: str) -> Image:
    if pull not in PULL_POLICIES:
        raise fail("pull", f"expected one of {', '.join(PULL_POLICIES)}, got {pull!r}")
    if pull == "always" and isinstance(ref, str):
        return store.pull(ref)
    try:
        return store.get(ref)
    except ImageNotFound:
        if pull == "missing" and isinstance(ref, str):
            return store.pull(ref)
        raise


def config_from_image(
    store: ImageStore,
    ref: ImageRef,
    *,
    entrypoint: Optional[Sequence[str]] = None,
    cmd: Optional[Sequence[str]] = None,
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[str] = None,
    user: Union[str, User, None] = None,
    upper: Optional[str] = None,
    work: Optional[str] = None,
    pull: str = "never",
    **overrides: Any,
) -> Config:
    """A Config running the image ``ref`` of ``store``: its rootfs is
    ``store.rootfs(ref, upper, work)``; its process is the image's
    Entrypoint + Cmd, Env, WorkingDir and User, each overridable here
    (``env`` is merged over the image's).  Other keyword arguments go to
    Config (``hostname=``, ``mounts=``...).  The image's labels are not
    part of a Config: read them with ``store.labels(ref)``.  ``pull``:
    ``"never"`` (the default), ``"missing"`` (pull ``ref`` when the store
    lacks it) or ``"always"``, with the stored credentials."""
    image = _pulled(store, ref, pull)
    conf = store.image_config(image).get("config") or {}
    if "process" in overrides:
        raise fail("process", "pass entrypoint/cmd/env/cwd/user, or build the Config yourself")
    spec = user if user is not None else str(conf.get("User") or "")
    if isinstance(spec, User):
        who = spec
    else:
        who = resolve_user(spec, image_file(store, image, "etc/passwd"), image_file(store, image, "etc/group"))
    process = Process(
        args=image_args(conf, entrypoint, cmd),
        env=image_env(conf, env),
        cwd=cwd if cwd is not None else (conf.get("WorkingDir") or "/"),
        user=who,
    )
    rootfs = store.rootfs(image, upper, work)
    if not image_has(store, image, process.cwd):  # made, as docker and podman do
        rootfs = attrs.evolve(rootfs, lower=(*rootfs.lower, workdir_layer(store, process.cwd)))
    return Config(process=process, rootfs=rootfs, **overrides)
