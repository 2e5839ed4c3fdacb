"""Shared fixtures.  The integration tests need root and a real kernel; they
fail (never skip) when that is missing, so a green run means they ran."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from typing import Any, Iterator

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from support.busybox import make_rootfs
from support.observe import host_snapshot
from support.rootless import RootlessUser, create_user, remove_user

import libcontainer_py as lc


def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", "root: needs root and a real kernel")
    # A temp dir of this run only (examples run as subprocesses inherit it),
    # so that the leak checks count what this run made, nothing else's.
    private = tempfile.mkdtemp(prefix="libcontainer-py-tests-")
    os.environ["TMPDIR"] = private
    tempfile.tempdir = private
    config.add_cleanup(lambda: shutil.rmtree(private, ignore_errors=True))


def pytest_collection_modifyitems(config: Any, items: list) -> None:
    for item in items:
        if "unit" not in item.nodeid.split("/"):
            item.add_marker(pytest.mark.root)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    from support import escapes

    if escapes.RESULTS:
        terminalreporter.write_line(escapes.summary())


@pytest.fixture(autouse=True)
def _needs_root(request: Any) -> None:
    if request.node.get_closest_marker("root") and os.geteuid() != 0:
        pytest.fail("integration tests run as root on a real kernel (see README)")


def _our_cgroups_and_states() -> set:
    """Every cgroup of our default parent (any hierarchy) and every state
    directory under the default state root (lc.DEFAULT_ROOT, the library's
    and the command line's): what the whole run must not add."""
    import glob

    found = set(glob.glob("/sys/fs/cgroup/*/libcontainer_py/*/")) | set(glob.glob("/sys/fs/cgroup/libcontainer_py/*/"))
    found |= set(glob.glob("/run/libcontainer-py/*/"))
    return found


@pytest.fixture(scope="session", autouse=True)
def _the_run_leaves_no_cgroup_or_state() -> Iterator[None]:
    """Per-test leak checks look at what a test touches; this one looks at
    the whole run: a cgroup or a state directory left by any test fails it."""
    before = _our_cgroups_and_states()
    yield
    left = sorted(_our_cgroups_and_states() - before)
    assert not left, f"the test run left cgroups or container states behind: {left}"


@pytest.fixture(scope="session")
def busybox(tmp_path_factory: Any) -> str:
    """A busybox root filesystem, built once per session."""
    return make_rootfs(str(tmp_path_factory.mktemp("busybox") / "rootfs"))


@pytest.fixture(scope="session")
def rootless_user() -> Iterator[RootlessUser]:
    """A real unprivileged user with subordinate id ranges and a venv of this
    project it can run (support/rootless.py); removed after the session."""
    user = create_user()
    try:
        yield user
    finally:
        remove_user(user)


@pytest.fixture
def bb_config(busybox: str) -> lc.Config:
    """A container on the busybox rootfs with the default namespaces and mounts."""
    return lc.Config(rootfs=busybox, process=lc.Process(args=["/bin/true"]))


@pytest.fixture
def no_leaks() -> Iterator[None]:
    """Asserts that the test left no mount, fd, child process or temp dir."""
    before = host_snapshot()
    yield
    after = host_snapshot()
    assert after == before, after.diff(before)
