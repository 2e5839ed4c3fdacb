"""Planning namespaces: joins and creations, and user-namespace ids."""

from __future__ import annotations

import warnings
from typing import List, Tuple

import attrs

from ..config import Config
from ..errors import ConfigError
from ..idmap import IDMap
from ..namespaces import CLONE_FLAGS, SETNS_ORDER
from . import ops
from .steps import Flag, HostFS, Op, Step


def namespace_steps(config: Config, steps: List[Step]) -> int:
    """Steps that join/create namespaces; returns the flags of the first clone.

    With nothing to join, a single clone creates every namespace.  Joining
    needs setns in the child first, then unshare of the new kinds, then a
    fork (as a sibling, CLONE_PARENT) to enter a pid or time namespace.
    """
    ns = config.namespaces
    joined = ns.joined()
    new_flags = ns.clone_flags()
    if config.time_offsets and not joined:
        # Offsets can be written only while no process is in the new time
        # namespace: unshare it (its children go there), write them, then
        # fork into it; the pid namespace too (PID 1 cannot CLONE_PARENT).
        late = new_flags & (CLONE_FLAGS["time"] | CLONE_FLAGS["pid"])
        steps.append(ops.unshare("create the time (and pid) namespaces", late))
        steps.append(_offsets_step(config))
        steps.append(ops.fork("fork into the time namespace"))
        return new_flags & ~late
    if not joined:
        return new_flags
    for kind in SETNS_ORDER:
        if kind in joined:
            steps.append(ops.setns(f"join the {kind} namespace", joined[kind], CLONE_FLAGS[kind]))
    if new_flags:
        steps.append(ops.unshare("create namespaces", new_flags))
    if config.time_offsets:
        steps.append(_offsets_step(config))
    if "pid" in joined or ns.pid is True or ns.time is True:
        steps.append(ops.fork("fork into the pid namespace"))
    return 0


def _offsets_step(config: Config) -> Step:
    """Write the clock offsets of the time namespace this process's children
    will be in (time_namespaces(7): one line per clock)."""
    data = "".join(f"{clock} {secs} {nsecs}\n" for clock, (secs, nsecs) in config.time_offsets.items())
    path = "/proc/self/timens_offsets"
    return ops.write_file("set the time namespace's clock offsets", path, data)


def default_mappings(host: HostFS) -> Tuple[Tuple[IDMap, ...], Tuple[IDMap, ...]]:
    """Without explicit maps, container root is the caller's own uid and gid,
    and for a non-root caller its subordinate ranges follow (rootless.py)."""
    maps = host.automatic_maps()
    return maps.uids, maps.gids


@attrs.frozen
class IdMaps:
    """The lines of uid_map and gid_map and how the parent writes them."""

    uid_map: str = ""
    gid_map: str = ""
    #: setgroups is denied first (an unprivileged caller writing gid_map itself).
    deny_setgroups: bool = False
    #: newuidmap/newgidmap write them.
    helper: bool = False


def id_maps(config: Config, host: HostFS) -> IdMaps:
    if config.namespaces.user is not True:
        return IdMaps()
    from ..rootless import RootlessWarning, check_maps, needs_helper  # a user namespace's only

    uids, gids = config.uid_mappings, config.gid_mappings
    if not uids or not gids:
        auto = host.automatic_maps()
        if auto.shortfall is not None:
            warnings.warn(auto.shortfall, RootlessWarning, stacklevel=5)
        uids = uids or auto.uids
        gids = gids or auto.gids
    euid, egid = host.euid(), host.egid()
    helper = False
    if euid != 0:
        check_maps("uid", uids, euid)
        check_maps("gid", gids, egid)
        helper = needs_helper(uids, euid) or needs_helper(gids, egid)
    # Without privilege in the parent namespace, gid_map can only be written
    # after setgroups is denied (newgidmap may write it with setgroups allowed).
    deny = euid != 0 and not helper
    if deny and config.process.user.additional_gids:
        raise ConfigError(
            "process.user.additional_gids",
            "a rootless container without subordinate ids cannot set supplementary groups "
            "(setgroups is denied in its user namespace): give the user ranges in /etc/subuid and /etc/subgid",
        )
    return IdMaps("".join(m.line() for m in uids), "".join(m.line() for m in gids), deny, helper)


def own_map_steps(maps: IdMaps) -> List[Step]:
    """The child writes its own one-id maps: a process may map its own uid
    and gid into a user namespace it created once setgroups is denied."""
    return [
        ops.write_file("deny setgroups in the user namespace", _SETGROUPS, "deny"),
        ops.write_file("write the user namespace's uid map", _UID_MAP, maps.uid_map),
        ops.write_file("write the user namespace's gid map", _GID_MAP, maps.gid_map),
    ]


_SETGROUPS, _UID_MAP, _GID_MAP = "/proc/self/setgroups", "/proc/self/uid_map", "/proc/self/gid_map"


def namespace_ids(config: Config, host: HostFS) -> Tuple[int, int]:
    """The uid and gid the child takes in a new user namespace while it sets
    up: root where root is mapped, else the process's own ids."""
    uids = config.uid_mappings or default_mappings(host)[0]
    gids = config.gid_mappings or default_mappings(host)[1]
    uid = 0 if any(m.contains(0) for m in uids) else config.process.user.uid
    gid = 0 if any(m.contains(0) for m in gids) else config.process.user.gid
    return uid, gid


def become_namespace_root(config: Config, host: HostFS) -> List[Step]:
    """The child keeps the host's credentials after the maps are written; it
    takes ids of the new namespace so that the files it makes while setting
    up have owners the namespace can represent."""
    uid, gid = namespace_ids(config, host)
    return [
        ops.setgid("take a gid of the user namespace", gid),
        ops.setuid("take a uid of the user namespace", uid),
    ]


def preopen_bind_sources(mounts: List[Step]) -> Tuple[List[Step], List[Step]]:
    """Give every bind a PREOPEN of its source; returns (mounts, preopens)."""
    out: List[Step] = []
    preopens: List[Step] = []
    for step in mounts:
        if step.op is Op.MOUNT and step.flags & Flag.BIND and step.s2:
            slot = len(preopens)
            preopens.append(ops.preopen("open a bind source", step.s2, slot))
            step = attrs.evolve(step, slot=slot)
        out.append(step)
    return out, preopens
