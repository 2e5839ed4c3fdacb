"""The memory a box's server shares with this process (struct
lc_serve_region, then what its pointers point to): a run's steps, argv,
environment and exec paths, an OPEN request, and what the server reports
(a run's failed step, the CPU time of what it reaped).

It is a MAP_SHARED mapping made before the box's clone, so the server (a
copy of this process) sees it at the same address: the pointers written
here are valid there.  The steps of a run change only with its limits and
are written once per set of limits; argv and the environment each run.
"""

from __future__ import annotations

import mmap
import os
import struct
from typing import Any, Dict, Optional, Sequence, Tuple

from .._lcnative import ffi
from ..plan import Step
from .errors import SandboxError

#: The whole mapping: pages are only allocated when written.
SIZE = 8 << 20
#: Where the steps start (after the header) and where a run's strings start.
_STEPS_AT = 4096
_RUN_AT = 256 << 10
_PTR = struct.Struct("Q")


class Region:
    """The shared mapping and the C view of its header."""

    def __init__(self) -> None:
        self._map = mmap.mmap(-1, SIZE)
        self._buffer = ffi.from_buffer(self._map)
        self._base = ffi.cast("char *", self._buffer)
        self.address = int(ffi.cast("uintptr_t", self._base))
        self.header: Any = ffi.cast("struct lc_serve_region *", self._base)
        self._steps_key: Optional[Tuple[Step, ...]] = None

    # -- a run ---------------------------------------------------------------

    def write_run(
        self, steps: Tuple[Step, ...], argv: Sequence[str], envp: Sequence[str], paths: Sequence[str]
    ) -> None:
        """The request of one run: ``steps`` (rewritten only when they
        differ from the last run's), then its argv, environment and the
        paths execve tries."""
        if steps != self._steps_key:
            self._write_steps(steps)
            self._steps_key = steps
        at = _Cursor(self, _RUN_AT)
        h = self.header
        h.argv = at.strv(argv)
        h.envp = at.strv(envp)
        h.exec_paths = at.strv(paths)
        h.nexec = len(paths)
        h.report.kind = 0

    def _write_steps(self, steps: Tuple[Step, ...]) -> None:
        size = ffi.sizeof("struct lc_step") * len(steps)
        at = _Cursor(self, _STEPS_AT + size, limit=_RUN_AT)
        if _STEPS_AT + size > _RUN_AT:
            raise SandboxError(f"a run's {len(steps)} steps do not fit the box's shared memory")
        array = ffi.cast("struct lc_step *", self._base + _STEPS_AT)
        for i, s in enumerate(steps):
            c = array[i]
            c.op, c.flags, c.mflags = int(s.op), s.flags, s.mflags
            c.n1, c.n2, c.n3 = s.n1, s.n2, s.n3
            c.s1, c.s2, c.s3, c.s4 = at.string(s.s1), at.string(s.s2), at.string(s.s3), at.string(s.s4)
            c.slot = s.slot
            if s.gids:
                c.buf = at.raw(struct.pack(f"{len(s.gids)}I", *s.gids))
                c.buflen = len(s.gids)
            elif s.data:
                c.buf = at.raw(s.data)
                c.buflen = len(s.data)
            else:
                c.buf, c.buflen = ffi.NULL, 0
        self.header.steps = array
        self.header.nsteps = len(steps)

    def failed_step(self) -> Optional[Tuple[int, int, int]]:
        """(step, errno, stage) the run's process reported, or None."""
        r = self.header.report
        if r.kind == 0:
            return None
        return int(r.step), int(r.err), int(r.value)

    # -- an OPEN request and the server's counters ---------------------------

    def write_open(self, path: str, flags: int, mode: int, owner: Tuple[int, int], make_dirs: bool) -> None:
        h = self.header
        h.open_path = _Cursor(self, _RUN_AT).string(path)
        h.open_flags, h.open_mode = flags, mode
        h.open_uid, h.open_gid = owner
        h.open_make_dirs = int(make_dirs)

    def reaped_usec(self) -> Tuple[int, int]:
        """User and system CPU time (µs) of everything the server reaped so far."""
        h = self.header
        return int(h.reaped_user_usec), int(h.reaped_sys_usec)

    @property
    def scratch_errno(self) -> int:
        return int(self.header.scratch_errno)

    @property
    def closed(self) -> bool:
        return self._map.closed

    def close(self) -> None:
        if self._map.closed:
            return
        self.header = None
        self._base = None
        self._buffer = None
        self._map.close()


class _Cursor:
    """Appends bytes to the region from ``at``; returns C pointers to them."""

    def __init__(self, region: Region, at: int, limit: int = SIZE) -> None:
        self._region, self._at, self._limit = region, at, limit
        self._strings: Dict[str, Any] = {}

    def raw(self, data: bytes) -> Any:
        at = (self._at + 7) & ~7
        end = at + len(data)
        if end > self._limit:
            raise SandboxError(f"the request does not fit the box's {self._limit >> 20} MiB of shared memory")
        self._region._map[at:end] = data
        self._at = end
        return self._region._base + at

    def string(self, value: Optional[str]) -> Any:
        if value is None:
            return ffi.NULL
        return self.raw(os.fsencode(value) + b"\0")

    def strv(self, values: Sequence[str]) -> Any:
        """A NULL-terminated char *[] of ``values``."""
        addresses = [int(ffi.cast("uintptr_t", self.string(v))) for v in values] + [0]
        return ffi.cast("char **", self.raw(b"".join(_PTR.pack(a) for a in addresses)))
