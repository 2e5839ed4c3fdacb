"""Mount and Mounts: what is mounted into the container, in order."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Iterator, Optional, Tuple, Union, overload

import attrs

from ._fields import (
    FieldCheck,
    absolute_path_field,
    boolean_field,
    fail,
    field_options,
    instance_tuple,
    named_fields,
    optional_choice_field,
    optional_text_field,
    str_tuple,
    text_field,
)

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_BIND = 0x1000
MS_REC = 0x4000
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20

#: Mount.type of a container's own cgroups (Mount.cgroup).
CGROUP = "cgroup"

#: mount_setattr(2) attributes (MOUNT_ATTR_*).
ATTR_RDONLY = 0x1
ATTR_NOSUID = 0x2
ATTR_NODEV = 0x4
ATTR_NOEXEC = 0x8
ATTR__ATIME = 0x70
ATTR_RELATIME = 0x0
ATTR_NOATIME = 0x10
ATTR_STRICTATIME = 0x20
ATTR_NODIRATIME = 0x80
ATTR_NOSYMFOLLOW = 0x200000

#: Further mount options by name, as (mount(2) flag, mount_setattr attribute).
OPTION_FLAGS = {
    "sync": (0x10, 0),
    "dirsync": (0x80, 0),
    "noatime": (0x400, ATTR_NOATIME),
    "nodiratime": (0x800, ATTR_NODIRATIME),
    "relatime": (1 << 21, ATTR_RELATIME),
    "strictatime": (1 << 24, ATTR_STRICTATIME),
    "lazytime": (1 << 25, 0),
    "nosymfollow": (0x100, ATTR_NOSYMFOLLOW),
    "silent": (0x8000, 0),
    "iversion": (1 << 23, 0),
}
#: The atime modes: a mount has exactly one (the kernel's default: relatime).
ATIME_MODES = ("noatime", "relatime", "strictatime")

#: The recursive flags (runc's and OCI's ``rro``... family) as (the option
#: that sets the attribute, the one that clears it, the attribute).
_RECURSIVE_FLAGS = (
    ("rro", "rrw", ATTR_RDONLY),
    ("rnosuid", "rsuid", ATTR_NOSUID),
    ("rnodev", "rdev", ATTR_NODEV),
    ("rnoexec", "rexec", ATTR_NOEXEC),
    ("rnodiratime", "rdiratime", ATTR_NODIRATIME),
    ("rnosymfollow", "rsymfollow", ATTR_NOSYMFOLLOW),
)
#: The recursive atime options and the mode each sets.  The kernel changes
#: the atime mode only as a whole: ``ratime``, ``rnorelatime`` and
#: ``rnostrictatime`` clear the mode they name by setting the default one.
_RECURSIVE_ATIME = {
    "rnoatime": ATTR_NOATIME,
    "rrelatime": ATTR_RELATIME,
    "rstrictatime": ATTR_STRICTATIME,
    "ratime": ATTR_RELATIME,
    "rnorelatime": ATTR_RELATIME,
    "rnostrictatime": ATTR_RELATIME,
}
#: Recursive mount attributes, applied to the mount and every mount below it
#: with mount_setattr(AT_RECURSIVE), as (attributes set, attributes cleared).
RECURSIVE_OPTIONS = {
    **{name: change for on, off, attr in _RECURSIVE_FLAGS for name, change in ((on, (attr, 0)), (off, (0, attr)))},
    **{name: (mode, ATTR__ATIME) for name, mode in _RECURSIVE_ATIME.items()},
}
#: Recursive options that contradict each other: at most one of each group.
RECURSIVE_GROUPS = (*((on, off) for on, off, _ in _RECURSIVE_FLAGS), tuple(_RECURSIVE_ATIME))


def recursive_group(name: str) -> Tuple[str, ...]:
    """The group of contradicting recursive options ``name`` is in."""
    return next(g for g in RECURSIVE_GROUPS if name in g)


PROPAGATION_FLAGS = {
    "private": MS_PRIVATE,
    "slave": MS_SLAVE,
    "shared": MS_SHARED,
    "unbindable": MS_UNBINDABLE,
}
PROPAGATIONS = tuple(PROPAGATION_FLAGS) + tuple("r" + p for p in PROPAGATION_FLAGS)


def propagation_flags(name: str) -> int:
    """'rslave' -> MS_SLAVE|MS_REC."""
    if name.startswith("r") and name[1:] in PROPAGATION_FLAGS:
        return PROPAGATION_FLAGS[name[1:]] | MS_REC
    return PROPAGATION_FLAGS[name]


def _options(field: str, value: Any) -> Tuple[str, ...]:
    opts = str_tuple(field, value)
    for opt in opts:
        if opt not in OPTION_FLAGS:
            raise fail(field, f"unknown mount option {opt!r} (known: {', '.join(OPTION_FLAGS)})")
    modes = [o for o in opts if o in ATIME_MODES]
    if len(modes) > 1:
        raise fail(field, f"one atime mode at most ({' or '.join(ATIME_MODES)}), got {', '.join(modes)}")
    return opts


def _recursive_options(field: str, value: Any) -> Tuple[str, ...]:
    opts = str_tuple(field, value)
    for opt in opts:
        if opt not in RECURSIVE_OPTIONS:
            raise fail(field, f"unknown recursive option {opt!r} (known: {', '.join(RECURSIVE_OPTIONS)})")
        clash = [o for o in opts if o in recursive_group(opt)]
        if len(clash) > 1:
            raise fail(field, f"{' and '.join(clash)} contradict each other")
    return opts


if TYPE_CHECKING:  # see _fields: what mypy's attrs plugin reads

    def _options_field(value: Any) -> Tuple[str, ...]: ...
    def _recursive_options_field(value: Any) -> Tuple[str, ...]: ...

else:
    _options_field = FieldCheck(_options)
    _recursive_options_field = FieldCheck(_recursive_options)


@attrs.frozen(field_transformer=named_fields("mount"))
class Mount:
    """One mount: a filesystem of ``type`` (or ``"bind"``) at ``destination``.

    ``destination`` is inside the container and is resolved inside its root:
    a symlink in the root filesystem can never lead it outside.  Use the named
    constructors (``Mount.bind``, ``Mount.tmpfs``, ``Mount.proc``...) for the
    common cases.
    """

    destination: str = attrs.field(converter=absolute_path_field)
    type: str = attrs.field(default="bind", converter=text_field)
    source: Optional[str] = attrs.field(default=None, converter=optional_text_field)
    readonly: bool = attrs.field(default=False, converter=boolean_field)
    nosuid: bool = attrs.field(default=False, converter=boolean_field)
    nodev: bool = attrs.field(default=False, converter=boolean_field)
    noexec: bool = attrs.field(default=False, converter=boolean_field)
    #: Bind: include submounts (rbind) and apply the flags to them too.
    recursive: bool = attrs.field(default=True, converter=boolean_field)
    #: Propagation of this mount: private/slave/shared/unbindable, "r" prefix for recursive.
    propagation: Optional[str] = attrs.field(
        default=None, converter=optional_choice_field, metadata=field_options(choices=PROPAGATIONS)
    )
    #: Further flags by name: sync, dirsync, noatime, nodiratime, relatime,
    #: strictatime, lazytime, nosymfollow (one atime mode at most).  Like
    #: readonly/nosuid/nodev/noexec they apply to this mount only, not to
    #: the submounts a recursive bind brings along.
    options: Tuple[str, ...] = attrs.field(default=(), converter=_options_field)
    #: Attributes for this mount and every mount below it (RECURSIVE_OPTIONS:
    #: rro, rnosuid, rnoatime, ...), applied after the plain flags.
    recursive_options: Tuple[str, ...] = attrs.field(default=(), converter=_recursive_options_field)
    #: Filesystem-specific data, e.g. "mode=755,size=64m" for tmpfs.
    data: str = attrs.field(default="", converter=text_field, metadata=field_options(allow_empty=True))
    #: tmpfs only (runc's ``tmpcopyup``): the new tmpfs starts with a copy of
    #: what the destination directory held in the root before it was mounted
    #: (files, directories, symlinks as links, device nodes and fifos, with
    #: their modes, owners and times); a missing destination gives an empty one.
    copy_up: bool = attrs.field(default=False, converter=boolean_field)

    def __attrs_post_init__(self) -> None:
        if self.copy_up and self.type != "tmpfs":
            raise fail(
                "mount.copy_up",
                f"copies into a new tmpfs only; the mount at {self.destination} is of type {self.type!r}",
            )
        if self.is_bind and self.source is None:
            raise fail("mount.source", f"a bind mount at {self.destination} needs a source")
        if self.is_bind and not (self.source or "").startswith("/"):
            raise fail("mount.source", f"a bind source must be an absolute path, got {self.source!r}")
        if self.is_cgroup and self.data:
            raise fail("mount.data", f"a cgroup mount (at {self.destination}) takes no file system data")
        if self.is_cgroup and not self.recursive:
            raise fail("mount.recursive", f"a cgroup mount (at {self.destination}) is always recursive")

    @property
    def is_bind(self) -> bool:
        """Whether this is a bind mount."""
        return self.type == "bind"

    @property
    def is_cgroup(self) -> bool:
        """This container's own cgroups, laid out as the host lays them out
        (type ``"cgroup"``, runc's meaning of it; see ``Mount.cgroup``)."""
        return self.type == CGROUP

    @property
    def effective_source(self) -> str:
        """The source given to mount(2): ``source``, or the type when there is none."""
        return self.source if self.source is not None else self.type

    def mount_flags(self) -> int:
        """The mount(2) flags (propagation excluded)."""
        flags = 0
        for on, bit in (
            (self.readonly, MS_RDONLY),
            (self.nosuid, MS_NOSUID),
            (self.nodev, MS_NODEV),
            (self.noexec, MS_NOEXEC),
        ):
            if on:
                flags |= bit
        for opt in self.options:
            flags |= OPTION_FLAGS[opt][0]
        if self.is_bind:
            flags |= MS_BIND | (MS_REC if self.recursive else 0)
        return flags

    def bind_attributes(self) -> int:
        """mount_setattr attributes a bind mount needs after it is made."""
        attr = 0
        for on, bit in ((self.readonly, 1), (self.nosuid, 2), (self.nodev, 4), (self.noexec, 8)):
            if on:
                attr |= bit
        for opt in self.options:
            attr |= OPTION_FLAGS[opt][1]
        return attr

    def bind_attributes_cleared(self) -> int:
        """mount_setattr attributes to clear with bind_attributes(): the
        whole atime field when an atime mode is set (the kernel wants it)."""
        return ATTR__ATIME if any(o in ATIME_MODES for o in self.options) else 0

    def recursive_attributes(self) -> Tuple[int, int]:
        """(set, clear) mount_setattr attributes of recursive_options."""
        set_, clear = 0, 0
        for opt in self.recursive_options:
            on, off = RECURSIVE_OPTIONS[opt]
            set_, clear = set_ | on, clear | off
        return set_, clear

    def propagation_flags(self) -> int:
        """The MS_* propagation flags of ``propagation`` (0 when unset)."""
        return propagation_flags(self.propagation) if self.propagation else 0

    # -- named constructors ------------------------------------------------

    @classmethod
    def bind(
        cls,
        source: str,
        destination: str,
        *,
        readonly: bool = False,
        recursive: bool = True,
        nosuid: bool = False,
        nodev: bool = False,
        noexec: bool = False,
        propagation: Optional[str] = None,
    ) -> Mount:
        """Bind ``source`` (a host path) at ``destination``; with
        ``recursive`` its submounts come along and the flags apply to them
        too (recursive_options ``rro``, ``rnosuid``, ``rnodev``, ``rnoexec``)."""
        flags = ((readonly, "rro"), (nosuid, "rnosuid"), (nodev, "rnodev"), (noexec, "rnoexec"))
        return cls(
            destination,
            "bind",
            source,
            readonly=readonly,
            recursive=recursive,
            nosuid=nosuid,
            nodev=nodev,
            noexec=noexec,
            propagation=propagation,
            recursive_options=tuple(name for on, name in flags if on and recursive),
        )

    @classmethod
    def tmpfs(
        cls,
        destination: str,
        *,
        size: Optional[str] = None,
        mode: Optional[int] = None,
        readonly: bool = False,
        nosuid: bool = True,
        nodev: bool = True,
        noexec: bool = False,
        options: Iterable[str] = (),
        copy_up: bool = False,
    ) -> Mount:
        """A fresh tmpfs; ``size`` like "64m", ``mode`` like 0o1777; with
        ``copy_up`` it starts with a copy of what was at ``destination``."""
        data = []
        if mode is not None:
            data.append(f"mode={mode:o}")
        if size is not None:
            data.append(f"size={size}")
        return cls(
            destination,
            "tmpfs",
            "tmpfs",
            readonly=readonly,
            nosuid=nosuid,
            nodev=nodev,
            noexec=noexec,
            options=tuple(options),
            data=",".join(data),
            copy_up=copy_up,
        )

    @classmethod
    def _kernel_fs(
        cls, destination: str, type: str, source: str = "", *, nodev: bool = True, noexec: bool = True, **more: Any
    ) -> Mount:
        """A file system the kernel makes (``source`` defaults to ``type``):
        nosuid, and nodev and noexec unless said otherwise."""
        return cls(destination, type, source or type, nosuid=True, nodev=nodev, noexec=noexec, **more)

    @classmethod
    def proc(cls, destination: str = "/proc") -> Mount:
        """A procfs (of the container's pid namespace), nosuid, nodev, noexec."""
        return cls._kernel_fs(destination, "proc")

    @classmethod
    def sysfs(cls, destination: str = "/sys", *, readonly: bool = True) -> Mount:
        """A sysfs, read-only by default, nosuid, nodev, noexec."""
        return cls._kernel_fs(destination, "sysfs", readonly=readonly)

    @classmethod
    def dev(cls, destination: str = "/dev") -> Mount:
        """A tmpfs for /dev; the config's devices and the standard symlinks go in it."""
        return cls._kernel_fs(
            destination, "tmpfs", nodev=False, noexec=False, options=("strictatime",), data="mode=755,size=65536k"
        )

    @classmethod
    def devpts(cls, destination: str = "/dev/pts") -> Mount:
        """A devpts for the container's terminals (runc's options: a new instance, ``ptmxmode=0666``)."""
        return cls._kernel_fs(destination, "devpts", nodev=False, data="newinstance,ptmxmode=0666,mode=0620,gid=5")

    @classmethod
    def shm(cls, destination: str = "/dev/shm") -> Mount:
        """A tmpfs for POSIX shared memory (64 MiB, as Docker)."""
        return cls._kernel_fs(destination, "tmpfs", "shm", data="mode=1777,size=65536k")

    @classmethod
    def cgroup(
        cls,
        destination: str = "/sys/fs/cgroup",
        *,
        readonly: bool = True,
        nosuid: bool = True,
        nodev: bool = True,
        noexec: bool = True,
        propagation: Optional[str] = None,
        options: Iterable[str] = ("relatime",),
    ) -> Mount:
        """The container's own cgroups at ``destination``, as the host lays
        them out (OCI's and runc's mount type ``"cgroup"``).

        On a host with cgroup v2 only: a cgroup2 mount (a bind of the
        container's cgroup2 directory in a user namespace without a cgroup
        namespace, where the kernel refuses that mount).  On a v1 or hybrid
        host: a tmpfs holding one directory per v1 hierarchy, named as the
        host's mount ("memory", "cpu,cpuacct" with symlinks "cpu" and
        "cpuacct", "systemd"), each the hierarchy mounted in the container's
        cgroup namespace (its root is then the container's cgroup) or, without
        one, a bind of the container's own cgroup directory.  The flags apply
        to each hierarchy; ``readonly`` makes the tmpfs read-only too.  A type
        ``"cgroup2"`` mount is the unified file system itself, nothing more.
        """
        return cls(
            destination,
            CGROUP,
            "cgroup",
            readonly=readonly,
            nosuid=nosuid,
            nodev=nodev,
            noexec=noexec,
            propagation=propagation,
            options=tuple(options),
        )

    @classmethod
    def mqueue(cls, destination: str = "/dev/mqueue") -> Mount:
        """A POSIX message queue file system (for a new ipc namespace)."""
        return cls._kernel_fs(destination, "mqueue")


def _mount_tuple(value: Any) -> Tuple[Mount, ...]:
    if isinstance(value, Mounts):
        return value.items
    return instance_tuple("mounts", value, Mount)


@attrs.frozen
class Mounts:
    """An ordered, immutable list of mounts; ``+`` appends."""

    items: Tuple[Mount, ...] = attrs.field(default=(), converter=_mount_tuple)

    @classmethod
    def default(cls) -> Mounts:
        """/proc, /dev (tmpfs), /dev/pts, /dev/shm, /dev/mqueue, a read-only
        /sys and the container's own cgroups, read-only, at /sys/fs/cgroup."""
        return cls(
            (
                Mount.proc(),
                Mount.dev(),
                Mount.devpts(),
                Mount.shm(),
                Mount.mqueue(),
                Mount.sysfs(),
                Mount.cgroup(),
            )
        )

    def __iter__(self) -> Iterator[Mount]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @overload
    def __getitem__(self, index: int) -> Mount: ...

    @overload
    def __getitem__(self, index: slice) -> Mounts: ...

    def __getitem__(self, index: Union[int, slice]) -> Union[Mount, Mounts]:
        if isinstance(index, slice):
            return Mounts(self.items[index])
        return self.items[index]

    def __add__(self, other: Iterable[Mount]) -> Mounts:
        return Mounts(self.items + _mount_tuple(other))

    def __radd__(self, other: Iterable[Mount]) -> Mounts:
        return Mounts(_mount_tuple(other) + self.items)

    def find(self, destination: str) -> Optional[Mount]:
        """The last mount at ``destination``, if any."""
        for m in reversed(self.items):
            if m.destination == destination:
                return m
        return None
