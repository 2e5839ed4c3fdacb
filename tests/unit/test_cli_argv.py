"""The light commands' own reading of the command line agrees with argparse.

For each line, _argv.parse either declines (None: argparse reads it) or
gives exactly the values argparse's parser gives."""

from __future__ import annotations

import itertools
from typing import List, Optional

import pytest

from libcontainer_py.cli import _argv, _parser, parse_args

GLOBALS = [
    [],
    ["--root", "/r"],
    ["--root=/r"],
    ["--root="],
    ["--log", "/l", "--log-format", "json"],
    ["--log-format=text", "--debug"],
    ["--systemd-cgroup"],
    ["--rootless", "true", "--criu", "x"],
    ["--log-format", "xml"],  # a bad choice: argparse's error
    ["--ro", "/r"],  # an abbreviation: argparse's
    ["-h"],
    ["--version"],
    ["--root"],  # missing value
    ["--root", "--debug"],
]
COMMANDS = [
    ["start", "c1"],
    ["state", "c1"],
    ["pause", "c1"],
    ["resume", "c1"],
    ["delete", "c1"],
    ["delete", "-f", "c1"],
    ["delete", "c1", "--force"],
    ["delete", "--forc", "c1"],
    ["delete", "--force=1", "c1"],
    ["kill", "c1"],
    ["kill", "c1", "KILL"],
    ["kill", "--all", "c1", "9"],
    ["kill", "-a", "c1", "-9"],
    ["kill", "c1", "TERM", "extra"],
    ["list"],
    ["list", "-q"],
    ["list", "--format", "json"],
    ["list", "-f", "table", "--quiet"],
    ["list", "--format=json"],
    ["list", "-f=json"],
    ["list", "-fjson"],
    ["list", "--format", "yaml"],
    ["list", "extra"],
    ["ps", "c1"],
    ["ps", "--format", "json", "c1"],
    ["ps", "-f", "json", "c1", "-ef"],
    ["ps", "c1", "-o", "pid,cmd"],
    ["ps", "c1", "--format", "json"],
    ["ps", "c1", "--", "x"],
    ["ps", "--format", "yaml", "c1"],
    ["ps"],
    ["state"],
    ["state", "c1", "c2"],
    ["state", "-"],
    ["state", "--", "c1"],
    ["state", ""],
    ["start", "-h"],
    ["state", "--root", "/r", "c1"],  # a global flag after the command
    ["exec", "c1", "true"],
    ["exec", "c1"],
    ["exec", "c1", "sh", "-c", "echo hi"],
    ["exec", "c1", "-t", "true"],
    ["exec", "--detach", "--pid-file", "/p", "--process", "/proc.json", "c1"],
    ["exec", "-d", "-p=/proc.json", "c1"],
    ["exec", "-t", "--console-socket", "/s", "--cwd=/tmp", "-u", "1:2", "c1", "id"],
    ["exec", "--no-new-privs", "--ignore-paused", "--preserve-fds", "2", "c1", "ls", "-l"],
    ["exec", "--env", "A=1", "-e", "B=2", "--cap", "CAP_KILL", "c1", "env"],
    ["exec", "-g", "5", "--cgroup", "pids:sub", "c1", "id"],
    ["exec", "--tty=1", "c1", "true"],
    ["exec", "c1", "--", "true"],
    ["exec", "--user", "c1"],
    ["run", "c1"],
    ["run", "-d", "--keep", "-b", "b", "c1"],
    ["run", "--detach", "--bundle=b", "--no-pivot", "c1"],
    ["create", "--bundle", "b", "c1"],
    ["create", "-b", "b", "--pid-file", "/p", "--console-socket", "/s", "c1"],
    ["create", "--preserve-fds", "2", "--no-new-keyring", "c1"],
    ["create", "--preserve-fds=3", "c1"],
    ["create", "--preserve-fds", "x", "c1"],
    ["create", "--preserve-fds", " 2", "c1"],
    ["create", "--preserve-fds", "-1", "c1"],
    ["create", "-bb", "c1"],
    ["create", "--detach", "c1"],
    ["create", "--pid-file", "c1"],
    ["nosuch"],
    [],
]


def _argparse(argv: List[str]) -> Optional[dict]:
    try:
        return vars(_parser.build().parse_args(argv))
    except SystemExit:
        return None


@pytest.mark.parametrize("argv", [g + c for g, c in itertools.product(GLOBALS, COMMANDS)], ids=" ".join)
def test_light_reading_is_argparses(argv: List[str], capsys: pytest.CaptureFixture[str]) -> None:
    ours = _argv.parse(argv)
    theirs = _argparse(argv)
    capsys.readouterr()  # argparse's usage messages
    if ours is not None:
        assert theirs is not None and vars(ours) == theirs


def test_the_plain_lines_engines_use_are_read_lightly() -> None:
    for argv in (
        ["--root", "/run/x", "--log", "/l", "--log-format", "json", "start", "id"],
        ["--log-format=json", "delete", "--force", "id"],
        ["--root", "/r", "kill", "id", "9"],
        ["--root", "/r", "kill", "--all", "id", "SIGKILL"],
        ["state", "id"],
        ["list", "--format", "json"],
        ["ps", "--format", "json", "id"],
        ["ps", "id", "-ef"],
        ["--log-format=json", "--log", "/l", "create", "--bundle", "/b", "--pid-file", "/p", "id"],
        ["--root", "/r", "create", "--bundle", "/b", "--console-socket", "/s", "--pid-file", "/p", "id"],
        ["--root", "/r", "run", "--bundle", "/b", "-d", "id"],
    ):
        assert _argv.parse(argv) is not None, argv


def test_usage_errors_still_exit_1_and_help_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_args(["state"]) == 1
    assert parse_args(["list", "--format", "yaml"]) == 1
    assert parse_args(["state", "-h"]) == 0
    assert "usage:" in capsys.readouterr().out
    parsed = parse_args(["create", "--bundle", "b", "c1"])
    assert isinstance(parsed, _argv.Args) and parsed.bundle == "b"  # argparse's reading, as Args
