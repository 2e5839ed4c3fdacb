"""The root filesystem and mounts, as /proc/self/mountinfo inside shows them."""

from __future__ import annotations

import os
import stat

import pytest
from support.configs import DEFAULT_MOUNT_POINTS
from support.observe import inside

import libcontainer_py as lc


def mountinfo(config: lc.Config) -> dict:
    """mount point -> (mount options, fs type, source, super options)."""
    out = {}
    for line in inside(config, "cat /proc/self/mountinfo").splitlines():
        left, right = line.split(" - ")
        fields = left.split()
        fstype, source, superopts = right.split()
        out[fields[4]] = (set(fields[5].split(",")), fstype, source, superopts)
    return out


def test_default_mounts_and_nothing_of_the_host(busybox: str) -> None:
    seen = mountinfo(lc.Config(rootfs=busybox, masked_paths=(), readonly_paths=()))
    cgroups = {m for m in seen if m.startswith("/sys/fs/cgroup/")}
    assert set(seen) - cgroups == {"/", *DEFAULT_MOUNT_POINTS}
    # Mount.cgroup: the container's hierarchies in a read-only tmpfs
    assert seen["/sys/fs/cgroup"][1] == "tmpfs" and {"ro", "nosuid", "nodev", "noexec"} <= seen["/sys/fs/cgroup"][0]
    assert cgroups and all(seen[m][1] in ("cgroup", "cgroup2") and "ro" in seen[m][0] for m in cgroups)
    assert seen["/proc"][1] == "proc"
    assert seen["/dev"][1] == "tmpfs" and "nosuid" in seen["/dev"][0]
    assert seen["/dev/pts"][1] == "devpts" and "newinstance" not in seen["/dev/pts"][3]
    assert "ptmxmode=666" in seen["/dev/pts"][3]
    assert seen["/dev/shm"][1] == "tmpfs"
    assert seen["/dev/mqueue"][1] == "mqueue"
    assert seen["/sys"][1] == "sysfs" and "ro" in seen["/sys"][0]
    for m in ("/proc", "/dev/shm", "/sys", "/dev/mqueue"):
        assert {"nosuid", "nodev", "noexec"} <= seen[m][0], m


def test_host_rootfs_binds_system_dirs_read_only() -> None:
    seen = mountinfo(lc.Config())
    assert seen["/"][1] == "tmpfs"
    for path in ("/usr", "/etc"):
        assert "ro" in seen[path][0], path
    assert seen["/tmp"][1] == "tmpfs" and "ro" not in seen["/tmp"][0]
    host_mounts = {line.split()[4] for line in open("/proc/self/mountinfo")}
    unexpected = {m for m in seen if not m.startswith(("/proc/", "/sys/"))} - {
        "/",
        "/usr",
        "/etc",
        "/bin",
        "/sbin",
        "/lib",
        "/lib32",
        "/lib64",
        "/libx32",
        "/tmp",
        *DEFAULT_MOUNT_POINTS,
    }
    assert not unexpected
    # The host's (read-write) cgroup mounts are not there; /sys/fs/cgroup holds
    # the container's own hierarchies (Mount.cgroup), read-only.
    assert "/sys/fs/cgroup/memory" in host_mounts and "/sys/fs/cgroup/unified" in host_mounts
    assert "ro" in seen["/sys/fs/cgroup/memory"][0] and "/sys/fs/cgroup/unified" not in seen


def test_host_rootfs_layout_follows_the_host() -> None:
    out = inside(
        lc.Config(),
        "for p in /bin /sbin /lib /lib64; do [ -L $p ] && echo L$(readlink $p) || "
        "{ [ -d $p ] && echo D || echo M; }; done",
    ).split()
    for path, got in zip(("/bin", "/sbin", "/lib", "/lib64"), out):
        if os.path.islink(path):
            assert got == "L" + os.readlink(path)
        elif os.path.isdir(path):
            assert got == "D"
        else:
            assert got == "M"


