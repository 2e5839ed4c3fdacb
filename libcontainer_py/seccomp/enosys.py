"""The ENOSYS stub: syscalls newer than a filter knows fail with ENOSYS.

A deny-by-default filter answers every syscall it does not name with its
default action, EPERM for Docker's profile.  For a syscall the kernel added
after the profile was written that is the wrong answer: libc and runtimes
fall back to an older call on ENOSYS only (glibc's clone3 to clone, statx
to fstatat ...), and on EPERM they give up.  runc therefore puts a short
program in front of libseccomp's (libcontainer/seccomp/patchbpf): for each
architecture of the filter, a syscall whose number is above the highest
number any rule of the profile names on that architecture returns ENOSYS.
This module builds the same stub, for the native architecture and the
architectures the filter lists, and is used only when the default action
denies (not allow, log or trace, and not an errno action that already
returns ENOSYS).

The stub is classic BPF over ``struct seccomp_data`` (nr at offset 0, arch
at 4); it jumps to libseccomp's program, placed right after it, for any
architecture it does not know.
"""

from __future__ import annotations

import errno as errno_mod
import struct
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

from .config import Action, Seccomp

# Classic BPF opcodes (linux/bpf_common.h).
_LD_W_ABS = 0x20
_JA = 0x05
_JEQ_K = 0x15
_JGT_K = 0x25
_JSET_K = 0x45
_RET_K = 0x06

#: seccomp_data offsets.
_NR, _ARCH = 0, 4
#: x32 syscalls are x86_64 ones with this bit set in the number.
X32_SYSCALL_BIT = 0x40000000
#: libseccomp's token for x32 (EM_X86_64 | __AUDIT_ARCH_LE): not an AUDIT_ARCH.
SCMP_ARCH_X32 = 0x4000003E
AUDIT_ARCH_X86_64 = 0xC000003E
#: s390's syscall 0 multiplexes unknown large numbers (runc answers ENOSYS there too).
_S390 = ("s390", "s390x")

RET_ENOSYS = 0x00050000 | errno_mod.ENOSYS  # SCMP_ACT_ERRNO(ENOSYS)
_ALLOWING = (Action.ALLOW, Action.LOG, Action.TRACE)

Label = str
Target = Union[int, Label]


def needed(seccomp: Seccomp) -> bool:
    """Whether ``seccomp`` gets the stub (runc's rule): a denying default
    action, and not an errno default that is ENOSYS already."""
    if seccomp.default_action in _ALLOWING or not seccomp.rules:
        return False
    return not (seccomp.default_action is Action.ERRNO and seccomp.default_errno == errno_mod.ENOSYS)


def highest_numbers(lib: Any, seccomp: Seccomp, architectures: Iterable[Tuple[str, int]]) -> Dict[str, int]:
    """Architecture name -> the highest syscall number the profile names there
    (every rule counts, whatever its action); architectures where it names
    none are left out.  ``architectures`` are (name, libseccomp token)."""
    names = {name for rule in seccomp.rules for name in rule.syscalls}
    highest: Dict[str, int] = {}
    for arch, token in architectures:
        numbers = [lib.seccomp_syscall_resolve_name_arch(token, name.encode()) for name in names]
        known = [n for n in numbers if n >= 0]  # negative: absent there, or a pseudo-syscall
        if known:
            highest[arch] = max(known)
    return highest


def stub(highest: Dict[str, int], audit_arch: Dict[str, int]) -> bytes:
    """The program to put in front of libseccomp's; empty when there is
    nothing to check.  ``audit_arch`` maps each architecture to the
    AUDIT_ARCH value the kernel reports (x32 shares x86_64's)."""
    groups: Dict[int, List[str]] = {}
    for arch in highest:
        groups.setdefault(audit_arch[arch], []).append(arch)
    if not groups:
        return b""
    prog = _Program()
    prog.load(_ARCH)
    for audit in groups:
        prog.jump(_JEQ_K, audit, f"arch{audit:x}", None)
    prog.ja("filter")
    for audit, arches in groups.items():
        prog.label(f"arch{audit:x}")
        prog.load(_NR)
        _section(prog, arches, highest, audit)
    prog.label("enosys")
    prog.ret(RET_ENOSYS)
    prog.label("filter")
    return prog.assemble()


def _section(prog: _Program, arches: List[str], highest: Dict[str, int], audit: int) -> None:
    """The check of one AUDIT_ARCH: above the highest number -> ENOSYS."""
    if any(a in _S390 for a in arches):
        prog.jump(_JEQ_K, 0, "enosys", None)
    if audit != AUDIT_ARCH_X86_64:
        (arch,) = arches
        prog.jump(_JGT_K, highest[arch], "enosys", "filter")
        return
    native, x32 = highest.get("x86_64"), highest.get("x32")
    here = prog.fresh()
    # x32 calls carry X32_SYSCALL_BIT; each ABI is held to its own highest number.
    prog.jump(_JSET_K, X32_SYSCALL_BIT, f"{here}x32", None)
    if native is None:
        prog.ja("filter")
    else:
        prog.jump(_JGT_K, native, "enosys", "filter")
    prog.label(f"{here}x32")
    if x32 is None:
        prog.ja("filter")
    else:
        prog.jump(_JGT_K, x32, "enosys", "filter")


class _Program:
    """A tiny assembler: forward jumps to labels, resolved at the end."""

    def __init__(self) -> None:
        self.code: List[Tuple[int, Optional[Target], Optional[Target], int]] = []
        self.labels: Dict[Label, int] = {}
        self.count = 0

    def fresh(self) -> str:
        self.count += 1
        return f"_{self.count}"

    def label(self, name: Label) -> None:
        self.labels[name] = len(self.code)

    def load(self, offset: int) -> None:
        self.code.append((_LD_W_ABS, None, None, offset))

    def ret(self, value: int) -> None:
        self.code.append((_RET_K, None, None, value))

    def ja(self, target: Label) -> None:
        self.code.append((_JA, target, None, 0))

    def jump(self, op: int, k: int, jt: Optional[Target], jf: Optional[Target]) -> None:
        """Conditional jump; None falls through to the next instruction."""
        self.code.append((op, jt, jf, k))

    def assemble(self) -> bytes:
        out = bytearray()
        for at, (op, jt, jf, k) in enumerate(self.code):
            if op == _JA:
                assert jt is not None
                out += struct.pack("=HBBI", op, 0, 0, self._offset(at, jt))
            elif op in (_JEQ_K, _JGT_K, _JSET_K):
                t, f = self._short(at, jt), self._short(at, jf)
                out += struct.pack("=HBBI", op, t, f, k)
            else:
                out += struct.pack("=HBBI", op, 0, 0, k)
        return bytes(out)

    def _offset(self, at: int, target: Target) -> int:
        to = self.labels[target] if isinstance(target, str) else target
        if to <= at:
            raise ValueError("the stub jumps only forwards")
        return to - at - 1

    def _short(self, at: int, target: Optional[Target]) -> int:
        if target is None:
            return 0
        offset = self._offset(at, target)
        if offset > 255:
            raise ValueError("a conditional jump of the stub is too long")
        return offset
