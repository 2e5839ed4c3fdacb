"""Planning is a pure function of the config and a view of the host."""

from __future__ import annotations

import glob
import os
import re
from typing import Dict, List, Optional

import attrs
import pytest

import libcontainer_py as lc
from libcontainer_py import errors
from libcontainer_py.namespaces import CLONE_FLAGS
from libcontainer_py.plan import (
    Flag,
    HostFS,
    Op,
    Plan,
    Step,
    build_plan,
    choose_scratch,
    exec_candidates,
)
from libcontainer_py.rootless import AutomaticMaps, RootlessConfigError, RootlessWarning

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class FakeHost(HostFS):
    def __init__(self, kinds: Dict[str, str], links: Optional[Dict[str, str]] = None, euid: int = 0) -> None:
        self.kinds = kinds
        self.links = links or {}
        self._euid = euid

    def lstat_kind(self, path: str) -> Optional[str]:
        return self.kinds.get(path)

    def is_dir(self, path: str) -> bool:
        return self.kinds.get(path) == "dir"

    def exists(self, path: str) -> bool:
        return path in self.kinds

    def readlink(self, path: str) -> str:
        return self.links[path]

    def realpath(self, path: str) -> str:
        return path

    def euid(self) -> int:
        return self._euid

    def egid(self) -> int:
        return self._euid

    def automatic_maps(self) -> AutomaticMaps:
        # a host whose /etc/subuid gives the caller nothing
        single = AutomaticMaps((lc.IDMap(0, self._euid, 1),), (lc.IDMap(0, self._euid, 1),))
        return single if self._euid == 0 else attrs.evolve(single, shortfall="no range")

    def cgroup_layout(self) -> None:
        return None  # Mount.cgroup: an empty tmpfs (test_plan_cgroupfs.py has layouts)


MERGED = FakeHost(
    {
        "/usr": "dir",
        "/etc": "dir",
        "/bin": "symlink",
        "/lib": "symlink",
        "/mnt": "dir",
        "/srv/f": "file",
        "/srv": "dir",
    },
    {"/bin": "usr/bin", "/lib": "usr/lib"},
)


def ops(plan) -> list:
    return [s.op for s in plan.steps]


@pytest.mark.parametrize("enum", [Op, Flag])
def test_every_op_and_flag_named_in_the_code_is_in_the_c_header(enum: type) -> None:
    # Op and Flag are read from the header at run time, so mypy cannot see a
    # misspelt name: every one written in the package and the tests must exist.
    named = set()
    for directory in ("libcontainer_py", "tests"):
        for path in glob.glob(os.path.join(ROOT, directory, "**", "*.py"), recursive=True):
            with open(path, encoding="utf-8") as f:
                named.update(re.findall(rf"\b{enum.__name__}\.([A-Z][A-Z0-9_]*)\b", f.read()))
    assert named and named <= set(enum.__members__), named - set(enum.__members__)


def test_op_error_classes_come_from_the_c_header() -> None:
    assert Step(Op.SETNS, "x").error_class is errors.NamespaceError
    assert Step(Op.EXEC, "x").error_class is errors.ExecError
    assert Step(Op.MOUNT, "x").error_class is errors.MountError
    assert {Step(op, "x").error_class for op in Op} <= {
        errors.NamespaceError,
        errors.MountError,
        errors.IdentityError,
        errors.SecurityError,
        errors.CwdError,
        errors.ExecError,
        errors.CgroupJoinError,
        errors.StepError,
    }


def test_copy_up_mount_step() -> None:
    cfg = lc.Config(
        rootfs="/r",
        mounts=lc.Mounts.default()
        + [
            lc.Mount.tmpfs("/var/cache", copy_up=True, readonly=True),
            lc.Mount.tmpfs("/var/lib", copy_up=True, mode=0o700),
            lc.Mount.tmpfs("/scratch"),
        ],
    )
    steps = {s.s1: s for s in build_plan(cfg, "x", host=MERGED).steps if s.op is Op.MOUNT}
    cache, lib, scratch = steps["/var/cache"], steps["/var/lib"], steps["/scratch"]
    assert cache.flags == Flag.COPY_UP and cache.mflags & 0x1  # the child mounts it rw, copies, then makes it ro
    assert lib.flags == Flag.COPY_UP | Flag.MODE_SET and lib.s4 == "mode=700"
    assert scratch.flags == 0
    assert "tmpcopyup" in cache.what


