"""Rootless containers: what an unprivileged caller gets, and why it fails.

A caller without CAP_SYS_ADMIN gets a user namespace by default
(``Namespaces.default()``), mapping root inside to the caller and container
ids 1 onwards to the caller's subordinate ranges of /etc/subuid and
/etc/subgid, written by the setuid helpers ``newuidmap``/``newgidmap``
(Debian package ``uidmap``), as podman does.  Without a range, the map is the
caller's own id alone, with a warning saying what to add.
"""

from __future__ import annotations

import functools
import os
import pwd
from typing import TYPE_CHECKING, List, Optional, Sequence, Tuple

import attrs

if TYPE_CHECKING:
    from .cgroups import CgroupConfig
    from .cgroups.layout import Layout

from ._privilege import CAP_SYS_ADMIN as CAP_SYS_ADMIN  # these three live there, for Config()'s sake
from ._privilege import cgroups_unprivileged as cgroups_unprivileged
from ._privilege import unprivileged as unprivileged
from .errors import ConfigError, ContainerError
from .idmap import IDMap

SUBUID = "/etc/subuid"
SUBGID = "/etc/subgid"
HELPERS = {"uid": "newuidmap", "gid": "newgidmap"}


class RootlessError(ContainerError):
    """An unprivileged caller cannot have what it asked for; the message
    names the cause and the fix."""


class RootlessConfigError(RootlessError, ConfigError):
    """A setting an unprivileged caller cannot have (id maps of ids not its own)."""

    def __init__(self, field: str, message: str) -> None:
        ConfigError.__init__(self, field, message)


class RootlessWarning(UserWarning):
    """A rootless container runs with less than it could (one id only)."""


def _user_name(uid: int) -> Optional[str]:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


def subordinate_ranges(path: str, uid: int) -> Tuple[Tuple[int, int], ...]:
    """(start, count) of each range ``path`` (/etc/subuid or /etc/subgid)
    gives the user ``uid`` (by name or number), in file order."""
    names = {str(uid), _user_name(uid)}
    ranges: List[Tuple[int, int]] = []
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return ()
    for line in lines:
        fields = line.strip().split(":")
        if len(fields) == 3 and fields[0] in names and fields[1].isdigit() and fields[2].isdigit():
            if int(fields[2]) > 0:
                ranges.append((int(fields[1]), int(fields[2])))
    return tuple(ranges)


def _stack(own: int, ranges: Sequence[Tuple[int, int]]) -> Tuple[IDMap, ...]:
    """Container id 0 is ``own``; the ranges follow from container id 1."""
    maps = [IDMap(0, own, 1)]
    next_id = 1
    for start, count in ranges:
        maps.append(IDMap(next_id, start, count))
        next_id += count
    return tuple(maps)


@attrs.frozen
class AutomaticMaps:
    """The id maps of a user namespace without explicit ones."""

    uids: Tuple[IDMap, ...]
    gids: Tuple[IDMap, ...]
    #: Why the maps hold one id only (None when the ranges are used).
    shortfall: Optional[str] = None


def automatic_maps(uid: int, gid: int) -> AutomaticMaps:
    """The automatic maps (see _automatic_maps), cached until /etc/subuid,
    /etc/subgid or PATH change."""
    return _cached_maps(uid, gid, _mtime(SUBUID), _mtime(SUBGID), SUBUID, SUBGID, os.environ.get("PATH", ""))


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


@functools.lru_cache(maxsize=16)
def _cached_maps(uid: int, gid: int, *_key: object) -> AutomaticMaps:
    return _automatic_maps(uid, gid)


def _which(program: str) -> Optional[str]:
    """shutil.which, imported when a rootless map needs a helper (shutil
    imports the compression modules: ~3 ms at start-up)."""
    import shutil

    return shutil.which(program)


