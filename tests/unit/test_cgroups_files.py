"""The v1/v2 file values of every resource, and the manager on a fake file system (no root)."""

from __future__ import annotations

import errno
import posixpath
import warnings
from typing import Dict, List, Optional, Set, Tuple

import pytest

from libcontainer_py import ConfigError
from libcontainer_py.cgroups import (
    IO,
    CgroupConfig,
    CgroupError,
    CgroupUnsupported,
    CgroupWarning,
    Cpu,
    DeviceRule,
    Devices,
    Hugetlb,
    HybridManager,
    Memory,
    Network,
    Pids,
    bpf_devices,
    fs1,
    fs2,
    parse_layout,
)

GB = 1 << 30
MB = 1 << 20


def test_network_realtime_and_device_weight_writes() -> None:
    n = Network(class_id=0x100001, priorities={"lo": 7, "eth0": 0})
    assert fs1.network_writes(n) == [
        ("net_cls", "net_cls.classid", "1048577"),
        ("net_prio", "net_prio.ifpriomap", "lo 7"),
        ("net_prio", "net_prio.ifpriomap", "eth0 0"),
    ]
    rt = Cpu(rt_period_us=1_000_000, rt_runtime_us="max")
    assert fs1.cpu_writes(rt) == [("cpu", "cpu.rt_period_us", "1000000"), ("cpu", "cpu.rt_runtime_us", "-1")]
    with pytest.raises(CgroupUnsupported, match=r"cpu\.rt_period_us/cpu\.rt_runtime_us have no cgroup v2"):
        fs2.cpu_writes(rt)
    io = IO(device_weights={"7:0": 300})
    same = lambda d: d  # noqa: E731
    assert fs1.io_writes(io, weight_file=None, weight_device_file="blkio.bfq.weight_device", resolve=same) == [
        ("blkio", "blkio.bfq.weight_device", "7:0 300")
    ]
    with pytest.raises(CgroupUnsupported, match=r"blkio\.bfq\.weight_device exists"):
        fs1.io_writes(io, weight_file=None, resolve=same)
    assert fs2.io_writes(io, resolve=same) == [("io", "io.bfq.weight", "7:0 300")]


@pytest.mark.parametrize(
    "field, value",
    [
        ("class_id", 2**32),
        ("class_id", "1"),
        ("priorities", {"a/b": 1}),
        ("priorities", {"eth0": -1}),
        ("priorities", ["eth0"]),
    ],
)
def test_network_refusals(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=f"network.{field}"):
        Network(**{field: value})  # type: ignore[arg-type]


def test_v1_memory_values_and_order() -> None:
    m = Memory(max="64M", swap_max="64M", reservation="32M", swappiness=10)
    w = fs1.memory_writes(m, current_limit=None, current_memsw=None, has_memsw=True)
    # From no limit: the limit (below the present memsw) first, then memsw = memory + swap.
    assert w == [
        ("memory", "memory.limit_in_bytes", str(64 * MB)),
        ("memory", "memory.memsw.limit_in_bytes", str(128 * MB)),
        ("memory", "memory.soft_limit_in_bytes", str(32 * MB)),
        ("memory", "memory.swappiness", "10"),
    ]
    # Lowering: the limit goes first.
    w = fs1.memory_writes(Memory(max="32M", swap_max=0), current_limit=64 * MB, current_memsw=128 * MB, has_memsw=True)
    assert w == [
        ("memory", "memory.limit_in_bytes", str(32 * MB)),
        ("memory", "memory.memsw.limit_in_bytes", str(32 * MB)),
    ]
    # Only max changes: the swap allowance (memsw - limit = 64M) is kept.
    w = fs1.memory_writes(Memory(max="256M"), current_limit=64 * MB, current_memsw=128 * MB, has_memsw=True)
    assert w == [
        ("memory", "memory.memsw.limit_in_bytes", str(320 * MB)),
        ("memory", "memory.limit_in_bytes", str(256 * MB)),
    ]
    w = fs1.memory_writes(
        Memory(max="max", swap_max="max"), current_limit=64 * MB, current_memsw=128 * MB, has_memsw=True
    )
    assert w == [("memory", "memory.memsw.limit_in_bytes", "-1"), ("memory", "memory.limit_in_bytes", "-1")]
    assert fs1.memory_writes(Memory(max="1G"), current_limit=None, current_memsw=None, has_memsw=False) == [
        ("memory", "memory.limit_in_bytes", str(GB))
    ]


