"""Planning the root filesystem: the root, mounts, devices, pivot_root."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, List, Mapping, Optional, Tuple

import attrs

from ..config import Config
from ..devices import Device
from ..errors import ConfigError
from ..idmap import IDMap
from ..mounts import (
    ATTR_RDONLY,
    MS_BIND,
    MS_NODEV,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    Mount,
    propagation_flags,
)
from ..rootfs import HOST_PATHS, Rootfs
from . import ops
from .cgroupfs import cgroup_mount_steps
from .namespaces import default_mappings
from .steps import Flag, HostFS, Step, copy_up_flags

if TYPE_CHECKING:
    from ..cgroups.layout import Layout

#: The standard /dev symlinks (link path, contents).
DEV_SYMLINKS: Tuple[Tuple[str, str], ...] = (
    ("/dev/fd", "/proc/self/fd"),
    ("/dev/stdin", "/proc/self/fd/0"),
    ("/dev/stdout", "/proc/self/fd/1"),
    ("/dev/stderr", "/proc/self/fd/2"),
)


#: Where Rootfs.host() may mount its tmpfs before pivot_root (first usable wins).
SCRATCH_CANDIDATES: Tuple[str, ...] = ("/mnt", "/media", "/srv", "/opt", "/run", "/var/tmp", "/tmp", "/home")


def choose_scratch(config: Config, host: HostFS) -> str:
    """A host directory to mount the Rootfs.host() tmpfs on before pivot_root.

    It lives only in the container's mount namespace, but until pivot_root it
    hides what is below it, so it must not hold any bind source.
    """
    sources = [host.realpath(m.source) for m in config.mounts if m.is_bind and m.source]
    if config.rootfs is not None:
        layers = (*config.rootfs.lower, config.rootfs.upper, config.rootfs.work)
        sources += [host.realpath(p) for p in layers if p]
    if config.namespaces.user is True or host.in_user_namespace():
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


def mount_step(m: Mount, host: HostFS) -> Step:
    """The mount itself: a bind (its flags come in mount_attr_steps) or a new
    file system with its flags."""
    if m.is_bind:
        source = m.source or ""
        is_file = host.exists(source) and not host.is_dir(source)
        return ops.bind(
            f"bind mount {source}",
            source,
            m.destination,
            is_file=is_file,
            readonly=False,
            recursive=m.recursive,
            propagation=m.propagation_flags(),
        )
    return ops.mount(
        f"mount {m.type}" + (" (tmpcopyup)" if m.copy_up else ""),
        m.destination,
        source=m.effective_source,
        fstype=m.type,
        data=m.data or None,
        mflags=m.mount_flags(),
        propagation=m.propagation_flags(),
        flags=copy_up_flags(m.copy_up, m.data),
    )


def mount_attr_steps(m: Mount) -> List[Step]:
    """A bind mount's own flags (this mount only, as runc's remount), then
    the recursive options on the whole tree."""
    steps = []
    if m.is_bind and (m.bind_attributes() or m.bind_attributes_cleared()):
        remount = m.mount_flags() & ~(MS_BIND | MS_REC)
        what = "set the bind mount's flags"
        set_, clear = m.bind_attributes(), m.bind_attributes_cleared()
        steps.append(ops.mount_attr(what, m.destination, set_, clear, recursive=False, remount=remount))
    if m.recursive_options:
        set_, clear = m.recursive_attributes()
        what = f"set recursive mount options {','.join(m.recursive_options)}"
        steps.append(ops.mount_attr(what, m.destination, set_, clear, recursive=True))
    return steps


def adapt_for_user_namespace(m: Mount, config: Config, gid_maps: Tuple[IDMap, ...]) -> Mount:
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


def root_steps(config: Config, host: HostFS, owner: Optional[Tuple[int, int]]) -> List[Step]:
    """Propagation of the new mount namespace, then the root mount itself."""
    rootfs = config.rootfs
    assert rootfs is not None
    # An unbindable namespace could not bind the root: it starts rslave, and
    # the root gets its propagation after pivot_root (root_propagation_after).
    first = "rslave" if rootfs.propagation.endswith("unbindable") else rootfs.propagation
    steps = [ops.root_propagation(f"make every mount {first}", propagation_flags(first))]
    scratch = choose_scratch(config, host) if rootfs.path is None else None
    if rootfs.propagation.endswith("shared"):
        # pivot_root (and MS_MOVE) refuse a shared current root or a shared
        # parent of the new one: those two mounts alone become private, before
        # the root is mounted (so that it is no peer of a host mount either).
        where = rootfs.path if rootfs.path is not None else scratch
        assert where is not None
        parent = host.mount_point(os.path.dirname(host.realpath(where)))
        for point in dict.fromkeys(("/", parent)):
            what = "make a mount private for pivot_root"
            steps.append(ops.root_propagation(what, MS_PRIVATE, point))
    if rootfs.is_overlay:
        assert scratch is not None
        # in a user namespace of an unprivileged caller, the layers' opaque
        # marks are user.overlay.* xattrs (images/unpack.py): userxattr
        steps.append(overlay_step(rootfs, scratch, owner, userxattr=owner is not None and host.euid() != 0))
    elif rootfs.is_host:
        assert scratch is not None
        data = "mode=755" + (f",uid={owner[0]},gid={owner[1]}" if owner else "")
        steps.append(ops.root_tmpfs("mount the root tmpfs", scratch, data, MS_NOSUID | MS_NODEV))
    else:
        assert rootfs.path is not None
        root = host.realpath(rootfs.path)
        steps.append(ops.root_bind("bind the root directory", root))
    return steps


def root_propagation_after(rootfs: Rootfs) -> List[Step]:
    """After pivot_root: the container's root gets the propagation asked for
    (OCI's rootfsPropagation is the rootfs mount's own)."""
    if not rootfs.propagation.endswith(("shared", "unbindable")):
        return []  # slave or private: the whole namespace already is
    what = f"make the root {rootfs.propagation}"
    return [ops.root_propagation(what, propagation_flags(rootfs.propagation), "/")]


def overlay_step(rootfs: Rootfs, scratch: str, owner: Optional[Tuple[int, int]], *, userxattr: bool = False) -> Step:
    """The overlay root; its lowerdir lists the top layer first.  Without an
    upper directory, upper and work go on a throwaway tmpfs."""
    lower = ":".join(reversed(rootfs.lower))
    extra = ",userxattr" if userxattr else ""
    if rootfs.upper is not None:
        data = f"lowerdir={lower},upperdir={rootfs.upper},workdir={rootfs.work}{extra}"
        return ops.root_overlay("mount the overlay root", scratch, data)
    data = f"lowerdir={lower},upperdir={scratch}/upper,workdir={scratch}/work{extra}"
    tmpfs = "mode=755" + (f",uid={owner[0]},gid={owner[1]}" if owner else "")
    return ops.root_overlay("mount the overlay root on a throwaway upper", scratch, data, (tmpfs, f"{scratch}/root"))


def mount_steps(
    config: Config,
    host: HostFS,
    create_hooks: bool = False,
    cgroup_layout: Optional[Layout] = None,
    cgroup_dirs: Optional[Mapping[str, str]] = None,
) -> List[Step]:
    """Everything mounted into the root, devices, then pivot_root.

    ``cgroup_layout`` (default: the host's) and ``cgroup_dirs`` (mount point
    -> the container's cgroup directory) are for ``Mount.cgroup``."""
    rootfs = config.rootfs
    assert rootfs is not None
    steps: List[Step] = []
    if rootfs.is_host:
        for path in HOST_PATHS:
            kind = host.lstat_kind(path)
            if kind == "symlink":
                steps.append(ops.symlink("link the host's layout", host.readlink(path), path))
            elif kind == "dir":
                steps.append(ops.bind(f"bind the host's {path}", path, path, is_file=False, readonly=True))
        steps.append(mount_step(Mount.tmpfs("/tmp", mode=0o1777), host))
    # read by adapt_for_user_namespace only (rootless.py's, imported then)
    gid_maps = (config.gid_mappings or default_mappings(host)[1]) if config.namespaces.user is True else ()
    late: List[Step] = []
    for m in config.mounts:
        if m.destination == "/dev" and m.readonly:
            # Devices, symlinks and the mounts below /dev (devpts...) go in
            # first: /dev becomes read-only after them, as in runc.
            m = attrs.evolve(m, readonly=False)
            what = "make /dev read-only"
            late.append(ops.mount_attr(what, "/dev", ATTR_RDONLY, 0, recursive=False, remount=MS_RDONLY))
        if m.is_cgroup:
            if cgroup_layout is None:
                cgroup_layout = host.cgroup_layout()
            steps.extend(cgroup_mount_steps(m, config, cgroup_layout, cgroup_dirs or {}))
            if m.recursive_options:
                steps.extend(mount_attr_steps(m))
            continue
        m = adapt_for_user_namespace(m, config, gid_maps)
        steps.append(mount_step(m, host))
        steps.extend(mount_attr_steps(m))
    if config.mounts.find("/dev") is not None:
        dev_steps(config, steps, host)
    if create_hooks:
        # As runc: after the mounts and devices, before a read-only /dev,
        # the protected paths (which a hook then cannot undo) and pivot_root.
        steps.append(ops.wait_parent("wait for the create hooks", phase="hooks"))
    steps.extend(late)
    for path in config.readonly_paths:
        steps.append(ops.readonly_path("make a path read-only", path))
    for path in config.masked_paths:
        steps.append(ops.mask_path("mask a path", path))
    # chroot can be escaped by a process with CAP_SYS_CHROOT, which root of a
    # user namespace always has there: no fallback to it in a user namespace.
    pivot_flags = Flag.NO_PIVOT if rootfs.no_pivot else 0
    if config.namespaces.user is True or host.in_user_namespace():
        pivot_flags |= Flag.PIVOT_ONLY
    what = "chroot into the root" if rootfs.no_pivot else "pivot_root into the root"
    steps.append(ops.pivot_root(what, rootfs.path or "/", pivot_flags))
    steps.extend(root_propagation_after(rootfs))
    steps.extend(cwd_steps(config))
    if rootfs.readonly:
        steps.append(ops.remount_root_ro("make the root read-only"))
    return steps


def chroot_steps(config: Config, host: HostFS, create_hooks: bool = False) -> List[Step]:
    """No mount namespace of its own: the root directory is chroot'ed into
    (as runc does), and nothing is mounted (validate refuses mounts there)."""
    assert config.rootfs is not None and config.rootfs.path is not None
    root = host.realpath(config.rootfs.path)
    steps = [ops.wait_parent("wait for the create hooks", phase="hooks")] if create_hooks else []
    steps.append(ops.chroot("chroot into the root (no mount namespace)", root))
    steps.extend(cwd_steps(config))
    return steps


def cwd_steps(config: Config) -> List[Step]:
    """Process.make_cwd: the working directory made in the root (as runc
    does, as root and before the root is made read-only), mode 0755."""
    cwd = config.process.cwd
    if not config.process.make_cwd or cwd == "/":
        return []
    return [ops.mkdirs("make the working directory", cwd, 0o755)]


def dev_steps(config: Config, steps: List[Step], host: HostFS) -> None:
    # a new user namespace, or this process's own (rootless podman runs its
    # runtime as root of one): no mknod, as runc
    in_userns = config.namespaces.user is True or host.in_user_namespace()
    for d in config.devices:
        if in_userns and d.type != "p":
            # mknod is not allowed in a user namespace: bind the host's node.
            steps.append(
                ops.bind(f"bind device {d.path}", d.path, d.path, is_file=True, readonly=False, recursive=False)
            )
        else:
            steps.append(device_step(d))
    for link, target in DEV_SYMLINKS:
        steps.append(ops.symlink("make /dev symlink", target, link))
    if config.mounts.find("/dev/pts") is not None:
        steps.append(ops.symlink("make /dev symlink", "pts/ptmx", "/dev/ptmx"))


def device_step(d: Device) -> Step:
    """mknod of a device node or FIFO, then its owner where it is not root."""
    what = "make FIFO" if d.type == "p" else "make device node"
    return ops.mknod(what, d.path, d.file_type | d.mode, os.makedev(d.major, d.minor), (d.uid, d.gid))
