"""exec into a running container: same namespaces, hostname, mounts, cgroup
and user as its first process, nothing of the host; and the joining process
cannot be inspected by the container before it execs (CVE-2019-5736)."""

from __future__ import annotations

import os
import time

import attrs
import psutil
import pytest
from support.configs import userns_config

import libcontainer_py as lc
from libcontainer_py.plan import Op, build_plan
from libcontainer_py.spawn import spawn, start


@pytest.fixture
def running(busybox: str):
    config = lc.Config(
        rootfs=busybox,
        hostname="execbox",
        cgroup=lc.CgroupConfig(pids=lc.Pids(max=64)),
        mounts=lc.Mounts.default() + [lc.Mount.tmpfs("/scratch")],
        process=lc.Process(
            args=["sh", "-c", "echo in-init > /scratch/marker; echo ready; exec sleep 60"], user=lc.User(1000, 1000)
        ),
    )
    with lc.Container.create("exec-" + os.urandom(3).hex(), config, stdout=lc.PIPE) as c:
        c.start()
        assert c.process.stdout is not None and c.process.stdout.readline() == b"ready\n"
        yield c


NS = ("pid", "mnt", "uts", "net", "ipc", "cgroup")


def test_exec_sees_what_the_init_sees(running: lc.Container) -> None:
    script = (
        "for n in pid mnt uts net ipc cgroup; do readlink /proc/self/ns/$n; done; hostname; "
        "cat /scratch/marker; id -u; cat /proc/self/cgroup; echo --; ps -o comm"
    )
    proc = running.exec(["sh", "-c", script], stdout=lc.PIPE, text=True)
    out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0
    lines = out.splitlines()
    assert lines[:6] == [os.readlink(f"/proc/{running.pid}/ns/{n}") for n in NS]
    assert lines[6:9] == ["execbox", "in-init", "1000"]
    cgroups = lines[9 : lines.index("--")]
    assert any(line.startswith(("8:pids:/", "0::/")) and line.endswith(":/") for line in cgroups)
    assert "/libcontainer_py/" not in out  # its own cgroup, seen from its cgroup namespace
    comms = lines[lines.index("--") + 2 :]
    assert set(comms) <= {"sleep", "sh", "ps"} and "sleep" in comms  # the container's processes only