@pytest.mark.parametrize(
    ("m", "has_memsw"),
    [(Memory(high="1G"), True), (Memory(swap_max="1G"), False), (Memory(max="max", swap_max="1G"), True)],
)
def test_v1_memory_settings_it_cannot_honour(m: Memory, has_memsw: bool) -> None:
    with pytest.raises(CgroupUnsupported):
        fs1.memory_writes(m, current_limit=None, current_memsw=None, has_memsw=has_memsw)


def test_v2_memory_values() -> None:
    assert fs2.memory_writes(Memory(max="64M", swap_max="max", reservation="32M", high="60M")) == [
        ("memory", "memory.max", str(64 * MB)),
        ("memory", "memory.swap.max", "max"),
        ("memory", "memory.low", str(32 * MB)),
        ("memory", "memory.high", str(60 * MB)),
    ]
    with pytest.raises(CgroupUnsupported):
        fs2.memory_writes(Memory(swappiness=1))


def test_cpu_values_both_versions() -> None:
    c = Cpu(weight=50, quota_us=50_000, period_us=100_000, burst_us=1000, cpus="0", mems="0")
    assert fs1.cpu_writes(c) == [
        ("cpu", "cpu.shares", "1287"),
        ("cpu", "cpu.cfs_period_us", "100000"),
        ("cpu", "cpu.cfs_quota_us", "50000"),
        ("cpu", "cpu.cfs_burst_us", "1000"),
        ("cpuset", "cpuset.cpus", "0"),
        ("cpuset", "cpuset.mems", "0"),
    ]
    assert fs2.cpu_writes(c)[:2] == [("cpu", "cpu.weight", "50"), ("cpu", "cpu.max", "50000 100000")]
    assert fs2.cpu_writes(Cpu(shares=1024)) == [("cpu", "cpu.weight", "39")]
    assert fs2.cpu_writes(Cpu(quota_us="max")) == [("cpu", "cpu.max", "max")]
    assert fs2.cpu_writes(Cpu(period_us=20000), current_max="30000 100000\n") == [("cpu", "cpu.max", "30000 20000")]
    assert fs1.cpu_writes(Cpu(quota_us="max")) == [("cpu", "cpu.cfs_quota_us", "-1")]


def test_pids_hugetlb_devices_values() -> None:
    assert fs1.pids_writes(Pids(max=32)) == [("pids", "pids.max", "32")]
    assert fs2.pids_writes(Pids(max="max")) == [("pids", "pids.max", "max")]
    assert fs1.pids_writes(Pids()) == []
    assert fs1.hugetlb_writes(Hugetlb({"2MB": 0, "1G": "max"})) == [
        ("hugetlb", "hugetlb.2MB.limit_in_bytes", "0"),
        ("hugetlb", "hugetlb.1GB.limit_in_bytes", "-1"),
    ]
    assert fs2.hugetlb_writes(Hugetlb({"2MB": "4M"})) == [("hugetlb", "hugetlb.2MB.max", str(4 * MB))]
    w = fs1.devices_writes(Devices((DeviceRule(False), DeviceRule.char(1, 3), DeviceRule(False, "c", 1, 3, "w"))))
    assert w == [
        ("devices", "devices.deny", "a"),
        ("devices", "devices.deny", "a"),
        ("devices", "devices.allow", "c 1:3 rwm"),
        ("devices", "devices.deny", "c 1:3 w"),
    ]
    # Only allows after the deny-all: written in runc's order (devices.list
    # lists them so); with a deny among them, as given.
    lines = [line for _, _, line in fs1.devices_writes(Devices.default())]
    assert lines == [
        "a",
        "a",
        "b *:* m",
        "c *:* m",
        *(f"c {n} rwm" for n in ("1:3", "1:5", "1:7", "1:8", "1:9", "5:0", "5:2", "10:200", "136:*")),
    ]
    deny_write = DeviceRule(False, "c", 1, 3, "w")
    mixed = Devices((DeviceRule(False), DeviceRule.char(5, 2), deny_write, DeviceRule.char(1, 3)))
    assert [line for _, _, line in fs1.devices_writes(mixed)] == ["a", "a", "c 5:2 rwm", "c 1:3 w", "c 1:3 rwm"]


