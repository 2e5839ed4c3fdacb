"""Cgroup managers on this machine's real hierarchies (hybrid: v1 controllers + a cgroup2 mount).

Every test checks what the kernel shows (cgroup files, process states, errno
of a real open) and that no libcontainer_py/<id> directory is left behind.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Dict, Iterator, List, Optional

import attrs
import pytest
from support.configs import issue_example_cgroup

from libcontainer_py.cgroups import (
    CgroupConfig,
    CgroupUnsupported,
    Cpu,
    DeviceRule,
    Devices,
    Fs1Manager,
    Fs2Manager,
    HybridManager,
    Manager,
    Memory,
    Pids,
    detect,
    new_manager,
)

LAYOUT = detect()
PARENT = "libcontainer_py"


@contextlib.contextmanager
def created(path: str, config: Optional[CgroupConfig] = None) -> Iterator[Manager]:
    """A new cgroup manager of ``path``, created (with ``config`` applied), destroyed at the end."""
    m = new_manager(path)
    m.create()
    try:
        if config is not None:
            m.apply(config)
        yield m
    finally:
        m.destroy()


def hierarchy_roots() -> List[str]:
    return [h.mountpoint for h in LAYOUT.v1] + ([LAYOUT.unified.mountpoint] if LAYOUT.unified else [])


def our_dirs() -> Dict[str, List[str]]:
    """Directories under <hierarchy>/libcontainer_py, per hierarchy."""
    out = {}
    for root in hierarchy_roots():
        d = os.path.join(root, PARENT)
        out[root] = sorted(os.listdir(d)) if os.path.isdir(d) else []
        out[root] = [x for x in out[root] if os.path.isdir(os.path.join(d, x))]
    return out


@pytest.fixture
def cid() -> Iterator[str]:
    """A fresh container id; afterwards no directory of it may remain anywhere."""
    name = "t" + uuid.uuid4().hex[:12]
    yield name
    leftovers = [r for r, names in our_dirs().items() if name in names]
    assert not leftovers, f"cgroup {name} left in {leftovers}"


def gated(code: str) -> subprocess.Popen:
    """A python process that runs ``code`` once it reads a line (after it was moved)."""
    return subprocess.Popen(
        [sys.executable, "-c", "import sys\nsys.stdin.readline()\n" + code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read(path: str) -> str:
    with open(path) as f:
        return f.read()


OPEN_CODE = """
import json, os
r = {}
for p in sys.argv[1:]:
    try:
        os.close(os.open(p, os.O_RDONLY))
        r[p] = 0
    except OSError as e:
        r[p] = e.errno
