"""The code attrs compiles for the config model's classes, kept on disk.

attrs writes each class's ``__init__``, ``__eq__``, ``__hash__``... as
Python source and ``compile()``s it when the class is made: ~20 ms of a
fresh interpreter's first ``lc.run`` for the ~45 classes it makes.  The
source is a function of the class's definition, except one number (the
per-process ``hash()`` of a string that salts ``__hash__``).  So the code
of each class, compiled with a placeholder for that number, is kept in a
file under the state root named by the SHA-256 of its source and, in the
next interpreter, used instead of ``compile()`` for the same source, with
the placeholder replaced by this process's number: the code attrs would
have made (tests/unit/test_attrs_code.py compares them).

The seam is one private function of attrs, ``attr._make._compile_and_eval``
(the one place its generated source is compiled), replaced only when it
has the shape this module was written for (attrs' version number is only
known through importlib.metadata, ~15 ms; a version that generates other
source simply misses, the key being the source) and used only for this
package's classes (the file name attrs gives the source names the class's
module); any other source goes to attrs' own function.  A code object runs
in the process, so the file is trusted as the seccomp cache's are
(_private_file: ours, writable by nobody else, in a directory of ours not
reached through a symlink) and its header names its key, the interpreter
(``sys.version``, marshal's version) and the SHA-256 of what follows.  New
code is written when compiled, not when ``sys.dont_write_bytecode`` is set
(``PYTHONDONTWRITEBYTECODE``, as for ``.pyc`` files), and only into a state
root that exists (importing the library makes none).  docs/decisions.md,
"attrs' generated code is kept on disk".
"""

from __future__ import annotations

import marshal
import os
import sys
from types import CodeType  # loaded by every interpreter (enum, functools)

from . import _private_file
from ._shortcuts import sha256_hex
from ._statedir import DEFAULT_ROOT

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from typing import Any, Callable, List, Optional, Tuple


#: The cache's directory under a state root.
DIRECTORY = ".attrs-code"
#: Bumped when the files' layout changes.
FORMAT = 1
#: The files' names end so.
SUFFIX = ".code"
#: Only classes of this package go through the cache.
_OURS = "<attrs generated methods libcontainer_py."
#: Its digits stand for the ``__hash__`` salt in the source the code is
#: compiled from, as many as the salt's literal has characters (so that the
#: code's column table is the same): 7777 for 1234 and for -123.
PLACEHOLDER_DIGIT = "7"
#: At most this many files are kept (the least recently written go first).
LIMIT = 400

_HASH_OPEN = "hash((\n"
#: What the stored code depends on besides its source.
_TAG = f"{FORMAT} {sys.version!r} marshal {marshal.version}"

_original: Optional[Callable[..., None]] = None
_flags = 0  # the __future__ flags of attrs' own compile()
_directory = os.path.join(DEFAULT_ROOT, DIRECTORY)
_trimmed = False


def install(directory: Optional[str] = None) -> bool:
    """Put the cache in attrs' way (once; ``directory`` replaces the default
    one); False, and attrs untouched, for an attrs whose seam is not the known one."""
    global _original, _directory, _flags
    if directory is not None:
        _directory = directory
    if _original is not None:
        return True
    from attr import _make

    if not _is_the_seam(getattr(_make, "_compile_and_eval", None), getattr(_make, "_linecache_and_compile", None)):
        return False
    _original = _make._compile_and_eval
    _flags = _future_flags(_original)
    _make._compile_and_eval = _compile_and_eval
    return True


def _is_the_seam(function: Any, caller: Any) -> bool:
    """attrs' ``_compile_and_eval(script, globs, locs, filename)``, called
    by the function that compiles a class's methods."""
    code = getattr(function, "__code__", None)
    caller_code = getattr(caller, "__code__", None)
    return (
        code is not None
        and caller_code is not None
        and code.co_argcount == 4
        and code.co_varnames[:4] == ("script", "globs", "locs", "filename")
        and "_compile_and_eval" in caller_code.co_names
    )


def uninstall() -> None:
    """Give attrs its own function back."""
    global _original
    if _original is not None:
        from attr import _make

        _make._compile_and_eval = _original
    _original = None


def _compile_and_eval(script: str, globs: Any, locs: Any = None, filename: str = "") -> None:
    """attrs' ``_compile_and_eval``, with the code of our classes from the cache."""
    assert _original is not None
    code = code_for(script, filename) if filename.startswith(_OURS) else None
    if code is None:
        _original(script, globs, locs, filename)
    else:
        eval(code, globs, locs)


def placeholder(salt: int) -> int:
    """The number standing for ``salt``: as many digits as ``str(salt)`` has characters."""
    return int(PLACEHOLDER_DIGIT * len(str(salt)))


