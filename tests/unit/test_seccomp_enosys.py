"""The ENOSYS stub as a program: run on chosen (arch, nr) by a small
classic-BPF interpreter, with libseccomp's program replaced by "filter"."""

from __future__ import annotations

import errno
import struct
from typing import Dict, Union

from libcontainer_py.seccomp import Seccomp, SeccompRule, enosys

AUDIT_ARCH_I386 = 0x40000003
AUDIT_ARCH_S390X = 0x80000016
X32 = enosys.X32_SYSCALL_BIT


def run(program: bytes, arch: int, nr: int) -> Union[int, str]:
    """What the stub answers for seccomp_data (nr, arch): its return value,
    or "filter" when it falls through to the program after it."""
    count = len(program) // 8
    pc, acc = 0, 0
    while pc < count:
        code, jt, jf, k = struct.unpack_from("=HBBI", program, pc * 8)
        pc += 1
        if code == 0x20:  # ld [k]
            acc = {0: nr, 4: arch}[k]
        elif code == 0x06:  # ret k
            return k
        elif code == 0x05:  # ja k
            pc += k
        else:
            taken = {0x15: acc == k, 0x25: acc > k, 0x45: bool(acc & k)}[code]
            pc += jt if taken else jf
    assert pc == count, "jumped past the end of the stub"
    return "filter"


def stub(highest: Dict[str, int], audit: Dict[str, int]) -> bytes:
    return enosys.stub(highest, audit)


def test_above_the_highest_number_is_enosys_per_architecture() -> None:
    p = stub({"x86_64": 456, "x86": 400}, {"x86_64": enosys.AUDIT_ARCH_X86_64, "x86": AUDIT_ARCH_I386})
    assert run(p, enosys.AUDIT_ARCH_X86_64, 457) == enosys.RET_ENOSYS
    assert run(p, enosys.AUDIT_ARCH_X86_64, 456) == "filter"
    assert run(p, AUDIT_ARCH_I386, 401) == enosys.RET_ENOSYS
    assert run(p, AUDIT_ARCH_I386, 401 - 10) == "filter"
    assert run(p, 0xC00000B7, 5000) == "filter"  # aarch64: not in the filter, libseccomp kills it
    assert enosys.RET_ENOSYS & 0xFFFF == errno.ENOSYS


def test_x32_and_x86_64_each_have_their_own_bound() -> None:
    audit = {"x86_64": enosys.AUDIT_ARCH_X86_64, "x32": enosys.AUDIT_ARCH_X86_64}
    p = stub({"x86_64": 456, "x32": X32 | 547}, audit)
    assert run(p, enosys.AUDIT_ARCH_X86_64, X32 | 548) == enosys.RET_ENOSYS
    assert run(p, enosys.AUDIT_ARCH_X86_64, X32 | 500) == "filter"
    assert run(p, enosys.AUDIT_ARCH_X86_64, 500) == enosys.RET_ENOSYS
    # x32 not filtered: its calls go to libseccomp's program (which kills them)
    p = stub({"x86_64": 456}, {"x86_64": enosys.AUDIT_ARCH_X86_64})
    assert run(p, enosys.AUDIT_ARCH_X86_64, X32 | 5000) == "filter"


def test_s390_syscall_zero_is_enosys() -> None:
    p = stub({"s390x": 450}, {"s390x": AUDIT_ARCH_S390X})
    assert run(p, AUDIT_ARCH_S390X, 0) == enosys.RET_ENOSYS
    assert run(p, AUDIT_ARCH_S390X, 1) == "filter"


def test_when_the_stub_is_used() -> None:
    rule = [SeccompRule("allow", ["read"])]
    assert enosys.needed(Seccomp("errno", rule))
    assert enosys.needed(Seccomp("kill_process", rule))
    assert enosys.needed(Seccomp("trap", rule))
    assert not enosys.needed(Seccomp("errno", rule, default_errno=errno.ENOSYS))
    for action in ("allow", "log", "trace"):
        assert not enosys.needed(Seccomp(action, [SeccompRule("errno", ["read"])]))
    assert not enosys.needed(Seccomp("errno"))
    assert stub({}, {}) == b""
