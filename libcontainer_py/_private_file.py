"""Files only we may write: the compiled seccomp programs kept on disk
(seccomp/cache.py) and the command line's exec plans (cli/_exec_plan.py);
light enough for the command line's exec (no seccomp package).

Whoever can write there chooses the containers' filters, so a program is
used only if its file and its directory (opened without following a
symlink) belong to us, the directory above to us or root, and nobody else
may write any of them; the file's first line names the key it is stored
under and the SHA-256 of the program that follows, so a program moved
under another key, or changed in place, is refused too.  Anything
unexpected (a short file, a foreign owner, an I/O error) gives None.
"""

from __future__ import annotations

import os
import stat

from . import _jsonlite
from ._shortcuts import sha256_hex

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from typing import Any, Optional, Tuple

#: The name of a program's file is its key and this suffix.
SUFFIX = ".bpf"
#: The seccomp cache's directory under a state root.
SECCOMP_CACHE = ".seccomp-cache"


def trusted(st: os.stat_result, root_too: bool = False) -> bool:
    """Ours (or, with ``root_too``, root's), and writable by nobody else."""
    owner_ok = st.st_uid == os.geteuid() or (root_too and st.st_uid == 0)
    return owner_ok and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def open_directory(directory: str) -> int:
    """An fd of ``directory``; OSError unless it (not a symlink) is ours and
    the directory above ours or root's, each writable by nobody else."""
    parent = os.path.dirname(directory) or "."
    if not trusted(os.stat(parent), root_too=True):
        raise PermissionError(f"{parent} may be written by others")
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    if not trusted(os.fstat(fd)):
        os.close(fd)
        raise PermissionError(f"{directory} may be written by others")
    return fd


def read_program(directory: str, key: str) -> Optional[Tuple[bytes, Tuple[str, ...]]]:
    """The program and skipped syscall names stored under ``key``, or None."""
    try:
        dir_fd = open_directory(directory)
    except OSError:
        return None
    try:
        fd = os.open(key + SUFFIX, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW, dir_fd=dir_fd)
    except OSError:
        return None
    finally:
        os.close(dir_fd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or not trusted(st):
            return None
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read()
    except OSError:
        return None
    finally:
        os.close(fd)
    return _parse(data, key)


def program_file(key: str, program: bytes, skipped: Tuple[str, ...]) -> bytes:
    """The content of the file of ``program`` stored under ``key``."""
    header = {"key": key, "sha256": sha256_hex(program), "skipped": list(skipped)}
    return _jsonlite.dumps(header, compact=True).encode() + b"\n" + program


def _parse(data: bytes, key: str) -> Optional[Tuple[bytes, Tuple[str, ...]]]:
    header_line, newline, program = data.partition(b"\n")
    if not newline or not program or len(program) % 8:
        return None
    try:
        header: Any = _jsonlite.loads(header_line.decode())
    except ValueError:  # UnicodeDecodeError too
        return None
    if not isinstance(header, dict) or header.get("key") != key or header.get("sha256") != sha256_hex(program):
        return None
    skipped = header.get("skipped")
    if not isinstance(skipped, list) or not all(isinstance(s, str) for s in skipped):
        return None
    return program, tuple(skipped)


def write_new(tmp: str, final: str, data: bytes, dir_fd: Optional[int] = None) -> bool:
    """Write ``data`` to ``tmp`` (made here, 0600: False if it exists) and
    rename it to ``final`` (both relative to ``dir_fd`` when given); False,
    and nothing left, when that fails."""
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600, dir_fd=dir_fd)
    except OSError:
        return False
    try:
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.rename(tmp, final, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except OSError:
        try:
            os.unlink(tmp, dir_fd=dir_fd)
        except OSError:
            pass
        return False
    return True
