"""Seccomp filters compiled with libseccomp and loaded into a real kernel.

Each test forks a child that loads a filter with the native
``lc_seccomp_load`` (as the container's last step will), makes syscalls and
reports what they returned through a pipe; every blocking result is held
against a control child without the filter, so the filter is what made the
difference.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import resource
import select
import signal
import socket
import struct
import subprocess
import threading
import time
from sys import executable as python_executable
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

import attrs
import pytest
from libcontainer_py._lcnative import ffi, lib

from libcontainer_py.seccomp import (
    SECCOMP_FILTER_FLAG_NEW_LISTENER,
    ArgCondition,
    CompiledFilter,
    Seccomp,
    SeccompError,
    SeccompRule,
    compile,
    resolve_syscall,
)
from libcontainer_py.seccomp import _libseccomp as scmp

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
_L = ctypes.c_long

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
AF_PACKET = 17
AF_VSOCK = 40


def nr(name: str) -> int:
    number = resolve_syscall(name)
    assert number is not None, name
    return number


def raw(number: int, *args: int) -> int:
    """syscall(number, args...): the result, or -errno."""
    ctypes.set_errno(0)
    rc = libc.syscall(_L(number), *(_L(a) for a in args))
    return -ctypes.get_errno() if rc == -1 else int(rc)


def sys(name: str, *args: int) -> int:
    return raw(nr(name), *args)


def load(compiled: CompiledFilter) -> int:
    """Load into the calling process; the listener fd, 0, or -errno."""
    buf = ffi.from_buffer(compiled.program)
    rc = lib.lc_seccomp_load(buf, compiled.instructions, compiled.flags)
    return -ffi.errno if rc < 0 else int(rc)


def in_child(compiled: Optional[CompiledFilter], body: Callable[[], Any], *, timeout: float = 20) -> Tuple[int, Any]:
    """Fork; the child loads ``compiled`` (if any) then runs ``body``.

    Returns the wait status and what ``body`` returned (JSON), or None when
    the child died before reporting.
    """
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            os.close(r)
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # SIGSYS would dump core
            if compiled is not None:
                rc = load(compiled)
                if rc < 0:
                    os.write(w, json.dumps({"load_failed": rc}).encode())
                    os._exit(3)
            os.write(w, json.dumps(body()).encode())
        except BaseException as exc:
            os.write(w, json.dumps({"exception": repr(exc)}).encode())
            code = 4
        os._exit(code)
    os.close(w)
    data = _read_all(r, timeout, pid)
    _, status = os.waitpid(pid, 0)
    return status, json.loads(data) if data else None


def _read_all(fd: int, timeout: float, pid: int) -> bytes:
    chunks: List[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                os.kill(pid, signal.SIGKILL)
                raise AssertionError("the child did not finish in time")
            chunk = os.read(fd, 65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)


def exited(status: int) -> int:
    assert os.WIFEXITED(status), f"child did not exit: status {status:#x}"
    return os.WEXITSTATUS(status)


def run(compiled: Optional[CompiledFilter], body: Callable[[], Any]) -> Any:
    status, result = in_child(compiled, body)
    assert exited(status) == 0, result
    return result


# --- compile -----------------------------------------------------------------


def test_compile_produces_a_classic_bpf_program() -> None:
    c = compile(Seccomp("allow", [SeccompRule("errno", ["mkdir"])]))
    assert c.instructions == len(c.program) // 8 and len(c.program) % 8 == 0
    assert 0 < c.instructions < 50
    code, _jt, _jf, k = struct.unpack_from("=HBBI", c.program, 0)
    assert (code, k) == (0x20, 4)  # BPF_LD|BPF_W|BPF_ABS of seccomp_data.arch
    assert (c.flags, c.uses_notify, c.skipped) == (0, False, ())
    ks = {struct.unpack_from("=HBBI", c.program, i)[3] for i in range(0, len(c.program), 8)}
    assert 0x00050000 | errno.EPERM in ks and 0x7FFF0000 in ks and nr("mkdir") in ks


def test_compile_adds_architectures() -> None:
    def ks(c: CompiledFilter) -> Set[int]:
        return {struct.unpack_from("=HBBI", c.program, i)[3] for i in range(0, len(c.program), 8)}

    AUDIT_ARCH_I386 = 0x40000003
    assert AUDIT_ARCH_I386 not in ks(compile(Seccomp("allow", [SeccompRule("errno", ["mkdir"])])))
    both = compile(Seccomp("allow", [SeccompRule("errno", ["mkdir"])], architectures=["x86_64", "x86"]))
    assert AUDIT_ARCH_I386 in ks(both)
    assert nr("mkdir") in ks(both) and 39 in ks(both)  # mkdir is 39 on i386


def test_compile_flags() -> None:
    assert compile(Seccomp("allow", flags=["log", "spec_allow"])).flags == 2 | 4
    notify = compile(Seccomp("allow", [SeccompRule("notify", ["getppid"])]))
    assert notify.uses_notify and notify.flags == SECCOMP_FILTER_FLAG_NEW_LISTENER == 8
    tsync = compile(Seccomp("allow", [SeccompRule("notify", ["getppid"])], flags=["tsync"]))
    assert tsync.flags == 1 | 8 | 16  # TSYNC with a listener needs TSYNC_ESRCH


def test_unknown_syscalls_are_skipped_or_refused() -> None:
    s = Seccomp("allow", [SeccompRule("errno", ["mkdir", "no_such_syscall", "chown32"])])
    c = compile(s)
    assert c.skipped == ("no_such_syscall",)  # chown32 is known to libseccomp, just not on x86_64
    with pytest.raises(SeccompError) as info:
        compile(s, strict=True)
    assert info.value.field == "seccomp.rules[0]" and "no_such_syscall" in str(info.value)


def test_rules_equal_to_the_default_are_left_out() -> None:
    # An ENOSYS default: no ENOSYS stub, whose bounds count every rule's names.
    plain = compile(Seccomp("errno", default_errno=errno.ENOSYS))
    same = compile(Seccomp("errno", [SeccompRule("errno", ["mkdir"], errno=errno.ENOSYS)], default_errno=errno.ENOSYS))
    assert same.program == plain.program
    other_errno = compile(
        Seccomp("errno", [SeccompRule("errno", ["mkdir"], errno=errno.EACCES)], default_errno=errno.ENOSYS)
    )
    assert other_errno.program != plain.program


def test_default_profile_compiles_whole() -> None:
    profile = Seccomp.default()
    c = compile(profile)
    # Only what this libseccomp cannot name is left out (2.5.4 stops at kernel 6.7).
    named = {name for rule in profile.rules for name in rule.syscalls}
    unknown = {name for name in named if scmp.lib().seccomp_syscall_resolve_name(name.encode()) == scmp.NR_SCMP_ERROR}
    assert set(c.skipped) == unknown and "statmount" in unknown
    assert "futex_waitv" not in c.skipped and "io_uring_setup" not in named
    assert 100 < c.instructions <= 4096
    assert c.flags == 0 and not c.uses_notify


# --- loading: errno, arguments, kill, trap, log --------------------------------


def test_errno_rule_fails_the_syscall_with_that_errno(tmp_path: Any) -> None:
    target = str(tmp_path / "made")
    f = compile(
        Seccomp(
            "allow",
            [
                SeccompRule("errno", ["mkdir", "mkdirat"], errno=errno.ENOTBLK),
                SeccompRule("errno", ["chdir"]),
            ],
        )
    )

    def body() -> Dict[str, Any]:
        out: Dict[str, Any] = {"pid": os.getpid()}
        calls: List[Tuple[str, Callable[[], None]]] = [
            ("mkdir", lambda: os.mkdir(target)),
            ("chdir", lambda: os.chdir(str(tmp_path))),
        ]
        for what, call in calls:
            try:
                call()
                out[what] = 0
            except OSError as e:
                out[what] = e.errno
        return out

    got = run(f, body)
    assert (got["mkdir"], got["chdir"]) == (errno.ENOTBLK, errno.EPERM)
    assert got["pid"] > 0  # unrelated syscalls still work
    assert not os.path.exists(target)
    assert run(None, body)["mkdir"] == 0 and os.path.isdir(target)


def test_arg_condition_both_ways() -> None:
    f = compile(
        Seccomp(
            "allow",
            [
                # personality: only the query 0xffffffff passes.
                SeccompRule("errno", ["personality"], [ArgCondition(0, "ne", 0xFFFFFFFF)], errno=errno.EDOM),
                # socket: AF_PACKET only.
                SeccompRule("errno", ["socket"], [ArgCondition(0, "eq", AF_PACKET)], errno=errno.EPFNOSUPPORT),
            ],
        )
    )

    def body() -> Dict[str, int]:
        out = {"query": sys("personality", 0xFFFFFFFF), "set": sys("personality", 0)}
        for name, family, kind in (
            ("packet", AF_PACKET, socket.SOCK_RAW),
            ("unix", socket.AF_UNIX, socket.SOCK_STREAM),
        ):
            rc = sys("socket", family, kind, 0)
            out[name] = rc
            if rc >= 0:
                os.close(rc)
        return out

    got = run(f, body)
    assert got["query"] >= 0 and got["set"] == -errno.EDOM
    assert got["packet"] == -errno.EPFNOSUPPORT and got["unix"] >= 0
    control = run(None, body)
    assert control["set"] >= 0 and control["packet"] >= 0


def test_repeated_argument_index_means_or() -> None:
    rule = SeccompRule("errno", ["personality"], [ArgCondition(0, "eq", 0x8), ArgCondition(0, "eq", 0x20000)], errno=77)
    f = compile(Seccomp("allow", [rule]))

    def body() -> List[int]:
        return [sys("personality", 0x8), sys("personality", 0x20000), sys("personality", 0)]

    got = run(f, body)
    assert got[:2] == [-77, -77] and got[2] >= 0


def test_masked_eq_condition() -> None:
    # Block unshare when CLONE_NEWUSER is among the flags, whatever else is set.
    f = compile(
        Seccomp(
            "allow", [SeccompRule("errno", ["unshare"], [ArgCondition(0, "masked_eq", CLONE_NEWUSER, CLONE_NEWUSER)])]
        )
    )

    def body() -> List[int]:
        return [sys("unshare", CLONE_NEWUSER | CLONE_NEWNS), sys("unshare", CLONE_NEWNS)]

    assert run(f, body) == [-errno.EPERM, 0]
    assert run(None, body) == [0, 0]


def test_kill_process_kills_with_sigsys() -> None:
    f = compile(Seccomp("allow", [SeccompRule("kill", ["getppid"])]))
    status, result = in_child(f, lambda: os.getppid())
    assert result is None
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS
    status, result = in_child(None, lambda: os.getppid())
    assert exited(status) == 0 and result == os.getpid()


def _thread_calls_getppid() -> Dict[str, Any]:
    done: List[int] = []
    getppid = nr("getppid")
    # Through ctypes, which releases the GIL: a thread killed holding it would hang the process.
    t = threading.Thread(target=lambda: done.append(libc.syscall(_L(getppid))), daemon=True)
    t.start()
    t.join(2)
    return {"thread_alive": t.is_alive(), "done": done}


def test_kill_thread_kills_only_the_thread_kill_process_the_process() -> None:
    thread = compile(Seccomp("allow", [SeccompRule("kill_thread", ["getppid"])]))
    status, result = in_child(thread, _thread_calls_getppid)
    assert exited(status) == 0
    assert result == {"thread_alive": True, "done": []}  # the thread is gone without finishing
    process = compile(Seccomp("allow", [SeccompRule("kill_process", ["getppid"])]))
    status, result = in_child(process, _thread_calls_getppid)
    assert result is None and os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS


def test_trap_sends_a_catchable_sigsys() -> None:
    f = compile(Seccomp("allow", [SeccompRule("trap", ["getppid"])]))

    def body() -> Dict[str, Any]:
        caught: List[int] = []
        signal.signal(signal.SIGSYS, lambda signum, frame: caught.append(signum))
        os.getppid()
        deadline = time.monotonic() + 2
        while not caught and time.monotonic() < deadline:
            time.sleep(0.01)
        return {"caught": caught}

    assert run(f, body) == {"caught": [signal.SIGSYS]}
    assert run(None, body) == {"caught": []}
    # Without a handler, SIGSYS kills.
    status, _ = in_child(f, lambda: os.getppid())
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS


def test_log_allows_and_allow_overrides_default(tmp_path: Any) -> None:
    f = compile(
        Seccomp(
            "errno",
            [
                SeccompRule("allow", ["exit_group", "exit", "write", "getpid", "brk", "mmap", "munmap", "madvise"]),
                SeccompRule("allow", ["rt_sigaction", "rt_sigprocmask", "futex"]),
                SeccompRule("log", ["getppid"]),
            ],
            default_errno=errno.ENOANO,
        )
    )
    parent = os.getpid()
    numbers = [nr("getppid"), nr("getpid"), nr("getuid")]
    # Plain syscalls only: under this filter almost everything fails with ENOANO.
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(r)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if load(f) < 0:
            os._exit(3)
        vals = tuple(raw(n) for n in numbers)
        os.write(w, struct.pack("=3q", *vals))
        os._exit(0)
    os.close(w)
    data = _read_all(r, 10, pid)
    _, status = os.waitpid(pid, 0)
    assert exited(status) == 0
    ppid, mypid, uid = struct.unpack("=3q", data)
    assert ppid == parent and mypid == pid  # log: allowed; allow: allowed
    assert uid == -errno.ENOANO  # everything else: the default
    # And the kernel logged the log action's syscall (audit type 1326, SECCOMP_RET_LOG).
    wanted = (f"pid={pid} ", f"syscall={nr('getppid')} ", "code=0x7ffc0000")
    deadline = time.monotonic() + 5
    while True:
        kmsg = subprocess.run(["dmesg"], capture_output=True, text=True, check=True).stdout
        if any(all(w in line for w in wanted) for line in kmsg.splitlines()):
            break
        assert time.monotonic() < deadline, "no seccomp log record for the child's getppid"
        time.sleep(0.1)


def test_log_flag_and_spec_allow_load() -> None:
    f = compile(Seccomp("allow", [SeccompRule("errno", ["getppid"])], flags=["log", "spec_allow"]))
    assert f.flags == 2 | 4
    assert run(f, lambda: sys("getppid")) == -errno.EPERM


# --- the default profile -----------------------------------------------------


SHELL = "ls / >/dev/null && grep -q '^Seccomp:[[:space:]]*2' /proc/self/status && echo ok"


def _exec_shell(compiled: Optional[CompiledFilter]) -> Tuple[int, bytes]:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(r)
            os.dup2(w, 1)
            if compiled is not None and load(compiled) < 0:
                os._exit(3)
            os.execv("/bin/sh", ["sh", "-c", SHELL])
        finally:
            os._exit(127)
    os.close(w)
    out = _read_all(r, 20, pid)
    _, status = os.waitpid(pid, 0)
    return status, out


def test_default_profile_runs_a_shell() -> None:
    status, out = _exec_shell(compile(Seccomp.default()))
    assert exited(status) == 0 and out == b"ok\n"
    # The same command fails without a filter (the status check) and when ls cannot list.
    status, out = _exec_shell(None)
    assert exited(status) != 0 and out == b""
    status, out = _exec_shell(compile(Seccomp("allow", [SeccompRule("errno", ["getdents64", "getdents"])])))
    assert exited(status) != 0 and out == b""


def _default_profile_probe() -> Dict[str, int]:
    """Syscalls with harmless arguments; each returns its result or -errno."""
    out: Dict[str, int] = {}
    out["keyctl"] = sys("keyctl", 0, 2**64 - 3, 0)  # KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING
    out["kexec_load"] = sys("kexec_load", 0, 0, 0, 0xDEAD0000)
    out["mount"] = sys("mount", 0, 0, 0, 0, 0)
    out["clone_newuser"] = r = sys("clone", CLONE_NEWUSER | signal.SIGCHLD, 0, 0, 0, 0)
    if r == 0:
        os._exit(0)  # the grandchild, had clone been allowed
    if r > 0:
        os.waitpid(r, 0)
    out["clone3"] = sys("clone3", 0, 0)
    out["unshare_user"] = sys("unshare", CLONE_NEWUSER)  # last: it changes who we are
    out["personality_bsd"] = sys("personality", 0x6)
    out["personality_query"] = sys("personality", 0xFFFFFFFF)
    out["vsock"] = sys("socket", AF_VSOCK, socket.SOCK_STREAM, 0)
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    out["fork"] = os.WEXITSTATUS(os.waitpid(pid, 0)[1])
    out["ptrace"] = sys("ptrace", 2, 2**31 - 1, 0, 0)  # PTRACE_PEEKDATA, no such pid
    return out


def test_default_profile_blocks_namespaces_mount_keys_kexec() -> None:
    got = run(compile(Seccomp.default()), _default_profile_probe)
    assert got["unshare_user"] == -errno.EPERM
    assert got["keyctl"] == -errno.EPERM
    assert got["kexec_load"] == -errno.EPERM
    assert got["mount"] == -errno.EPERM
    assert got["clone_newuser"] == -errno.EPERM
    assert got["clone3"] == -errno.ENOSYS
    assert got["personality_bsd"] == -errno.EPERM
    assert got["personality_query"] >= 0
    assert got["vsock"] == -errno.EPERM
    assert got["fork"] == 7  # plain clone still works
    assert got["ptrace"] == -errno.ESRCH  # allowed (Docker's choice on kernels >= 4.8)

    control = run(None, _default_profile_probe)
    assert control["unshare_user"] == 0 and control["keyctl"] > 0 and control["clone_newuser"] > 0
    assert control["mount"] == -errno.EFAULT and control["clone3"] != -errno.ENOSYS
    assert control["personality_bsd"] >= 0 and control["vsock"] != -errno.EPERM
    assert control["kexec_load"] in (-errno.EINVAL, -errno.ENOSYS)


#: Blocked syscalls with arguments that are harmless should the filter let them
#: through (bad pointers, bad fds, bad magic, no-op values).
HARMLESS_CALLS: Tuple[Tuple[str, Tuple[int, ...]], ...] = (
    ("unshare", (0,)),
    ("setns", (-1, 0)),
    ("mount", (0, 0, 0, 0, 0)),
    ("umount2", (0, 0)),
    ("pivot_root", (0, 0)),
    ("chroot", (0,)),
    ("keyctl", (0, 2**64 - 3, 0)),
    ("add_key", (0, 0, 0, 0, 0)),
    ("request_key", (0, 0, 0, 0)),
    ("bpf", (2**32 - 1, 0, 0)),
    ("perf_event_open", (0, 0, -1, -1, 0)),
    ("kexec_load", (0, 0, 0, 0xDEAD0000)),
    ("kexec_file_load", (-1, -1, 0, 0, 0xDEAD0000)),
    ("init_module", (0, 0, 0)),
    ("finit_module", (-1, 0, 0)),
    ("delete_module", (0, 0)),
    ("open_by_handle_at", (-1, 0, 0)),
    ("reboot", (0, 0, 0, 0)),
    ("swapon", (0, 0)),
    ("swapoff", (0,)),
    ("settimeofday", (0, 0)),
    ("clock_settime", (0, 0)),
    ("iopl", (0,)),
    ("ioperm", (0, 0, 0)),
    ("quotactl", (0, 0, 0, 0)),
    ("lookup_dcookie", (0, 0, 0)),
    ("syslog", (10, 0, 0)),
    ("sethostname", (0, 65)),
    ("setdomainname", (0, 65)),
    ("fsopen", (0, 0)),
    ("move_mount", (-1, 0, -1, 0, 0)),
    ("open_tree", (-1, 0, 0)),
    ("kcmp", (0, 0, 0, 0, 0)),
    ("pidfd_getfd", (-1, -1, 0)),
    ("acct", (0,)),
    ("userfaultfd", (0xDEAD,)),
    ("mbind", (0, 0, 0, 0, 0, 0)),
)


def _harmless_probe() -> Dict[str, int]:
    return {name: sys(name, *args) for name, args in HARMLESS_CALLS}


def test_default_profile_blocks_the_dangerous_syscalls() -> None:
    # Give the default profile a distinctive errno, so a kernel EPERM cannot pass for the filter's.
    sentinel = errno.EOWNERDEAD
    profile = attrs.evolve(Seccomp.default(), default_errno=sentinel)
    got = run(compile(profile), _harmless_probe)
    assert got == {name: -sentinel for name, _ in HARMLESS_CALLS}
    control = run(None, _harmless_probe)
    assert all(v != -sentinel for v in control.values()), control
    # name_to_handle_at stays allowed, as in Docker's profile.
    assert run(compile(profile), lambda: sys("name_to_handle_at", -1, 0, 0, 0, 0)) != -sentinel


# --- notify ------------------------------------------------------------------

# struct seccomp_notif {u64 id; u32 pid; u32 flags; struct seccomp_data {int nr; u32 arch; u64 ip; u64 args[6];}}
NOTIF = struct.Struct("=QIIiIQ6Q")
# struct seccomp_notif_resp {u64 id; s64 val; s32 error; u32 flags}
NOTIF_RESP = struct.Struct("=QqiI")


def _iowr(nr_: int, size: int) -> int:
    return (3 << 30) | (size << 16) | (ord("!") << 8) | nr_


SECCOMP_IOCTL_NOTIF_RECV = _iowr(0, NOTIF.size)
SECCOMP_IOCTL_NOTIF_SEND = _iowr(1, NOTIF_RESP.size)


def test_ioctl_numbers_match_the_kernel_headers() -> None:
    assert (NOTIF.size, NOTIF_RESP.size) == (80, 24)
    assert (SECCOMP_IOCTL_NOTIF_RECV, SECCOMP_IOCTL_NOTIF_SEND) == (0xC0502100, 0xC0182101)


def test_notify_hands_the_syscall_to_the_listener() -> None:
    import fcntl

    f = compile(Seccomp("allow", [SeccompRule("notify", ["getppid"])]))
    assert f.flags & SECCOMP_FILTER_FLAG_NEW_LISTENER
    parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            parent_sock.close()
            os.close(r)
            listener = load(f)
            if listener <= 2:
                os.write(w, struct.pack("=q", -1000 + listener))
                os._exit(3)
            socket.send_fds(child_sock, [b"fd"], [listener])
            os.close(listener)
            os.write(w, struct.pack("=q", sys("getppid")))  # blocks until the parent answers
        finally:
            os._exit(0)
    os.close(w)
    child_sock.close()
    listener = -1
    try:
        msg, fds, _, _ = socket.recv_fds(parent_sock, 16, 1)
        assert msg == b"fd" and len(fds) == 1
        listener = fds[0]
        # The child is now stuck in getppid, and stays there: nothing on the pipe.
        assert select.select([listener], [], [], 10)[0], "no notification"
        assert not select.select([r], [], [], 0.2)[0]
        buf = bytearray(NOTIF.size)
        fcntl.ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, buf)
        notif_id, notif_pid, _flags, call_nr, arch, _ip, *_args = NOTIF.unpack(buf)
        assert notif_pid == pid and call_nr == nr("getppid") and arch == 0xC000003E
        fcntl.ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, bytearray(NOTIF_RESP.pack(notif_id, 4242, 0, 0)))
        data = _read_all(r, 10, pid)
        assert struct.unpack("=q", data) == (4242,)  # the answer the parent made up
    finally:
        if listener >= 0:
            os.close(listener)
        parent_sock.close()
        _, status = os.waitpid(pid, 0)
    assert exited(status) == 0


def test_notify_error_answer_and_listener_without_notify_rule() -> None:
    import fcntl

    f = compile(Seccomp("allow", [SeccompRule("notify", ["mkdirat", "mkdir"])]))
    parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            listener = load(f)
            socket.send_fds(child_sock, [b"fd"], [listener])
            os.close(listener)
            os.write(w, struct.pack("=q", sys("mkdir", 0, 0o755)))
        finally:
            os._exit(0)
    os.close(w)
    child_sock.close()
    _, fds, _, _ = socket.recv_fds(parent_sock, 16, 1)
    listener = fds[0]
    try:
        assert select.select([listener], [], [], 10)[0]
        buf = bytearray(NOTIF.size)
        fcntl.ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, buf)
        notif_id = NOTIF.unpack(buf)[0]
        fcntl.ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, bytearray(NOTIF_RESP.pack(notif_id, 0, -errno.EROFS, 0)))
        assert struct.unpack("=q", _read_all(r, 10, pid)) == (-errno.EROFS,)
    finally:
        os.close(listener)
        parent_sock.close()
        _, status = os.waitpid(pid, 0)
    assert exited(status) == 0


def test_libseccomp_binding_is_built_once_across_threads() -> None:
    """The ffi is built on first use; threads racing to it must share one
    (cdata of two FFI objects do not mix: compile() would raise TypeError)."""
    script = (
        "import threading\n"
        "from libcontainer_py.seccomp import _libseccomp as s\n"
        "barrier = threading.Barrier(8)\n"
        "seen = []\n"
        "def use():\n"
        "    barrier.wait()\n"
        "    seen.append((id(s.ffi), id(s.lib())))\n"
        "threads = [threading.Thread(target=use) for _ in range(8)]\n"
        "[t.start() for t in threads]\n"
        "[t.join() for t in threads]\n"
        "print(len(set(seen)), len(seen))\n"
    )
    done = subprocess.run([python_executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "8"]


# --- the ENOSYS stub (runc's patchbpf) ---------------------------------------------

NR_STATMOUNT = 457  # x86_64: newer than the libseccomp here, so no rule can name it
NR_NONE = 1000  # no syscall has this number


def test_syscalls_above_the_profile_fail_with_enosys() -> None:
    """Above the highest number the profile names: ENOSYS (libc falls back);
    below it, the default action (EPERM), even for a syscall never named."""
    out = run(
        compile(Seccomp.default()),
        lambda: [raw(NR_NONE), raw(NR_STATMOUNT), sys("kexec_load", 0, 0, 0, 0), sys("io_uring_setup", 1, 0)],
    )
    assert out == [-errno.ENOSYS, -errno.ENOSYS, -errno.EPERM, -errno.EPERM]


def test_the_highest_number_is_the_profiles() -> None:
    """cachestat (451) is allowed by the profile; a profile whose highest
    name is futex_waitv (449) answers it with ENOSYS, not EPERM."""
    newer = {"cachestat", "fchmodat2", "map_shadow_stack", "futex_wake", "futex_wait", "futex_requeue"}
    older = Seccomp.default()
    older = attrs.evolve(
        older,
        rules=[attrs.evolve(older.rules[0], syscalls=sorted(set(older.rules[0].syscalls) - newer)), *older.rules[1:]],
    )
    assert run(compile(Seccomp.default()), lambda: sys("cachestat", -1, 0, 0, 0)) == -errno.EBADF
    assert run(compile(older), lambda: [sys("cachestat", -1, 0, 0, 0), sys("futex_waitv", 0, 0, 0, 0, 0)]) == [
        -errno.ENOSYS,
        -errno.EINVAL,
    ]


def test_a_killing_default_gets_the_stub_too() -> None:
    """As in runc: a newer syscall gets ENOSYS, an older unlisted one is killed."""
    killing = attrs.evolve(Seccomp.default(), default_action="kill_process", default_errno=None)
    assert run(compile(killing), lambda: raw(NR_NONE)) == -errno.ENOSYS
    status, _ = in_child(compile(killing), lambda: sys("kexec_load", 0, 0, 0, 0))
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS


def test_no_stub_where_the_default_lets_calls_through_or_is_enosys() -> None:
    """An allowing default (allow, log, trace) or an ENOSYS default gets no stub."""
    rules = [SeccompRule("allow", ["mkdir"])]
    eperm = compile(Seccomp("errno", rules)).instructions
    assert compile(Seccomp("errno", rules, default_errno=errno.ENOSYS)).instructions < eperm
    allow = compile(Seccomp("allow", [SeccompRule("errno", ["mkdir"])]))
    # rmdir (84) is above mkdir (83), the only name: with a stub it would be ENOSYS.
    assert run(allow, lambda: [sys("rmdir", 0), sys("mkdir", 0, 0)]) == [-errno.EFAULT, -errno.EPERM]
