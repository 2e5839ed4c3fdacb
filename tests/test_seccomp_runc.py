"""Seccomp beside runc, through the command line on one bundle: syscalls
newer than the profile fail with ENOSYS (runc's patchbpf stub), and notify
rules go to a seccomp agent at ``linux.seccomp.listenerPath`` in runc's
format (an agent written for runc: one message, the OCI
ContainerProcessState JSON with the listener attached by SCM_RIGHTS)."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import select
import socket
import struct
import subprocess
import threading
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest
from support.busybox import make_rootfs
from test_cli_features import Tools, tools

from libcontainer_py.seccomp import Seccomp, resolve_syscall

__all__ = ["tools"]  # test_cli_features' fixture, on this module's rootfs

HERE = os.path.dirname(os.path.abspath(__file__))

NOTIF = struct.Struct("=QIIiIQ6Q")  # struct seccomp_notif: id, pid, flags, nr, arch, ip, args
RESP = struct.Struct("=QqiI")  # struct seccomp_notif_resp: id, val, error, flags
RECV, SEND = 0xC0502100, 0xC0182101  # SECCOMP_IOCTL_NOTIF_RECV / _SEND
USER_NOTIF_FLAG_CONTINUE = 1

SYSCALLS_C = r"""
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>
/* syscalls N...: "N=rc" or "N=-errno" for each number, all arguments 0. */
int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        long rc = syscall(atol(argv[i]), 0L, 0L, 0L, 0L, 0L, 0L);
        printf("%s=%ld\n", argv[i], rc < 0 ? -(long)errno : rc);
    }
    return 0;
}
"""


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: Any) -> str:
    """busybox with /bin/syscalls (static)."""
    base = tmp_path_factory.mktemp("seccomp-runc")
    root = make_rootfs(str(base / "rootfs"))
    source = base / "syscalls.c"
    source.write_text(SYSCALLS_C)
    subprocess.run(["gcc", "-static", "-O2", "-o", os.path.join(root, "bin", "syscalls"), str(source)], check=True)
    return root


def _run_both(tools: Tools, name: str, timeout: float = 60) -> List[Tuple[int, str, str]]:
    """``run`` in the foreground with each runtime: (status, stdout, stderr)."""
    out = []
    for tool, cid in tools.both(name):
        r = tool("run", "-b", tools.bundle, cid, timeout=timeout)
        out.append((r.returncode, r.stdout, r.stderr))
    return out


# --- ENOSYS for syscalls newer than the profile -----------------------------------

NR_NONE = 1000  # no syscall has this number
NR_STATMOUNT = 457  # newer than the libseccomp here: no profile can name it


def test_newer_syscalls_fail_with_enosys_as_runc(tools: Tools) -> None:
    """Docker's profile: above its highest syscall, ENOSYS (libc then falls
    back); below it, a syscall it does not allow gets EPERM; clone3 ENOSYS
    by its own rule."""
    numbers = [NR_NONE, NR_STATMOUNT, resolve_syscall("kexec_load"), resolve_syscall("clone3")]
    profile = Seccomp.default(["CAP_CHOWN"]).to_oci()
    tools.edit(lambda doc: doc["linux"].update(seccomp=profile))
    tools.ours.config(["/bin/syscalls", *map(str, numbers)])
    ours, theirs = _run_both(tools, "enosys")
    assert ours[0] == 0 and ours[1:] == theirs[1:], (ours, theirs)
    lines = ours[1].split()
    assert lines == [
        f"{NR_NONE}={-errno.ENOSYS}",
        f"{NR_STATMOUNT}={-errno.ENOSYS}",
        f"{numbers[2]}={-errno.EPERM}",
        f"{numbers[3]}={-errno.ENOSYS}",
    ]


# --- notify rules and the seccomp agent -------------------------------------------


class Agent:
    """A seccomp agent as one is written for runc: it accepts connections
    on ``path``, takes the state and the listener from each one's message,
    and answers notifications with ``answer(nr) -> (val, error, flags)``
    until the processes of that filter are gone.  ``docs``/``fd_kinds``:
    what each connection brought, in order."""

    def __init__(self, path: str, answer: Callable[[int], Tuple[int, int, int]]) -> None:
        self.path, self.answer = path, answer
        self.docs: List[Dict[str, Any]] = []
        self.fd_kinds: List[str] = []
        self.seen: List[int] = []
        self.errors: List[BaseException] = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)
        self.stop_r, self.stop_w = os.pipe()
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    @property
    def doc(self) -> Optional[Dict[str, Any]]:
        return self.docs[0] if self.docs else None

    @property
    def fd_kind(self) -> str:
        return self.fd_kinds[0] if self.fd_kinds else ""

    def _accept(self) -> None:
        try:
            while self._ready(self.sock.fileno()):
                conn, _ = self.sock.accept()
                with conn:  # one message (runc 1.1 keeps the connection open after it)
                    data, fds, _, _ = socket.recv_fds(conn, 65536, 4)
                self.docs.append(json.loads(data))
                (listener,) = fds
                self.fd_kinds.append(os.readlink(f"/proc/self/fd/{listener}"))
                thread = threading.Thread(target=self._serve, args=(listener,), daemon=True)
                self.threads.append(thread)
                thread.start()
        except BaseException as exc:  # reported by close()
            self.errors.append(exc)

    def _serve(self, listener: int) -> None:
        try:
            self._answer_all(listener)
        except BaseException as exc:
            self.errors.append(exc)
        finally:
            os.close(listener)

    def _ready(self, fd: int) -> bool:
        ready = select.select([fd, self.stop_r], [], [], 60)[0]
        return fd in ready

    def _answer_all(self, listener: int) -> None:
        poll = select.poll()
        poll.register(listener, select.POLLIN)
        poll.register(self.stop_r, select.POLLIN)
        while True:
            events = dict(poll.poll(60000))
            if self.stop_r in events or not events:
                return
            if events.get(listener, 0) & select.POLLHUP:
                return  # every process of the filter is gone
            buf = bytearray(NOTIF.size)
            try:
                fcntl.ioctl(listener, RECV, buf)
            except OSError as exc:
                if exc.errno == errno.ENOENT:  # the caller went away meanwhile
                    continue
                raise
            notif_id, _pid, _flags, nr, *_ = NOTIF.unpack(buf)
            self.seen.append(nr)
            val, error, flags = self.answer(nr)
            try:
                fcntl.ioctl(listener, SEND, bytearray(RESP.pack(notif_id, val, error, flags)))
            except OSError as exc:
                if exc.errno != errno.ENOENT:
                    raise

    def close(self) -> None:
        if self.stop_w < 0:
            return
        os.write(self.stop_w, b"x")
        for thread in list(self.threads):
            thread.join(30)
            assert not thread.is_alive()
        self.sock.close()
        os.close(self.stop_r)
        os.close(self.stop_w)
        self.stop_w = -1
        os.unlink(self.path)
        if self.errors:
            raise self.errors[0]


@pytest.fixture
def agents(tmp_path: Any) -> Iterator[Callable[..., Agent]]:
    made: List[Agent] = []

    def make(answer: Callable[[int], Tuple[int, int, int]]) -> Agent:
        agent = Agent(str(tmp_path / f"agent{len(made)}.sock"), answer)
        made.append(agent)
        return agent

    yield make
    for agent in made:
        agent.close()


MKDIRS = {resolve_syscall("mkdir"), resolve_syscall("mkdirat")}


def fake_mkdir(nr: int) -> Tuple[int, int, int]:
    """mkdir "succeeds" without running; anything else runs as asked."""
    return (0, 0, 0) if nr in MKDIRS else (0, 0, USER_NOTIF_FLAG_CONTINUE)


def _notify_profile(path: str, names: List[str]) -> Dict[str, Any]:
    return {
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": path,
        "listenerMetadata": "pod=p1",
        "syscalls": [{"names": names, "action": "SCMP_ACT_NOTIFY"}],
    }


def _use_agent(tools: Tools, agent: Agent, names: List[str]) -> None:
    profile = _notify_profile(agent.path, names)
    tools.edit(lambda doc: doc["linux"].update(seccomp=profile))


SCRIPT = "mkdir /tmp/made && echo mkdir=ok; test -d /tmp/made && echo exists || echo absent"


@pytest.mark.parametrize("no_new_privileges", [True, False])
def test_agent_answers_the_containers_calls_as_with_runc(
    tools: Tools, agents: Callable[..., Agent], no_new_privileges: bool
) -> None:
    """The agent gets runc's message and makes mkdir return 0 without
    running: the container sees success and no directory.  Without
    no_new_privileges the filter is loaded before the capabilities are
    dropped (runc's order), and notify is accepted all the same."""
    seen = []
    for tool, cid in tools.both(f"agent{int(no_new_privileges)}"):
        agent = agents(fake_mkdir)
        _use_agent(tools, agent, ["mkdir", "mkdirat"])
        tools.ours.config(["/bin/sh", "-c", SCRIPT], noNewPrivileges=no_new_privileges)
        r = tool("run", "-b", tools.bundle, cid)
        agent.close()
        seen.append((r, agent))
    (ours, our_agent), (runc, runc_agent) = seen
    assert ours.returncode == runc.returncode == 0, (ours, runc)
    assert ours.stdout.split() == runc.stdout.split() == ["mkdir=ok", "absent"]
    for agent, cid in zip((our_agent, runc_agent), (c for _, c in tools.both(f"agent{int(no_new_privileges)}"))):
        assert agent.fd_kind == "anon_inode:seccomp notify"
        assert MKDIRS & set(agent.seen)
        doc = agent.doc
        assert doc is not None
        assert doc["fds"] == ["seccompFd"] and doc["metadata"] == "pod=p1" and doc["pid"] > 0
        assert doc["state"]["id"] == cid and doc["state"]["pid"] == doc["pid"]
        assert doc["state"]["bundle"] == tools.bundle
    ours_doc, runc_doc = our_agent.doc, runc_agent.doc
    assert ours_doc is not None and runc_doc is not None
    assert sorted(ours_doc) == sorted(runc_doc) and sorted(ours_doc["state"]) == sorted(runc_doc["state"])
    assert ours_doc["state"]["status"] == runc_doc["state"]["status"]


def test_notify_on_the_runtimes_own_calls_with_an_agent(tools: Tools, agents: Callable[..., Agent]) -> None:
    """Every syscall runc accepts a notify rule on is accepted (the agent
    lets them run): close, sendmsg, sendto, recvfrom, execve, exit_group.
    Only write is refused, by both, before a container exists."""
    names = ["mkdir", "mkdirat", "close", "sendmsg", "sendto", "recvfrom", "execve", "exit_group"]
    tools.ours.config(["/bin/sh", "-c", SCRIPT], noNewPrivileges=True)
    outs = []
    for tool, cid in tools.both("runtime-calls"):
        agent = agents(fake_mkdir)
        _use_agent(tools, agent, names)
        r = tool("run", "-b", tools.bundle, cid)
        agent.close()
        outs.append((r.returncode, r.stdout.split(), bool({resolve_syscall("execve")} & set(agent.seen))))
    assert outs[0] == outs[1] == (0, ["mkdir=ok", "absent"], True), outs
    for tool, cid in tools.both("write"):
        agent = agents(fake_mkdir)
        _use_agent(tools, agent, ["write"])
        r = tool("run", "-b", tools.bundle, cid)
        agent.close()
        assert r.returncode != 0 and "write" in r.stderr and agent.doc is None, r


def test_exec_hands_its_listener_to_the_agent_as_runc(tools: Tools, agents: Callable[..., Agent]) -> None:
    """An exec'd process loads the filter too: a second message, status
    running, the container's pid in the state and the process's beside it."""
    tools.ours.config(["/bin/sleep", "60"])
    seen = []
    for tool, cid in tools.both("exec"):
        agent = agents(fake_mkdir)
        _use_agent(tools, agent, ["mkdir", "mkdirat"])
        assert tool("run", "-d", "-b", tools.bundle, cid).returncode == 0
        try:
            r = tool("exec", cid, "sh", "-c", SCRIPT)
            init_pid = tool.state(cid)["pid"]
        finally:
            tool("delete", "--force", cid)
        agent.close()
        seen.append((r.stdout.split(), agent, init_pid))
    for out, agent, init_pid in seen:
        assert out == ["mkdir=ok", "absent"]
        assert [d["state"]["status"] for d in agent.docs] == ["creating", "running"]
        first, second = agent.docs
        assert second["state"]["pid"] == first["pid"] == init_pid != second["pid"]
        assert agent.fd_kinds == ["anon_inode:seccomp notify"] * 2


def test_no_agent_at_the_listener_path(tools: Tools, tmp_path: Any) -> None:
    """Nobody listening: the start fails (a typed error, as runc fails), and
    nothing is left behind (the tools fixture checks)."""
    tools.edit(lambda doc: doc["linux"].update(seccomp=_notify_profile(str(tmp_path / "nobody.sock"), ["mkdir"])))
    tools.ours.config(["/bin/true"])
    (ours, cid), (runc, rcid) = tools.both("no-agent")
    r = runc("run", "-b", tools.bundle, rcid)
    assert r.returncode != 0, r
    r = ours("run", "-b", tools.bundle, cid)
    assert r.returncode != 0 and "cannot hand the seccomp listener to the agent" in r.stderr, r
    assert "nobody.sock" in r.stderr, r
