"""Steps and plans: the data the C executor walks (Op is its LC_OPS list)."""

from __future__ import annotations

import enum
import os
from typing import TYPE_CHECKING, Dict, Optional, Tuple, Type

import attrs

from .. import errors
from .._hostfs import HostFS as HostFS  # the seam's home: light, for the quick run's check of it
from .._lcnative import ffi, lib
from ..namespaces import CLONE_FLAGS


def _header_constants(prefix: str) -> Dict[str, int]:
    """The ``#define``s of _native/lc_native.h named ``prefix``*, by the rest
    of their name, in the order of their values (cffi's ``lib`` has them)."""
    found = {name[len(prefix) :]: int(getattr(lib, name)) for name in dir(lib) if name.startswith(prefix)}
    return dict(sorted(found.items(), key=lambda item: item[1]))


if TYPE_CHECKING:  # mypy cannot read members made at run time: any name is one

    class _OpMeta(enum.EnumMeta):
        def __getattr__(cls, name: str) -> Op: ...

    class Op(enum.IntEnum, metaclass=_OpMeta):
        """Step operations: the rows of the C header's LC_OPS list."""

    class _FlagMeta(enum.EnumMeta):
        def __getattr__(cls, name: str) -> Flag: ...

    class Flag(enum.IntFlag, metaclass=_FlagMeta):
        """Step flags: the C header's LC_F_*, which says what each means."""

else:
    Op = enum.IntEnum("Op", _header_constants("LC_OP_"), module=__name__)
    Op.__doc__ = "Step operations: the rows of the C header's LC_OPS list (LC_OP_* values)."
    Flag = enum.IntFlag("Flag", _header_constants("LC_F_"), module=__name__)
    Flag.__doc__ = "Step flags: the C header's LC_F_*, which says what each means."


def copy_up_flags(copy_up: bool, data: str) -> int:
    """A tmpfs MOUNT's flags for tmpcopyup: its root keeps a ``mode=`` of the
    data (Flag.MODE_SET), or else gets the mode of the directory it hides."""
    if not copy_up:
        return 0
    return Flag.COPY_UP | (Flag.MODE_SET if any(o.startswith("mode=") for o in data.split(",")) else 0)


def _error_class(op: Op) -> Type[errors.StepError]:
    """The exception a failure of ``op`` raises: the class the header names
    for it (lc_op_errors)."""
    cls = getattr(errors, ffi.string(lib.lc_op_errors[op]).decode())
    assert isinstance(cls, type) and issubclass(cls, errors.StepError), cls
    return cls


_ERROR_CLASS: Dict[Op, Type[errors.StepError]] = {op: _error_class(op) for op in Op}


# INIT, SERVE: PID 1 stays in the child's memory for good, it never execs.
_NEEDS_OWN_MEMORY = frozenset({Op.WAIT_PARENT, Op.WAIT_START, Op.WAIT_ACCEPT, Op.SETNS, Op.FORK, Op.INIT, Op.SERVE})


_UNSHARE_NEEDS_OWN_MEMORY = CLONE_FLAGS["user"] | CLONE_FLAGS["time"] | CLONE_FLAGS["pid"]


@attrs.frozen
class Step:
    """One child-side step, as C's struct lc_step has it.

    ``n1``..``n3`` (numbers) and ``s1``..``s4`` (strings) are slots whose
    meaning depends on ``op``: the row of the op in _native/lc_native.h's
    LC_OPS list says what each carries, and so does the op's constructor in
    ops.py, which is how a step is made.  They keep the C struct's names: a
    name per meaning would take a field per op, or a union, on both sides
    of the contract.
    """

    op: Op
    what: str
    path: Optional[str] = None
    flags: int = 0
    mflags: int = 0
    n1: int = 0
    n2: int = 0
    n3: int = 0
    s1: Optional[str] = None
    s2: Optional[str] = None
    s3: Optional[str] = None
    s4: Optional[str] = None
    gids: Tuple[int, ...] = ()
    #: Raw bytes for the C buffer (SECCOMP: the sock_filter array).
    data: bytes = b""
    #: A file the parent opens before clone (flags ``open_flags``); its fd
    #: goes in n1 (SETNS: the namespace; JOIN_CGROUP: a cgroup.procs file).
    open_path: Optional[str] = None
    open_flags: int = os.O_RDONLY
    #: PREOPEN: the slot its fd goes in; MOUNT: the slot its source fd is in.
    slot: int = -1
    #: WAIT_ACCEPT: the path the parent binds a listening socket to (fd in n1).
    listen_path: Optional[str] = None
    #: WAIT_PARENT: what the parent does then ("maps": the id maps; "hooks":
    #: the create hooks, before pivot_root).
    phase: str = "maps"

    @property
    def error_class(self) -> Type[errors.StepError]:
        """The exception a failure of this step raises."""
        return _ERROR_CLASS[self.op]


@attrs.frozen
class Plan:
    """Everything lc_spawn needs, and what the parent does during the sync."""

    container_id: str
    clone_flags: int
    steps: Tuple[Step, ...]
    argv: Tuple[str, ...]
    envp: Tuple[str, ...]
    exec_paths: Tuple[str, ...]
    uid_map: str = ""
    gid_map: str = ""
    deny_setgroups: bool = False
    #: The maps are written by newuidmap/newgidmap (an unprivileged caller
    #: mapping more than its own ids).
    map_helper: bool = False
    #: How many PREOPEN slots the steps use.
    slots: int = 0

    @property
    def shares_memory(self) -> bool:
        """Whether the child may share the parent's memory until it execs
        (vfork-style): only when it never waits for the parent, and never
        setns/unshares (setns of a time namespace refuses a shared mm).  A
        seccomp listener handed over by number waits for the parent too."""
        return not any(
            s.op in _NEEDS_OWN_MEMORY
            or (s.op is Op.UNSHARE and s.n1 & _UNSHARE_NEEDS_OWN_MEMORY)
            or (s.op is Op.SECCOMP and s.n3)
            for s in self.steps
        )

    @property
    def root_path(self) -> Optional[str]:
        """Where the container's root is mounted before pivot_root, in its
        mount namespace (None without a root of its own)."""
        roots = (Op.ROOT_TMPFS, Op.ROOT_BIND, Op.ROOT_OVERLAY)
        return next((s.s1 for s in self.steps if s.op in roots), None)

    @property
    def dies_with_owner(self) -> bool:
        """The child asks to be killed when the thread that clones it exits
        (PDEATHSIG): that thread must live as long as the owner does."""
        return any(s.op is Op.PDEATHSIG for s in self.steps)

    @property
    def waits_for_start(self) -> bool:
        """The child waits for start() on the sync socket (this process
        only), or serves this process's requests on it (SERVE: a box)."""
        return any(s.op in (Op.WAIT_START, Op.SERVE) for s in self.steps)

    @property
    def start_socket(self) -> Optional[str]:
        """The socket any process can start the child through, if any."""
        return next((s.listen_path for s in self.steps if s.op is Op.WAIT_ACCEPT), None)
