"""The default profile: Docker's default seccomp profile, as Python data
(config.default_profile builds the Seccomp from it: this module is below
the model and imports none of it).

Facts from moby's ``profiles/seccomp/default.json`` and its generator
``profiles/seccomp/default_linux.go`` (github.com/moby/moby) as of moby
25-28: io_uring removed (moby#46762, as containerd#9320), the syscalls of
kernels 5.17 to 6.13 added (moby#47341, moby#50077, libseccomp 2.6.0's
table) and the ``lsm_*`` calls put behind CAP_SYS_ADMIN (moby#50097).  The
data below is written out here, not read from that file; docs/security.md
lists where it differs from Docker's and why.  What it does:

- Default action: errno EPERM.  Everything not listed fails with EPERM.
- Allowed unconditionally: ``BASE_SYSCALLS`` (file, memory, signal, time,
  socket, IPC, scheduling ... syscalls a normal program needs).  Notably NOT
  there: mount/umount2/pivot_root/chroot, unshare/setns, the new mount API
  (fsopen, move_mount, open_tree ...), keyctl/add_key/request_key, bpf,
  perf_event_open, kexec_load/kexec_file_load, init_module/finit_module/
  delete_module, open_by_handle_at, reboot, swapon/swapoff, acct,
  settimeofday/clock_settime/stime, iopl/ioperm, userfaultfd,
  lookup_dcookie, quotactl, vm86, syslog, sethostname, kcmp, pidfd_getfd,
  fanotify_init, mbind/set_mempolicy, vhangup, clone3 (see below), and
  io_uring_setup/io_uring_enter/io_uring_register: a ring performs file and
  socket operations the filter never sees, and io_uring has been behind
  many kernel privilege escalations.
- ``name_to_handle_at`` IS allowed (only ``open_by_handle_at``, the half
  that can escape a mount, needs CAP_DAC_READ_SEARCH).
- ptrace, process_vm_readv, process_vm_writev are allowed: Docker allows them
  on kernels >= 4.8, where seccomp is re-checked after a tracer changes a
  syscall so ptrace cannot be used to bypass the filter.  This library needs
  far newer kernels (clone3, pidfds), so the condition always holds and is
  not checked.
- socket: allowed unless the family (arg 0) is AF_VSOCK (40).
- personality: allowed only for PER_LINUX (0), PER_LINUX32 (8), UNAME26
  (0x20000), UNAME26|PER_LINUX32 (0x20008) and the query 0xffffffff.
- clone: allowed only when ``flags & 0x7E020000 == 0``, i.e. without
  CLONE_NEWNS/NEWCGROUP/NEWUTS/NEWIPC/NEWUSER/NEWPID/NEWNET (the flags are
  argument 1 on s390/s390x).  clone3 fails with ENOSYS, because its flags sit
  in a struct seccomp cannot read; glibc then falls back to clone.  With
  CAP_SYS_ADMIN both are allowed unconditionally instead.
- Capabilities add syscalls (``CAPABILITY_SYSCALLS``), as Docker's
  ``includes.caps``; architectures add a few (``ARCH_SYSCALLS``).
- Architectures: the native one plus its compatible ABIs (``ARCH_MAP``: x86_64
  also filters x86 and x32 syscalls; aarch64 also arm ...).
"""

from __future__ import annotations

import platform
from typing import Iterable, List, Mapping, Set, Tuple

from .._fields import fail, text

BASE_SYSCALLS: Tuple[str, ...] = tuple(
    """
    accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir chmod chown chown32
    clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64
    clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range creat
    dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2
    epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit exit_group
    faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat
    fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork
    fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64
    futex futex_requeue futex_time64 futex_wait futex_waitv futex_wake futimesat getcpu getcwd
    getdents getdents64
    getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer
    getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid getresgid32
    getresuid getresuid32 getrlimit get_robust_list getrusage getsid getsockname getsockopt
    get_thread_area gettid gettimeofday getuid getuid32 getxattr getxattrat
    inotify_add_watch inotify_init inotify_init1 inotify_rm_watch
    io_cancel ioctl io_destroy io_getevents io_pgetevents io_pgetevents_time64 ioprio_get
    ioprio_set io_setup io_submit ipc kill
    landlock_add_rule landlock_create_ruleset landlock_restrict_self
    lchown lchown32 lgetxattr link linkat listen listmount listxattr listxattrat llistxattr _llseek
    lremovexattr
    lseek lsetxattr lstat lstat64 madvise map_shadow_stack membarrier memfd_create memfd_secret mincore
    mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect
    mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend
    mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock munlockall
    mseal munmap name_to_handle_at nanosleep newfstatat _newselect open openat openat2 pause
    pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll
    ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6
    pselect6_time64 pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv
    recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr removexattrat
    rename renameat renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending
    rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait
    rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam
    sched_get_priority_max sched_get_priority_min sched_getscheduler sched_rr_get_interval
    sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam
    sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop
    semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto
    setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer
    setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid setresuid32
    setreuid setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area
    set_tid_address setuid setuid32 setxattr setxattrat shmat shmctl shmdt shmget shutdown sigaltstack
    signalfd signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs
    statfs64 statmount statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time
    timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime
    timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime
    timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat
    uretprobe utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev
    """.split()
)

