"""Planning the process: identity, capabilities, limits, seccomp, exec."""

from __future__ import annotations

import signal
import struct
from typing import List, Optional

from .._execpath import exec_candidates as exec_candidates
from ..capabilities import CAPABILITY_NAMES, mask
from ..config import PERSONALITIES, Config
from ..errors import ConfigError
from ..memory_policy import MAX_NODES
from ..scheduling import cpu_mask, parse_cpu_list
from ..seccomp import Seccomp
from ..seccomp import compile as compile_seccomp
from . import ops
from .steps import HostFS, Step

#: keyctl(2) permission bits: search by the key's user, by others.
KEY_USR_SEARCH = 0x00080000
KEY_OTH_SEARCH = 0x00000008


def early_writes(config: Config) -> List[Step]:
    """sysctls and oom_score_adj, written through the host's /proc from
    inside the new namespaces (those files follow the writer's namespaces)."""
    from ..sysctl import proc_path

    steps = [ops.write_file(f"set sysctl {key}", proc_path(key), value) for key, value in config.sysctl.items()]
    adj = config.process.oom_score_adj
    if adj is not None:
        steps.append(ops.write_file("set oom_score_adj", "/proc/self/oom_score_adj", str(adj)))
    return steps


def identity_steps(
    config: Config, container_id: str, deny_setgroups: bool, steps: List[Step], host: HostFS, *, joining: bool = False
) -> None:
    """Hostname, stdio, rlimits, then user and capabilities (bounding set
    dropped while CAP_SETPCAP is still held, permitted kept across setuid)."""
    ns = config.namespaces
    process = config.process
    hostname = config.hostname
    if hostname is None and ns.uts is True:
        hostname = container_id[:64]
    if hostname:  # "": none set
        steps.append(ops.sethostname("set the hostname", hostname))
    if config.domainname:
        steps.append(ops.setdomainname("set the domainname", config.domainname))
    if process.session_keyring is not None:
        # Before any seccomp filter (keyctl is not in the default profile).
        # The first process makes it searchable by its user's processes (by
        # others in a user namespace, whose ids are not the keyring's), as
        # runc; an exec'd one only joins it (it may not own it).
        search = KEY_OTH_SEARCH if config.namespaces.user not in (None, False) else KEY_USR_SEARCH
        what = "join the container's session keyring" if joining else "join a session keyring of its own"
        steps.append(ops.keyring(what, process.session_keyring, 0 if joining else search))
    if process.terminal:
        # The terminal belongs to the process's user, mode 620 (its group is
        # devpts's gid= option: tty, 5), as runc leaves it.
        steps.append(ops.tty("open a terminal", process.user.uid))
    elif process.new_session:
        steps.append(ops.setsid("start a session of its own"))
    steps.append(ops.setup_fds("set up stdio and close other fds"))
    for limit in process.rlimits:
        steps.append(ops.rlimit(f"set rlimit {limit.type}", limit.type, limit.resource, limit.soft, limit.hard))
    # While every capability is held: a real-time policy needs CAP_SYS_NICE,
    # the real-time I/O class CAP_SYS_ADMIN.
    if process.scheduler is not None:
        sched = process.scheduler
        steps.append(ops.sched_setattr(f"set the scheduling policy {sched.policy}", sched.sched_attr()))
    if process.io_priority is not None:
        io = process.io_priority
        steps.append(ops.ioprio(f"set the I/O priority {io.io_class} {io.priority}", io.value))
    numa = config.memory_policy
    if numa is not None:
        what = f"set the memory policy {numa.mode}" + (f" {numa.nodes}" if numa.nodes else "")
        steps.append(ops.set_mempolicy(what, numa.mode_value, MAX_NODES, numa.node_mask()))
    caps = process.capabilities
    last = host.last_capability()
    held = host.bounding_set()
    wanted = caps.bounding | caps.permitted | caps.inheritable
    lacking = sorted(name for name in wanted if not held & (1 << CAPABILITY_NAMES.index(name)))
    if lacking and config.namespaces.user is not True:
        raise ConfigError("process.capabilities", f"the caller cannot give what it does not have: {lacking}")
    valid = (1 << (last + 1)) - 1
    user = process.user
    if not process.no_new_privileges and config.seccomp is not None:
        # Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it
        # while it is still held (the filter must then allow what follows).
        steps.append(seccomp_step(config, host, early=True))
    # As runc: entered before the ids change, so a directory the runtime
    # can enter and the user could not still works (the child then checks
    # that it is inside the root).
    steps.append(ops.chdir("enter the working directory", process.cwd))
    if user.uid != 0:
        steps.append(ops.keepcaps("keep capabilities across setuid", True))
    steps.append(ops.drop_bounding("drop from the bounding set", mask(caps.bounding) & valid, last))
    if not deny_setgroups:
        steps.append(ops.setgroups("set supplementary groups", user.additional_gids))
    steps.append(ops.setgid("set the gid", user.gid))
    steps.append(ops.setuid("set the uid", user.uid))
    if user.uid != 0:
        steps.append(ops.keepcaps("stop keeping capabilities", False))
    effective, permitted, inheritable = (mask(c) & valid for c in (caps.effective, caps.permitted, caps.inheritable))
    steps.append(ops.capset("set the capabilities", effective, permitted, inheritable))
    if caps.ambient:
        steps.append(ops.ambient("raise ambient capabilities", mask(caps.ambient) & valid, last))