def test_mount_flag_steps() -> None:
    """A bind's flags: one MOUNT_ATTR for the mount itself (the atime field
    cleared with an atime mode), one with Flag.RECURSIVE for the r* options,
    on any type; a read-only /dev: mounted writable, made read-only after
    the devices and the other mounts."""
    cfg = lc.Config(
        rootfs="/r",
        mounts=[
            lc.Mount("/dev", "tmpfs", "tmpfs", readonly=True),
            lc.Mount.devpts(),
            lc.Mount("/b", "bind", "/srv", readonly=True, options=("noatime",), recursive_options=("rnosuid",)),
            lc.Mount("/t", "tmpfs", "tmpfs", recursive_options=("rro", "rstrictatime")),
        ],
    )
    steps = build_plan(cfg, "x", host=MERGED).steps
    at = {(s.op, s.s1, s.flags & Flag.RECURSIVE): i for i, s in enumerate(steps) if s.op in (Op.MOUNT, Op.MOUNT_ATTR)}
    top, rec = steps[at[(Op.MOUNT_ATTR, "/b", 0)]], steps[at[(Op.MOUNT_ATTR, "/b", Flag.RECURSIVE)]]
    assert steps[at[(Op.MOUNT, "/b", Flag.RECURSIVE)]].n2 == 0  # the bind itself sets nothing
    assert (top.n1, top.n2, rec.n1, rec.n2) == (0x1 | 0x10, 0x70, 0x2, 0)
    tmp = steps[at[(Op.MOUNT_ATTR, "/t", Flag.RECURSIVE)]]
    assert (tmp.n1, tmp.n2) == (0x1 | 0x20, 0x70)
    dev = steps[at[(Op.MOUNT, "/dev", 0)]]
    assert not dev.mflags & 0x1
    last_mknod = max(i for i, s in enumerate(steps) if s.op is Op.MKNOD)
    ro_dev = at[(Op.MOUNT_ATTR, "/dev", 0)]
    assert ro_dev > last_mknod and ro_dev > at[(Op.MOUNT, "/t", 0)] and steps[ro_dev].n1 == 0x1


def test_host_rootfs_plan() -> None:
    plan = build_plan(lc.Config(), "abc", host=MERGED)
    assert plan.clone_flags == lc.Namespaces.default().clone_flags()
    assert ops(plan)[:4] == [Op.NOT_DUMPABLE, Op.LOOPBACK_UP, Op.ROOT_PROPAGATION, Op.ROOT_TMPFS]
    tmpfs = plan.steps[3]
    assert tmpfs.s1 == "/mnt"
    links = {s.s2: s.s1 for s in plan.steps if s.op is Op.SYMLINK and s.s2 in ("/bin", "/lib")}
    assert links == {"/bin": "usr/bin", "/lib": "usr/lib"}
    binds = [s for s in plan.steps if s.op is Op.MOUNT and s.s2 in ("/usr", "/etc")]
    assert [b.n2 & 1 for b in binds] == [1, 1]  # read-only
    assert ops(plan)[-10:] == [
        Op.CHDIR,  # before the ids change, as runc
        Op.DROP_BOUNDING,
        Op.SETGROUPS,
        Op.SETGID,
        Op.SETUID,
        Op.CAPSET,
        Op.UMASK,
        Op.NO_NEW_PRIVS,
        Op.SECCOMP,
        Op.EXEC,
    ]
    hostname = next(s for s in plan.steps if s.op is Op.SETHOSTNAME)
    assert hostname.s1 == "abc"
    assert Op.WAIT_PARENT not in ops(plan)


def test_an_empty_hostname_sets_none() -> None:
    """An empty hostname ("") keeps the new uts namespace's copy of the caller's names (what the
    command line gives a config.json without one, as runc); None names the
    host after the id; "" needs no uts namespace of its own."""
    names = {Op.SETHOSTNAME, Op.SETDOMAINNAME}
    default = build_plan(lc.Config(), "abc", host=MERGED)
    assert [s.s1 for s in default.steps if s.op is Op.SETHOSTNAME] == ["abc"]
    kept = build_plan(lc.Config(hostname="", domainname=""), "abc", host=MERGED)
    assert not names & set(ops(kept))
    shared = attrs.evolve(lc.Namespaces.default(), uts=False)
    assert not names & set(ops(build_plan(lc.Config(hostname="", namespaces=shared), "abc", host=MERGED)))
    with pytest.raises(lc.ConfigError, match="hostname"):
        build_plan(lc.Config(hostname="x", namespaces=shared), "abc", host=MERGED)
    with pytest.raises(lc.ConfigError, match="hostname"):
        lc.Config(hostname=" ")