#: Docker allows these on kernels >= 4.8 (always true for this library).
PTRACE_SYSCALLS: Tuple[str, ...] = ("process_vm_readv", "process_vm_writev", "ptrace")

#: personality(2) values that stay allowed: PER_LINUX, PER_LINUX32, UNAME26,
#: UNAME26|PER_LINUX32, and 0xffffffff (query the current persona).
PERSONALITIES: Tuple[int, ...] = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)

AF_VSOCK = 40

#: CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET.
CLONE_NAMESPACE_MASK = 0x7E020000

#: Syscalls allowed when the container holds the capability (Docker's includes.caps).
CAPABILITY_SYSCALLS: Mapping[str, Tuple[str, ...]] = {
    "CAP_DAC_READ_SEARCH": ("open_by_handle_at",),
    "CAP_SYS_ADMIN": tuple(
        """
        bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie
        lsm_get_self_attr lsm_list_modules lsm_set_self_attr mount mount_setattr move_mount
        open_tree perf_event_open quotactl quotactl_fd setdomainname sethostname setns syslog
        umount umount2 unshare
        """.split()
    ),
    "CAP_SYS_BOOT": ("reboot",),
    "CAP_SYS_CHROOT": ("chroot",),
    "CAP_SYS_MODULE": ("delete_module", "init_module", "finit_module"),
    "CAP_SYS_PACCT": ("acct",),
    "CAP_SYS_PTRACE": ("kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"),
    "CAP_SYS_RAWIO": ("iopl", "ioperm"),
    "CAP_SYS_TIME": ("settimeofday", "stime", "clock_settime", "clock_settime64"),
    "CAP_SYS_TTY_CONFIG": ("vhangup",),
    "CAP_SYS_NICE": ("get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"),
    "CAP_SYSLOG": ("syslog",),
    "CAP_BPF": ("bpf",),
    "CAP_PERFMON": ("perf_event_open",),
}

#: Syscalls allowed on some architectures only (Docker's includes.arches),
#: keyed by libseccomp architecture name.
ARCH_SYSCALLS: Tuple[Tuple[Tuple[str, ...], Tuple[str, ...]], ...] = (
    (("ppc64le",), ("sync_file_range2", "swapcontext")),
    (
        ("arm", "aarch64"),
        ("arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"),
    ),
    (("x86_64", "x32"), ("arch_prctl",)),
    (("x86_64", "x32", "x86"), ("modify_ldt",)),
    (("s390", "s390x"), ("s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr")),
    (("riscv64",), ("riscv_flush_icache", "riscv_hwprobe")),
)

#: The architectures a filter for a native architecture also covers (Docker's archMap).
ARCH_MAP: Mapping[str, Tuple[str, ...]] = {
    "x86_64": ("x86_64", "x86", "x32"),
    "aarch64": ("aarch64", "arm"),
    "mips64": ("mips64", "mips", "mips64n32"),
    "mips64n32": ("mips64n32", "mips", "mips64"),
    "mipsel64": ("mipsel64", "mipsel", "mipsel64n32"),
    "mipsel64n32": ("mipsel64n32", "mipsel", "mipsel64"),
    "s390x": ("s390x", "s390"),
    "riscv64": ("riscv64",),
}

#: platform.machine() -> libseccomp architecture name.
_MACHINES: Mapping[str, str] = {
    "x86_64": "x86_64",
    "amd64": "x86_64",
    "i386": "x86",
    "i486": "x86",
    "i586": "x86",
    "i686": "x86",
    "aarch64": "aarch64",
    "arm64": "aarch64",
    "armv6l": "arm",
    "armv7l": "arm",
    "armv8l": "arm",
    "ppc64le": "ppc64le",
    "ppc64": "ppc64",
    "s390x": "s390x",
    "riscv64": "riscv64",
    "loongarch64": "loongarch64",
    "mips64": "mips64",
}


def native_architecture() -> str:
    """This machine's architecture, by libseccomp name (from ``platform.machine()``)."""
    machine = platform.machine()
    return _MACHINES.get(machine, machine)


def capability_names(capabilities: Iterable[str]) -> Set[str]:
    """``capabilities`` (``"CAP_SYS_ADMIN"`` or ``"sys_admin"``) as
    ``CAPABILITY_SYSCALLS`` names them."""
    if isinstance(capabilities, (str, bytes)):
        raise fail("capabilities", f"expected a sequence of capability names, got {capabilities!r}")
    return {_capability(f"capabilities[{i}]", c) for i, c in enumerate(capabilities)}


def _capability(field: str, value: object) -> str:
    name = text(field, value).upper()
    return name if name.startswith("CAP_") else "CAP_" + name


def allowed_syscalls(capabilities: Set[str], native: str) -> List[str]:
    """The syscalls allowed unconditionally on ``native`` with ``capabilities``,
    each once, in first-seen order."""
    allowed: List[str] = list(BASE_SYSCALLS) + list(PTRACE_SYSCALLS)
    for arches, names in ARCH_SYSCALLS:
        if native in arches:
            allowed += names
    for cap, names in CAPABILITY_SYSCALLS.items():
        if cap in capabilities:
            allowed += names
    return list(dict.fromkeys(allowed))
