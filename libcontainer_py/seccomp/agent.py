"""Handing a seccomp listener to an agent (OCI ``linux.seccomp.listenerPath``).

As runc does: the runtime connects to the agent's unix stream socket at
``listener_path`` and sends one message, the JSON of the OCI
``ContainerProcessState`` (``ociVersion``, ``fds``: ``["seccompFd"]``,
``pid``, ``metadata``: ``listener_metadata`` when set, and ``state``: the
container's OCI state, ``creating`` for its first process) with the
listener fd attached (SCM_RIGHTS).  Agents written for runc (for example
with its ``libcontainer/utils.RecvFds`` or Python's ``socket.recv_fds``)
read it unchanged.  The runtime closes its own copy afterwards.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional

from ..errors import SpawnError
from .config import Seccomp

#: The name of the listener in ``fds`` (the OCI spec's SeccompFdName).
SECCOMP_FD_NAME = "seccompFd"
OCI_VERSION = "1.0.2"


def process_state(pid: int, metadata: str, state: Mapping[str, Any]) -> Dict[str, Any]:
    """The ContainerProcessState document an agent receives."""
    doc: Dict[str, Any] = {"ociVersion": OCI_VERSION, "fds": [SECCOMP_FD_NAME], "pid": pid}
    if metadata:
        doc["metadata"] = metadata  # omitted when empty, as runc's omitempty
    # runc leaves out empty annotations (omitempty) here
    doc["state"] = {k: v for k, v in state.items() if k != "annotations" or v}
    return doc


def send_listener(path: str, document: Mapping[str, Any], fd: int) -> None:
    """Connect to the agent at ``path`` and send ``document`` with ``fd``, in
    one message.  SpawnError when the agent cannot be reached."""
    import json
    import socket  # both here: the command line's start-up does not pay for them

    from .._statedir import _via_dir_fd

    data = json.dumps(document).encode()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        _via_dir_fd(sock, path, "connect")
        if socket.send_fds(sock, [data], [fd]) != len(data):
            raise OSError(0, "short write")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise SpawnError(f"cannot hand the seccomp listener to the agent at {path}: {reason}", exc.errno) from exc
    finally:
        sock.close()


def agent_callback(
    seccomp: Optional[Seccomp],
    container_id: str,
    status: str,
    bundle: Optional[str] = None,
    annotations: Optional[Mapping[str, str]] = None,
    init_pid: Optional[int] = None,
) -> Optional[Callable[[int, int], None]]:
    """What spawn() calls with the listener (fd, pid) when ``seccomp`` names
    an agent; None when it does not.  The state's pid is the container's
    (``init_pid``, for an exec'd process: runc's), else the process's."""
    if seccomp is None or seccomp.listener_path is None or not seccomp.uses_notify:
        return None
    path, metadata = seccomp.listener_path, seccomp.listener_metadata

    def hand_over(fd: int, pid: int) -> None:
        from ..hooks import oci_state

        state = oci_state(container_id, status, pid if init_pid is None else init_pid, bundle, annotations or {})
        send_listener(path, process_state(pid, metadata, state), fd)

    return hand_over
