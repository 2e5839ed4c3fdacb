"""Failing steps raise typed errors naming the step, the path and the errno;
bad config is refused before anything is created; nothing is left behind."""

from __future__ import annotations

import errno
import os

import pytest

import libcontainer_py as lc


def run_fails(config: lc.Config, exc_type: type) -> lc.StepError:
    with pytest.raises(exc_type) as info:
        lc.run(config=config, capture_output=True, timeout=10)
    assert isinstance(info.value, lc.ContainerError)
    return info.value  # type: ignore[return-value]


def test_missing_program(busybox: str, no_leaks: None) -> None:
    exc = run_fails(lc.Config(rootfs=busybox, process=lc.Process(args=["no-such-program"])), lc.ExecError)
    assert exc.errno == errno.ENOENT and exc.step == "exec" and exc.path == "no-such-program"
    assert "/bin/no-such-program" in str(exc)
    assert isinstance(exc.__cause__, FileNotFoundError)


def test_program_not_executable(busybox: str, no_leaks: None) -> None:
    exc = run_fails(lc.Config(rootfs=busybox, process=lc.Process(args=["/etc/passwd"])), lc.ExecError)
    assert exc.errno == errno.EACCES and exc.path == "/etc/passwd"


def test_missing_bind_source(busybox: str, no_leaks: None) -> None:
    config = lc.Config(rootfs=busybox, mounts=lc.Mounts.default() + [lc.Mount.bind("/no/such/dir", "/data")])
    exc = run_fails(config, lc.MountError)
    assert exc.errno == errno.ENOENT and exc.path == "/data" and "/no/such/dir" in str(exc)
    assert isinstance(exc.__cause__, FileNotFoundError)
    assert (exc.__cause__.filename, exc.__cause__.filename2) == ("/no/such/dir", "/data")
    assert not os.path.exists(os.path.join(busybox, "data")) or os.listdir(os.path.join(busybox, "data")) == []


def test_bad_cwd(busybox: str, no_leaks: None) -> None:
    exc = run_fails(lc.Config(rootfs=busybox, process=lc.Process(args=["true"], cwd="/nonexistent")), lc.CwdError)
    assert exc.errno == errno.ENOENT and exc.path == "/nonexistent"


def test_cwd_the_user_may_not_search_is_entered_as_runc_does(busybox: str, no_leaks: None) -> None:
    """The cwd is entered before the ids change (runc's order): the program
    starts there, and cannot list it."""
    config = lc.Config(
        rootfs=busybox,
        mounts=lc.Mounts.default() + [lc.Mount.tmpfs("/secret", mode=0o700)],
        process=lc.Process(args=["sh", "-c", "pwd; ls . || true"], cwd="/secret", user=lc.User(1000, 1000)),
    )
    r = lc.run(config=config, capture_output=True, text=True, timeout=10)
    assert r.stdout == "/secret\n" and "Permission denied" in r.stderr


def test_missing_rootfs(tmp_path, no_leaks: None) -> None:
    """Checked before anything starts (no step runs): a ConfigError naming the path."""
    with pytest.raises(lc.ConfigError) as info:
        lc.run(config=lc.Config(rootfs=str(tmp_path / "missing")), capture_output=True, timeout=10)
    assert info.value.field == "rootfs.path" and str(tmp_path / "missing") in str(info.value)


def test_unknown_filesystem_type(busybox: str, no_leaks: None) -> None:
    config = lc.Config(rootfs=busybox, mounts=lc.Mounts.default() + [lc.Mount("/x", "nosuchfs", "none")])
    exc = run_fails(config, lc.MountError)
    assert exc.errno == errno.ENODEV and exc.path == "/x"


def test_join_a_missing_namespace(no_leaks: None) -> None:
    config = lc.Config(rootfs=None, mounts=(), devices=(), namespaces=lc.Namespaces(net="/proc/999999999/ns/net"))
    exc = run_fails(config, lc.NamespaceError)
    assert exc.errno == errno.ENOENT and exc.path == "/proc/999999999/ns/net"


def test_join_a_file_that_is_not_a_namespace(tmp_path, no_leaks: None) -> None:
    f = tmp_path / "notns"
    f.write_text("")
    config = lc.Config(rootfs=None, mounts=(), devices=(), namespaces=lc.Namespaces(uts=str(f)))
    exc = run_fails(config, lc.NamespaceError)
    assert exc.errno == errno.EINVAL


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: lc.Process(args=[]), "process.args"),
        (lambda: lc.Process(args=["x"], cwd="relative"), "process.cwd"),
        (lambda: lc.Process(args=["x\0y"]), "process.args[0]"),
        (lambda: lc.Process(args=["x"], env={"A=B": "c"}), "process.env"),
        (lambda: lc.User(uid=-1), "user.uid"),
        (lambda: lc.Mount.bind("relative", "/x"), "mount.source"),
        (lambda: lc.Mount("/x", "tmpfs", options=["bogus"]), "mount.options"),
        (lambda: lc.Mount("/x", "tmpfs", propagation="sideways"), "mount.propagation"),
        (lambda: lc.Namespaces(net="relative/path"), "namespaces.net"),
        (lambda: lc.Namespaces(pid=1), "namespaces.pid"),
        (lambda: lc.Config(hostname="x" * 65), "hostname"),
        (lambda: lc.Config(namespaces=lc.Namespaces(pid=True)), "rootfs"),
        (lambda: lc.Config(namespaces=lc.Namespaces(mount=True, pid=True), hostname="h"), "hostname"),
        (lambda: lc.Config(uid_mappings=[lc.IDMap(0, 1000)]), "uid_mappings"),
        (lambda: lc.Config(mounts=[], devices=lc.DEFAULT_DEVICES), "devices"),
        (lambda: lc.Config(rootfs=None, mounts=lc.Mounts.default()), "mounts"),
        (
            lambda: lc.Config(namespaces=lc.Namespaces.all(), process=lc.Process(args=["x"], user=lc.User(5, 5))),
            "process.user.uid",
        ),
        (lambda: lc.IDMap(0, 0, 0), "idmap.size"),
        (
            lambda: lc.Config(uid_mappings=[lc.IDMap(0, 10, 5), lc.IDMap(3, 100, 5)], namespaces=lc.Namespaces.all()),
            "uid_mappings",
        ),
    ],
)
def test_bad_config_is_refused_with_the_field_named(make, field: str, no_leaks: None) -> None:
    with pytest.raises(lc.ConfigError) as info:
        make()
    assert info.value.field == field, str(info.value)
    assert isinstance(info.value, ValueError)


def test_step_error_fields_and_message(busybox: str) -> None:
    exc = run_fails(lc.Config(rootfs=busybox, process=lc.Process(args=["true"], cwd="/nope")), lc.CwdError)
    assert exc.container_id and exc.index >= 0
    assert str(exc).startswith(f"step {exc.index} enter the working directory '/nope'")
    assert "[ENOENT]" in str(exc)
