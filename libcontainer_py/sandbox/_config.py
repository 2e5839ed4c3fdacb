"""From Limits to the box's Config, and which limits this host enforces."""

from __future__ import annotations

import os
from typing import List, Mapping, Optional, Sequence, Tuple

import attrs

from ..capabilities import Capabilities
from ..cgroups import CgroupConfig, Devices, Layout, Memory, Pids
from ..config import Config
from ..limits import Rlimit
from ..mounts import Mount, Mounts
from ..namespaces import Namespaces
from ..process import Process, User
from ..rootfs import Rootfs
from .limits import Limits

#: The box's user: nobody, without capabilities.
BOX_UID = BOX_GID = 65534
BOX_PATH = "/box"
BOX_ENV: Mapping[str, str] = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": BOX_PATH, "LANG": "C.UTF-8"}


def box_identity() -> Tuple[int, int]:
    """The box's user and group: nobody (65534), or, for an unprivileged
    caller whose user namespace maps no other id than its own (no
    subordinate ids), root of that namespace, without capabilities."""
    from ..rootless import automatic_maps, unprivileged

    if not unprivileged():
        return BOX_UID, BOX_GID
    maps = automatic_maps(os.geteuid(), os.getegid())
    uid_ok = any(m.contains(BOX_UID) for m in maps.uids)
    gid_ok = any(m.contains(BOX_GID) for m in maps.gids)
    return (BOX_UID, BOX_GID) if uid_ok and gid_ok else (0, 0)


def _swap_in_use() -> bool:
    with open("/proc/swaps", encoding="ascii") as f:
        return len(f.read().splitlines()) > 1


def _memsw(layout: Layout) -> bool:
    memory = layout.v1_for("memory")
    if memory is not None:
        return os.path.exists(os.path.join(memory.mountpoint, "memory.memsw.limit_in_bytes"))
    # cgroup2: memory.swap.max exists unless the kernel was booted with swapaccount=0
    return layout.unified is not None


#: Why an unprivileged caller's limit has no cgroup to live in.
_NOT_DELEGATED = (
    "an unprivileged user has no delegated cgroup2 directory here to hold it (cgroup v1 cannot be delegated; "
    "a cgroup2 directory the user owns and runs in can, see docs/rootless.md)"
)


def unenforceable(limits: Limits, layout: Optional[Layout], *, rootless: bool = False) -> List[Tuple[str, str]]:
    """(field, why) for each set limit this host cannot enforce; ``layout``
    is where the runs' cgroups are made (None: they have none, an
    unprivileged caller without delegation: CPU time is then read from the
    processes' own clocks)."""
    out: List[Tuple[str, str]] = []
    if layout is None:
        for field in ("memory", "pids"):
            if getattr(limits, field) is not None:
                out.append((field, _NOT_DELEGATED))
        return out

    def has(controller: str) -> bool:
        return layout.v1_for(controller) is not None or layout.v2_has(controller)

    where = " in the user's delegated cgroup2 directory" if rootless else ""
    if limits.memory is not None:
        if not has("memory"):
            out.append(("memory", f"no memory controller{where} (v1 hierarchy or cgroup2)"))
        elif _swap_in_use() and not _memsw(layout):
            out.append(("memory", "swap is on and the memory controller has no swap accounting (swapaccount=1)"))
    if limits.pids is not None and not has("pids"):
        out.append(("pids", f"no pids controller{where}"))
    if limits.cpu_time is not None and layout.v1_for("cpuacct") is None and layout.unified is None:
        out.append(("cpu_time", "no CPU accounting (cpuacct or cgroup2 cpu.stat)"))
    return out


def drop(limits: Limits, fields: Sequence[str]) -> Limits:
    """``limits`` without ``fields`` (what ``strict=False`` runs with)."""
    return attrs.evolve(limits, **{f: None for f in fields})


def rlimits(limits: Limits) -> List[Rlimit]:
    """The run's process limits: no core dumps, open files, address space."""
    out = [Rlimit("core", 0)]
    if limits.open_files is not None:
        out.append(Rlimit("nofile", limits.open_files))
    if limits.address_space is not None:
        out.append(Rlimit("as", limits.address_space))
    return out


def box_config(
    args: Sequence[str],
    limits: Limits,
    *,
    box: Optional[str],
    rootfs: Optional[Rootfs],
    env: Optional[Mapping[str, str]],
    layout: Layout,
    identity: Tuple[int, int] = (BOX_UID, BOX_GID),
) -> Config:
    """The container of one run: a read-only root, the box at /box (``box``,
    a host directory bound there, or else a tmpfs of its own) and private
    /tmp and /dev/shm (the only writable places), new namespaces (net:
    loopback only), the box's user (``identity``) without capabilities,
    the limits (rlimits; memory and pids on its cgroup)."""
    size = str(limits.disk)
    uid, gid = identity
    if box is not None:
        box_mount = Mount.bind(box, BOX_PATH, nosuid=True, nodev=True)
    else:
        box_mount = Mount(
            BOX_PATH, "tmpfs", "tmpfs", nosuid=True, nodev=True, data=f"mode=755,size={size},uid={uid},gid={gid}"
        )
    mounts = Mounts(
        (
            Mount.proc(),
            Mount.dev(),
            Mount.tmpfs("/dev/shm", size=size, mode=0o1777, noexec=True),
            Mount.tmpfs("/tmp", size=size, mode=0o1777),
            box_mount,
        )
    )
    memory = None
    if limits.memory is not None:
        swap = 0 if _memsw(layout) else None
        memory = Memory(max=limits.memory, swap_max=swap)
    return Config(
        rootfs=rootfs or Rootfs.host(readonly=True),
        hostname="box",
        namespaces=Namespaces.default(),
        mounts=mounts,
        cgroup=CgroupConfig(
            memory=memory,
            pids=Pids(max=limits.pids) if limits.pids is not None else None,
            devices=Devices.default(),
            accounting=True,
        ),
        process=Process(
            args=tuple(args),
            env=dict(env if env is not None else BOX_ENV),
            cwd=BOX_PATH,
            user=User(uid, gid),
            capabilities=Capabilities.none(),
            rlimits=rlimits(limits),
        ),
    )


def server_config(config: Config) -> Config:
    """The box's own container, which stays for every run: ``config``
    (one run's) with a cgroup that holds its device rules only, in the
    devices hierarchy and cgroup2 (not in every hierarchy: each run's
    cgroup goes below it where the run is limited and counted, see
    _runcgroup.box_parents)."""
    assert config.cgroup is not None
    return attrs.evolve(config, cgroup=CgroupConfig(devices=config.cgroup.devices, accounting=False))
