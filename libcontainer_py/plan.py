"""Config -> Plan: the ordered child-side steps, as plain data.

A pure function of the config and of what the host looks like (the HostFS
seam), so it is unit-tested without root.  The native layer turns the plan
into a C array that the child walks between clone and execve.
"""

from __future__ import annotations

import enum
import os
import stat
from typing import Dict, List, Optional, Sequence, Tuple, Type

import attrs

from . import errors
from .capabilities import CAPABILITY_NAMES, caller_bounding_set, mask
from .config import Config
from .errors import ConfigError
from .idmap import IDMap
from .mounts import MS_BIND, MS_NODEV, MS_NOSUID, MS_RDONLY, MS_REC, Mount, propagation_flags
from .namespaces import CLONE_FLAGS
from .process import DEFAULT_PATH
from .rootfs import HOST_PATHS, Rootfs
from .seccomp import Seccomp
from .seccomp import compile as compile_seccomp


class Op(enum.IntEnum):
    """Step operations; the values are the C executor's LC_OP_* constants."""

    SETNS = 1
    UNSHARE = 2
    FORK = 3
    WAIT_PARENT = 4
    LOOPBACK_UP = 5
    ROOT_PROPAGATION = 6
    ROOT_TMPFS = 7
    ROOT_BIND = 8
    MOUNT = 9
    MKNOD = 10
    SYMLINK = 11
    PIVOT_ROOT = 13
    REMOUNT_ROOT_RO = 14
    SETHOSTNAME = 15
    SETDOMAINNAME = 16
    SETUP_FDS = 17
    SETGROUPS = 18
    SETGID = 19
    SETUID = 20
    CHDIR = 21
    UMASK = 22
    WAIT_START = 23
    EXEC = 24
    PREOPEN = 25
    JOIN_CGROUP = 26
    KEEPCAPS = 27
    DROP_BOUNDING = 28
    CAPSET = 29
    AMBIENT = 30
    NO_NEW_PRIVS = 31
    RLIMIT = 32
    WRITE_FILE = 33
    MASK_PATH = 34
    READONLY_PATH = 35
    SECCOMP = 36
    NOT_DUMPABLE = 37
    WAIT_ACCEPT = 38
    INIT = 39
    TTY = 40
    ROOT_OVERLAY = 41


# Step flags (LC_F_*).
F_FILE = 0x1
F_RECURSIVE = 0x2
F_NO_PIVOT = 0x4
F_BIND = 0x8
F_PIVOT_ONLY = 0x10
F_THROWAWAY = 0x40

#: What a failing stage of a step was doing (the C executor's STAGE_*).
STAGES = {
    1: "resolving the path in the root",
    2: "",
    3: "setting mount attributes",
    4: "setting propagation",
    5: "reopening the mount",
    6: "a symlink on the path leads to nothing inside the root; it is not followed out of it",
}

_ERROR_CLASS: Dict[Op, Type[errors.StepError]] = {
    Op.SETNS: errors.NamespaceError,
    Op.UNSHARE: errors.NamespaceError,
    Op.FORK: errors.NamespaceError,
    Op.WAIT_PARENT: errors.NamespaceError,
    Op.LOOPBACK_UP: errors.NamespaceError,
    Op.JOIN_CGROUP: errors.CgroupJoinError,
    Op.KEEPCAPS: errors.SecurityError,
    Op.NOT_DUMPABLE: errors.SecurityError,
    Op.DROP_BOUNDING: errors.SecurityError,
    Op.CAPSET: errors.SecurityError,
    Op.AMBIENT: errors.SecurityError,
    Op.NO_NEW_PRIVS: errors.SecurityError,
    Op.RLIMIT: errors.SecurityError,
    Op.SECCOMP: errors.SecurityError,
    Op.WRITE_FILE: errors.SecurityError,
    Op.SETHOSTNAME: errors.IdentityError,
    Op.SETDOMAINNAME: errors.IdentityError,
    Op.SETGROUPS: errors.IdentityError,
    Op.SETGID: errors.IdentityError,
    Op.SETUID: errors.IdentityError,
    Op.CHDIR: errors.CwdError,
    Op.EXEC: errors.ExecError,
    Op.SETUP_FDS: errors.StepError,
    Op.UMASK: errors.StepError,
    Op.WAIT_START: errors.StepError,
    Op.WAIT_ACCEPT: errors.StepError,
    Op.INIT: errors.StepError,
    Op.TTY: errors.StepError,
}

