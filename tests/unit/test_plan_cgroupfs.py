"""Planning Mount.cgroup on v1, hybrid and v2 layouts (no root needed)."""

from __future__ import annotations

from typing import List, Optional, Tuple

import attrs
import pytest

import libcontainer_py as lc
from libcontainer_py.cgroups import Layout, parse_layout
from libcontainer_py.mounts import MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REC
from libcontainer_py.plan import Flag, HostFS, Op, Step, build_plan
from libcontainer_py.plan.cgroupfs import MS_REMOUNT, container_cgroup_dirs

V1 = """\
25 20 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
28 25 0:25 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
29 25 0:26 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
31 25 0:27 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
"""
HYBRID = V1 + "41 25 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
CALLER = "5:memory:/user.slice\n3:cpu,cpuacct:/x\n1:name=systemd:/init.scope\n0::/init.scope\n"
V2 = "30 22 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"

RO_FLAGS = MS_NOSUID | MS_NODEV | MS_NOEXEC


class Host(HostFS):
    def __init__(self, layout: Optional[Layout]) -> None:
        self.layout = layout

    def lstat_kind(self, path: str) -> Optional[str]:
        return "dir"

    def realpath(self, path: str) -> str:
        return path

    def euid(self) -> int:
        return 0

    def egid(self) -> int:
        return 0

    def cgroup_layout(self) -> Optional[Layout]:
        return self.layout


def cgroup_steps(
    layout: Optional[Layout],
    mount: Optional[lc.Mount] = None,
    *,
    cgroupns: bool = True,
    userns: bool = False,
    path: Optional[str] = "lc/x",
    used: Tuple[str, ...] = ("memory", "pids"),
) -> List[Step]:
    """The steps between the /sys mount and the device nodes."""
    ns = lc.Namespaces(mount=True, pid=True, net=True, cgroup=cgroupns, user=userns)
    config = lc.Config(
        rootfs="/rootfs",
        namespaces=ns,
        mounts=[lc.Mount.sysfs(), mount or lc.Mount.cgroup()],
        devices=(),
        masked_paths=(),
        readonly_paths=(),
        uid_mappings=[lc.IDMap(0, 100000, 65536)] if userns else (),
        gid_mappings=[lc.IDMap(0, 100000, 65536)] if userns else (),
        cgroup=None,
    )
    dirs = container_cgroup_dirs(layout.only(used), path) if layout is not None and path is not None else {}
    plan = build_plan(config, "x", host=Host(layout), cgroup_dirs=dirs)
    steps = list(plan.steps)
    start = next(i for i, s in enumerate(steps) if s.op is Op.MOUNT and s.s3 == "sysfs") + 1
    end = next(i for i, s in enumerate(steps) if s.op is Op.PIVOT_ROOT)
    return steps[start:end]


def summary(steps: List[Step]) -> List[Tuple[str, Optional[str], Optional[str]]]:
    out = []
    for s in steps:
        if s.op is Op.SYMLINK:
            out.append(("symlink", s.s2, s.s1))
        elif s.op is Op.MOUNT and s.flags & Flag.BIND:
            out.append(("bind", s.s1, s.s2))
        elif s.op is Op.MOUNT and s.mflags & MS_REMOUNT:
            out.append(("remount", s.s1, None))
        else:
            out.append((s.s3 or "?", s.s1, s.s4))
    return out


def v1_tree(*hierarchies: Tuple[str, str, str]) -> List[Tuple[str, Optional[str], Optional[str]]]:
    """The summary of a cgroup mount on V1: a tmpfs, then V1's four
    hierarchies as given, cpu's and cpuacct's links, the read-only remount."""
    return [
        ("tmpfs", "/sys/fs/cgroup", "mode=755"),
        *hierarchies,
        ("symlink", "/sys/fs/cgroup/cpu", "cpu,cpuacct"),
        ("symlink", "/sys/fs/cgroup/cpuacct", "cpu,cpuacct"),
        ("remount", "/sys/fs/cgroup", None),
    ]


def test_v1_with_a_cgroup_namespace_mounts_each_hierarchy() -> None:
    steps = cgroup_steps(parse_layout(V1, CALLER))
    assert summary(steps) == v1_tree(
        ("cgroup", "/sys/fs/cgroup/systemd", "name=systemd"),
        ("cgroup", "/sys/fs/cgroup/cpu,cpuacct", "cpu,cpuacct"),
        ("cgroup", "/sys/fs/cgroup/memory", "memory"),
        ("cgroup", "/sys/fs/cgroup/pids", "pids"),
    )
    tmpfs, *mounts, _, _, remount = steps
    assert tmpfs.mflags == RO_FLAGS  # written while the hierarchies go in
    assert all(m.mflags & MS_RDONLY and m.mflags & RO_FLAGS == RO_FLAGS for m in mounts)
    assert remount.mflags == MS_REMOUNT | MS_BIND | MS_RDONLY | RO_FLAGS


def test_hybrid_leaves_the_cgroup2_mount_out_as_runc_does() -> None:
    assert summary(cgroup_steps(parse_layout(HYBRID, CALLER))) == summary(cgroup_steps(parse_layout(V1, CALLER)))


