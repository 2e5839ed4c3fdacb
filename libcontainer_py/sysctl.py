"""Which sysctls a container may set: only those its own namespaces scope."""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from .errors import ConfigError

if TYPE_CHECKING:
    from .namespaces import Namespaces

#: kernel.* keys that belong to the ipc namespace.
IPC_KEYS = frozenset(
    {
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    }
)
UTS_KEYS = frozenset({"kernel.hostname", "kernel.domainname"})


def check_sysctl(sysctl: Mapping[str, str], namespaces: Namespaces) -> None:
    """Refuse a key that would change the host (or another container):
    ipc keys need a new ipc namespace, net.* a new net namespace; the uts
    names are Config.hostname/domainname; anything else is not namespaced."""
    for key, value in sysctl.items():
        field = f"sysctl[{key!r}]"
        if "/" in key or ".." in key or not key or "\n" in value:
            raise ConfigError(field, "not a sysctl name (use dots: 'net.ipv4.ip_forward')")
        if key in IPC_KEYS or key.startswith("fs.mqueue."):
            kind = "ipc"
        elif key.startswith("net."):
            kind = "net"
        elif key in UTS_KEYS:
            raise ConfigError(field, f"set it with Config.{key.split('.')[1]} (a sysctl would be overwritten)")
        else:
            raise ConfigError(field, "not a namespaced sysctl: setting it would change the host")
        if namespaces.setting(kind) is not True:
            raise ConfigError(field, f"needs a new {kind} namespace (namespaces.{kind}=True)")


def proc_path(key: str) -> str:
    """'net.ipv4.ip_forward' -> '/proc/sys/net/ipv4/ip_forward'."""
    return "/proc/sys/" + key.replace(".", "/")
