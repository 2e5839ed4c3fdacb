"""Config: everything that describes one container."""

from __future__ import annotations

import os
from types import MappingProxyType, SimpleNamespace
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Tuple, Union

import attrs

from ._fields import (
    FieldCheck,
    absolute_path,
    fail,
    field_options,
    freeze_mapping_field,
    instance_of,
    instance_tuple_field,
    named_fields,
    optional_choice_field,
    optional_instance_field,
    str_tuple,
    text,
)
from ._repr import short_repr
from .cgroups.resources import CgroupConfig, Devices
from .devices import DEFAULT_DEVICES, Device
from .hooks import Hooks
from .idmap import IDMap, idmap_tuple
from .memory_policy import MemoryPolicy
from .mounts import Mounts
from .namespaces import Namespaces
from .network import Network, network_tuple
from .paths import DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS
from .process import Process
from .rootfs import Rootfs
from .seccomp import Seccomp


def _rootfs(field: str, value: Any) -> Optional[Rootfs]:
    if value is None or isinstance(value, Rootfs):
        return value
    if isinstance(value, (str, os.PathLike)):
        return Rootfs.directory(os.fspath(value))
    raise fail(field, f"expected a Rootfs, a directory path or None, got {value!r}")


def _hostname(field: str, value: Any) -> Optional[str]:
    if value is None:
        return None
    name = text(field, value, allow_empty=True)
    if name == "":
        return name  # set nothing: the uts namespace keeps the copy it starts with
    if len(name.encode()) > 64:
        raise fail(field, f"must be at most 64 bytes, got {len(name.encode())}")
    bad = sorted({c for c in name if c.isspace() or c == "/" or not c.isprintable()})
    if bad:
        raise fail(field, f"must be a name without spaces, '/' or control characters, got {name!r}")
    return name


def _mounts(value: Any) -> Mounts:
    return value if isinstance(value, Mounts) else Mounts(value)


#: Execution domains (personality(2)) a container may ask for, as OCI names them.
PERSONALITIES: Mapping[str, int] = {"LINUX": 0x0000, "LINUX32": 0x0008}


#: The clocks a new time namespace can offset (time_namespaces(7)).
TIME_CLOCKS = ("monotonic", "boottime")


def _time_offsets(field: str, value: Any) -> Mapping[str, Tuple[int, ...]]:
    """{clock: (seconds, nanoseconds)}; seconds may be negative."""
    if not isinstance(value, Mapping):
        raise fail(field, f"expected a mapping of clock to (seconds, nanoseconds), got {value!r}")
    out: Dict[str, Tuple[int, ...]] = {}
    for clock, offset in value.items():
        if clock not in TIME_CLOCKS:
            raise fail(f"{field}[{clock!r}]", f"the clock must be one of {', '.join(TIME_CLOCKS)}")
        if (
            not isinstance(offset, (tuple, list))
            or len(offset) != 2
            or not all(type(x) is int for x in offset)
            or not 0 <= offset[1] < 1_000_000_000
        ):
            raise fail(f"{field}[{clock!r}]", f"expected (seconds, nanoseconds 0..999999999), got {offset!r}")
        out[clock] = (offset[0], offset[1])
    return MappingProxyType(out)


def _mounts_root(config: Config) -> bool:
    """A root that gets mounts: a rootfs in a mount namespace (new or
    joined); without one the root is only chroot'ed into."""
    return config.rootfs is not None and config.namespaces.mount is not False


def _default_mounts(config: Config) -> Mounts:
    return Mounts.default() if _mounts_root(config) else Mounts()


def _default_devices(config: Config) -> Tuple[Device, ...]:
    return DEFAULT_DEVICES if config.mounts.find("/dev") is not None else ()


def _default_masked(config: Config) -> Tuple[str, ...]:
    return DEFAULT_MASKED_PATHS if _mounts_root(config) else ()


def _default_readonly(config: Config) -> Tuple[str, ...]:
    return DEFAULT_READONLY_PATHS if _mounts_root(config) else ()


def _paths(field: str, value: Any) -> Tuple[str, ...]:
    if value is DEFAULT_MASKED_PATHS or value is DEFAULT_READONLY_PATHS:
        return value  # the defaults (tuples of normalised absolute paths): nothing to check
    return tuple(absolute_path(f"{field}[{i}]", p) for i, p in enumerate(str_tuple(field, value)))


#: The cgroup of a default container: device rules only, no accounting.
DEFAULT_CGROUP = CgroupConfig(devices=Devices.default(), accounting=False)


