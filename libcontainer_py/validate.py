"""Cross-field checks of a Config, run before any kernel object exists."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Tuple

from .errors import ConfigError
from .idmap import IDMap
from .sysctl import check_sysctl

if TYPE_CHECKING:
    from .config import Config
    from .process import User


def validate(config: Config) -> None:
    """Raise ConfigError for a config that cannot be honoured."""
    _check_rootfs(config)
    _check_names(config)
    _check_user_namespace(config)
    _check_devices(config)
    check_sysctl(config.sysctl, config.namespaces)
    if config.time_offsets and config.namespaces.time is not True:
        raise ConfigError("time_offsets", "clock offsets need a new time namespace (namespaces.time=True)")
    if config.network and config.namespaces.net is not True:
        what = "joins a network namespace" if isinstance(config.namespaces.net, str) else "has no new one"
        raise ConfigError(
            "network", f"CNI networks are attached to a new network namespace (namespaces.net=True); the config {what}"
        )


def _check_rootfs(config: Config) -> None:
    ns = config.namespaces
    if config.rootfs is None:
        for field in ("mounts", "masked_paths", "readonly_paths"):
            if len(getattr(config, field)):
                raise ConfigError(field, f"{field} need a rootfs (rootfs=None keeps the caller's root untouched)")
        return
    if ns.mount is False:
        _check_chroot(config)
        return
    if ns.user is True and config.rootfs.no_pivot:
        raise ConfigError("rootfs.no_pivot", "chroot instead of pivot_root is not safe in a user namespace")


def _check_chroot(config: Config) -> None:
    """A rootfs without a mount namespace of its own (the runtime's is
    inherited): the process chroots into the directory, and nothing is
    mounted, since every mount would be made in the caller's namespace."""
    rootfs = config.rootfs
    assert rootfs is not None
    why = "without one (namespaces.mount=False) the root is only chroot'ed into"
    if rootfs.path is None:
        raise ConfigError("rootfs", f"Rootfs.host() and overlays are mounts, which need a mount namespace: {why}")
    if config.namespaces.user is not False:
        raise ConfigError("rootfs", f"a user namespace's root can leave a chroot; {why}: add a mount namespace")
    checks = (
        ("rootfs.readonly", rootfs.readonly, "a read-only root is a remount"),
        ("rootfs.propagation", rootfs.propagation != "rslave", "the root's propagation would change the caller's"),
        ("mounts", len(config.mounts), "mounts would be made in the caller's mount namespace"),
        ("masked_paths", config.masked_paths, "masking is done with mounts"),
        ("readonly_paths", config.readonly_paths, "read-only paths are mounts"),
    )
    for field, given, what in checks:
        if given:
            raise ConfigError(field, f"{what}, which needs a mount namespace: {why}")


def _check_names(config: Config) -> None:
    for field, value in (("hostname", config.hostname), ("domainname", config.domainname)):
        if value and config.namespaces.uts is False:
            raise ConfigError(
                field, f"setting the {field} needs a uts namespace, new (namespaces.uts=True) or joined (a path)"
            )


def _check_user_namespace(config: Config) -> None:
    ns = config.namespaces
    if ns.user is not True:
        for field in ("uid_mappings", "gid_mappings"):
            if getattr(config, field):
                raise ConfigError(field, "id mappings need a new user namespace (namespaces.user=True)")
        return
    check_user_mapped(config.process.user, config.uid_mappings, config.gid_mappings)


def check_user_mapped(
    user: User, uid_maps: Tuple[IDMap, ...], gid_maps: Tuple[IDMap, ...], where: str = "the user namespace"
) -> None:
    """A ConfigError naming the first of ``user``'s ids that ``uid_maps`` or
    ``gid_maps`` (empty: the default mapping) do not map."""
    _check_mapped("process.user.uid", user.uid, uid_maps, "uid", where)
    for field, gid in [("process.user.gid", user.gid)] + [
        (f"process.user.additional_gids[{i}]", g) for i, g in enumerate(user.additional_gids)
    ]:
        _check_mapped(field, gid, gid_maps, "gid", where)


def _check_mapped(
    field: str, container_id: int, maps: Tuple[IDMap, ...], kind: str, where: str = "the user namespace"
) -> None:
    if not maps:
        # The default mapping (see plan.default_mappings): container id 0,
        # and for a non-root caller its subordinate ranges.
        from .rootless import automatic_maps

        auto = automatic_maps(os.geteuid(), os.getegid())
        if not any(m.contains(container_id) for m in (auto.uids if kind == "uid" else auto.gids)):
            raise ConfigError(field, f"id {container_id} is not mapped: give uid_mappings/gid_mappings")
        return
    if not any(m.contains(container_id) for m in maps):
        shown = "; ".join(m.line().strip() for m in maps)
        raise ConfigError(field, f"{kind} {container_id} is not mapped in {where} ({kind}_map: {shown})")


def _check_devices(config: Config) -> None:
    if not config.devices:
        return
    dev = config.mounts.find("/dev")
    if dev is None:
        raise ConfigError(
            "devices",
            "device nodes are made in a /dev mount (Mount.dev()); add one or pass devices=()",
        )
    paths = [d.path for d in config.devices]
    dupes = {p for p in paths if paths.count(p) > 1}
    if dupes:
        raise ConfigError("devices", f"duplicate device paths: {sorted(dupes)}")
    if config.namespaces.user is True:
        # FIFOs are made there (device nodes are bound from the host, with
        # the host's owner): their owner must exist in the namespace.
        for i, d in enumerate(config.devices):
            if d.type == "p":
                _check_mapped(f"devices[{i}].uid", d.uid, config.uid_mappings, "uid")
                _check_mapped(f"devices[{i}].gid", d.gid, config.gid_mappings, "gid")
