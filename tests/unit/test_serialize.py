"""Config <-> plain JSON document (libcontainer_py.serialize); pure, no root needed."""

from __future__ import annotations

import copy
import enum
import errno
import json
import os
import typing
from types import MappingProxyType
from typing import Any, Callable, Dict, FrozenSet, Iterator, List, Mapping, Optional, Set, Tuple

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import strategies

import libcontainer_py as lc
from libcontainer_py import serialize
from libcontainer_py.errors import ConfigError
from libcontainer_py.limits import INFINITY
from libcontainer_py.serialize import VERSION, config_from_dict, config_to_dict


def roundtrip(config: lc.Config) -> lc.Config:
    return config_from_dict(json.loads(json.dumps(config_to_dict(config))))


def text_of(config: lc.Config) -> str:
    return json.dumps(config_to_dict(config))


# --- sample configs --------------------------------------------------------------


def custom_seccomp() -> lc.Seccomp:
    return lc.Seccomp(
        default_action="errno",
        default_errno=errno.ENOSYS,
        rules=(
            lc.SeccompRule("allow", ["read", "write", "exit_group"]),
            lc.SeccompRule("errno", ["mkdir"], errno=errno.EACCES),
            lc.SeccompRule("notify", ["openat", "open"]),
            lc.SeccompRule(
                "allow", ["personality"], [lc.ArgCondition(0, "eq", 0), lc.ArgCondition(0, "eq", 0xFFFFFFFF)]
            ),
            lc.SeccompRule("allow", ["clone"], [lc.ArgCondition(1, "masked_eq", 0x7E020000, 0x10)]),
            lc.SeccompRule("errno", ["ioctl"], [lc.ArgCondition(5, "gt", 2**64 - 1)], errno=0),
            lc.SeccompRule("trace", ["ptrace"], errno=7),
            lc.SeccompRule("kill_thread", ["reboot"]),
            lc.SeccompRule("kill_process", ["kexec_load"]),
            lc.SeccompRule("trap", ["bpf"], [lc.ArgCondition(2, "ne", 1), lc.ArgCondition(3, "lt", 2)]),
            lc.SeccompRule("log", ["uname"], [lc.ArgCondition(4, "le", 3), lc.ArgCondition(4, "ge", 1)]),
        ),
        architectures=("x86_64", "x86", "x32", "aarch64"),
        flags=("log", "spec_allow"),
        listener_path="/run/seccomp/agent.sock",
        listener_metadata="container=x",
    )


def userns_config() -> lc.Config:
    """Every field away from its default, with a user namespace."""
    caps = lc.Capabilities(
        bounding={"CAP_CHOWN", "CAP_NET_RAW", "CAP_SETUID", "CAP_KILL", "CAP_SYS_ADMIN", "CAP_AUDIT_WRITE"},
        effective={"CAP_CHOWN", "net_raw"},
        permitted={"CAP_CHOWN", "CAP_NET_RAW", "CAP_KILL"},
        inheritable={"CAP_NET_RAW", "CAP_KILL", "CAP_SYS_TIME"},
        ambient={"NET_RAW", "CAP_KILL"},
    )
    process = lc.Process(
        args=("/usr/bin/app", "--flag", "", "ünïcode ✓"),
        env={"PATH": "/bin:/usr/bin", "LANG": "C.UTF-8", "EMPTY": "", "Z": "a=b"},
        cwd="/srv/app",
        user=lc.User(uid=1000, gid=1000, additional_gids=(10, 20, 1000)),
        umask=0o077,
        capabilities=caps,
        no_new_privileges=False,
        rlimits=(
            lc.Rlimit("nofile", 1024, 4096),
            lc.Rlimit("RLIMIT_CORE", 0),
            lc.Rlimit("stack", 8 << 20, None),
            lc.Rlimit("memlock", None),
        ),
        init=True,
        terminal=True,
        new_session=True,
        passwd_home=True,
        session_keyring="_ses.app",
        make_cwd=True,
        executable="/usr/bin/app-real",
        oom_score_adj=-500,
        scheduler=lc.Scheduler("deadline", runtime=10_000, deadline=50_000, period=100_000, flags=["reclaim"]),
        io_priority=lc.IOPriority("IOPRIO_CLASS_BE", 6),
        exec_cpu_affinity=lc.ExecCPUAffinity(initial="0", final="0-1,3"),
    )
    mounts = lc.Mounts.default() + [
        lc.Mount.bind(
            "/srv/data",
            "/data",
            readonly=True,
            recursive=False,
            nosuid=True,
            nodev=True,
            noexec=True,
            propagation="rslave",
        ),
        lc.Mount("/tree", "bind", "/srv/tree", recursive_options=("rro", "rnoatime")),
        lc.Mount.tmpfs("/tmp", size="64m", mode=0o1777, options=("noatime", "nodiratime")),
        lc.Mount.tmpfs("/var/cache", copy_up=True),
        lc.Mount("/opt", "overlay", "overlay", data="lowerdir=/a,upperdir=/b,workdir=/c", propagation="private"),
        lc.Mount.sysfs("/sys2", readonly=False),
        lc.Mount.proc("/proc2"),
    ]
    cgroup = lc.CgroupConfig(
        path="machine/box-1",
        memory=lc.Memory(
            max="64M", swap_max=0, reservation="32M", high="max", swappiness=10, kernel_tcp="8M", oom_kill_disable=True
        ),
        cpu=lc.Cpu(
            weight=200,
            quota_us=50_000,
            period_us=100_000,
            burst_us=1000,
            rt_period_us=1_000_000,
            rt_runtime_us="max",
            cpus="0-1,3",
            mems="0",
        ),
        pids=lc.Pids(max=100),
        io=lc.IO(
            weight=100,
            read_bps={"8:0": "10M"},
            write_bps={"/dev/vda": lc.UNLIMITED, "8:16": 1 << 20},
            read_iops={"8:16": 100},
            write_iops={"8:0": "max"},
            device_weights={"/dev/vda": 300, "8:16": 1},
        ),
        hugetlb=lc.Hugetlb({"2MB": 0, "1GB": "max"}),
        network=lc.CgroupNetwork(class_id=0x100001, priorities={"lo": 5, "eth0": 0}),
        devices=lc.Devices(
            (lc.DeviceRule(False), lc.DeviceRule.char(1, 3, "rw"), lc.DeviceRule(True, "b", 8, None, "r"))
        ),
        accounting=False,
    )
    return lc.Config(
        hooks=lc.Hooks(
            prestart=[lc.Hook("/bin/true")],
            create_runtime=[lc.Hook("/usr/bin/hook", args=["hook", "create"], env=["A=1"], timeout=5)],
            create_container=[lc.Hook("/bin/true", timeout=1)],
            start_container=[lc.Hook("/bin/echo", args=["echo", ""])],
            poststart=[lc.Hook("/bin/true", env=["X="])],
            poststop=[lc.Hook("/bin/true"), lc.Hook("/bin/false")],
        ),
        process=process,
        rootfs=lc.Rootfs.directory("/var/lib/box/rootfs", readonly=True, propagation="rprivate"),
        hostname="box",
        domainname="example.org",
        namespaces=lc.Namespaces(
            user=True, mount=True, uts=True, ipc=True, pid=True, net="/run/netns/box", cgroup=True, time=True
        ),
        mounts=mounts,
        devices=lc.DEFAULT_DEVICES
        + (
            lc.Device("/dev/fuse", "c", 10, 229, 0o600),
            lc.Device("/dev/loop0", "b", 7, 0, 0o660),
            lc.Device.fifo("/dev/pipe", uid=1, gid=2),
        ),
        uid_mappings=(lc.IDMap(0, 100_000, 65_536),),
        gid_mappings=(lc.IDMap(0, 200_000, 1000), lc.IDMap(1000, 1000)),
        masked_paths=("/proc/kcore", "/secret"),
        readonly_paths=("/proc/sys",),
        sysctl={"kernel.shmmax": "65536", "fs.mqueue.msg_max": "100"},
        seccomp=custom_seccomp(),
        cgroup=cgroup,
        personality="LINUX32",
        time_offsets={"monotonic": (-5, 500), "boottime": (86_400, 0)},
        memory_policy=lc.MemoryPolicy("MPOL_BIND", "0-1,3", ["static_nodes"]),
    )


