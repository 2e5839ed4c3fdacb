"""Fixtures' helpers for lc.call, lc.Pool and the pytest plugin tests."""

from __future__ import annotations

import glob
import os
from contextlib import contextmanager
from typing import Any, Iterator

import attrs

from support.observe import HostSnapshot, host_snapshot

#: Mounts that other developers' engines make and remove meanwhile on this
#: machine (podman, containerd, their network namespaces, sandboxes): never ours, since
#: lc.call and lc.Pool mount only inside their containers' mount namespaces.
_OTHERS = ("podman", "containerd", "/run/netns/", "/lc-bench", "/lc-sandbox", "/.sandboxes/", "overlay-containers")


def _own(snapshot: HostSnapshot) -> HostSnapshot:
    return attrs.evolve(snapshot, mounts=tuple(m for m in snapshot.mounts if not any(o in m for o in _OTHERS)))


@contextmanager
def nothing_left(monkeypatch: Any, prefix: str) -> Iterator[None]:
    """Containers with recognisable ids (``prefix``-...); afterwards no
    mount, fd, child or temp dir more, and no cgroup of theirs."""
    import libcontainer_py.pool
    import libcontainer_py.popen

    def ids() -> str:
        return f"{prefix}-{os.urandom(5).hex()}"

    monkeypatch.setattr(libcontainer_py.popen, "new_container_id", ids)
    monkeypatch.setattr(libcontainer_py.pool, "new_container_id", ids)
    before = _own(host_snapshot())
    yield
    after = _own(host_snapshot())
    assert after == before, after.diff(before)
    assert glob.glob(f"/sys/fs/cgroup/*/libcontainer_py/{prefix}-*/") == []
