"""The cgroup v2 device filter: Devices rules compiled to an eBPF program.

The program (BPF_PROG_TYPE_CGROUP_DEVICE) reads ``struct bpf_cgroup_dev_ctx``
``{u32 access_type; u32 major; u32 minor}`` where ``access_type`` is
``(access << 16) | type`` (type 1 block, 2 char; access 1 mknod, 2 read,
4 write) and returns 1 to allow, 0 to deny.  Rules are checked last to
first; the first one that matches the type, major, minor and covers every
requested access bit decides.  No rule matching: deny.
"""

from __future__ import annotations

import errno as errno_mod
import functools
import os
import struct
import threading

from .errors import CgroupError

TYPE_CHECKING = False  # not typing's: see _shortcuts.py (light: the default run's quick path installs a saved program)
if TYPE_CHECKING:
    from typing import Dict, List, Tuple

    from .resources import DeviceRule, Devices

    Insn = Tuple[int, int, int, int, int]  # code, dst, src, off, imm

BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_DETACH = 9
BPF_PROG_GET_FD_BY_ID = 13
BPF_PROG_QUERY = 16
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
BPF_F_ALLOW_MULTI = 2

_DEV_BLOCK, _DEV_CHAR = 1, 2
_ACC = {"m": 1, "r": 2, "w": 4}

# Opcodes (struct bpf_insn: u8 code, u8 dst:4|src:4, s16 off, s32 imm).
_LDXW = 0x61  # BPF_LDX | BPF_MEM | BPF_W
_AND_K = 0x57  # BPF_ALU64 | BPF_AND | BPF_K
_RSH_K = 0x77  # BPF_ALU64 | BPF_RSH | BPF_K
_MOV_K = 0xB7  # BPF_ALU64 | BPF_MOV | BPF_K
_MOV_X = 0xBF  # BPF_ALU64 | BPF_MOV | BPF_X
_JNE_K = 0x55  # BPF_JMP | BPF_JNE | BPF_K
_EXIT = 0x95  # BPF_JMP | BPF_EXIT


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> Insn:
    return (code, dst, src, off, imm)


def _rule_block(rule: DeviceRule) -> List[Insn]:
    """Instructions that return rule.allow when the rule matches, else fall through.

    Registers: r2 type, r3 access, r4 major, r5 minor (set by the prologue).
    Jumps use a placeholder offset (-1 = "to the end of this block"), fixed below.
    """
    body: List[Insn] = []
    if rule.type != "a":
        body.append(_insn(_JNE_K, 2, 0, -1, _DEV_CHAR if rule.type == "c" else _DEV_BLOCK))
    mask = sum(_ACC[c] for c in rule.access)
    if mask != 7:
        body.append(_insn(_MOV_X, 6, 3))
        body.append(_insn(_AND_K, 6, 0, 0, ~mask & 7))
        body.append(_insn(_JNE_K, 6, 0, -1, 0))
    if rule.major is not None:
        body.append(_insn(_JNE_K, 4, 0, -1, rule.major))
    if rule.minor is not None:
        body.append(_insn(_JNE_K, 5, 0, -1, rule.minor))
    body.append(_insn(_MOV_K, 0, 0, 0, 1 if rule.allow else 0))
    body.append(_insn(_EXIT))
    n = len(body)
    return [(c, d, s, (n - i - 1) if off == -1 else off, imm) for i, (c, d, s, off, imm) in enumerate(body)]


def compile_rules(devices: Devices) -> List[Insn]:
    """The program's instructions for ``devices`` (see the module docstring)."""
    prog: List[Insn] = [
        _insn(_LDXW, 2, 1, 0),  # r2 = ctx->access_type
        _insn(_MOV_X, 3, 2),  # r3 = r2
        _insn(_AND_K, 2, 0, 0, 0xFFFF),  # r2 = type
        _insn(_RSH_K, 3, 0, 0, 16),  # r3 = access
        _insn(_LDXW, 4, 1, 4),  # r4 = ctx->major
        _insn(_LDXW, 5, 1, 8),  # r5 = ctx->minor
    ]
    for rule in reversed(devices.rules):
        prog += _rule_block(rule)
        if rule.is_wildcard():
            break  # nothing before it can be reached
    else:
        prog += [_insn(_MOV_K, 0, 0, 0, 0), _insn(_EXIT)]
    return prog


def assemble(prog: List[Insn]) -> bytes:
    return b"".join(struct.pack("<BBhi", c, (s << 4) | d, off, imm) for c, d, s, off, imm in prog)


@functools.lru_cache(maxsize=16)
def program_code(devices: Devices) -> bytes:
    """The assembled program of ``devices`` (most containers share one: the default rules)."""
    return assemble(compile_rules(devices))


def _bpf(cmd: int, attr: object, what: str, path: str) -> int:
    from .._lcnative import ffi, lib

    ret = int(lib.lc_bpf(cmd, attr, 128))
    if ret < 0:
        err = ffi.errno
        raise CgroupError(f"bpf {what} failed", path=path, errno=err)
    return ret


def load(devices: Devices, path: str = "<device program>") -> int:
    """Load the program; returns its fd (close-on-exec), which the caller closes."""
    return load_code(program_code(devices), path)


