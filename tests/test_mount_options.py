"""Every mount option of the OCI runtime spec's table, on bind, tmpfs, proc
and sysfs mounts, as /proc/self/mountinfo inside the container shows them;
the recursive ``r*`` attributes on a tree of mounts; a read-only /dev with
mounts below it.  Beside runc where runc does the same."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List, Set, Tuple

import attrs
import pytest
from support.busybox import make_rootfs
from support.configs import userns_config
from support.observe import inside

import libcontainer_py as lc
from libcontainer_py.oci.mounts import mount_from_oci

RUNC = "/usr/sbin/runc"
KINDS = ("bind", "tmpfs", "proc", "sysfs")
#: The spec's table of Linux mount options (bind/rbind come with the kind;
#: mand and remount are refused: tests/unit/test_oci_spec.py).
OPTIONS = (
    "async", "atime", "defaults", "dev", "diratime", "dirsync", "exec", "iversion", "lazytime", "loud",
    "noatime", "nodev", "nodiratime", "noexec", "noiversion", "nolazytime", "nomand", "norelatime",
    "nostrictatime", "nosuid", "nosymfollow", "relatime", "ro", "rw", "silent", "strictatime", "suid", "sync",
    "symfollow",
)  # fmt: skip
#: Per-mount flags that must show (+) or must not (-) for each option.
PER_MOUNT = {
    "ro": ({"ro"}, {"rw"}),
    "rw": ({"rw"}, {"ro"}),
    "nosuid": ({"nosuid"}, set()),
    "suid": (set(), {"nosuid"}),
    "nodev": ({"nodev"}, set()),
    "dev": (set(), {"nodev"}),
    "noexec": ({"noexec"}, set()),
    "exec": (set(), {"noexec"}),
    "noatime": ({"noatime"}, {"relatime"}),
    "relatime": ({"relatime"}, {"noatime"}),
    "strictatime": (set(), {"noatime", "relatime"}),
    "nodiratime": ({"nodiratime"}, set()),
    "diratime": (set(), {"nodiratime"}),
    "nosymfollow": ({"nosymfollow"}, set()),
    "symfollow": (set(), {"nosymfollow"}),
}
#: Options that clear an atime mode: the mount keeps the default one (a new
#: file system: relatime; a bind mount: its source's).
ATIME_CLEARING = ("atime", "norelatime", "nostrictatime")
#: Superblock flags (the super options of mountinfo), on a new tmpfs or proc.
SUPER = {"sync": "sync", "dirsync": "dirsync", "lazytime": "lazytime"}
SUPER_CLEARING = {"async": "sync", "nolazytime": "lazytime"}


def entry(kind: str, option: str, source: str) -> Dict[str, Any]:
    if kind == "bind":
        return {"destination": f"/o/bind-{option}", "type": "bind", "source": source, "options": ["rbind", option]}
    return {"destination": f"/o/{kind}-{option}", "type": kind, "source": kind, "options": [option]}


def parse_mountinfo(text: str) -> Dict[str, Tuple[Set[str], str, Set[str]]]:
    """mount point -> (per-mount options, fs type, super options); the last
    mount at a point wins."""
    out = {}
    for line in text.splitlines():
        left, right = line.split(" - ")
        fields = left.split()
        fstype, _source, superopts = right.split()
        out[fields[4]] = (set(fields[5].split(",")), fstype, set(superopts.split(",")))
    return out


def atime_mode(flags: Set[str]) -> str:
    return "noatime" if "noatime" in flags else "relatime" if "relatime" in flags else "strictatime"


def host_atime_mode(path: str) -> str:
    flag = os.statvfs(path).f_flag
    return "noatime" if flag & os.ST_NOATIME else "relatime" if flag & os.ST_RELATIME else "strictatime"


def check_option(kind: str, option: str, seen: Tuple[Set[str], str, Set[str]], source_mode: str) -> None:
    per_mount, fstype, superopts = seen
    if kind != "bind":
        assert fstype == kind
    must, must_not = PER_MOUNT.get(option, (set(), set()))
    assert must <= per_mount and not must_not & per_mount, (kind, option, per_mount)
    if option in ATIME_CLEARING:
        assert atime_mode(per_mount) == (source_mode if kind == "bind" else "relatime"), (kind, option, per_mount)
    # sysfs shares one superblock per net namespace (the container's /sys
    # made it); a bind mount shares its source's: flags of the superblock
    # apply to new tmpfs and proc mounts only.
    if kind in ("tmpfs", "proc") and option in SUPER:
        assert SUPER[option] in superopts, (kind, option, superopts)
    if option in SUPER_CLEARING:
        assert SUPER_CLEARING[option] not in superopts, (kind, option, superopts)


@pytest.fixture
def source(tmp_path: Path) -> str:
    src = tmp_path / "src"
    src.mkdir()
    (src / "file").write_text("x")
    return str(src)


def test_every_option_on_every_kind(busybox: str, source: str, no_leaks: None) -> None:
    """Config.from_oci's reading of each option, in a real container."""
    mounts = [mount_from_oci("m", entry(k, o, source), None) for k in KINDS for o in OPTIONS]
    config = lc.Config(rootfs=busybox, mounts=lc.Mounts.default() + mounts, masked_paths=(), readonly_paths=())
    seen = parse_mountinfo(inside(config, "cat /proc/self/mountinfo"))
    mode = host_atime_mode(source)
    for kind in KINDS:
        for option in OPTIONS:
            check_option(kind, option, seen[f"/o/{kind}-{option}"], mode)


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[str]:
    """A host directory that is a noatime,nodiratime tmpfs with a
    strictatime tmpfs at sub/ (and sub/deeper/, relatime); unmounted after."""
    top = tmp_path / "tree"
    top.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "noatime,nodiratime,size=1m", "tree", str(top)], check=True)
    try:
        (top / "sub").mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "strictatime,size=1m", "sub", str(top / "sub")], check=True)
        (top / "sub" / "deeper").mkdir()
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "relatime,size=1m", "deeper", str(top / "sub/deeper")], check=True
        )
        yield str(top)
    finally:
        subprocess.run(["umount", "-R", "-l", str(top)], check=False)