def host_config() -> lc.Config:
    """What the user-namespace one cannot have: no_pivot, joined namespaces,
    the v1 spellings of cpu and io weights, net sysctls, no cgroup devices."""
    return lc.Config(
        process=lc.Process(
            args=["/bin/true"],
            capabilities=lc.Capabilities.none(),
            env={},
            scheduler=lc.Scheduler("SCHED_RR", priority=10, nice=-5),
            io_priority=lc.IOPriority("idle"),
        ),
        rootfs=lc.Rootfs.directory("/srv/root", no_pivot=True, propagation="shared"),
        hostname="h" * 64,
        namespaces=lc.Namespaces(mount=True, uts=True, ipc="/proc/1/ns/ipc", pid="/proc/1/ns/pid", net=True),
        mounts=[lc.Mount.dev(), lc.Mount.devpts(), lc.Mount.shm(), lc.Mount.mqueue()],
        devices=(lc.Device("/dev/null", "c", 1, 3),),
        masked_paths=(),
        readonly_paths=(),
        sysctl={"net.ipv4.ip_forward": "1", "net.core.somaxconn": "1024"},
        seccomp=lc.Seccomp("kill_process", [lc.SeccompRule("allow", ["read"])]),
        cgroup=lc.CgroupConfig(
            cpu=lc.Cpu(shares=512, quota_us="max"),
            io=lc.IO(blkio_weight=500),
            memory=lc.Memory(max=lc.UNLIMITED),
            pids=lc.Pids(max="max"),
            devices=None,
        ),
        network=[
            lc.Network.bridge(
                ports=[lc.PortMapping(8053, 53, "udp", "127.0.0.1")], ip="10.89.0.7", mac="02:00:00:00:00:07"
            ),
            lc.Network.cni(
                {"cniVersion": "1.0.0", "name": "m", "plugins": [{"type": "macvlan", "master": "eth0"}]},
                ifname="net1",
                args={"IgnoreUnknown": "1"},
            ),
        ],
    )


def bare_config() -> lc.Config:
    """No rootfs, no filter, no cgroup, the caller's namespaces."""
    return lc.Config(
        process=lc.Process(args=["env"], user=lc.User(65534, 65534)),
        rootfs=None,
        namespaces=lc.Namespaces(),
        seccomp=None,
        cgroup=None,
    )


def overlay_config() -> lc.Config:
    """An overlay root with a persistent upper layer."""
    return lc.Config(rootfs=lc.Rootfs.overlay(["/layers/base", "/layers/top"], upper="/data/up", work="/data/work"))


FULL: Dict[str, Callable[[], lc.Config]] = {
    "userns": userns_config,
    "host": host_config,
    "bare": bare_config,
    "overlay": overlay_config,
}


# --- round trips -------------------------------------------------------------------