def _default_cgroup(config: Config) -> Optional[CgroupConfig]:
    return DEFAULT_CGROUP if os.geteuid() == 0 and config.namespaces.user is not True else None


def _default_seccomp(config: Config) -> Optional[Seccomp]:
    return Seccomp.default(config.process.capabilities.bounding)


if TYPE_CHECKING:  # see _fields: what mypy's attrs plugin reads

    def _rootfs_field(value: Any) -> Optional[Rootfs]: ...
    def _hostname_field(value: Any) -> Optional[str]: ...
    def _idmaps_field(value: Any) -> Tuple[IDMap, ...]: ...
    def _paths_field(value: Any) -> Tuple[str, ...]: ...
    def _time_offsets_field(value: Any) -> Mapping[str, Tuple[int, ...]]: ...
    def _networks_field(value: Any) -> Tuple[Network, ...]: ...

else:
    _rootfs_field = FieldCheck(_rootfs, keeps_none=True)
    _hostname_field = FieldCheck(_hostname, keeps_none=True)
    _idmaps_field = FieldCheck(idmap_tuple)
    _paths_field = FieldCheck(_paths)
    _time_offsets_field = FieldCheck(_time_offsets)
    _networks_field = FieldCheck(network_tuple)


@attrs.frozen(field_transformer=named_fields())
class Config:
    """A container: root filesystem, namespaces, mounts, devices, process.

    ``Config()`` alone is a working, isolated container on the host's own
    system directories (``Rootfs.host()``) running ``sh``.  Invalid settings
    raise ConfigError here, before anything touches the kernel.
    """

    __repr__ = short_repr

    def _repr_html_(self) -> str:
        """A table of the fields that differ from the defaults (for notebooks)."""
        from ._html import config_rows, table

        return table("Config", config_rows(self) or [("(all defaults)", "Config()")])

    process: Process = attrs.field(factory=lambda: Process(args=("sh",)), validator=instance_of(Process))
    #: A Rootfs, a directory path, or None to keep the caller's root (no mounts).
    #: Without a mount namespace (namespaces.mount=False) a directory is
    #: chroot'ed into, with no mounts (as runc, which mounts nothing there).
    rootfs: Optional[Rootfs] = attrs.field(factory=Rootfs.host, converter=_rootfs_field)
    #: Defaults to the container id when the uts namespace is new; "" sets
    #: none (a new uts namespace keeps its copy of the caller's, as runc
    #: leaves a config.json without one).
    hostname: Optional[str] = attrs.field(default=None, converter=_hostname_field)
    domainname: Optional[str] = attrs.field(default=None, converter=_hostname_field)
    namespaces: Namespaces = attrs.field(factory=Namespaces.default, validator=instance_of(Namespaces))
    #: Defaults to Mounts.default(), or to no mounts when rootfs is None or
    #: there is no mount namespace.
    mounts: Mounts = attrs.field(default=attrs.Factory(_default_mounts, takes_self=True), converter=_mounts)
    #: Device nodes made in the /dev mount (which must then exist); defaults
    #: to DEFAULT_DEVICES when there is a /dev mount, else none.
    devices: Tuple[Device, ...] = attrs.field(
        default=attrs.Factory(_default_devices, takes_self=True),
        converter=instance_tuple_field,
        metadata=field_options(cls=Device),
    )
    uid_mappings: Tuple[IDMap, ...] = attrs.field(default=(), converter=_idmaps_field)
    gid_mappings: Tuple[IDMap, ...] = attrs.field(default=(), converter=_idmaps_field)
    #: Hidden from the container (DEFAULT_MASKED_PATHS when there is a rootfs
    #: in a mount namespace).
    masked_paths: Tuple[str, ...] = attrs.field(
        default=attrs.Factory(_default_masked, takes_self=True), converter=_paths_field
    )
    #: Bound read-only (DEFAULT_READONLY_PATHS when there is a rootfs in a
    #: mount namespace).
    readonly_paths: Tuple[str, ...] = attrs.field(
        default=attrs.Factory(_default_readonly, takes_self=True), converter=_paths_field
    )
    #: Namespaced sysctls only, e.g. {"net.ipv4.ip_forward": "1"}.
    sysctl: Mapping[str, str] = attrs.field(factory=dict, converter=freeze_mapping_field)
    #: The syscall filter, loaded last before execve; defaults to Docker's
    #: profile for the process's capabilities.  None: no filter.
    seccomp: Optional[Seccomp] = attrs.field(
        default=attrs.Factory(_default_seccomp, takes_self=True),
        validator=instance_of(Seccomp, optional=True),
    )
    #: Executable hooks (OCI phases); Python callables go to Container.create.
    hooks: Hooks = attrs.field(factory=Hooks, validator=instance_of(Hooks))
    #: Resource limits and accounting; None: the container stays in the caller's cgroups.
    #: Defaults, as root, to DEFAULT_CGROUP: the standard device rules and
    #: nothing else, so a node made with CAP_MKNOD cannot open a host device.
    #: Rootless: None (mknod is not allowed in a user namespace anyway).
    cgroup: Optional[CgroupConfig] = attrs.field(
        default=attrs.Factory(_default_cgroup, takes_self=True),
        validator=instance_of(CgroupConfig, optional=True),
    )
    #: The execution domain of the container's first process (personality(2)):
    #: "LINUX32" makes ``uname -m`` say i686 on x86_64, for 32-bit userlands;
    #: None leaves the caller's.
    personality: Optional[str] = attrs.field(
        default=None, converter=optional_choice_field, metadata=field_options(choices=PERSONALITIES)
    )
    #: Offsets of the clocks of a new time namespace (``namespaces.time=True``),
    #: ``{"monotonic": (seconds, nanoseconds), "boottime": (...)}``: the
    #: container's uptime and CLOCK_MONOTONIC start where you say.
    time_offsets: Mapping[str, Tuple[int, ...]] = attrs.field(factory=dict, converter=_time_offsets_field)
    #: NUMA memory policy of the container's processes (set_mempolicy(2));
    #: None keeps the caller's.
    memory_policy: Optional[MemoryPolicy] = attrs.field(
        default=None, converter=optional_instance_field, metadata=field_options(cls=MemoryPolicy)
    )
    #: CNI networks the container is attached to (one Network or a list),
    #: added while its first process waits, before its program starts;
    #: ``()`` (Network.none()): only ``lo``.  Needs a new network namespace.
    network: Tuple[Network, ...] = attrs.field(default=(), converter=_networks_field)

    def __attrs_post_init__(self) -> None:
        from .validate import validate

        validate(self)

    # from_oci, to_oci and from_image import their adapter when called: the
    # model imports no adapter (docs/decisions.md, tests/unit/test_import_graph.py).

    @classmethod
    def from_oci(
        cls, source: Union[str, os.PathLike[str], Mapping[str, Any]], *, bundle: Optional[str] = None
    ) -> Config:
        """A Config from an OCI config.json: a bundle directory, a config.json
        path, or a parsed document (relative paths then need ``bundle``)."""
        from .oci import config_from_oci, load_bundle

        if isinstance(source, Mapping):
            return config_from_oci(source, bundle=bundle).config
        return load_bundle(source).config

    def to_oci(self, annotations: Optional[Mapping[str, str]] = None) -> Dict[str, Any]:
        """This config as an OCI config.json document; ConfigError for what OCI cannot say."""
        from .oci import config_to_oci

        return config_to_oci(self, annotations)

    @classmethod
    def from_image(cls, store: Any, ref: Any, **overrides: Any) -> Config:
        """A Config running image ``ref`` of an images.ImageStore (see images.config_from_image)."""
        from .images import config_from_image

        return config_from_image(store, ref, **overrides)

    def evolve(self, **changes: Any) -> Config:
        """A copy with ``changes``, like attrs.evolve; settings still at the
        default for this config (mounts, devices, masked and read-only paths)
        follow the change: ``Config().evolve(rootfs=None)`` has no mounts."""
        after: Any = SimpleNamespace(
            **{a.name: changes.get(a.name, getattr(self, a.name)) for a in attrs.fields(Config)}
        )
        after.mounts = _mounts(after.mounts)
        for name, default in _FOLLOWING_DEFAULTS:
            if name not in changes and getattr(self, name) == default(self):
                changes[name] = default(after)
                setattr(after, name, changes[name])
        return attrs.evolve(self, **changes)

    def with_args(self, args: Any) -> Config:
        """A copy whose process runs ``args`` instead."""
        return attrs.evolve(self, process=attrs.evolve(self.process, args=args))


_FOLLOWING_DEFAULTS = (
    ("mounts", _default_mounts),
    ("masked_paths", _default_masked),
    ("readonly_paths", _default_readonly),
    ("devices", _default_devices),
    ("seccomp", _default_seccomp),
    ("cgroup", _default_cgroup),
)