def test_io_values_both_versions() -> None:
    io = IO(weight=100, read_bps={"/dev/vda": "10M"}, write_iops={"8:0": 50}, write_bps={"8:0": "max"})
    resolve = {"/dev/vda": "254:0", "8:0": "8:0"}.__getitem__
    assert fs1.io_writes(io, weight_file="blkio.bfq.weight", resolve=resolve) == [
        ("blkio", "blkio.bfq.weight", "20"),
        ("blkio", "blkio.throttle.read_bps_device", f"254:0 {10 * MB}"),
        ("blkio", "blkio.throttle.write_bps_device", "8:0 0"),
        ("blkio", "blkio.throttle.write_iops_device", "8:0 50"),
    ]
    assert fs2.io_writes(io, resolve=resolve) == [
        ("io", "io.weight", "default 100"),
        ("io", "io.max", f"254:0 rbps={10 * MB}"),
        ("io", "io.max", "8:0 wbps=max wiops=50"),
    ]
    assert fs2.io_writes(IO(blkio_weight=1000), resolve=resolve) == [("io", "io.weight", "default 10000")]
    with pytest.raises(CgroupUnsupported):
        fs1.io_writes(IO(weight=5), weight_file=None, resolve=resolve)


def test_stat_parsers() -> None:
    assert fs1.parse_limit("9223372036854771712\n") is None and fs1.parse_limit("4096") == 4096
    assert fs2.parse_max("max\n") is None and fs2.parse_max("10") == 10
    rows = fs1.parse_blkio("8:0 Read 10\n8:0 Write 20\n8:0 Total 30\nTotal 30\n", "8:0 Read 1\n8:0 Write 2\n")
    assert rows == [(8, 0, 10, 20, 1, 2)]
    assert fs2.parse_io_stat("8:0 rbytes=5 wbytes=6 rios=1 wios=2 dbytes=0 dios=0\n") == [(8, 0, 5, 6, 1, 2)]
    assert fs1.parse_flat("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n")["oom_kill"] == 3


# -- the eBPF device program, run by a tiny interpreter --------------------------------


