"""Capabilities, Rlimit and sysctl validation (no root needed)."""

from __future__ import annotations

import pytest

import libcontainer_py as lc
from libcontainer_py.capabilities import CAPABILITY_NAMES, DEFAULT_CAPABILITIES, mask
from libcontainer_py.sysctl import proc_path


def test_names_in_any_spelling() -> None:
    c = lc.Capabilities.of("net_raw", "NET_ADMIN", "CAP_CHOWN")
    assert c.bounding == c.effective == c.permitted == {"CAP_NET_RAW", "CAP_NET_ADMIN", "CAP_CHOWN"}
    assert c.inheritable == c.ambient == frozenset()


def test_mask_matches_kernel_numbers() -> None:
    assert mask({"CAP_CHOWN"}) == 1
    assert mask({"CAP_SYS_ADMIN"}) == 1 << 21
    assert mask(DEFAULT_CAPABILITIES) == 0xA80425FB  # Docker's default set as the kernel shows it
    assert len(CAPABILITY_NAMES) == 41


def test_add_and_drop() -> None:
    c = lc.Capabilities.default().add("sys_admin").drop("net_raw")
    assert "CAP_SYS_ADMIN" in c.effective and "CAP_NET_RAW" not in c.bounding


def test_ambient_needs_permitted_and_inheritable() -> None:
    with pytest.raises(lc.ConfigError) as info:
        lc.Capabilities(bounding={"kill"}, permitted={"kill"}, ambient={"kill"})
    assert info.value.field == "capabilities.ambient"


def test_default_process_is_locked_down() -> None:
    p = lc.Process(args=["x"])
    assert p.capabilities == lc.Capabilities.default()
    assert p.no_new_privileges is True and p.rlimits == () and p.oom_score_adj is None


def test_rlimit_validation() -> None:
    assert lc.Rlimit("NOFILE", 10).hard == 10
    assert lc.Rlimit("rlimit_core", None).soft == lc.limits.INFINITY
    with pytest.raises(lc.ConfigError, match="unknown limit"):
        lc.Rlimit("bogus", 1)
    with pytest.raises(lc.ConfigError, match="above the hard"):
        lc.Rlimit("nofile", 10, 5)
    with pytest.raises(lc.ConfigError, match="given twice"):
        lc.Process(args=["x"], rlimits=[lc.Rlimit("nofile", 1), lc.Rlimit("NOFILE", 2)])
    with pytest.raises(lc.ConfigError):
        lc.Process(args=["x"], oom_score_adj=1001)


def test_sysctl_paths() -> None:
    assert proc_path("net.ipv4.ip_forward") == "/proc/sys/net/ipv4/ip_forward"
    with pytest.raises(lc.ConfigError, match="not a sysctl name"):
        lc.Config(sysctl={"net/ipv4/ip_forward": "1"})
    assert lc.Config(sysctl={"fs.mqueue.msg_max": "20"}).sysctl["fs.mqueue.msg_max"] == "20"


def test_protected_paths_follow_the_rootfs() -> None:
    assert lc.Config().masked_paths == lc.DEFAULT_MASKED_PATHS
    assert lc.Config().readonly_paths == lc.DEFAULT_READONLY_PATHS
    with pytest.raises(lc.ConfigError) as info:
        lc.Config(rootfs=None, masked_paths=["/proc/kcore"])
    assert info.value.field == "masked_paths"
