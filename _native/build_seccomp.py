"""cffi builder (out-of-line ABI mode) for libcontainer_py.seccomp._libseccomp_ffi.

Only the declarations are compiled (into a Python module holding the parsed
types): libseccomp.so.2 is dlopen'ed at run time, so neither its headers nor
a C compiler are needed for this part.  Only what the seccomp compiler uses
is declared.
"""

from __future__ import annotations

from cffi import FFI

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
int seccomp_syscall_resolve_name_arch(uint32_t arch_token, const char *name);
int seccomp_attr_set(scmp_filter_ctx ctx, int attr, uint32_t value);
int seccomp_rule_add_array(scmp_filter_ctx ctx, uint32_t action, int syscall,
                           unsigned int arg_cnt, const struct scmp_arg_cmp *arg_array);
int seccomp_export_bpf(const scmp_filter_ctx ctx, int fd);
struct scmp_version {
    unsigned int major;
    unsigned int minor;
    unsigned int micro;
};
const struct scmp_version *seccomp_version(void);
unsigned int seccomp_api_get(void);
"""

ffibuilder = FFI()
ffibuilder.cdef(CDEF)
ffibuilder.set_source("libcontainer_py.seccomp._libseccomp_ffi", None)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
