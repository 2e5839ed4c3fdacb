"""Each namespace is really new, or really joined, as the kernel shows it."""

from __future__ import annotations

import contextlib
import os
import subprocess
from typing import Dict, Iterator

import pytest
from support.configs import userns_config
from support.observe import inside

import libcontainer_py as lc
from libcontainer_py.namespaces import KINDS, PROC_NAMES

HOST_NS = {k: os.readlink(f"/proc/self/ns/{PROC_NAMES[k]}") for k in KINDS}


def container_ns(config: lc.Config) -> dict:
    script = "; ".join(f"readlink /proc/self/ns/{PROC_NAMES[k]}" for k in KINDS)
    return dict(zip(KINDS, inside(config, script).split()))


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_alone_is_new_and_nothing_else_is(kind: str, busybox: str) -> None:
    if kind == "mount":
        config = lc.Config(rootfs=busybox, namespaces=lc.Namespaces(mount=True), mounts=[lc.Mount.proc()], devices=())
    else:
        # No mount namespace: no rootfs; the host's /proc and tools are used.
        config = lc.Config(rootfs=None, namespaces=lc.Namespaces(**{kind: True}), mounts=(), devices=())
    seen = container_ns(config)
    for other in KINDS:
        if other == kind:
            assert seen[other] != HOST_NS[other], f"{kind} namespace was not new"
        else:
            assert seen[other] == HOST_NS[other], f"{other} namespace changed when only {kind} was asked"


def test_default_namespaces(busybox: str) -> None:
    seen = container_ns(lc.Config(rootfs=busybox))
    for kind in ("mount", "uts", "ipc", "pid", "net", "cgroup"):
        assert seen[kind] != HOST_NS[kind]
    for kind in ("user", "time"):
        assert seen[kind] == HOST_NS[kind]


def test_pid_one_and_hostname(busybox: str) -> None:
    out = inside(
        lc.Config(rootfs=busybox, hostname="box", domainname="example.test"),
        "echo $$; hostname; cat /proc/sys/kernel/domainname; ls /proc | grep -c '^[0-9]'",
    )
    pid, hostname, domainname, nprocs = out.split()
    assert pid == "1"
    assert hostname == "box"
    assert domainname == "example.test"
    assert int(nprocs) <= 3  # sh, and the ls/grep it runs
    assert os.uname().nodename != "box"


def test_default_hostname_is_the_container_id(busybox: str) -> None:
    r = lc.run(["hostname"], config=lc.Config(rootfs=busybox), capture_output=True, text=True, container_id="abc123")
    assert r.stdout.strip() == "abc123"
    assert r.container_id == "abc123"


def test_loopback_is_up_in_a_new_net_namespace(busybox: str) -> None:
    out = inside(
        lc.Config(rootfs=busybox), "cat /sys/class/net/lo/operstate /sys/class/net/lo/flags; ls /sys/class/net"
    )
    _operstate, flags, *ifaces = out.split()
    assert int(flags, 16) & 0x1  # IFF_UP
    assert ifaces == ["lo"]


def test_time_namespace_is_new() -> None:
    config = lc.Config(rootfs=None, mounts=(), devices=(), namespaces=lc.Namespaces(time=True))
    assert inside(config, "readlink /proc/self/ns/time").strip() != HOST_NS["time"]


