"""A container's directory under the state root, without the config model.

``<root>/<id>/state.json`` (the record, see state.py), ``config.json`` (the
config document, read only by what needs the config: exec, hooks) and
``start.sock`` (where a created container waits for ``start``).  This
module imports neither attrs nor the config classes, nor typing at run
time: the command line's light commands (``state``, ``start``, ``delete``,
``kill``...) read the record as the plain document it is, and state.py
builds its State from the same functions.
"""

from __future__ import annotations

import os
import stat
import time

from . import _jsonlite

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Mapping, Optional, Protocol, Tuple

    class RecordLike(Protocol):
        """What recorded_status needs of a record (state.State has it)."""

        @property
        def id(self) -> str: ...

        @property
        def pid(self) -> int: ...

        @property
        def cgroup_path(self) -> Optional[str]: ...

        @property
        def cgroup_controllers(self) -> Optional[Tuple[str, ...]]: ...

        def alive(self) -> bool: ...


#: Root's state root.
SYSTEM_ROOT = "/run/libcontainer-py"


#: The user namespace _in_user_namespace last looked at, and its answer.
_userns_seen: Tuple[Tuple[int, int], bool] = ((-1, -1), False)


def _in_user_namespace() -> bool:
    """This process is in a user namespace other than the initial one
    (read again only after the process moved to another one)."""
    global _userns_seen
    try:
        st = os.stat("/proc/self/ns/user")
    except OSError:
        st = None
    ns = (st.st_dev, st.st_ino) if st is not None else (-1, -1)
    if st is not None and _userns_seen[0] == ns:
        return _userns_seen[1]
    try:
        with open("/proc/self/uid_map") as f:
            answer = f.read().split() != ["0", "0", "4294967295"]
    except OSError:
        answer = False
    if st is not None:
        _userns_seen = (ns, answer)
    return answer


def default_root(euid: Optional[int] = None, environ: Optional[Mapping[str, str]] = None) -> str:
    """The default state root: /run/libcontainer-py for root; for anyone
    else (and root in a user namespace whose $USER is not root, as rootless
    podman runs its runtime) $XDG_RUNTIME_DIR/libcontainer-py, or without
    it /tmp/libcontainer-py-<uid>, which only its user may own (runc's rule,
    with a per-user fallback where runc has /run/runc)."""
    euid = os.geteuid() if euid is None else euid
    environ = os.environ if environ is None else environ
    if euid == 0 and (not _in_user_namespace() or environ.get("USER") == "root"):
        return SYSTEM_ROOT
    xdg = environ.get("XDG_RUNTIME_DIR", "")
    if xdg.startswith("/"):
        return os.path.join(xdg, "libcontainer-py")
    return f"/tmp/libcontainer-py-{euid}"


#: The state root of the library and the command line alike (one root, so
#: `libcontainer-py list` shows containers made from Python, and the reverse);
#: cli/__init__.py and cli/_argv.py take it from here (tests/unit/test_packaging.py).
#: Decided once, at import, for the user this process runs as.
DEFAULT_ROOT = default_root()


def make_root(root: str) -> None:
    """Make the state root if needed (spread_subdirectories when made here);
    ContainerError when a non-root caller's root belongs to someone else or
    others can write it (a directory of a shared /tmp someone else made
    first)."""
    made = not os.path.isdir(root)
    os.makedirs(root, mode=0o711 if os.geteuid() == 0 else 0o700, exist_ok=True)
    if made:
        spread_subdirectories(root)
    if os.geteuid() == 0:
        return
    st = os.lstat(root)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
        from .errors import ContainerError

        raise ContainerError(
            f"the state root {root} is not a directory of uid {os.geteuid()} that only it can write: "
            "remove it, set XDG_RUNTIME_DIR, or pass root="
        )


#: FS_IOC_GETFLAGS, FS_IOC_SETFLAGS (linux/fs.h, 64-bit) and FS_TOPDIR_FL.
_GETFLAGS, _SETFLAGS, _TOPDIR = 0x80086601, 0x40086602, 0x00020000


def spread_subdirectories(directory: str) -> None:
    """Mark ``directory`` as the top of a hierarchy (``chattr +T``): ext4
    then puts each subdirectory (a container's) in a block group of its
    own choosing, not all of them in the group of ``directory``, where each
    new file would first skip every inode freed there in the last minutes
    (docs/lifecycle.md).  Nothing happens elsewhere (tmpfs refuses it)."""
    import fcntl
    import struct

    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        flags = bytearray(4)
        fcntl.ioctl(fd, _GETFLAGS, flags, True)
        (value,) = struct.unpack("i", flags)
        if not value & _TOPDIR:
            fcntl.ioctl(fd, _SETFLAGS, struct.pack("i", value | _TOPDIR))
    except OSError:
        pass
    finally:
        os.close(fd)


