"""Cgroup settings that depend on what the kernel offers, on this host's real
hierarchies: real-time CPU time (cpu.rt_*), per-device BFQ weights, cpuset
ancestors made by someone else (a pod's cgroup), and cgroups that exist
before the container (joined, never removed by us)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import uuid
from typing import Iterator, List

import pytest

import libcontainer_py as lc
from libcontainer_py.cgroups import IO, CgroupConfig, CgroupUnsupported, Cpu, Fs2Manager, detect, new_manager

LAYOUT = detect()

FIFO_CODE = """
import os, sys
sys.stdin.readline()
try:
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
    print(0)
except OSError as e:
    print(e.errno)
"""


def read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def sched_fifo_errno(m: object) -> int:
    """0 if a process placed in the cgroup can switch to SCHED_FIFO, else the errno."""
    p = subprocess.Popen([sys.executable, "-c", FIFO_CODE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    m.add(p.pid)  # type: ignore[attr-defined]
    out, _ = p.communicate("go\n", timeout=30)
    return int(out)


def remove_tree(paths: List[str]) -> None:
    """rmdir ``paths`` (deepest first) where they still exist."""
    for d in sorted(paths, key=lambda p: -p.count("/")):
        if os.path.isdir(d):
            os.rmdir(d)


@pytest.fixture
def top() -> Iterator[str]:
    """A fresh cgroup name at the root of every hierarchy (the real-time
    budget is the root's: libcontainer_py/ has none); removed afterwards."""
    name = "lcpy-t" + uuid.uuid4().hex[:10]
    yield name
    left = [h.dir(name) for h in [*LAYOUT.v1, LAYOUT.unified] if h is not None and os.path.isdir(h.dir(name))]
    remove_tree(left)
    assert not left, f"cgroup {name} left in {left}"


def test_realtime_runtime_lets_the_cgroup_use_sched_fifo(top: str) -> None:
    cpu = f"/sys/fs/cgroup/cpu/{top}"
    m = new_manager(top)
    m.create()
    try:
        assert read(f"{cpu}/cpu.rt_runtime_us") == "0"
        assert sched_fifo_errno(m) == errno.EPERM  # no real-time budget: the kernel refuses
        m.apply(CgroupConfig(path=top, cpu=Cpu(rt_period_us=500_000, rt_runtime_us=5_000), devices=None))
        assert (read(f"{cpu}/cpu.rt_period_us"), read(f"{cpu}/cpu.rt_runtime_us")) == ("500000", "5000")
        assert sched_fifo_errno(m) == 0
        # A period below the present runtime is refused until the runtime shrinks: written after it, as runc does.
        m.update(Cpu(rt_period_us=4_000, rt_runtime_us=2_000))
        assert (read(f"{cpu}/cpu.rt_period_us"), read(f"{cpu}/cpu.rt_runtime_us")) == ("4000", "2000")
        with pytest.raises(lc.CgroupError) as e:
            m.update(Cpu(rt_period_us=1_000))  # below the runtime, and no runtime to write first
        assert e.value.errno == errno.EINVAL and e.value.path == f"{cpu}/cpu.rt_period_us"
    finally:
        m.destroy()


def test_realtime_runtime_beyond_the_parents_budget_is_the_kernels_einval() -> None:
    """Under libcontainer_py/ (no real-time budget of its own), as under runc's parents."""
    config = lc.Config(cgroup=CgroupConfig(cpu=Cpu(rt_runtime_us=1_000)), process=lc.Process(args=["true"]))
    with pytest.raises(lc.CgroupError) as e:
        lc.run(config=config)
    assert e.value.errno == errno.EINVAL and e.value.path is not None
    assert e.value.path.endswith("/cpu.rt_runtime_us")


def test_realtime_on_cgroup2_is_refused_by_name(top: str) -> None:
    m = Fs2Manager(top, LAYOUT)
    with pytest.raises(CgroupUnsupported, match="real-time group scheduling is cgroup v1 only"):
        m.update(Cpu(rt_runtime_us=1_000))
    assert not m.exists()


#: Present when the kernel has the bfq scheduler (built in or loaded); some
#: kernels have none (CONFIG_IOSCHED_BFQ unset), and so no per-device weights.
BFQ_WEIGHT_DEVICE = "/sys/fs/cgroup/blkio/blkio.bfq.weight_device"


@pytest.fixture
def bfq_loop(tmp_path: object) -> Iterator[str]:
    """A loop device of our own, with the bfq scheduler where the kernel has it."""
    image = os.path.join(str(tmp_path), "disk")
    with open(image, "wb") as f:
        f.truncate(16 << 20)
    dev = subprocess.run(["losetup", "-f", "--show", image], capture_output=True, text=True, check=True).stdout.strip()
    try:
        if os.path.exists(BFQ_WEIGHT_DEVICE):
            with open(f"/sys/block/{os.path.basename(dev)}/queue/scheduler", "w") as f:
                f.write("bfq")
        yield dev
    finally:
        subprocess.run(["losetup", "-d", dev], check=True)


def test_per_device_bfq_weight(top: str, bfq_loop: str) -> None:
    """Written to blkio.bfq.weight_device; on a kernel without bfq the
    weight has no file to go to, which the manager says before it writes
    anything (CgroupUnsupported naming both files)."""
    st = os.stat(bfq_loop)
    m = new_manager(top)
    m.create()
    try:
        config = CgroupConfig(path=top, io=IO(device_weights={bfq_loop: 300}), devices=None)
        if not os.path.exists(BFQ_WEIGHT_DEVICE):
            with pytest.raises(CgroupUnsupported, match=r"neither blkio\.weight_device nor blkio\.bfq\.weight_device"):
                m.apply(config)
            return
        m.apply(config)
        lines = read(f"/sys/fs/cgroup/blkio/{top}/blkio.bfq.weight_device").splitlines()
        assert f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)} 300" in lines
    finally:
        m.destroy()


