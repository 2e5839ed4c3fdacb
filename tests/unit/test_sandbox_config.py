"""The sandbox's pure parts: Limits, the isolate meta file, the box config."""

from __future__ import annotations

from typing import Any, Dict

import attrs
import pytest

import libcontainer_py as lc
from libcontainer_py import sandbox
from libcontainer_py.cgroups.layout import Hierarchy, Layout
from libcontainer_py.sandbox._config import box_config, unenforceable


def result(**changes: Any) -> sandbox.Result:
    base: Dict[str, Any] = dict(
        status="OK",
        reasons=(),
        exit_code=0,
        signal=None,
        cpu_time=0.25,
        user_time=0.2,
        sys_time=0.05,
        wall_time=0.5,
        memory_peak=10 << 20,
        stdout=b"",
        stderr=b"",
        stdout_truncated=False,
        stderr_truncated=False,
        stdout_bytes=0,
        stderr_bytes=0,
        daemons_killed=0,
        enforced=sandbox.Limits(),
        box_id="sbx-test",
    )
    base.update(changes)
    return sandbox.Result(**base)


def meta(r: sandbox.Result) -> Dict[str, str]:
    return dict(line.split(":", 1) for line in r.to_isolate_meta().splitlines())


def test_limits_parse_sizes_and_reject_nonsense() -> None:
    limits = sandbox.Limits(cpu_time=1, memory="256M", output="1k", disk="16M", pids=32)
    assert (limits.cpu_time, limits.memory, limits.output, limits.disk) == (1.0, 256 << 20, 1024, 16 << 20)
    for field, value in [
        ("cpu_time", 0),
        ("wall_time", float("inf")),
        ("memory", "1k"),
        ("pids", 0),
        ("pids", True),
        ("disk", None),
        ("extra_time", -1),
        ("open_files", 1.5),
    ]:
        with pytest.raises(lc.ConfigError) as e:
            sandbox.Limits(**{field: value})
        assert e.value.field == f"limits.{field}"


def test_meta_of_each_verdict() -> None:
    assert meta(result()) == {
        "time": "0.250",
        "time-wall": "0.500",
        "max-rss": "10240",
        "cg-mem": "10240",
        "exitcode": "0",
    }
    m = meta(result(status="MEMORY_LIMIT", reasons=("MEMORY_LIMIT",), exit_code=None, signal=9))
    assert (m["status"], m["cg-oom-killed"], m["exitsig"], m["killed"]) == ("SG", "1", "9", "1")
    m = meta(result(status="WALL_TIME_LIMIT", reasons=("WALL_TIME_LIMIT",), exit_code=None, signal=9))
    assert (m["status"], m["message"]) == ("TO", "Time limit exceeded (wall clock)")
    m = meta(result(status="RUNTIME_ERROR", exit_code=3))
    assert (m["status"], m["exitcode"], "killed" in m) == ("RE", "3", False)
    m = meta(result(status="SIGNALED", exit_code=None, signal=11))
    assert (m["status"], m["exitsig"]) == ("SG", "11")
    m = meta(result(status="INTERNAL_ERROR", message="lost"))
    assert (m["status"], m["message"], "killed" in m) == ("XX", "lost", False)
    assert set(sandbox.STATUSES) >= {"OK", "TIME_LIMIT", "PIDS_LIMIT", "DISK_LIMIT", "INTERNAL_ERROR"}


def test_the_box_config_is_locked_down() -> None:
    layout = Layout((Hierarchy("/sys/fs/cgroup/memory", ("memory",)),), None)
    limits = sandbox.Limits(memory="64M", pids=8, open_files=16, address_space="1G")
    config = box_config(["true"], limits, box="/srv/box", rootfs=None, env=None, layout=layout)
    assert config.rootfs is not None and config.rootfs.readonly
    assert [m.destination for m in config.mounts] == ["/proc", "/dev", "/dev/shm", "/tmp", "/box"]
    assert config.process.user == lc.User(65534, 65534) and config.process.cwd == "/box"
    assert config.process.capabilities == lc.Capabilities.none() and config.process.no_new_privileges
    assert {(r.type, r.soft) for r in config.process.rlimits} == {("core", 0), ("nofile", 16), ("as", 1 << 30)}
    assert config.cgroup is not None and config.cgroup.pids == lc.Pids(max=8)
    assert config.namespaces.net is True and config.namespaces.pid is True


def test_what_a_layout_cannot_enforce() -> None:
    bare = Layout((), Hierarchy("/sys/fs/cgroup", ("hugetlb",)))
    limits = sandbox.Limits(memory="64M", pids=8, cpu_time=1)
    assert [f for f, _ in unenforceable(limits, bare)] == ["memory", "pids"]
    assert unenforceable(attrs.evolve(limits, memory=None, pids=None), bare) == []