@pytest.mark.parametrize("mode", ["noatime", "strictatime", "relatime"])
def test_atime_mode_on_bind_mounts(busybox: str, tree: str, mode: str, no_leaks: None) -> None:
    """A bind mount gets the atime mode asked for whatever its source has
    (mount_setattr needs the whole atime field cleared to set one: EINVAL
    before); with ``rbind`` the submounts keep theirs (the flags are the
    top mount's, as runc's remount)."""
    config = lc.Config(
        rootfs=busybox,
        mounts=lc.Mounts.default()
        + [
            lc.Mount("/b", "bind", tree, recursive=True, options=(mode,)),
            lc.Mount("/c", "bind", f"{tree}/sub", recursive=False, readonly=True, options=(mode, "nosymfollow")),
        ],
    )
    seen = parse_mountinfo(inside(config, "cat /proc/self/mountinfo"))
    assert atime_mode(seen["/b"][0]) == mode and "nodiratime" in seen["/b"][0]  # the source's, kept
    assert atime_mode(seen["/b/sub"][0]) == "strictatime" and atime_mode(seen["/b/sub/deeper"][0]) == "relatime"
    assert atime_mode(seen["/c"][0]) == mode and {"ro", "nosymfollow"} <= seen["/c"][0]


RECURSIVE = (
    "rro", "rrw", "rnosuid", "rsuid", "rnodev", "rdev", "rnoexec", "rexec", "rnodiratime", "rdiratime",
    "rnoatime", "rrelatime", "rstrictatime", "ratime", "rnorelatime", "rnostrictatime", "rnosymfollow",
    "rsymfollow",
)  # fmt: skip


