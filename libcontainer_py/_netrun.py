"""Attaching a container to its networks (CNI ADD) and detaching it (DEL).

Everything lives in one directory: the state directory of a Container, or
``<root>/.network/<id>`` for an attached container (``lc.run``,
ContainerProcess).  It holds ``network.json``: the attachments and, once
added, their results (what DEL and CHECK are given); and the container's
``resolv.conf`` and ``hosts``, made empty before the clone (the plan binds
them over ``/etc/resolv.conf`` and ``/etc/hosts`` in its root) and written
after ADD, while the child waits.  The record is written before the first ADD,
so whoever finds it can always DEL.  An attached container's directory also
names its owner (pid and start time) and the container's process; when
both are gone, ``reclaim`` DELs what is left (see _owners.py for cgroups).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from . import cni
from ._log import log
from ._owners import alive, claim_dead, me
from ._statedir import DEFAULT_ROOT, NETWORK_DIR, NETWORK_RECORD, process_start_time
from .errors import ContainerError
from .mounts import Mount
from .network import Network

RECORD = NETWORK_RECORD
LOCK = ".cni.lock"
RESOLV = "resolv.conf"
HOSTS = "hosts"
CLONE_NEWNET = 0x40000000
_LOCALHOST = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"


def netns_id() -> str:
    """The network namespace of the calling thread ("net:[inode]")."""
    return os.readlink("/proc/thread-self/ns/net")


def _setns(fd: int) -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns of a network namespace: {os.strerror(err)}")


@contextlib.contextmanager
def _in_netns(fd: int) -> Iterator[None]:
    """The calling thread in the network namespace of ``fd`` for the block
    (the plugins it runs are made there), and back."""
    back = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(fd)
        try:
            yield
        finally:
            _setns(back)
    finally:
        os.close(back)


@contextlib.contextmanager
def plugin_lock() -> Iterator[None]:
    """One CNI operation at a time on this host (a file lock, so across
    threads and processes): the plugins race when they make their iptables
    chains (two firewall ADDs: "CNI-ADMIN: File exists").  Without the
    right to make it, none (the plugins then fail on their own)."""
    path = os.path.join(DEFAULT_ROOT, LOCK)
    try:
        os.makedirs(DEFAULT_ROOT, mode=0o711, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:  # a caller without rights there (whose plugins will fail anyway)
        fd = -1
    if fd < 0:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class ForeignNetns(ContainerError):
    """The container's networks were added from another network namespace:
    DEL must run there (the plugins undo what they made in their own)."""


def check_plugins(networks: Sequence[Network]) -> None:
    """Every plugin exists (ConfigError naming the missing one and the package)."""
    for i, net in enumerate(networks):
        for plugin_type in cni.plugin_types(net.document):
            cni.find_plugin(plugin_type, f"network[{i}]")


class Attachments:
    """A container's networks, in one directory (see the module docstring)."""

    def __init__(self, networks: Sequence[Network], container_id: str, directory: str, *, owned: bool) -> None:
        self.networks = tuple(networks)
        self.container_id = container_id
        self.directory = directory
        #: This object made the directory (attached): it removes it on detach.
        self.owned = owned
        self.results: List[Optional[Dict[str, Any]]] = [None] * len(self.networks)
        self._netns_fd = -1
        self._files: Dict[str, int] = {}
        self._dumped: Optional[List[Dict[str, Any]]] = None
        #: The namespace the plugins run in (the bridge's, the rules'): ADD's.
        self.host_netns = netns_id()
        self._host_fd = -1
        self._record_fd = -1
        self._record_len = 0
        self._made = False
        #: An ADD was started and not deleted since: detach() must DEL.
        self.pending = False

    # -- before the clone ----------------------------------------------------

    def prepare(self, with_files: bool) -> List[Mount]:
        """Make the directory, the record (no results yet) and, with a root,
        the files to bind; the mounts that bind them."""
        check_plugins(self.networks)
        if self.owned:
            os.makedirs(os.path.dirname(self.directory), mode=0o700, exist_ok=True)
            os.mkdir(self.directory, 0o700)
        self._made = True
        self._write_record(pid=0)
        if not with_files:
            return []
        # Empty until ADD fills them in (the plan binds files that exist).
        for name in (RESOLV, HOSTS):
            path = os.path.join(self.directory, name)
            self._files[name] = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        return [Mount.bind(os.path.join(self.directory, name), f"/etc/{name}") for name in (RESOLV, HOSTS)]

    # -- while the child waits -------------------------------------------------

    def add(self, pid: int, hostname: Optional[str]) -> None:
        """CNI ADD of each network against ``pid``'s network namespace; on a
        failure, everything added is deleted and the error raised."""
        # The path the results name as the sandbox (CHECK must give the same):
        # the waiting child is unreaped, so its pid is not anyone else's.
        path = f"/proc/{pid}/ns/net"
        self._netns_fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)  # held for DEL
        # and ours: DEL from another thread (garbage collection) runs here too
        self._host_fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        self.pending = True  # (a record read back is always pending: see from_record)
        with plugin_lock():
            try:
                for i, net in enumerate(self.networks):
                    self.results[i] = cni.add(net.document, self._attachment(net, path))
                self._write_record(pid=pid)
            except BaseException:
                self._delete(self.netns_path)  # here: ADD's thread, under the lock
                raise
        if self._files:  # not yet bound: the child mounts them after this returns
            os.pwrite(self._files[RESOLV], self.resolv_conf().encode(), 0)
            os.pwrite(self._files[HOSTS], self.hosts(hostname).encode(), 0)

    def release_files(self) -> None:
        """Close the files (written and bound by now, or never to be) and
        the record."""
        files, self._files = self._files, {}
        if self._record_fd >= 0:
            files[RECORD] = self._record_fd
            self._record_fd = -1
        for fd in files.values():
            os.close(fd)

    @property
    def netns_path(self) -> str:
        """The container's network namespace while this process holds it."""
        return f"/proc/{os.getpid()}/fd/{self._netns_fd}" if self._netns_fd >= 0 else ""

    def hold_netns(self, fd: int) -> None:
        """Work against the namespace of ``fd`` (the caller's to close)."""
        self._netns_fd = fd

    def release_netns(self) -> None:
        for name in ("_netns_fd", "_host_fd"):
            fd = getattr(self, name)
            if fd >= 0:
                setattr(self, name, -1)
                os.close(fd)

    def _attachment(self, net: Network, netns: str) -> cni.Attachment:
        assert net.ifname is not None
        return cni.Attachment(self.container_id, netns, net.ifname, net.runtime_config(), net.cni_args())

    # -- the files ---------------------------------------------------------------

    def resolv_conf(self) -> str:
        """From the first result with nameservers, else the host's."""
        for result in self.results:
            dns = (result or {}).get("dns") or {}
            if dns.get("nameservers"):
                lines = [f"nameserver {ns}" for ns in dns["nameservers"]]
                if dns.get("search"):
                    lines.append("search " + " ".join(dns["search"]))
                if dns.get("options"):
                    lines.append("options " + " ".join(dns["options"]))
                return "\n".join(lines) + "\n"
        return _host_resolv_conf()

    def hosts(self, hostname: Optional[str]) -> str:
        """localhost, and the container's hostname at each of its addresses."""
        text = _LOCALHOST
        if hostname:
            for address in addresses(self.results):
                text += f"{address}\t{hostname}\n"
        return text

    # -- the record --------------------------------------------------------------

    def _write_record(self, pid: int) -> None:
        import json

        from .serialize import dump_value

        if self._dumped is None:
            self._dumped = [dump_value(net) for net in self.networks]
        doc = {
            "container_id": self.container_id,
            "owner": me() if self.owned else None,
            "host_netns": self.host_netns,
            "container": f"{pid}-{process_start_time(pid)}" if pid else None,
            "attachments": [{"network": net, "result": result} for net, result in zip(self._dumped, self.results)],
        }
        data = json.dumps(doc, sort_keys=True).encode()
        if self._record_fd < 0:  # made once; rewritten in place after ADD
            path = os.path.join(self.directory, RECORD)
            self._record_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        # One write: the record with results is longer than the one before,
        # so a reader sees one or the other whole (even if we die between).
        os.pwrite(self._record_fd, data, 0)
        if len(data) < self._record_len:
            os.ftruncate(self._record_fd, len(data))
        self._record_len = len(data)

    # -- after -------------------------------------------------------------------

    def check(self, pid: int) -> None:
        """CNI CHECK of each network (CniError when one is not as added),
        against the namespace of the container's live process ``pid``."""
        with plugin_lock():
            for net, result in zip(self.networks, self.results):
                if result is not None:
                    cni.check(net.document, result, self._attachment(net, f"/proc/{pid}/ns/net"))

    def delete(self, netns: str) -> None:
        """CNI DEL of every network (each plugin, even after a failure), in
        the network namespace ADD ran in; the failures are logged."""
        if netns_id() == self.host_netns:
            with plugin_lock():
                self._delete(netns)
        elif self._host_fd >= 0:
            with _in_netns(self._host_fd), plugin_lock():
                self._delete(netns)
        else:
            raise ForeignNetns(
                f"container {self.container_id}: its networks were added in network namespace {self.host_netns},"
                f" this thread is in {netns_id()}: delete them from there"
            )

    def _delete(self, netns: str) -> None:
        for net, result in zip(reversed(self.networks), reversed(self.results)):
            for exc in cni.delete(net.document, result, self._attachment(net, netns)):
                log.warning("container %s: %s", self.container_id, exc)
        self.results = [None] * len(self.networks)
        self.pending = False

    def detach(self) -> None:
        """DEL everything, release the namespace, remove the files (and the
        directory when this object made it)."""
        self.release_files()
        if not self._made:
            return
        self._made = False
        try:
            if self.pending:
                self.delete(self.netns_path)
        finally:
            self.release_netns()
            remove_files(self.directory, rmdir=self.owned)