print(json.dumps(r))
"""


def open_results(m: object, paths: List[str]) -> Dict[str, int]:
    p = subprocess.Popen(
        [sys.executable, "-c", "import sys\nsys.stdin.readline()\n" + OPEN_CODE, *paths],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    m.add(p.pid)  # type: ignore[attr-defined]
    out, _ = p.communicate("go\n", timeout=30)
    assert p.returncode == 0
    result: Dict[str, int] = json.loads(out)
    return result


@pytest.fixture
def nodes() -> Iterator[Dict[str, str]]:
    """Device nodes in a temp dir: mynull (1:3), myzero (1:5), mykmsg (1:11)."""
    with tempfile.TemporaryDirectory() as d:
        out = {}
        for name, minor in (("mynull", 3), ("myzero", 5), ("mykmsg", 11)):
            path = os.path.join(d, name)
            os.mknod(path, 0o600 | 0o020000, os.makedev(1, minor))
            out[name] = path
        yield out


def test_this_host_is_hybrid_and_we_stay_beside_our_memory_cgroup() -> None:
    assert LAYOUT.kind == "hybrid"
    mem = LAYOUT.v1_for("memory")
    assert mem is not None and mem.own != "/"
    m = new_manager("libcontainer_py/x")
    assert isinstance(m, HybridManager)
    with pytest.raises(Exception, match="own cgroup"):
        new_manager(mem.own.strip("/"))
    with pytest.raises(Exception, match="own cgroup"):
        new_manager(mem.own.strip("/") + "/inside")


#: blkio's weight file: CFQ's (before Linux 5.0) or BFQ's; a kernel built
#: without BFQ has neither, and no io weight on cgroup v1.
BLKIO_WEIGHT_FILES = ("/sys/fs/cgroup/blkio/blkio.weight", "/sys/fs/cgroup/blkio/blkio.bfq.weight")


def test_hybrid_lifecycle(cid: str) -> None:
    cfg = issue_example_cgroup()
    if not any(os.path.exists(f) for f in BLKIO_WEIGHT_FILES):
        # The manager refuses the weight by name, before writing anything.
        with pytest.raises(CgroupUnsupported, match=r"io weight: neither blkio\.weight nor blkio\.bfq\.weight"):
            with created(cfg.resolved_path(cid), cfg):
                pass
        assert not any(os.path.exists(os.path.join(root, PARENT, cid)) for root in hierarchy_roots())
        assert cfg.io is not None
        cfg = attrs.evolve(cfg, io=attrs.evolve(cfg.io, weight=None))
    with created(cfg.resolved_path(cid), cfg) as m:
        mem = f"/sys/fs/cgroup/memory/{PARENT}/{cid}"
        assert int(read(f"{mem}/memory.limit_in_bytes")) == 64 << 20
        assert int(read(f"{mem}/memory.memsw.limit_in_bytes")) == 128 << 20
        assert int(read(f"{mem}/memory.soft_limit_in_bytes")) == 32 << 20
        assert read(f"/sys/fs/cgroup/cpu/{PARENT}/{cid}/cpu.shares").strip() == "1287"
        assert read(f"/sys/fs/cgroup/cpu/{PARENT}/{cid}/cpu.cfs_quota_us").strip() == "50000"
        assert read(f"/sys/fs/cgroup/cpuset/{PARENT}/{cid}/cpuset.cpus").strip() == "0"
        assert read(f"/sys/fs/cgroup/pids/{PARENT}/{cid}/pids.max").strip() == "32"
        assert read(f"/sys/fs/cgroup/blkio/{PARENT}/{cid}/blkio.throttle.read_bps_device").split() == [
            "254:0",
            str(10 << 20),
        ]
        assert read(f"/sys/fs/cgroup/unified/{PARENT}/{cid}/hugetlb.2MB.max").strip() == "0"
        assert "c 136:* rwm" in read(f"/sys/fs/cgroup/devices/{PARENT}/{cid}/devices.list").splitlines()

        counter = tempfile.NamedTemporaryFile(delete=False)
        counter.close()
        p = gated(f"import time\nwhile True:\n    open({counter.name!r}, 'a').write('x')\n    time.sleep(0.005)\n")
        try:
            m.add(p.pid)
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
            for d in m.dirs():  # type: ignore[attr-defined]
                assert str(p.pid) in read(f"{d}/cgroup.procs").split()
            assert m.pids() == [p.pid]
            assert [q.pid for q in m.processes()] == [p.pid]
            time.sleep(0.2)
            st = m.stats()
            assert st.memory is not None and 0 < st.memory.usage and st.memory.limit == 64 << 20
            assert st.pids is not None and st.pids.current == 1 and st.pids.limit == 32
            assert st.cpu is not None and st.cpu.usage_ns > 0 and st.cpu.per_cpu_ns is not None
            assert st.hugetlb["2MB"].limit == 0

            m.freeze()
            assert m.paused()
            assert "frozen 1" in read(f"/sys/fs/cgroup/unified/{PARENT}/{cid}/cgroup.events")
            size = os.path.getsize(counter.name)
            time.sleep(0.3)
            assert os.path.getsize(counter.name) == size, "a frozen process went on writing"
            m.thaw()
            assert not m.paused()
            time.sleep(0.3)
            assert os.path.getsize(counter.name) > size

            m.update(Memory(max="128M"))
            assert int(read(f"{mem}/memory.limit_in_bytes")) == 128 << 20
            assert int(read(f"{mem}/memory.memsw.limit_in_bytes")) == 192 << 20  # the 64M swap is kept

            m.kill()
            assert p.wait(timeout=10) == -signal.SIGKILL
            assert m.pids() == []
        finally:
            p.kill()
            p.wait()
            p.stdin.close()  # type: ignore[union-attr]
            p.stdout.close()  # type: ignore[union-attr]
            p.stderr.close()  # type: ignore[union-attr]
            os.unlink(counter.name)
    assert not m.exists()


def test_destroy_kills_what_is_left(cid: str) -> None:
    m = new_manager(f"{PARENT}/{cid}")
    m.create()
    p = subprocess.Popen(["sleep", "100"])
    try:
        m.add(p.pid)
        m.freeze()
        m.destroy()  # frozen and populated: killed, then removed
        assert p.wait(timeout=10) == -signal.SIGKILL
    finally:
        p.kill()
        p.wait()
    assert not m.exists()
    m.destroy()


def test_v1_manager_freezer_and_signal_kill(cid: str) -> None:
    m = Fs1Manager(f"{PARENT}/{cid}", LAYOUT)
    assert m.clone_fd() is None
    m.create()
    p = subprocess.Popen(["sleep", "100"])
    try:
        m.add(p.pid)
        assert (
            str(p.pid) not in read(f"/sys/fs/cgroup/unified/{PARENT}/cgroup.procs")
            if os.path.exists(f"/sys/fs/cgroup/unified/{PARENT}")
            else True
        )
        m.freeze()
        assert read(f"/sys/fs/cgroup/freezer/{PARENT}/{cid}/freezer.state").strip() == "FROZEN"
        assert m.paused()
        m.thaw()
        assert read(f"/sys/fs/cgroup/freezer/{PARENT}/{cid}/freezer.state").strip() == "THAWED"
        m.freeze()
        m.kill()  # SIGKILL, thaw, wait until empty
        assert p.wait(timeout=10) == -signal.SIGKILL
    finally:
        p.kill()
        p.wait()
        m.destroy()


def test_v2_manager_on_the_real_cgroup2_mount(cid: str) -> None:
    m = Fs2Manager(f"{PARENT}/{cid}", LAYOUT)
    d = f"/sys/fs/cgroup/unified/{PARENT}/{cid}"
    m.create()
    p = subprocess.Popen(["sleep", "100"])
    try:
        assert "hugetlb" in read(f"{d}/cgroup.controllers").split()
        m.update(CgroupConfig(hugetlb={"2MB": "4M"}).hugetlb)  # type: ignore[arg-type]
        assert read(f"{d}/hugetlb.2MB.max").strip() == str(4 << 20)
        assert m.stats().hugetlb["2MB"].limit == 4 << 20
        fd = m.clone_fd()
        assert fd is not None
        try:
            assert os.readlink(f"/proc/self/fd/{fd}") == d
        finally:
            os.close(fd)
        m.add(p.pid)
        assert read(f"{d}/cgroup.procs").split() == [str(p.pid)]
        assert "populated 1" in read(f"{d}/cgroup.events")
        m.freeze()
        assert "frozen 1" in read(f"{d}/cgroup.events") and m.paused()
        assert read(f"/proc/{p.pid}/cgroup").count(f"/{PARENT}/{cid}") == 1  # v1 hierarchies untouched
        m.thaw()
        assert not m.paused()
        with pytest.raises(Exception, match="memory controller"):
            m.update(Memory(max="1G"))  # no memory controller on this cgroup2 mount: refused
        m.kill()
        assert p.wait(timeout=10) == -signal.SIGKILL
        assert "populated 0" in read(f"{d}/cgroup.events")
    finally:
        p.kill()
        p.wait()
        m.destroy()


def test_ebpf_device_program(cid: str, nodes: Dict[str, str]) -> None:
    m = Fs2Manager(f"{PARENT}/{cid}", LAYOUT)
    m.create()
    try:
        paths = [nodes["mynull"], nodes["myzero"], nodes["mykmsg"]]
        assert open_results(m, paths) == dict.fromkeys(paths, 0)  # no program yet: every node opens
        m.update(Devices((DeviceRule(False), DeviceRule.char(1, 5))))
        assert open_results(m, paths) == {paths[0]: errno.EPERM, paths[1]: 0, paths[2]: errno.EPERM}
        m.update(Devices.default())  # replaces the program (the old one is detached)
        assert open_results(m, paths) == {paths[0]: 0, paths[1]: 0, paths[2]: errno.EPERM}
        from libcontainer_py.cgroups import bpf_devices

        fd = os.open(f"/sys/fs/cgroup/unified/{PARENT}/{cid}", os.O_RDONLY | os.O_DIRECTORY)
        try:
            assert len(bpf_devices.attached_ids(fd, "x")) == 1
        finally:
            os.close(fd)
    finally:
        m.destroy()


def test_v1_device_rules(cid: str, nodes: Dict[str, str]) -> None:
    with created(f"{PARENT}/{cid}") as m:
        m.update(Devices.default())
        r = open_results(m, [nodes["mynull"], nodes["mykmsg"]])
        assert r == {nodes["mynull"]: 0, nodes["mykmsg"]: errno.EPERM}


def test_memory_limit_oom_kills_a_hog(cid: str) -> None:
    with created(f"{PARENT}/{cid}", CgroupConfig(memory=Memory(max="64M", swap_max=0))) as m:
        m.poll_events()
        p = gated("b = b'x' * (200 * 2**20)\nprint('survived')\n")
        m.add(p.pid)
        out, _ = p.communicate("go\n", timeout=60)
        assert p.returncode == -signal.SIGKILL and "survived" not in out
        assert m.oom_kills() >= 1
        st = m.stats().memory
        # The peak reached the limit and no further (this kernel keeps v1 failcnt at 0).
        assert st is not None and st.peak == 64 << 20 and st.oom_kills == m.oom_kills()
        assert next(e for e in m.poll_events() if e.kind == "oom_kill").count >= 1


def test_events_stream_reports_an_oom_as_it_happens(cid: str) -> None:
    with created(f"{PARENT}/{cid}", CgroupConfig(memory=Memory(max="32M", swap_max=0))) as m:
        p = gated("import time\ntime.sleep(0.3)\nb = b'x' * (100 * 2**20)\n")
        try:
            m.add(p.pid)
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
            events = list(m.events(interval=0.02, timeout=30))
            p.wait(timeout=30)
            assert any(e.kind == "oom_kill" and e.count >= 1 for e in events), events
        finally:
            p.kill()
            p.communicate()


FORKS = """
import os, time
ok = failed = 0
for i in range(100):
    try:
        pid = os.fork()
    except OSError:
        failed += 1
        continue
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    ok += 1
print(ok, failed, flush=True)
time.sleep(30)
"""


def test_pids_max_stops_a_fork_storm(cid: str) -> None:
    with created(f"{PARENT}/{cid}", CgroupConfig(pids=Pids(max=32))) as m:
        m.poll_events()
        p = gated(FORKS)
        try:
            m.add(p.pid)
            assert p.stdout is not None and p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
            ok, failed = (int(x) for x in p.stdout.readline().split())
            assert (ok, failed) == (31, 69)  # 32 tasks: the parent and 31 children
            st = m.stats().pids
            assert st is not None and st.current == 32 and st.limit == 32
            assert len(m.pids()) == 32
            assert next(e for e in m.poll_events() if e.kind == "pids_max").count >= 69
            m.kill()
            p.wait(timeout=10)
            assert m.pids() == []
        finally:
            p.kill()
            p.communicate()


def test_200_create_destroy_cycles_leave_nothing() -> None:
    before = our_dirs()
    cfg = CgroupConfig(memory=Memory(max="64M"), pids=Pids(max=16), cpu=Cpu(weight=10), hugetlb={"2MB": 0})
    base = "c" + uuid.uuid4().hex[:8]
    for i in range(200):
        m = new_manager(cfg.resolved_path(f"{base}-{i}"))
        m.create()
        m.apply(cfg)
        if i % 20 == 0:
            p = subprocess.Popen(["sleep", "30"])
            m.add(p.pid)
            m.destroy()
            assert p.wait(timeout=10) == -signal.SIGKILL
        else:
            m.destroy()
    assert our_dirs() == before
    for root in hierarchy_roots():
        assert not any(n.startswith(base) for n in os.listdir(root))