# INIT: PID 1 stays in the child's memory for good, it never execs.
_NEEDS_OWN_MEMORY = frozenset({Op.WAIT_PARENT, Op.WAIT_START, Op.WAIT_ACCEPT, Op.SETNS, Op.FORK, Op.INIT})
_UNSHARE_NEEDS_OWN_MEMORY = CLONE_FLAGS["user"] | CLONE_FLAGS["time"] | CLONE_FLAGS["pid"]

#: The standard /dev symlinks (link path, contents).
DEV_SYMLINKS: Tuple[Tuple[str, str], ...] = (
    ("/dev/fd", "/proc/self/fd"),
    ("/dev/stdin", "/proc/self/fd/0"),
    ("/dev/stdout", "/proc/self/fd/1"),
    ("/dev/stderr", "/proc/self/fd/2"),
)

#: Where Rootfs.host() may mount its tmpfs before pivot_root (first usable wins).
SCRATCH_CANDIDATES: Tuple[str, ...] = ("/mnt", "/media", "/srv", "/opt", "/run", "/var/tmp", "/tmp", "/home")


@attrs.frozen
class Step:
    """One child-side step; numbers and strings as the C struct lc_step has them."""

    op: Op
    what: str
    path: Optional[str] = None
    flags: int = 0
    mflags: int = 0
    n1: int = 0
    n2: int = 0
    n3: int = 0
    s1: Optional[str] = None
    s2: Optional[str] = None
    s3: Optional[str] = None
    s4: Optional[str] = None
    gids: Tuple[int, ...] = ()
    #: Raw bytes for the C buffer (SECCOMP: the sock_filter array).
    data: bytes = b""
    #: A file the parent opens before clone (flags ``open_flags``); its fd
    #: goes in n1 (SETNS: the namespace; JOIN_CGROUP: a cgroup.procs file).
    open_path: Optional[str] = None
    open_flags: int = os.O_RDONLY
    #: PREOPEN: the slot its fd goes in; MOUNT: the slot its source fd is in.
    slot: int = -1
    #: WAIT_ACCEPT: the path the parent binds a listening socket to (fd in n1).
    listen_path: Optional[str] = None
    #: WAIT_PARENT: what the parent does then ("maps": the id maps; "hooks":
    #: the create hooks, before pivot_root).
    phase: str = "maps"

    @property
    def error_class(self) -> Type[errors.StepError]:
        cls: Type[errors.StepError] = _ERROR_CLASS.get(self.op, errors.MountError)
        return cls


@attrs.frozen
class Plan:
    """Everything lc_spawn needs, and what the parent does during the sync."""

    container_id: str
    clone_flags: int
    steps: Tuple[Step, ...]
    argv: Tuple[str, ...]
    envp: Tuple[str, ...]
    exec_paths: Tuple[str, ...]
    uid_map: str = ""
    gid_map: str = ""
    deny_setgroups: bool = False
    #: How many PREOPEN slots the steps use.
    slots: int = 0

    @property
    def shares_memory(self) -> bool:
        """Whether the child may share the parent's memory until it execs
        (vfork-style): only when it never waits for the parent, and never
        setns/unshares (setns of a time namespace refuses a shared mm)."""
        return not any(
            s.op in _NEEDS_OWN_MEMORY or (s.op is Op.UNSHARE and s.n1 & _UNSHARE_NEEDS_OWN_MEMORY) for s in self.steps
        )

    @property
    def waits_for_start(self) -> bool:
        """The child waits for start() on the sync socket (this process only)."""
        return any(s.op is Op.WAIT_START for s in self.steps)

    @property
    def start_socket(self) -> Optional[str]:
        """The socket any process can start the child through, if any."""
        return next((s.listen_path for s in self.steps if s.op is Op.WAIT_ACCEPT), None)


