"""tmpcopyup (Mount.copy_up): a tmpfs that starts with what the directory
below it held, as the container sees it."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from typing import Any, Dict, List

import attrs
import pytest
from support.observe import inside

import libcontainer_py as lc

#: mtime given to everything in the image's /data (seconds).
STAMP = 1_000_000_000
KIND = {
    stat.S_IFREG: "regular file",
    stat.S_IFDIR: "directory",
    stat.S_IFLNK: "symbolic link",
    stat.S_IFIFO: "fifo",
    stat.S_IFCHR: "character special file",
}
#: busybox stat: name, type, mode, owner, mtime.
STAT_FORMAT = "%n|%F|%a|%u:%g|%Y"


@pytest.fixture
def image(tmp_path: Any, busybox: str) -> Dict[str, str]:
    """A copy of the busybox rootfs whose /data holds files, a subdir, links
    (two of them pointing at a host directory), a fifo, a device node, a
    set-uid file and a 0600 file owned by 1000:1000; and that host directory."""
    root = str(tmp_path / "root")
    shutil.copytree(busybox, root, symlinks=True)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious").write_text("host data\n")
    data = os.path.join(root, "data")
    os.makedirs(os.path.join(data, "sub", "deep"))
    files = {"hello": ("hello\n", 0o644), "secret": ("for 1000\n", 0o600), "suid": ("#!/bin/sh\n", 0o4755)}
    for name, (content, mode) in files.items():
        with open(os.path.join(data, name), "w") as f:
            f.write(content)
        os.chmod(os.path.join(data, name), mode)
    with open(os.path.join(data, "sub", "deep", "big"), "wb") as f:
        f.write(os.urandom(300_000))
    os.chown(os.path.join(data, "secret"), 1000, 1000)
    os.chown(os.path.join(data, "suid"), 1000, 0)
    os.chmod(os.path.join(data, "suid"), 0o4755)  # chown cleared the set-uid bit
    os.chmod(os.path.join(data, "sub"), 0o750)
    os.chown(os.path.join(data, "sub"), 1000, 1000)
    os.symlink("hello", os.path.join(data, "link"))
    os.symlink(str(victim), os.path.join(data, "escape"))
    os.symlink("../../../../../../../.." + str(victim), os.path.join(data, "escape2"))
    os.lchown(os.path.join(data, "link"), 1000, 1000)
    os.mkfifo(os.path.join(data, "pipe"), 0o640)
    os.mknod(os.path.join(data, "null"), 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.chmod(data, 0o751)
    for dirpath, dirnames, filenames in os.walk(data, topdown=False):
        for name in dirnames + filenames:
            os.utime(os.path.join(dirpath, name), (STAMP, STAMP), follow_symlinks=False)
        os.utime(dirpath, (STAMP, STAMP))
    return {"root": root, "data": data, "victim": str(victim)}


def host_listing(data: str) -> List[str]:
    """What `stat -c STAT_FORMAT` prints for each entry of the tree, from the host."""
    out = []
    for dirpath, dirnames, filenames in os.walk(data):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            rel = "./" + os.path.relpath(path, data)
            mode = f"{stat.S_IMODE(st.st_mode):o}"
            out.append(f"{rel}|{KIND[stat.S_IFMT(st.st_mode)]}|{mode}|{st.st_uid}:{st.st_gid}|{int(st.st_mtime)}")
    return sorted(out)


def container_listing(config: lc.Config, where: str = "/data") -> List[str]:
    script = f"cd {where} && find . -mindepth 1 | sort | while read -r p; do stat -c '{STAT_FORMAT}' \"$p\"; done"
    return sorted(inside(config, script).splitlines())


def with_mounts(root: str, *mounts: lc.Mount) -> lc.Config:
    return lc.Config(rootfs=root, mounts=lc.Mounts.default() + list(mounts))


def fstype_at(config: lc.Config, path: str) -> List[str]:
    """(fstype, mount options) of the mounts at ``path``, as mountinfo shows them."""
    seen = []
    for line in inside(config, "cat /proc/self/mountinfo").splitlines():
        left, right = line.split(" - ")
        if left.split()[4] == path:
            seen.append((right.split()[0], left.split()[5]))
    return seen


def test_copy_up_shows_the_image_content(image: Dict[str, str], no_leaks: None) -> None:
    config = with_mounts(image["root"], lc.Mount.tmpfs("/data", copy_up=True))
    assert container_listing(config) == host_listing(image["data"])
    big = os.path.join(image["data"], "sub", "deep", "big")
    with open(big, "rb") as f:
        digest = hashlib.md5(f.read()).hexdigest()
    out = inside(
        config,
        "cat /data/hello /data/secret; for l in link escape escape2; do readlink /data/$l; done; "
        "md5sum /data/sub/deep/big; stat -c '%t:%T' /data/null; stat -c %a:%u:%g /data",
    ).splitlines()
    assert out[:2] == ["hello", "for 1000"]
    # The links that point at the host were copied as links, never followed
    # (the copy runs before pivot_root, where "/" is still the host's).
    assert out[2:5] == ["hello", image["victim"], "../../../../../../../.." + image["victim"]]
    assert out[5].split()[0] == digest
    assert out[6] == "1:3"
    assert out[7] == "751:0:0"  # the tmpfs root takes the directory's mode, owned by root as a tmpfs is
    assert fstype_at(config, "/data")[-1][0] == "tmpfs"
    assert sorted(os.listdir(image["victim"])) == ["precious"]


def test_writes_go_to_the_tmpfs(image: Dict[str, str]) -> None:
    config = with_mounts(image["root"], lc.Mount.tmpfs("/data", copy_up=True))
    before = host_listing(image["data"])
    out = inside(config, "echo changed > /data/hello && echo new > /data/sub/new && rm /data/secret && cat /data/hello")
    assert out == "changed\n"
    assert host_listing(image["data"]) == before
    with open(os.path.join(image["data"], "hello")) as f:
        assert f.read() == "hello\n"


def test_without_copy_up_the_tmpfs_is_empty(image: Dict[str, str]) -> None:
    config = with_mounts(image["root"], lc.Mount.tmpfs("/data"))
    assert inside(config, "ls -A /data") == ""
    assert fstype_at(config, "/data")[-1][0] == "tmpfs"


def test_missing_destination_gives_an_empty_tmpfs(image: Dict[str, str]) -> None:
    config = with_mounts(image["root"], lc.Mount.tmpfs("/nothing/here", copy_up=True))
    assert inside(config, "ls -A /nothing/here") == ""
    assert fstype_at(config, "/nothing/here")[-1][0] == "tmpfs"


def test_read_only_copy_up(image: Dict[str, str]) -> None:
    config = with_mounts(image["root"], lc.Mount.tmpfs("/data", copy_up=True, readonly=True))
    assert container_listing(config) == host_listing(image["data"])
    out = inside(config, "touch /data/x 2>&1; echo rc=$?")
    assert "Read-only file system" in out and "rc=1" in out
    fstype, opts = fstype_at(config, "/data")[-1]
    assert fstype == "tmpfs" and "ro" in opts.split(",")


def test_explicit_mode_wins_over_the_directory(image: Dict[str, str]) -> None:
    config = with_mounts(image["root"], lc.Mount.tmpfs("/data", copy_up=True, mode=0o700))
    assert inside(config, "stat -c %a /data; cat /data/hello").split() == ["700", "hello"]


def test_copy_up_on_a_bind_is_refused_before_anything_is_made(image: Dict[str, str], no_leaks: None) -> None:
    with pytest.raises(lc.ConfigError) as info:
        attrs.evolve(lc.Mount.bind(image["victim"], "/data/bound"), copy_up=True)
    assert info.value.field == "mount.copy_up"
    with pytest.raises(lc.ConfigError) as info:
        lc.Mount("/proc2", "proc", "proc", copy_up=True)
    assert info.value.field == "mount.copy_up"
    assert not os.path.exists(os.path.join(image["data"], "bound"))


@pytest.mark.parametrize("depth, ok", [(64, True), (65, False)])
def test_depth_is_bounded(image: Dict[str, str], no_leaks: None, depth: int, ok: bool) -> None:
    """Deeper than 64 directories is ELOOP, a MountError naming the mount,
    rather than a child stack overflow."""
    os.makedirs(os.path.join(image["data"], *(["d"] * depth)))
    config = with_mounts(image["root"], lc.Mount.tmpfs("/data", copy_up=True))
    if ok:
        assert inside(config, "find /data -type d -name d | wc -l").strip() == str(depth)
        return
    with pytest.raises(lc.MountError) as info:
        lc.run(["true"], config=config, timeout=30)
    assert info.value.path == "/data" and info.value.errno == errno.ELOOP
    assert "tmpcopyup" in str(info.value)


# -- the command line, beside runc ------------------------------------------------------

RUNC = "/usr/sbin/runc"


def _cli(argv: List[str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)


def test_oci_bundle_with_tmpcopyup_runs_as_runc_runs_it(image: Dict[str, str], tmp_path: Any) -> None:
    """config.json's "tmpcopyup" option, through our CLI and through runc:
    the same listing (runc 1.1 keeps no times, and fails on a fifo or a
    device node with lchown ENOENT: none of them is compared)."""
    os.unlink(os.path.join(image["data"], "pipe"))
    os.unlink(os.path.join(image["data"], "null"))
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    r = subprocess.run(
        [sys.executable, "-m", "libcontainer_py", "spec"], cwd=bundle, capture_output=True, text=True, timeout=30
    )
    assert r.returncode == 0, r
    with open(bundle / "config.json") as f:
        doc = json.load(f)
    script = (
        "cd /data && find . | sort | while read -r p; do stat -c '%n|%F|%a|%u:%g|%s' \"$p\"; done; "
        "readlink /data/escape; ls -A /none | wc -l; grep -c ' /data .* - tmpfs ' /proc/self/mountinfo"
    )
    doc["root"] = {"path": os.path.realpath(image["root"]), "readonly": False}
    doc["process"].update(args=["sh", "-c", script], terminal=False)
    for kind in doc["process"]["capabilities"].values():
        kind.append("CAP_DAC_OVERRIDE")  # to read sub/, 0750 and owned by 1000
    doc["mounts"] += [
        {"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["rw", "tmpcopyup"]},
        {"destination": "/none", "type": "tmpfs", "source": "tmpfs", "options": ["rw", "tmpcopyup"]},
    ]
    with open(bundle / "config.json", "w") as f:
        json.dump(doc, f)
    ours = _cli(
        [sys.executable, "-m", "libcontainer_py", "--root", str(tmp_path / "ours"), "run", "-b", str(bundle), "cu-ours"]
    )
    theirs = _cli([RUNC, "--root", str(tmp_path / "runc"), "run", "-b", str(bundle), "cu-runc"])
    assert ours.returncode == 0 and theirs.returncode == 0, (ours, theirs)
    assert ours.stdout == theirs.stdout
    lines = ours.stdout.splitlines()
    assert lines[0] == ".|directory|751|0:0|" + lines[0].rsplit("|", 1)[1]
    assert "./secret|regular file|600|1000:1000|9" in lines and "./suid|regular file|4755|1000:0|10" in lines
    assert "./escape|symbolic link|777|0:0|" + str(len(image["victim"])) in lines
    assert lines[-3:] == [image["victim"], "0", "1"]
    assert sorted(os.listdir(image["victim"])) == ["precious"]