@pytest.mark.parametrize("euid", [0, 1000])
def test_default_config_round_trips_as_root_and_not(monkeypatch: pytest.MonkeyPatch, euid: int) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: euid)
    config = lc.Config()
    doc = json.loads(json.dumps(config_to_dict(config)))
    assert config_from_dict(doc) == config
    # Every value is in the document: reading does not depend on who reads it.
    monkeypatch.setattr(os, "geteuid", lambda: 1000 - euid)
    assert config_from_dict(doc) == config


@pytest.mark.parametrize("euid", [0, 1000])
def test_default_variants_round_trip(monkeypatch: pytest.MonkeyPatch, euid: int) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: euid)
    for config in (
        lc.Config(rootfs=None),
        lc.Config(namespaces=lc.Namespaces.all()),
        lc.Config(process=lc.Process(args=["sh"], capabilities=lc.Capabilities.of("sys_admin", "net_admin"))),
        lc.Config(rootfs="/srv/rootfs"),
        lc.Config().evolve(rootfs=None),
        lc.Config(cgroup=lc.DEFAULT_CGROUP),
    ):
        assert roundtrip(config) == config


@pytest.mark.parametrize("name", sorted(FULL))
def test_full_config_round_trips(name: str) -> None:
    config = FULL[name]()
    back = roundtrip(config)
    assert back == config
    assert attrs.asdict(back, recurse=True) == attrs.asdict(config, recurse=True)
    # The containers are the classes' own: read-only mappings, tuples, frozensets.
    assert isinstance(back.process.env, MappingProxyType) and isinstance(back.sysctl, MappingProxyType)
    assert isinstance(back.process.args, tuple) and isinstance(back.process.capabilities.bounding, frozenset)
    assert isinstance(back.mounts, lc.Mounts)


def test_round_trip_without_json_and_twice() -> None:
    config = userns_config()
    doc = config_to_dict(config)
    assert config_from_dict(doc) == config
    assert config_to_dict(config_from_dict(doc)) == doc
    assert config_from_dict(copy.deepcopy(doc)) == config


@pytest.mark.parametrize("euid", [0, 1000])
def test_following_defaults_still_follow_after_reading(monkeypatch: pytest.MonkeyPatch, euid: int) -> None:
    """Config.evolve lets settings still at their default follow a change; it
    compares values, so a config read back behaves the same."""
    monkeypatch.setattr(os, "geteuid", lambda: euid)
    config = lc.Config()
    back = roundtrip(config)
    for changes in ({"rootfs": None, "seccomp": None}, {"namespaces": lc.Namespaces.all()}, {"mounts": ()}):
        assert back.evolve(**changes) == config.evolve(**changes)


def test_values_survive_exactly() -> None:
    back = roundtrip(userns_config())
    assert back.process.rlimits[2].hard == INFINITY and back.process.rlimits[3].soft == INFINITY
    assert back.process.env["Z"] == "a=b" and back.process.args[3] == "ünïcode ✓"
    assert back.namespaces.net == "/run/netns/box" and back.namespaces.user is True
    assert back.seccomp is not None
    assert back.seccomp.rules[2].action is lc.Action.NOTIFY
    assert back.seccomp.rules[5].args[0].value == 2**64 - 1 and back.seccomp.rules[5].errno == 0
    assert back.seccomp.default_errno == errno.ENOSYS
    assert back.cgroup is not None and back.cgroup.memory is not None and back.cgroup.memory.high == lc.UNLIMITED
    assert back.process.capabilities.ambient == frozenset({"CAP_NET_RAW", "CAP_KILL"})


# --- the document ------------------------------------------------------------------------


