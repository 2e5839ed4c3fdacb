"""Seccomp in containers: the default profile is loaded, and a notify
rule's listener is handed to the caller, who answers the container's call."""

from __future__ import annotations

import errno
import fcntl
import os
import select
import struct
from typing import Any

import pytest
from support.observe import inside
from test_seccomp_runc import SCRIPT, Agent, fake_mkdir

import libcontainer_py as lc
from libcontainer_py.plan import HostFS
from libcontainer_py.seccomp import Seccomp, SeccompRule, resolve_syscall

NOTIF = struct.Struct("=QIIiIQ6Q")  # struct seccomp_notif
NOTIF_RESP = struct.Struct("=QqiI")  # struct seccomp_notif_resp
RECV, SEND = 0xC0502100, 0xC0182101


def test_default_filter_is_loaded(busybox: str) -> None:
    status = inside(lc.Config(rootfs=busybox), "grep -E '^Seccomp(_filters)?:' /proc/self/status")
    assert "Seccomp:\t2" in status and "Seccomp_filters:\t1" in status
    assert "Seccomp:\t0" in inside(lc.Config(rootfs=busybox, seccomp=None), "grep '^Seccomp:' /proc/self/status")


@pytest.mark.parametrize("by_number", [True, False], ids=["pidfd_getfd", "scm_rights"])
def test_notify_listener_is_handed_to_the_caller(
    busybox: str, no_leaks: None, by_number: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Copied from the child with pidfd_getfd (runc's way), or, for a caller
    without CAP_SYS_PTRACE, sent over the sync socket."""
    monkeypatch.setattr(HostFS, "can_take_fds", lambda self: by_number)
    seccomp = Seccomp("allow", [SeccompRule("notify", ["mkdir", "mkdirat"])])
    config = lc.Config(
        rootfs=busybox, seccomp=seccomp, process=lc.Process(args=["sh", "-c", "mkdir /tmp/x 2>&1; echo rc=$?"])
    )
    with lc.ContainerProcess(config, stdout=lc.PIPE) as proc:
        listener = proc.seccomp_fd
        assert listener >= 0 and not os.get_inheritable(listener)
        assert select.select([listener], [], [], 10)[0], "no notification from the container"
        buf = bytearray(NOTIF.size)
        fcntl.ioctl(listener, RECV, buf)
        notif_id, pid, _flags, nr, _arch, _ip, *_args = NOTIF.unpack(buf)
        assert pid > 0 and nr in (resolve_syscall("mkdir"), resolve_syscall("mkdirat"))
        fcntl.ioctl(listener, SEND, bytearray(NOTIF_RESP.pack(notif_id, 0, -errno.EROFS, 0)))
        assert proc.stdout is not None
        out = proc.stdout.read().decode()
    assert "Read-only file system" in out and "rc=1" in out
    assert proc.seccomp_fd == -1  # closed with the process


def test_notify_on_runtime_syscalls_is_refused(busybox: str) -> None:
    config = lc.Config(rootfs=busybox, seccomp=Seccomp("allow", [SeccompRule("notify", ["execve"])]))
    with pytest.raises(lc.ConfigError) as info:
        lc.run(["true"], config=config)
    assert info.value.field == "seccomp.rules[0]"
    no_nnp = lc.Config(
        rootfs=busybox,
        seccomp=Seccomp("allow", [SeccompRule("notify", ["mkdir"])]),
        process=lc.Process(args=["true"], no_new_privileges=False),
    )
    with pytest.raises(lc.ConfigError, match="no_new_privileges"):
        lc.run(config=no_nnp)


def test_notify_goes_to_the_agent_at_listener_path(busybox: str, no_leaks: None, tmp_path: Any) -> None:
    """With listener_path the listener goes to that agent (runc's message),
    not to the caller, and notify needs no no_new_privileges: the filter is
    loaded while the capabilities are held, and the agent answers the calls
    the runtime itself makes after it (here getuid... and execve go through)."""
    agent = Agent(str(tmp_path / "agent.sock"), fake_mkdir)
    try:
        seccomp = Seccomp(
            "allow",
            [SeccompRule("notify", ["mkdir", "mkdirat", "execve", "close"])],
            listener_path=agent.path,
            listener_metadata="m",
        )
        process = lc.Process(args=["sh", "-c", SCRIPT], no_new_privileges=False, user=lc.User(1000, 1000))
        config = lc.Config(rootfs=busybox, seccomp=seccomp, process=process)
        with lc.ContainerProcess(config, container_id="agent-lib", stdout=lc.PIPE) as proc:
            assert proc.seccomp_fd == -1
            assert proc.stdout is not None
            out = proc.stdout.read().decode().split()
            assert proc.wait() == 0
    finally:
        agent.close()
    assert out == ["mkdir=ok", "absent"]
    assert agent.doc is not None and agent.doc["state"]["id"] == "agent-lib" and agent.doc["metadata"] == "m"
    assert resolve_syscall("execve") in agent.seen and agent.fd_kind == "anon_inode:seccomp notify"


def test_an_unreachable_agent_fails_the_start(busybox: str, no_leaks: None, tmp_path: Any) -> None:
    seccomp = Seccomp("allow", [SeccompRule("notify", ["mkdir"])], listener_path=str(tmp_path / "none.sock"))
    with pytest.raises(lc.SpawnError, match=r"none\.sock") as info:
        lc.run(["true"], config=lc.Config(rootfs=busybox, seccomp=seccomp))
    assert info.value.errno == errno.ENOENT
