"""Configs and expectations several tests share."""

from __future__ import annotations

from typing import Any, Dict, List

import libcontainer_py as lc

#: A user namespace's ids 0-65535 as host ids 100000-165535 (Config arguments).
MAPPED_IDS: Dict[str, List[lc.IDMap]] = {
    "uid_mappings": [lc.IDMap(0, 100000, 65536)],
    "gid_mappings": [lc.IDMap(0, 100000, 65536)],
}

#: Where lc.Mounts.default() mounts, in its order.
DEFAULT_MOUNT_POINTS = ("/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup")


def issue_example_cgroup() -> lc.CgroupConfig:
    """The cgroups issue's example: a limit in every controller."""
    return lc.CgroupConfig(
        memory=lc.Memory(max="64M", swap_max="64M", reservation="32M"),
        cpu=lc.Cpu(weight=50, quota_us=50_000, period_us=100_000, cpus="0", mems="0"),
        pids=lc.Pids(max=32),
        io=lc.IO(weight=100, read_bps={"/dev/vda": "10M"}),
        hugetlb={"2MB": 0},
        devices=lc.Devices.default(),
    )


def userns_config(rootfs: str, **config: Any) -> lc.Config:
    """A Config of ``rootfs`` with every namespace, the user namespace's ids
    mapped as MAPPED_IDS says, and the other ``config`` arguments."""
    return lc.Config(rootfs=rootfs, namespaces=lc.Namespaces.all(), **MAPPED_IDS, **config)
