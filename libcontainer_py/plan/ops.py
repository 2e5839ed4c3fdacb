"""One typed constructor per step op: the only place a ``Step`` is built.

Each constructor takes what the op means and puts it in the slots of
``struct lc_step`` the C function reads (``n1``..``n3`` numbers, ``s1``..``s4``
strings, ``data`` for ``buf``/``buflen``, ``mflags``, ``flags``, ``slot``);
its docstring gives that field table, which is the one beside the op's row
of ``LC_OPS`` in ``_native/lc_native.h``.  ``what`` is the step's description
in error messages and ``plan.steps``; the step's ``path`` (also in error
messages) is the path it works on, where there is one.
"""

from __future__ import annotations

import os
from typing import Optional, Sequence, Tuple

from ..mounts import ATTR_RDONLY, MS_BIND, MS_RDONLY, MS_REC
from .steps import Flag, Op, Step

# Namespaces and the parent.


def setns(what: str, path: str, nstype: int) -> Step:
    """SETNS: n1 the fd of ``path`` (the parent opens it), n2 its nstype."""
    return Step(Op.SETNS, what, path, n2=nstype, open_path=path)


def unshare(what: str, clone_flags: int) -> Step:
    """UNSHARE: n1 the CLONE_NEW* flags."""
    return Step(Op.UNSHARE, what, n1=clone_flags)


def fork(what: str) -> Step:
    """FORK: no fields (the new process goes on, this one reports it and exits)."""
    return Step(Op.FORK, what)


def wait_parent(what: str, phase: str = "maps") -> Step:
    """WAIT_PARENT: no fields; ``phase`` is what the parent does meanwhile
    ("maps": the id maps and networks; "hooks": the create hooks)."""
    return Step(Op.WAIT_PARENT, what, phase=phase)


def loopback_up(what: str) -> Step:
    """LOOPBACK_UP: no fields."""
    return Step(Op.LOOPBACK_UP, what, "lo")


def join_cgroup(what: str, procs: str) -> Step:
    """JOIN_CGROUP: n1 the fd of the ``cgroup.procs`` file (the parent opens it)."""
    return Step(Op.JOIN_CGROUP, what, procs, open_path=procs, open_flags=os.O_WRONLY)


def preopen(what: str, path: str, slot: int) -> Step:
    """PREOPEN: s1 a host path, opened O_PATH into slot ``slot``."""
    return Step(Op.PREOPEN, what, path, s1=path, slot=slot)


def write_file(what: str, path: str, data: str) -> Step:
    """WRITE_FILE: s1 the path (opened as it is), s2 the data."""
    return Step(Op.WRITE_FILE, what, path, s1=path, s2=data)


# The root and what goes into it.


def root_propagation(what: str, flags: int, point: Optional[str] = None) -> Step:
    """ROOT_PROPAGATION: n1 the propagation flags, s1 the mount (None: "/")."""
    return Step(Op.ROOT_PROPAGATION, what, point or "/", n1=flags, s1=point)


def root_tmpfs(what: str, point: str, data: str, mflags: int) -> Step:
    """ROOT_TMPFS: s1 the mount point on the host, s2 the tmpfs data, mflags."""
    return Step(Op.ROOT_TMPFS, what, point, mflags=mflags, s1=point, s2=data)


def root_bind(what: str, root: str) -> Step:
    """ROOT_BIND: s1 the root directory on the host."""
    return Step(Op.ROOT_BIND, what, root, s1=root)


def root_overlay(what: str, point: str, data: str, throwaway: Optional[Tuple[str, str]] = None) -> Step:
    """ROOT_OVERLAY: s1 the mount point, s2 the overlay's data; ``throwaway``
    (Flag.THROWAWAY): s3 the data of the tmpfs holding upper and work, s4 where
    the overlay goes."""
    tmpfs, target = throwaway if throwaway is not None else (None, None)
    flags = Flag.THROWAWAY if throwaway is not None else 0
    return Step(Op.ROOT_OVERLAY, what, point, flags=flags, s1=point, s2=data, s3=tmpfs, s4=target)


def mount(
    what: str,
    target: str,
    *,
    source: Optional[str] = None,
    fstype: Optional[str] = None,
    data: Optional[str] = None,
    mflags: int = 0,
    propagation: int = 0,
    attrs_set: int = 0,
    remount: int = 0,
    flags: int = 0,
) -> Step:
    """MOUNT: s1 the target inside the root, s2 the source, s3 the type, s4
    the data, mflags, n1 the propagation, n2 mount_setattr's attr_set, n3 the
    remount flags where mount_setattr is missing; flags FILE, RECURSIVE,
    BIND, COPY_UP, MODE_SET."""
    return Step(
        Op.MOUNT,
        what,
        target,
        flags=flags,
        mflags=mflags,
        n1=propagation,
        n2=attrs_set,
        n3=remount,
        s1=target,
        s2=source,
        s3=fstype,
        s4=data,
    )