def split_salt(script: str) -> Optional[Tuple[str, Optional[int]]]:
    """``script`` with its ``__hash__`` salt replaced by its placeholder, and
    the salt (None without one); None for a layout this module does not know."""
    start = script.find(_HASH_OPEN)
    if start < 0:
        return (script, None) if "__hash__" not in script else None
    if script.find(_HASH_OPEN, start + 1) >= 0:
        return None
    line_start = start + len(_HASH_OPEN)
    line_end = script.find("\n", line_start)
    line = script[line_start:line_end]
    number = line.strip()
    if line_end < 0 or not number.endswith(","):
        return None
    try:
        salt = int(number[:-1])
    except ValueError:
        return None
    stand_in = str(placeholder(salt))
    if str(salt) != number[:-1] or stand_in in script:
        return None  # not a plain literal, or the placeholder's digits already appear
    keyed = script[:line_start] + line.replace(number, stand_in + ",") + script[line_end:]
    return keyed, salt


def code_for(script: str, filename: str) -> Optional[CodeType]:
    """The code of ``script`` as attrs compiles it, from the cache or
    compiled (and stored); None for a source this module does not know."""
    split = split_salt(script)
    if split is None:
        return None
    keyed, salt = split
    key = sha256_hex(f"{_TAG}\n{filename}\n{keyed}".encode())
    code = load(_directory, key)
    if code is None:
        code = compile(keyed, filename, "exec", flags=_flags, dont_inherit=True)
        if not sys.dont_write_bytecode:
            store(_directory, key, code)
    return code if salt is None else _with_salt(code, placeholder(salt), salt)


def _future_flags(function: Any) -> int:
    """The ``__future__`` flags a compile() called by ``function`` runs with (its module's)."""
    import __future__

    mask = 0
    for name in __future__.all_feature_names:
        mask |= getattr(__future__, name).compiler_flag
    return int(function.__code__.co_flags & mask)


def _with_salt(code: CodeType, stand_in: int, salt: int) -> CodeType:
    """``code`` with every ``stand_in`` constant (of it, its functions and
    its constant tuples) replaced by ``salt``; ``code`` itself without one."""
    consts = tuple(_salted(c, stand_in, salt) for c in code.co_consts)
    if all(new is old for new, old in zip(consts, code.co_consts)):
        return code
    return code.replace(co_consts=consts)


def _salted(const: Any, stand_in: int, salt: int) -> Any:
    if type(const) is int:
        return salt if const == stand_in else const
    if type(const) is tuple:
        items = tuple(_salted(c, stand_in, salt) for c in const)
        return const if all(new is old for new, old in zip(items, const)) else items
    if isinstance(const, CodeType):
        return _with_salt(const, stand_in, salt)
    return const


def _header(key: str, payload: bytes) -> bytes:
    return f"{_TAG} {key} {sha256_hex(payload)}\n".encode()


def load(directory: str, key: str) -> Optional[CodeType]:
    """The code stored under ``key`` in ``directory``, or None (missing,
    not trusted, changed, or of another interpreter)."""
    try:
        dir_fd = _private_file.open_directory(directory)
    except OSError:
        return None
    try:
        data = _read(dir_fd, key + SUFFIX)
    finally:
        os.close(dir_fd)
    if data is None:
        return None
    header, newline, payload = data.partition(b"\n")
    if not newline or header + newline != _header(key, payload):
        return None
    try:
        code = marshal.loads(payload)
    except (EOFError, ValueError, TypeError):
        return None
    return code if isinstance(code, CodeType) else None


def _read(dir_fd: int, name: str) -> Optional[bytes]:
    import stat

    try:
        fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or not _private_file.trusted(st):
            return None
        chunks: List[bytes] = []
        while True:
            chunk = os.read(fd, st.st_size + 1)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    except OSError:
        return None
    finally:
        os.close(fd)


def store(directory: str, key: str, code: CodeType) -> None:
    """Keep ``code`` under ``key``; failures are ignored (the cache is only a shortcut)."""
    global _trimmed
    payload = marshal.dumps(code)
    try:
        try:
            os.mkdir(directory, 0o700)  # in a state root that exists: making classes makes none
        except FileExistsError:
            pass
        dir_fd = _private_file.open_directory(directory)
    except OSError:
        return
    try:
        name = key + SUFFIX
        _private_file.write_new(f"{name}.{os.getpid()}.tmp", name, _header(key, payload) + payload, dir_fd)
    finally:
        os.close(dir_fd)
    if not _trimmed:
        _trimmed = True
        try:
            _trim(directory)
        except OSError:
            pass


def _trim(directory: str) -> None:
    """Drop the least recently written files beyond LIMIT."""
    entries = []
    for name in os.listdir(directory):
        if name.endswith(SUFFIX):
            try:
                entries.append((os.stat(os.path.join(directory, name)).st_mtime_ns, name))
            except FileNotFoundError:
                continue
    for _, name in sorted(entries)[: max(0, len(entries) - LIMIT)]:
        try:
            os.unlink(os.path.join(directory, name))
        except FileNotFoundError:
            pass