class HostFS:
    """What planning needs to know about the host filesystem (a seam for tests)."""

    def lstat_kind(self, path: str) -> Optional[str]:
        """'dir', 'symlink', 'file' or None when missing."""
        try:
            st = os.lstat(path)
        except OSError:
            return None
        if stat.S_ISLNK(st.st_mode):
            return "symlink"
        return "dir" if stat.S_ISDIR(st.st_mode) else "file"

    def is_dir(self, path: str) -> bool:
        return os.path.isdir(path)

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def readlink(self, path: str) -> str:
        return os.readlink(path)

    def realpath(self, path: str) -> str:
        return os.path.realpath(path)

    def euid(self) -> int:
        return os.geteuid()

    def egid(self) -> int:
        return os.getegid()

    def last_capability(self) -> int:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())

    def bounding_set(self) -> int:
        """The capabilities this process can give (its bounding set)."""
        return caller_bounding_set()


def build_plan(
    config: Config,
    container_id: str,
    *,
    host: Optional[HostFS] = None,
    wait_start: bool = False,
    cgroup_procs: Sequence[str] = (),
    cgroup_at_clone: bool = False,
    start_socket: Optional[str] = None,
    create_hooks: bool = False,
) -> Plan:
    """Turn a validated config into the child's steps.

    ``cgroup_procs``: the cgroup.procs files the child moves itself into,
    first thing, before any other step; ``cgroup_at_clone``: clone3 places
    it (CLONE_INTO_CGROUP).  Either way a new cgroup namespace is unshared
    after the placement, so that its root is the container's cgroup.
    ``wait_start``: the child waits before execve for spawn.start() from this
    process; ``start_socket``: for a connection to that path from any process.
    ``create_hooks``: the child also waits for the parent right before
    pivot_root, while the parent runs the create hooks.
    """
    host = host or HostFS()
    steps: List[Step] = [
        Step(Op.JOIN_CGROUP, "join the cgroup", path, open_path=path, open_flags=os.O_WRONLY) for path in cgroup_procs
    ]
    clone_flags = _namespace_steps(config, steps)
    if (cgroup_procs or cgroup_at_clone) and clone_flags & CLONE_FLAGS["cgroup"]:
        clone_flags &= ~CLONE_FLAGS["cgroup"]
        steps.append(Step(Op.UNSHARE, "create the cgroup namespace", n1=CLONE_FLAGS["cgroup"]))
    uid_map, gid_map, deny = _id_maps(config, host)
    if uid_map or _parent_has_work(config):
        steps.append(Step(Op.WAIT_PARENT, "wait for the parent's set-up"))
    # Until execve the child is a copy of the caller: nothing in the
    # container may ptrace it or read its memory, fds or exe.  (After the
    # parent's part: an unprivileged parent writes the id maps of a dumpable
    # child only.)
    steps.append(Step(Op.NOT_DUMPABLE, "make the process non-dumpable"))
    if config.namespaces.net is True:
        steps.append(Step(Op.LOOPBACK_UP, "bring the loopback interface up", "lo"))
    steps.extend(_early_writes(config))
    mounts: List[Step] = []
    if config.rootfs is not None:
        steps.extend(_root_steps(config, host, namespace_ids(config, host) if uid_map else None))
        mounts = _mount_steps(config, host, create_hooks)
    slots = 0
    if uid_map:
        # Host paths are looked up with the caller's credentials, before the
        # child takes ids of the new namespace (which may not traverse them).
        mounts, preopens = _preopen_bind_sources(mounts)
        slots = len(preopens)
        steps.extend(preopens)
        steps.extend(_become_namespace_root(config, host))
    steps.extend(mounts)
    if create_hooks and config.rootfs is None:
        # No pivot_root to wait before: the hooks run once the namespaces exist.
        steps.append(Step(Op.WAIT_PARENT, "wait for the create hooks", phase="hooks"))
    _identity_steps(config, container_id, deny, steps, host)
    _final_steps(config, steps, wait_start, start_socket)
    argv = config.process.args
    env = dict(config.process.env)
    return Plan(
        container_id=container_id,
        clone_flags=clone_flags,
        steps=tuple(steps),
        argv=argv,
        envp=tuple(f"{k}={v}" for k, v in env.items()),
        exec_paths=(config.process.executable,)
        if config.process.executable
        else exec_candidates(argv[0], env.get("PATH", DEFAULT_PATH)),
        uid_map=uid_map,
        gid_map=gid_map,
        deny_setgroups=deny,
        slots=slots,
    )