def bind(
    what: str,
    source: str,
    destination: str,
    *,
    is_file: bool,
    readonly: bool,
    recursive: bool = True,
    attrs_set: int = 0,
    remount: int = 0,
    propagation: int = 0,
) -> Step:
    """A MOUNT binding ``source`` (a host path) on ``destination`` in the
    root: recursive unless told not to; ``readonly`` sets the read-only
    attribute (mount_setattr) or remount flag (without it)."""
    if readonly:
        attrs_set |= ATTR_RDONLY
        remount |= MS_RDONLY
    return mount(
        what,
        destination,
        source=source,
        flags=Flag.BIND | (Flag.FILE if is_file else 0) | (Flag.RECURSIVE if recursive else 0),
        mflags=MS_BIND | (MS_REC if recursive else 0),
        propagation=propagation,
        attrs_set=attrs_set,
        remount=remount,
    )


def mount_attr(what: str, point: str, set_: int, clear: int, *, recursive: bool, remount: int = 0) -> Step:
    """MOUNT_ATTR: s1 the mount inside the root, n1 the attributes to set, n2
    those to clear (Flag.RECURSIVE: the whole tree), n3 the flags of a plain
    remount where mount_setattr is missing."""
    flags = Flag.RECURSIVE if recursive else 0
    return Step(Op.MOUNT_ATTR, what, point, flags=flags, n1=set_, n2=clear, n3=remount, s1=point)


def mknod(what: str, path: str, mode: int, dev: int, owner: Tuple[int, int] = (0, 0)) -> Step:
    """MKNOD: s1 the path, n1 the file type and mode, n2 the device number;
    with an owner other than root (Flag.CHOWN) n3 the uid, mflags the gid."""
    flags = Flag.CHOWN if owner != (0, 0) else 0
    return Step(Op.MKNOD, what, path, flags=flags, mflags=owner[1], n1=mode, n2=dev, n3=owner[0], s1=path)


def symlink(what: str, contents: str, path: str) -> Step:
    """SYMLINK: s1 the link's contents, s2 its path inside the root."""
    return Step(Op.SYMLINK, what, path, s1=contents, s2=path)


def mask_path(what: str, path: str) -> Step:
    """MASK_PATH: s1 the path inside the root."""
    return Step(Op.MASK_PATH, what, path, s1=path)


def readonly_path(what: str, path: str) -> Step:
    """READONLY_PATH: s1 the path inside the root."""
    return Step(Op.READONLY_PATH, what, path, s1=path)


def pivot_root(what: str, root: str, flags: int) -> Step:
    """PIVOT_ROOT: flags NO_PIVOT, PIVOT_ONLY."""
    return Step(Op.PIVOT_ROOT, what, root, flags=flags)


def chroot(what: str, root: str) -> Step:
    """CHROOT: s1 the root directory."""
    return Step(Op.CHROOT, what, root, s1=root)


def remount_root_ro(what: str) -> Step:
    """REMOUNT_ROOT_RO: no fields."""
    return Step(Op.REMOUNT_ROOT_RO, what, "/")


# The process: names, stdio, limits, scheduling.


def sethostname(what: str, name: str) -> Step:
    """SETHOSTNAME: s1 the name."""
    return Step(Op.SETHOSTNAME, what, name, s1=name)


def setdomainname(what: str, name: str) -> Step:
    """SETDOMAINNAME: s1 the name."""
    return Step(Op.SETDOMAINNAME, what, name, s1=name)


def keyring(what: str, name: str, perm: int) -> Step:
    """KEYRING: s1 the session keyring's name, n1 permission bits added to it."""
    return Step(Op.KEYRING, what, s1=name, n1=perm)


def setsid(what: str) -> Step:
    """SETSID: no fields."""
    return Step(Op.SETSID, what)


def tty(what: str, uid: int) -> Step:
    """TTY: n1 the uid the terminal is given to."""
    return Step(Op.TTY, what, "/dev/ptmx", n1=uid)


def setup_fds(what: str) -> Step:
    """SETUP_FDS: no fields (the spawn's stdio and fds to keep)."""
    return Step(Op.SETUP_FDS, what)


def rlimit(what: str, name: str, resource: int, soft: int, hard: int) -> Step:
    """RLIMIT: n1 the resource, n2 the soft limit, n3 the hard one."""
    return Step(Op.RLIMIT, what, name, n1=resource, n2=soft, n3=hard)


def sched_setattr(what: str, attr: bytes) -> Step:
    """SCHED_SETATTR: buf a struct sched_attr."""
    return Step(Op.SCHED_SETATTR, what, data=attr)


def ioprio(what: str, value: int) -> Step:
    """IOPRIO: n1 the ioprio value."""
    return Step(Op.IOPRIO, what, n1=value)


def sched_setaffinity(what: str, cpus: str, mask: bytes) -> Step:
    """SCHED_SETAFFINITY: buf a cpu_set_t (``cpus``, the list, is its path)."""
    return Step(Op.SCHED_SETAFFINITY, what, cpus, data=mask)