def test_scratch_avoids_bind_sources() -> None:
    host = FakeHost({"/mnt": "dir", "/media": "dir", "/mnt/data": "dir"})
    cfg = lc.Config(mounts=lc.Mounts.default() + [lc.Mount.bind("/mnt/data", "/data")])
    assert choose_scratch(cfg, host) == "/media"
    with pytest.raises(lc.ConfigError):
        choose_scratch(cfg, FakeHost({"/mnt": "dir", "/mnt/data": "dir"}))


def test_directory_rootfs_plan_order() -> None:
    cfg = lc.Config(
        rootfs=lc.Rootfs.directory("/r", readonly=True, no_pivot=True),
        mounts=lc.Mounts.default() + [lc.Mount.bind("/srv/f", "/etc/f")],
    )
    plan = build_plan(cfg, "x", host=MERGED)
    o = ops(plan)
    assert o.index(Op.ROOT_BIND) < o.index(Op.MOUNT) < o.index(Op.MKNOD) < o.index(Op.PIVOT_ROOT)
    assert o.index(Op.PIVOT_ROOT) + 1 == o.index(Op.REMOUNT_ROOT_RO)
    assert next(s for s in plan.steps if s.op is Op.PIVOT_ROOT).flags & Flag.NO_PIVOT
    file_bind = next(s for s in plan.steps if s.s2 == "/srv/f")
    assert file_bind.flags & Flag.FILE


def test_no_mount_namespace_plan_is_a_chroot() -> None:
    """No mount namespace: no propagation, root mount, mount or pivot_root,
    a CHROOT into the directory's real path (before the identity steps)."""
    cfg = lc.Config(rootfs=lc.Rootfs.directory("/r"), namespaces=lc.Namespaces(pid=True, uts=True))
    plan = build_plan(cfg, "x", host=MERGED)
    o = ops(plan)
    mounting = {Op.ROOT_PROPAGATION, Op.ROOT_BIND, Op.ROOT_TMPFS, Op.MOUNT, Op.MKNOD, Op.PIVOT_ROOT, Op.MASK_PATH}
    assert not mounting & set(o)
    chroot = next(s for s in plan.steps if s.op is Op.CHROOT)
    assert chroot.s1 == "/r" and o.index(Op.CHROOT) < o.index(Op.SETHOSTNAME) < o.index(Op.CHDIR)
    hooks = build_plan(cfg, "x", host=MERGED, create_hooks=True)
    assert ops(hooks)[ops(hooks).index(Op.CHROOT) - 1] is Op.WAIT_PARENT


def test_user_namespace_plan() -> None:
    cfg = lc.Config(
        namespaces=lc.Namespaces.all(),
        uid_mappings=[lc.IDMap(0, 100000, 65536)],
        gid_mappings=[lc.IDMap(0, 100000, 65536)],
    )
    plan = build_plan(cfg, "x", host=MERGED)
    assert plan.uid_map == "0 100000 65536\n" and not plan.deny_setgroups
    o = ops(plan)
    assert o[:5] == [Op.WAIT_PARENT, Op.NOT_DUMPABLE, Op.LOOPBACK_UP, Op.ROOT_PROPAGATION, Op.ROOT_TMPFS]
    assert "uid=0,gid=0" in (plan.steps[4].s2 or "")
    # Every bind source is opened before the child takes namespace ids.
    become = o.index(Op.SETGID)
    preopens = [s for s in plan.steps[:become] if s.op is Op.PREOPEN]
    binds = [s for s in plan.steps if s.op is Op.MOUNT and s.slot >= 0]
    assert preopens and [p.slot for p in preopens] == [b.slot for b in binds] == list(range(plan.slots))
    assert all(p.s1 == b.s2 for p, b in zip(preopens, binds))
    assert o[become + 1] == Op.SETUID and o.index(Op.MOUNT) > become
    assert Op.MKNOD not in o  # devices are bind-mounted in a user namespace
    devpts = next(s for s in plan.steps if s.s3 == "devpts")
    assert "gid=5" in (devpts.s4 or "")
    rootless = build_plan(
        lc.Config(namespaces=lc.Namespaces.all()), "x", host=FakeHost(MERGED.kinds, MERGED.links, euid=1000)
    )
    assert _own_maps(rootless) == ["deny", "0 1000 1\n", "0 1000 1\n"]
    pivot = next(s for s in rootless.steps if s.op is Op.PIVOT_ROOT)
    assert pivot.flags & Flag.PIVOT_ONLY  # never chroot in a user namespace
    assert Op.SETGROUPS not in ops(rootless)
    devpts = next(s for s in rootless.steps if s.s3 == "devpts")
    assert "gid=" not in (devpts.s4 or "")