def addresses(results: Sequence[Optional[Mapping[str, Any]]]) -> List[str]:
    """The container's addresses (no prefix), in order, from CNI results."""
    out = []
    for result in results:
        for ip in (result or {}).get("ips") or []:
            address = str(ip.get("address", "")).partition("/")[0]
            if address:
                out.append(address)
    return out


def read_record(directory: str) -> Optional[Dict[str, Any]]:
    import json

    try:
        with open(os.path.join(directory, RECORD), encoding="utf-8") as f:
            doc: Dict[str, Any] = json.load(f)
    except (OSError, ValueError):
        return None
    return doc


def from_record(directory: str, *, owned: bool) -> Optional[Attachments]:
    """The Attachments a record describes (to DEL them), or None."""
    from .serialize import load_value

    doc = read_record(directory)
    if doc is None:
        return None
    items = doc.get("attachments") or []
    att = Attachments(
        [load_value(Network, item["network"]) for item in items], str(doc["container_id"]), directory, owned=owned
    )
    att.results = [item.get("result") for item in items]
    att.host_netns = str(doc.get("host_netns") or att.host_netns)
    att._made = True
    # Written before the first ADD and again after the last: an ADD may have
    # begun either way (DEL of what was never added is harmless).
    att.pending = True
    return att


def check_netns(directory: str) -> None:
    """ForeignNetns unless this thread is where the record's ADD ran."""
    doc = read_record(directory)
    recorded = (doc or {}).get("host_netns")
    if recorded is not None and recorded != netns_id():
        raise ForeignNetns(
            f"container {(doc or {}).get('container_id')}: its networks were added in network namespace"
            f" {recorded}, this thread is in {netns_id()}: destroy it from there"
        )


