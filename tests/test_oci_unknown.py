"""Unknown properties of config.json are ignored (the spec: runtimes MUST
NOT generate an error), with a warning naming them; beside runc, which
ignores them silently."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from support.oci import spec_bundle

RUNC = "/usr/sbin/runc"


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
    runs = {}
    for name, argv in (("ours", [*cli, "run"]), ("runc", [RUNC, "--root", str(tmp_path / "runc"), "run"])):
        r = subprocess.run(
            [*argv, "--bundle", str(bundle), f"unk-{name}"], capture_output=True, text=True, stdin=subprocess.DEVNULL
        )
        assert r.returncode == 0, (name, r.stderr)
        runs[name] = r
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
