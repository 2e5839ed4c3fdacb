"""Rootfs: the container's root filesystem."""

from __future__ import annotations

import os
from typing import Any, Optional, Tuple

import attrs

from ._fields import boolean, fail, text
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


def _root_propagation(field: str, value: Any) -> str:
    if value not in PROPAGATIONS:
        raise fail(field, f"must be one of {', '.join(PROPAGATIONS)}, got {value!r}")
    return str(value)


def _to_rootfs_path(value: Any) -> Optional[str]:
    return _directory("rootfs.path", value)


def _to_rootfs_readonly(value: Any) -> bool:
    return boolean("rootfs.readonly", value)


def _to_rootfs_propagation(value: Any) -> str:
    return _root_propagation("rootfs.propagation", value)


def _to_rootfs_no_pivot(value: Any) -> bool:
    return boolean("rootfs.no_pivot", value)


@attrs.frozen
class Rootfs:
    """A directory on the host, or (``Rootfs.host()``) a fresh tmpfs with the
    host's /usr, /bin, /sbin, /lib*, /etc bound read-only and an empty /tmp.

    The container enters it with pivot_root; ``no_pivot`` asks for MS_MOVE +
    chroot instead, which is also the fallback where pivot_root cannot work
    (an initramfs root) -- except in a new user namespace, where a chroot
    could be escaped and pivot_root failing is an error.
    """

    #: The root directory; None means Rootfs.host().
    path: Optional[str] = attrs.field(default=None, converter=_to_rootfs_path)
    readonly: bool = attrs.field(default=False, converter=_to_rootfs_readonly)
    #: Propagation applied to every mount of the new mount namespace first.
    propagation: str = attrs.field(default="rslave", converter=_to_rootfs_propagation)
    no_pivot: bool = attrs.field(default=False, converter=_to_rootfs_no_pivot)

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
        return self.path is None