def _walk_json(value: Any, path: str = "") -> Iterator[Tuple[str, Any]]:
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            assert type(k) is str, path
            yield from _walk_json(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk_json(v, f"{path}[{i}]")


@pytest.mark.parametrize("name", sorted(FULL))
def test_document_is_plain_json(name: str) -> None:
    doc = config_to_dict(FULL[name]())
    for path, value in _walk_json(doc):
        assert type(value) in (dict, list, str, int, bool, type(None)), (path, type(value))
    json.dumps(doc, allow_nan=False)
    assert doc["version"] == VERSION == 7
    assert next(iter(doc)) == "version"
    assert list(doc)[1:] == [a.name for a in attrs.fields(lc.Config)]


def test_document_shape() -> None:
    doc = config_to_dict(userns_config())
    caps = doc["process"]["capabilities"]
    assert caps["ambient"] == ["CAP_KILL", "CAP_NET_RAW"]
    for names in caps.values():
        assert names == sorted(names)
    assert doc["process"]["user"] == {"uid": 1000, "gid": 1000, "additional_gids": [10, 20, 1000]}
    assert doc["process"]["rlimits"][0] == {"type": "nofile", "soft": 1024, "hard": 4096}
    assert doc["process"]["env"] == {"EMPTY": "", "LANG": "C.UTF-8", "PATH": "/bin:/usr/bin", "Z": "a=b"}
    assert doc["namespaces"]["net"] == "/run/netns/box" and doc["namespaces"]["user"] is True
    assert doc["rootfs"] == {
        "path": "/var/lib/box/rootfs",
        "readonly": True,
        "propagation": "rprivate",
        "no_pivot": False,
        "lower": [],
        "upper": None,
        "work": None,
    }
    assert doc["mounts"]["items"][0]["destination"] == "/proc"
    assert doc["uid_mappings"] == [{"container_id": 0, "host_id": 100_000, "size": 65_536}]
    assert doc["seccomp"]["default_action"] == "errno"
    assert doc["seccomp"]["rules"][2] == {"action": "notify", "syscalls": ["openat", "open"], "args": [], "errno": None}
    assert doc["seccomp"]["rules"][4]["args"] == [{"index": 1, "op": "masked_eq", "value": 0x7E020000, "value2": 0x10}]
    assert doc["cgroup"]["hugetlb"] == {"limits": {"1GB": -1, "2MB": 0}}
    assert doc["cgroup"]["devices"]["rules"][1] == {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"}
    assert doc["cgroup"]["memory"]["max"] == 64 << 20


def test_json_text_is_stable() -> None:
    one = text_of(userns_config())
    assert text_of(userns_config()) == one  # built twice
    assert text_of(roundtrip(userns_config())) == one  # read back and written again
    # Equal configs give equal text: mapping order and set order do not show.
    a = lc.Config(
        process=lc.Process(args=["sh"], env={"A": "1", "B": "2"}, capabilities=lc.Capabilities.of("kill", "chown")),
        sysctl={"net.a": "1", "kernel.sem": "2"},
    )
    b = lc.Config(
        process=lc.Process(args=["sh"], env={"B": "2", "A": "1"}, capabilities=lc.Capabilities.of("chown", "kill")),
        sysctl={"kernel.sem": "2", "net.a": "1"},
    )
    assert a == b and text_of(a) == text_of(b)


def test_config_json_is_the_document_and_is_remembered_per_object() -> None:
    config = userns_config()
    data = serialize.config_json(config)
    assert json.loads(data) == config_to_dict(config) and config_from_dict(json.loads(data)) == config
    assert serialize.config_json(config) is data  # the same object: not serialized again
    other = userns_config()  # equal, another object: serialized on its own, to the same text
    assert serialize.config_json(other) is not data and serialize.config_json(other) == data
    # Only the last few are remembered: the first is serialized anew after 8 others.
    others = [lc.Config(hostname=f"h{i}") for i in range(8)]
    for one in others:
        serialize.config_json(one)
    assert serialize.config_json(config) is not data and serialize.config_json(config) == data


def test_config_json_never_answers_for_a_dead_config() -> None:
    """An entry of a Config that is gone is not another's, even when the new
    one has its id (the memory is reused)."""
    for i in range(50):
        config = lc.Config(hostname=f"h{i}")
        assert json.loads(serialize.config_json(config))["hostname"] == f"h{i}"
        del config


def test_not_a_config() -> None:
    with pytest.raises(TypeError):
        config_to_dict(lc.Process(args=["sh"]))  # type: ignore[arg-type]


# --- every field of every class is covered -----------------------------------------------


def _classes_in(tp: Any) -> Iterator[type]:
    if isinstance(tp, type) and attrs.has(tp):
        yield tp
    for arg in typing.get_args(tp):
        yield from _classes_in(arg)


def config_tree() -> Dict[type, Dict[str, Any]]:
    """Every attrs class reachable from Config through field types -> {field: type}."""
    found: Dict[type, Dict[str, Any]] = {}
    todo: List[type] = [lc.Config]
    while todo:
        cls = todo.pop()
        if cls in found:
            continue
        hints = typing.get_type_hints(cls)
        found[cls] = {a.name: hints[a.name] for a in attrs.fields(cls)}
        for tp in found[cls].values():
            todo.extend(_classes_in(tp))
    return found


def _instances(value: Any) -> Iterator[Any]:
    if attrs.has(type(value)):
        yield value
        for a in attrs.fields(type(value)):
            yield from _instances(getattr(value, a.name))
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _instances(v)
    elif isinstance(value, (tuple, list, frozenset)):
        for v in value:
            yield from _instances(v)


def _default_of(attribute: attrs.Attribute[Any], instance: Any) -> Any:
    default = attribute.default
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        return default.factory(instance) if default.takes_self else default.factory()
    return default


def test_the_tree_is_what_we_think() -> None:
    tree = config_tree()
    names = {cls.__name__ for cls in tree}
    assert {"Config", "Process", "User", "Capabilities", "Rlimit", "Rootfs", "Namespaces", "Mounts", "Mount"} <= names
    assert {"Device", "IDMap", "Seccomp", "SeccompRule", "ArgCondition", "CgroupConfig", "Memory", "Cpu"} <= names
    assert {"Pids", "IO", "Hugetlb", "Devices", "DeviceRule"} <= names


def test_every_field_of_every_class_is_exercised() -> None:
    """A field added to any class of the Config tree fails here until the
    samples above set it to something other than its default, so that the
    round-trip tests cover it (and the serializer is shown to handle it)."""
    tree = config_tree()
    samples = [make() for make in FULL.values()]
    seen: Dict[type, List[Any]] = {}
    for sample in samples:
        for obj in _instances(sample):
            seen.setdefault(type(obj), []).append(obj)
    missing_classes = sorted(cls.__name__ for cls in tree if cls not in seen)
    assert not missing_classes, f"no sample holds an instance of {missing_classes}"
    unexercised = []
    for cls in tree:
        for a in attrs.fields(cls):
            if a.default is attrs.NOTHING:
                continue  # mandatory: always given
            if all(getattr(obj, a.name) == _default_of(a, obj) for obj in seen[cls]):
                unexercised.append(f"{cls.__name__}.{a.name}")
    assert not unexercised, f"set these to a non-default value in a sample config: {unexercised}"
    for sample in samples:
        assert roundtrip(sample) == sample


def test_document_has_one_key_per_field_everywhere() -> None:
    config = userns_config()
    doc = config_to_dict(config)

    def check(obj: Any, sub: Any) -> None:
        if attrs.has(type(obj)):
            assert isinstance(sub, dict)
            assert set(sub) - {"version"} == {a.name for a in attrs.fields(type(obj))}, type(obj)
            for a in attrs.fields(type(obj)):
                check(getattr(obj, a.name), sub[a.name])
        elif isinstance(obj, tuple):
            for o, s in zip(obj, sub):
                check(o, s)

    check(config, doc)


def test_type_hints_are_typings() -> None:
    """serialize resolves the annotations itself (once per distinct string):
    the same as typing.get_type_hints, for every class of the tree."""
    for cls in config_tree():
        assert serialize._type_hints(cls) == typing.get_type_hints(cls), cls
    assert serialize._type_hints(Outer) == typing.get_type_hints(Outer)


def test_every_field_type_in_the_tree_is_supported() -> None:
    for cls, hints in config_tree().items():
        for name, tp in hints.items():
            try:
                serialize._check_type(tp)
            except TypeError as err:  # pragma: no cover - the failure this test is for
                pytest.fail(f"{cls.__name__}.{name}: {err}")
    for cls in (Unsupported, AlsoUnsupported):
        with pytest.raises(TypeError):
            serialize._check_type(typing.get_type_hints(cls)[attrs.fields(cls)[0].name])


# The generic machinery, on classes of the test's own.


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@attrs.frozen
class Inner:
    n: int = 0
    tags: FrozenSet[str] = frozenset()


@attrs.frozen
class Outer:
    name: str
    inner: Inner
    items: Tuple[Inner, ...] = ()
    color: Optional[Color] = None
    by_name: Mapping[str, Inner] = attrs.field(factory=dict)
    either: typing.Union[bool, str] = False


@attrs.frozen
class Unsupported:
    ratio: float = 0.5


@attrs.frozen
class AlsoUnsupported:
    ids: Set[int] = attrs.field(factory=set)


def test_generic_classes_round_trip() -> None:
    value = Outer(
        "x",
        Inner(1, frozenset({"b", "a"})),
        (Inner(2), Inner(3)),
        Color.BLUE,
        {"k": Inner(4, frozenset({"z"}))},
        "/path",
    )
    doc = serialize._dump(Outer, value, "")
    assert doc["inner"] == {"n": 1, "tags": ["a", "b"]} and doc["color"] == "blue" and doc["either"] == "/path"
    assert serialize._load(Outer, json.loads(json.dumps(doc)), "") == value
    other = attrs.evolve(value, either=True, color=None)
    assert serialize._load(Outer, serialize._dump(Outer, other, ""), "") == other


@pytest.mark.parametrize("cls", [Unsupported, AlsoUnsupported])
def test_unsupported_field_types_are_an_error(cls: type) -> None:
    with pytest.raises(TypeError, match="cannot serialize"):
        serialize._dump(cls, cls(), "")


def test_field_without_converter_is_still_checked() -> None:
    doc = serialize._dump(Outer, Outer("x", Inner()), "")
    doc["inner"]["n"] = "one"
    with pytest.raises(ConfigError) as info:
        serialize._load(Outer, doc, "")
    assert info.value.field == "inner.n"


# --- refused documents -------------------------------------------------------------------


def _set(path: List[Any], value: Any) -> Callable[[Dict[str, Any]], None]:
    def mutate(doc: Dict[str, Any]) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _bad_bounding(doc: Dict[str, Any]) -> None:
    caps = doc["process"]["capabilities"]
    assert len(caps["bounding"]) > 3
    caps["bounding"][2] = "CAP_BOGUS"


def _effective_not_permitted(doc: Dict[str, Any]) -> None:
    doc["process"]["capabilities"]["effective"].append("CAP_SYS_ADMIN")


TAMPERED: List[Tuple[str, Callable[[Dict[str, Any]], None], str, str]] = [
    ("cap name", _bad_bounding, "process.capabilities.bounding[2]", "unknown capability 'CAP_BOGUS'"),
    ("cap sets", _effective_not_permitted, "process.capabilities.effective", "not permitted"),
    ("arg type", _set(["process", "args", 1], 5), "process.args[1]", "expected str"),
    ("no args", _set(["process", "args"], []), "process.args", "must name a program"),
    ("umask bool", _set(["process", "umask"], True), "process.umask", "expected int"),
    ("uid", _set(["process", "user", "uid"], -1), "process.user.uid", "between"),
    ("gid item", _set(["process", "user", "additional_gids", 1], "x"), "process.user.additional_gids[1]", "int"),
    ("env key", _set(["process", "env"], {"A=B": "x"}), "process.env", "must not contain '='"),
    ("env value", _set(["process", "env"], {"A": 1}), "process.env['A']", "expected str"),
    ("rlimit", _set(["process", "rlimits", 0, "soft"], 10_000), "process.rlimits[0].soft", "above the hard"),
    ("rlimit name", _set(["process", "rlimits", 1, "type"], "bogus"), "process.rlimits[1].type", "unknown limit"),
    ("rlimit dup", _set(["process", "rlimits", 1, "type"], "nofile"), "process.rlimits", "given twice"),
    ("oom", _set(["process", "oom_score_adj"], 5000), "process.oom_score_adj", "-1000 to 1000"),
    ("hostname", _set(["hostname"], "x" * 65), "hostname", "at most 64 bytes"),
    ("ns", _set(["namespaces", "net"], 3), "namespaces.net", "expected True"),
    ("ns path", _set(["namespaces", "net"], "netns"), "namespaces.net", "absolute path"),
    ("userns maps", _set(["namespaces", "user"], False), "uid_mappings", "need a new user namespace"),
    ("unmapped", _set(["process", "user", "uid"], 70_000), "process.user.uid", "not mapped"),
    ("idmap", _set(["uid_mappings", 0, "size"], 0), "uid_mappings[0].size", "at least 1"),
    ("overlap", _set(["gid_mappings", 1, "container_id"], 999), "gid_mappings", "overlap"),
    ("rootfs", _set(["rootfs", "propagation"], "sideways"), "rootfs.propagation", "must be one of"),
    ("no_pivot", _set(["rootfs", "no_pivot"], True), "rootfs.no_pivot", "not safe in a user namespace"),
    ("mount dest", _set(["mounts", "items", 3, "destination"], "rel"), "mounts.items[3].destination", "absolute"),
    ("mount opt", _set(["mounts", "items", 9, "options", 1], "fast"), "mounts.items[9].options[1]", "unknown mount"),
    ("bind src", _set(["mounts", "items", 7, "source"], None), "mounts.items[7].source", "needs a source"),
    ("device", _set(["devices", 0, "type"], "x"), "devices[0].type", "'c'"),
    ("device path", _set(["devices", 6, "path"], "/tmp/fuse"), "devices[6].path", "under /dev"),
    ("masked", _set(["masked_paths", 1], "rel"), "masked_paths[1]", "absolute"),
    ("sysctl", _set(["sysctl"], {"kernel.hostname": "x"}), "sysctl['kernel.hostname']", "Config.hostname"),
    ("action", _set(["seccomp", "rules", 2, "action"], "explode"), "seccomp.rules[2].action", "unknown action"),
    ("syscall", _set(["seccomp", "rules", 0, "syscalls", 1], "Write!"), "seccomp.rules[0].syscalls[1]", "not a"),
    ("op", _set(["seccomp", "rules", 3, "args", 1, "op"], "regex"), "seccomp.rules[3].args[1].op", "must be one"),
    ("arg value", _set(["seccomp", "rules", 5, "args", 0, "value"], 2**64), "seccomp.rules[5].args[0].value", ""),
    ("errno", _set(["seccomp", "rules", 0, "errno"], 1), "seccomp.rules[0].errno", "only the errno and trace"),
    ("arch", _set(["seccomp", "architectures", 1], "pdp11"), "seccomp.architectures[1]", "unknown architecture"),
    ("notify default", _set(["seccomp", "default_action"], "notify"), "seccomp.default_action", "notify cannot"),
    ("memory", _set(["cgroup", "memory", "max"], "lots"), "cgroup.memory.max", "not a size"),
    ("cpu both", _set(["cgroup", "cpu", "shares"], 1024), "cgroup.cpu.shares", "not both"),
    ("cpus", _set(["cgroup", "cpu", "cpus"], "3-1"), "cgroup.cpu.cpus", "backwards"),
    ("io key", _set(["cgroup", "io", "read_bps"], {"sda": 1}), "cgroup.io.read_bps key", "device path"),
    ("io value", _set(["cgroup", "io", "read_iops"], {"8:0": -5}), "cgroup.io.read_iops['8:0']", "between"),
    ("hugetlb", _set(["cgroup", "hugetlb", "limits"], {"3MB": 0}), "cgroup.hugetlb.limits key", "power of two"),
    ("rule", _set(["cgroup", "devices", "rules", 1, "access"], "rwx"), "cgroup.devices.rules[1].access", "r, w"),
    ("rule a", _set(["cgroup", "devices", "rules", 0, "major"], 1), "cgroup.devices.rules[0].type", "type 'a'"),
    ("cgroup path", _set(["cgroup", "path"], "../up"), "cgroup.path", "relative cgroup path"),
    ("accounting", _set(["cgroup", "accounting"], 0), "cgroup.accounting", "expected bool"),
]


@pytest.mark.parametrize(("mutate", "field", "message"), [t[1:] for t in TAMPERED], ids=[t[0] for t in TAMPERED])
def test_tampered_document_names_the_field(mutate: Callable[[Dict[str, Any]], None], field: str, message: str) -> None:
    doc = json.loads(json.dumps(config_to_dict(userns_config())))
    mutate(doc)
    with pytest.raises(ConfigError) as info:
        config_from_dict(doc)
    assert info.value.field == field, str(info.value)
    assert message in info.value.message
    assert str(info.value) == f"{field}: {info.value.message}"


def test_tampered_value_gets_the_classes_own_message() -> None:
    doc = config_to_dict(userns_config())
    doc["process"]["capabilities"]["bounding"][2] = "CAP_BOGUS"
    with pytest.raises(ConfigError) as from_doc:
        config_from_dict(doc)
    with pytest.raises(ConfigError) as direct:
        lc.Capabilities(bounding=["CAP_CHOWN", "CAP_BOGUS"])
    assert from_doc.value.message == direct.value.message

    doc = config_to_dict(userns_config())
    doc["mounts"]["items"][0]["data"] = 7
    with pytest.raises(ConfigError) as from_doc:
        config_from_dict(doc)
    with pytest.raises(ConfigError) as direct:
        lc.Mount("/x", "tmpfs", data=7)  # type: ignore[arg-type]
    assert (from_doc.value.field, from_doc.value.message) == ("mounts.items[0].data", direct.value.message)


def test_aliases_the_classes_accept_are_read() -> None:
    """The document goes through the converters: what Config() takes is taken."""
    doc = config_to_dict(userns_config())
    doc["process"]["capabilities"]["bounding"] = [n.lower()[4:] for n in doc["process"]["capabilities"]["bounding"]]
    doc["seccomp"]["rules"][7]["action"] = "kill"
    doc["cgroup"]["memory"]["max"] = "64M"
    back = config_from_dict(doc)
    assert back.process.capabilities == userns_config().process.capabilities
    assert back.seccomp is not None and back.seccomp.rules[7].action is lc.Action.KILL_PROCESS


def test_a_converter_that_trips_still_gives_a_config_error() -> None:
    """A None limit in a device map is refused with a ConfigError naming the
    device."""
    doc = config_to_dict(userns_config())
    doc["cgroup"]["io"]["write_iops"]["8:0"] = None
    with pytest.raises(ConfigError) as info:
        config_from_dict(doc)
    assert info.value.field.startswith("cgroup.io.write_iops")


@pytest.mark.parametrize("version", [None, 0, 8, "1", 1.0, True, [1]])
def test_unknown_versions_are_refused(version: Any) -> None:
    doc = config_to_dict(lc.Config())
    doc["version"] = version
    with pytest.raises(ConfigError) as info:
        config_from_dict(doc)
    assert info.value.field == "version" and "unsupported" in info.value.message


def test_a_version_1_document_loads_without_the_fields_added_since() -> None:
    """The state file of a container made before copy_up existed still
    loads (copy_up False, what version 1 did); a version 2 document must
    have it, and other missing keys are refused in both."""
    config = lc.Config(mounts=lc.Mounts.default() + [lc.Mount.tmpfs("/scratch")])
    doc = config_to_dict(config)
    for mount in doc["mounts"]["items"]:
        del mount["copy_up"]
    with pytest.raises(ConfigError) as info:
        config_from_dict(doc)
    assert info.value.message == "is required" and info.value.field.endswith(".copy_up")
    doc["version"] = 1
    assert config_from_dict(doc) == config
    del doc["process"]["cwd"]
    with pytest.raises(ConfigError) as info:
        config_from_dict(doc)
    assert (info.value.field, info.value.message) == ("process.cwd", "is required")


def test_a_version_2_document_loads_without_scheduling() -> None:
    """Process.scheduler and io_priority came with version 3: a version 2
    document lacks them and reads as None (the caller's scheduling)."""
    config = lc.Config(process=lc.Process(args=["true"]))
    doc = config_to_dict(config)
    del doc["process"]["scheduler"], doc["process"]["io_priority"], doc["process"]["exec_cpu_affinity"]
    del doc["memory_policy"]
    with pytest.raises(ConfigError) as info:
        config_from_dict(doc)
    assert info.value.message == "is required"
    doc["version"] = 2
    assert config_from_dict(doc) == config


def test_a_version_3_document_loads_without_recursive_options_and_owners() -> None:
    """Mount.recursive_options, Device.uid and gid came with version 4: a
    version 3 document lacks them and reads as (), 0 and 0."""
    config = lc.Config(process=lc.Process(args=["true"]))
    doc = config_to_dict(config)
    for m in doc["mounts"]["items"]:
        del m["recursive_options"]
    for d in doc["devices"]:
        del d["uid"], d["gid"]
    with pytest.raises(ConfigError):
        config_from_dict(doc)
    doc["version"] = 3
    assert config_from_dict(doc) == config


def test_a_version_4_document_loads_without_networks() -> None:
    """Config.network came with version 5: a version 4 document lacks it and
    reads as no network; a version 5 one keeps each attachment."""
    config = lc.Config(process=lc.Process(args=["true"]))
    doc = config_to_dict(config)
    del doc["network"]
    with pytest.raises(ConfigError):
        config_from_dict(doc)
    doc["version"] = 4
    assert config_from_dict(doc) == config
    networked = config.evolve(
        network=[lc.Network.bridge(ports={8080: 80}), lc.Network.bridge(name="b", ip="10.1.0.9/16")]
    )
    assert roundtrip(networked) == networked


@pytest.mark.parametrize("field, value", [("new_session", True), ("passwd_home", True), ("session_keyring", "k")])
def test_a_version_5_document_loads_without_the_version_6_fields(field: str, value: Any) -> None:
    """Process.new_session, passwd_home and session_keyring came with
    version 6: a version 5 document lacks them and reads as before (the
    caller's session and keyring, no HOME added); a version 6 one keeps them."""
    config = lc.Config(process=lc.Process(args=["true"]))
    doc = config_to_dict(config)
    del doc["process"][field]
    with pytest.raises(ConfigError):
        config_from_dict(doc)
    doc["version"] = 5
    assert config_from_dict(doc) == config
    changed = config.evolve(process=lc.Process(args=["true"], **{field: value}))
    assert roundtrip(changed) == changed


def test_a_version_6_document_loads_without_make_cwd() -> None:
    """Process.make_cwd came with version 7: a version 6 document lacks it
    and reads as before (a missing cwd is an error); a version 7 one keeps it."""
    config = lc.Config(process=lc.Process(args=["true"]))
    doc = config_to_dict(config)
    del doc["process"]["make_cwd"]
    with pytest.raises(ConfigError):
        config_from_dict(doc)
    doc["version"] = 6
    assert config_from_dict(doc) == config
    changed = config.evolve(process=lc.Process(args=["true"], cwd="/w", make_cwd=True))
    assert roundtrip(changed) == changed


def test_missing_version_is_refused() -> None:
    doc = config_to_dict(lc.Config())
    del doc["version"]
    with pytest.raises(ConfigError) as info:
        config_from_dict(doc)
    assert info.value.field == "version"


STRUCTURE: List[Tuple[str, Callable[[Dict[str, Any]], None], str, str]] = [
    ("top key", _set(["extra"], 1), "extra", "unknown key"),
    ("nested key", _set(["process", "user", "name"], "root"), "process.user.name", "unknown key"),
    ("deep key", _set(["seccomp", "rules", 3, "args", 0], {"index": 0}), "seccomp.rules[3].args[0].op", "required"),
    ("list item key", _set(["mounts", "items", 2, "flags"], 0), "mounts.items[2].flags", "unknown key"),
    ("object for list", _set(["masked_paths"], {"a": 1}), "masked_paths", "expected a list"),
    ("str for list", _set(["process", "capabilities", "ambient"], "CAP_KILL"), "process.capabilities.ambient", "list"),
    ("list for object", _set(["process"], []), "process", "expected an object"),
    ("str for mapping", _set(["sysctl"], "a=b"), "sysctl", "expected an object"),
    ("null for object", _set(["namespaces"], None), "namespaces", "expected an object"),
]


@pytest.mark.parametrize(("mutate", "field", "message"), [t[1:] for t in STRUCTURE], ids=[t[0] for t in STRUCTURE])
def test_malformed_document_names_the_field(mutate: Callable[[Dict[str, Any]], None], field: str, message: str) -> None:
    doc = config_to_dict(userns_config())
    mutate(doc)
    with pytest.raises(ConfigError) as info:
        config_from_dict(doc)
    assert info.value.field == field, str(info.value)
    assert message in info.value.message


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (["process", "cwd"], "process.cwd"),
        (["hostname"], "hostname"),
        (["cgroup", "memory", "high"], "cgroup.memory.high"),
    ],
)
def test_missing_keys_are_refused(path: List[str], field: str) -> None:
    doc = config_to_dict(userns_config())
    target: Any = doc
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    with pytest.raises(ConfigError) as info:
        config_from_dict(doc)
    assert (info.value.field, info.value.message) == (field, "is required")