def set_mempolicy(what: str, mode: int, max_nodes: int, nodemask: bytes) -> Step:
    """SET_MEMPOLICY: n1 the mode and flags, buf a nodemask of n2 bits."""
    return Step(Op.SET_MEMPOLICY, what, n1=mode, n2=max_nodes, data=nodemask)


def umask(what: str, mask: int) -> Step:
    """UMASK: n1 the mask."""
    return Step(Op.UMASK, what, n1=mask)


def personality(what: str, domain: int) -> Step:
    """PERSONALITY: n1 the execution domain."""
    return Step(Op.PERSONALITY, what, n1=domain)


def mkdirs(what: str, path: str, mode: int) -> Step:
    """MKDIRS: s1 the directory, made with its missing parents; n1 the mode."""
    return Step(Op.MKDIRS, what, path, s1=path, n1=mode)


def chdir(what: str, path: str) -> Step:
    """CHDIR: s1 the directory."""
    return Step(Op.CHDIR, what, path, s1=path)


# Identity and privileges.


def setgroups(what: str, gids: Sequence[int]) -> Step:
    """SETGROUPS: buf the gids, n1 how many."""
    return Step(Op.SETGROUPS, what, str(list(gids)), n1=len(gids), gids=tuple(gids))


def setgid(what: str, gid: int) -> Step:
    """SETGID: n1 the gid."""
    return Step(Op.SETGID, what, str(gid), n1=gid)


def setuid(what: str, uid: int) -> Step:
    """SETUID: n1 the uid."""
    return Step(Op.SETUID, what, str(uid), n1=uid)


def keepcaps(what: str, keep: bool) -> Step:
    """KEEPCAPS: n1 1 to keep the permitted capabilities across setuid, 0 not."""
    return Step(Op.KEEPCAPS, what, n1=int(keep))


def drop_bounding(what: str, keep: int, last: int) -> Step:
    """DROP_BOUNDING: n1 the mask to keep, n2 this kernel's last capability."""
    return Step(Op.DROP_BOUNDING, what, n1=keep, n2=last)


def capset(what: str, effective: int, permitted: int, inheritable: int) -> Step:
    """CAPSET: n1 the effective, n2 the permitted, n3 the inheritable masks."""
    return Step(Op.CAPSET, what, n1=effective, n2=permitted, n3=inheritable)


def ambient(what: str, raise_: int, last: int) -> Step:
    """AMBIENT: n1 the mask to raise, n2 this kernel's last capability."""
    return Step(Op.AMBIENT, what, n1=raise_, n2=last)


def not_dumpable(what: str) -> Step:
    """NOT_DUMPABLE: no fields."""
    return Step(Op.NOT_DUMPABLE, what)


def no_new_privs(what: str) -> Step:
    """NO_NEW_PRIVS: no fields."""
    return Step(Op.NO_NEW_PRIVS, what)


def pdeathsig(what: str, sig: int) -> Step:
    """PDEATHSIG: n1 the signal sent when the thread that cloned the child exits."""
    return Step(Op.PDEATHSIG, what, n1=sig)


def seccomp(what: str, program: bytes, instructions: int, flags: int, by_number: bool) -> Step:
    """SECCOMP: buf the sock_filter program of n1 instructions, n2 seccomp(2)'s
    flags, n3 1 to hand a listener over by number (0: with SCM_RIGHTS)."""
    return Step(Op.SECCOMP, what, n1=instructions, n2=flags, n3=int(by_number), data=program)


# Starting.


def find_exec(what: str, program: str) -> Step:
    """FIND_EXEC: no fields (the plan's exec paths)."""
    return Step(Op.FIND_EXEC, what, program)


def wait_start(what: str) -> Step:
    """WAIT_START: no fields."""
    return Step(Op.WAIT_START, what)


def wait_accept(what: str, socket_path: str) -> Step:
    """WAIT_ACCEPT: n1 a listening socket the parent binds to ``socket_path``."""
    return Step(Op.WAIT_ACCEPT, what, socket_path, listen_path=socket_path)


def init(what: str, creator_areas: bytes) -> Step:
    """INIT: buf the caller's argv and environment areas (start, end pairs)
    that PID 1 blanks."""
    return Step(Op.INIT, what, data=creator_areas)


def execve(what: str, program: str) -> Step:
    """EXEC: no fields (the plan's argv, envp and exec paths)."""
    return Step(Op.EXEC, what, program)


def serve(what: str, region: int, box: Optional[str], scratch: Tuple[str, str], creator_areas: bytes) -> Step:
    """SERVE: n1 the address of the shared lc_serve_region, s1 the box
    directory (None: none), s2 and s3 the scratch directories, buf the
    creator's areas to blank (as INIT)."""
    return Step(Op.SERVE, what, n1=region, s1=box, s2=scratch[0], s3=scratch[1], data=creator_areas)