@pytest.mark.parametrize("path", ["/usr/x", "/etc/x"])
def test_host_rootfs_system_dirs_are_read_only(path: str) -> None:
    r = lc.run(["sh", "-c", f"touch {path}"], capture_output=True, text=True)
    assert r.returncode != 0 and "Read-only file system" in r.stderr
    assert not os.path.exists(path)


def test_readonly_root(busybox: str) -> None:
    config = lc.Config(rootfs=lc.Rootfs.directory(busybox, readonly=True))
    out = inside(
        config, "touch /newfile 2>&1; echo rc=$?; touch /tmp/ok 2>&1; echo rc=$?; touch /dev/shm/ok && echo shm-ok"
    )
    assert "Read-only file system" in out and "rc=1" in out
    assert "shm-ok" in out
    assert mountinfo(config)["/"][0] >= {"ro"}
    assert not os.path.exists(os.path.join(busybox, "newfile"))


def test_readonly_bind_and_writable_bind(busybox: str, tmp_path) -> None:
    ro, rw = tmp_path / "ro", tmp_path / "rw"
    ro.mkdir()
    rw.mkdir()
    (ro / "x").write_text("hello\n")
    config = lc.Config(
        rootfs=busybox,
        mounts=lc.Mounts.default()
        + [
            lc.Mount.bind(str(ro), "/data", readonly=True),
            lc.Mount.bind(str(rw), "/out"),
        ],
    )
    out = inside(config, "cat /data/x; (echo new > /data/y) 2>&1; echo rc=$?; echo written > /out/z")
    assert out.startswith("hello\n")
    assert "Read-only file system" in out and "rc=1" in out
    assert (rw / "z").read_text() == "written\n"
    assert not (ro / "y").exists()
    seen = mountinfo(config)
    assert "ro" in seen["/data"][0] and "ro" not in seen["/out"][0]


def test_bind_a_file_and_mount_options(busybox: str, tmp_path) -> None:
    f = tmp_path / "conf"
    f.write_text("cfg\n")
    config = lc.Config(
        rootfs=busybox,
        mounts=lc.Mounts.default()
        + [
            lc.Mount.bind(str(f), "/etc/app/conf", readonly=True, noexec=True, nosuid=True, nodev=True),
            lc.Mount.tmpfs("/scratch", size="1m", mode=0o700, noexec=True),
        ],
    )
    out = inside(config, "cat /etc/app/conf; stat -c %a /scratch")
    assert out.split() == ["cfg", "700"]
    seen = mountinfo(config)
    assert {"ro", "noexec", "nosuid", "nodev"} <= seen["/etc/app/conf"][0]
    assert "noexec" in seen["/scratch"][0] and "size=1024k" in seen["/scratch"][3]