def test_joining_needs_the_two_stage_path() -> None:
    cfg = lc.Config(namespaces=lc.Namespaces(mount=True, pid=True, net="/proc/1/ns/net"))
    plan = build_plan(cfg, "x", host=MERGED)
    assert plan.clone_flags == 0
    assert ops(plan)[:3] == [Op.SETNS, Op.UNSHARE, Op.FORK]
    assert plan.steps[0].open_path == "/proc/1/ns/net"


def test_exec_candidates() -> None:
    assert exec_candidates("/bin/sh", "/x") == ("/bin/sh",)
    assert exec_candidates("sh", "/a::/b") == ("/a/sh", "./sh", "/b/sh")


def test_memory_sharing_only_when_the_child_never_waits_or_setns() -> None:
    assert build_plan(lc.Config(), "x", host=MERGED).shares_memory
    assert not build_plan(lc.Config(namespaces=lc.Namespaces.all()), "x", host=MERGED).shares_memory
    joined = lc.Config(namespaces=lc.Namespaces(mount=True, net="/proc/1/ns/net"))
    assert not build_plan(joined, "x", host=MERGED).shares_memory
    assert not build_plan(lc.Config(), "x", host=MERGED, wait_start=True).shares_memory


def test_rootless_supplementary_groups_are_refused() -> None:
    cfg = lc.Config(
        namespaces=lc.Namespaces.all(),
        gid_mappings=[lc.IDMap(0, 1000, 1)],
        process=lc.Process(args=["x"], user=lc.User(0, 0, [0])),
    )
    with pytest.raises(lc.ConfigError) as info:
        build_plan(cfg, "x", host=FakeHost(MERGED.kinds, MERGED.links, euid=1000))
    assert info.value.field == "process.user.additional_gids"
    assert "/etc/subuid" in str(info.value)
    assert build_plan(cfg, "x", host=MERGED).gid_map  # as root it is fine


def test_rootless_maps_of_ids_not_the_callers_are_refused() -> None:
    cfg = lc.Config(
        namespaces=lc.Namespaces.all(),
        gid_mappings=[lc.IDMap(0, 1000, 1), lc.IDMap(10, 1001, 1)],
        process=lc.Process(args=["x"], user=lc.User(0, 0, [10])),
    )
    with pytest.raises(RootlessConfigError) as info:
        build_plan(cfg, "x", host=FakeHost(MERGED.kinds, MERGED.links, euid=1000))
    assert info.value.field == "gid_mappings" and "1001-1001" in str(info.value)
    assert isinstance(info.value, lc.ContainerError)


def test_rootless_default_maps_warn_without_subordinate_ids() -> None:
    with pytest.warns(RootlessWarning, match="no range"):
        plan = build_plan(
            lc.Config(namespaces=lc.Namespaces.all()), "x", host=FakeHost(MERGED.kinds, MERGED.links, euid=1000)
        )
    assert _own_maps(plan) == ["deny", "0 1000 1\n", "0 1000 1\n"] and not plan.map_helper


def _own_maps(plan: Plan) -> List[str]:
    """The one-id maps a rootless child writes itself, first thing (the
    parent writes none and the child does not wait for it)."""
    assert plan.uid_map == plan.gid_map == "" and not plan.deny_setgroups
    assert Op.WAIT_PARENT not in ops(plan)
    writes = plan.steps[:3]
    assert [s.op for s in writes] == [Op.WRITE_FILE] * 3
    assert [s.s1 for s in writes] == ["/proc/self/setgroups", "/proc/self/uid_map", "/proc/self/gid_map"]
    return [s.s2 for s in writes]


