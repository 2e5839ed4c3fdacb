"""The system's libseccomp.so.2, bound with cffi in out-of-line ABI mode:
no headers are needed to build, the library is dlopen'ed on first use, and
the declarations (``_native/build_seccomp.py``) were parsed when the package
was built, so using it costs no C parser at run time.

Values that are macros in seccomp.h are written out as libseccomp defines
them (include/seccomp.h.in of github.com/seccomp/libseccomp, v2.5).
"""

from __future__ import annotations

import importlib
import threading
from typing import Any, Optional

# enum scmp_filter_attr
SCMP_FLTATR_CTL_NNP = 3
SCMP_FLTATR_CTL_OPTIMIZE = 8

# seccomp actions (macros)
SCMP_ACT_KILL_PROCESS = 0x80000000
SCMP_ACT_KILL_THREAD = 0x00000000
SCMP_ACT_TRAP = 0x00030000
SCMP_ACT_NOTIFY = 0x7FC00000
SCMP_ACT_LOG = 0x7FFC0000
SCMP_ACT_ALLOW = 0x7FFF0000


def SCMP_ACT_ERRNO(x: int) -> int:
    return 0x00050000 | (x & 0x0000FFFF)


def SCMP_ACT_TRACE(x: int) -> int:
    return 0x7FF00000 | (x & 0x0000FFFF)


#: What seccomp_syscall_resolve_name returns for a name it does not know.
NR_SCMP_ERROR = -1

_ffi: Optional[Any] = None
_lib: Optional[Any] = None
_loading = threading.Lock()  # one ffi for every thread: cdata of two FFIs do not mix


def __getattr__(name: str) -> Any:
    """``ffi``, imported on first use (only programs that compile a filter
    load cffi's backend for it)."""
    global _ffi
    if name != "ffi":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    with _loading:
        if _ffi is None:
            # cffi ships no type information; its objects are Any here.
            _ffi = importlib.import_module("libcontainer_py.seccomp._libseccomp_ffi").ffi
    return _ffi


def lib() -> Any:
    """The loaded library (loaded on first use; OSError if it is missing)."""
    global _lib
    ffi = __getattr__("ffi")
    with _loading:
        if _lib is None:
            _lib = ffi.dlopen("libseccomp.so.2")
    return _lib
