"""The cgroup tests in every layout: v1 only, cgroup2 only and hybrid, each
built for real in a private mount namespace (support.layouts), with this
host's hierarchies mounted again.

In the v2 layout the cgroup2 mount offers only hugetlb here (the other
controllers are bound to their v1 hierarchies), so a limit on memory, pids
or cpu must be refused with an error naming the controller; the device
program, the freezer, accounting of cpu.stat and hugetlb work.  In the v1
layout hugetlb is nowhere (it is bound to cgroup2). After every check, the
layout's sweep must find no cgroup left behind.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Dict, Sequence

import pytest
from support.layouts import KINDS, run_in_layout

LIMITED = ("v1", "hybrid")  # the layouts with the memory, pids and cpu controllers


def observe(kind: str, check: str, rootfs: str, *args: str, extra: Sequence[str] = ()) -> Dict[str, Any]:
    """What check ``check`` of support.layout_checks saw in layout ``kind``;
    fails if the layout's sweep had to remove a cgroup."""
    argv = [sys.executable, "-m", "support.layout_checks", check, rootfs, *args]
    status, out, left = run_in_layout(kind, argv, extra=extra)
    assert status == 0, out
    assert left == [], (left, out)
    result: Dict[str, Any] = json.loads(out.splitlines()[-1])
    return result


def refused(result: Dict[str, Any], controller: str) -> bool:
    return result.get("error") == "CgroupUnsupported" and f"the {controller} controller" in result["message"]


#: What the memory (a limit and the OOM kill), pids and cpu checks see
#: where the layout has the controller.
LIMITS_SEEN: Dict[str, Dict[str, Any]] = {
    "memory": {"seen": [str(64 * 2**20)], "returncode": -9, "oom_killed": True, "oom_kills": 1},
    "pids": {"seen": ["status=2", "5", "6", "max", "1"], "returncode": 0},
    "cpu": {"seen": {"cpu.cfs_quota_us": "20000", "cpu.cfs_period_us": "100000", "cpu.shares": "512"}},
}


@pytest.mark.parametrize("controller", LIMITS_SEEN)
@pytest.mark.parametrize("kind", KINDS)
def test_limits(kind: str, controller: str, busybox: str) -> None:
    """A limit holds where the layout has its controller; elsewhere it is
    refused with an error naming the controller."""
    r = observe(kind, controller, busybox)
    if kind in LIMITED:
        assert r == LIMITS_SEEN[controller]
    else:
        assert refused(r, controller), r


@pytest.mark.parametrize("kind", KINDS)
def test_device_rules(kind: str, busybox: str) -> None:
    r = observe(kind, "devices", busybox)
    assert r["seen"] == ["kmsg=1", "null=0"] and "Operation not permitted" in r["stderr"], r


@pytest.mark.parametrize("kind", KINDS)
def test_the_default_device_cgroup(kind: str, busybox: str) -> None:
    """No CgroupConfig given: the device filter alone, where the layout keeps
    it, and it refuses a denied node there too."""
    r = observe(kind, "default", busybox)
    ours = f"/libcontainer_py/{r['id']}"
    # What a layout does not mount, the process does not join: it stays in the
    # caller's cgroup there, the root (the kernel still lists every hierarchy).
    # With a cgroup2 mount the rules are a device program on the cgroup2
    # directory (hybrid too: no v1 hierarchy is joined); v1 alone writes them
    # to its devices hierarchy.
    if kind == "v1":
        assert (r["devices"], r["v2"]) == (ours, "/")
    else:
        assert (r["v2"], r["devices"]) == (ours, "/")
    assert r["seen"] == ["kmsg=1", "null=0"], r


@pytest.mark.parametrize("kind", KINDS)
def test_stats(kind: str, busybox: str) -> None:
    r = observe(kind, "stats", busybox)
    assert r["returncode"] == 0 and r["cpu_usage_ns"] > 0
    if kind in LIMITED:
        assert r["memory_usage"] > 0 and r["pids_limit_reported"]
    else:
        assert r["memory_usage"] is None and not r["pids_limit_reported"]


@pytest.mark.parametrize("kind", KINDS)
def test_pause_and_resume(kind: str, busybox: str) -> None:
    r = observe(kind, "pause", busybox)
    assert r["paused"]["status"] == "paused" and r["resumed"]["status"] == "running"
    if kind == "v1":
        assert (r["paused"]["freezer.state"], r["resumed"]["freezer.state"]) == ("FROZEN", "THAWED")
    else:  # cgroup2's freezer, also in the hybrid layout
        assert (r["paused"]["cgroup.events frozen"], r["resumed"]["cgroup.events frozen"]) == ("1", "0")


@pytest.mark.parametrize("kind", KINDS)
def test_hugetlb(kind: str, busybox: str) -> None:
    r = observe(kind, "hugetlb", busybox)
    if kind == "v1":
        assert refused(r, "hugetlb"), r
    else:
        assert r == {"seen": {"hugetlb.2MB.max": str(4 * 2**20)}}


