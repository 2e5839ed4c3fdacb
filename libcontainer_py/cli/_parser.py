"""argparse's reading of the command line: every command's flags, help and
usage errors (the light commands' plain lines are read by _argv first)."""

from __future__ import annotations

import argparse

from .._statedir import DEFAULT_ROOT
from ._commands import COMMANDS

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from typing import List, Optional


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter, asking for the terminal's width only when it
    formats (every add_argument() makes a formatter to check the metavar,
    and the width comes from shutil, whose import costs milliseconds)."""

    def __init__(
        self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: Optional[int] = None
    ) -> None:
        self._deferred = max_help_position if width is None else None
        super().__init__(prog, indent_increment, max_help_position, 10**6 if width is None else width)

    def format_help(self) -> str:
        if self._deferred is not None:  # what HelpFormatter.__init__ does without a width
            import shutil

            width = shutil.get_terminal_size().columns - 2
            self._max_help_position = min(self._deferred, max(width - 20, self._indent_increment * 2))
            self._width = width
            self._deferred = None
        return super().format_help()


#: Global flags that take a value (the others take none).
_VALUED = frozenset({"--root", "--log", "--log-format", "--rootless", "--criu"})
_FLAGS = frozenset({"--debug", "--systemd-cgroup", "-v", "--version"})


def command_of(argv: List[str]) -> Optional[str]:
    """The command of a command line whose global flags are all spelled out
    in full (``--root X`` or ``--root=X``), else None: then the whole parser
    is built, so abbreviations, ``-h`` and errors behave exactly as always."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in _VALUED:
            i += 2
        elif arg in _FLAGS or (arg.startswith("--") and arg.split("=", 1)[0] in _VALUED and "=" in arg):
            i += 1
        else:
            return arg if arg in COMMANDS else None
    return None


def build(only: Optional[str] = None) -> argparse.ArgumentParser:
    """The parser of every command, or only of the command ``only`` (each
    subparser costs time to build; the others cannot match anyway)."""
    p = argparse.ArgumentParser(
        prog="libcontainer-py", description="a runc-compatible OCI runtime in Python", formatter_class=_Formatter
    )
    p.add_argument(
        "--root", default=DEFAULT_ROOT, help=f"root directory for storage of container state (default: {DEFAULT_ROOT})"
    )
    p.add_argument("--log", default="", help="set the log file to write libcontainer-py logs to (default is stderr)")
    p.add_argument("--log-format", default="text", choices=("text", "json"), help="set the log format")
    p.add_argument("--debug", action="store_true", help="enable debug logging")
    p.add_argument("--systemd-cgroup", action="store_true", help="not supported: the systemd cgroup driver")
    p.add_argument("--rootless", default="auto", help="accepted for compatibility (auto|true|false)")
    p.add_argument("--criu", default="", help=argparse.SUPPRESS)
    p.add_argument("-v", "--version", action="store_true", help="print the version")
    # prog given: what argparse would compute (formatting the usage, which needs the terminal width)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", prog="libcontainer-py")
    for name, (_, text) in COMMANDS.items():
        if only is not None and name != only:
            continue
        sp = sub.add_parser(name, help=text, description=text, formatter_class=_Formatter)
        _ARGS[name](sp)
    return p


def _id(p: argparse.ArgumentParser) -> None:
    p.add_argument("container_id", metavar="ID")


def _create_args(p: argparse.ArgumentParser, *, run: bool) -> None:
    _id(p)
    p.add_argument("-b", "--bundle", default="", help="path to the root of the bundle directory (default: cwd)")
    p.add_argument(
        "--console-socket", default="", help="path to an AF_UNIX socket which will receive the pty master fd"
    )
    p.add_argument("--pid-file", default="", help="file to write the process id to")
    p.add_argument("--no-pivot", action="store_true", help="do not use pivot root to jail the process inside rootfs")
    p.add_argument("--no-new-keyring", action="store_true", help="do not make a new session keyring for the container")
    p.add_argument("--preserve-fds", type=int, default=0, help="pass N additional file descriptors to the container")
    if run:
        p.add_argument("-d", "--detach", action="store_true", help="detach from the container's process")
        p.add_argument("--keep", action="store_true", help="do not delete the container after it exits")


def _spec_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-b", "--bundle", default="", help="path to the root of the bundle directory")
    p.add_argument("--rootless", action="store_true", help="generate a configuration for a rootless container")


