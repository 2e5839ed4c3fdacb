"""linux.resources.memory.kernel and kernelTCP: a config carrying them runs
with all its limits; kernelTCP is the v1 memory.kmem.tcp limit, kernel is
ignored with a warning.  As the container's own cgroup files show them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from support.observe import inside
from support.oci import run_beside_runc, spec_bundle

import libcontainer_py as lc

MB = 1 << 20
READ = (
    "cd /sys/fs/cgroup; cat memory/memory.limit_in_bytes memory/memory.kmem.tcp.limit_in_bytes"
    " memory/memory.kmem.limit_in_bytes pids/pids.max"
)
UNLIMITED = "9223372036854771712"


def test_kernel_tcp_limit_in_the_containers_cgroup(busybox: str, no_leaks: None) -> None:
    config = lc.Config(
        rootfs=busybox,
        cgroup=lc.CgroupConfig(memory=lc.Memory(max="64M", kernel_tcp="16M"), pids=lc.Pids(max=50)),
    )
    assert inside(config, READ).split() == [str(64 * MB), str(16 * MB), UNLIMITED, "50"]


def test_kernel_and_kernel_tcp_through_the_cli_beside_runc(tmp_path: Path) -> None:
    """Ours: kernelTCP applied, kernel ignored with a logged warning; runc
    1.1 warns that both are ignored (docs/decisions.md); the other limits
    the same."""
    memory = {"limit": 64 * MB, "kernel": 32 * MB, "kernelTCP": 16 * MB}
    bundle, cli = spec_bundle(
        tmp_path, {"args": ["sh", "-c", READ]}, {"resources": {"memory": memory, "pids": {"limit": 50}}}
    )
    doc = json.loads((bundle / "config.json").read_text())
    doc["root"]["path"] = str(bundle / "rootfs")
    (bundle / "config.json").write_text(json.dumps(doc))
    runs = run_beside_runc(bundle, cli, tmp_path, "km")
    assert runs["ours"].stdout.split() == [str(64 * MB), str(16 * MB), UNLIMITED, "50"]
    assert runs["runc"].stdout.split() == [str(64 * MB), UNLIMITED, UNLIMITED, "50"]
    assert "level=warning" in runs["ours"].stderr and "linux.resources.memory.kernel ignored" in runs["ours"].stderr
    assert "Kernel memory settings are ignored" in runs["runc"].stderr


def test_update_with_kernel_tcp(tmp_path: Path) -> None:
    """update -r: kernelTCP changes the limit, kernel and unknown properties
    are logged and ignored, the other limits applied."""
    bundle, cli = spec_bundle(tmp_path, {"args": ["sleep", "60"]}, {"resources": {"memory": {"limit": 64 * MB}}})
    assert (
        subprocess.run([*cli, "run", "-d", "--bundle", str(bundle), "km-upd"], stdin=subprocess.DEVNULL).returncode == 0
    )
    try:
        state = json.loads(subprocess.run([*cli, "state", "km-upd"], capture_output=True, text=True).stdout)
        with open(f"/proc/{state['pid']}/cgroup") as f:
            memory = next(line.split(":")[2].strip() for line in f if line.split(":")[1] == "memory")
        resources = {"memory": {"limit": 32 * MB, "kernel": MB, "kernelTCP": 8 * MB, "futureMemory": 1}}
        r = subprocess.run(
            [*cli, "update", "-r", "-", "km-upd"], input=json.dumps(resources), capture_output=True, text=True
        )
        assert r.returncode == 0, r.stderr
        cgroup = f"/sys/fs/cgroup/memory{memory}"
        assert Path(cgroup, "memory.limit_in_bytes").read_text() == f"{32 * MB}\n"
        assert Path(cgroup, "memory.kmem.tcp.limit_in_bytes").read_text() == f"{8 * MB}\n"
        assert "linux.resources.memory.kernel ignored" in r.stderr
        assert "linux.resources.memory.futureMemory" in r.stderr and r.stderr.count("level=warning") == 2
    finally:
        subprocess.run([*cli, "delete", "--force", "km-upd"], check=True)


def test_oom_kill_disable_beside_runc(busybox: str, tmp_path: Path, no_leaks: None) -> None:
    """memory.disableOOMKiller (Memory.oom_kill_disable): v1's memory.oom_control
    says oom_kill_disable 1 in the container's cgroup, as under runc; the
    library's default leaves the OOM killer on."""
    read = "grep oom_kill_disable /sys/fs/cgroup/memory/memory.oom_control"
    config = lc.Config(rootfs=busybox, cgroup=lc.CgroupConfig(memory=lc.Memory(max="64M", oom_kill_disable=True)))
    assert inside(config, read).split() == ["oom_kill_disable", "1"]
    assert inside(lc.Config(rootfs=busybox), read).split() == ["oom_kill_disable", "0"]
    memory = {"limit": 64 * MB, "disableOOMKiller": True}
    bundle, cli = spec_bundle(tmp_path, {"args": ["sh", "-c", read]}, {"resources": {"memory": memory}})
    doc = json.loads((bundle / "config.json").read_text())
    doc["root"]["path"] = str(bundle / "rootfs")
    (bundle / "config.json").write_text(json.dumps(doc))
    runs = run_beside_runc(bundle, cli, tmp_path, "oomkd")
    assert runs["ours"].stdout == runs["runc"].stdout == "oom_kill_disable 1\n", runs
