"""Cgroups through containers: limits hold, accounting moves, freeze, update,
OOM reporting, and nothing is left behind."""

from __future__ import annotations

import os
import signal
import time

import attrs
import pytest
from support.configs import MAPPED_IDS

import libcontainer_py as lc

HIERARCHIES = [os.path.join("/sys/fs/cgroup", h) for h in sorted(os.listdir("/sys/fs/cgroup"))]


def ours() -> dict:
    """Every libcontainer_py/<id> directory in every hierarchy."""
    out = {}
    for h in HIERARCHIES:
        base = os.path.join(h, "libcontainer_py")
        out[h] = sorted(os.listdir(base)) if os.path.isdir(base) else None
        out[h] = [d for d in (out[h] or []) if os.path.isdir(os.path.join(base, d))] if out[h] is not None else None
    return out


@pytest.fixture
def no_cgroups_left():
    before = ours()
    yield
    assert ours() == before


def cgroup_file(container_id: str, hierarchy: str, name: str) -> str:
    with open(os.path.join("/sys/fs/cgroup", hierarchy, "libcontainer_py", container_id, name)) as f:
        return f.read().strip()


def test_memory_hog_is_oom_killed_and_reported(busybox: str, no_leaks: None, no_cgroups_left: None) -> None:
    config = lc.Config(
        rootfs=busybox,
        cgroup=lc.CgroupConfig(memory=lc.Memory(max="64M", swap_max=0)),
        process=lc.Process(args=["dd", "if=/dev/zero", "of=/dev/null", "bs=200M", "count=1"]),
    )
    r = lc.run(config=config, capture_output=True, timeout=30)
    assert r.returncode == -signal.SIGKILL
    assert r.oom_killed and r.stats is not None and r.stats.memory is not None
    assert r.stats.memory.oom_kills >= 1
    assert r.peak_memory is not None and 60 * 2**20 <= r.peak_memory <= 64 * 2**20


def test_a_plain_signal_is_not_an_oom_kill(busybox: str, no_cgroups_left: None) -> None:
    config = lc.Config(
        rootfs=busybox,
        cgroup=lc.CgroupConfig(memory=lc.Memory(max="64M")),
        process=lc.Process(args=["sh", "-c", "kill -KILL $$; exec sleep 5"]),
    )
    with lc.ContainerProcess(config) as proc:
        proc.kill()
        assert proc.wait(10) == -signal.SIGKILL
        stats = proc.stats()
    assert stats.memory is not None and stats.memory.oom_kills == 0


def test_run_reports_cpu_time_and_peak_memory(busybox: str, no_cgroups_left: None) -> None:
    config = lc.Config(
        rootfs=busybox,
        cgroup=lc.CgroupConfig(memory=lc.Memory(max="256M")),
        process=lc.Process(args=["sh", "-c", "dd if=/dev/zero of=/dev/null bs=32M count=20"]),
    )
    r = lc.run(config=config, capture_output=True, timeout=30)
    assert r.returncode == 0 and not r.oom_killed
    assert r.peak_memory is not None and r.peak_memory >= 32 * 2**20
    assert r.cpu_time is not None and r.cpu_time > 0


def test_fork_bomb_stops_at_the_pids_limit(busybox: str, no_leaks: None, no_cgroups_left: None) -> None:
    config = lc.Config(
        rootfs=busybox,
        cgroup=lc.CgroupConfig(pids=lc.Pids(max=32)),
        process=lc.Process(args=["sh", "-c", "bomb() { bomb | bomb & }; bomb; sleep 30"]),
    )
    name = "forkbomb-" + os.urandom(3).hex()
    with lc.Container.create(name, config, stderr=lc.DEVNULL) as c:
        c.start()
        seen = []
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            st = c.stats()
            assert st.pids is not None and st.pids.limit == 32
            seen.append(st.pids.current)
            time.sleep(0.01)
        assert 16 <= max(seen) <= 32  # it grew, and never past the limit (sampling may miss the top)
        assert int(cgroup_file(name, "pids", "pids.events").split()[1]) > 0  # forks refused at the limit
        if os.path.exists(os.path.join("/sys/fs/cgroup/pids/libcontainer_py", name, "pids.peak")):
            assert int(cgroup_file(name, "pids", "pids.peak")) == 32  # the kernel's high-water mark