def bundle(tmp_path: Path, mounts: List[Dict[str, Any]]) -> Tuple[str, List[str]]:
    """A bundle (our ``spec``, busybox) that prints its mountinfo; our CLI."""
    path = tmp_path / "bundle"
    path.mkdir()
    rootfs = make_rootfs(str(path / "rootfs"))
    cli = [sys.executable, "-m", "libcontainer_py", "--root", str(tmp_path / "state")]
    subprocess.run([*cli, "spec"], cwd=path, check=True)
    doc = json.loads((path / "config.json").read_text())
    doc["process"].update(terminal=False, args=["cat", "/proc/self/mountinfo"])
    doc["root"] = {"path": rootfs, "readonly": False}
    doc["mounts"] += mounts
    (path / "config.json").write_text(json.dumps(doc))
    return str(path), cli


def run_both(tmp_path: Path, mounts: List[Dict[str, Any]]) -> Tuple[str, str]:
    """mountinfo in our container and in runc's, on the same bundle."""
    path, cli = bundle(tmp_path, mounts)
    outputs = []
    runc = [RUNC, "--root", str(tmp_path / "runc")]
    for argv in ([*cli, "run", "--bundle", path, "mo-ours"], [*runc, "run", "--bundle", path, "mo-runc"]):
        r = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
        assert r.returncode == 0, (argv[0], r.stderr)
        outputs.append(r.stdout)
    return outputs[0], outputs[1]


#: Recursive option -> (attribute, value) every mount of the tree must show;
#: atime modes as atime_mode() names them.  ratime, rnorelatime and
#: rnostrictatime clear a mode by setting the default one, relatime.
RECURSIVE_EXPECTED = {
    "rro": ("ro", True),
    "rrw": ("ro", False),
    "rnosuid": ("nosuid", True),
    "rsuid": ("nosuid", False),
    "rnodev": ("nodev", True),
    "rdev": ("nodev", False),
    "rnoexec": ("noexec", True),
    "rexec": ("noexec", False),
    "rnodiratime": ("nodiratime", True),
    "rdiratime": ("nodiratime", False),
    "rnosymfollow": ("nosymfollow", True),
    "rsymfollow": ("nosymfollow", False),
    "rnoatime": ("atime", "noatime"),
    "rrelatime": ("atime", "relatime"),
    "rstrictatime": ("atime", "strictatime"),
    "ratime": ("atime", "relatime"),
    "rnorelatime": ("atime", "relatime"),
    "rnostrictatime": ("atime", "relatime"),
}
LEVELS = ("", "/sub", "/sub/deeper")


def check_recursive(option: str, seen: Dict[str, Tuple[Set[str], str, Set[str]]], at: str) -> None:
    attr, value = RECURSIVE_EXPECTED[option]
    for level in LEVELS:
        flags = seen[at + level][0]
        got = atime_mode(flags) if attr == "atime" else attr in flags
        assert got == value, (option, level, flags)


def test_recursive_options_apply_to_the_whole_tree(busybox: str, tree: str, no_leaks: None) -> None:
    """Each r* option on an rbind of a three-level tree and on a tmpfs;
    plain flags on an rbind are the top mount's only (runc's remount)."""
    entries = [{"destination": f"/r/{o}", "type": "bind", "source": tree, "options": ["rbind", o]} for o in RECURSIVE]
    entries += [{"destination": f"/t/{o}", "type": "tmpfs", "options": [o]} for o in RECURSIVE]
    entries += [{"destination": "/p", "type": "bind", "source": tree, "options": ["rbind", "ro", "nosuid", "noexec"]}]
    mounts = [mount_from_oci("m", e, None) for e in entries]
    config = lc.Config(rootfs=busybox, mounts=lc.Mounts.default() + mounts, masked_paths=(), readonly_paths=())
    seen = parse_mountinfo(inside(config, "cat /proc/self/mountinfo"))
    for option in RECURSIVE:
        check_recursive(option, seen, f"/r/{option}")
        attr, value = RECURSIVE_EXPECTED[option]
        flags = seen[f"/t/{option}"][0]
        assert (atime_mode(flags) if attr == "atime" else attr in flags) == value, (option, flags)
    assert {"ro", "nosuid", "noexec"} <= seen["/p"][0]
    for level in LEVELS[1:]:
        assert not {"ro", "nosuid", "noexec"} & seen["/p" + level][0], level


