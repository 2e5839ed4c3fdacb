"""Compiled filters kept on disk, for programs that compile the same profile
in many processes (the command line: each ``create`` is a new process).

libseccomp takes ~20 ms to turn Docker's default profile into BPF, in every
``create`` an engine runs, always with the same profile.  A ``FilterCache``
keeps each program in a file named by the SHA-256 of everything the program
depends on: the filter (its OCI form), ``strict``, libseccomp's version,
its API level (what the kernel supports) and the native architecture.  A
file is used only if it, and its directory, belong to us and nobody else
may write them (whoever can write there chooses the containers' filters);
anything unexpected (a short file, a foreign owner, an I/O error) is a miss
and the filter is compiled as always.  At most ``limit`` programs are kept,
the least recently written dropped first.
"""

from __future__ import annotations

import json
import os
from typing import Optional, Tuple

from .._private_file import SUFFIX as _SUFFIX
from .._private_file import read_program, trusted_directory, write_new
from .._shortcuts import sha256_hex
from .config import Seccomp

#: Bumped when the file layout or the key's content changes.
FORMAT = 2  # 2: programs begin with the ENOSYS stub


def filter_key(seccomp: Seccomp, strict: bool, library: Tuple[int, ...]) -> str:
    """The name of the program of ``seccomp`` compiled by the libseccomp
    described by ``library`` (version, API level, native architecture)."""
    doc = {"format": FORMAT, "strict": strict, "library": list(library), "filter": seccomp.to_oci()}
    return sha256_hex(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode())


class FilterCache:
    """Programs under ``directory`` (made 0700 on first store)."""

    def __init__(self, directory: str, limit: int = 32) -> None:
        self.directory = directory
        self.limit = limit

    def load(self, key: str) -> Optional[Tuple[bytes, Tuple[str, ...]]]:
        """The program and skipped syscall names stored under ``key``, or None."""
        return read_program(self.directory, key)

    def store(self, key: str, program: bytes, skipped: Tuple[str, ...]) -> None:
        """Keep ``program``; failures are ignored (the cache is only a shortcut)."""
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            if not trusted_directory(self.directory):
                return
            final = os.path.join(self.directory, key + _SUFFIX)
        except OSError:
            return
        data = json.dumps(list(skipped)).encode() + b"\n" + program
        if not write_new(f"{final}.{os.getpid()}.tmp", final, data):
            return
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