def _kill_args(p: argparse.ArgumentParser) -> None:
    _id(p)
    p.add_argument("signal", nargs="?", default="SIGTERM", metavar="SIGNAL")
    p.add_argument("-a", "--all", action="store_true", help="send the signal to all processes in the container")


def _delete_args(p: argparse.ArgumentParser) -> None:
    _id(p)
    p.add_argument(
        "-f", "--force", action="store_true", help="forcibly delete the container if it is still running (SIGKILL)"
    )


def _list_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--format", default="table", choices=("table", "json"))
    p.add_argument("-q", "--quiet", action="store_true", help="display only container IDs")


def _ps_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--format", default="table", choices=("table", "json"))
    _id(p)
    p.add_argument("ps_args", nargs=argparse.REMAINDER, metavar="PS_ARGS")


def _events_args(p: argparse.ArgumentParser) -> None:
    _id(p)
    p.add_argument("--stats", action="store_true", help="display the container's stats then exit")
    p.add_argument("--interval", default="5s", help="set the stats collection interval")


def _exec_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--console-socket", default="")
    p.add_argument("--cwd", default="")
    p.add_argument("-e", "--env", action="append", default=[])
    p.add_argument("-t", "--tty", action="store_true")
    p.add_argument("-u", "--user", default="", help="UID (format: <uid>[:<gid>])")
    p.add_argument("--additional-gids", "-g", action="append", type=int, default=[])
    p.add_argument("-p", "--process", default="", help="path to the process.json")
    p.add_argument("-d", "--detach", action="store_true")
    p.add_argument("--pid-file", default="")
    p.add_argument("--no-new-privs", action="store_true")
    p.add_argument("--cap", "-c", action="append", default=[])
    p.add_argument("--preserve-fds", type=int, default=0)
    p.add_argument("--ignore-paused", action="store_true", help="allow exec in a paused container")
    p.add_argument(
        "--cgroup",
        action="append",
        default=[],
        help="run the process in an (existing) sub-cgroup(s). Format is [<controller>:]<cgroup>.",
    )
    _id(p)
    p.add_argument("args", nargs=argparse.REMAINDER, metavar="COMMAND")


def _update_args(p: argparse.ArgumentParser) -> None:
    _id(p)
    p.add_argument("-r", "--resources", default="", help="path to a file with the linux resources JSON ('-' for stdin)")
    p.add_argument("--memory", default="", help="memory limit (in bytes; k, m, g suffixes)")
    p.add_argument("--memory-reservation", default="", help="memory reservation or soft limit (in bytes)")
    p.add_argument("--memory-swap", default="", help="total memory usage (memory + swap); -1: unlimited swap")
    p.add_argument("--pids-limit", type=int, default=None)
    p.add_argument("--cpu-share", "--cpu-shares", dest="cpu_shares", type=int, default=None, help="CPU shares")
    p.add_argument("--cpu-quota", type=int, default=None)
    p.add_argument("--cpu-period", type=int, default=None)
    p.add_argument("--cpu-rt-period", type=int, default=None, help="CPU realtime period (in usecs)")
    p.add_argument("--cpu-rt-runtime", type=int, default=None, help="CPU realtime runtime (in usecs)")
    p.add_argument("--cpuset-cpus", default="", help="CPU(s) to use")
    p.add_argument("--cpuset-mems", default="", help="memory node(s) to use")
    p.add_argument("--blkio-weight", type=int, default=None, help="per cgroup weight, 10 to 1000")
    p.add_argument("--l3-cache-schema", default="", help="refused: Intel RDT is not supported")
    p.add_argument("--mem-bw-schema", default="", help="refused: Intel RDT is not supported")


#: Commands that take whatever flags an engine passes and refuse clearly.
REFUSED = frozenset({"checkpoint", "restore"})


def _anything(p: argparse.ArgumentParser) -> None:
    p.add_argument("rest", nargs=argparse.REMAINDER)


_ARGS = {
    "spec": _spec_args,
    "create": lambda p: _create_args(p, run=False),
    "run": lambda p: _create_args(p, run=True),
    "start": _id,
    "kill": _kill_args,
    "pause": _id,
    "resume": _id,
    "delete": _delete_args,
    "state": _id,
    "list": _list_args,
    "ps": _ps_args,
    "events": _events_args,
    "features": lambda p: None,
    "exec": _exec_args,
    "update": _update_args,
    "checkpoint": _anything,
    "restore": _anything,
}