def load_code(code: bytes, path: str = "<device program>") -> int:
    """Load an assembled program (program_code's); returns its fd (close-on-exec)."""
    from .._lcnative import ffi

    insns = ffi.new("char[]", code)
    license_ = ffi.new("char[]", b"Apache")
    attr = ffi.new("char[]", 128)
    buf = ffi.buffer(attr)
    addr = int(ffi.cast("uintptr_t", insns))
    struct.pack_into(
        "<IIQQ", buf, 0, BPF_PROG_TYPE_CGROUP_DEVICE, len(code) // 8, addr, int(ffi.cast("uintptr_t", license_))
    )
    try:
        return _bpf(BPF_PROG_LOAD, attr, "prog load", path)
    except CgroupError as e:
        if e.errno != errno_mod.EACCES:
            raise
    # Load again with the verifier log, to say why.
    log = ffi.new("char[]", 65536)
    struct.pack_into("<IIQ", buf, 24, 1, 65536, int(ffi.cast("uintptr_t", log)))
    try:
        return _bpf(BPF_PROG_LOAD, attr, "prog load", path)
    except CgroupError as e:
        raise CgroupError(
            "the kernel rejected the device program: " + ffi.string(log).decode(errors="replace")[-400:],
            path=path,
            errno=e.errno,
        ) from e


def attach(dir_fd: int, prog_fd: int, path: str) -> None:
    """Attach to the cgroup at dir_fd (BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI)."""
    from .._lcnative import ffi

    attr = ffi.new("char[]", 128)
    struct.pack_into("<IIII", ffi.buffer(attr), 0, dir_fd, prog_fd, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI)
    _bpf(BPF_PROG_ATTACH, attr, "prog attach", path)


def detach(dir_fd: int, prog_fd: int, path: str) -> None:
    from .._lcnative import ffi

    attr = ffi.new("char[]", 128)
    struct.pack_into("<III", ffi.buffer(attr), 0, dir_fd, prog_fd, BPF_CGROUP_DEVICE)
    _bpf(BPF_PROG_DETACH, attr, "prog detach", path)


def attached_ids(dir_fd: int, path: str) -> List[int]:
    """The ids of the device programs attached to the cgroup itself (BPF_PROG_QUERY)."""
    from .._lcnative import ffi

    ids = ffi.new("uint32_t[]", 64)
    attr = ffi.new("char[]", 128)
    buf = ffi.buffer(attr)
    struct.pack_into("<IIII", buf, 0, dir_fd, BPF_CGROUP_DEVICE, 0, 0)
    struct.pack_into("<QI", buf, 16, int(ffi.cast("uintptr_t", ids)), 64)
    _bpf(BPF_PROG_QUERY, attr, "prog query", path)
    (count,) = struct.unpack_from("<I", buf, 24)
    return [int(ids[i]) for i in range(count)]


def prog_fd_by_id(prog_id: int, path: str) -> int:
    from .._lcnative import ffi

    attr = ffi.new("char[]", 128)
    struct.pack_into("<I", ffi.buffer(attr), 0, prog_id)
    return _bpf(BPF_PROG_GET_FD_BY_ID, attr, "prog get fd by id", path)


#: Programs loaded for a cgroup that had none, kept for the process's life
#: (code -> fd, close-on-exec): the next container with the same rules,
#: nearly always the default ones, attaches the same program instead of
#: having the kernel verify a new one.  At most _KEEP rule sets.
_kept: Dict[bytes, int] = {}
_kept_lock = threading.Lock()
_KEEP = 4


def kept_fds() -> Tuple[int, ...]:
    """The fds of the programs kept for reuse (a test's fd count leaves them out)."""
    with _kept_lock:
        return tuple(_kept.values())


def _kept_or_loaded(code: bytes, path: str) -> Tuple[int, bool]:
    """A program fd for ``code``, and whether the caller must close it."""
    with _kept_lock:
        fd = _kept.get(code)
    if fd is not None:
        return fd, False
    fd = load_code(code, path)
    with _kept_lock:
        if code not in _kept and len(_kept) < _KEEP:
            _kept[code] = fd
            return fd, False
    return fd, True


def _forget_kept() -> None:
    """In a forked child: the kept fds are the parent's business."""
    global _kept_lock
    for fd in _kept.values():
        try:
            os.close(fd)
        except OSError:
            pass
    _kept.clear()
    _kept_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_kept)


def install(dir_path: str, devices: Devices) -> None:
    """Make ``devices`` the cgroup's device filter: attach the new program,
    then detach the ones attached before (so there is no unfiltered moment).
    A cgroup with no program yet (a new container's) gets a kept one."""
    install_code(dir_path, program_code(devices))


def install_code(dir_path: str, code: bytes) -> None:
    """install() of an assembled program (program_code's)."""
    try:
        dir_fd = os.open(dir_path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as e:
        raise CgroupError("cannot open cgroup", path=dir_path, errno=e.errno) from e
    try:
        old = attached_ids(dir_fd, dir_path)
        # Attaching a program a cgroup has already fails (EEXIST), and the
        # old ones are detached below: an update loads a program of its own.
        prog_fd, close = _kept_or_loaded(code, dir_path) if not old else (load_code(code, dir_path), True)
        try:
            attach(dir_fd, prog_fd, dir_path)
        finally:
            if close:
                os.close(prog_fd)
        for prog_id in old:
            fd = prog_fd_by_id(prog_id, dir_path)
            try:
                detach(dir_fd, fd, dir_path)
            finally:
                os.close(fd)
    finally:
        os.close(dir_fd)
