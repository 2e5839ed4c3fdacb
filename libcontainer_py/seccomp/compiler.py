"""compile(): a Seccomp becomes a classic BPF program, built in the parent with libseccomp."""

from __future__ import annotations

import errno as errno_mod
import functools
import os
from typing import Any, List, Optional, Sequence, Tuple

import attrs

from .._log import log
from . import _libseccomp as scmp
from . import enosys
from .cache import DEFAULT_DIRECTORY, FilterCache, filter_key
from .config import ARCHITECTURES, FLAGS, OPS, Action, ArgCondition, Seccomp, SeccompRule
from .errors import SeccompError

#: seccomp(2) flags this module adds on its own.
SECCOMP_FILTER_FLAG_TSYNC = 1 << 0
SECCOMP_FILTER_FLAG_NEW_LISTENER = 1 << 3
SECCOMP_FILTER_FLAG_TSYNC_ESRCH = 1 << 4

#: The kernel's limit on the length of one classic BPF program (BPF_MAXINSNS).
BPF_MAXINSNS = 4096
#: sizeof(struct sock_filter): u16 code, u8 jt, u8 jf, u32 k.
SOCK_FILTER_SIZE = 8


@attrs.frozen
class CompiledFilter:
    """A filter ready for seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog).

    ``program`` is the array of ``instructions`` 8-byte ``struct
    sock_filter`` in native byte order.  ``flags`` are the seccomp(2) flags to
    load it with: the ones the Seccomp asked for, plus
    SECCOMP_FILTER_FLAG_NEW_LISTENER when a rule notifies (seccomp(2) then
    returns the listener fd).  no_new_privs is the loader's business: the
    program does not set it and libseccomp was told not to either.
    ``skipped`` are the syscall names libseccomp does not know, left out.
    """

    program: bytes = attrs.field(repr=False)
    instructions: int
    flags: int
    uses_notify: bool
    skipped: Tuple[str, ...] = ()


def action_value(action: Action, errno: Optional[int] = None) -> int:
    """The SECCOMP_RET_* value (libseccomp's SCMP_ACT_*) of an action."""
    if action is Action.ERRNO:
        return scmp.SCMP_ACT_ERRNO(errno_mod.EPERM if errno is None else errno)
    if action is Action.TRACE:
        return scmp.SCMP_ACT_TRACE(errno_mod.EPERM if errno is None else errno)
    return _SIMPLE_ACTIONS[action]


_SIMPLE_ACTIONS = {
    Action.ALLOW: scmp.SCMP_ACT_ALLOW,
    Action.KILL_PROCESS: scmp.SCMP_ACT_KILL_PROCESS,
    Action.KILL_THREAD: scmp.SCMP_ACT_KILL_THREAD,
    Action.TRAP: scmp.SCMP_ACT_TRAP,
    Action.LOG: scmp.SCMP_ACT_LOG,
    Action.NOTIFY: scmp.SCMP_ACT_NOTIFY,
}


def _lib(field: str) -> Any:
    try:
        return scmp.lib()
    except OSError as err:
        raise SeccompError(field, f"cannot load libseccomp.so.2 ({err})") from err


def resolve_syscall(name: str) -> Optional[int]:
    """The number of syscall ``name`` on this machine, or None if it has none here."""
    nr: int = _lib("syscall").seccomp_syscall_resolve_name(name.encode())
    return nr if nr >= 0 else None


def _arg_groups(args: Sequence[ArgCondition]) -> List[Sequence[ArgCondition]]:
    """The libseccomp rules one SeccompRule becomes (runc's semantics).

    Conditions on distinct arguments go into one rule (AND).  libseccomp
    refuses two conditions on the same argument, so, as runc does, a rule
    that repeats an index becomes one rule per condition (OR).
    """
    indexes = [a.index for a in args]
    if len(set(indexes)) == len(indexes):
        return [args]
    return [[a] for a in args]


def _describe(rule: SeccompRule, name: str, args: Sequence[ArgCondition]) -> str:
    conds = " and ".join(
        f"arg{a.index} & {a.value:#x} == {a.value2:#x}" if a.op == "masked_eq" else f"arg{a.index} {a.op} {a.value:#x}"
        for a in args
    )
    return f"{rule.action.value} {name}" + (f" if {conds}" if conds else "")