def test_cpu_quota_of_20_percent(busybox: str, no_cgroups_left: None) -> None:
    config = lc.Config(
        rootfs=busybox,
        cgroup=lc.CgroupConfig(cpu=lc.Cpu(quota_us=20_000, period_us=100_000)),
        process=lc.Process(args=["sh", "-c", "while :; do :; done"]),
    )
    with lc.Container.create("cpu-" + os.urandom(3).hex(), config) as c:
        c.start()
        time.sleep(0.3)
        cpu0, t0 = c.stats().cpu, time.monotonic()
        time.sleep(2.0)
        cpu1, t1 = c.stats().cpu, time.monotonic()
        assert cpu0 is not None and cpu1 is not None
        share = (cpu1.usage_ns - cpu0.usage_ns) / 1e9 / (t1 - t0)
        assert 0.15 <= share <= 0.25, share
        assert cpu1.throttled_periods > cpu0.throttled_periods


def test_pause_stops_progress_and_resume_continues(busybox: str, tmp_path, no_cgroups_left: None) -> None:
    config = lc.Config(
        rootfs=busybox,
        cgroup=lc.CgroupConfig(),
        mounts=lc.Mounts.default() + [lc.Mount.bind(str(tmp_path), "/out")],
        process=lc.Process(args=["sh", "-c", "while :; do echo x >> /out/n; done"]),
    )
    counter = tmp_path / "n"

    def count() -> int:
        return os.path.getsize(counter) if counter.exists() else 0

    with lc.Container.create("pause-" + os.urandom(3).hex(), config) as c:
        c.start()
        time.sleep(0.2)
        c.pause()
        assert c.status() == "paused"
        frozen = count()
        assert frozen > 0
        time.sleep(0.5)
        assert count() == frozen
        c.resume()
        assert c.status() == "running"
        time.sleep(0.3)
        assert count() > frozen
        with pytest.raises(lc.StateError):
            c.resume()


def test_denied_device_cannot_be_opened(busybox: str, no_cgroups_left: None) -> None:
    """The classic attack: mknod a host device (CAP_MKNOD is a default
    capability) and open it.  The default device rules stop it; without
    them the same attack works."""
    # This VM denies even the host's root the disk itself; loop-control
    # (10:237) stands in: openable by root, not in the default rules.
    script = "mknod /dev/lctl c 10 237 && (exec 3<>/dev/lctl && echo opened) 2>&1"

    def attempt(devices: lc.Devices | None) -> str:
        config = lc.Config(
            rootfs=busybox, cgroup=lc.CgroupConfig(devices=devices), process=lc.Process(args=["sh", "-c", script])
        )
        return lc.run(config=config, capture_output=True, text=True, timeout=10).stdout

    assert "Operation not permitted" in attempt(lc.Devices.default())
    assert attempt(None).strip() == "opened"


def test_stats_move_with_the_workload(busybox: str, no_cgroups_left: None) -> None:
    config = lc.Config(
        rootfs=busybox,
        cgroup=lc.CgroupConfig(memory=lc.Memory(max="256M")),
        mounts=lc.Mounts.default() + [lc.Mount.tmpfs("/data", size="128m")],
        process=lc.Process(args=["sh", "-c", "read x; dd if=/dev/zero of=/data/f bs=1M count=64; read y"]),
    )
    with lc.Container.create("stats-" + os.urandom(3).hex(), config, stdin=lc.PIPE, stderr=lc.DEVNULL) as c:
        c.start()
        assert c.process.stdin is not None
        before = c.stats()
        c.process.stdin.write(b"go\n")
        c.process.stdin.flush()
        deadline = time.monotonic() + 10
        while True:
            after = c.stats()
            assert after.memory is not None and before.memory is not None
            if after.memory.usage >= before.memory.usage + 60 * 2**20 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert after.memory.usage >= before.memory.usage + 60 * 2**20  # tmpfs pages are charged to it
        assert after.cpu is not None and before.cpu is not None and after.cpu.usage_ns > before.cpu.usage_ns
        assert [p.pid for p in c.processes()] == c.pids() and c.pid in c.pids()


