"""A private network namespace for the test's thread, and what CNI left in it.

Networking tests never touch the host's network: ``private_netns()`` moves
the calling thread (pytest's, which then runs the test body, the plugins it
execs and the threads it starts) into a new network namespace with only
``lo`` up, and back to the original one afterwards.  Whatever the plugins
made there (bridges, veths, iptables rules, routes) goes with the namespace.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
from typing import Iterator, List

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def netns_id(path: str = "/proc/thread-self/ns/net") -> str:
    return os.readlink(path)


#: The namespace the tests started in (never the one a networking test runs in).
ORIGINAL = os.readlink("/proc/thread-self/ns/net")


@contextlib.contextmanager
def private_netns() -> Iterator[str]:
    """Run the block in a new network namespace (its id), lo up."""
    host = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _check(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
        try:
            mine = netns_id()
            assert mine != os.readlink(f"/proc/self/fd/{host}")
            subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
            yield mine
        finally:
            _check(_libc.setns(host, CLONE_NEWNET), "setns back to the original network namespace")
    finally:
        os.close(host)


def links() -> List[str]:
    """The names of the network interfaces of the current namespace."""
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()]


def iptables_rules() -> str:
    """Every iptables rule of the current namespace (iptables-save)."""
    return subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout


def leases(data_dir: str, network: str) -> List[str]:
    """host-local's leases (one file per address) of ``network``."""
    try:
        names = os.listdir(os.path.join(data_dir, network))
    except FileNotFoundError:
        return []
    return sorted(n for n in names if n[0].isdigit() or ":" in n)