def run_prog(prog: List[Tuple[int, int, int, int, int]], dev_type: str, major: int, minor: int, access: str) -> int:
    acc = sum({"m": 1, "r": 2, "w": 4}[c] for c in access)
    ctx = [(acc << 16) | (1 if dev_type == "b" else 2), major, minor]
    reg = [0] * 11
    pc = 0
    while True:
        code, dst, src, off, imm = prog[pc]
        pc += 1
        if code == 0x61:
            reg[dst] = ctx[off // 4]
        elif code == 0xBF:
            reg[dst] = reg[src]
        elif code == 0xB7:
            reg[dst] = imm
        elif code == 0x57:
            reg[dst] &= imm & 0xFFFFFFFFFFFFFFFF
        elif code == 0x77:
            reg[dst] >>= imm
        elif code == 0x55:
            if reg[dst] != imm:
                pc += off
        elif code == 0x95:
            return reg[0]
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")


def test_device_program_semantics() -> None:
    prog = bpf_devices.compile_rules(Devices.default())
    allow = lambda *a: run_prog(prog, *a) == 1  # noqa: E731
    assert allow("c", 1, 3, "rw") and allow("c", 1, 9, "r") and allow("c", 136, 7, "rw")
    assert not allow("c", 1, 1, "r")  # /dev/mem
    assert not allow("b", 254, 0, "r")
    assert allow("b", 254, 0, "m") and allow("c", 1, 1, "m")
    # Later rules override earlier ones; partial access must be covered entirely.
    prog = bpf_devices.compile_rules(Devices((DeviceRule(True), DeviceRule(False, "c", 1, 3, "w"))))
    assert run_prog(prog, "c", 1, 3, "r") == 1
    assert run_prog(prog, "c", 1, 3, "rw") == 1  # "rw" is not covered by the "w" deny rule
    assert run_prog(prog, "c", 1, 3, "w") == 0
    assert run_prog(bpf_devices.compile_rules(Devices()), "c", 1, 3, "r") == 0
    assert len(bpf_devices.assemble(prog)) == 8 * len(prog)


# -- the manager on a fake file system --------------------------------------------------------

LAYOUT = parse_layout(
    "\n".join(
        f"{i} 1 0:{i} / /cg/{name} rw - cgroup cgroup rw,{opts}"
        for i, (name, opts) in enumerate(
            [
                ("cpu", "cpu"),
                ("cpuacct", "cpuacct"),
                ("cpuset", "cpuset"),
                ("memory", "memory"),
                ("devices", "devices"),
                ("freezer", "freezer"),
                ("blkio", "blkio"),
                ("pids", "pids"),
                ("systemd", "name=systemd"),
            ],
            start=10,
        )
    )
    + "\n50 1 0:50 / /cg/unified rw - cgroup2 cgroup2 rw\n",
    "4:memory:/host/me\n0::/\n",
    "hugetlb",
)

FILES = {
    "cpu": ["cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us", "cpu.stat"],
    "cpuacct": ["cpuacct.usage", "cpuacct.usage_percpu"],
    "cpuset": ["cpuset.cpus", "cpuset.mems"],
    "memory": ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.soft_limit_in_bytes"],
    "devices": ["devices.allow", "devices.deny"],
    "freezer": ["freezer.state"],
    "blkio": ["blkio.bfq.weight", "blkio.throttle.read_bps_device"],
    "pids": ["pids.max", "pids.current"],
    "systemd": [],
    "unified": ["cgroup.subtree_control", "cgroup.events", "cgroup.freeze", "cgroup.kill"],
}
INITIAL = {
    "memory.limit_in_bytes": "9223372036854771712",
    "memory.memsw.limit_in_bytes": "9223372036854771712",
    "cgroup.events": "populated 0\nfrozen 0\n",
    "cpuset.cpus": "",
    "cpuset.mems": "",
    "cgroup.subtree_control": "",
    "cgroup.procs": "",
}


class FakeFS:
    """Directories and files in dicts; a new cgroup directory gets its controller's files."""

    def __init__(self) -> None:
        self.dirs: Set[str] = {"/cg"}
        self.files: Dict[str, str] = {}
        self.writes: List[Tuple[str, str]] = []
        self.fail_mkdir: Optional[str] = None
        for name in FILES:
            self._populate(f"/cg/{name}")
        self.files["/cg/cpuset/cpuset.cpus"] = "0-1"
        self.files["/cg/cpuset/cpuset.mems"] = "0"
        self.files["/cg/unified/cgroup.subtree_control"] = ""

    def _populate(self, d: str) -> None:
        self.dirs.add(d)
        kind = d.split("/")[2]
        for f in FILES[kind] + ["cgroup.procs"]:
            self.files[posixpath.join(d, f)] = INITIAL.get(f, "0")
        if kind == "unified":
            controllers = self.files.get(posixpath.join(posixpath.dirname(d), "cgroup.subtree_control"), "")
            if "hugetlb" in controllers.split():
                self.files[posixpath.join(d, "hugetlb.2MB.max")] = "max"

    def read(self, path: str) -> str:
        if path not in self.files:
            raise CgroupError("cannot open", path=path, errno=errno.ENOENT)
        return self.files[path]

    def write(self, path: str, value: str) -> None:
        if path not in self.files:
            raise CgroupError("cannot open", path=path, value=value, errno=errno.ENOENT)
        self.writes.append((path, value))
        if path.endswith("cgroup.subtree_control"):
            self.files[path] = " ".join(sorted(set(self.files[path].split()) | {value.lstrip("+")}))
        else:
            self.files[path] = value

    def exists(self, path: str) -> bool:
        return path in self.dirs or path in self.files

    def mkdir(self, path: str) -> None:
        if path == self.fail_mkdir:
            raise CgroupError("cannot create cgroup", path=path, errno=errno.EACCES)
        if path in self.dirs:
            raise CgroupError("cannot create cgroup", path=path, errno=errno.EEXIST)
        self._populate(path)

    def rmdir(self, path: str) -> None:
        if path not in self.dirs:
            raise CgroupError("cannot remove", path=path, errno=errno.ENOENT)
        if any(d.startswith(path + "/") for d in self.dirs):
            raise CgroupError("cannot remove", path=path, errno=errno.EBUSY)
        self.dirs.remove(path)
        for f in [f for f in self.files if posixpath.dirname(f) == path]:
            del self.files[f]

    def subdirs(self, path: str) -> List[str]:
        return sorted(posixpath.basename(d) for d in self.dirs if posixpath.dirname(d) == path)


def make(fs: FakeFS, path: str = "libcontainer_py/c1") -> HybridManager:
    installed: List[Tuple[str, Devices]] = []
    m = HybridManager(
        path, LAYOUT, fs=fs, page_sizes=lambda: ["2MB"], install_device_program=lambda d, r: installed.append((d, r))
    )
    return m


def test_fake_create_apply_destroy_on_hybrid() -> None:
    fs = FakeFS()
    m = make(fs)
    m.create()
    assert "/cg/memory/libcontainer_py/c1" in fs.dirs and "/cg/unified/libcontainer_py/c1" in fs.dirs
    # cpuset: a new v1 cgroup gets its parent's cpus and mems, intermediates included
    assert fs.files["/cg/cpuset/libcontainer_py/cpuset.cpus"] == "0-1"
    assert fs.files["/cg/cpuset/libcontainer_py/c1/cpuset.mems"] == "0"
    # cgroup2: hugetlb enabled on the way down
    assert fs.files["/cg/unified/cgroup.subtree_control"] == "hugetlb"
    assert fs.files["/cg/unified/libcontainer_py/cgroup.subtree_control"] == "hugetlb"
    m.apply(
        CgroupConfig(
            memory=Memory(max="64M", swap_max="64M"),
            cpu=Cpu(weight=50, quota_us=50_000, period_us=100_000, cpus="0"),
            pids=Pids(max=32),
            io=IO(weight=100, read_bps={"8:0": "10M"}),
            hugetlb={"2MB": 0},
            devices=Devices.default(),
        )
    )
    f = fs.files
    assert f["/cg/memory/libcontainer_py/c1/memory.limit_in_bytes"] == str(64 * MB)
    assert f["/cg/memory/libcontainer_py/c1/memory.memsw.limit_in_bytes"] == str(128 * MB)
    assert f["/cg/cpu/libcontainer_py/c1/cpu.shares"] == "1287"
    assert f["/cg/cpu/libcontainer_py/c1/cpu.cfs_quota_us"] == "50000"
    assert f["/cg/cpuset/libcontainer_py/c1/cpuset.cpus"] == "0"
    assert f["/cg/pids/libcontainer_py/c1/pids.max"] == "32"
    assert f["/cg/blkio/libcontainer_py/c1/blkio.bfq.weight"] == "20"
    assert f["/cg/blkio/libcontainer_py/c1/blkio.throttle.read_bps_device"] == f"8:0 {10 * MB}"
    assert f["/cg/unified/libcontainer_py/c1/hugetlb.2MB.max"] == "0"
    assert ("/cg/devices/libcontainer_py/c1/devices.allow", "c 136:* rwm") in fs.writes
    m.update(Memory(max="256M"))
    assert f["/cg/memory/libcontainer_py/c1/memory.memsw.limit_in_bytes"] == str(320 * MB)
    m.add(1234)
    assert all(fs.files[posixpath.join(d, "cgroup.procs")] == "1234" for d in m.dirs())
    assert m.clone_fd() is None  # v1 hierarchies need writes
    fs.files["/cg/unified/libcontainer_py/c1/cgroup.procs"] = ""
    for d in m.dirs():
        fs.files[posixpath.join(d, "cgroup.procs")] = ""
    m.destroy()
    assert not any("libcontainer_py" in d for d in fs.dirs)
    m.destroy()  # idempotent


def test_fake_settings_the_host_cannot_honour() -> None:
    fs = FakeFS()
    m = make(fs)
    m.create()
    with pytest.raises(CgroupUnsupported, match=r"memory\.high"):
        m.update(Memory(high="1G"))
    with pytest.raises(CgroupUnsupported, match=r"cpu\.cfs_burst_us"):
        m.update(Cpu(burst_us=10))
    with pytest.raises(CgroupUnsupported, match=r"hugetlb\.1GB\.max"):
        m.update(Hugetlb({"1GB": 0}))
    m.destroy()


def test_fake_partial_create_leaves_nothing() -> None:
    fs = FakeFS()
    fs.fail_mkdir = "/cg/pids/libcontainer_py/c1"
    m = make(fs)
    with pytest.raises(CgroupError) as e:
        m.create()
    assert e.value.errno == errno.EACCES
    assert not any("libcontainer_py" in d for d in fs.dirs)


def test_fake_existing_cgroup_is_joined_with_a_warning_and_kept() -> None:
    fs = FakeFS()
    fs.mkdir("/cg/memory/libcontainer_py")
    fs.mkdir("/cg/memory/libcontainer_py/c1")  # made by someone else, in one hierarchy
    m = make(fs)
    with pytest.warns(CgroupWarning, match="exists already .*/cg/memory/libcontainer_py/c1.* leaves it in place"):
        m.create()
    assert m.joined and "/cg/pids/libcontainer_py/c1" in fs.dirs
    m.apply(CgroupConfig(memory=Memory(max="1M")))
    assert fs.files["/cg/memory/libcontainer_py/c1/memory.limit_in_bytes"] == str(1 << 20)
    m.destroy()  # only what it made itself goes
    assert "/cg/memory/libcontainer_py/c1" in fs.dirs and "/cg/pids/libcontainer_py/c1" not in fs.dirs
    fresh = make(fs, "libcontainer_py/c2")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fresh.create()
    assert not fresh.joined


def test_fake_kernel_without_rt_group_scheduling_refuses_by_file() -> None:
    """A v1 cpu controller without cpu.rt_* files (no CONFIG_RT_GROUP_SCHED), or without bfq's files."""
    fs = FakeFS()
    m = make(fs)
    m.create()
    with pytest.raises(CgroupUnsupported, match=r"this host has no cpu\.rt_runtime_us for the cpu controller") as e:
        m.update(Cpu(rt_runtime_us=1000))
    assert e.value.path == "/cg/cpu/libcontainer_py/c1/cpu.rt_runtime_us"
    with pytest.raises(CgroupUnsupported, match=r"neither blkio\.weight_device nor blkio\.bfq\.weight_device"):
        m.update(IO(device_weights={"8:0": 100}))
    m.destroy()


def test_fake_cpuset_ancestors_made_by_someone_else_get_cpus_and_mems() -> None:
    fs = FakeFS()
    for d in ("/cg/cpuset/kubepods", "/cg/cpuset/kubepods/pod1"):
        fs.mkdir(d)  # as a kubelet may leave them: empty cpuset.cpus and mems
    assert fs.files["/cg/cpuset/kubepods/pod1/cpuset.cpus"] == ""
    m = make(fs, "kubepods/pod1/c1")
    m.create()
    for d in ("/cg/cpuset/kubepods", "/cg/cpuset/kubepods/pod1", "/cg/cpuset/kubepods/pod1/c1"):
        assert (fs.files[f"{d}/cpuset.cpus"], fs.files[f"{d}/cpuset.mems"]) == ("0-1", "0"), d
    m.destroy()


@pytest.mark.parametrize("path", ["host", "host/me", "host/me/child"])
def test_never_inside_or_over_our_own_cgroup(path: str) -> None:
    with pytest.raises(CgroupError, match="own cgroup"):
        make(FakeFS(), path)


def test_beside_our_own_cgroup_is_fine() -> None:
    assert make(FakeFS(), "host2/x").dirs()[3] == "/cg/memory/host2/x"


class VanishingParentFS(FakeFS):
    """Another container's destroy() removes the shared parent while it is
    empty, as the walk reads one of its files (the kernel says ENODEV for a
    file of a cgroup being removed), ``times`` times."""

    def __init__(self, parent: str, times: int) -> None:
        super().__init__()
        self.parent, self.times = parent, times

    def read(self, path: str) -> str:
        if posixpath.dirname(path) == self.parent and self.times > 0 and not self.subdirs(self.parent):
            self.times -= 1
            self.rmdir(self.parent)
            raise CgroupError("cannot read", path=path, errno=errno.ENODEV)
        return super().read(path)


def test_create_survives_a_shared_parent_removed_meanwhile() -> None:
    fs = VanishingParentFS("/cg/unified/libcontainer_py", times=2)
    fs.mkdir("/cg/unified/libcontainer_py")
    m = make(fs)
    m.create()
    assert "/cg/unified/libcontainer_py/c1" in fs.dirs and fs.times == 0
    m.destroy()
    assert not [d for d in fs.dirs if "libcontainer_py" in d]


def test_create_gives_up_on_a_parent_that_keeps_vanishing() -> None:
    fs = VanishingParentFS("/cg/unified/libcontainer_py", times=100)
    fs.mkdir("/cg/unified/libcontainer_py")
    m = make(fs)
    with pytest.raises(CgroupError) as info:
        m.create()
    assert info.value.errno in (errno.ENODEV, errno.ENOENT)  # the last one seen
    assert not [d for d in fs.dirs if "libcontainer_py" in d]  # what it made is removed again


class ParentGoneAtMkdirFS(FakeFS):
    """Another container's destroy() removes the shared parent right after
    the walk enabled its controllers, before our directory is made in it."""

    def __init__(self, parent: str) -> None:
        super().__init__()
        self.parent, self.removed = parent, False

    def mkdir(self, path: str) -> None:
        if posixpath.dirname(path) == self.parent and not self.removed:
            self.removed = True
            self.rmdir(self.parent)
        if posixpath.dirname(path) not in self.dirs:  # as the kernel says
            raise CgroupError("cannot create cgroup", path=path, errno=errno.ENOENT)
        super().mkdir(path)


def test_a_parent_made_again_gets_its_controllers_enabled() -> None:
    fs = ParentGoneAtMkdirFS("/cg/unified/libcontainer_py")
    m = make(fs)
    wanted = m._v2_wanted()
    assert wanted  # the fake's cgroup2 mount has controllers no v1 hierarchy has
    m.create()
    assert fs.removed and "/cg/unified/libcontainer_py/c1" in fs.dirs
    enabled = fs.files["/cg/unified/libcontainer_py/cgroup.subtree_control"].split()
    assert all(f"+{c}" in enabled or c in enabled for c in wanted), enabled
    m.destroy()


def test_oom_kill_disable_on_v1_and_v2() -> None:
    """v1: memory.oom_control 1 (after the limits); v2 has no such switch:
    the other limits are applied and a CgroupWarning names it."""
    m = Memory(max="64M", oom_kill_disable=True)
    assert fs1.memory_writes(m, current_limit=None, current_memsw=None, has_memsw=False) == [
        ("memory", "memory.limit_in_bytes", str(64 * MB)),
        ("memory", "memory.oom_control", "1"),
    ]
    assert fs2.memory_writes(m) == [("memory", "memory.max", str(64 * MB))]
    assert fs1.memory_writes(Memory(max="64M"), current_limit=None, current_memsw=None, has_memsw=False) == [
        ("memory", "memory.limit_in_bytes", str(64 * MB))
    ]


def test_kernel_tcp_where_the_file_is_and_where_it_is_not() -> None:
    """v1 memory.kmem.tcp.limit_in_bytes gets Memory.kernel_tcp; a memory
    cgroup without that file (here the fake's, like a v2 one) applies the
    other limits and warns about the one it leaves out."""
    m = Memory(max="64M", kernel_tcp="1M")
    assert fs1.memory_writes(m, current_limit=None, current_memsw=None, has_memsw=False, has_kmem_tcp=True) == [
        ("memory", "memory.limit_in_bytes", str(64 * MB)),
        ("memory", fs1.KMEM_TCP, str(MB)),
    ]
    assert fs2.memory_writes(m) == [("memory", "memory.max", str(64 * MB))]
    fs = FakeFS()
    manager = make(fs)
    manager.create()
    with pytest.warns(CgroupWarning, match=f"memory.kernel_tcp ignored: .* no {fs1.KMEM_TCP}"):
        manager.apply(CgroupConfig(memory=m, pids=Pids(max=5), devices=None))
    assert fs.files["/cg/memory/libcontainer_py/c1/memory.limit_in_bytes"] == str(64 * MB)
    assert fs.files["/cg/pids/libcontainer_py/c1/pids.max"] == "5"
    manager.destroy()