_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_ID_CHARS = _ALNUM | frozenset("_.-")
STATE_FILE = "state.json"
#: The config document (serialize.config_to_dict), apart from the record so
#: that reading a record stays cheap; records of older versions hold it as
#: their "config" key instead.
CONFIG_FILE = "config.json"
START_SOCKET = "start.sock"
#: The intent (the record written before anything is made) as an extended
#: attribute of the container's directory, where the file system has user
#: xattrs: no file is made for it, and none deleted when the full record
#: comes (docs/lifecycle.md); ``state.json``, once there, takes precedence.
INTENT_XATTR = "user.libcontainer_py.intent"
#: The command line's exec plan of the container (cli/_exec_plan.py).
EXEC_FILE = "exec.json"
#: Under a state root: the records of attached containers' networks (_netrun.py).
NETWORK_DIR = ".network"
#: A container's record of its networks, in its directory (_netrun.py writes it).
NETWORK_RECORD = "network.json"


def utc_now() -> str:
    """Now in UTC, as ``datetime.now(timezone.utc).isoformat()`` writes it
    (a record's ``created``), without importing datetime (the quick create's)."""
    ns = time.time_ns()
    seconds, micro = divmod(ns // 1000, 1_000_000)
    t = time.gmtime(seconds)
    text = f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
    return f"{text}.{micro:06d}+00:00" if micro else f"{text}+00:00"


def networks_to_reclaim() -> bool:
    """Records of attached containers' networks are left under the default
    root (their owners may have died: _netrun.reclaim looks)."""
    try:
        return bool(os.listdir(os.path.join(DEFAULT_ROOT, NETWORK_DIR)))
    except OSError:
        return False


def is_valid_id(value: object) -> bool:
    """Container ids: 1-64 of ASCII letters, digits, '_', '.', '-', starting
    with a letter or digit (an id names a directory, a cgroup and, by
    default, the hostname)."""
    return isinstance(value, str) and 0 < len(value) <= 64 and value[0] in _ALNUM and _ID_CHARS.issuperset(value)


def process_start_time(pid: int) -> Optional[int]:
    """The start time of a live (not zombie) ``pid``, field 22 of
    /proc/<pid>/stat, or None when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # The command may hold spaces and parentheses: split after the last ')'.
    fields = data[data.rindex(b")") + 2 :].split()
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


def container_dir(root: str, container_id: str) -> str:
    return os.path.join(root, container_id)


#: The record's lists that State holds as tuples.
_TUPLES = ("cgroup_controllers", "hook_phases")


def write_atomic(path: str, data: bytes) -> None:
    """Write ``path`` through ``<path>.tmp`` renamed over it: a reader sees
    the old file or the whole new one, never a part (not fsynced: see
    docs/lifecycle.md)."""
    write_temp(path, data)
    os.rename(path + ".tmp", path)


def write_temp(path: str, data: bytes) -> None:
    """The first half of write_atomic: ``<path>.tmp``, which nothing reads,
    until it is renamed over ``path``."""
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        _write_all(fd, data)
    finally:
        os.close(fd)


def write_intent(directory: str, data: bytes) -> None:
    """Record the intent ``data`` on ``directory`` (INTENT_XATTR, replaced
    atomically: a reader sees all of it or nothing), or as its record file
    where the file system refuses user xattrs (tmpfs before Linux 6.6)."""
    try:
        os.setxattr(directory, INTENT_XATTR, data)
    except OSError:
        write_atomic(os.path.join(directory, STATE_FILE), data)


def _read_intent(directory: str) -> Optional[str]:
    """The intent recorded on ``directory``, or None (no such attribute,
    directory, or xattrs)."""
    try:
        return os.getxattr(directory, INTENT_XATTR).decode()
    except (OSError, UnicodeDecodeError):
        return None


def write_new(path: str, data: bytes) -> None:
    """Write a file that must not exist yet (no temp file: for a file that
    nothing reads before its writer goes on, so a part of it is never read
    as valid)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        _write_all(fd, data)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:  # a short write (a signal, a full disk) is retried or raises
        view = view[os.write(fd, view) :]


def _read_text(path: str) -> str:
    """The whole file as UTF-8 text (without io's buffered text layer: a
    list of thousands reads thousands of small files)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks: List[bytes] = []
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                return b"".join(chunks).decode()
            chunks.append(chunk)
    finally:
        os.close(fd)


def read_config_document(root: str, container_id: str) -> Optional[Dict[str, Any]]:
    """The container's config document (``config.json``) as stored, or None
    when there is none or it cannot be read (the container stays
    manageable, without exec)."""
    try:
        doc = _jsonlite.loads(_read_text(os.path.join(container_dir(root, container_id), CONFIG_FILE)))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def read_record(root: str, container_id: str) -> Optional[Dict[str, Any]]:
    """The record of ``container_id`` as stored (a JSON object), None when
    there is no such container; ContainerError when it cannot be read."""
    directory = container_dir(root, container_id)
    path = os.path.join(directory, STATE_FILE)
    try:
        try:
            text: Optional[str] = _read_text(path)
        except FileNotFoundError:
            text = _read_intent(directory)  # being created (or its creator died)
        if text is None:
            if os.path.isdir(directory):
                # Its creator died between making the directory and writing the
                # first record: nothing else was made yet.
                return {"id": container_id, "pid": 0, "pid_start": 0, "created": ""}
            return None
        raw: Dict[str, Any] = _jsonlite.loads(text)
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        from .errors import ContainerError

        raise ContainerError(f"cannot read the state of {container_id!r}: {exc}") from exc
    for key in _TUPLES:
        if raw.get(key) is not None:
            raw[key] = tuple(raw[key])
    return raw


def list_ids(root: str) -> List[str]:
    """Ids of the containers under ``root`` (a directory without a record yet
    is one being created, or whose creator died before the first record)."""
    try:
        # the directory entries' types: no stat per container
        with os.scandir(root) as entries:
            names = [e.name for e in entries if is_valid_id(e.name) and e.is_dir()]
    except FileNotFoundError:
        return []
    except OSError as exc:
        from .errors import ContainerError

        raise ContainerError(f"cannot list the containers under {root}: {exc.strerror or exc}") from exc
    # other entries (the command line's .seccomp-cache) are no containers
    return sorted(names)


def remove_state(root: str, container_id: str) -> None:
    """Remove the container's directory and what is in it; idempotent."""
    directory = container_dir(root, container_id)
    for name in (STATE_FILE, STATE_FILE + ".tmp", CONFIG_FILE, START_SOCKET, EXEC_FILE, EXEC_FILE + ".tmp"):
        try:
            os.unlink(os.path.join(directory, name))
        except FileNotFoundError:
            pass
    try:
        os.rmdir(directory)
    except FileNotFoundError:
        pass


def recorded_status(root: str, record: RecordLike, paused: Optional[Callable[[], bool]] = None) -> str:
    """creating, created, running, paused or stopped, from the record and
    /proc alone; ``paused`` asks the container's cgroup (by default the
    cgroup operations of cgroups._ops are used: no manager, no attrs)."""
    if record.pid == 0:
        return "creating"  # or its creator died while creating it: destroy() cleans up
    if not record.alive():
        return "stopped"
    created = os.path.exists(os.path.join(container_dir(root, record.id), START_SOCKET))
    if paused is None and record.cgroup_path is not None:
        from .cgroups._ops import open_recorded

        paused = open_recorded(record.cgroup_path, record.cgroup_controllers, container_id=record.id).paused
    try:
        frozen = paused is not None and paused()
    except Exception:
        if not record.alive():
            return "stopped"  # destroyed meanwhile: its cgroup went first
        raise
    if frozen:
        return "paused"  # a created container can be paused too (as runc); resumed, it is created again
    return "created" if created else "running"


def wait_gone(pid: int, start: int, timeout: float = 10.0) -> None:
    """Wait until a process that is not our child is gone (its parent, or
    the machine's init, reaps it)."""
    deadline = time.monotonic() + timeout
    while process_start_time(pid) == start:
        if time.monotonic() > deadline:
            from .errors import ContainerError

            raise ContainerError(f"process {pid} did not go away")
        time.sleep(0.01)


def _via_dir_fd(sock: Any, path: str, call: str) -> None:
    """bind/connect ``sock`` to ``path`` through an fd of its directory, so a
    path longer than sun_path's 108 bytes works too."""
    dfd = os.open(os.path.dirname(path) or ".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        getattr(sock, call)(f"/proc/self/fd/{dfd}/{os.path.basename(path)}")
    finally:
        os.close(dfd)


def send_start(path: str) -> Optional[Tuple[int, int, int, int]]:
    """Tell the child waiting on the start socket ``path`` to go on, and wait
    until it has exec'd (None) or failed (its error report: kind, step
    index, errno, stage).  The socket file is removed either way."""
    from ._shortcuts import socket  # socket.py builds enums at import: its C half does not

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        try:
            _via_dir_fd(sock, path, "connect")
        except OSError as exc:
            from .errors import SpawnError

            raise SpawnError(f"cannot reach the container at {path}: {exc.strerror}", exc.errno) from exc
        sock.sendall(b"1")
        from ._contract import MSG, MSG_ERROR  # the C header's (only start pays for loading it)

        data = sock.recv(MSG.size)
    finally:
        sock.close()
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    if not data:
        return None
    report: Tuple[int, int, int, int] = MSG.unpack(data)
    if report[0] != MSG_ERROR:
        from .errors import SpawnError

        raise SpawnError(f"unexpected message {report[0]} from the container")
    return report


def start_error(index: int, err: int) -> Exception:
    """The error of a start that failed after the start socket, when the
    plan is not at hand (another process created the container)."""
    from .errors import SpawnError

    return SpawnError(f"start failed at step {index}: {os.strerror(err)}", err)


def no_process_message(container_id: str) -> str:
    """Container.start()'s refusal for a container created without a process."""
    return f"container {container_id}: cannot start: it was created without a process (the config has no 'process')"
