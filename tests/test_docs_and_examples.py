"""Every example runs, and every python block in docs/ runs as written."""

from __future__ import annotations

import glob
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: Every example (``_checks.py`` is what they share, not one of them).
EXAMPLES = sorted(
    p for p in glob.glob(os.path.join(ROOT, "examples", "*.py")) if not os.path.basename(p).startswith("_")
)


def doc_blocks() -> list:
    blocks = []
    for path in sorted(glob.glob(os.path.join(ROOT, "docs", "*.md"))):
        with open(path) as f:
            text = f.read()
        for i, block in enumerate(re.findall(r"```python\n(.*?)```", text, flags=re.S)):
            blocks.append(pytest.param(block, id=f"{os.path.basename(path)}#{i}"))
    return blocks


def run_python(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_there_are_examples_and_doc_blocks() -> None:
    assert len(EXAMPLES) >= 4 and len(doc_blocks()) >= 5


@pytest.mark.parametrize("path", EXAMPLES, ids=[os.path.basename(p) for p in EXAMPLES])
def test_example_runs(path: str, no_leaks: None) -> None:
    r = run_python(path)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("block", doc_blocks())
def test_doc_block_runs(block: str, no_leaks: None) -> None:
    r = run_python("-c", block)
    assert r.returncode == 0, r.stdout + r.stderr