@pytest.fixture
def sleeper(busybox: str):
    """A running container to join: hostname 'joinme', a marker in /tmp."""
    config = lc.Config(
        rootfs=busybox,
        hostname="joinme",
        process=lc.Process(args=["sh", "-c", "echo marker > /tmp/marker; echo ready; exec sleep 60"]),
    )
    proc = lc.ContainerProcess(config, stdout=lc.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"ready\n"
    yield proc
    proc.kill()
    proc.wait()
    proc.stdout.close()
    proc.close()


def test_join_namespaces_of_a_running_container(sleeper: lc.ContainerProcess) -> None:
    pid = sleeper.pid
    path = {k: f"/proc/{pid}/ns/{PROC_NAMES[k]}" for k in KINDS}
    target = {k: os.readlink(path[k]) for k in ("uts", "ipc", "net", "pid", "mount", "cgroup")}
    config = lc.Config(
        rootfs=None,
        mounts=(),
        devices=(),
        namespaces=lc.Namespaces(**{k: path[k] for k in target}),
    )
    script = "; ".join(f"readlink /proc/self/ns/{PROC_NAMES[k]}" for k in target)
    script += "; hostname; cat /tmp/marker; echo $$; ls /proc | grep -c '^[0-9]'"
    out = inside(config, script).split()
    seen = dict(zip(target, out))
    assert seen == target
    hostname, marker, mypid, nprocs = out[len(target) :]
    assert (hostname, marker) == ("joinme", "marker")
    assert mypid != "1" and int(nprocs) >= 2  # in the sleeper's pid namespace, beside its PID 1


def test_join_and_create_together(sleeper: lc.ContainerProcess, busybox: str) -> None:
    """Join the sleeper's net namespace, create the rest."""
    netns = f"/proc/{sleeper.pid}/ns/net"
    ns = lc.Namespaces(mount=True, uts=True, ipc=True, pid=True, net=netns)
    out = inside(
        lc.Config(rootfs=busybox, namespaces=ns, hostname="other"),
        "readlink /proc/self/ns/net; readlink /proc/self/ns/uts; echo $$; hostname",
    ).split()
    assert out[0] == os.readlink(netns)
    assert out[1] not in (HOST_NS["uts"], os.readlink(f"/proc/{sleeper.pid}/ns/uts"))
    assert out[2:] == ["1", "other"]


def test_join_a_namespace_made_by_unshare(tmp_path) -> None:
    """A namespace held by a plain host process (not one of ours)."""
    holder = subprocess.Popen(
        ["unshare", "--uts", "sh", "-c", "hostname fromunshare; echo ok; exec sleep 60"], stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"ok\n"
        config = lc.Config(
            rootfs=None, mounts=(), devices=(), namespaces=lc.Namespaces(uts=f"/proc/{holder.pid}/ns/uts")
        )
        assert inside(config, "hostname").strip() == "fromunshare"
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()  # type: ignore[union-attr]


def test_join_a_user_namespace_and_a_time_namespace(busybox: str) -> None:
    owner = userns_config(busybox, process=lc.Process(args=["sh", "-c", "echo ready; exec sleep 60"]))
    with lc.ContainerProcess(owner, stdout=lc.PIPE) as proc:
        try:
            assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
            path = {k: f"/proc/{proc.pid}/ns/{PROC_NAMES[k]}" for k in ("user", "time", "uts")}
            joiner = lc.Config(rootfs=None, mounts=(), devices=(), namespaces=lc.Namespaces(**path))
            out = inside(
                joiner,
                "readlink /proc/self/ns/user; readlink /proc/self/ns/time; cat /proc/self/uid_map; id -u; hostname",
            ).split("\n")
            assert out[0] == os.readlink(path["user"]) != HOST_NS["user"]
            assert out[1] == os.readlink(path["time"]) != HOST_NS["time"]
            assert out[2].split() == ["0", "100000", "65536"]
            assert out[3] == "0"  # root of the joined namespace (100000 on the host)
            assert out[4] == proc.container_id
        finally:
            proc.kill()


def _uptime() -> float:
    with open("/proc/uptime") as f:
        return float(f.read().split()[0])


@pytest.mark.parametrize(
    "namespaces",
    [
        lc.Namespaces(time=True),
        lc.Namespaces(mount=True, uts=True, ipc=True, pid=True, net=True, cgroup=True, time=True),
        lc.Namespaces(user=True, mount=True, uts=True, ipc=True, pid=True, net=True, time=True),
    ],
    ids=["time only", "with a pid namespace", "with user and pid namespaces"],
)
def test_time_namespace_clock_offsets(busybox: str, no_leaks: None, namespaces: lc.Namespaces) -> None:
    """The container's boottime and monotonic clocks start where the config
    says: /proc/uptime (boottime) is a day ahead of the host's, and the
    kernel's record of the offsets says so; the program is PID 1 where it
    has a pid namespace, and runs in the time namespace it was given."""
    day = 86_400
    config = lc.Config(
        rootfs=busybox if namespaces.mount is True else None,
        namespaces=namespaces,
        time_offsets={"boottime": (day, 0), "monotonic": (-5, 250)},
    )
    before = _uptime()
    out = inside(config, "echo $$; readlink /proc/self/ns/time; cat /proc/uptime; cat /proc/self/timens_offsets")
    after = _uptime()
    pid, ns, uptime, *offsets = out.splitlines()
    assert ns != HOST_NS["time"]
    assert before + day <= float(uptime.split()[0]) <= after + day + 1
    assert [line.split() for line in offsets] == [["monotonic", "-5", "250"], ["boottime", str(day), "0"]]
    if namespaces.pid is True:
        assert pid == "1"


def test_time_offsets_through_create_and_start(busybox: str, tmp_path) -> None:
    """A container created here and started later (the fork into the time
    namespace happens at create) keeps its offsets and its state loads."""
    config = lc.Config(
        rootfs=busybox,
        namespaces=lc.Namespaces(mount=True, pid=True, time=True),
        time_offsets={"monotonic": (7, 0)},
        process=lc.Process(args=["sh", "-c", "head -1 /proc/self/timens_offsets; echo $$"]),
    )
    with lc.Container.create("lc-timens", config, root=str(tmp_path / "state"), stdout=lc.PIPE) as c:
        assert lc.Container.load("lc-timens", root=str(tmp_path / "state")).config.time_offsets == {"monotonic": (7, 0)}
        c.start()
        assert c.process is not None and c.process.stdout is not None
        assert c.process.stdout.read().split() == [b"monotonic", b"7", b"0", b"1"]
        assert c.wait(timeout=10) == 0
        c.destroy()


# -- unlisted namespaces are the caller's; every kind joined by path -----------------


def _ns_of(pid: int) -> Dict[str, str]:
    return {k: os.readlink(f"/proc/{pid}/ns/{PROC_NAMES[k]}") for k in KINDS}


@contextlib.contextmanager
def _running(config: lc.Config) -> Iterator[lc.ContainerProcess]:
    """``config`` running ``sh``: ready once it printed a line, then sleeping."""
    proc = lc.ContainerProcess(config.with_args(["sh", "-c", "echo ready; exec sleep 60"]), stdout=lc.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        yield proc
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        proc.close()


@pytest.mark.parametrize("left_out", KINDS)
def test_a_kind_left_out_is_the_callers_own(left_out: str, busybox: str, no_leaks: None) -> None:
    """Every kind but one new: that one is the caller's (the same inode in
    /proc/<pid>/ns).  Without a mount namespace the root directory is
    chroot'ed into, and no mount is made: the caller's mount table is
    unchanged (no_leaks) and the process's root is the directory."""
    # A new user namespace beside, except where it cannot be: a chroot (no
    # mount namespace), mqueue and proc (the caller's ipc or pid namespace) refuse it.
    host_user = left_out in ("mount", "ipc", "pid")
    new = {k: True for k in KINDS if k != left_out and not (host_user and k == "user")}
    config = lc.Config(rootfs=busybox, namespaces=lc.Namespaces(**new))
    if left_out == "mount":
        assert (len(config.mounts), config.devices, config.masked_paths, config.readonly_paths) == (0, (), (), ())
    with _running(config) as proc:
        seen = _ns_of(proc.pid)
        root = os.readlink(f"/proc/{proc.pid}/root")
    assert {k for k in KINDS if seen[k] == HOST_NS[k]} == {left_out} | ({"user"} if host_user else set())
    if left_out == "mount":
        assert root == os.path.realpath(busybox)


def test_no_mount_namespace_refuses_what_would_mount_in_the_callers(busybox: str) -> None:
    """Mounts, masks, read-only paths, a read-only root, a propagation, a
    user namespace (which could leave a chroot) and roots that are mounts."""
    ns = lc.Namespaces(pid=True, uts=True)
    bad = [
        ("mounts", dict(mounts=[lc.Mount.proc()])),
        ("masked_paths", dict(masked_paths=["/proc/kcore"])),
        ("readonly_paths", dict(readonly_paths=["/proc/sys"])),
        ("rootfs.readonly", dict(rootfs=lc.Rootfs.directory(busybox, readonly=True))),
        ("rootfs.propagation", dict(rootfs=lc.Rootfs.directory(busybox, propagation="private"))),
        ("rootfs", dict(rootfs=lc.Rootfs.host())),
        ("rootfs", dict(namespaces=lc.Namespaces(user=True, pid=True))),
    ]
    for field, kwargs in bad:
        with pytest.raises(lc.ConfigError) as info:
            lc.Config(**{"rootfs": busybox, "namespaces": ns, **kwargs})
        assert info.value.field == field, (field, info.value)


def _holder_config(kind: str, busybox: str) -> lc.Config:
    """A container with a new namespace of ``kind`` only (and a mount
    namespace with a tmpfs on the busybox root for ``mount``)."""
    if kind == "mount":
        return lc.Config(rootfs=busybox, namespaces=lc.Namespaces(mount=True))
    return lc.Config(rootfs=None, mounts=(), devices=(), namespaces=lc.Namespaces(**{kind: True}))


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_joined_by_path_alone(kind: str, busybox: str, no_leaks: None) -> None:
    with _running(_holder_config(kind, busybox)) as holder:
        path = f"/proc/{holder.pid}/ns/{PROC_NAMES[kind]}"
        config = lc.Config(rootfs=None, mounts=(), devices=(), namespaces=lc.Namespaces(**{kind: path}))
        with _running(config) as joiner:
            seen = _ns_of(joiner.pid)
        assert seen[kind] == os.readlink(path) != HOST_NS[kind]
        assert {k: v for k, v in seen.items() if k != kind} == {k: v for k, v in HOST_NS.items() if k != kind}


def test_every_kind_joined_by_path_together(busybox: str, no_leaks: None) -> None:
    holder_config = userns_config(busybox)
    with _running(holder_config) as holder:
        paths = {k: f"/proc/{holder.pid}/ns/{PROC_NAMES[k]}" for k in KINDS}
        config = lc.Config(rootfs=None, mounts=(), devices=(), namespaces=lc.Namespaces(**paths))
        with _running(config) as joiner:
            seen = _ns_of(joiner.pid)
        assert seen == _ns_of(holder.pid)
        assert all(seen[k] != HOST_NS[k] for k in KINDS)


def test_a_root_set_up_in_a_joined_mount_namespace(busybox: str, no_leaks: None) -> None:
    """As runc: with a joined mount namespace the root is prepared and
    pivoted into there, so the container's mount table is that namespace's
    (the holder sees the same table) and the caller's is untouched."""
    holder_config = lc.Config(rootfs=None, mounts=(), devices=(), namespaces=lc.Namespaces(mount=True))
    with _running(holder_config) as holder:
        path = f"/proc/{holder.pid}/ns/mnt"
        ns = lc.Namespaces(mount=path, uts=True, ipc=True, pid=True, net=True)
        config = lc.Config(rootfs=busybox, namespaces=ns)
        with _running(config) as joiner:
            assert os.readlink(f"/proc/{joiner.pid}/ns/mnt") == os.readlink(path) != HOST_NS["mount"]
            with open(f"/proc/{joiner.pid}/mountinfo") as f:
                theirs = f.read()
            with open(f"/proc/{holder.pid}/mountinfo") as f:
                assert f.read() == theirs
        proc_mounts = [line.split()[4] for line in theirs.splitlines() if " - proc " in line]
        assert "/proc" in proc_mounts


def test_hostname_set_in_a_joined_uts_namespace(busybox: str, no_leaks: None) -> None:
    """As runc: hostname with a joined uts namespace sets it there."""
    with _running(_holder_config("uts", busybox)) as holder:
        path = f"/proc/{holder.pid}/ns/uts"
        ns = lc.Namespaces(mount=True, uts=path, pid=True)
        out = inside(lc.Config(rootfs=busybox, namespaces=ns, hostname="joined"), "hostname")
        assert out.strip() == "joined"
        again = lc.Config(rootfs=None, mounts=(), devices=(), namespaces=lc.Namespaces(uts=path))
        assert inside(again, "hostname").strip() == "joined"
    assert os.uname().nodename != "joined"
