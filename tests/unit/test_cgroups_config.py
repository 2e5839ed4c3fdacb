"""Cgroup resources: validation naming the field, defaults, immutability (no root needed)."""

from __future__ import annotations

import attrs
import pytest
from support.configs import issue_example_cgroup

from libcontainer_py import ConfigError
from libcontainer_py.cgroups import IO, UNLIMITED, CgroupConfig, Cpu, DeviceRule, Devices, Hugetlb, Memory, Pids


def test_the_issue_example_builds() -> None:
    cfg = issue_example_cgroup()
    assert cfg.memory == Memory(max=64 << 20, swap_max=64 << 20, reservation=32 << 20)
    assert cfg.io is not None and dict(cfg.io.read_bps) == {"/dev/vda": 10 << 20}
    assert cfg.hugetlb == Hugetlb({"2MB": 0})
    assert cfg.resolved_path("box") == "libcontainer_py/box"
    assert [type(r).__name__ for r in cfg.resources()] == ["Cpu", "Memory", "Pids", "IO", "Hugetlb", "Devices"]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        cfg.path = "x"  # type: ignore[misc]


def test_unlimited_and_unset() -> None:
    assert Memory().max is None
    assert Memory(max="max").max == UNLIMITED
    assert Memory(max=-1).max == UNLIMITED
    assert Pids(max="max").max == UNLIMITED and Pids(max=0).max == 0
    assert Cpu(quota_us="max").quota_us == UNLIMITED
    assert IO(write_iops={"8:0": "max"}).write_iops["8:0"] == UNLIMITED


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: Memory(max="lots"), "memory.max"),
        (lambda: Memory(swap_max=-2), "memory.swap_max"),
        (lambda: Memory(swappiness=101), "memory.swappiness"),
        (lambda: Cpu(weight=0), "cpu.weight"),
        (lambda: Cpu(weight=10001), "cpu.weight"),
        (lambda: Cpu(shares=1), "cpu.shares"),
        (lambda: Cpu(weight=5, shares=100), "cpu.shares"),
        (lambda: Cpu(quota_us=999), "cpu.quota_us"),
        (lambda: Cpu(period_us=100), "cpu.period_us"),
        (lambda: Cpu(cpus="0-"), "cpu.cpus"),
        (lambda: Cpu(cpus="3-1"), "cpu.cpus"),
        (lambda: Cpu(mems="a"), "cpu.mems"),
        (lambda: Pids(max="lots"), "pids.max"),
        (lambda: Pids(max=True), "pids.max"),
        (lambda: IO(weight=0), "io.weight"),
        (lambda: IO(blkio_weight=5), "io.blkio_weight"),
        (lambda: IO(weight=100, blkio_weight=500), "io.blkio_weight"),
        (lambda: IO(read_bps={"vda": "1M"}), "io.read_bps key"),
        (lambda: IO(read_bps={"/dev/vda": "fast"}), "io.read_bps['/dev/vda']"),
        (lambda: IO(read_bps=["/dev/vda"]), "io.read_bps"),
        (lambda: Hugetlb({"3MB": 0}), "hugetlb key"),
        (lambda: Hugetlb({"2MB": "x"}), "hugetlb['2MB']"),
        (lambda: DeviceRule(True, "x"), "device_rule.type"),
        (lambda: DeviceRule(True, "c", 1, 3, "rx"), "device_rule.access"),
        (lambda: DeviceRule(True, "a", 1), "device_rule.type"),
        (lambda: DeviceRule("yes"), "device_rule.allow"),
        (lambda: DeviceRule(True, "c", 5000, 0), "device_rule.major"),
        (lambda: Devices([DeviceRule(True), "c 1:3 rwm"]), "devices[1]"),
        (lambda: CgroupConfig(path="../x"), "cgroup.path"),
        (lambda: CgroupConfig(path="a//b"), "cgroup.path"),
        (lambda: CgroupConfig(memory={"max": 1}), "cgroup.memory"),
        (lambda: CgroupConfig().resolved_path("a/b"), "container id"),
    ],
)
def test_invalid_settings_name_the_field(make: object, field: str) -> None:
    with pytest.raises(ConfigError) as e:
        make()  # type: ignore[operator]
    assert e.value.field == field


def test_normalisation() -> None:
    assert Hugetlb({"2M": "1G", "1GiB": 0}).limits == {"2MB": 1 << 30, "1GB": 0}
    assert IO(read_iops={"008:001": 5}).read_iops == {"8:1": 5}
    assert DeviceRule(True, "c", 1, 3, "mwr").access == "rwm"
    assert CgroupConfig(path="/a/b/").path == "a/b"
    assert CgroupConfig(path="x").resolved_path("id") == "x"
    assert Cpu(cpus="0-1, 3").cpus == "0-1,3"


def test_device_rules_v1_lines_and_default_list() -> None:
    d = Devices.default()
    assert d.rules[0] == DeviceRule(False) and d.rules[0].is_wildcard()
    assert [r.v1_line() for r in d][:4] == ["a", "c *:* m", "b *:* m", "c 1:3 rwm"]
    assert DeviceRule(True, "c", 136, None).v1_line() == "c 136:* rwm"
    assert DeviceRule(False, "a", access="r").v1_line() == "a *:* r"
    allowed = {(r.major, r.minor) for r in d if r.allow and r.type == "c" and r.access == "rwm"}
    assert allowed == {(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 2), (136, None), (10, 200)}
    assert len(Devices.allow_all()) == 1
