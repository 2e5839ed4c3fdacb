"""Overlay root filesystems: layers read-only, writes to a throwaway or a
persistent upper, whiteouts honoured, nothing mounted on the host."""

from __future__ import annotations

import os

import pytest
from support.busybox import make_rootfs

import libcontainer_py as lc


@pytest.fixture
def layers(tmp_path):
    base = make_rootfs(str(tmp_path / "base"))
    with open(os.path.join(base, "etc", "motd"), "w") as f:
        f.write("base\n")
    top = tmp_path / "top"
    (top / "etc").mkdir(parents=True)
    (top / "etc" / "motd").write_text("top\n")  # replaces the base's
    os.mknod(top / "etc" / "group", 0o600 | 0o020000, os.makedev(0, 0))  # a whiteout: deletes it
    (top / "opt").mkdir()
    (top / "opt" / "added").write_text("added\n")
    return base, str(top)


def host_mounts() -> list:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f]


def run(rootfs: lc.Rootfs, script: str) -> str:
    r = lc.run(["sh", "-c", script], config=lc.Config(rootfs=rootfs), capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_layers_with_a_throwaway_upper(layers, no_leaks: None) -> None:
    base, top = layers
    rootfs = lc.Rootfs.overlay([base, top])
    before = host_mounts()
    out = run(
        rootfs,
        "cat /etc/motd /opt/added; [ -e /etc/group ] && echo group || echo no-group; "
        "echo new > /etc/motd; echo made > /made; cat /etc/motd; "
        "awk '$5 == \"/\"' /proc/self/mountinfo",
    )
    lines = out.splitlines()
    assert lines[:4] == ["top", "added", "no-group", "new"]
    assert " overlay " in lines[-1] and f"lowerdir={top}:{base}" in lines[-1]  # top layer first
    # The layers are untouched and the next container starts clean.
    assert open(os.path.join(top, "etc", "motd")).read() == "top\n"
    assert not os.path.exists(os.path.join(base, "made")) and not os.path.exists(os.path.join(top, "made"))
    assert run(rootfs, "cat /etc/motd; ls /made 2>&1 || true").splitlines()[0] == "top"
    assert host_mounts() == before


def test_persistent_upper(layers, tmp_path) -> None:
    base, top = layers
    upper, work = tmp_path / "upper", tmp_path / "work"
    upper.mkdir()
    work.mkdir()
    rootfs = lc.Rootfs.overlay([base, top], upper=str(upper), work=str(work))
    run(rootfs, "echo kept > /kept; rm /opt/added")
    assert (upper / "kept").read_text() == "kept\n"
    whiteout = os.stat(upper / "opt" / "added")
    assert os.major(whiteout.st_rdev) == 0 and os.minor(whiteout.st_rdev) == 0  # recorded as a whiteout
    assert run(rootfs, "cat /kept; ls /opt").split() == ["kept"]  # a second container sees the changes
    assert os.path.exists(os.path.join(top, "opt", "added"))  # the layer itself is untouched


def test_two_containers_do_not_see_each_others_writes(layers) -> None:
    base, top = layers
    rootfs = lc.Rootfs.overlay([base, top])
    with lc.ContainerProcess(
        lc.Config(rootfs=rootfs, process=lc.Process(args=["sh", "-c", "echo a > /mine; sleep 5"]))
    ) as a:
        import time

        time.sleep(0.3)
        assert run(rootfs, "ls /mine 2>&1 || echo absent").strip().endswith("absent")
        a.kill()


def test_overlay_validation() -> None:
    with pytest.raises(lc.ConfigError):
        lc.Rootfs.overlay([])
    with pytest.raises(lc.ConfigError, match="together"):
        lc.Rootfs.overlay(["/a"], upper="/u")
    with pytest.raises(lc.ConfigError, match="':' or ','"):
        lc.Rootfs.overlay(["/a:b"])
    with pytest.raises(lc.ConfigError):
        lc.Rootfs.overlay(["relative"])
