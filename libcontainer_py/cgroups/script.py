"""A container's cgroup made as a script: the manager's file operations
recorded once, and done again without the config model.

``Recorder`` is a CgroupFS (and device-program installer) for a manager's
``create()`` and ``apply()``: it does each operation on the real cgroup
file system and keeps it -- every ``exists`` and ``read`` with its answer,
every ``mkdir`` and ``write``, each device program's code.  The manager's
logic (which hierarchies, which directories exist already, which
controllers to enable, cpuset copied from the parent, the limits' files and
values in runc's order) then needs no repeating: ``Replay`` does the same
operations in the same order, and gives up (``ScriptDiverged``) as soon as
the host answers a question otherwise, since the manager would then have
done something else.  Whatever a replay made, ``undo()`` removes.  Used by
the command line's quick create (cli/_create_light.py).  Light: no attrs.
"""

from __future__ import annotations

import errno as errno_mod

from ._ops import RealFS
from .errors import CgroupError

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from typing import Any, List

    from .resources import Devices


class ScriptDiverged(Exception):
    """The host answered a recorded question otherwise: the script no longer
    says what the manager would do."""


class Recorder(RealFS):
    """The real cgroup file system, keeping each operation done on it:
    ``ops`` lists ``[name, path, value]`` (exists and read with their
    answer, write with its value, mkdir and a device program's code)."""

    def __init__(self) -> None:
        self.ops: List[List[Any]] = []
        #: Set when an operation failed: such a run is not repeated.
        self.failed = False

    def _keep(self, op: List[Any], call: Any) -> Any:
        try:
            result = call()
        except BaseException:
            self.failed = True
            raise
        self.ops.append(op if result is None else [*op, result])
        return result

    def exists(self, path: str) -> bool:
        answer: bool = self._keep(["exists", path], lambda: RealFS.exists(self, path))
        return answer

    def read(self, path: str) -> str:
        answer: str = self._keep(["read", path], lambda: RealFS.read(self, path))
        return answer

    def write(self, path: str, value: str) -> None:
        self._keep(["write", path, value], lambda: RealFS.write(self, path, value))

    def mkdir(self, path: str) -> None:
        self._keep(["mkdir", path], lambda: RealFS.mkdir(self, path))

    def rmdir(self, path: str) -> None:
        self._keep(["rmdir", path], lambda: RealFS.rmdir(self, path))

    def subdirs(self, path: str) -> List[str]:
        self.failed = True  # a question whose answer a script does not check
        return RealFS.subdirs(self, path)

    def install_device_program(self, path: str, devices: Devices) -> None:
        """The manager's device-program installer (bpf_devices.install)."""
        from . import bpf_devices

        code = bpf_devices.program_code(devices)
        self._keep(["devices", path, code.hex()], lambda: bpf_devices.install_code(path, code))


class Replay:
    """Does a recorded script again (``run``), or takes back what it made (``undo``)."""

    def __init__(self, ops: List[List[Any]]) -> None:
        self._ops = ops
        self._fs = RealFS()
        self._made: List[str] = []

    def run(self) -> None:
        """Every operation in order; ScriptDiverged when an answer differs
        (or a directory the manager made exists now), CgroupError when an
        operation fails.  Either way, call undo()."""
        fs = self._fs
        for op in self._ops:
            name, path = op[0], op[1]
            if name == "exists":
                if fs.exists(path) != op[2]:
                    raise ScriptDiverged(path)
            elif name == "read":
                if fs.read(path) != op[2]:
                    raise ScriptDiverged(path)
            elif name == "mkdir":
                try:
                    fs.mkdir(path)
                except CgroupError as exc:
                    if exc.errno == errno_mod.EEXIST:
                        raise ScriptDiverged(path) from None  # made meanwhile: the manager's to say what then
                    raise
                self._made.append(path)
            elif name == "write":
                fs.write(path, op[2])
            elif name == "devices":
                from . import bpf_devices

                bpf_devices.install_code(path, bytes.fromhex(op[2]))
            else:
                raise ScriptDiverged(f"{name} {path}")

    @property
    def made(self) -> List[str]:
        """The directories this replay made, in order."""
        return list(self._made)

    def undo(self) -> None:
        """Remove the directories made, deepest first (their processes gone)."""
        while self._made:
            path = self._made.pop()
            try:
                self._fs.rmdir(path)
            except CgroupError:
                pass