def _automatic_maps(uid: int, gid: int) -> AutomaticMaps:
    """Root inside is ``uid``/``gid``; as non-root the subordinate ranges
    follow, when there are ranges and the helpers to write them."""
    single = AutomaticMaps((IDMap(0, uid, 1),), (IDMap(0, gid, 1),))
    if uid == 0:
        return single
    subuids, subgids = subordinate_ranges(SUBUID, uid), subordinate_ranges(SUBGID, uid)
    who = _user_name(uid) or str(uid)
    if not subuids or not subgids:
        missing = " and ".join(p for p, r in ((SUBUID, subuids), (SUBGID, subgids)) if not r)
        return attrs.evolve(
            single,
            shortfall=f"{missing} gives {who} no range: only id 0 exists in the container (chown to any other id "
            f"fails); add a line such as '{who}:100000:65536' to {SUBUID} and {SUBGID} "
            f"(usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {who})",
        )
    missing_helpers = [h for h in HELPERS.values() if _which(h) is None]
    if missing_helpers:
        return attrs.evolve(
            single,
            shortfall=f"{' and '.join(missing_helpers)} not found: only id 0 exists in the container; "
            "install them (Debian/Ubuntu: apt-get install uidmap) to map the subordinate ranges",
        )
    return AutomaticMaps(_stack(uid, subuids), _stack(gid, subgids))


def needs_helper(maps: Sequence[IDMap], own: int) -> bool:
    """An unprivileged process writes one line mapping its own id; anything
    else needs newuidmap/newgidmap."""
    return not (len(maps) == 1 and maps[0].host_id == own and maps[0].size == 1)


def check_maps(kind: str, maps: Sequence[IDMap], own: int) -> None:
    """RootlessConfigError unless every host id of ``maps`` is ``own`` or in
    the caller's subordinate ranges, and the helper is installed."""
    if not needs_helper(maps, own):
        return
    field = f"{kind}_mappings"
    path = SUBUID if kind == "uid" else SUBGID
    ranges = [(own, 1), *subordinate_ranges(path, own)]
    who = _user_name(own) or str(own)
    for m in maps:
        if not any(start <= m.host_id and m.host_id + m.size <= start + count for start, count in ranges):
            mine = ", ".join(f"{s}-{s + c - 1}" for s, c in ranges)
            raise RootlessConfigError(
                field,
                f"host ids {m.host_id}-{m.host_id + m.size - 1} are not {who}'s to map (own: {mine}); "
                f"map ids of {path} (usermod --add-sub{kind}s START-END {who}, as root) or leave {field} empty",
            )
    helper = HELPERS[kind]
    if _which(helper) is None:
        raise RootlessConfigError(
            field, f"mapping more than the caller's own id needs {helper} (Debian/Ubuntu: apt-get install uidmap)"
        )


def check_rootfs(field: str, path: str) -> None:
    """RootlessConfigError for a root directory (or overlay layer) this
    caller cannot reach, read and enter: the container's root is the caller."""
    try:
        os.stat(path)
    except FileNotFoundError:
        return  # the caller says it does not exist
    except OSError:
        pass
    else:
        if os.access(path, os.R_OK | os.X_OK):
            return
    who = _user_name(os.geteuid()) or str(os.geteuid())
    raise RootlessConfigError(
        field,
        f"{path} cannot be read by {who} (the container's root is {who} on the host): "
        "give the user read and search access to it and to the directories above it, "
        "or unpack the image as the user (images.ImageStore in a directory of its own)",
    )


def write_maps(pid: int, uid_map: str, gid_map: str) -> None:
    """Write the maps of ``pid``'s user namespace with newuidmap/newgidmap,
    both at once (each is a setuid program to start while the child waits;
    posix_spawn, a vfork, is the cheapest way to start them)."""
    running: List[Tuple[List[str], int, int]] = []
    try:
        for kind, lines in (("uid", uid_map), ("gid", gid_map)):
            argv = [_which(HELPERS[kind]) or HELPERS[kind], str(pid), *lines.split()]
            running.append((argv, *_spawn_helper(argv)))
        failures = [_reap_helper(*helper) for helper in running]
        running = []
    finally:
        for _, child, err_fd in running:
            os.close(err_fd)
            os.kill(child, 9)
            os.waitpid(child, 0)
    failed = [f for f in failures if f]
    if failed:
        raise RootlessError(failed[0])