def detach_recorded(directory: str, netns_fd: int = -1) -> None:
    """DEL what the record in ``directory`` (a Container's state directory)
    describes, against ``netns_fd`` when the caller holds the namespace;
    the record and files go."""
    att = from_record(directory, owned=False)
    if att is None:
        remove_files(directory, rmdir=False)
        return
    att.hold_netns(netns_fd)
    try:
        if att.pending:
            att.delete(att.netns_path)
    finally:
        att.hold_netns(-1)
        remove_files(directory, rmdir=False)


def record_path(directory: str) -> str:
    return os.path.join(directory, RECORD)


def remove_files(directory: str, *, rmdir: bool) -> None:
    for name in (RESOLV, HOSTS, RECORD):
        try:
            os.unlink(os.path.join(directory, name))
        except FileNotFoundError:
            pass
    if rmdir:
        try:
            os.rmdir(directory)
        except FileNotFoundError:
            pass


def reclaim(root: str) -> List[str]:
    """DEL the networks of attached containers whose owner and process are
    both gone; the ids reclaimed."""

    def dead(path: str) -> bool:
        doc = read_record(path)
        if doc is None or alive(str(doc.get("owner") or "0-")) or alive(str(doc.get("container") or "0-")):
            return False
        return bool(doc.get("host_netns", netns_id()) == netns_id())  # else for a process in that namespace

    done = []
    for container_id, claim in claim_dead(os.path.join(root, NETWORK_DIR), dead):
        att = from_record(claim, owned=True)
        if att is not None:
            att.detach()
        else:
            remove_files(claim, rmdir=True)
        done.append(container_id)
        log.warning("reclaimed the networks of container %s, whose owner died", container_id)
    return done


def _host_resolv_conf() -> str:
    try:
        with open("/etc/resolv.conf", encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def owned_directory(root: str, container_id: str) -> str:
    return os.path.join(root, NETWORK_DIR, container_id)


__all__: Tuple[str, ...] = ("Attachments", "check_plugins", "reclaim", "detach_recorded", "addresses")