def exec_candidates(program: str, path: str) -> Tuple[str, ...]:
    """The paths execve tries, in order, like execvpe."""
    if "/" in program:
        return (program,)
    return tuple(os.path.join(d or ".", program) for d in path.split(":"))


def _parent_has_work(config: Config) -> bool:
    # Later: cgroup placement and hooks also make the child wait.
    return False


def _namespace_steps(config: Config, steps: List[Step]) -> int:
    """Steps that join/create namespaces; returns the flags of the first clone.

    With nothing to join, a single clone creates every namespace.  Joining
    needs setns in the child first, then unshare of the new kinds, then a
    fork (as a sibling, CLONE_PARENT) to enter a pid or time namespace.
    """
    ns = config.namespaces
    joined = ns.joined()
    new_flags = ns.clone_flags()
    if not joined:
        return new_flags
    for kind in ("user", "ipc", "uts", "net", "pid", "cgroup", "time", "mount"):
        if kind in joined:
            steps.append(
                Step(Op.SETNS, f"join the {kind} namespace", joined[kind], n2=CLONE_FLAGS[kind], open_path=joined[kind])
            )
    if new_flags:
        steps.append(Step(Op.UNSHARE, "create namespaces", n1=new_flags))
    if "pid" in joined or ns.pid is True or ns.time is True:
        steps.append(Step(Op.FORK, "fork into the pid namespace"))
    return 0


def default_mappings(host: HostFS) -> Tuple[Tuple[IDMap, ...], Tuple[IDMap, ...]]:
    """Without explicit maps, container root is the caller's own uid and gid."""
    return (IDMap(0, host.euid(), 1),), (IDMap(0, host.egid(), 1),)


def _id_maps(config: Config, host: HostFS) -> Tuple[str, str, bool]:
    if config.namespaces.user is not True:
        return "", "", False
    uids, gids = config.uid_mappings, config.gid_mappings
    default_uids, default_gids = default_mappings(host)
    uids = uids or default_uids
    gids = gids or default_gids
    # Without privilege in the parent namespace, gid_map can only be written
    # after setgroups is denied.
    deny = host.euid() != 0
    if deny and config.process.user.additional_gids:
        raise ConfigError(
            "process.user.additional_gids",
            "a rootless container cannot set supplementary groups (setgroups is denied in its user namespace)",
        )
    return "".join(m.line() for m in uids), "".join(m.line() for m in gids), deny


def namespace_ids(config: Config, host: HostFS) -> Tuple[int, int]:
    """The uid and gid the child takes in a new user namespace while it sets
    up: root where root is mapped, else the process's own ids."""
    uids = config.uid_mappings or default_mappings(host)[0]
    gids = config.gid_mappings or default_mappings(host)[1]
    uid = 0 if any(m.contains(0) for m in uids) else config.process.user.uid
    gid = 0 if any(m.contains(0) for m in gids) else config.process.user.gid
    return uid, gid


