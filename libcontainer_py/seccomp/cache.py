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
import stat
from typing import Any, Optional, Tuple

from .._shortcuts import sha256_hex
from .config import Seccomp

#: Bumped when the file layout or the key's content changes.
FORMAT = 2  # 2: programs begin with the ENOSYS stub
_SUFFIX = ".bpf"


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

    def _trusted(self, st: os.stat_result) -> bool:
        return st.st_uid == os.geteuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)

    def _trusted_directory(self) -> bool:
        st = os.lstat(self.directory)  # not through a symlink: a directory of ours, as made here
        return stat.S_ISDIR(st.st_mode) and self._trusted(st)

    def load(self, key: str) -> Optional[Tuple[bytes, Tuple[str, ...]]]:
        """The program and skipped syscall names stored under ``key``, or None."""
        try:
            if not self._trusted_directory():
                return None
            fd = os.open(os.path.join(self.directory, key + _SUFFIX), os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:
            return None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or not self._trusted(st):
                return None
            with os.fdopen(os.dup(fd), "rb") as f:
                data = f.read()
        except OSError:
            return None
        finally:
            os.close(fd)
        return _parse(data)

    def store(self, key: str, program: bytes, skipped: Tuple[str, ...]) -> None:
        """Keep ``program``; failures are ignored (the cache is only a shortcut)."""
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            if not self._trusted_directory():
                return
            final = os.path.join(self.directory, key + _SUFFIX)
            tmp = f"{final}.{os.getpid()}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        except OSError:
            return
        try:
            try:
                os.write(fd, json.dumps(list(skipped)).encode() + b"\n" + program)
            finally:
                os.close(fd)
            os.rename(tmp, final)
        except OSError:
            try:
                os.unlink(tmp)
            except OSError:
                pass
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


def _parse(data: bytes) -> Optional[Tuple[bytes, Tuple[str, ...]]]:
    header, newline, program = data.partition(b"\n")
    if not newline or not program or len(program) % 8:
        return None
    try:
        skipped: Any = json.loads(header)
    except ValueError:
        return None
    if not isinstance(skipped, list) or not all(isinstance(s, str) for s in skipped):
        return None
    return program, tuple(skipped)
