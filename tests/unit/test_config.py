"""Config objects: converters, defaults, immutability (no root needed)."""

from __future__ import annotations

import stat

import attrs
import pytest
from support.configs import DEFAULT_MOUNT_POINTS

import libcontainer_py as lc
from libcontainer_py.namespaces import CLONE_FLAGS


def test_defaults_are_a_working_isolated_container() -> None:
    c = lc.Config()
    assert c.rootfs == lc.Rootfs.host()
    assert c.namespaces.new() == ("mount", "uts", "ipc", "pid", "net", "cgroup")
    assert tuple(m.destination for m in c.mounts) == DEFAULT_MOUNT_POINTS
    assert c.mounts[-1] == lc.Mount.cgroup() and c.mounts[-1].is_cgroup
    assert [d.path for d in c.devices] == [
        "/dev/null",
        "/dev/zero",
        "/dev/full",
        "/dev/random",
        "/dev/urandom",
        "/dev/tty",
    ]
    assert c.process.args == ("sh",) and c.process.env["PATH"].startswith("/usr/local/sbin")


def test_frozen_and_env_read_only() -> None:
    c = lc.Config()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        c.hostname = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        c.process.env["X"] = "y"  # type: ignore[index]


def test_rootfs_from_a_path_and_pathlike(tmp_path) -> None:
    assert lc.Config(rootfs=str(tmp_path)).rootfs == lc.Rootfs.directory(str(tmp_path))
    assert lc.Config(rootfs=tmp_path).rootfs == lc.Rootfs.directory(str(tmp_path))
    assert lc.Config(rootfs=None, mounts=(), devices=()).rootfs is None


def test_namespaces_settings() -> None:
    ns = lc.Namespaces(net="/run/netns/x", pid=True)
    assert ns.new() == ("pid",)
    assert ns.joined() == {"net": "/run/netns/x"}
    assert ns.clone_flags() == CLONE_FLAGS["pid"]
    assert lc.Namespaces.all().clone_flags() == sum(CLONE_FLAGS.values())


def test_mounts_add_and_find() -> None:
    extra = lc.Mount.bind("/srv", "/data", readonly=True)
    ms = lc.Mounts.default() + [extra]
    assert isinstance(ms, lc.Mounts) and len(ms) == 8 and ms[-1] == extra
    assert ms.find("/data") == extra and ms.find("/nope") is None
    assert isinstance([extra] + lc.Mounts.default(), lc.Mounts)
    assert isinstance(ms[1:3], lc.Mounts)


def test_mount_flags() -> None:
    m = lc.Mount.bind("/a", "/b", readonly=True, noexec=True, recursive=False)
    assert m.mount_flags() & 0x1000 and not m.mount_flags() & 0x4000
    assert m.bind_attributes() == 0x1 | 0x8
    assert lc.Mount("/x", "tmpfs", propagation="rshared").propagation_flags() == (1 << 20) | 0x4000
    assert lc.Mount.tmpfs("/t", size="1m", mode=0o700).data == "mode=700,size=1m"


def test_copy_up_is_for_tmpfs_only() -> None:
    assert lc.Mount.tmpfs("/var/cache", copy_up=True).copy_up
    assert not lc.Mount.tmpfs("/var/cache").copy_up
    assert lc.Mount("/d", "tmpfs", "tmpfs", copy_up=True).copy_up
    for make in (
        lambda: lc.Mount("/d", "bind", "/srv", copy_up=True),
        lambda: lc.Mount("/d", "proc", "proc", copy_up=True),
        lambda: lc.Mount("/d", "tmpfs", copy_up="yes"),
    ):
        with pytest.raises(lc.ConfigError) as info:
            make()
        assert info.value.field == "mount.copy_up"


def test_destination_normalised() -> None:
    assert lc.Mount.tmpfs("/a//b/./c/").destination == "/a/b/c"


def test_with_args() -> None:
    c = lc.Config().with_args(["echo", "hi"])
    assert c.process.args == ("echo", "hi")


def test_user_namespace_validation() -> None:
    ok = lc.Config(
        namespaces=lc.Namespaces.all(),
        uid_mappings=[lc.IDMap(0, 100000, 65536)],
        gid_mappings=[lc.IDMap(0, 100000, 65536)],
        process=lc.Process(args=["x"], user=lc.User(1000, 1000, [5])),
    )
    assert ok.uid_mappings[0].line() == "0 100000 65536\n"
    with pytest.raises(lc.ConfigError, match="additional_gids"):
        lc.Config(
            namespaces=lc.Namespaces.all(),
            uid_mappings=[lc.IDMap(0, 100000, 65536)],
            gid_mappings=[lc.IDMap(0, 100000, 10)],
            process=lc.Process(args=["x"], user=lc.User(0, 0, [50])),
        )


def test_no_pivot_refused_in_user_namespace() -> None:
    with pytest.raises(lc.ConfigError, match="no_pivot"):
        lc.Config(rootfs=lc.Rootfs.host(no_pivot=True), namespaces=lc.Namespaces.all())


def test_device_validation() -> None:
    with pytest.raises(lc.ConfigError, match="under /dev"):
        lc.Device("/etc/null", "c", 1, 3)
    with pytest.raises(lc.ConfigError, match="duplicate"):
        lc.Config(devices=lc.DEFAULT_DEVICES + (lc.Device("/dev/null", "c", 1, 3),))
    with pytest.raises(lc.ConfigError, match="'p' \\(FIFO\\)"):
        lc.Device("/dev/x", "s", 1, 3)
    with pytest.raises(lc.ConfigError, match="no device number"):
        lc.Device("/dev/pipe", "p", 1, 3)
    assert lc.Device.fifo("/dev/pipe", uid=5).file_type == stat.S_IFIFO
    userns = dict(
        namespaces=lc.Namespaces.all(), uid_mappings=[lc.IDMap(0, 100000, 10)], gid_mappings=[lc.IDMap(0, 100000, 10)]
    )
    lc.Config(devices=lc.DEFAULT_DEVICES + (lc.Device.fifo("/dev/pipe", uid=9, gid=9),), **userns)
    with pytest.raises(lc.ConfigError) as info:
        lc.Config(devices=lc.DEFAULT_DEVICES + (lc.Device.fifo("/dev/pipe", uid=1, gid=10),), **userns)
    assert info.value.field == "devices[6].gid" and "not mapped" in info.value.message


def test_mounts_and_devices_follow_the_rootfs() -> None:
    bare = lc.Config(rootfs=None)
    assert len(bare.mounts) == 0 and bare.devices == ()
    no_dev = lc.Config(mounts=[lc.Mount.proc()])
    assert no_dev.devices == ()
    assert lc.Config(mounts=[lc.Mount.dev()]).devices == lc.DEFAULT_DEVICES


def test_default_protected_paths_are_what_the_check_makes_of_them() -> None:
    """The default masked and read-only paths skip the path check (by identity):
    a copy of each, checked, is the same."""
    from libcontainer_py.config import _paths
    from libcontainer_py.paths import DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS

    for default in (DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS):
        assert _paths("masked_paths", list(default)) == default
