"""A bundle made by `runc spec` loads into a Config and runs (root, real kernel)."""

from __future__ import annotations

import json
import os
import subprocess
import warnings
from typing import Any, Dict

import pytest
from support.busybox import make_rootfs

import libcontainer_py as lc
from libcontainer_py import oci


def runc_spec(bundle: str, *args: str) -> Dict[str, Any]:
    subprocess.run(["runc", "spec", *args], cwd=bundle, check=True)
    with open(os.path.join(bundle, "config.json")) as f:
        doc: Dict[str, Any] = json.load(f)
    return doc


def write(bundle: str, doc: Dict[str, Any]) -> None:
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(doc, f)


@pytest.fixture
def bundle(tmp_path: Any) -> str:
    path = str(tmp_path / "bundle")
    os.makedirs(path)
    make_rootfs(os.path.join(path, "rootfs"))
    return path


def load(bundle: str) -> oci.OciConfig:
    with warnings.catch_warnings():
        # runc spec puts ambient capabilities without inheritable ones
        warnings.simplefilter("ignore", oci.OciWarning)
        return oci.load_bundle(bundle)


def test_runc_spec_bundle_runs(bundle: str) -> None:
    doc = runc_spec(bundle)
    doc["process"]["args"] = ["/bin/true"]
    doc["process"]["terminal"] = False
    write(bundle, doc)
    oc = load(bundle)
    assert oc.config.rootfs is not None and oc.config.rootfs.path == os.path.join(bundle, "rootfs")
    assert lc.run(config=oc.config).returncode == 0


def test_runc_spec_bundle_is_what_the_container_sees(bundle: str) -> None:
    doc = runc_spec(bundle)
    script = (
        "hostname; ulimit -n; grep -E '^Cap(Bnd|Eff|Amb)' /proc/self/status; grep NoNewPrivs /proc/self/status;"
        " grep ' /sys/fs/cgroup ' /proc/self/mountinfo; cat /sys/fs/cgroup/pids/pids.max;"
        " touch /x 2>/dev/null && echo rw || echo ro;"
        " test -c /dev/null && echo null; echo $TERM"
    )
    doc["process"]["args"] = ["/bin/sh", "-c", script]
    doc["process"]["terminal"] = False
    write(bundle, doc)
    r = lc.run(config=load(bundle).config, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "runc"
    assert lines[1] == "1024"
    caps = 1 << 5 | 1 << 10 | 1 << 29  # KILL, NET_BIND_SERVICE, AUDIT_WRITE
    assert lines[2].split() == ["CapEff:", f"{caps:016x}"]
    assert lines[3].split() == ["CapBnd:", f"{caps:016x}"]
    assert lines[4].split() == ["CapAmb:", f"{0:016x}"]  # ambient without inheritable: dropped
    assert lines[5].split() == ["NoNewPrivs:", "1"]
    # type "cgroup": the container's own hierarchies in a read-only tmpfs
    assert " - tmpfs " in lines[6] and " ro," in lines[6]
    assert lines[7] == "max"  # its own pids cgroup (no limit in runc's spec)
    assert lines[8:] == ["ro", "null", "xterm"]


def test_written_back_and_read_again_runs(bundle: str) -> None:
    doc = runc_spec(bundle)
    doc["process"]["args"] = ["/bin/sh", "-c", "exit 7"]
    doc["process"]["terminal"] = False
    write(bundle, doc)
    config = load(bundle).config
    again = oci.config_from_oci(json.loads(json.dumps(oci.config_to_oci(config)))).config
    assert again == config
    assert lc.run(config=again).returncode == 7


def test_rootless_runc_spec_loads(tmp_path: Any) -> None:
    doc = runc_spec(str(tmp_path), "--rootless")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", oci.OciWarning)
        config = oci.config_from_oci(doc, bundle=str(tmp_path)).config
    assert config.namespaces.user is True
    assert config.uid_mappings and config.gid_mappings
    # rbind with plain flags: they are the top mount's, as with runc
    assert config.mounts.find("/sys") == lc.Mount(
        "/sys", "bind", "/sys", nosuid=True, nodev=True, noexec=True, readonly=True, recursive=True
    )
