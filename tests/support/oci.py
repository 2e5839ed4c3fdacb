"""OCI bundles for command-line tests: the config.json of our ``spec`` on a
busybox root filesystem, with its process and linux sections edited."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .busybox import make_rootfs

RUNC = "/usr/sbin/runc"


def spec_bundle(
    tmp_path: Path, process: Mapping[str, Any], linux: Optional[Mapping[str, Any]] = None
) -> Tuple[Path, List[str]]:
    """A bundle under ``tmp_path`` and the command line that runs on it
    (``python -m libcontainer_py --root <tmp_path>/state``).  The process
    gets no terminal unless ``process`` says otherwise."""
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    make_rootfs(str(bundle / "rootfs"))
    cli = [sys.executable, "-m", "libcontainer_py", "--root", str(tmp_path / "state")]
    subprocess.run([*cli, "spec"], cwd=bundle, check=True)
    doc = json.loads((bundle / "config.json").read_text())
    doc["process"].update({"terminal": False, **process})
    doc["linux"].update(linux or {})
    (bundle / "config.json").write_text(json.dumps(doc))
    return bundle, cli


def run_beside_runc(
    bundle: Path, cli: List[str], tmp_path: Path, prefix: str
) -> Dict[str, subprocess.CompletedProcess[str]]:
    """``run`` the bundle with ours (``cli``) and with runc (its state under
    ``tmp_path``/runc), as containers ``<prefix>-ours`` and ``<prefix>-runc``;
    both must exit 0.  Their results, by name."""
    runs = {}
    for name, argv in (("ours", [*cli, "run"]), ("runc", [RUNC, "--root", str(tmp_path / "runc"), "run"])):
        r = subprocess.run(
            [*argv, "--bundle", str(bundle), f"{prefix}-{name}"],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        assert r.returncode == 0, (name, r.stderr)
        runs[name] = r
    return runs


def call(argv: List[str]) -> Tuple[int, str]:
    """Run ``argv``; its status and output (stdout and stderr).  A file, not
    a pipe: a created container holds its stdout open after the command."""
    with tempfile.TemporaryFile("w+") as out:
        status = subprocess.run(argv, stdout=out, stderr=out, stdin=subprocess.DEVNULL).returncode
        out.seek(0)
        return status, out.read()
