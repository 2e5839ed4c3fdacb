"""The repository's own promises: CI runs the README's commands (whose test
command runs ruff and mypy, then the suite)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)


def readme_commands() -> list:
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    return re.findall(r"```sh\n(.*?)\n```", text, flags=re.S)


def test_readme_has_exactly_two_setup_commands() -> None:
    commands = readme_commands()
    assert len(commands) == 2
    assert all("\n" not in c for c in commands)
    assert "examples/demo.py" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    with open(os.path.join(ROOT, ".ci", "run")) as f:
        lines = [ln for ln in f.read().splitlines() if ln and not ln.startswith(("#", "set ", "cd ", "export "))]
    assert lines == [readme_commands()[1]]