def test_update_a_running_container(busybox: str, no_cgroups_left: None) -> None:
    config = lc.Config(
        rootfs=busybox,
        cgroup=lc.CgroupConfig(memory=lc.Memory(max="64M", swap_max=0)),
        process=lc.Process(args=["sh", "-c", "read x; dd if=/dev/zero of=/dev/null bs=100M count=1; echo rc=$?"]),
    )
    cid = "update-" + os.urandom(3).hex()
    with lc.Container.create(cid, config, stdin=lc.PIPE, stdout=lc.PIPE, stderr=lc.DEVNULL) as c:
        c.start()
        c.update(lc.Memory(max="256M"))
        assert int(cgroup_file(cid, "memory", "memory.limit_in_bytes")) == 256 * 2**20
        assert c.process.stdin is not None and c.process.stdout is not None
        c.process.stdin.write(b"go\n")
        c.process.stdin.flush()
        assert c.process.stdout.readline() == b"rc=0\n"  # 100M fits now; under 64M it was killed


def test_wrong_states(busybox: str, no_cgroups_left: None) -> None:
    config = lc.Config(rootfs=busybox, cgroup=lc.CgroupConfig(), process=lc.Process(args=["sleep", "30"]))
    with lc.Container.create("states-" + os.urandom(3).hex(), config) as c:
        assert c.status() == "created"
        with pytest.raises(lc.StateError):
            c.resume()
        c.pause()  # as runc: a created container can be paused; resumed, it is created again
        assert c.status() == "paused"
        with pytest.raises(lc.StateError):
            c.start()
        c.resume()
        assert c.status() == "created"
        c.start()
        with pytest.raises(lc.StateError):
            c.start()
        c.kill(signal.SIGKILL)
        c.wait(10)
        assert c.status() == "stopped"
        with pytest.raises(lc.StateError):
            c.pause()


def test_200_create_destroy_cycles_leave_no_cgroup(busybox: str, no_leaks: None, no_cgroups_left: None) -> None:
    config = lc.Config(
        rootfs=busybox,
        cgroup=lc.CgroupConfig(memory=lc.Memory(max="32M"), pids=lc.Pids(max=16)),
        process=lc.Process(args=["sleep", "30"]),
    )
    for i in range(200):
        c = lc.Container.create(f"cycle-{i}", config)
        if i % 2:
            c.start()
        c.destroy()


def test_bad_cgroup_setting_fails_before_anything_runs(busybox: str, no_leaks: None, no_cgroups_left: None) -> None:
    config = lc.Config(
        rootfs=busybox, cgroup=lc.CgroupConfig(memory=lc.Memory(high="64M")), process=lc.Process(args=["true"])
    )
    with pytest.raises(lc.CgroupUnsupported):  # memory.high has no v1 file on this host
        lc.run(config=config)


def test_the_container_never_runs_outside_its_cgroup(busybox: str, no_cgroups_left: None) -> None:
    """The child joins its cgroup before any other step: even the first
    thing the program sees is the container's cgroup."""
    config = lc.Config(
        rootfs=busybox,
        cgroup=lc.CgroupConfig(pids=lc.Pids(max=8)),
        namespaces=lc.Namespaces(mount=True, pid=True, uts=True),
        process=lc.Process(args=["cat", "/proc/self/cgroup"]),
    )
    r = lc.run(config=config, capture_output=True, text=True, container_id="first-" + os.urandom(3).hex())
    assert f":pids:/libcontainer_py/{r.container_id}\n" in r.stdout


