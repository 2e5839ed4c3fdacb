"""The teaching notebooks of docs/notebooks/ run as they are committed: each is
executed from a clean kernel (nbclient, as root), no cell may fail, and
nothing they made is left on the machine.  The committed copies carry the
outputs of a real run, so that they read well where they are not run."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
from typing import Any, Dict, List

import nbformat
import pytest

import libcontainer_py as lc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOKS = sorted(glob.glob(os.path.join(ROOT, "docs", "notebooks", "*.ipynb")))

#: Executes a notebook in its own directory and writes it, outputs and all,
#: to argv[2]; a subprocess, so the kernel's sockets and fds are never this
#: process's.
RUNNER = """
import os, sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=300, kernel_name="python3",
               resources={"metadata": {"path": os.path.dirname(sys.argv[1])}}).execute()
nbformat.write(nb, sys.argv[2])
"""


def outputs(nb: Any) -> List[Dict[str, Any]]:
    return [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]


def test_there_are_the_lessons() -> None:
    names = [os.path.basename(p) for p in NOTEBOOKS]
    assert names[:3] == [
        "01-containers-from-scratch.ipynb",
        "02-cgroups-you-can-see.ipynb",
        "03-layers-and-images.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[os.path.basename(p) for p in NOTEBOOKS])
def test_committed_with_the_outputs_of_a_run(path: str) -> None:
    nb = nbformat.read(path, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code and [cell.execution_count for cell in code] == list(range(1, len(code) + 1))
    assert not [out for out in outputs(nb) if out.output_type == "error"]
    assert not [cell for cell in code if "from support" in cell.source or "tests/" in cell.source]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[os.path.basename(p) for p in NOTEBOOKS])
def test_notebook_runs_and_leaves_nothing(path: str, tmp_path: Any, no_leaks: None) -> None:
    executed = str(tmp_path / os.path.basename(path))
    r = subprocess.run([sys.executable, "-c", RUNNER, path, executed], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-5000:]
    nb = nbformat.read(executed, as_version=4)
    assert not [out for out in outputs(nb) if out.output_type == "error"]
    assert len(outputs(nb)) >= len([c for c in nb.cells if c.cell_type == "code"]) // 2  # it really ran
    # the lessons name their containers nb-*; other ids on the machine are not theirs
    assert not [c.id for c in lc.Container.list() if c.id.startswith("nb-")]
    left = glob.glob("/sys/fs/cgroup/*/libcontainer_py/nb-*")
    assert not left, left
