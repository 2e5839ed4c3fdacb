"""The pytest plugin: marked tests (or all, with --lc-isolate) run in containers;
a crash or a hang fails that test only, also under pytest-xdist."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any, Dict, Iterator, List

import pytest
from support import calls

SUITE = """
import ctypes
import os
import time

import pytest

HOST_PID_NS = {host_pid!r}  # the module is imported again in each container


@pytest.mark.container(timeout=60)
def test_isolated():
    assert os.getpid() == 1 and os.readlink("/proc/self/ns/pid") != HOST_PID_NS


@pytest.mark.container(timeout=60)
def test_crashes():
    ctypes.string_at(0)


@pytest.mark.container(timeout=3)
def test_hangs():
    time.sleep(600)


@pytest.mark.container(memory="64M", timeout=60)
def test_memory_cap():
    with open("/sys/fs/cgroup/memory/memory.limit_in_bytes") as f:
        assert int(f.read()) == 64 << 20


@pytest.mark.container(network=True, timeout=60)
def test_host_network():
    assert os.readlink("/proc/self/ns/net") == {host_net!r}


def test_not_marked():
    assert os.readlink("/proc/self/ns/pid") == HOST_PID_NS


@pytest.mark.container(timeout=60)
def test_fixture_value(tmp_path):
    assert str(tmp_path).startswith("/")


@pytest.mark.container(python="/usr/bin/python3", timeout=60)
def test_other_python():
    import sys

    assert sys.executable == "/usr/bin/python3"


@pytest.mark.container(rootfs={busybox!r}, timeout=60)
def test_rootfs_without_our_interpreter():
    pass
"""

REPORTER = """
import json


def pytest_runtest_logreport(report):
    if report.when == "call":
        with open({out!r}, "a") as f:
            f.write(json.dumps([report.nodeid.split("::")[-1], report.outcome, dict(report.user_properties),
                                str(report.longrepr)[-600:] if report.failed else ""]) + "\\n")
"""


@pytest.fixture
def nothing_left(monkeypatch: Any) -> Iterator[None]:
    with calls.nothing_left(monkeypatch, "lcplug"):
        yield


def _run(tmp_path: Any, busybox: str, *options: str) -> Dict[str, List[Any]]:
    """Run SUITE with pytest in a subprocess; each test's outcome, figures and failure text."""
    out = tmp_path / "reports.jsonl"
    suite = SUITE.replace("{host_net!r}", repr(os.readlink("/proc/self/ns/net"))).replace("{busybox!r}", repr(busybox))
    (tmp_path / "test_suite.py").write_text(suite.replace("{host_pid!r}", repr(os.readlink("/proc/self/ns/pid"))))
    (tmp_path / "conftest.py").write_text(textwrap.dedent(REPORTER.format(out=str(out))))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *options, str(tmp_path)],
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stdout + done.stderr  # some tests failed, the run completed
    reports = [json.loads(line) for line in out.read_text().splitlines()]
    return {name: [outcome, props, text] for name, outcome, props, text in reports}


def _check(results: Dict[str, List[Any]]) -> None:
    assert {name: r[0] for name, r in results.items()} == {
        "test_isolated": "passed",
        "test_crashes": "failed",
        "test_hangs": "failed",
        "test_memory_cap": "passed",
        "test_host_network": "passed",
        "test_not_marked": "passed",
        "test_fixture_value": "passed",
        "test_other_python": "passed",
        "test_rootfs_without_our_interpreter": "failed",
    }
    # a root without the caller's interpreter's libraries: exec fails, named
    assert "ExecNotFound" in results["test_rootfs_without_our_interpreter"][2]
    assert "WorkerCrashed" in results["test_crashes"][2] and "SIGSEGV" in results["test_crashes"][2]
    assert "CallTimeout" in results["test_hangs"][2] and "timed out after 3.0 s" in results["test_hangs"][2]
    for name in ("test_isolated", "test_crashes", "test_hangs", "test_memory_cap"):
        props = results[name][1]
        assert props["lc_cpu_time"] > 0 and props["lc_peak_memory"] > 0 and props["lc_wall_time"] > 0
    assert results["test_hangs"][1]["lc_wall_time"] >= 3
    assert results["test_not_marked"][1] == {}


def test_marked_tests_crash_and_hang_without_stopping_the_run(tmp_path: Any, busybox: str, nothing_left: None) -> None:
    _check(_run(tmp_path, busybox))


def test_under_xdist(tmp_path: Any, busybox: str, nothing_left: None) -> None:
    _check(_run(tmp_path, busybox, "-n", "2"))


def test_lc_isolate_and_lc_timeout(tmp_path: Any, busybox: str, nothing_left: None) -> None:
    results = _run(tmp_path, busybox, "--lc-isolate", "--lc-timeout", "30")
    assert results["test_not_marked"][0] == "failed"  # it now runs in a container: another pid namespace
    assert results["test_not_marked"][1]["lc_wall_time"] > 0


def test_the_plugin_is_registered_and_changes_nothing_unasked(pytestconfig: Any) -> None:
    assert pytestconfig.pluginmanager.has_plugin("libcontainer_py")
    assert not pytestconfig.getoption("lc_isolate") and pytestconfig.getoption("lc_timeout") is None


def test_bad_marker_options_are_config_errors() -> None:
    import libcontainer_py as lc
    from libcontainer_py.pytest_plugin import container_config

    with pytest.raises(lc.ConfigError, match="unknown marker options"):
        container_config({"memroy": "1G"})
    with pytest.raises(lc.ConfigError, match="cpu"):
        container_config({"cpu": -1})
    with pytest.raises(lc.ConfigError, match="network"):
        container_config({"network": "yes"})
    with pytest.raises(lc.images.ImageNotFound):
        container_config({"image": "lcplug-no-such-image:1"})