def test_library_bind_flags_are_recursive(busybox: str, tree: str, no_leaks: None) -> None:
    """Mount.bind's flags cover the submounts too (recursive_options), so a
    read-only bind has no writable corner; Mount(...) alone is top-only."""
    config = lc.Config(
        rootfs=busybox,
        mounts=lc.Mounts.default()
        + [
            lc.Mount.bind(tree, "/lib-ro", readonly=True, nosuid=True),
            lc.Mount("/top-ro", "bind", tree, readonly=True),
        ],
    )
    out = inside(
        config, "cat /proc/self/mountinfo; touch /top-ro/sub/x && echo WROTE; touch /lib-ro/sub/x || echo REFUSED"
    )
    seen = parse_mountinfo(out.split("WROTE")[0])
    for level in LEVELS:
        assert {"ro", "nosuid"} <= seen["/lib-ro" + level][0], level
    assert "ro" in seen["/top-ro"][0] and "ro" not in seen["/top-ro/sub"][0]
    assert "WROTE" in out and "REFUSED" in out


#: Where runc 1.1 differs, on purpose (docs/decisions.md): it fails with
#: EINVAL on ratime and rnostrictatime, does nothing for rnorelatime (its
#: attribute is 0), ignores r* options on anything but a bind mount, and a
#: plain atime mode on a bind mount resets the source's nodiratime there
#: (its remount replaces every atime flag).
RUNC_FAILS = ("ratime", "rnostrictatime")


def test_options_as_runc(tmp_path: Path, source: str, tree: str) -> None:
    """The whole table and the r* options through the command line, beside
    runc on the same bundle: the same per-mount flags everywhere but where
    runc is wrong (above)."""
    mounts = [entry(k, o, source) for k in KINDS for o in OPTIONS if o != "defaults"]  # runc: EINVAL (as data)
    rec = [o for o in RECURSIVE if o not in RUNC_FAILS]
    mounts += [{"destination": f"/r/{o}", "type": "bind", "source": tree, "options": ["rbind", o]} for o in rec]
    mounts += [{"destination": "/p", "type": "bind", "source": tree, "options": ["rbind", "ro", "nosuid"]}]
    mounts += [{"destination": "/a", "type": "bind", "source": tree, "options": ["rbind", "relatime"]}]
    ours, theirs = (parse_mountinfo(text) for text in run_both(tmp_path, mounts))
    assert ours["/a"][0] == {"rw", "relatime", "nodiratime"} and theirs["/a"][0] == {"rw", "relatime"}
    points = [m["destination"] for m in mounts if m["destination"] not in ("/r/rnorelatime", "/a")]
    points += [f"{p}{level}" for p in points if p.startswith(("/r/", "/p")) for level in LEVELS[1:]]
    check_recursive("rnorelatime", ours, "/r/rnorelatime")
    assert [atime_mode(theirs["/r/rnorelatime" + level][0]) for level in LEVELS] == [
        "noatime", "strictatime", "relatime"
    ]  # fmt: skip
    for point in points:
        assert ours[point][0] == theirs[point][0], (point, ours[point], theirs[point])
        if point != "/o/tmpfs-ro":  # runc: a read-only bind of a writable tmpfs; ours: a read-only tmpfs
            assert ours[point][2] == theirs[point][2], (point, ours[point], theirs[point])
    assert "ro" in ours["/o/tmpfs-ro"][2] and "rw" in theirs["/o/tmpfs-ro"][2]