@pytest.mark.parametrize("data", [None, [], "{}", 1])
def test_not_a_document(data: Any) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_dict(data)
    assert info.value.field == "config"


# --- property tests -----------------------------------------------------------------------


_text = strategies.text
_path = strategies.path
_cap = strategies.capability
capabilities = strategies.capabilities


processes = strategies.processes


_mount = st.one_of(
    st.builds(
        lambda src, dst, ro, rec, prop: lc.Mount.bind(src, dst, readonly=ro, recursive=rec, propagation=prop),
        _path,
        _path,
        st.booleans(),
        st.booleans(),
        st.none() | st.sampled_from(["private", "rslave", "shared"]),
    ),
    st.builds(
        lambda dst, mode, size, copy_up: lc.Mount.tmpfs(dst, mode=mode, size=size, copy_up=copy_up),
        _path,
        st.none() | st.integers(0, 0o7777),
        st.none() | st.sampled_from(["64m", "1g"]),
        st.booleans(),
    ),
    st.sampled_from([lc.Mount.proc(), lc.Mount.sysfs(), lc.Mount.devpts(), lc.Mount.shm(), lc.Mount.mqueue()]),
    st.builds(
        lambda dst, ro, prop: lc.Mount.cgroup(dst, readonly=ro, propagation=prop),
        _path,
        st.booleans(),
        st.none() | st.sampled_from(["rprivate", "rslave"]),
    ),
)