def _become_namespace_root(config: Config, host: HostFS) -> List[Step]:
    """The child keeps the host's credentials after the maps are written; it
    takes ids of the new namespace so that the files it makes while setting
    up have owners the namespace can represent."""
    uid, gid = namespace_ids(config, host)
    return [
        Step(Op.SETGID, "take a gid of the user namespace", str(gid), n1=gid),
        Step(Op.SETUID, "take a uid of the user namespace", str(uid), n1=uid),
    ]


def _preopen_bind_sources(mounts: List[Step]) -> Tuple[List[Step], List[Step]]:
    """Give every bind a PREOPEN of its source; returns (mounts, preopens)."""
    out: List[Step] = []
    preopens: List[Step] = []
    for step in mounts:
        if step.op is Op.MOUNT and step.flags & F_BIND and step.s2:
            slot = len(preopens)
            preopens.append(Step(Op.PREOPEN, "open a bind source", step.s2, s1=step.s2, slot=slot))
            step = attrs.evolve(step, slot=slot)
        out.append(step)
    return out, preopens


def choose_scratch(config: Config, host: HostFS) -> str:
    """A host directory to mount the Rootfs.host() tmpfs on before pivot_root.

    It lives only in the container's mount namespace, but until pivot_root it
    hides what is below it, so it must not hold any bind source.
    """
    sources = [host.realpath(m.source) for m in config.mounts if m.is_bind and m.source]
    if config.rootfs is not None:
        layers = (*config.rootfs.lower, config.rootfs.upper, config.rootfs.work)
        sources += [host.realpath(p) for p in layers if p]
    if config.namespaces.user is True:
        sources += [d.path for d in config.devices]

    def overlaps(a: str, b: str) -> bool:
        a, b = a.rstrip("/") + "/", b.rstrip("/") + "/"
        return a.startswith(b) or b.startswith(a)

    for cand in SCRATCH_CANDIDATES:
        if host.lstat_kind(cand) != "dir":
            continue
        if not any(overlaps(cand, s) for s in sources):
            return cand
    raise ConfigError(
        "rootfs",
        f"Rootfs.host() needs an existing directory on the host that holds no bind source, "
        f"one of {', '.join(SCRATCH_CANDIDATES)}",
    )


def _bind_step(
    what: str,
    source: str,
    destination: str,
    *,
    is_file: bool,
    readonly: bool,
    recursive: bool = True,
    attrs_set: int = 0,
    remount: int = 0,
    prop: int = 0,
) -> Step:
    if readonly:
        attrs_set |= 0x1
        remount |= MS_RDONLY
    flags = F_BIND | (F_FILE if is_file else 0) | (F_RECURSIVE if recursive else 0)
    return Step(
        Op.MOUNT,
        what,
        destination,
        flags=flags,
        mflags=MS_BIND | (MS_REC if recursive else 0),
        n1=prop,
        n2=attrs_set,
        n3=remount,
        s1=destination,
        s2=source,
    )


def _mount_step(m: Mount, host: HostFS) -> Step:
    if m.is_bind:
        source = m.source or ""
        is_file = host.exists(source) and not host.is_dir(source)
        remount = m.mount_flags() & ~(MS_BIND | MS_REC)
        return _bind_step(
            f"bind mount {source}",
            source,
            m.destination,
            is_file=is_file,
            readonly=False,
            recursive=m.recursive,
            attrs_set=m.bind_attributes(),
            remount=remount,
            prop=m.propagation_flags(),
        )
    return Step(
        Op.MOUNT,
        f"mount {m.type}",
        m.destination,
        mflags=m.mount_flags(),
        n1=m.propagation_flags(),
        s1=m.destination,
        s2=m.effective_source,
        s3=m.type,
        s4=m.data or None,
    )


