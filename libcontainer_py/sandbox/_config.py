"""From Limits to a container Config, and which limits this host enforces."""

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


def _swap_in_use() -> bool:
    with open("/proc/swaps", encoding="ascii") as f:
        return len(f.read().splitlines()) > 1


def _memsw(layout: Layout) -> bool:
    memory = layout.v1_for("memory")
    if memory is not None:
        return os.path.exists(os.path.join(memory.mountpoint, "memory.memsw.limit_in_bytes"))
    # cgroup2: memory.swap.max exists unless the kernel was booted with swapaccount=0
    return layout.unified is not None


def unenforceable(limits: Limits, layout: Layout) -> List[Tuple[str, str]]:
    """(field, why) for each set limit this host cannot enforce."""
    out: List[Tuple[str, str]] = []

    def has(controller: str) -> bool:
        return layout.v1_for(controller) is not None or layout.v2_has(controller)

    if limits.memory is not None:
        if not has("memory"):
            out.append(("memory", "no memory controller (v1 hierarchy or cgroup2)"))
        elif _swap_in_use() and not _memsw(layout):
            out.append(("memory", "swap is on and the memory controller has no swap accounting (swapaccount=1)"))
    if limits.pids is not None and not has("pids"):
        out.append(("pids", "no pids controller"))
    if limits.cpu_time is not None and layout.v1_for("cpuacct") is None and layout.unified is None:
        out.append(("cpu_time", "no CPU accounting (cpuacct or cgroup2 cpu.stat)"))
    return out


def drop(limits: Limits, fields: Sequence[str]) -> Limits:
    """``limits`` without ``fields`` (what ``strict=False`` runs with)."""
    return attrs.evolve(limits, **{f: None for f in fields})


def box_config(
    args: Sequence[str],
    limits: Limits,
    *,
    box: str,
    rootfs: Optional[Rootfs],
    env: Optional[Mapping[str, str]],
    layout: Layout,
) -> Config:
    """The container of one run: a read-only root, the box at /box (the
    only writable place besides private /tmp and /dev/shm), new
    namespaces (net: loopback only), no capabilities, the limits."""
    size = str(limits.disk)
    mounts = Mounts(
        (
            Mount.proc(),
            Mount.dev(),
            Mount.tmpfs("/dev/shm", size=size, mode=0o1777, noexec=True),
            Mount.tmpfs("/tmp", size=size, mode=0o1777),
            Mount.bind(box, BOX_PATH, nosuid=True, nodev=True),
        )
    )
    rlimits = [Rlimit("core", 0)]
    if limits.open_files is not None:
        rlimits.append(Rlimit("nofile", limits.open_files))
    if limits.address_space is not None:
        rlimits.append(Rlimit("as", limits.address_space))
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
            user=User(BOX_UID, BOX_GID),
            capabilities=Capabilities.none(),
            rlimits=rlimits,
            init=True,  # lingering (see box._BoxProcess): the program is not PID 1
        ),
    )