def test_v1_without_a_cgroup_namespace_binds_the_containers_directories() -> None:
    """Its own cgroup where it has one, the caller's elsewhere; flags and
    propagation of the mount on each bind."""
    mount = lc.Mount.cgroup(propagation="rprivate")
    steps = cgroup_steps(parse_layout(HYBRID, CALLER), mount, cgroupns=False)
    assert summary(steps) == v1_tree(
        ("bind", "/sys/fs/cgroup/systemd", "/sys/fs/cgroup/systemd/init.scope"),
        ("bind", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct/x"),
        ("bind", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/memory/lc/x"),
        ("bind", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/pids/lc/x"),
    )
    assert steps[0].n1 == mount.propagation_flags()
    for bind in steps[1:5]:
        assert bind.flags & Flag.RECURSIVE and bind.mflags == MS_BIND | MS_REC
        assert bind.n1 == mount.propagation_flags() and bind.n2 == mount.bind_attributes() and bind.n2 & 0x1


def test_no_cgroup_of_its_own_shows_the_callers() -> None:
    steps = cgroup_steps(parse_layout(V1, CALLER), cgroupns=False, path=None)
    assert [s.s2 for s in steps if s.op is Op.MOUNT and s.flags & Flag.BIND] == [
        "/sys/fs/cgroup/systemd/init.scope",
        "/sys/fs/cgroup/cpu,cpuacct/x",
        "/sys/fs/cgroup/memory/user.slice",
        "/sys/fs/cgroup/pids",
    ]


def test_read_write_has_no_remount_and_writable_hierarchies() -> None:
    mount = lc.Mount.cgroup(readonly=False)
    for cgroupns in (True, False):
        steps = cgroup_steps(parse_layout(V1, CALLER), mount, cgroupns=cgroupns)
        assert not [s for s in steps if s.mflags & MS_REMOUNT]
        assert not [s for s in steps if s.mflags & MS_RDONLY or s.n2 & 0x1]


def test_user_namespace() -> None:
    """With a cgroup namespace (owned by the user namespace) the hierarchies
    are mounted, as runc does; without, their directories are bound, each
    source opened before the child takes the namespace's ids."""
    layout = parse_layout(V1, CALLER)
    assert [s[0] for s in summary(cgroup_steps(layout, userns=True))][1:5] == ["cgroup"] * 4
    ns = lc.Namespaces(mount=True, pid=True, net=True, user=True)
    config = lc.Config(
        rootfs="/rootfs",
        namespaces=ns,
        mounts=[lc.Mount.cgroup()],
        devices=(),
        uid_mappings=[lc.IDMap(0, 100000, 65536)],
        gid_mappings=[lc.IDMap(0, 100000, 65536)],
    )
    plan = build_plan(config, "x", host=Host(layout))
    preopened = [s.s1 for s in plan.steps if s.op is Op.PREOPEN]
    binds = [s for s in plan.steps if s.op is Op.MOUNT and s.flags & Flag.BIND]
    assert preopened == [b.s2 for b in binds] and len(binds) == 4
    assert all(b.slot >= 0 for b in binds)
    assert [s.op for s in plan.steps].index(Op.SETUID) < [s.op for s in plan.steps].index(Op.MOUNT)


def test_v2_mounts_cgroup2() -> None:
    mount = lc.Mount.cgroup(propagation="rslave")
    (step,) = cgroup_steps(parse_layout(V2, "0::/init.scope\n"), mount, cgroupns=False)
    assert (step.op, step.s1, step.s2, step.s3, step.s4) == (Op.MOUNT, "/sys/fs/cgroup", "cgroup", "cgroup2", None)
    assert step.mflags == mount.mount_flags() and step.n1 == mount.propagation_flags() and not step.flags & Flag.BIND
    (step,) = cgroup_steps(parse_layout(V2, "0::/init.scope\n"), mount, cgroupns=True, userns=True)
    assert step.s3 == "cgroup2"


@pytest.mark.parametrize("path, source", [("lc/x", "/sys/fs/cgroup/lc/x"), (None, "/sys/fs/cgroup/init.scope")])
def test_v2_in_a_user_namespace_without_a_cgroup_namespace_binds(path: Optional[str], source: str) -> None:
    """The kernel refuses a cgroup2 mount there: the container's cgroup2
    directory (or the caller's), bound recursively."""
    layout = parse_layout(V2, "0::/init.scope\n")
    (step,) = cgroup_steps(layout, cgroupns=False, userns=True, path=path, used=())
    assert step.flags & Flag.BIND and step.flags & Flag.RECURSIVE and step.s2 == source
    assert step.n2 == lc.Mount.cgroup().bind_attributes()


def test_no_cgroup_file_system_is_an_empty_tmpfs() -> None:
    assert summary(cgroup_steps(None)) == [
        ("tmpfs", "/sys/fs/cgroup", "mode=755"),
        ("remount", "/sys/fs/cgroup", None),
    ]


def test_other_destination_and_symlink_names() -> None:
    mount = attrs.evolve(lc.Mount.cgroup(), destination="/cg")
    steps = cgroup_steps(parse_layout(V1, CALLER), mount)
    assert [s.s2 for s in steps if s.op is Op.SYMLINK] == ["/cg/cpu", "/cg/cpuacct"]
    assert {s.path for s in steps} <= {
        "/cg",
        "/cg/systemd",
        "/cg/cpu,cpuacct",
        "/cg/memory",
        "/cg/pids",
        "/cg/cpu",
        "/cg/cpuacct",
    }


def test_mount_cgroup_model() -> None:
    m = lc.Mount.cgroup()
    assert (m.type, m.source, m.destination, m.readonly, m.options) == (
        "cgroup",
        "cgroup",
        "/sys/fs/cgroup",
        True,
        ("relatime",),
    )
    assert m.is_cgroup and not m.is_bind and not lc.Mount("/c", "cgroup2").is_cgroup
    with pytest.raises(lc.ConfigError, match="no file system data"):
        lc.Mount("/c", "cgroup", data="memory")
    with pytest.raises(lc.ConfigError, match="always recursive"):
        lc.Mount("/c", "cgroup", recursive=False)
