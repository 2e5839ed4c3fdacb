"""The start-up shortcuts (_shortcuts.py): the C halves when CPython has
them, the public modules when it has not, and nothing else imports a C half."""

from __future__ import annotations

import ast
import hashlib
import os
import signal
import subprocess
import sys

import pytest

from libcontainer_py import _shortcuts

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGE = os.path.join(REPO, "libcontainer_py")
C_HALVES = ("_json", "_signal", "_socket", "_pickle", "_struct", "_io", "_sha2", "_sha256")

#: Uses every shortcut and prints what it got.
_EXERCISE = """
import sys
from libcontainer_py import _shortcuts, _jsonlite
from libcontainer_py._shortcuts import io, pickle, signal, socket, struct
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
sock.close()
modules = {"signal": signal, "socket": socket, "pickle": pickle, "struct": struct, "io": io}
print(_shortcuts.json_accelerator is not None, *(
    "C" if sys.modules.get("_" + name) is module else module.__name__ for name, module in modules.items()))
print(_jsonlite.loads(_jsonlite.dumps({"a": [1, 2.5, None, "\\u00e9"]})) == {"a": [1, 2.5, None, "\\u00e9"]})
print(pickle.loads(pickle.dumps((1, "x"))) == (1, "x"), struct.Struct(">cQ").size, io.BytesIO(b"x").read())
print(_shortcuts.signal_number("SIGTERM"), type(_shortcuts.signal_number("SIGTERM")).__name__,
      _shortcuts.signal_number("SIG_DFL"), _shortcuts.signal_number("sigterm"), _shortcuts.signal_number("SIGNOPE"))
print(_shortcuts.sha256_hex(b"abc"))
"""


def _run(without: tuple[str, ...]) -> list[str]:
    """Run _EXERCISE where the C halves ``without`` cannot be imported (the
    public modules are loaded first: they need them here, not on an
    interpreter that has none)."""
    hide = "".join(f"sys.modules[{name!r}] = None; " for name in without)
    public = "import json, signal, socket, pickle, struct, io, hashlib, libcontainer_py; " if without else ""
    code = f"import sys; {public}{hide}\n{_EXERCISE}"
    # -S: no site (an editable install's import hook); the package from the checkout
    done = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def _expected_tail() -> list[str]:
    return [
        "True",
        "True 9 b'x'",
        f"{int(signal.SIGTERM)} int None None None",
        hashlib.sha256(b"abc").hexdigest(),
    ]


def test_the_c_halves_are_used_where_cpython_has_them() -> None:
    lines = _run(())
    assert lines[0] == "True C C C C C"
    assert lines[1:] == _expected_tail()


def test_each_shortcut_falls_back_to_the_public_module() -> None:
    lines = _run(tuple(name for name in C_HALVES if name != "_io"))  # the import system itself needs _io
    assert lines[0] == "False signal socket pickle struct C"
    assert lines[1:] == _expected_tail()


def test_signal_numbers_are_signals() -> None:
    assert _shortcuts.signal_number("SIGKILL") == signal.SIGKILL
    assert _shortcuts.signal.SIGRTMIN == signal.SIGRTMIN


def test_no_other_module_imports_a_c_half() -> None:
    found = []
    for directory, _, files in os.walk(PACKAGE):
        for name in files:
            path = os.path.join(directory, name)
            if not name.endswith(".py") or path.endswith(("_shortcuts.py", "_libseccomp_ffi.py")):
                continue
            with open(path, encoding="utf-8") as f:
                tree = ast.parse(f.read())
            for node in ast.walk(tree):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                    if isinstance(node, ast.ImportFrom) and not node.level
                    else []
                )
                found += [f"{os.path.relpath(path, REPO)}: {n}" for n in names if n.split(".")[0] in C_HALVES]
    assert not found


def test_sha256_finds_its_constructor_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failed import (``_sha2`` before 3.12) searches all of sys.path: once, not per call."""
    import builtins

    _shortcuts.sha256_hex(b"")

    def no_import(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"imported {args[0]!r}")

    monkeypatch.setattr(builtins, "__import__", no_import)
    assert _shortcuts.sha256_hex(b"abc") == hashlib.sha256(b"abc").hexdigest()
