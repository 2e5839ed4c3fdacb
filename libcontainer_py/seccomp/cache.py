"""Compiled filters kept on disk, for every process that compiles the same
profile (each ``create`` of the command line, each fresh interpreter's
first container).

libseccomp takes ~20 ms to turn Docker's default profile into BPF, in every
``create`` an engine runs and in every program's first ``lc.run``, always
with the same profile.  A ``FilterCache`` keeps each program in a file
named by the SHA-256 of everything the program depends on: the filter (its
OCI form), ``strict``, libseccomp's version, its API level (what the kernel
supports) and the native architecture.  What makes a stored file one to
use (its owners, modes, and a header naming its key and its program's
SHA-256) is _private_file.py's; anything doubtful is a miss and the filter
is compiled as always.  At most ``limit`` programs are kept, the least
recently written dropped first.
"""

from __future__ import annotations

import os
from typing import Optional, Tuple

from .. import _jsonlite
from .._private_file import SECCOMP_CACHE, open_directory, program_file, read_program, write_new
from .._private_file import SUFFIX as _SUFFIX
from .._shortcuts import sha256_hex
from .._statedir import DEFAULT_ROOT, make_root
from ..errors import ContainerError
from .config import Seccomp

#: Bumped when the file layout or the key's content changes.
FORMAT = 3  # 2: programs begin with the ENOSYS stub; 3: the header names the key and the program's SHA-256
#: The library's cache: under the default state root, shared with the command line's.
DEFAULT_DIRECTORY = os.path.join(DEFAULT_ROOT, SECCOMP_CACHE)


def filter_key(seccomp: Seccomp, strict: bool, library: Tuple[int, ...]) -> str:
    """The name of the program of ``seccomp`` compiled by the libseccomp
    described by ``library`` (version, API level, native architecture)."""
    doc = {"format": FORMAT, "strict": strict, "library": list(library), "filter": seccomp.to_oci()}
    return sha256_hex(_jsonlite.dumps(doc, compact=True).encode())


class FilterCache:
    """Programs under ``directory`` (made 0700 on first store, its parent as a state root)."""

    def __init__(self, directory: str, limit: int = 32) -> None:
        self.directory = directory
        self.limit = limit

    def load(self, key: str) -> Optional[Tuple[bytes, Tuple[str, ...]]]:
        """The program and skipped syscall names stored under ``key``, or None."""
        return read_program(self.directory, key)

    def store(self, key: str, program: bytes, skipped: Tuple[str, ...]) -> None:
        """Keep ``program``; failures are ignored (the cache is only a shortcut)."""
        try:
            parent = os.path.dirname(self.directory)
            if parent and not os.path.isdir(parent):
                make_root(parent)
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            dir_fd = open_directory(self.directory)
        except (OSError, ContainerError):  # make_root's, for a state root that is not ours
            return
        try:
            final = key + _SUFFIX
            if not write_new(f"{final}.{os.getpid()}.tmp", final, program_file(key, program, skipped), dir_fd):
                return
        finally:
            os.close(dir_fd)
        try:
            self._trim()
        except OSError:
            pass

    def _trim(self) -> None:
        entries = []
        for name in os.listdir(self.directory):
            if name.endswith(_SUFFIX):
                try:
                    entries.append((os.stat(os.path.join(self.directory, name)).st_mtime_ns, name))
                except FileNotFoundError:
                    continue
        for _, name in sorted(entries)[: max(0, len(entries) - self.limit)]:
            try:
                os.unlink(os.path.join(self.directory, name))
            except FileNotFoundError:
                pass