def compile(seccomp: Seccomp, *, strict: bool = False) -> CompiledFilter:
    """See _compile; results are cached per (frozen, hashable) Seccomp, since
    libseccomp takes milliseconds for a large profile: in this process and
    on disk (cache.py) for the next processes, under the state root
    (``use_disk_cache`` chooses the directory, or none)."""
    return _compile_cached(seccomp, strict)


_disk: Optional[FilterCache] = FilterCache(DEFAULT_DIRECTORY)

#: libseccomp's SCMP_FLTATR_CTL_OPTIMIZE: 2 lays the syscalls out as a binary tree.
OPTIMIZE_LEVEL = 2


def use_disk_cache(directory: Optional[str]) -> None:
    """Keep compiled programs under ``directory`` (by default
    ``cache.DEFAULT_DIRECTORY``, under the default state root; None: in
    memory only), for the next processes that compile the same filter."""
    global _disk
    _disk = None if directory is None else FilterCache(directory)


def library_id() -> Tuple[int, ...]:
    """What libseccomp's output depends on besides the filter: its version,
    its API level (the kernel's seccomp features), the native architecture
    and the layout asked for (OPTIMIZE_LEVEL)."""
    lib = _lib("seccomp")
    version = lib.seccomp_version()
    return (
        version.major,
        version.minor,
        version.micro,
        lib.seccomp_api_get(),
        lib.seccomp_arch_native(),
        OPTIMIZE_LEVEL,
    )


@functools.lru_cache(maxsize=64)
def _compile_cached(seccomp: Seccomp, strict: bool) -> CompiledFilter:
    disk = _disk
    if disk is None:
        return _compile(seccomp, strict=strict)
    key = filter_key(seccomp, strict, library_id())
    stored = disk.load(key)
    if stored is not None:
        return _finish(seccomp, *stored)
    compiled = _compile(seccomp, strict=strict)
    disk.store(key, compiled.program, compiled.skipped)
    return compiled


def _compile(seccomp: Seccomp, *, strict: bool = False) -> CompiledFilter:
    """Build the BPF program of ``seccomp`` with libseccomp, in this process.

    Syscall names libseccomp does not know are skipped (runc's and Docker's
    behaviour: a profile may name syscalls newer than the installed
    libseccomp) and listed in ``CompiledFilter.skipped``; ``strict=True``
    raises SeccompError for them instead.  A name libseccomp knows but this
    architecture lacks (``chown32`` on x86_64) only applies to the
    architectures that have it.  Rules whose action equals the default
    action are left out, as in runc: they change nothing.  Raises
    SeccompError naming the rule libseccomp refused.
    """
    lib = _lib("seccomp")
    default = action_value(seccomp.default_action, seccomp.default_errno)
    ctx = lib.seccomp_init(default)
    if ctx == scmp.ffi.NULL:
        raise SeccompError("seccomp.default_action", f"seccomp_init refused the default action {default:#x}")
    try:
        _check(lib.seccomp_attr_set(ctx, scmp.SCMP_FLTATR_CTL_NNP, 0), "seccomp", "seccomp_attr_set(CTL_NNP, 0)")
        # A binary tree of syscall numbers, not a list: the kernel checks each
        # call in a few steps, and loading the Docker profile takes a third of
        # the time (it pre-computes the verdict of every syscall number).  A
        # libseccomp older than 2.5 refuses the attribute and keeps the list.
        lib.seccomp_attr_set(ctx, scmp.SCMP_FLTATR_CTL_OPTIMIZE, OPTIMIZE_LEVEL)
        _add_architectures(lib, ctx, seccomp.architectures)
        skipped: List[str] = []
        for i, rule in enumerate(seccomp.rules):
            value = action_value(rule.action, rule.errno)
            if value == default:
                continue
            for name in rule.syscalls:
                nr = lib.seccomp_syscall_resolve_name(name.encode())
                if nr == scmp.NR_SCMP_ERROR:
                    if strict:
                        raise SeccompError(f"seccomp.rules[{i}]", f"libseccomp does not know the syscall {name!r}")
                    skipped.append(name)
                    continue
                for group in _arg_groups(rule.args):
                    cmps = scmp.ffi.new(
                        "struct scmp_arg_cmp[]",
                        [(a.index, _OP_INDEX[a.op], a.value, a.value2) for a in group],
                    )
                    rc = lib.seccomp_rule_add_array(ctx, value, nr, len(group), cmps if group else scmp.ffi.NULL)
                    _check(rc, f"seccomp.rules[{i}]", f"libseccomp refused the rule {_describe(rule, name, group)}")
        program = _enosys_stub(lib, seccomp) + _export(lib, ctx)
    finally:
        lib.seccomp_release(ctx)
    if skipped:
        log.warning("seccomp: syscalls unknown to this libseccomp left out of the filter: %s", ", ".join(skipped))
    return _finish(seccomp, program, tuple(dict.fromkeys(skipped)))


