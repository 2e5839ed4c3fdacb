"""The command lines of the light commands, read without argparse.

argparse (with re, gettext and locale) costs ~6 ms per start, and engines
run ``start``, ``state``, ``kill`` and ``delete`` once or more per
container.  ``parse`` reads only the plain spellings engines use -- full
flag names, ``--flag value`` or ``--flag=value``, the positional
arguments -- and returns exactly what argparse's parser returns for them
(tests/unit/test_cli_argv.py compares the two).  Anything else (``-h``, an
abbreviation, a bad value, a missing id, a flag it does not know) gives
None, and argparse then reads the line and answers as it always did.
"""

from __future__ import annotations

import os

from .._statedir import DEFAULT_ROOT

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Tuple

#: Global flags that take a value, with argparse's defaults.
_GLOBAL_VALUED: Dict[str, Tuple[str, str]] = {
    "--root": ("root", DEFAULT_ROOT),
    "--log": ("log", ""),
    "--log-format": ("log_format", "text"),
    "--rootless": ("rootless", "auto"),
    "--criu": ("criu", ""),
}
#: Global switches.
_GLOBAL_SWITCHES: Dict[str, str] = {"--debug": "debug", "--systemd-cgroup": "systemd_cgroup"}
_CHOICES: Dict[str, Tuple[str, ...]] = {"log_format": ("text", "json"), "format": ("table", "json")}
#: Fields argparse reads with type=int (this parser: plain decimal digits only).
_INTS = frozenset({"preserve_fds"})

#: The flags of run, create and exec for the process's terminal, pid file and fds.
_PROCESS_IO: Dict[str, Tuple[str, str]] = {
    "--console-socket": ("console_socket", ""),
    "--pid-file": ("pid_file", ""),
    "--preserve-fds": ("preserve_fds", "0"),
}
_DETACH = {"-d": "detach", "--detach": "detach"}
#: What create and run both take.
_CREATE_SWITCHES: Dict[str, str] = {"--no-pivot": "no_pivot", "--no-new-keyring": "no_new_keyring"}
_CREATE_VALUED: Dict[str, Tuple[str, str]] = {"-b": ("bundle", ""), "--bundle": ("bundle", ""), **_PROCESS_IO}

#: command -> (switches, valued flags with their defaults, positional names, how many may be left out)
_COMMANDS: Dict[str, Tuple[Dict[str, str], Dict[str, Tuple[str, str]], Tuple[str, ...], int]] = {
    "start": ({}, {}, ("container_id",), 0),
    "state": ({}, {}, ("container_id",), 0),
    "pause": ({}, {}, ("container_id",), 0),
    "resume": ({}, {}, ("container_id",), 0),
    "delete": ({"-f": "force", "--force": "force"}, {}, ("container_id",), 0),
    "kill": ({"-a": "all", "--all": "all"}, {}, ("container_id", "signal"), 1),
    "list": (
        {"-q": "quiet", "--quiet": "quiet"},
        {"-f": ("format", "table"), "--format": ("format", "table")},
        (),
        0,
    ),
    "create": (_CREATE_SWITCHES, _CREATE_VALUED, ("container_id",), 0),
    "run": (
        {**_CREATE_SWITCHES, **_DETACH, "--keep": "keep"},
        _CREATE_VALUED,
        ("container_id",),
        0,
    ),
    # ps: what follows the id is ps's own arguments (argparse's REMAINDER)
    "ps": ({}, {"-f": ("format", "table"), "--format": ("format", "table")}, ("container_id",), 0),
    # exec: what follows the id is the command (argparse's REMAINDER); the
    # flags given more than once (--env, --cap, --cgroup, -g) are argparse's
    "exec": (
        {
            "-t": "tty",
            "--tty": "tty",
            **_DETACH,
            "--no-new-privs": "no_new_privs",
            "--ignore-paused": "ignore_paused",
        },
        {
            "--cwd": ("cwd", ""),
            "-u": ("user", ""),
            "--user": ("user", ""),
            "-p": ("process", ""),
            "--process": ("process", ""),
            **_PROCESS_IO,
        },
        ("container_id",),
        0,
    ),
}
#: Commands whose arguments after the positional ones go, as they are, to this field.
_REMAINDER = {"ps": "ps_args", "exec": "args"}
#: Commands' list flags this parser leaves to argparse: their empty defaults.
_LISTS = {"exec": ("env", "additional_gids", "cap", "cgroup")}
_POSITIONAL_DEFAULTS = {"signal": "SIGTERM"}


class Args:
    """What argparse's Namespace holds for a command line (attributes)."""

    def __init__(self, values: Dict[str, object]) -> None:
        self.__dict__.update(values)

    if TYPE_CHECKING:  # any command's flags, as on argparse.Namespace

        def __getattr__(self, name: str) -> Any: ...


def _take(
    argv: List[str], i: int, switches: Dict[str, str], valued: Dict[str, Tuple[str, str]], out: Dict[str, object]
) -> int:
    """Read the flag at argv[i] into ``out``; the index after it, or -1
    when it is not one this parser reads."""
    arg = argv[i]
    if arg in switches:
        out[switches[arg]] = True
        return i + 1
    name, eq, value = arg.partition("=")
    if name not in valued or (eq and not name.startswith("--")):
        return -1
    if not eq:
        if i + 1 >= len(argv) or argv[i + 1].startswith("-"):
            return -1  # argparse would complain (or read it otherwise)
        value = argv[i + 1]
    dest = valued[name][0]
    if dest in _CHOICES and value not in _CHOICES[dest]:
        return -1
    if dest in _INTS:
        if not (value.isascii() and value.isdigit()):
            return -1
        out[dest] = int(value)
    else:
        out[dest] = value
    return i + 1 if eq else i + 2


def parse(argv: List[str]) -> Optional[Args]:
    """The parsed command line of a light command, or None (argparse's turn)."""
    values: Dict[str, object] = {dest: default for dest, default in _GLOBAL_VALUED.values()}
    values.update((dest, False) for dest in _GLOBAL_SWITCHES.values())
    values["version"] = False
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        i = _take(argv, i, _GLOBAL_SWITCHES, _GLOBAL_VALUED, values)
        if i < 0:
            return None
    if i >= len(argv) or argv[i] not in _COMMANDS:
        return None
    command = argv[i]
    switches, valued, positional, optional = _COMMANDS[command]
    values["command"] = command
    values.update((dest, False) for dest in switches.values())
    values.update((dest, int(default) if dest in _INTS else default) for dest, default in valued.values())
    values.update((dest, []) for dest in _LISTS.get(command, ()))
    given: List[str] = []
    rest = _REMAINDER.get(command)
    i += 1
    while i < len(argv):
        if rest is not None and len(given) == len(positional):
            if "--" in argv[i:]:
                return None  # argparse drops it (and more): its reading
            values[rest] = argv[i:]
            break
        if argv[i].startswith("-"):
            i = _take(argv, i, switches, valued, values)
            if i < 0:
                return None
        else:
            given.append(argv[i])
            i += 1
    if not len(positional) - optional <= len(given) <= len(positional):
        return None
    if rest is not None:
        values.setdefault(rest, [])
    for n, name in enumerate(positional):
        values[name] = given[n] if n < len(given) else _POSITIONAL_DEFAULTS[name]
    return Args(values)


def root_of(args: Args) -> str:
    """The state root the command line names (--root), absolute."""
    return os.path.abspath(str(args.root))
