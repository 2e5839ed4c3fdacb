"""One write to a kernel file (an id map, a cgroup file): opened write-only,
written with a single write(2), closed; no buffering, which these files do
not take in pieces."""

from __future__ import annotations

import os


def write_kernel_file(path: str, data: str) -> None:
    """Write ``data`` to ``path`` in one write(2); OSError as the kernel says."""
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, data.encode())
    finally:
        os.close(fd)