def test_non_recursive_bind_hides_submounts(busybox: str, tmp_path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    base = lc.Mounts.default() + [
        lc.Mount.tmpfs("/src"),
    ]
    # Build a source with a submount inside the container: tmpfs at /src/sub.
    config = lc.Config(
        rootfs=busybox,
        mounts=lc.Mounts.default()
        + [
            lc.Mount.bind(str(src), "/a"),
            lc.Mount.tmpfs("/a/sub"),
            lc.Mount.bind(str(src), "/rec", recursive=True),
            lc.Mount.bind(str(src), "/flat", recursive=False),
        ],
    )
    assert base
    seen = mountinfo(config)
    assert "/a/sub" in seen
    # Binds of the host dir: the tmpfs was mounted in the container, after the
    # bind, so neither copy has it; both are plain binds of the host directory.
    assert "/rec/sub" not in seen and "/flat/sub" not in seen


def test_mount_propagation_option(busybox: str, tmp_path) -> None:
    config = lc.Config(
        rootfs=busybox,
        mounts=lc.Mounts.default()
        + [
            lc.Mount.tmpfs("/shared"),
            lc.Mount("/shared", "tmpfs", "tmpfs", propagation="shared"),
            lc.Mount.tmpfs("/private"),
        ],
    )
    lines = inside(config, "cat /proc/self/mountinfo").splitlines()
    shared = [ln for ln in lines if ln.split()[4] == "/shared"]
    assert any("shared:" in ln for ln in shared)
    private = [ln for ln in lines if ln.split()[4] == "/private"]
    assert private and all("shared:" not in ln and "master:" not in ln for ln in private)


def test_devices_and_symlinks(busybox: str) -> None:
    out = inside(
        lc.Config(rootfs=busybox),
        "ls -l /dev; head -c 4 /dev/zero | od -An -tx1; "
        "echo x > /dev/null && echo null-ok; head -c 8 /dev/urandom | wc -c; "
        "(echo x > /dev/full) 2>/dev/null || echo full-enospc",
    )
    for name, major, minor in (
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ):
        assert any(
            (line.startswith("crw-rw-rw-") and line.endswith(f" {name}") and f"{major}, {minor:>3}" in line)
            or (line.startswith("crw-rw-rw-") and line.endswith(f" {name}") and f"{major}," in line)
            for line in out.splitlines()
        ), name
    for link, target in (
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ):
        assert f"{link} -> {target}" in out
    assert "00 00 00 00" in out and "null-ok" in out and "full-enospc" in out
    assert "\n8\n" in out


def test_custom_device(busybox: str) -> None:
    config = lc.Config(rootfs=busybox, devices=lc.DEFAULT_DEVICES + (lc.Device("/dev/kmsg", "c", 1, 11, mode=0o600),))
    out = inside(config, "stat -c '%F %a %t:%T' /dev/kmsg")
    assert out.strip() == "character special file 600 1:b"


def test_device_below_missing_directories(busybox: str) -> None:
    """As runc: the directories a device node needs are made (podman
    --privileged passes host devices such as /dev/cpu/0/cpuid)."""
    deep = lc.Device("/dev/deep/er/null", "c", 1, 3, mode=0o600)
    config = lc.Config(rootfs=busybox, devices=lc.DEFAULT_DEVICES + (deep,))
    out = inside(config, "stat -c '%F %a %t:%T' /dev/deep/er/null; echo x > /dev/deep/er/null && echo writes")
    assert out.split("\n")[:2] == ["character special file 600 1:3", "writes"]
    assert not os.path.exists(os.path.join(busybox, "dev", "deep"))


def test_dev_nodes_are_not_left_in_a_directory_rootfs(busybox: str) -> None:
    inside(lc.Config(rootfs=busybox), "true")
    assert os.listdir(os.path.join(busybox, "dev")) == []


@pytest.fixture
def escape_root(tmp_path):
    """A rootfs with symlinks that point at a host directory holding data."""
    from support.busybox import make_rootfs

    root = make_rootfs(str(tmp_path / "root"))
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious").write_text("host data\n")
    os.symlink(str(victim), os.path.join(root, "evil"))  # absolute link to the host dir
    os.symlink("../../../../../../../.." + str(victim), os.path.join(root, "evil2"))  # relative climb
    return root, victim


@pytest.mark.parametrize("link", ["/evil", "/evil2", "/evil/sub"])
def test_symlink_out_of_the_root_is_refused(escape_root, link: str) -> None:
    """A mount destination that is a symlink to a host path is refused: the
    link resolves inside the root, where its target does not exist."""
    root, victim = escape_root
    config = lc.Config(rootfs=root, mounts=lc.Mounts.default() + [lc.Mount.tmpfs(link)])
    with pytest.raises(lc.MountError) as info:
        lc.run(["true"], config=config)
    assert info.value.path == link and info.value.errno == 2
    assert "not followed out of it" in str(info.value)
    assert sorted(os.listdir(victim)) == ["precious"]
    assert not os.path.exists(os.path.join(root, str(victim).lstrip("/")))
    host_mounts = [line.split()[4] for line in open("/proc/self/mountinfo")]
    assert str(victim) not in host_mounts


def test_symlink_is_followed_inside_the_root(escape_root) -> None:
    """Where the link's target exists inside the root, the mount lands there,
    never on the host path of the same name."""
    root, victim = escape_root
    inner = os.path.join(root, str(victim).lstrip("/"))
    os.makedirs(inner)
    config = lc.Config(rootfs=root, mounts=lc.Mounts.default() + [lc.Mount.tmpfs("/evil"), lc.Mount.tmpfs("/evil2")])
    out = inside(config, f"echo written > /evil/new; ls {victim}; grep -c ' {victim} ' /proc/self/mountinfo")
    assert out.split() == ["new", "2"]
    assert sorted(os.listdir(victim)) == ["precious"]
    assert os.listdir(inner) == []  # the tmpfs was on top of it, in the container only


def test_dotdot_destination_is_refused() -> None:
    with pytest.raises(lc.ConfigError, match=r"\.\."):
        lc.Mount.tmpfs("/x/../../etc")


def test_magic_link_destination_is_refused(busybox: str) -> None:
    config = lc.Config(rootfs=busybox, mounts=lc.Mounts.default() + [lc.Mount.tmpfs("/proc/self/root/etc")])
    with pytest.raises(lc.MountError) as info:
        lc.run(["true"], config=config)
    assert info.value.path == "/proc/self/root/etc"
    assert info.value.errno in (40,)  # ELOOP: magic links are not followed


def test_no_pivot_uses_chroot(busybox: str) -> None:
    config = lc.Config(rootfs=lc.Rootfs.directory(busybox, no_pivot=True))
    out = inside(config, "cat /proc/self/mountinfo; ls /")
    assert "bin" in out.split()
    # With MS_MOVE + chroot the host's mounts remain in the namespace, under the root.
    assert len(out.splitlines()) > 10


def test_pivot_root_leaves_no_old_root(busybox: str) -> None:
    seen = mountinfo(lc.Config(rootfs=busybox, masked_paths=(), readonly_paths=()))
    assert len([m for m in seen if not m.startswith("/sys/fs/cgroup/")]) == 8
    assert all(not m.startswith("/tmp/") for m in seen)


def test_mqueue_and_shm_usable(busybox: str) -> None:
    out = inside(lc.Config(rootfs=busybox), "echo hi > /dev/shm/x && cat /dev/shm/x; ls -ld /dev/mqueue /dev/shm")
    assert out.startswith("hi\n")
    assert "drwxrwxrwt" in out


def test_rootfs_file_modes_unchanged(busybox: str) -> None:
    before = stat.S_IMODE(os.stat(busybox).st_mode)
    inside(lc.Config(rootfs=busybox), "true")
    assert stat.S_IMODE(os.stat(busybox).st_mode) == before


def _root_propagation_inside(config: lc.Config) -> str:
    """The optional fields of the container's own "/" in its mountinfo, numbers dropped."""
    out = inside(config, 'awk \'$5 == "/" { for (i = 7; $i != "-"; i++) printf "%s ", $i }\' /proc/self/mountinfo')
    return " ".join(field.split(":")[0] for field in out.split())


def _host_mount_is_shared(path: str) -> bool:
    """Whether the host's mount holding ``path`` has shared propagation."""
    best, shared = "", False
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            point = fields[4]
            if (path == point or path.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
                best, shared = point, any(x.startswith("shared:") for x in fields[6 : fields.index("-")])
    return shared


@pytest.mark.parametrize(
    "propagation",
    ["shared", "rshared", "slave", "rslave", "private", "rprivate", "unbindable", "runbindable"],
)
def test_root_propagation_is_the_roots_own(busybox: str, no_leaks: None, propagation: str) -> None:
    """OCI's rootfsPropagation sets the propagation of the container's root
    mount: all four work (runc refuses unbindable and leaves a shared root
    private); nothing reaches the host's mount table."""
    kind = propagation[1:] if propagation.startswith("r") else propagation  # rslave -> slave
    for rootfs in (lc.Rootfs.directory(busybox, propagation=propagation), lc.Rootfs.host(propagation=propagation)):
        if kind in ("shared", "unbindable"):
            expected = kind
        elif kind == "slave" and rootfs.path is not None and _host_mount_is_shared(os.path.realpath(busybox)):
            expected = "master"  # the root is a bind of a shared host mount: it receives from it
        else:
            expected = ""  # private, or a slave of a mount with nothing to send
        assert _root_propagation_inside(lc.Config(rootfs=rootfs)) == expected, rootfs