def _adapt_for_user_namespace(m: Mount, config: Config, gid_maps: Tuple[IDMap, ...]) -> Mount:
    """What a user namespace cannot mount as asked, made to work as runc does.

    sysfs needs a net namespace owned by the user namespace: otherwise bind
    the host's /sys (read-only as asked).  devpts rejects a gid= option for
    a gid that is not mapped: drop it.
    """
    if config.namespaces.user is not True:
        return m
    if m.type == "sysfs" and config.namespaces.net is not True:
        return Mount.bind("/sys", m.destination, readonly=m.readonly, nosuid=True, nodev=True, noexec=True)
    if m.type == "devpts" and m.data:

        def mapped(opt: str) -> bool:
            if not opt.startswith("gid="):
                return True
            gid = opt[4:]
            return gid.isdigit() and any(g.contains(int(gid)) for g in gid_maps)

        return attrs.evolve(m, data=",".join(o for o in m.data.split(",") if mapped(o)))
    return m


def _root_steps(config: Config, host: HostFS, owner: Optional[Tuple[int, int]]) -> List[Step]:
    """Propagation of the new mount namespace, then the root mount itself."""
    rootfs = config.rootfs
    assert rootfs is not None
    steps = [
        Step(
            Op.ROOT_PROPAGATION, f"make every mount {rootfs.propagation}", "/", n1=propagation_flags(rootfs.propagation)
        )
    ]
    if rootfs.is_overlay:
        steps.append(_overlay_step(rootfs, choose_scratch(config, host), owner))
    elif rootfs.is_host:
        scratch = choose_scratch(config, host)
        data = "mode=755" + (f",uid={owner[0]},gid={owner[1]}" if owner else "")
        steps.append(
            Step(Op.ROOT_TMPFS, "mount the root tmpfs", scratch, mflags=MS_NOSUID | MS_NODEV, s1=scratch, s2=data)
        )
    else:
        assert rootfs.path is not None
        root = host.realpath(rootfs.path)
        steps.append(Step(Op.ROOT_BIND, "bind the root directory", root, s1=root))
    return steps


def _overlay_step(rootfs: Rootfs, scratch: str, owner: Optional[Tuple[int, int]]) -> Step:
    """The overlay root; its lowerdir lists the top layer first."""
    lower = ":".join(reversed(rootfs.lower))
    if rootfs.upper is not None:
        data = f"lowerdir={lower},upperdir={rootfs.upper},workdir={rootfs.work}"
        return Step(Op.ROOT_OVERLAY, "mount the overlay root", scratch, s1=scratch, s2=data)
    data = f"lowerdir={lower},upperdir={scratch}/upper,workdir={scratch}/work"
    tmpfs = "mode=755" + (f",uid={owner[0]},gid={owner[1]}" if owner else "")
    return Step(
        Op.ROOT_OVERLAY,
        "mount the overlay root on a throwaway upper",
        scratch,
        flags=F_THROWAWAY,
        s1=scratch,
        s2=data,
        s3=tmpfs,
        s4=f"{scratch}/root",
    )