def test_per_device_weight_without_bfq_names_the_file(top: str) -> None:
    """/dev/vda uses mq-deadline here: the kernel says EOPNOTSUPP (on a
    kernel with no bfq at all, there is no file to name: see above)."""
    assert "[bfq]" not in read("/sys/block/vda/queue/scheduler")
    m = new_manager(top)
    m.create()
    try:
        if not os.path.exists(BFQ_WEIGHT_DEVICE):
            with pytest.raises(CgroupUnsupported, match=r"neither blkio\.weight_device nor blkio\.bfq\.weight_device"):
                m.update(IO(device_weights={"/dev/vda": 300}))
            return
        with pytest.raises(CgroupUnsupported, match="need the bfq I/O scheduler") as e:
            m.update(IO(device_weights={"/dev/vda": 300}))
        assert e.value.path == f"/sys/fs/cgroup/blkio/{top}/blkio.bfq.weight_device"
        assert e.value.errno == errno.EOPNOTSUPP and e.value.value == "254:0 300"
    finally:
        m.destroy()


def test_per_device_weight_on_cgroup2_without_io_names_the_file(top: str) -> None:
    m = Fs2Manager(top, LAYOUT)
    with pytest.raises(CgroupUnsupported, match=r"io controller is not available.*io\.bfq\.weight"):
        m.update(IO(device_weights={"254:0": 300}))


