"""The Python side of the contract with the C executor, read from its header.

``_native/lc_native.h`` is the one source: cffi's cdef reads it, so the
message kinds and failure stages below are the C constants themselves
(``lib.LC_MSG_*``, ``lib.LC_STAGE_*``), and the record's layout is checked
against ``struct lc_msg`` when this module loads.
"""

from __future__ import annotations

import struct

from ._lcnative import ffi, lib

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from typing import Dict

#: One record on the sync and start sockets (struct lc_msg): kind, step
#: index, errno, value (the stage of an error, a pid...).
MSG = struct.Struct("4i")
assert MSG.size == ffi.sizeof("struct lc_msg"), "struct lc_msg changed: update MSG"

MSG_ERROR: int = lib.LC_MSG_ERROR
MSG_CHILD_PID: int = lib.LC_MSG_CHILD_PID
MSG_WAITING: int = lib.LC_MSG_WAITING
MSG_GO: int = lib.LC_MSG_GO
MSG_READY: int = lib.LC_MSG_READY
MSG_START: int = lib.LC_MSG_START
MSG_SECCOMP_FD: int = lib.LC_MSG_SECCOMP_FD
MSG_TTY_FD: int = lib.LC_MSG_TTY_FD
# The sandbox's box server (_native/serve.c, sandbox/_server.py).
MSG_PREPARE: int = lib.LC_MSG_PREPARE
MSG_PREPARED: int = lib.LC_MSG_PREPARED
MSG_RUN: int = lib.LC_MSG_RUN
MSG_STARTED: int = lib.LC_MSG_STARTED
MSG_EXITED: int = lib.LC_MSG_EXITED
MSG_KILL: int = lib.LC_MSG_KILL
MSG_DONE: int = lib.LC_MSG_DONE
MSG_OPEN: int = lib.LC_MSG_OPEN
MSG_OPENED: int = lib.LC_MSG_OPENED

STAGE_CALL: int = lib.LC_STAGE_CALL

#: What a failing stage of a step was doing, as an error message says it.
STAGES: Dict[int, str] = {
    lib.LC_STAGE_RESOLVE: "resolving the path in the root",
    lib.LC_STAGE_CALL: "",
    lib.LC_STAGE_ATTR: "setting mount attributes",
    lib.LC_STAGE_PROPAGATION: "setting propagation",
    lib.LC_STAGE_REOPEN: "reopening the mount",
    lib.LC_STAGE_DANGLING: "a symlink on the path leads to nothing inside the root; it is not followed out of it",
    lib.LC_STAGE_COPY_UP: "copying what the directory held into the new tmpfs (tmpcopyup)",
    lib.LC_STAGE_HANDOFF: "handing an fd to the parent",
}