def _mount_steps(config: Config, host: HostFS, create_hooks: bool = False) -> List[Step]:
    """Everything mounted into the root, devices, then pivot_root."""
    rootfs = config.rootfs
    assert rootfs is not None
    steps: List[Step] = []
    if rootfs.is_host:
        for path in HOST_PATHS:
            kind = host.lstat_kind(path)
            if kind == "symlink":
                steps.append(Step(Op.SYMLINK, "link the host's layout", path, s1=host.readlink(path), s2=path))
            elif kind == "dir":
                steps.append(_bind_step(f"bind the host's {path}", path, path, is_file=False, readonly=True))
        steps.append(_mount_step(Mount.tmpfs("/tmp", mode=0o1777), host))
    gid_maps = config.gid_mappings or default_mappings(host)[1]
    for m in config.mounts:
        steps.append(_mount_step(_adapt_for_user_namespace(m, config, gid_maps), host))
    if config.mounts.find("/dev") is not None:
        _dev_steps(config, steps)
    for path in config.readonly_paths:
        steps.append(Step(Op.READONLY_PATH, "make a path read-only", path, s1=path))
    for path in config.masked_paths:
        steps.append(Step(Op.MASK_PATH, "mask a path", path, s1=path))
    if create_hooks:
        steps.append(Step(Op.WAIT_PARENT, "wait for the create hooks", phase="hooks"))
    # chroot can be escaped by a process with CAP_SYS_CHROOT, which root of a
    # user namespace always has there: no fallback to it in a user namespace.
    pivot_flags = F_NO_PIVOT if rootfs.no_pivot else 0
    if config.namespaces.user is True:
        pivot_flags |= F_PIVOT_ONLY
    what = "chroot into the root" if rootfs.no_pivot else "pivot_root into the root"
    steps.append(Step(Op.PIVOT_ROOT, what, rootfs.path or "/", flags=pivot_flags))
    if rootfs.readonly:
        steps.append(Step(Op.REMOUNT_ROOT_RO, "make the root read-only", "/"))
    return steps


def _dev_steps(config: Config, steps: List[Step]) -> None:
    in_userns = config.namespaces.user is True
    for d in config.devices:
        if in_userns:
            # mknod is not allowed in a user namespace: bind the host's node.
            steps.append(
                _bind_step(f"bind device {d.path}", d.path, d.path, is_file=True, readonly=False, recursive=False)
            )
        else:
            kind = stat.S_IFCHR if d.type == "c" else stat.S_IFBLK
            steps.append(
                Step(Op.MKNOD, "make device node", d.path, n1=kind | d.mode, n2=os.makedev(d.major, d.minor), s1=d.path)
            )
    for link, target in DEV_SYMLINKS:
        steps.append(Step(Op.SYMLINK, "make /dev symlink", link, s1=target, s2=link))
    if config.mounts.find("/dev/pts") is not None:
        steps.append(Step(Op.SYMLINK, "make /dev symlink", "/dev/ptmx", s1="pts/ptmx", s2="/dev/ptmx"))


def _early_writes(config: Config) -> List[Step]:
    """sysctls and oom_score_adj, written through the host's /proc from
    inside the new namespaces (those files follow the writer's namespaces)."""
    from .sysctl import proc_path

    steps = [
        Step(Op.WRITE_FILE, f"set sysctl {key}", proc_path(key), s1=proc_path(key), s2=value)
        for key, value in config.sysctl.items()
    ]
    adj = config.process.oom_score_adj
    if adj is not None:
        steps.append(
            Step(
                Op.WRITE_FILE,
                "set oom_score_adj",
                "/proc/self/oom_score_adj",
                s1="/proc/self/oom_score_adj",
                s2=str(adj),
            )
        )
    return steps