def test_a_pod_style_path_whose_cpuset_parents_are_empty(busybox: str, top: str) -> None:
    """A kubelet makes kubepods/besteffort/pod<uid> and leaves its cpuset
    cpus and mems empty; a container below it must still start (v1 refuses
    a task in an empty cpuset: ENOSPC), with the parents filled in."""
    pod = f"{top}/kubepods/besteffort/pod{uuid.uuid4().hex[:8]}"
    made = [f"/sys/fs/cgroup/cpuset/{top}", *(f"/sys/fs/cgroup/cpuset/{pod.rsplit('/', i)[0]}" for i in (2, 1, 0))]
    for d in made:
        os.mkdir(d)
    try:
        assert read(f"{made[-1]}/cpuset.cpus") == "" and read(f"{made[-1]}/cpuset.mems") == ""
        config = lc.Config(
            rootfs=busybox,
            cgroup=CgroupConfig(path=f"{pod}/c1"),
            process=lc.Process(
                args=["sh", "-c", "grep cpuset /proc/self/cgroup; grep Cpus_allowed_list /proc/self/status"]
            ),
        )
        r = lc.run(config=config, capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert r.stdout.split("\n")[1].split() == ["Cpus_allowed_list:", read("/sys/fs/cgroup/cpuset/cpuset.cpus")]
        for d in made:
            assert read(f"{d}/cpuset.cpus") == read("/sys/fs/cgroup/cpuset/cpuset.cpus"), d
            assert read(f"{d}/cpuset.mems") == read("/sys/fs/cgroup/cpuset/cpuset.mems"), d
        assert all(os.path.isdir(d) for d in made)  # the pod's cgroups are not ours to remove
    finally:
        remove_tree(made)


def hierarchy_dirs(name: str) -> List[str]:
    return [h.dir(name) for h in [*LAYOUT.v1, LAYOUT.unified] if h is not None]


def make_beforehand(name: str) -> None:
    """mkdir cgroup ``name`` in every hierarchy, as another manager would (cpuset filled in)."""
    for d in hierarchy_dirs(name):
        os.mkdir(d)
        if d.startswith("/sys/fs/cgroup/cpuset/"):
            for f in ("cpuset.cpus", "cpuset.mems"):
                with open(f"{d}/{f}", "w") as out:
                    out.write(read(f"/sys/fs/cgroup/cpuset/{f}"))


@pytest.fixture
def occupied(top: str) -> Iterator[subprocess.Popen]:
    """cgroup ``top`` made beforehand in every hierarchy, with a process of someone else's in it."""
    make_beforehand(top)
    other = subprocess.Popen(["sleep", "300"])
    try:
        for d in hierarchy_dirs(top):
            with open(f"{d}/cgroup.procs", "w") as f:
                f.write(str(other.pid))
        yield other
    finally:
        other.kill()
        other.wait()
        remove_tree(hierarchy_dirs(top))


def test_an_occupied_cgroup_is_joined_with_a_warning_and_left_as_it_was(
    busybox: str, top: str, occupied: subprocess.Popen, no_leaks: None
) -> None:
    config = lc.Config(
        rootfs=busybox,
        cgroup=CgroupConfig(path=top, pids=lc.Pids(max=50)),
        process=lc.Process(args=["sh", "-c", "read x"]),
    )
    with pytest.warns(lc.CgroupWarning, match=f"cgroup '{top}' exists already .*; 1 processes in it"):
        proc = lc.ContainerProcess(config, stdin=lc.PIPE, text=True)
    with proc:
        for d in hierarchy_dirs(top):
            assert {str(proc.pid), str(occupied.pid)} <= set(read(f"{d}/cgroup.procs").split()), d
        assert read(f"/sys/fs/cgroup/pids/{top}/pids.max") == "50"
        proc.communicate("\n", timeout=30)
    assert all(os.path.isdir(d) for d in hierarchy_dirs(top))
    assert occupied.poll() is None  # the other process lives on, in its cgroup
    assert read(f"/sys/fs/cgroup/memory/{top}/cgroup.procs").split() == [str(occupied.pid)]


def test_a_joined_cgroup_outlives_a_recorded_container(
    busybox: str, top: str, occupied: subprocess.Popen, tmp_path: object
) -> None:
    """Container.load(...).destroy() in another object reads 'joined' from the record."""
    config = lc.Config(rootfs=busybox, cgroup=CgroupConfig(path=top), process=lc.Process(args=["sleep", "60"]))
    root = os.path.join(str(tmp_path), "state")
    with pytest.warns(lc.CgroupWarning):
        c = lc.Container.create("joiner", config, root=root)
    try:
        c.start()
        loaded = lc.Container.load("joiner", root=root)
        assert loaded.stored_state.cgroup_joined
        loaded.destroy()
        assert c.wait(10) == -9
    finally:
        c.destroy()
    assert all(os.path.isdir(d) for d in hierarchy_dirs(top)) and occupied.poll() is None


def test_a_made_beforehand_cgroup_through_the_command_line_beside_runc(
    busybox: str, top: str, tmp_path: object
) -> None:
    """Both join an empty cgroup made beforehand; runc removes it afterwards,
    we leave it (docs/decisions.md), and warn."""
    from pathlib import Path

    from support.oci import call, spec_bundle

    bundle, ours = spec_bundle(Path(str(tmp_path)), {"args": ["cat", "/proc/self/cgroup"]}, {"cgroupsPath": "/" + top})
    runc = ["runc", "--root", str(Path(str(tmp_path)) / "runc")]
    seen = {}
    for name, cli in (("ours", ours), ("runc", runc)):
        make_beforehand(top)
        status, out = call([*cli, "run", "-b", str(bundle), f"{top}-{name}"])
        assert status == 0, out
        seen[name] = (
            sorted(line.split(":", 2)[2] for line in out.splitlines() if line[:1].isdigit() and "net_cls" not in line),
            [os.path.isdir(d) for d in hierarchy_dirs(top)],
            "exists already" in out,
        )
        remove_tree([d for d in hierarchy_dirs(top) if os.path.isdir(d)])
    assert seen["ours"][0] == seen["runc"][0], seen
    assert set(seen["ours"][0]) == {"/" + top}, seen  # no cgroup namespace in the spec: the host's paths
    assert seen["ours"][1:] == ([True] * len(hierarchy_dirs(top)), True)
    assert seen["runc"][1:] == ([False] * len(hierarchy_dirs(top)), False)


def run_beside_runc(tmp_path: object, top: str, resources: dict, files: List[str]) -> dict:
    """``run`` of one bundle (cgroupsPath /<top>/<runtime>) by us and by runc:
    status and what the container read in its cgroup mount."""
    from pathlib import Path

    from support.oci import call, spec_bundle

    script = "; ".join(f"cat /sys/fs/cgroup/{f}" for f in files)
    bundle, ours = spec_bundle(Path(str(tmp_path)), {"args": ["sh", "-c", script]}, {"resources": resources})
    runc = ["runc", "--root", str(Path(str(tmp_path)) / "runc")]
    seen = {}
    for name, cli in (("ours", ours), ("runc", runc)):
        doc = json.loads((bundle / "config.json").read_text())
        doc["linux"]["cgroupsPath"] = f"/{top}-{name}"
        (bundle / "config.json").write_text(json.dumps(doc))
        status, out = call([*cli, "run", "-b", str(bundle), f"{top}-{name}"])
        seen[name] = (status, out.split() if status == 0 else out)
        assert not any(os.path.isdir(d) for d in hierarchy_dirs(f"{top}-{name}")), name
    return seen


def test_realtime_through_the_command_line_beside_runc(top: str, tmp_path: object) -> None:
    cpu = {"realtimePeriod": 500_000, "realtimeRuntime": 5_000}
    seen = run_beside_runc(tmp_path, top, {"cpu": cpu}, ["cpu/cpu.rt_period_us", "cpu/cpu.rt_runtime_us"])
    assert seen["ours"] == seen["runc"] == (0, ["500000", "5000"]), seen


def test_per_device_weight_through_the_command_line_beside_runc(top: str, tmp_path: object, bfq_loop: str) -> None:
    st = os.stat(bfq_loop)
    dev = {"major": os.major(st.st_rdev), "minor": os.minor(st.st_rdev), "weight": 300}
    seen = run_beside_runc(tmp_path, top, {"blockIO": {"weightDevice": [dev]}}, ["blkio/blkio.bfq.weight_device"])
    if not os.path.exists(BFQ_WEIGHT_DEVICE):
        # No bfq in this kernel: both refuse the run (and leave no cgroup),
        # runc when it opens the missing file, ours before it makes one.
        assert seen["ours"][0] == seen["runc"][0] == 1, seen
        assert "neither blkio.weight_device nor blkio.bfq.weight_device" in seen["ours"][1], seen
        assert "blkio.bfq.weight_device" in seen["runc"][1], seen
        return
    assert seen["ours"] == seen["runc"], seen
    assert seen["ours"] == (0, ["default", "100", f"{dev['major']}:{dev['minor']}", "300"]), seen
