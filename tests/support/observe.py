"""What a test can count on the host: mounts, fds, children, temp dirs."""

from __future__ import annotations

import os
import tempfile
from typing import Any, Dict, FrozenSet, Tuple

import attrs
import psutil

import libcontainer_py as lc


@attrs.frozen
class HostSnapshot:
    mounts: Tuple[str, ...]
    fds: FrozenSet[str]
    children: FrozenSet[int]
    tempdir: FrozenSet[str]

    def diff(self, before: HostSnapshot) -> str:
        out = []
        for field in ("mounts", "fds", "children", "tempdir"):
            a, b = set(getattr(before, field)), set(getattr(self, field))
            if a != b:
                out.append(f"{field}: added {sorted(b - a)} removed {sorted(a - b)}")
        return "; ".join(out)


def open_fds() -> list:
    """This process's fds, but those the library keeps for its life by
    design (the device programs it reuses, cgroups.bpf_devices.kept_fds,
    and the mount table it polls, cgroups._ops.kept_fds)."""
    from libcontainer_py.cgroups import _ops, bpf_devices

    kept = {str(fd) for fd in bpf_devices.kept_fds() + _ops.kept_fds()}
    return [name for name in os.listdir("/proc/self/fd") if name not in kept]


def _fds() -> FrozenSet[str]:
    out = set()
    for name in open_fds():
        try:
            out.add(f"{name}->{os.readlink(f'/proc/self/fd/{name}')}")
        except FileNotFoundError:
            pass  # the fd of the listdir itself
    return frozenset(out)


def host_snapshot() -> HostSnapshot:
    with open("/proc/self/mountinfo") as f:
        mounts = tuple(" ".join(line.split()[3:5]) for line in f)
    return HostSnapshot(
        mounts=mounts,
        fds=_fds(),
        children=frozenset(p.pid for p in psutil.Process().children(recursive=True)),
        tempdir=frozenset(os.listdir(tempfile.gettempdir())),
    )


def ns_inode(path: str) -> str:
    return os.readlink(path)


def inside(config: lc.Config, script: str, **kwargs: Any) -> str:
    """Run ``sh -c script`` in a container made from config; return stdout."""
    r = lc.run(["sh", "-c", script], config=config, capture_output=True, text=True, timeout=30, **kwargs)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return r.stdout


def proc_status(config: lc.Config) -> Dict[str, str]:
    """/proc/self/status of a container made from config: field -> value (stripped)."""
    fields = (line.partition(":") for line in inside(config, "cat /proc/self/status").splitlines())
    return {key: value.strip() for key, _, value in fields}