def _identity_steps(config: Config, container_id: str, deny_setgroups: bool, steps: List[Step], host: HostFS) -> None:
    """Hostname, stdio, rlimits, then user and capabilities (bounding set
    dropped while CAP_SETPCAP is still held, permitted kept across setuid)."""
    ns = config.namespaces
    process = config.process
    hostname = config.hostname
    if hostname is None and ns.uts is True:
        hostname = container_id[:64]
    if hostname is not None:
        steps.append(Step(Op.SETHOSTNAME, "set the hostname", hostname, s1=hostname))
    if config.domainname is not None:
        steps.append(Step(Op.SETDOMAINNAME, "set the domainname", config.domainname, s1=config.domainname))
    if process.terminal:
        steps.append(Step(Op.TTY, "open a terminal", "/dev/ptmx"))
    steps.append(Step(Op.SETUP_FDS, "set up stdio and close other fds"))
    for limit in process.rlimits:
        steps.append(
            Step(Op.RLIMIT, f"set rlimit {limit.type}", limit.type, n1=limit.resource, n2=limit.soft, n3=limit.hard)
        )
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
        steps.append(_seccomp_step(config.seccomp, last=False))
    if user.uid != 0:
        steps.append(Step(Op.KEEPCAPS, "keep capabilities across setuid", n1=1))
    steps.append(Step(Op.DROP_BOUNDING, "drop from the bounding set", n1=mask(caps.bounding) & valid, n2=last))
    if not deny_setgroups:
        steps.append(
            Step(
                Op.SETGROUPS,
                "set supplementary groups",
                str(list(user.additional_gids)),
                n1=len(user.additional_gids),
                gids=user.additional_gids,
            )
        )
    steps.append(Step(Op.SETGID, "set the gid", str(user.gid), n1=user.gid))
    steps.append(Step(Op.SETUID, "set the uid", str(user.uid), n1=user.uid))
    # Before the capabilities are set: the directory is entered with the
    # user's own rights (setuid cleared the effective set).
    steps.append(Step(Op.CHDIR, "enter the working directory", process.cwd, s1=process.cwd))
    if user.uid != 0:
        steps.append(Step(Op.KEEPCAPS, "stop keeping capabilities", n1=0))
    steps.append(
        Step(
            Op.CAPSET,
            "set the capabilities",
            n1=mask(caps.effective) & valid,
            n2=mask(caps.permitted) & valid,
            n3=mask(caps.inheritable) & valid,
        )
    )
    if caps.ambient:
        steps.append(Step(Op.AMBIENT, "raise ambient capabilities", n1=mask(caps.ambient) & valid, n2=last))


def _final_steps(config: Config, steps: List[Step], wait_start: bool, start_socket: Optional[str]) -> None:
    """umask, no_new_privs; seccomp comes last, right before exec."""
    process = config.process
    steps.append(Step(Op.UMASK, "set the umask", n1=process.umask))
    if process.no_new_privileges:
        steps.append(Step(Op.NO_NEW_PRIVS, "set no_new_privs"))
    if wait_start:
        steps.append(Step(Op.WAIT_START, "wait for start"))
    elif start_socket is not None:
        steps.append(Step(Op.WAIT_ACCEPT, "wait to be started", start_socket, listen_path=start_socket))
    if process.no_new_privileges and config.seccomp is not None:
        steps.append(_seccomp_step(config.seccomp))
    if process.init:
        steps.append(Step(Op.INIT, "start the init (PID 1 stays, the program is its child)"))
    steps.append(Step(Op.EXEC, "exec", process.args[0]))


#: What the child itself calls after loading a filter (hand over the
#: listener, exec, report a failed exec): a notify rule on these would hang it.
RUNTIME_SYSCALLS_AFTER_SECCOMP = frozenset({"sendmsg", "sendto", "close", "execve", "execveat", "exit", "exit_group"})


def _seccomp_step(seccomp: Seccomp, *, last: bool = True) -> Step:
    """The filter, compiled in the parent (cached) for the child to load."""
    compiled = compile_seccomp(seccomp)
    if compiled.uses_notify:
        if not last:
            raise ConfigError(
                "seccomp",
                "notify rules need no_new_privileges: without it the filter is loaded before the runtime's "
                "last steps, which a notify rule could hang",
            )
        for i, rule in enumerate(seccomp.rules):
            clash = RUNTIME_SYSCALLS_AFTER_SECCOMP & set(rule.syscalls) if rule.action == "notify" else set()
            if clash:
                raise ConfigError(
                    f"seccomp.rules[{i}]",
                    f"notify on {sorted(clash)} would hang the container before it starts (the runtime calls them)",
                )
    return Step(
        Op.SECCOMP, "load the seccomp filter", n1=compiled.instructions, n2=compiled.flags, data=compiled.program
    )