def test_exec_joins_the_cgroup_and_overrides(running: lc.Container) -> None:
    proc = running.exec(
        ["sh", "-c", "cat /proc/self/status | grep -E '^(Uid|CapEff)'; read x"],
        user=lc.User(0, 0),
        stdin=lc.PIPE,
        stdout=lc.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 5
    while proc.pid not in running.pids() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.pid in running.pids()  # in the container's cgroup
    out, _ = proc.communicate("\n", timeout=10)
    assert "Uid:\t0\t0\t0\t0" in out


def test_exec_into_a_created_container_works_and_into_a_stopped_one_is_an_error(busybox: str) -> None:
    """As runc: a process may join a container before its program starts
    (it sees the container's root and pid namespace, where the waiting
    first process is PID 1); once stopped, exec is refused."""
    config = lc.Config(rootfs=busybox, process=lc.Process(args=["true"]))
    with lc.Container.create("exec-created-" + os.urandom(3).hex(), config) as c:
        assert c.status() == "created"
        with c.exec(["sh", "-c", "echo $$; test -e /proc/1 && echo pid-1-there"], stdout=lc.PIPE) as p:
            out, _ = p.communicate(timeout=10)
        assert p.returncode == 0 and out.split()[1:] == [b"pid-1-there"] and out.split()[0] != b"1", out
        assert c.status() == "created"
        c.start()
        c.wait(10)
        with pytest.raises(lc.StateError):
            c.exec(["true"])


def test_exec_in_a_user_namespace(busybox: str) -> None:
    config = userns_config(busybox, process=lc.Process(args=["sleep", "60"]))
    with lc.Container.create("exec-userns-" + os.urandom(3).hex(), config) as c:
        c.start()
        proc = c.exec(
            ["sh", "-c", "cat /proc/self/uid_map; id -u; readlink /proc/self/ns/user"], stdout=lc.PIPE, text=True
        )
        out, _ = proc.communicate(timeout=10)
        userns = os.readlink(f"/proc/{c.pid}/ns/user")
    assert out.split() == ["0", "100000", "65536", "0", userns]


def test_exec_as_an_id_the_user_namespace_does_not_map_is_a_config_error(busybox: str) -> None:
    """Refused before anything is made, naming the id and the container's
    map (the child's setuid would fail with EINVAL); mapped ids still run."""
    config = userns_config(busybox, process=lc.Process(args=["sleep", "60"]))  # 0-65535 mapped
    with lc.Container.create("exec-unmapped-" + os.urandom(3).hex(), config) as c:
        c.start()
        before = psutil.Process().children()
        for user, field in (
            (lc.User(70000, 0), "process.user.uid"),
            (lc.User(0, 70000), "process.user.gid"),
            (lc.User(0, 0, additional_gids=[10, 70001]), "process.user.additional_gids[1]"),
        ):
            with pytest.raises(lc.ConfigError) as info:
                c.exec(["true"], user=user)
            assert info.value.field == field and "not mapped" in str(info.value) and "100000 65536" in str(info.value)
        assert psutil.Process().children() == before  # no child was made
        assert c.exec(["true"], user=lc.User(1000, 1000)).wait(timeout=10) == 0


@pytest.mark.parametrize("protected", [True, False])
def test_the_container_cannot_inspect_a_joining_process(running: lc.Container, protected: bool) -> None:
    """While an exec'd process is still a copy of this Python process
    (waiting before execve), the container's own processes must not read
    /proc/<pid>/exe or its memory.  Without the NOT_DUMPABLE step (the
    protection off) the same attack works."""
    # As root in both: a uid change would also make the victim non-dumpable.
    root = lc.User(0, 0)
    config = running.exec_config(["true"], user=root)
    cgroup = running.cgroup
    assert cgroup is not None
    plan = build_plan(
        config, "victim", wait_start=True, cgroup_procs=[os.path.join(d, "cgroup.procs") for d in cgroup.dirs()]
    )
    if not protected:
        plan = attrs.evolve(plan, steps=tuple(s for s in plan.steps if s.op is not Op.NOT_DUMPABLE))
    victim = spawn(plan)
    try:
        inner = nspid(victim.pid)
        attack = running.exec(
            [
                "sh",
                "-c",
                f"readlink /proc/{inner}/exe && echo READ; head -c 1 /proc/{inner}/environ >/dev/null && echo READ",
            ],
            stdout=lc.PIPE,
            stderr=lc.STDOUT,
            text=True,
            user=root,
        )
        out, _ = attack.communicate(timeout=10)
    finally:
        try:
            start(plan, victim)
        finally:
            os.waitpid(victim.pid, 0)
            os.close(victim.pidfd)
    if protected:
        assert "READ" not in out and "Permission denied" in out
    else:
        assert out.count("READ") == 2


def nspid(host_pid: int) -> int:
    """The pid of host_pid in its own (innermost) pid namespace."""
    with open(f"/proc/{host_pid}/status") as f:
        for line in f:
            if line.startswith("NSpid:"):
                return int(line.split()[-1])
    raise AssertionError("no NSpid line")


def test_destroy_does_not_wait_forever_for_an_unreaped_exec(busybox: str, tmp_path) -> None:
    """An exec'd process is our child: as a zombie it would keep the
    container's PID 1 from finishing its exit; destroy() reaps it."""
    config = lc.Config(rootfs=busybox, process=lc.Process(args=["sleep", "30"]))
    c = lc.Container.create("exec-zombie", config, root=str(tmp_path / "state"))
    c.start()
    proc = c.exec(["true"])
    deadline = time.monotonic() + 5
    while psutil_status(proc.pid) != "zombie" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert psutil_status(proc.pid) == "zombie"  # never waited for by its caller
    c.destroy()  # returns
    assert proc.returncode == 0


def psutil_status(pid: int) -> str:
    import psutil

    try:
        return str(psutil.Process(pid).status())
    except psutil.NoSuchProcess:
        return "gone"