@st.composite
def configs(draw: Any) -> lc.Config:
    rooted = draw(st.booleans())
    ns: Dict[str, Any] = {kind: draw(st.booleans() | _path) for kind in ("uts", "ipc", "pid", "net", "cgroup", "time")}
    ns["mount"] = True if rooted else draw(st.booleans() | _path)
    kwargs: Dict[str, Any] = {
        "process": draw(processes()),
        "namespaces": lc.Namespaces(**ns),
        "seccomp": draw(st.none() | st.just(custom_seccomp())),
        "cgroup": draw(
            st.none()
            | st.builds(
                lambda mem, pids: lc.CgroupConfig(memory=lc.Memory(max=mem), pids=lc.Pids(max=pids)),
                st.none() | st.integers(1 << 20, 2**40),
                st.none() | st.integers(0, 2**20),
            )
        ),
    }
    if rooted:
        kwargs["rootfs"] = draw(st.just(lc.Rootfs.host()) | _path.map(lc.Rootfs.directory))
        kwargs["mounts"] = lc.Mounts.default() + draw(st.lists(_mount, max_size=4))
        kwargs["masked_paths"] = draw(st.lists(_path, max_size=3))
    else:
        kwargs.update(rootfs=None, mounts=(), devices=(), masked_paths=(), readonly_paths=())
    if ns["uts"] is True:
        kwargs["hostname"] = draw(st.none() | st.text("abc-", min_size=1, max_size=10))
    if ns["ipc"] is True:
        one_line = _text.filter(lambda v: "\n" not in v)  # check_sysctl refuses a newline in a value
        kwargs["sysctl"] = draw(st.dictionaries(st.sampled_from(["kernel.sem", "kernel.msgmax"]), one_line))
    return lc.Config(**kwargs)


@settings(max_examples=60, deadline=None)
@given(configs())
def test_property_round_trip(config: lc.Config) -> None:
    text = json.dumps(config_to_dict(config))
    back = config_from_dict(json.loads(text))
    assert back == config
    assert json.dumps(config_to_dict(back)) == text


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=6,
)


def _positions(value: Any, at: Tuple[Any, ...] = ()) -> Iterator[Tuple[Any, ...]]:
    if at:
        yield at
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _positions(v, (*at, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _positions(v, (*at, i))


_DOCS = [config_to_dict(make()) for make in FULL.values()]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_property_tampered_document_loads_or_raises_config_error(data: Any) -> None:
    doc = copy.deepcopy(data.draw(st.sampled_from(_DOCS)))
    at = data.draw(st.sampled_from(sorted(_positions(doc), key=repr)))
    target = doc
    for key in at[:-1]:
        target = target[key]
    if isinstance(target, dict) and data.draw(st.booleans()):
        del target[at[-1]]
    else:
        target[at[-1]] = data.draw(_json)
    try:
        config = config_from_dict(doc)
    except ConfigError as err:
        assert err.field and not err.field.startswith(".")
    else:
        assert roundtrip(config) == config