def _spawn_helper(argv: List[str]) -> Tuple[int, int]:
    """Start ``argv`` with stdin and stdout on /dev/null and stderr on a
    pipe: (pid, read end)."""
    r, w = os.pipe()
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_DUP2, w, 2),
    ]
    try:
        child = os.posix_spawn(argv[0], argv, {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}, file_actions=actions)
    except OSError as exc:
        os.close(r)
        raise RootlessError(f"cannot run {argv[0]}: {exc.strerror} (apt-get install uidmap)") from exc
    finally:
        os.close(w)
    return child, r


def _reap_helper(argv: List[str], child: int, err_fd: int) -> str:
    """Wait for a helper; what went wrong, or the empty string."""
    chunks = []
    try:
        while chunk := os.read(err_fd, 4096):
            chunks.append(chunk)
    finally:
        os.close(err_fd)
    _, status = os.waitpid(child, 0)
    if os.waitstatus_to_exitcode(status) == 0:
        return ""
    err = b"".join(chunks).decode(errors="replace").strip()
    return f"{' '.join(argv)} failed: {err or os.waitstatus_to_exitcode(status)}"


def userns_disabled_hint() -> str:
    """Why an unprivileged clone of a user namespace fails here, when it is
    a setting of the kernel (else the empty string)."""
    for path, bad in (
        ("/proc/sys/user/max_user_namespaces", "0"),
        ("/proc/sys/kernel/unprivileged_userns_clone", "0"),
        ("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1"),
    ):
        try:
            with open(path) as f:
                if f.read().strip() == bad:
                    return f"{path} is {bad}: user namespaces are not allowed to unprivileged users here"
        except OSError:
            continue
    return ""


def delegated_cgroup(cgroup: CgroupConfig, layout: Layout, container_id: str) -> Optional[Tuple[CgroupConfig, Layout]]:
    """Where an unprivileged caller's container gets its cgroup: on the
    cgroup2 mount, in a directory whose parent the caller may write (a
    delegated subtree); ``path`` is relative to that mount, by default
    the id beside the caller's own cgroup.  The device rules are dropped
    (a user namespace cannot make device nodes, and only root may attach
    device programs).  None: no delegation and no limit, so no cgroup;
    CgroupError when limits are set and no delegated cgroup can hold them."""
    from .cgroups.errors import CgroupError

    cgroup = attrs.evolve(cgroup, devices=None)
    limits = cgroup.controllers()
    unified = layout.unified
    parent = None
    if unified is not None:
        path = cgroup.path or os.path.join(os.path.dirname(unified.own.rstrip("/")) or "/", container_id)
        cgroup = attrs.evolve(cgroup, path=path)
        candidate = os.path.dirname(unified.dir(path).rstrip("/"))
        if os.access(candidate, os.W_OK):
            parent = candidate
    if parent is None:
        if not limits:
            return None
        raise CgroupError(
            f"no delegated cgroup is available for the limits of {', '.join(limits)}: an unprivileged caller "
            "needs a cgroup2 directory it owns holding its own process (systemd: systemd-run --user --scope "
            "-p Delegate=yes; or as root: chown -R USER /sys/fs/cgroup/<dir>) and CgroupConfig(path=...) "
            "in it, or no limits",
        )
    missing = [c for c in limits if unified is None or c not in unified.controllers]
    if missing:
        raise CgroupError(
            f"no delegated cgroup is available for {', '.join(missing)}: the cgroup2 hierarchy has no such "
            "controller here (cgroup v1 cannot be delegated); drop those limits",
            path=parent,
        )
    return cgroup, layout.only_v2()
