"""What planning asks of the host (the HostFS seam of plan/), light.

plan.build_plan is a pure function of the config and of these answers (the
tests give it fakes).  Light -- no attrs, typing or config model -- so that
the default container's quick run (_quickrun.py) can ask the same questions
again and use its saved plan only when every answer is still the same.
"""

from __future__ import annotations

import functools
import os
import stat

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from typing import Optional, Tuple

    from .cgroups.layout import Layout
    from .rootless import AutomaticMaps


def caller_bounding_set() -> int:
    """This process's capability bounding set, as a mask."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapBnd:"):
                return int(line.split()[1], 16)
    return 0


@functools.cache
def _last_capability() -> int:
    """The running kernel's highest capability number (fixed until a reboot)."""
    with open("/proc/sys/kernel/cap_last_cap") as f:
        return int(f.read())


class HostFS:
    """What planning needs to know about the host filesystem (a seam for tests)."""

    def lstat_kind(self, path: str) -> Optional[str]:
        """'dir', 'symlink', 'file' or None when missing."""
        try:
            st = os.lstat(path)
        except OSError:
            return None
        if stat.S_ISLNK(st.st_mode):
            return "symlink"
        return "dir" if stat.S_ISDIR(st.st_mode) else "file"

    def is_dir(self, path: str) -> bool:
        return os.path.isdir(path)

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def readlink(self, path: str) -> str:
        return os.readlink(path)

    def realpath(self, path: str) -> str:
        return os.path.realpath(path)

    def mount_point(self, path: str) -> str:
        """The mount point of the mount that holds ``path`` (this process's
        mount namespace; the longest mount point that is a prefix)."""
        path = os.path.realpath(path)
        best = "/"
        with open("/proc/self/mountinfo") as f:
            for line in f:
                point = line.split()[4].encode().decode("unicode_escape")  # \040 -> space
                if (path == point or path.startswith(point.rstrip("/") + "/")) and len(point) > len(best):
                    best = point
        return best

    def euid(self) -> int:
        return os.geteuid()

    def egid(self) -> int:
        return os.getegid()

    def in_user_namespace(self) -> bool:
        """This process is in a user namespace other than the initial one."""
        from ._statedir import _in_user_namespace

        return _in_user_namespace()

    def automatic_maps(self) -> AutomaticMaps:
        """The id maps of a user namespace without explicit ones (see rootless.py)."""
        from .rootless import automatic_maps

        return automatic_maps(self.euid(), self.egid())

    def creator_areas(self) -> Tuple[Tuple[int, int], ...]:
        """Where this process's argv and environment strings lie (what
        /proc/<pid>/cmdline and environ show), each only when it is in a
        writable mapping: a forked copy may blank them there."""
        return _creator_areas(os.getpid())

    def last_capability(self) -> int:
        return _last_capability()

    def bounding_set(self) -> int:
        """The capabilities this process can give (its bounding set)."""
        return caller_bounding_set()

    def can_take_fds(self) -> bool:
        """Whether this process may copy another's fds (pidfd_getfd of a
        non-dumpable child needs CAP_SYS_PTRACE)."""
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> 19 & 1)  # CAP_SYS_PTRACE
        return False

    def cgroup_layout(self) -> Optional[Layout]:
        """The host's cgroup hierarchies as this process sees them (None when
        no cgroup file system is mounted)."""
        from .cgroups.errors import CgroupError
        from .cgroups.layout import detect

        try:
            return detect()
        except CgroupError:
            return None


@functools.lru_cache(maxsize=1)
def _creator_areas(pid: int) -> Tuple[Tuple[int, int], ...]:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        with open(f"/proc/{pid}/maps") as f:
            maps = f.read().splitlines()
    except OSError:
        return ()
    # fields[0] is field 3 of stat(5): arg_start is field 48, env_end 51.
    arg_start, arg_end, env_start, env_end = (int(v) for v in fields[45:49])
    writable = []
    for line in maps:
        span, perms = line.split()[:2]
        lo, hi = (int(v, 16) for v in span.split("-"))
        if perms.startswith("rw"):
            writable.append((lo, hi))
    return tuple(
        (start, end)
        for start, end in ((arg_start, arg_end), (env_start, env_end))
        if start < end and any(lo <= start and end <= hi for lo, hi in writable)
    )
