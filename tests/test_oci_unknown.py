"""Unknown properties of config.json are ignored (the spec: runtimes MUST
NOT generate an error), with a warning naming them; beside runc, which
ignores them silently."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from support.oci import RUNC, call, run_beside_runc, spec_bundle


def test_unknown_properties_run_beside_runc(tmp_path: Path) -> None:
    bundle, cli = spec_bundle(tmp_path, {"args": ["sh", "-c", "cat /proc/self/status | grep ^NoNewPrivs; echo ok"]})
    doc = json.loads((bundle / "config.json").read_text())
    doc["root"]["path"] = str(bundle / "rootfs")
    doc["futureTop"] = {"a": 1}
    doc["windows"] = {"layerFolders": []}
    doc["process"]["futureProcess"] = True
    doc["process"]["noNewPrivileges"] = True
    doc["mounts"][0]["futureMount"] = "x"
    doc["linux"]["futureLinux"] = []
    doc["linux"]["resources"]["memory"] = {"limit": 64 << 20, "futureMemory": 1}
    doc["linux"]["namespaces"][0]["futureNs"] = 1
    (bundle / "config.json").write_text(json.dumps(doc))
    runs = run_beside_runc(bundle, cli, tmp_path, "unk")
    assert runs["ours"].stdout == runs["runc"].stdout == "NoNewPrivs:\t1\nok\n"
    warned = runs["ours"].stderr
    for path in (
        "futureTop",
        "process.futureProcess",
        "mounts[0].futureMount",
        "linux.futureLinux",
        "linux.resources.memory.futureMemory",
        "linux.namespaces[0].futureNs",
    ):
        assert f"{path}" in warned, path
    assert "windows ignored: it is for another platform than Linux" in warned
    assert warned.count("level=warning") == 7


def test_exec_process_file_with_unknown_properties(tmp_path: Path) -> None:
    """exec --process: the process object's unknown properties are ignored
    too (logged), as runc ignores them."""
    bundle, cli = spec_bundle(tmp_path, {"args": ["sleep", "60"]})
    doc = json.loads((bundle / "config.json").read_text())
    doc["root"]["path"] = str(bundle / "rootfs")
    (bundle / "config.json").write_text(json.dumps(doc))
    process = tmp_path / "process.json"
    process.write_text(json.dumps({"args": ["echo", "in"], "cwd": "/", "env": ["PATH=/bin"], "futureExec": {"x": 1}}))
    tools = (("ours", cli), ("runc", [RUNC, "--root", str(tmp_path / "runc")]))
    try:
        for name, argv in tools:
            status, out = call([*argv, "run", "-d", "--bundle", str(bundle), f"unkx-{name}"])
            assert status == 0, (name, out)
            r = subprocess.run(
                [*argv, "exec", "--process", str(process), f"unkx-{name}"], capture_output=True, text=True, timeout=60
            )
            assert (r.returncode, r.stdout) == (0, "in\n"), (name, r.stderr)
            if name == "ours":
                assert "unknown property ignored: process.futureExec" in r.stderr
    finally:
        for name, argv in tools:
            subprocess.run([*argv, "delete", "--force", f"unkx-{name}"], capture_output=True)
