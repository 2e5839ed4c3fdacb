"""The system's libseccomp.so.2, bound with cffi in ABI mode (no headers needed).

Only what ``compile()`` uses is declared.  Values that are macros in
seccomp.h are written out as libseccomp defines them (include/seccomp.h.in
of github.com/seccomp/libseccomp, v2.5).
"""

from __future__ import annotations

import importlib
import threading
from typing import Any, Optional

CDEF = """
typedef void *scmp_filter_ctx;
struct scmp_arg_cmp {
    unsigned int arg;
    int op;             /* enum scmp_compare */
    uint64_t datum_a;
    uint64_t datum_b;
};
scmp_filter_ctx seccomp_init(uint32_t def_action);
void seccomp_release(scmp_filter_ctx ctx);
int seccomp_arch_add(scmp_filter_ctx ctx, uint32_t arch_token);
uint32_t seccomp_arch_native(void);
uint32_t seccomp_arch_resolve_name(const char *arch_name);
int seccomp_syscall_resolve_name(const char *name);
int seccomp_attr_set(scmp_filter_ctx ctx, int attr, uint32_t value);
int seccomp_rule_add_array(scmp_filter_ctx ctx, uint32_t action, int syscall,
                           unsigned int arg_cnt, const struct scmp_arg_cmp *arg_array);
int seccomp_export_bpf(const scmp_filter_ctx ctx, int fd);
"""

# enum scmp_filter_attr
SCMP_FLTATR_CTL_NNP = 3

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
    """``ffi``, built on first use: parsing CDEF costs ~20 ms, paid only by
    programs that compile a filter (a CLI ``state`` or ``delete`` does not)."""
    global _ffi
    if name != "ffi":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    with _loading:
        if _ffi is None:
            # cffi ships no type information; its objects are Any here.
            built = importlib.import_module("cffi").FFI()
            built.cdef(CDEF)
            _ffi = built
    return _ffi


def lib() -> Any:
    """The loaded library (loaded on first use; OSError if it is missing)."""
    global _lib
    ffi = __getattr__("ffi")
    with _loading:
        if _lib is None:
            _lib = ffi.dlopen("libseccomp.so.2")
    return _lib