def final_steps(
    config: Config,
    steps: List[Step],
    wait_start: bool,
    start_socket: Optional[str],
    host: HostFS,
    dies_with_owner: bool = False,
    no_process: bool = False,
) -> None:
    """umask, no_new_privs, dying with the owner (after every change of
    credentials, which would clear it, and before any filter); seccomp comes
    last, right before exec, or, with notify rules, before the wait for
    start (as runc: the listener is handed over while the creator is there
    to take it).  ``no_process``: the process is a stand-in that is never
    started (OCI's create without ``process``): its program is not looked
    for."""
    process = config.process
    steps.append(ops.umask("set the umask", process.umask))
    if config.personality is not None:
        persona = PERSONALITIES[config.personality]
        steps.append(ops.personality(f"set the execution domain {config.personality}", persona))
    if process.no_new_privileges:
        steps.append(ops.no_new_privs("set no_new_privs"))
    if (wait_start or start_socket is not None) and not no_process:
        # A missing or unexecutable program fails create, not start (runc).
        steps.append(ops.find_exec("find the executable", process.args[0]))
    if dies_with_owner:
        steps.append(ops.pdeathsig("die with the owner", signal.SIGKILL))
    late = process.no_new_privileges and config.seccomp is not None
    if late and config.seccomp is not None and config.seccomp.uses_notify:
        steps.append(seccomp_step(config, host))
        late = False
    if wait_start:
        steps.append(ops.wait_start("wait for start"))
    elif start_socket is not None:
        steps.append(ops.wait_accept("wait to be started", start_socket))
    if late:
        steps.append(seccomp_step(config, host))
    if process.init:
        # PID 1 is a copy of the caller that never execs: it blanks the
        # caller's argv and environment, which /proc/1/cmdline and environ show.
        areas = b"".join(struct.pack("QQ", start, end) for start, end in host.creator_areas())
        steps.append(ops.init("start the init (PID 1 stays, the program is its child)", areas))
    steps.append(ops.execve("exec", process.args[0]))


#: What the child itself calls after loading a filter until the caller gets
#: the listener (hand it over, wait, report, exec): without an agent
#: (Seccomp.listener_path) nobody could answer a notify rule on these.
RUNTIME_SYSCALLS_AFTER_SECCOMP = frozenset(
    {"write", "recv", "recvfrom", "send", "sendto", "accept", "accept4", "close", "execve", "execveat"}
    | {"exit", "exit_group"}
)
#: ... and what the init (Process.init) calls before its program's exec.
INIT_SYSCALLS = frozenset({"rt_sigprocmask", "clone", "prctl"})


def affinity_step(cpus: str, which: str) -> Step:
    """sched_setaffinity to the CPU list ``cpus`` (ExecCPUAffinity's)."""
    mask = cpu_mask(parse_cpu_list(f"exec_cpu_affinity.{which}", cpus))
    return ops.sched_setaffinity(f"set the {which} CPU affinity {cpus}", cpus, mask)


def seccomp_step(config: Config, host: HostFS, *, early: bool = False) -> Step:
    """The filter, compiled in the parent (cached) for the child to load.

    A listener (notify rules) is handed to the parent by number, as runc
    does: the child writes it (so ``write`` may not notify, runc's rule) and
    the parent copies it with pidfd_getfd; a parent without CAP_SYS_PTRACE
    gets it with SCM_RIGHTS (then ``sendmsg`` may not notify either)."""
    seccomp = config.seccomp
    assert seccomp is not None
    compiled = compile_seccomp(seccomp)
    by_number = host.can_take_fds() if compiled.uses_notify else False
    if compiled.uses_notify:
        _check_notify(config, seccomp, early=early, by_number=by_number)
    return ops.seccomp("load the seccomp filter", compiled.program, compiled.instructions, compiled.flags, by_number)


def _check_notify(config: Config, seccomp: Seccomp, *, early: bool, by_number: bool) -> None:
    """Refuse notify rules that would hang the container before it starts."""
    agent = seccomp.listener_path is not None
    if early and not agent:
        raise ConfigError(
            "seccomp",
            "notify rules need no_new_privileges or a listener_path: without no_new_privileges the filter is "
            "loaded before the runtime's last steps, and only an agent could answer them",
        )
    blocked = {"write"} if by_number else {"sendmsg"}
    if not agent:
        blocked |= RUNTIME_SYSCALLS_AFTER_SECCOMP | (INIT_SYSCALLS if config.process.init else frozenset())
    for i, rule in enumerate(seccomp.rules):
        clash = blocked & set(rule.syscalls) if rule.action == "notify" else set()
        if clash:
            raise ConfigError(
                f"seccomp.rules[{i}]",
                f"notify on {sorted(clash)} would hang the container before it starts (the runtime calls "
                + ("them to hand the listener over)" if agent else "them before the caller gets the listener)"),
            )
