"""Files only we may write: the compiled seccomp programs kept on disk
(seccomp/cache.py) and the command line's exec plans (cli/_exec_plan.py);
light enough for the command line's exec (no seccomp package).

A program is used only if its file, and its directory, belong to us and
nobody else may write them (whoever can write there chooses the
containers' filters); anything unexpected (a short file, a foreign owner,
an I/O error) gives None.
"""

from __future__ import annotations

import os
import stat

from . import _jsonlite

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from typing import Any, Optional, Tuple

#: The name of a program's file is its key and this suffix.
SUFFIX = ".bpf"


def trusted(st: os.stat_result) -> bool:
    """Ours, and writable by nobody else."""
    return st.st_uid == os.geteuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def trusted_directory(directory: str) -> bool:
    st = os.lstat(directory)  # not through a symlink: a directory of ours, as the cache makes it
    return stat.S_ISDIR(st.st_mode) and trusted(st)


def read_program(directory: str, key: str) -> Optional[Tuple[bytes, Tuple[str, ...]]]:
    """The program and skipped syscall names stored under ``key``, or None."""
    try:
        if not trusted_directory(directory):
            return None
        fd = os.open(os.path.join(directory, key + SUFFIX), os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return None
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
    return _parse(data)


def _parse(data: bytes) -> Optional[Tuple[bytes, Tuple[str, ...]]]:
    header, newline, program = data.partition(b"\n")
    if not newline or not program or len(program) % 8:
        return None
    try:
        skipped: Any = _jsonlite.loads(header.decode())
    except ValueError:
        return None
    if not isinstance(skipped, list) or not all(isinstance(s, str) for s in skipped):
        return None
    return program, tuple(skipped)


def write_new(tmp: str, final: str, data: bytes) -> bool:
    """Write ``data`` to ``tmp`` (made here, 0600: False if it exists) and
    rename it to ``final``; False, and nothing left, when that fails."""
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    except OSError:
        return False
    try:
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.rename(tmp, final)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False
    return True