def test_readonly_dev_with_mounts_below(tmp_path: Path, busybox: str, no_leaks: None) -> None:
    """A read-only /dev gets its devices, symlinks, devpts and shm first and
    is made read-only after them (as runc); they keep their own flags."""
    mounts = [lc.Mount("/dev", "tmpfs", "tmpfs", readonly=True, nosuid=True, data="mode=755")]
    mounts += [lc.Mount.devpts(), lc.Mount.shm(), lc.Mount.proc()]
    config = lc.Config(rootfs=busybox, mounts=mounts, masked_paths=(), readonly_paths=())
    out = inside(config, "cat /proc/self/mountinfo; ls /dev; touch /dev/x 2>&1; touch /dev/shm/y && echo SHM")
    seen = parse_mountinfo("\n".join(line for line in out.splitlines() if " - " in line))
    assert "ro" in seen["/dev"][0] and "rw" in seen["/dev/pts"][0] and "rw" in seen["/dev/shm"][0]
    assert seen["/dev/pts"][1] == "devpts" and {"null", "ptmx", "pts", "shm", "stdout"} <= set(out.split())
    assert "Read-only file system" in out and "SHM" in out


def test_readonly_dev_as_runc(tmp_path: Path) -> None:
    """runc's spec with /dev read-only: both runtimes start it, /dev/pts is a
    writable devpts below a read-only /dev."""
    mounts_script = (
        "grep -E ' /dev(/pts)? ' /proc/self/mountinfo | cut -d' ' -f5,6,9; touch /dev/x 2>&1 | grep -c Read-only"
    )
    path, cli = bundle(tmp_path, [])
    doc = json.loads((Path(path) / "config.json").read_text())
    for m in doc["mounts"]:
        if m["destination"] == "/dev":
            m["options"] = [*m["options"], "ro"]
    doc["process"]["args"] = ["sh", "-c", mounts_script]
    (Path(path) / "config.json").write_text(json.dumps(doc))
    outputs = []
    runc = [RUNC, "--root", str(tmp_path / "runc")]
    for argv in ([*cli, "run", "--bundle", path, "dev-ours"], [*runc, "run", "--bundle", path, "dev-runc"]):
        r = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
        assert r.returncode == 0, (argv[0], r.stderr)
        outputs.append(r.stdout.splitlines())
    for out in outputs:
        assert [line.split()[0] for line in out[:2]] == ["/dev", "/dev/pts"] and out[2] == "1"
        assert out[0].split()[1].startswith("ro,") and out[1].split()[1].startswith("rw,")
        assert out[0].split()[2] == "tmpfs" and out[1].split()[2] == "devpts"
    assert outputs[0] == outputs[1]


def test_atime_mode_on_the_cgroup_binds(busybox: str, no_leaks: None) -> None:
    """Without a cgroup namespace Mount.cgroup binds each v1 hierarchy: an
    atime mode there is set like on any bind (it failed with EINVAL)."""
    config = lc.Config(
        rootfs=busybox,
        namespaces=attrs.evolve(lc.Namespaces.default(), cgroup=False),
        mounts=[lc.Mount.proc(), lc.Mount.cgroup(options=("noatime",))],
        masked_paths=(),
        readonly_paths=(),
    )
    seen = parse_mountinfo(inside(config, "cat /proc/self/mountinfo"))
    binds = [p for p in seen if p.startswith("/sys/fs/cgroup/")]
    assert binds and all(atime_mode(seen[p][0]) == "noatime" and "ro" in seen[p][0] for p in binds), seen


def test_a_refused_recursive_option_is_a_mount_error_and_leaves_nothing(
    busybox: str, tmp_path: Path, no_leaks: None
) -> None:
    """In a user namespace a read-only mount of the host is locked: rrw on
    it is refused by the kernel (EPERM), a MountError naming the step and
    the path; nothing is left behind."""
    locked = tmp_path / "locked"
    locked.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "locked", str(locked)], check=True)
    try:
        config = userns_config(
            busybox, mounts=lc.Mounts.default() + [lc.Mount("/tmp", "bind", str(locked), recursive_options=("rrw",))]
        )
        with pytest.raises(lc.MountError) as info:
            lc.run(["true"], config=config, timeout=30)
        assert info.value.errno == errno.EPERM and info.value.path == "/tmp"
        assert "rrw" in info.value.step
    finally:
        subprocess.run(["umount", "-l", str(locked)], check=False)
