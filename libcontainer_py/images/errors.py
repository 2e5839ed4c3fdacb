"""The errors of the image store."""

from __future__ import annotations

from ..errors import ContainerError


class ImageError(ContainerError):
    """An image cannot be imported, found or used (bad archive, digest
    mismatch, missing layer, missing optional dependency)."""


class ImageNotFound(ImageError, LookupError):
    """No image in the store has this name or digest."""


class UnsafeLayerError(ImageError):
    """A layer entry would escape the layer directory (``..``, an absolute
    name, a write through a symlink, a hard link out of the layer) or make
    something not allowed (a device node when not root).  Nothing of the
    layer is kept."""

    def __init__(self, entry: str, reason: str) -> None:
        super().__init__(f"unsafe layer entry {entry!r}: {reason}")
        self.entry = entry
        self.reason = reason


class RegistryError(ImageError):
    """A registry refused a request, answered something that is not the
    distribution protocol, or could not be reached."""


class RegistryAuthError(RegistryError, PermissionError):
    """The registry wants credentials that were not given, or refused the
    ones given.  The message never holds the credentials."""


class DigestMismatchError(ImageError):
    """A manifest or blob is not what its digest names: nothing of it is kept."""

    def __init__(self, what: str, expected: str, got: str) -> None:
        super().__init__(f"{what}: digest mismatch: expected {expected}, got {got}")
        self.expected = expected
        self.got = got
