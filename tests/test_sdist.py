"""The sdist and the wheel as a new user gets them: built from a clean copy
of the tree with ``python -m build``, the sdist installed in a fresh venv,
and a container run from there."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# What a fresh clone does not have (build products, caches, environments).
_NOT_IN_A_CLONE = shutil.ignore_patterns(
    ".git", ".venv", ".tox", "build", "dist", "*.egg-info", "__pycache__", "*.so", "*.o", "_lcnative.c",
    "_libseccomp_ffi.py", ".mypy_cache", ".ruff_cache", ".pytest_cache",
)  # fmt: skip


def test_build_install_and_run_from_the_sdist(tmp_path: Any) -> None:
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=_NOT_IN_A_CLONE, symlinks=True)
    built = subprocess.run(
        [sys.executable, "-m", "build", "-o", str(tmp_path / "dist"), str(src)], capture_output=True, text=True
    )
    output = built.stdout + built.stderr
    assert built.returncode == 0, output
    assert "Deprecat" not in output and "SetuptoolsWarning" not in output, output
    (sdist,) = glob.glob(str(tmp_path / "dist" / "*.tar.gz"))
    (wheel,) = glob.glob(str(tmp_path / "dist" / "*.whl"))
    assert os.path.basename(wheel).endswith("-cp39-abi3-linux_x86_64.whl") or "-abi3-" in os.path.basename(wheel)

    with tarfile.open(sdist) as tar:
        members = {m.name.split("/", 1)[1] for m in tar.getmembers() if "/" in m.name}
    needed = {"LICENSE", "MANIFEST.in", "tox.ini", "setup.py", "_native/build.py", "_native/lc_native.h",
              "_native/child.h", "_native/executor.c", "tests/conftest.py", "tests/support/busybox.py",
              "docs/getting-started.md", "libcontainer_py/py.typed"}  # fmt: skip
    assert needed <= members, needed - members
    assert not {m for m in members if m.endswith((".so", ".pyc")) or m == "libcontainer_py/_lcnative.c"}

    with zipfile.ZipFile(wheel) as whl:
        names = whl.namelist()
    assert any(n.startswith("libcontainer_py/_lcnative.") and n.endswith(".abi3.so") for n in names)
    assert "libcontainer_py/py.typed" in names and any(n.endswith("licenses/LICENSE") for n in names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    pip = subprocess.run([python, "-m", "pip", "install", "-q", sdist], capture_output=True, text=True)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    check = (
        "import importlib.metadata as m, libcontainer_py as lc\n"
        "assert lc.__version__ == m.version('libcontainer_py'), lc.__version__\n"
        "assert 'site-packages' in lc.__file__, lc.__file__\n"
        "r = lc.run(['readlink', '/proc/self/ns/pid'], capture_output=True, text=True, check=True)\n"
        "print(r.stdout, end='')\n"
    )
    ran = subprocess.run([python, "-c", check], capture_output=True, text=True, cwd=str(tmp_path))
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("pid:[") and ran.stdout != os.readlink("/proc/self/ns/pid") + "\n"  # its own