def test_default_container_gets_only_the_device_cgroup(busybox: str, no_cgroups_left: None) -> None:
    """As root, lc.Config() has DEFAULT_CGROUP: device rules, no accounting.
    On this hybrid host the rules are a device program on the cgroup2
    directory, so no v1 hierarchy is joined at all (the process is placed at
    clone, never moved)."""
    from libcontainer_py.cgroups import bpf_devices, detect

    config = lc.Config(
        rootfs=busybox,
        namespaces=lc.Namespaces(mount=True, pid=True),
        process=lc.Process(args=["sh", "-c", "read x"]),
    )
    assert config.cgroup == lc.config.DEFAULT_CGROUP and not config.cgroup.accounting
    layout = detect()
    assert layout.kind == "hybrid" and layout.unified is not None
    with lc.ContainerProcess(config, stdin=lc.PIPE, container_id="dflt-" + os.urandom(3).hex()) as proc:
        with open(f"/proc/{proc.pid}/cgroup") as f:
            lines = dict(line.strip().split(":", 2)[1:] for line in f)
        v2dir = layout.unified.dir(f"libcontainer_py/{proc.container_id}")
        fd = os.open(v2dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            programs = bpf_devices.attached_ids(fd, v2dir)
        finally:
            os.close(fd)
        proc.communicate(b"\n", timeout=10)
    ours = f"/libcontainer_py/{proc.container_id}"
    assert lines[""] == ours
    assert all(where != ours for name, where in lines.items() if name), lines
    assert len(programs) == 1
    assert lc.Config(namespaces=lc.Namespaces.all()).cgroup is None  # a user namespace cannot mknod anyway


def test_clone_into_cgroup_on_a_cgroup2_only_layout(busybox: str, monkeypatch, no_cgroups_left: None) -> None:
    """Seen as a cgroup2-only host (this host's unified mount alone), the
    child is placed by clone3's CLONE_INTO_CGROUP: no join step runs."""
    import libcontainer_py.popen as popen
    from libcontainer_py.cgroups import detect
    from libcontainer_py.plan import Op

    v2_only = detect().only(())
    monkeypatch.setattr(popen, "detect", lambda: v2_only)
    config = lc.Config(
        rootfs=busybox, cgroup=lc.CgroupConfig(), process=lc.Process(args=["sh", "-c", "cat /proc/self/cgroup; read x"])
    )
    with lc.ContainerProcess(config, stdin=lc.PIPE, stdout=lc.PIPE, text=True) as proc:
        assert Op.JOIN_CGROUP not in [s.op for s in proc.plan.steps]
        with open(f"/proc/{proc.pid}/cgroup") as f:
            outside = f.read()
        inside, _ = proc.communicate("\n", timeout=10)
    assert f"0::/libcontainer_py/{proc.container_id}\n" in outside
    assert "0::/\n" in inside  # the cgroup namespace is rooted at the container's cgroup


def test_configured_devices_open_only_where_the_rules_allow(busybox: str, no_cgroups_left: None) -> None:
    """A node listed in Config.devices is made in /dev; the device rules
    alone decide whether it opens (as runc): Devices.allowing() adds it."""
    loop = lc.Device("/dev/loop-control", "c", 10, 237, mode=0o600)
    script = "(exec 3<>/dev/loop-control && echo opened) 2>&1; mknod /dev/kmsg2 c 1 11; (exec 3</dev/kmsg2) 2>&1"
    outputs = []
    for devices in (lc.Devices.default(), lc.Devices.default().allowing(loop)):
        config = lc.Config(
            rootfs=busybox,
            devices=lc.DEFAULT_DEVICES + (loop,),
            cgroup=lc.CgroupConfig(pids=lc.Pids(max=16), devices=devices),
            process=lc.Process(args=["sh", "-c", script]),
        )
        outputs.append(lc.run(config=config, capture_output=True, text=True, timeout=10).stdout.splitlines())
    denied, allowed = outputs
    assert "Operation not permitted" in denied[0] and "opened" not in denied
    assert allowed[0] == "opened" and "Operation not permitted" in allowed[1]


# ---- Mount.cgroup: what the container sees at /sys/fs/cgroup ----------------------------

CGROUP_VIEW = (
    "cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/memory/memory.limit_in_bytes; echo ---;"
    " cat /sys/fs/cgroup/pids/cgroup.procs; echo ---; cat /proc/self/cgroup; echo ---;"
    " grep ' /sys/fs/cgroup' /proc/self/mountinfo; echo ---;"
    " (echo 1 > /sys/fs/cgroup/pids/pids.max; mkdir /sys/fs/cgroup/x; ln -s a /sys/fs/cgroup/y) 2>&1; true"
)


def _cgroup_view(busybox: str, namespaces: lc.Namespaces, mount: lc.Mount, **kw) -> tuple:
    ids = {}
    if namespaces.user:
        ids = MAPPED_IDS
    config = lc.Config(
        rootfs=busybox,
        namespaces=namespaces,
        mounts=lc.Mounts.default()[:-1] + [mount],
        cgroup=lc.CgroupConfig(memory=lc.Memory(max="64M"), pids=lc.Pids(max=50), accounting=False),
        process=lc.Process(args=["sh", "-c", CGROUP_VIEW]),
        **ids,
    )
    r = lc.run(config=config, capture_output=True, text=True, timeout=30, **kw)
    assert r.returncode == 0, r
    limits, procs, cgroups, mountinfo, writes = r.stdout.split("---\n")
    mounts = [(f[4], f[3], f[5], f[f.index("-") + 1]) for f in (line.split() for line in mountinfo.splitlines())]
    return r.container_id, limits.split(), procs.split(), cgroups, mounts, writes


@pytest.mark.parametrize("userns", [False, True])
def test_cgroup_mount_in_a_cgroup_namespace_shows_its_own_cgroup_as_root(
    busybox: str, userns: bool, no_leaks: None, no_cgroups_left: None
) -> None:
    """A tmpfs and one cgroup mount per v1 hierarchy, each rooted at the
    container's cgroup (its cgroup namespace's root), all read-only."""
    ns = attrs.evolve(lc.Namespaces.default(), user=userns)
    _, limits, procs, cgroups, mounts, writes = _cgroup_view(busybox, ns, lc.Mount.cgroup())
    assert limits == ["50", str(64 << 20)]
    assert "1" in procs  # its init: the hierarchy's root is the container's cgroup
    assert {line.split(":", 2)[2] for line in cgroups.splitlines()} == {"/"}
    names = sorted(os.listdir("/sys/fs/cgroup"))
    names.remove("unified")  # left out, as runc does
    assert mounts[0][0] == "/sys/fs/cgroup" and mounts[0][3] == "tmpfs" and mounts[0][2].startswith("ro,")
    assert sorted(m[0] for m in mounts[1:]) == [f"/sys/fs/cgroup/{n}" for n in names]
    assert all(m[3] == "cgroup" and m[1] == "/" and m[2].startswith("ro,nosuid,nodev,noexec") for m in mounts[1:])
    assert writes.count("Read-only file system") == 3, writes


@pytest.mark.parametrize("userns", [False, True])
def test_cgroup_mount_without_a_cgroup_namespace_binds_its_directories(
    busybox: str, userns: bool, no_leaks: None, no_cgroups_left: None
) -> None:
    """Without a cgroup namespace (and in a user namespace, where a cgroup2
    mount is refused): binds of the container's own directories, and of
    the caller's where it has none of its own (accounting=False)."""
    ns = attrs.evolve(lc.Namespaces.default(), cgroup=False, user=userns)
    cid, limits, procs, cgroups, mounts, writes = _cgroup_view(busybox, ns, lc.Mount.cgroup(propagation="rprivate"))
    assert limits == ["50", str(64 << 20)] and "1" in procs
    own = dict(line.split(":", 2)[1:] for line in cgroups.splitlines())
    assert own["pids"] == own["memory"] == own["devices"] == f"/libcontainer_py/{cid}"
    roots = {os.path.basename(m[0]): m[1] for m in mounts[1:]}
    assert roots["pids"] == roots["memory"] == f"/libcontainer_py/{cid}"
    with open("/proc/self/cgroup") as f:
        mine = dict(line.split(":", 2)[1:] for line in f.read().splitlines())
    assert roots["cpu"] == mine["cpu"] and roots["systemd"] == mine["name=systemd"]
    assert all(m[2].startswith("ro,") for m in mounts) and writes.count("Read-only file system") == 3


def test_cgroup_mount_read_write(busybox: str, no_leaks: None, no_cgroups_left: None) -> None:
    ns = attrs.evolve(lc.Namespaces.default(), cgroup=False)
    *_, mounts, writes = _cgroup_view(busybox, ns, lc.Mount.cgroup(readonly=False))
    assert all(m[2].startswith("rw,") for m in mounts) and "Read-only" not in writes
    assert "pids.max" not in writes  # the container may lower its own pids.max


def test_cgroup_mount_on_a_cgroup2_only_layout(
    busybox: str, monkeypatch, no_leaks: None, no_cgroups_left: None
) -> None:
    """Seen as a cgroup2-only host: a cgroup2 mount (rooted at the container's
    cgroup in its cgroup namespace), or in a user namespace without one a
    bind of the container's cgroup2 directory."""
    import libcontainer_py.popen as popen
    from libcontainer_py.cgroups import detect

    v2_only = detect().only(())
    monkeypatch.setattr(popen, "detect", lambda: v2_only)
    script = "cat /sys/fs/cgroup/cgroup.procs; grep ' /sys/fs/cgroup ' /proc/self/mountinfo"
    for userns, cgroupns, kind in ((False, True, "cgroup2"), (True, False, "cgroup2"), (False, False, "cgroup2")):
        ns = attrs.evolve(lc.Namespaces.default(), user=userns, cgroup=cgroupns)
        ids = {}
        if userns:
            ids = MAPPED_IDS
        config = lc.Config(
            rootfs=busybox,
            namespaces=ns,
            cgroup=lc.CgroupConfig(accounting=False),
            process=lc.Process(args=["sh", "-c", script]),
            **ids,
        )
        r = lc.run(config=config, capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r
        *procs, line = r.stdout.splitlines()
        fields = line.split()
        assert fields[fields.index("-") + 1] == kind and fields[5].startswith("ro,"), line
        if cgroupns:
            assert fields[3] == "/"  # the namespace's root: the container's cgroup
        elif userns:
            assert fields[3] == f"/libcontainer_py/{r.container_id}"  # bound, not mounted
        else:
            assert fields[3] == "/"  # the whole hierarchy, as runc mounts it
        assert ("1" in procs) == (cgroupns or userns)  # its own cgroup, or the hierarchy's root


def test_default_containers_share_one_device_program(busybox: str, no_cgroups_left: None) -> None:
    """The default rules are verified by the kernel once per process: two
    default containers have the same program attached, and it filters both."""
    from libcontainer_py.cgroups import bpf_devices, detect

    unified = detect().unified
    assert unified is not None
    script = "read x; mknod /dev/k c 1 11; echo x > /dev/k; echo kmsg=$?; echo x > /dev/null; echo null=$?"
    config = lc.Config(rootfs=busybox, process=lc.Process(args=["sh", "-c", script]))
    programs, outputs, enabled = [], [], []
    with (
        lc.ContainerProcess(config, stdin=lc.PIPE, stdout=lc.PIPE) as a,
        lc.ContainerProcess(config, stdin=lc.PIPE, stdout=lc.PIPE) as b,
    ):
        for proc in (a, b):
            d = unified.dir(f"libcontainer_py/{proc.container_id}")
            with open(os.path.join(d, "cgroup.controllers")) as f:
                enabled.append(f.read().split())
            fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
            try:
                programs.append(bpf_devices.attached_ids(fd, d))
            finally:
                os.close(fd)
        for proc in (a, b):
            outputs.append(proc.communicate(b"\n", timeout=10)[0].split())
    assert len(programs[0]) == 1 and programs[0] == programs[1]
    assert outputs == [[b"kmsg=1", b"null=0"]] * 2
    # without accounting, device rules need no cgroup2 controller: none is enabled
    assert enabled == [[], []]


def test_a_cgroup_without_accounting_refuses_a_limit_it_was_not_made_with(busybox: str, no_cgroups_left: None) -> None:
    """A default cgroup (device rules, no accounting) joined no memory
    hierarchy and enabled no memory controller: a memory limit added later
    is refused, saying why and what to do (the host has the controller)."""
    from libcontainer_py.cgroups import CgroupUnsupported

    config = lc.Config(rootfs=busybox, process=lc.Process(args=["sh", "-c", "read x"]))
    with lc.ContainerProcess(config, stdin=lc.PIPE) as proc:
        assert proc.cgroup is not None
        with pytest.raises(CgroupUnsupported, match=r"made without the memory controller.*accounting=True"):
            proc.cgroup.update(lc.Memory(max="64M"))
        proc.communicate(b"\n", timeout=10)
    assert proc.returncode == 0