@pytest.mark.parametrize("kind", KINDS)
def test_command_line(kind: str, busybox: str) -> None:
    """run with a pids limit (v1, hybrid), then create, start, pause, state,
    resume, ps, events --stats, kill and delete --force, each succeeding."""
    r = observe(kind, "cli", busybox)
    status, out, err = r.pop("run")
    assert status == 0, err
    if kind in LIMITED:
        assert out == "40"
    else:
        assert out.endswith("-clirun") and "0::/libcontainer_py/" in out
    assert r.pop("paused") == "paused" and r.pop("resumed") == "running"
    assert len(json.loads(r["ps"][1])) == 1  # the container's one process, from its cgroup
    stats = json.loads(r["stats"][1])["data"]
    assert stats["cpu"]["usage"]["total"] > 0
    if kind in LIMITED:
        assert stats["pids"] == {"current": 1, "limit": 40} and stats["memory"]["usage"]["usage"] > 0
    else:
        assert "pids" not in stats and "memory" not in stats
    assert all(v[0] == 0 for v in r.values()), r


NET = "net_cls,net_prio"


@pytest.mark.parametrize("kind", LIMITED)
def test_network_class_and_priorities_where_the_host_has_the_hierarchy(kind: str, busybox: str) -> None:
    r = observe(kind, "network", busybox, extra=[NET])
    assert (r["seen"], r["lo"]) == ({"net_cls.classid": str(0x100001)}, "7")
    assert r["inside"].endswith(":net_cls,net_prio:/")  # in that hierarchy, at its cgroup namespace's root


@pytest.mark.parametrize("kind", KINDS)
def test_network_without_the_hierarchy_names_the_controller(kind: str, busybox: str) -> None:
    r = observe(kind, "network", busybox)
    assert refused(r, "net_cls") and "net_cls.classid" in r["message"], r


@pytest.mark.parametrize("kind", LIMITED)
@pytest.mark.parametrize("extra", [[], [NET]])
def test_network_through_the_command_line_beside_runc(kind: str, extra: Sequence[str], busybox: str) -> None:
    """linux.resources.network: the same class id and priorities inside, or both refuse to run."""
    ours = observe(kind, "cli_network", busybox, "ours", extra=extra)
    runc = observe(kind, "cli_network", busybox, "runc", extra=extra)
    if extra:
        assert ours["status"] == runc["status"] == 0, (ours, runc)
        assert ours["out"][:3] == ["1048577", "lo", "7"] and ours["out"] == runc["out"]
    else:
        assert ours["status"] == runc["status"] == 1
        assert "the net_cls controller is not available" in ours["err"] and "net_cls" in runc["err"]


def test_the_layout_sweep_finds_kills_and_removes_what_a_check_leaves() -> None:
    """The guard of the tests above can fail: a cgroup left with a process in it
    (here in the net_cls,net_prio hierarchy, which the host does not mount) is
    reported, its process killed and the directory removed."""
    script = (
        "d=/sys/fs/cgroup/net_cls,net_prio/libcontainer_py/$LAYOUT_TOKEN-leak; mkdir -p $d/inner;"
        " sleep 300 & echo $! > $d/inner/cgroup.procs; echo $!"
    )
    status, out, left = run_in_layout("v1", ["sh", "-c", script], extra=[NET])
    assert status == 0, out
    pid = int(out.split()[-1])
    assert len(left) == 2 and left[0].endswith("-leak") and left[1] == left[0] + "/inner", left
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"


@pytest.mark.parametrize("kind", KINDS)
def test_limits_through_the_command_line_beside_runc(kind: str, busybox: str) -> None:
    """Memory, pids and cpu limits read inside the container, ours and runc's;
    in the v2 layout (no such controllers) both refuse to run."""
    ours = observe(kind, "cli_limits", busybox, "ours")
    runc = observe(kind, "cli_limits", busybox, "runc")
    if kind in LIMITED:
        assert ours == runc == {"status": 0, "out": [str(64 << 20), "40", "20000", "100000"], "err": ""}
    else:
        assert ours["status"] == runc["status"] == 1, (ours, runc)
        assert "the cpu controller is not available on this host (v2 layout)" in ours["err"]


@pytest.mark.parametrize("kind", KINDS)
def test_create_through_a_recipe_places_the_process_as_the_library(kind: str, busybox: str) -> None:
    """The command line's create through a recipe (cli/_create_light.py)
    puts its process in the same cgroups as the library's path: by clone3
    on a cgroup2-only host, by a join of each v1 hierarchy elsewhere."""
    made = observe(kind, "cli_recipe", busybox)["made"]
    assert [m["status"] for m in made] == [0, 0, 0], made
    assert not made[0]["quick"] and made[2]["quick"], made
    assert made[2]["cgroup"] == made[0]["cgroup"] and "/ID" in made[0]["cgroup"], made
