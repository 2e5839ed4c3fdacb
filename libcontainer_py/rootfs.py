"""Rootfs: the container's root filesystem."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Optional, Sequence, Tuple

import attrs

from ._fields import FieldCheck, boolean_field, choice_field, fail, field_options, named_fields, str_tuple, text
from ._repr import short_repr
from .mounts import PROPAGATIONS

#: What Rootfs.host() binds read-only from the host (those that exist).
HOST_PATHS: Tuple[str, ...] = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")


def _directory(field: str, value: Any) -> Optional[str]:
    if value is None:
        return None
    path = text(field, value)
    if not os.path.isabs(path):
        raise fail(field, f"must be an absolute path, got {path!r}")
    return os.path.normpath(path)


def _overlay_dir(field: str, value: Any) -> str:
    path = _directory(field, value)
    assert path is not None
    if ":" in path or "," in path:
        raise fail(field, f"overlay cannot name a directory with ':' or ',' in it: {path!r}")
    return path


def _overlay_dirs(field: str, value: Any) -> Tuple[str, ...]:
    return tuple(_overlay_dir(f"{field}[{i}]", v) for i, v in enumerate(str_tuple(field, value)))


if TYPE_CHECKING:  # see _fields: what mypy's attrs plugin reads

    def _directory_field(value: Any) -> Optional[str]: ...
    def _overlay_dirs_field(value: Any) -> Tuple[str, ...]: ...
    def _optional_overlay_dir_field(value: Any) -> Optional[str]: ...

else:
    _directory_field = FieldCheck(_directory, keeps_none=True)
    _overlay_dirs_field = FieldCheck(_overlay_dirs)
    _optional_overlay_dir_field = FieldCheck(_overlay_dir, keeps_none=True)


@attrs.frozen(field_transformer=named_fields("rootfs"))
class Rootfs:
    """A directory on the host; an overlay of layers (``Rootfs.overlay()``);
    or (``Rootfs.host()``) a fresh tmpfs with the host's /usr, /bin, /sbin,
    /lib*, /etc bound read-only and an empty /tmp.

    The container enters it with pivot_root; ``no_pivot`` asks for MS_MOVE +
    chroot instead, which is also the fallback where pivot_root cannot work
    (an initramfs root) -- except in a new user namespace, where a chroot
    could be escaped and pivot_root failing is an error.
    """

    __repr__ = short_repr

    #: The root directory; None means Rootfs.host().
    path: Optional[str] = attrs.field(default=None, converter=_directory_field)
    readonly: bool = attrs.field(default=False, converter=boolean_field)
    #: Propagation applied to every mount of the new mount namespace first.
    propagation: str = attrs.field(
        default="rslave", converter=choice_field, metadata=field_options(choices=PROPAGATIONS)
    )
    no_pivot: bool = attrs.field(default=False, converter=boolean_field)
    #: Overlay: the read-only layers, lowest (the base) first.
    lower: Tuple[str, ...] = attrs.field(default=(), converter=_overlay_dirs_field)
    #: Overlay: where writes go (with ``work``, on the same file system); None:
    #: a throwaway tmpfs, gone with the container.
    upper: Optional[str] = attrs.field(default=None, converter=_optional_overlay_dir_field)
    work: Optional[str] = attrs.field(default=None, converter=_optional_overlay_dir_field)

    def __attrs_post_init__(self) -> None:
        if self.lower and self.path is not None:
            raise fail("rootfs.lower", "an overlay root has layers, not a path")
        if (self.upper is None) != (self.work is None):
            raise fail("rootfs.work", "upper and work go together (both on one file system), or neither")
        if self.upper is not None and not self.lower:
            raise fail("rootfs.upper", "an upper layer needs lower layers (Rootfs.overlay)")

    @classmethod
    def overlay(
        cls,
        lower: Sequence[str],
        upper: Optional[str] = None,
        work: Optional[str] = None,
        *,
        readonly: bool = False,
        propagation: str = "rslave",
    ) -> Rootfs:
        """An overlay of read-only ``lower`` layers (the base first) with a
        writable ``upper`` directory (and its ``work`` directory), or with a
        throwaway tmpfs upper when ``upper`` is None.  Nothing of it stays
        mounted on the host: it exists in the container's mount namespace."""
        if not lower:
            raise fail("rootfs.lower", "an overlay needs at least one lower layer")
        return cls(None, readonly=readonly, propagation=propagation, lower=lower, upper=upper, work=work)

    @classmethod
    def directory(
        cls, path: str, *, readonly: bool = False, propagation: str = "rslave", no_pivot: bool = False
    ) -> Rootfs:
        """An existing directory (an unpacked image, a busybox tree...)."""
        if path is None:
            raise fail("rootfs.path", "a directory rootfs needs a path")
        return cls(path, readonly=readonly, propagation=propagation, no_pivot=no_pivot)

    @classmethod
    def host(cls, *, readonly: bool = False, propagation: str = "rslave", no_pivot: bool = False) -> Rootfs:
        """A tmpfs root with the host's system directories bound read-only."""
        return cls(None, readonly=readonly, propagation=propagation, no_pivot=no_pivot)

    @property
    def is_host(self) -> bool:
        """Whether this is the host's system directories (``Rootfs.host()``)."""
        return self.path is None and not self.lower

    @property
    def is_overlay(self) -> bool:
        """Whether this is an overlay of read-only layers."""
        return bool(self.lower)
