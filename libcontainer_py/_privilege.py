"""Whether this process may do what root does: asked by every ``Config()``
(``Namespaces.default``) and every container with a cgroup, so apart from
rootless.py (its maps, helpers and delegated cgroups), which a fresh
interpreter's default container then does not import."""

from __future__ import annotations

import functools
import os

from ._statedir import _in_user_namespace

CAP_SYS_ADMIN = 21


def unprivileged() -> bool:
    """True when this process lacks CAP_SYS_ADMIN (a non-root user, or root
    stripped of it): namespaces other than the user's need a user namespace."""
    euid = os.geteuid()
    if euid != 0:
        return True
    return not _effective_caps(euid) >> CAP_SYS_ADMIN & 1


@functools.lru_cache(maxsize=4)
def _effective_caps(euid: int) -> int:
    """This process's effective set, read once per euid (every Config()
    asks; a process rarely changes its capabilities otherwise)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    return 0


def cgroups_unprivileged() -> bool:
    """The cgroup file systems are not ours to write: a non-root caller, or
    root in a user namespace (rootless podman runs its runtime so)."""
    return os.geteuid() != 0 or _in_user_namespace()
