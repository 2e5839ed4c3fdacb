"""A fresh interpreter's first container (issue 18): what ``lc.run(["true"])``
imports, seen in that interpreter after the container ran."""

from __future__ import annotations

import subprocess
import sys

#: tests/unit/test_startup.py's LAZY and NOT_ON_THE_PATH (planned there without root; run here).
LAZY = ("libcontainer_py._netrun", "libcontainer_py.cni", "libcontainer_py.seccomp.agent", "libcontainer_py.rootless")
NOT_ON_THE_PATH = ("logging", "json", "shutil", "ipaddress", "lzma", "bz2", "hashlib", "socket")


def test_lc_run_true_imports_none_of_the_lazy_modules() -> None:
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"  # a venv's .pth files may import some (ipaddress)
        "import libcontainer_py as lc\n"
        "done = lc.run(['true'])\n"
        "assert done.returncode == 0 and done.stats is not None, done\n"
        f"print(' '.join(m for m in {LAZY + NOT_ON_THE_PATH!r} if m in set(sys.modules) - before))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