def _enosys_stub(lib: Any, seccomp: Seccomp) -> bytes:
    """runc's ENOSYS stub for ``seccomp`` (see enosys.py), or nothing."""
    if not enosys.needed(seccomp):
        return b""
    by_token = {lib.seccomp_arch_resolve_name(name.encode()): name for name in ARCHITECTURES}
    wanted = [lib.seccomp_arch_native()] + [lib.seccomp_arch_resolve_name(a.encode()) for a in seccomp.architectures]
    tokens = {by_token[token]: token for token in wanted}
    highest = enosys.highest_numbers(lib, seccomp, tokens.items())
    audit = {
        arch: enosys.AUDIT_ARCH_X86_64 if token == enosys.SCMP_ARCH_X32 else token for arch, token in tokens.items()
    }
    return enosys.stub(highest, audit)


def _finish(seccomp: Seccomp, program: bytes, skipped: Tuple[str, ...]) -> CompiledFilter:
    """The CompiledFilter of ``program``, checked, with its seccomp(2) flags."""
    count = len(program) // SOCK_FILTER_SIZE
    if len(program) % SOCK_FILTER_SIZE or not 0 < count <= BPF_MAXINSNS:
        raise SeccompError("seccomp", f"the program has {count} instructions; the kernel accepts 1 to {BPF_MAXINSNS}")
    flags = 0
    for name in seccomp.flags:
        flags |= FLAGS[name]
    if seccomp.uses_notify:
        flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER
        if flags & SECCOMP_FILTER_FLAG_TSYNC:
            flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH  # TSYNC with a listener needs it (seccomp(2))
    return CompiledFilter(program, count, flags, seccomp.uses_notify, skipped)


#: ArgCondition.op -> enum scmp_compare (SCMP_CMP_NE = 1 ... SCMP_CMP_MASKED_EQ = 7).
_OP_INDEX = {op: i + 1 for i, op in enumerate(OPS)}


def _check(rc: int, field: str, what: str) -> None:
    if rc < 0:
        raise SeccompError(field, what, -rc)


def _add_architectures(lib: Any, ctx: Any, architectures: Sequence[str]) -> None:
    native = lib.seccomp_arch_native()
    for i, arch in enumerate(architectures):
        field = f"seccomp.architectures[{i}]"
        token = lib.seccomp_arch_resolve_name(arch.encode())
        if token == 0:
            raise SeccompError(field, f"this libseccomp does not know the architecture {arch!r}")
        if token == native:
            continue
        rc = lib.seccomp_arch_add(ctx, token)
        if rc != -errno_mod.EEXIST:
            _check(rc, field, f"seccomp_arch_add({arch})")


def _export(lib: Any, ctx: Any) -> bytes:
    """seccomp_export_bpf into a memfd, read back."""
    fd = os.memfd_create("libcontainer-seccomp", os.MFD_CLOEXEC)
    try:
        _check(lib.seccomp_export_bpf(ctx, fd), "seccomp", "seccomp_export_bpf")
        size = os.fstat(fd).st_size
        chunks = []
        offset = 0
        while offset < size:
            chunk = os.pread(fd, size - offset, offset)
            if not chunk:
                break
            chunks.append(chunk)
            offset += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)
