"""CgroupError: a cgroup file, directory or setting the kernel refused."""

from __future__ import annotations

import errno as errno_mod
import os

from ..errors import ContainerError

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from typing import Optional


class CgroupError(ContainerError):
    """A cgroup operation failed, or the host cannot honour a setting.

    ``path`` is the cgroup file or directory involved (None when the failure
    is about the host as a whole), ``value`` what was written (if anything),
    ``errno`` the error number (None when the kernel was never asked, e.g. a
    setting this layout has no file for).  The OSError, if any, is chained.
    """

    def __init__(
        self,
        message: str,
        *,
        path: Optional[str] = None,
        value: Optional[str] = None,
        errno: Optional[int] = None,
        container_id: Optional[str] = None,
    ) -> None:
        self.message = message
        self.path = path
        self.value = value
        self.errno = errno
        self.container_id = container_id
        parts = [message]
        if path is not None:
            parts.append(f"path {path!r}")
        if value is not None:
            parts.append(f"value {value!r}")
        if errno is not None:
            parts.append(f"[{errno_mod.errorcode.get(errno, str(errno))}] {os.strerror(errno)}")
        super().__init__(": ".join(parts[:1]) + (" (" + ", ".join(parts[1:]) + ")" if parts[1:] else ""))


class CgroupUnsupported(CgroupError):
    """The host's cgroup layout has no way to honour a setting (never ignored silently)."""


class CgroupWarning(UserWarning):
    """A cgroup setting was honoured in a way the caller should know about:
    an existing cgroup joined instead of a new one made, or a setting the
    host's cgroups have no file for left out while the others are applied
    (``Memory.kernel_tcp`` where there is no kmem.tcp)."""
