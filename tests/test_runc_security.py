"""Three protections runc has that a container must not get around, each
shown on both runtimes with the same bundle:

- device access is decided by ``linux.resources.devices`` alone: a node
  listed in ``linux.devices`` is made but opens only if a rule allows it;
- ``startContainer`` hooks run under the container's confinement (its
  seccomp filter, capabilities and user), not the runtime's;
- with ``--no-pivot`` (MS_MOVE + chroot), the host's procfs and sysfs are
  gone from the container's mount namespace, so a nested user and mount
  namespace cannot mount a fresh procfs that masked paths do not cover.

Each test also shows the attack working where the protection is off
(a rule that allows the device, a hook without a filter, pivot_root with
a bare procfs allowed by an unmasked /proc), so it cannot pass by accident."""

from __future__ import annotations

from typing import Any, Dict, List

import attrs
import pytest
from test_cli import rootfs
from test_cli_features import Tools, tools

import libcontainer_py as lc

__all__ = ["rootfs", "tools"]

DENY_ALL = [{"allow": False, "access": "rwm"}]
KMSG = {"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 0o600, "uid": 0, "gid": 0}
WRITE_KMSG = "echo libcontainer-py-device-test > /dev/kmsg && echo WROTE"


def _run_both(tools: Tools, name: str, *flags: str) -> List[Any]:
    results = []
    for tool, cid in tools.both(name):
        results.append(tool("run", "-b", tools.bundle, *flags, cid))
        tool("delete", "--force", cid)
    return results


# -- 1. devices ---------------------------------------------------------------------------------


def test_a_listed_device_is_not_implicitly_allowed(tools: Tools) -> None:
    tools.ours.config(["sh", "-c", WRITE_KMSG])
    tools.edit(lambda doc: doc["linux"].update(devices=[KMSG], resources={"devices": DENY_ALL}))
    for r in _run_both(tools, "kmsg"):
        assert "WROTE" not in r.stdout and "Operation not permitted" in r.stderr, r
    # With a rule that allows it, the same node opens: the rules decide.
    allow = DENY_ALL + [{"allow": True, "type": "c", "major": 1, "minor": 11, "access": "w"}]
    tools.edit(lambda doc: doc["linux"]["resources"].update(devices=allow))
    for r in _run_both(tools, "kmsgok"):
        assert r.returncode == 0 and "WROTE" in r.stdout, r


def test_library_devices_open_only_through_the_rules(busybox: str, no_leaks: None) -> None:
    kmsg = lc.Device("/dev/kmsg", "c", 1, 11, mode=0o600)
    script = "(" + WRITE_KMSG + ") 2>&1"
    denied = lc.Config(rootfs=busybox, devices=lc.DEFAULT_DEVICES + (kmsg,))
    out = lc.run(["sh", "-c", script], config=denied, capture_output=True, text=True, timeout=10).stdout
    assert "Operation not permitted" in out and "WROTE" not in out
    allowed = lc.Config(
        rootfs=busybox,
        devices=lc.DEFAULT_DEVICES + (kmsg,),
        cgroup=lc.CgroupConfig(devices=lc.Devices.default().allowing(kmsg), accounting=False),
    )
    assert lc.run(["sh", "-c", script], config=allowed, capture_output=True, text=True, timeout=10).stdout == "WROTE\n"


# -- 2. startContainer hooks --------------------------------------------------------------------


def _kill_uname(doc: Dict[str, Any]) -> None:
    doc["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_KILL"}],
    }
    doc["hooks"] = {"startContainer": [{"path": "/bin/uname", "args": ["uname", "-a"]}]}


def test_a_start_container_hook_runs_under_the_seccomp_filter(tools: Tools) -> None:
    tools.ours.config(["echo", "PROGRAM"])
    tools.edit(_kill_uname)
    for r in _run_both(tools, "hookfilter"):
        assert r.returncode != 0 and "PROGRAM" not in r.stdout, r
    # Without the filter the same hook succeeds and the program runs.
    tools.edit(lambda doc: doc["linux"].pop("seccomp"))
    for r in _run_both(tools, "hookplain"):
        assert r.returncode == 0 and r.stdout == "PROGRAM\n", r


def test_a_start_container_hook_has_the_process_credentials(tools: Tools) -> None:
    """The hook runs as the container's user, with its (empty) capability
    sets: it exits 0 only when it sees that."""
    check = "[ \"$(id -u):$(id -g)\" = 1000:1000 ] && grep -q 'CapEff:.0000000000000000' /proc/self/status"
    tools.ours.config(["echo", "PROGRAM"], user={"uid": 1000, "gid": 1000})
    tools.edit(lambda doc: doc.update(hooks={"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", check]}]}))
    for r in _run_both(tools, "hookcreds"):
        assert r.returncode == 0 and r.stdout == "PROGRAM\n", r


# -- 3. --no-pivot and a bare procfs ------------------------------------------------------------

# As a user without privileges (root without CAP_SETFCAP may not map uid 0).
NESTED_PROC = "unshare -Urmpf sh -c 'mount -t proc proc /tmp && echo MOUNTED' 2>&1; true"


@pytest.mark.parametrize("no_pivot", [True, False])
def test_no_bare_procfs_in_a_nested_namespace(tools: Tools, no_pivot: bool) -> None:
    tools.ours.config(["sh", "-c", NESTED_PROC], user={"uid": 1000, "gid": 1000})
    flags = ("--no-pivot",) if no_pivot else ()
    for r in _run_both(tools, "bareproc" + ("np" if no_pivot else "p"), *flags):
        assert r.returncode == 0 and "MOUNTED" not in r.stdout and "ermission denied" in r.stdout, r
    # With /proc unmasked, procfs is fully visible and the same mount works:
    # what blocks it above is the masks and nothing else of the host's.
    tools.edit(lambda doc: doc["linux"].update(maskedPaths=[], readonlyPaths=[]))
    for r in _run_both(tools, "openproc" + ("np" if no_pivot else "p"), *flags):
        assert "MOUNTED" in r.stdout, r


@pytest.mark.parametrize("rootfs_kind", ["directory", "host"])
def test_library_no_pivot_root_leaves_no_bare_procfs(busybox: str, rootfs_kind: str, no_leaks: None) -> None:
    """The library's no-pivot root (Rootfs.no_pivot) is protected the same
    way, for a directory root and for the host's system directories.
    (Without the seccomp profile, which refuses unshare on its own.)"""
    root = lc.Rootfs(busybox, no_pivot=True) if rootfs_kind == "directory" else lc.Rootfs.host(no_pivot=True)
    user = lc.User(uid=1000, gid=1000)
    config = lc.Config(rootfs=root, seccomp=None, process=lc.Process(args=["sh", "-c", NESTED_PROC], user=user))
    out = lc.run(config=config, capture_output=True, text=True, timeout=10).stdout
    assert "MOUNTED" not in out and "ermission denied" in out, out
    bare = attrs.evolve(config, masked_paths=(), readonly_paths=())
    assert "MOUNTED" in lc.run(config=bare, capture_output=True, text=True, timeout=10).stdout