def test_cgroup_join_comes_first_and_the_cgroup_namespace_after_it() -> None:
    procs = [
        "/sys/fs/cgroup/pids/libcontainer_py/x/cgroup.procs",
        "/sys/fs/cgroup/unified/libcontainer_py/x/cgroup.procs",
    ]
    plan = build_plan(lc.Config(), "x", host=MERGED, cgroup_procs=procs)
    assert [s.op for s in plan.steps[:3]] == [Op.JOIN_CGROUP, Op.JOIN_CGROUP, Op.UNSHARE]
    assert [s.open_path for s in plan.steps[:2]] == procs
    assert plan.steps[2].n1 == CLONE_FLAGS["cgroup"]
    assert not plan.clone_flags & CLONE_FLAGS["cgroup"]
    assert plan.shares_memory  # unsharing only the cgroup namespace keeps the fast path
    without = build_plan(lc.Config(), "x", host=MERGED)
    assert without.clone_flags & CLONE_FLAGS["cgroup"] and Op.JOIN_CGROUP not in ops(without)


def test_seccomp_is_last_with_no_new_privs_and_early_without() -> None:
    late = ops(build_plan(lc.Config(), "x", host=MERGED))
    assert late[-2:] == [Op.SECCOMP, Op.EXEC]
    early = ops(build_plan(lc.Config(process=lc.Process(args=["x"], no_new_privileges=False)), "x", host=MERGED))
    assert early.index(Op.SECCOMP) < early.index(Op.DROP_BOUNDING) and Op.NO_NEW_PRIVS not in early
    assert Op.SECCOMP not in ops(build_plan(lc.Config(seccomp=None), "x", host=MERGED))


def test_init_runs_in_its_own_memory_right_before_exec() -> None:
    plan = build_plan(lc.Config(process=lc.Process(args=["x"], init=True)), "x", host=MERGED)
    assert ops(plan)[-2:] == [Op.INIT, Op.EXEC] and not plan.shares_memory


def test_overlay_root_plan() -> None:
    host = FakeHost({"/mnt": "dir", "/media": "dir", "/mnt/layers": "dir"})
    throwaway = build_plan(lc.Config(rootfs=lc.Rootfs.overlay(["/mnt/layers/a", "/mnt/layers/b"])), "x", host=host)
    step = next(s for s in throwaway.steps if s.op is Op.ROOT_OVERLAY)
    assert step.s1 == "/media"  # /mnt holds the layers: not hidden under a scratch mount
    assert step.s2 == "lowerdir=/mnt/layers/b:/mnt/layers/a,upperdir=/media/upper,workdir=/media/work"
    assert step.s4 == "/media/root" and step.flags & Flag.THROWAWAY
    kept = build_plan(lc.Config(rootfs=lc.Rootfs.overlay(["/l"], upper="/u", work="/w")), "x", host=MERGED)
    step = next(s for s in kept.steps if s.op is Op.ROOT_OVERLAY)
    assert step.s2 == "lowerdir=/l,upperdir=/u,workdir=/w" and not step.flags & Flag.THROWAWAY


def test_make_cwd_makes_it_after_pivot_root_before_the_root_is_read_only() -> None:
    """Process.make_cwd: a MKDIRS of the cwd (mode 0755) in the root the
    process sees, before it may become read-only; none for "/" or without
    the flag (a missing cwd is then CHDIR's error)."""
    rootfs = lc.Rootfs.directory("/srv/root", readonly=True)
    config = lc.Config(rootfs=rootfs, process=lc.Process(args=["true"], cwd="/work/dir", make_cwd=True))
    plan = build_plan(config, "abc", host=MERGED)
    names = ops(plan)
    made = [s for s in plan.steps if s.op is Op.MKDIRS]
    assert [(s.s1, s.n1) for s in made] == [("/work/dir", 0o755)]
    assert names.index(Op.PIVOT_ROOT) < names.index(Op.MKDIRS) < names.index(Op.REMOUNT_ROOT_RO)
    assert names.index(Op.MKDIRS) < names.index(Op.CHDIR)
    for process in (lc.Process(args=["true"], cwd="/work/dir"), lc.Process(args=["true"], make_cwd=True)):
        assert Op.MKDIRS not in ops(build_plan(config.evolve(process=process), "abc", host=MERGED))
