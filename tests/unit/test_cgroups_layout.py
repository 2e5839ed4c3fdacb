"""Layout detection from mountinfo samples (no root needed)."""

from __future__ import annotations

from libcontainer_py.cgroups import parse_layout

HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
HYBRID_CGROUP = """\
9:name=systemd:/
8:pids:/
4:memory:/process_api/abc
1:cpu:/
0::/
"""

V1 = """\
25 20 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/systemd rw shared:9 - cgroup cgroup rw,xattr,release_agent=/lib/systemd/x,name=systemd
28 25 0:25 / /sys/fs/cgroup/cpu,cpuacct rw shared:10 - cgroup cgroup rw,cpu,cpuacct
29 25 0:26 / /sys/fs/cgroup/memory rw shared:11 - cgroup cgroup rw,memory
30 25 0:26 / /mnt/memory\\040again rw shared:11 - cgroup cgroup rw,memory
31 25 0:27 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio
"""

V2 = """\
22 1 253:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
30 22 0:26 / /sys/fs/cgroup rw,nosuid,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
"""


def test_hybrid() -> None:
    layout = parse_layout(HYBRID, HYBRID_CGROUP, "hugetlb\n")
    assert layout.kind == "hybrid"
    assert [h.mountpoint for h in layout.v1][-1] == "/sys/fs/cgroup/systemd"
    assert len(layout.v1) == 9
    mem = layout.v1_for("memory")
    assert mem is not None and mem.own == "/process_api/abc" and mem.dir("a/b") == "/sys/fs/cgroup/memory/a/b"
    assert layout.v1_for("pids") is not None and layout.v1_for("pids").own == "/"  # type: ignore[union-attr]
    assert layout.v1_for("hugetlb") is None and layout.v2_has("hugetlb") and not layout.v2_has("memory")
    assert layout.unified is not None and layout.unified.mountpoint == "/sys/fs/cgroup/unified"
    assert layout.only_v1().kind == "v1" and layout.only_v2().kind == "v2"


def test_v1_shared_mounts_and_duplicates() -> None:
    layout = parse_layout(V1, "5:memory:/user.slice\n3:cpu,cpuacct:/x\n")
    assert layout.kind == "v1" and layout.unified is None
    assert [h.controllers for h in layout.v1] == [
        ("name=systemd",),
        ("cpu", "cpuacct"),
        ("memory",),
        ("net_cls", "net_prio"),
    ]
    assert layout.v1_for("cpuacct") == layout.v1_for("cpu")
    assert layout.v1_for("cpu").own == "/x"  # type: ignore[union-attr]
    assert layout.v1_for("memory").mountpoint == "/sys/fs/cgroup/memory"  # type: ignore[union-attr]


def test_v1_mount_of_a_subtree() -> None:
    text = "30 25 0:26 /kube /cg/memory rw - cgroup cgroup rw,memory\n"
    layout = parse_layout(text, "4:memory:/kube/pod1\n")
    mem = layout.v1_for("memory")
    assert mem is not None and mem.root == "/kube" and mem.own == "/pod1"


def test_v2_only() -> None:
    layout = parse_layout(V2, "0::/user.slice/session-1.scope\n", "cpuset cpu io memory hugetlb pids rdma misc\n")
    assert layout.kind == "v2" and layout.v1 == ()
    assert layout.unified is not None and layout.unified.own == "/user.slice/session-1.scope"
    assert layout.v2_has("memory") and layout.v2_has("io") and not layout.v2_has("devices")


def test_only_keeps_the_cgroup2_controllers_the_resources_need() -> None:
    """Without accounting a cgroup enables on the cgroup2 mount only what its
    resources need (blkio's is io); device rules alone need none."""
    from libcontainer_py.cgroups._ops import HostHierarchy, HostLayout

    layout = parse_layout(V2, "0::/\n", "cpuset cpu io memory hugetlb pids rdma misc\n")
    assert layout.only(("devices",)).unified.controllers == ()  # type: ignore[union-attr]
    assert layout.only(("blkio", "memory", "devices")).unified.controllers == ("io", "memory")  # type: ignore[union-attr]
    assert layout.only(("cpu", "cpuset")).unified.controllers == ("cpuset", "cpu")  # type: ignore[union-attr]
    unified = layout.unified
    assert unified is not None
    plain = HostLayout([], HostHierarchy(unified.mountpoint, unified.controllers))
    assert plain.only(("pids", "hugetlb")).unified.controllers == ("hugetlb", "pids")  # type: ignore[union-attr]
    assert plain.only(("devices",)).unified.controllers == ()  # type: ignore[union-attr]


def test_no_cgroups_mounted() -> None:
    layout = parse_layout("22 1 253:1 / / rw - ext4 /dev/vda1 rw\n")
    assert layout.v1 == () and layout.unified is None


# A private mount namespace of the hybrid host with a new tmpfs over
# /sys/fs/cgroup and two v1 hierarchies mounted again (no cgroup2): the
# first set of mounts is still listed, hidden under the new tmpfs.
COVERED = """\
97 94 0:22 / /sys rw,relatime - sysfs sysfs rw
98 97 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
99 98 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
102 98 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
107 98 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
108 98 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
114 98 0:49 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
115 114 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
116 114 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
"""


def test_mounts_hidden_under_a_later_mount_are_left_out() -> None:
    layout = parse_layout(COVERED, "4:memory:/a\n0::/\n")
    assert layout.kind == "v1" and layout.unified is None
    assert [(h.mountpoint, h.controllers, h.own) for h in layout.v1] == [
        ("/sys/fs/cgroup/cpu", ("cpu",), "/"),
        ("/sys/fs/cgroup/memory", ("memory",), "/a"),
    ]


def test_a_mount_stacked_on_another_hides_it() -> None:
    # cgroup2 mounted over the hybrid layout's tmpfs (parent: that tmpfs), as in a v2-only test layout
    text = COVERED + "117 114 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
    text += "118 98 0:38 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
    layout = parse_layout(text, "0::/\n", "hugetlb\n")
    assert layout.kind == "v2" and layout.unified is not None
    assert layout.unified.mountpoint == "/sys/fs/cgroup" and layout.unified.controllers == ("hugetlb",)
