"""OCI config.json <-> Config (libcontainer_py.oci); pure, no root needed."""

from __future__ import annotations

import copy
import errno
import json
import os
import warnings
from typing import Any, Dict, Optional

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import strategies

import libcontainer_py as lc
from libcontainer_py.errors import ConfigError
from libcontainer_py.limits import INFINITY
from libcontainer_py.oci import OciConfig, OciWarning, config_from_oci, config_to_oci, load_bundle
from libcontainer_py.oci.mounts import mount_to_oci
from libcontainer_py.oci.resources import DEFAULT_ALLOWS
from libcontainer_py.oci.spec import NO_PROCESS, host_lsms

#: What `runc spec` (runc 1.1) writes.
RUNC_SPEC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "support", "runc-1.1-spec.json")

ROOT = "/srv/rootfs"


def minimal(**changes: Any) -> Dict[str, Any]:
    """The smallest valid document; ``changes`` are merged in (dotted keys)."""
    doc: Dict[str, Any] = {
        "ociVersion": "1.0.2",
        "process": {"args": ["sh"], "cwd": "/"},
        "root": {"path": ROOT},
        "linux": {"namespaces": [{"type": "mount"}]},
    }
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = doc
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    return doc


def load(**changes: Any) -> lc.Config:
    return config_from_oci(minimal(**changes)).config


def refused(field: str, doc: Dict[str, Any], *, bundle: Optional[str] = None, match: str = "") -> ConfigError:
    with pytest.raises(ConfigError) as info:
        config_from_oci(doc, bundle=bundle)
    assert info.value.field == field, str(info.value)
    assert match in info.value.message
    return info.value


def roundtrip(config: lc.Config) -> lc.Config:
    return config_from_oci(json.loads(json.dumps(config_to_oci(config)))).config


def base(**changes: Any) -> lc.Config:
    """A Config OCI can express: a directory root, explicit cgroup and seccomp."""
    fields: Dict[str, Any] = dict(
        rootfs=lc.Rootfs.directory(ROOT),
        process=lc.Process(args=["sh"]),
        seccomp=None,
        cgroup=None,
    )
    fields.update(changes)
    return lc.Config(**fields)


# --- the minimal document and OCI's defaults ------------------------------------------


def test_minimal_document_uses_oci_defaults_not_config_defaults() -> None:
    c = load()
    assert c.rootfs == lc.Rootfs.directory(ROOT)
    assert c.namespaces == lc.Namespaces(mount=True)
    assert c.process.capabilities == lc.Capabilities()  # none, not all
    assert c.process.no_new_privileges is False
    assert c.process.umask == 0o022
    assert c.process.env == {}
    assert c.process.terminal is False
    assert c.seccomp is None  # no filter
    assert c.cgroup is None
    assert c.mounts == lc.Mounts()
    assert c.devices == ()
    assert c.masked_paths == () and c.readonly_paths == ()
    assert c.hostname is None


def test_oci_config_extras() -> None:
    doc = minimal(**{"annotations": {"a.b": "c"}, "process.consoleSize": {"height": 24, "width": 80}})
    doc["ociVersion"] = "1.1.0"
    oc = config_from_oci(doc)
    assert oc.annotations == {"a.b": "c"}
    assert oc.oci_version == "1.1.0"
    assert oc.console_size == (24, 80)
    out = oc.to_oci()
    assert out["annotations"] == {"a.b": "c"}
    assert out["ociVersion"] == "1.1.0"
    assert out["process"]["consoleSize"] == {"height": 24, "width": 80}
    assert config_from_oci(out) == oc


def test_oci_config_is_frozen() -> None:
    oc = config_from_oci(minimal())
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        oc.annotations = {}  # type: ignore[misc]


# --- process ----------------------------------------------------------------------------


def test_process_fields() -> None:
    p = load(
        **{
            "process.terminal": True,
            "process.user": {"uid": 1000, "gid": 100, "umask": 0o077, "additionalGids": [5, 6]},
            "process.args": ["/bin/sh", "-c", ""],
            "process.env": ["PATH=/bin", "A=x=y", "EMPTY="],
            "process.cwd": "/work",
            "process.capabilities": {
                "bounding": ["CAP_KILL", "CAP_CHOWN"],
                "effective": ["CAP_KILL"],
                "permitted": ["CAP_KILL", "CAP_CHOWN"],
                "inheritable": ["CAP_KILL"],
                "ambient": ["CAP_KILL"],
            },
            "process.rlimits": [
                {"type": "RLIMIT_NOFILE", "hard": 2048, "soft": 1024},
                {"type": "RLIMIT_CORE", "hard": 2**64 - 1, "soft": 2**64 - 1},
            ],
            "process.noNewPrivileges": True,
            "process.oomScoreAdj": 500,
            "process.apparmorProfile": "",
            "process.selinuxLabel": "",
        }
    ).process
    assert p.terminal is True
    assert p.user == lc.User(1000, 100, (5, 6))
    assert p.umask == 0o077
    assert p.args == ("/bin/sh", "-c", "")
    assert dict(p.env) == {"PATH": "/bin", "A": "x=y", "EMPTY": ""}
    assert p.cwd == "/work"
    assert p.capabilities == lc.Capabilities(
        bounding={"CAP_KILL", "CAP_CHOWN"},
        effective={"CAP_KILL"},
        permitted={"CAP_KILL", "CAP_CHOWN"},
        inheritable={"CAP_KILL"},
        ambient={"CAP_KILL"},
    )
    assert p.rlimits == (lc.Rlimit("nofile", 1024, 2048), lc.Rlimit("core", None, None))
    assert p.rlimits[1].soft == INFINITY
    assert p.no_new_privileges is True
    assert p.oom_score_adj == 500


def test_env_duplicates_last_wins() -> None:
    env = load(**{"process.env": ["A=1", "B=2", "A=3"]}).process.env
    assert dict(env) == {"B": "2", "A": "3"}


def test_ambient_without_inheritable_is_dropped_with_a_warning() -> None:
    caps = {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"], "ambient": ["CAP_KILL"]}
    with pytest.warns(OciWarning, match="CAP_KILL"):
        c = load(**{"process.capabilities": caps})
    assert c.process.capabilities.ambient == frozenset()
    assert c.process.capabilities.permitted == {"CAP_KILL"}


@pytest.mark.parametrize(
    "key, value, field, match",
    [
        ("process.args", [], "process", "program"),
        ("process.args", "sh", "process.args", "list"),
        ("process.args", [1], "process.args[0]", "string"),
        ("process.cwd", "rel", "process", "absolute"),
        ("process.env", ["NOEQUALS"], "process.env[0]", "NAME=VALUE"),
        ("process.terminal", "yes", "process.terminal", "true or false"),
        ("process.noNewPrivileges", 1, "process.noNewPrivileges", "true or false"),
        ("process.oomScoreAdj", 5000, "process", "-1000"),
        ("process.user", {"uid": 0}, "process.user.gid", "required"),
        ("process.user", {"uid": -1, "gid": 0}, "process.user", "uid"),
        ("process.user", {"uid": 0, "gid": 0, "username": "root"}, "process.user.username", "Windows"),
        ("process.user", {"uid": 0, "gid": 0, "umask": 0o1000}, "process.user.umask", "between"),
        ("process.capabilities", {"bounding": ["CAP_NOPE"]}, "process.capabilities.bounding", "unknown capability"),
        ("process.capabilities", {"effective": ["CAP_KILL"]}, "process.capabilities", "not permitted"),
        ("process.rlimits", [{"type": "RLIMIT_NOPE", "hard": 1, "soft": 1}], "process.rlimits[0]", "unknown limit"),
        ("process.rlimits", [{"type": "RLIMIT_NOFILE", "hard": 1}], "process.rlimits[0].soft", "required"),
        ("process.rlimits", [{"type": "RLIMIT_NOFILE", "hard": 1, "soft": 2}], "process.rlimits[0]", "above"),
        (
            "process.rlimits",
            [{"type": "RLIMIT_NOFILE", "hard": 1, "soft": 1}, {"type": "RLIMIT_NOFILE", "hard": 1, "soft": 1}],
            "process",
            "twice",
        ),
        ("process.ioPriority", {"class": "IOPRIO_CLASS_NOPE"}, "process.ioPriority", "unknown"),
        ("process.ioPriority", {"class": "IOPRIO_CLASS_BE", "priority": 8}, "process.ioPriority", "0 to 7"),
        ("process.ioPriority", {"priority": 1}, "process.ioPriority.class", "required"),
        ("process.scheduler", {"policy": "SCHED_ISO"}, "process.scheduler", "not in the Linux kernel"),
        ("process.scheduler", {"nice": 1}, "process.scheduler.policy", "required"),
        ("process.scheduler", {"policy": "SCHED_FIFO"}, "process.scheduler", "needs a priority"),
        ("process.scheduler", {"policy": "SCHED_OTHER", "priority": 5}, "process.scheduler", "takes no priority"),
        ("process.scheduler", {"policy": "SCHED_OTHER", "nice": 20}, "process.scheduler", "-20 to 19"),
        (
            "process.scheduler",
            {"policy": "SCHED_OTHER", "flags": ["SCHED_FLAG_UTIL_CLAMP_MIN"]},
            "process.scheduler",
            "no clamp values",
        ),
        ("process.scheduler", {"policy": "SCHED_DEADLINE", "runtime": 10}, "process.scheduler", "at least 1024"),
        ("process.execCPUAffinity", {"initial": "0-x"}, "process.execCPUAffinity", "CPU list"),
        ("process.execCPUAffinity", {"final": "3-1"}, "process.execCPUAffinity", "bad range"),
        ("process.execCPUAffinity", {"final": "2000"}, "process.execCPUAffinity", "0 to 1023"),
        ("process.consoleSize", {"height": 1}, "process.consoleSize.width", "required"),
    ],
)
def test_process_refusals(key: str, value: Any, field: str, match: str) -> None:
    refused(field, minimal(**{key: value}), match=match)


@pytest.mark.parametrize("key", ["process.apparmorProfile", "process.selinuxLabel", "linux.mountLabel"])
def test_lsm_labels_refused_unless_empty(key: str) -> None:
    load(**{key: ""})
    err = refused(key, minimal(**{key: "unconfined_t"}), match="not supported")
    if not host_lsms():
        assert "no LSM" in err.message


def test_process_is_optional_but_its_parts_are_not() -> None:
    """config.md: process is optional (required by start): without it the
    Config has the NO_PROCESS stand-in and has_process is False."""
    doc = minimal()
    del doc["process"]
    oci = config_from_oci(doc)
    assert (oci.has_process, oci.config.process) == (False, NO_PROCESS)
    assert "process" not in oci.to_oci() and config_from_oci(oci.to_oci()) == oci
    assert config_from_oci(minimal()).has_process
    doc = minimal()
    del doc["process"]["cwd"]
    refused("process.cwd", doc, match="required")


# --- root, hostname, top level -------------------------------------------------------------


def test_root() -> None:
    c = load(**{"root": {"path": ROOT, "readonly": True}, "linux.rootfsPropagation": "rprivate"})
    assert c.rootfs == lc.Rootfs.directory(ROOT, readonly=True, propagation="rprivate")


def test_relative_root_needs_a_bundle() -> None:
    doc = minimal(root={"path": "rootfs"})
    refused("root.path", doc, match="bundle")
    assert config_from_oci(doc, bundle="/b").config.rootfs == lc.Rootfs.directory("/b/rootfs")


def test_load_bundle(tmp_path: Any) -> None:
    (tmp_path / "config.json").write_text(json.dumps(minimal(root={"path": "rootfs"})))
    oc = load_bundle(str(tmp_path))
    assert oc.config.rootfs is not None and oc.config.rootfs.path == str(tmp_path / "rootfs")
    assert oc.bundle == str(tmp_path)
    assert load_bundle(str(tmp_path / "config.json")) == oc  # the file itself
    (tmp_path / "config.json").write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_bundle(str(tmp_path))
    with pytest.raises(ConfigError, match="cannot read"):
        load_bundle(str(tmp_path / "missing"))


def test_hostname_and_domainname() -> None:
    ns = [{"type": "mount"}, {"type": "uts"}]
    c = load(**{"hostname": "box", "domainname": "example.org", "linux.namespaces": ns})
    assert (c.hostname, c.domainname) == ("box", "example.org")
    c = load(**{"hostname": "", "linux.namespaces": ns})
    assert c.hostname is None
    refused("hostname", minimal(hostname="x" * 65, **{"linux.namespaces": ns}), match="64 bytes")
    refused("hostname", minimal(hostname="box"), match="uts namespace")


@pytest.mark.parametrize(
    "doc_change, field, match",
    [
        ({"ociVersion": "2.0.0"}, "ociVersion", "1.x"),
        ({"ociVersion": 1}, "ociVersion", "string"),
        ({"root": None}, "root", "required"),
        ({"annotations": {"a": 1}}, "annotations['a']", "string"),
    ],
)
def test_top_level_refusals(doc_change: Dict[str, Any], field: str, match: str) -> None:
    doc = minimal()
    doc.update(doc_change)
    refused(field, doc, match=match)


def test_not_an_object() -> None:
    with pytest.raises(ConfigError, match="expected an object"):
        config_from_oci([])  # type: ignore[arg-type]


def test_version_required() -> None:
    doc = minimal()
    del doc["ociVersion"]
    refused("ociVersion", doc, match="required")


# --- mounts --------------------------------------------------------------------------------


def mount(entry: Dict[str, Any], bundle: Optional[str] = None) -> lc.Mount:
    doc = minimal(mounts=[entry])
    return config_from_oci(doc, bundle=bundle).config.mounts[0]


def test_mount_flag_options() -> None:
    m = mount(
        {
            "destination": "/data",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["ro", "nosuid", "nodev", "noexec", "noatime", "nodiratime", "mode=755", "size=1m", "uid=5"],
        }
    )
    assert m == lc.Mount(
        "/data",
        "tmpfs",
        "tmpfs",
        readonly=True,
        nosuid=True,
        nodev=True,
        noexec=True,
        options=("noatime", "nodiratime"),
        data="mode=755,size=1m,uid=5",
    )


def test_mount_later_options_win() -> None:
    m = mount(
        {
            "destination": "/d",
            "type": "tmpfs",
            "options": ["ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec", "noatime", "atime", "defaults"],
        }
    )
    assert m == lc.Mount("/d", "tmpfs", None)


@pytest.mark.parametrize(
    "options, mtype, recursive",
    [(["rbind"], "none", True), (["bind"], "none", False), ([], "bind", False), (["rbind"], "bind", True)],
)
def test_bind_mounts(options: Any, mtype: str, recursive: bool) -> None:
    m = mount({"destination": "/mnt", "type": mtype, "source": "/host", "options": [*options, "ro", "rslave"]})
    assert m == lc.Mount("/mnt", "bind", "/host", readonly=True, recursive=recursive, propagation="rslave")


def test_bind_mount_without_type() -> None:
    assert mount({"destination": "/mnt", "source": "/host", "options": ["rbind"]}) == lc.Mount.bind("/host", "/mnt")


def test_relative_bind_source_is_in_the_bundle() -> None:
    entry = {"destination": "/mnt", "type": "bind", "source": "data", "options": ["rbind"]}
    assert mount(entry, bundle="/b") == lc.Mount.bind("/b/data", "/mnt")
    refused("mounts[0].source", minimal(mounts=[entry]), match="bundle")


@pytest.mark.parametrize(
    "prop", ["private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable"]
)
def test_mount_propagation(prop: str) -> None:
    assert mount({"destination": "/m", "type": "tmpfs", "options": [prop]}).propagation == prop


def test_cgroup_mount_is_the_containers_cgroups() -> None:
    """OCI's "cgroup" is runc's: the container's own cgroups (Mount.cgroup),
    written back as "cgroup"; an explicit "cgroup2" stays the file system."""
    entry = {
        "destination": "/sys/fs/cgroup",
        "type": "cgroup",
        "source": "cgroup",
        "options": ["rprivate", "nosuid", "noexec", "nodev", "relatime", "ro"],
    }
    m = mount(entry)
    assert m == lc.Mount.cgroup(propagation="rprivate") and m.is_cgroup
    assert mount_to_oci("m", m) == {**entry, "options": ["ro", "nosuid", "nodev", "noexec", "relatime", "rprivate"]}
    assert mount(mount_to_oci("m", m)) == m
    assert mount(mount_to_oci("m", lc.Mount.cgroup())) == lc.Mount.cgroup()
    rw = mount({"destination": "/c", "type": "cgroup"})
    assert rw == lc.Mount("/c", "cgroup") and not rw.readonly and rw.is_cgroup
    assert mount(mount_to_oci("m", rw)) == rw
    v2 = mount({"destination": "/sys/fs/cgroup", "type": "cgroup2", "source": "cgroup2", "options": ["ro"]})
    assert v2 == lc.Mount("/sys/fs/cgroup", "cgroup2", "cgroup2", readonly=True) and not v2.is_cgroup
    with pytest.raises(ConfigError) as info:
        mount({"destination": "/sys/fs/cgroup", "type": "cgroup", "options": ["ro", "memory"]})
    assert info.value.field.startswith("mounts[0]") and "no file system data" in info.value.message


@pytest.mark.parametrize(
    "entry, field, match",
    [
        ({"destination": "/m", "type": "tmpfs", "options": ["private", "shared"]}, "mounts[0].options[1]", "second"),
        ({"destination": "/m", "type": "proc", "options": ["tmpcopyup"]}, "mounts[0].options[0]", "tmpfs only"),
        (
            {"destination": "/m", "type": "bind", "source": "/x", "options": ["rbind", "tmpcopyup"]},
            "mounts[0].options[1]",
            "tmpfs only",
        ),
        ({"destination": "/m", "type": "tmpfs", "options": ["remount"]}, "mounts[0].options[0]", "remount"),
        ({"destination": "/m", "type": "tmpfs", "options": [""]}, "mounts[0].options[0]", "empty"),
        ({"destination": "/m", "type": "bind"}, "mounts[0].source", "needs a source"),
        ({"destination": "/m", "source": "x"}, "mounts[0].type", "required"),
        ({"destination": "/m", "type": "none"}, "mounts[0].type", "bind"),
        ({"destination": "m", "type": "tmpfs"}, "mounts[0]", "absolute"),
        ({"type": "tmpfs"}, "mounts[0].destination", "required"),
        (
            {"destination": "/m", "type": "bind", "source": "/x", "uidMappings": [{"containerID": 0}]},
            "mounts[0].uidMappings",
            "id-mapped",
        ),
    ],
)
def test_mount_refusals(entry: Dict[str, Any], field: str, match: str) -> None:
    refused(field, minimal(mounts=[entry]), match=match)


def test_tmpcopyup_is_copy_up() -> None:
    entry = {"destination": "/d", "type": "tmpfs", "source": "tmpfs", "options": ["rw", "tmpcopyup", "mode=755"]}
    m = mount(entry)
    assert m == lc.Mount("/d", "tmpfs", "tmpfs", data="mode=755", copy_up=True)
    assert config_to_oci(base(mounts=[m]))["mounts"][0]["options"] == ["tmpcopyup", "mode=755"]
    assert not mount({"destination": "/d", "type": "tmpfs", "options": ["rw"]}).copy_up


def test_mount_data_that_reads_as_a_flag_cannot_be_written() -> None:
    c = base(mounts=[lc.Mount("/m", "tmpfs", data="size=1m,ro")])
    with pytest.raises(ConfigError) as info:
        config_to_oci(c)
    assert info.value.field == "mounts[0].data"


def test_non_recursive_non_bind_cannot_be_written() -> None:
    with pytest.raises(ConfigError) as info:
        config_to_oci(base(mounts=[lc.Mount("/m", "tmpfs", recursive=False)]))
    assert info.value.field == "mounts[0].recursive"


# --- hooks -------------------------------------------------------------------------------


def test_hooks() -> None:
    hook = {"path": "/bin/hook", "args": ["hook", "x"], "env": ["A=1"], "timeout": 5}
    keys = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]
    c = load(hooks={k: [hook, {"path": f"/bin/{k}"}] for k in keys})
    for name in lc.hooks.PHASES:
        assert c.hooks.of(name) == (lc.Hook("/bin/hook", ("hook", "x"), ("A=1",), 5), lc.Hook(f"/bin/{_camel(name)}"))
    refused("hooks.prestart[0]", minimal(hooks={"prestart": [{"path": "/x", "timeout": 0}]}), match="positive")
    refused("hooks.prestart[0].path", minimal(hooks={"prestart": [{}]}), match="required")


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(r.title() for r in rest)


# --- linux ------------------------------------------------------------------------------


def test_namespaces() -> None:
    ns = [{"type": t} for t in ("pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")]
    assert load(**{"linux.namespaces": ns}).namespaces == lc.Namespaces.all()
    joined = [{"type": "mount"}, {"type": "network", "path": "/proc/1/ns/net"}, {"type": "pid", "path": ""}]
    assert load(**{"linux.namespaces": joined}).namespaces == lc.Namespaces(mount=True, net="/proc/1/ns/net", pid=True)
    refused(
        "linux.namespaces[1].type",
        minimal(**{"linux.namespaces": [{"type": "mount"}, {"type": "net"}]}),
        match="unknown",
    )
    dup = [{"type": "mount"}, {"type": "pid"}, {"type": "pid"}]
    refused("linux.namespaces[2].type", minimal(**{"linux.namespaces": dup}), match="twice")
    refused("linux.namespaces", minimal(**{"linux.namespaces": [{"type": "mount"}, {"type": "pid", "path": "rel"}]}))


def test_id_mappings() -> None:
    ns = [{"type": "mount"}, {"type": "user"}]
    m = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    c = load(**{"linux.namespaces": ns, "linux.uidMappings": m, "linux.gidMappings": m})
    assert c.uid_mappings == c.gid_mappings == (lc.IDMap(0, 100000, 65536),)
    refused("linux.uidMappings[0].size", minimal(**{"linux.uidMappings": [{"containerID": 0, "hostID": 1}]}))
    bad = [{"containerID": 0, "hostID": 1, "size": 0}]
    refused("linux.uidMappings[0]", minimal(**{"linux.namespaces": ns, "linux.uidMappings": bad}), match="at least 1")


DEV_MOUNT = {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]}


def test_devices_and_the_standard_ones() -> None:
    fuse = {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o20666, "uid": 0, "gid": 0}
    null = {"path": "/dev/null", "type": "u", "major": 1, "minor": 3, "fileMode": 0o600}
    c = load(mounts=[DEV_MOUNT], **{"linux.devices": [fuse, null]})
    assert c.devices[:2] == (lc.Device("/dev/fuse", "c", 10, 229, 0o666), lc.Device("/dev/null", "c", 1, 3, 0o600))
    assert c.devices[2:] == tuple(d for d in lc.DEFAULT_DEVICES if d.path != "/dev/null")
    assert load(mounts=[DEV_MOUNT]).devices == lc.DEFAULT_DEVICES
    assert load().devices == ()  # no /dev mount, no nodes


@pytest.mark.parametrize(
    "device, field, match",
    [
        ({"path": "/dev/p", "type": "p", "major": 1, "minor": 0}, "linux.devices[0]", "no device number"),
        ({"path": "/dev/x", "type": "c", "major": 1, "minor": 1, "uid": -1}, "linux.devices[0].uid", "between"),
        ({"path": "/dev/x", "type": "q", "major": 1, "minor": 1}, "linux.devices[0]", "FIFO"),
        ({"path": "/dev/p", "type": "p", "fileMode": 0o20666}, "linux.devices[0].fileMode", "match"),
        (
            {"path": "/dev/x", "type": "c", "major": 1, "minor": 1, "fileMode": 0o60666},
            "linux.devices[0].fileMode",
            "match",
        ),
        ({"path": "/dev/x", "type": "c", "major": 1}, "linux.devices[0]", "minor"),
        ({"path": "/etc/x", "type": "c", "major": 1, "minor": 1}, "linux.devices[0]", "under /dev"),
    ],
)
def test_device_refusals(device: Dict[str, Any], field: str, match: str) -> None:
    refused(field, minimal(mounts=[DEV_MOUNT], **{"linux.devices": [device]}), match=match)


def test_fifo_devices_and_owners() -> None:
    """Type "p" is a FIFO (no device number needed, S_IFIFO bits allowed in
    fileMode); uid and gid own any node; both written back."""
    devices = [
        {"path": "/dev/pipe", "type": "p", "fileMode": 0o10640, "uid": 1000, "gid": 5},
        {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "uid": 7, "gid": 8},
    ]
    config = config_from_oci(minimal(mounts=[DEV_MOUNT], **{"linux.devices": devices})).config
    assert config.devices[:2] == (
        lc.Device.fifo("/dev/pipe", mode=0o640, uid=1000, gid=5),
        lc.Device("/dev/fuse", "c", 10, 229, 0o666, 7, 8),
    )
    assert config_from_oci(config_to_oci(config)).config == config


def test_sysctl_masked_readonly_seccomp() -> None:
    seccomp = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": errno.EPERM,
        "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"}],
    }
    c = load(
        **{
            "linux.namespaces": [{"type": "mount"}, {"type": "network"}],
            "linux.sysctl": {"net.ipv4.ip_forward": "1"},
            "linux.maskedPaths": ["/proc/kcore"],
            "linux.readonlyPaths": ["/proc/sys"],
            "linux.seccomp": seccomp,
        }
    )
    assert dict(c.sysctl) == {"net.ipv4.ip_forward": "1"}
    assert c.masked_paths == ("/proc/kcore",)
    assert c.readonly_paths == ("/proc/sys",)
    assert c.seccomp == lc.Seccomp.from_oci(seccomp)
    refused("sysctl['kernel.panic']", minimal(**{"linux.sysctl": {"kernel.panic": "1"}}), match="namespaced")
    refused("linux.seccomp.includes", minimal(**{"linux.seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "includes": {}}}))


@pytest.mark.parametrize(
    "key, value, match",
    [
        ("intelRdt", {"closID": "x"}, "RDT"),
        ("timeOffsets", {"monotonic": {"secs": 1}}, "offsets"),
        ("memoryPolicy", {"mode": "MPOL_BIND"}, "needs nodes"),
        ("memoryPolicy", {"mode": "MPOL_LOCAL", "nodes": "0"}, "takes no nodes"),
        ("memoryPolicy", {"mode": "MPOL_NOPE"}, "unknown"),
        ("memoryPolicy", {"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_NOPE"]}, "unknown"),
        (
            "memoryPolicy",
            {"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"]},
            "exclude each other",
        ),
        ("memoryPolicy", {"mode": "MPOL_INTERLEAVE", "nodes": "0", "flags": ["MPOL_F_NUMA_BALANCING"]}, "bind"),
        ("memoryPolicy", {"mode": "MPOL_PREFERRED", "nodes": "0-1"}, "one node"),
        ("memoryPolicy", {"mode": "MPOL_BIND", "nodes": "0-x"}, "node list"),
        ("netDevices", {"eth0": {}}, "network devices"),
    ],
)
def test_linux_refusals(key: str, value: Any, match: str) -> None:
    refused(f"linux.{key}", minimal(**{f"linux.{key}": value}), match=match)


def test_time_offsets() -> None:
    """linux.timeOffsets maps to Config.time_offsets and back; they need a
    new time namespace; only monotonic and boottime exist."""
    with_time = {"linux.namespaces": [{"type": "mount"}, {"type": "time"}]}
    offsets = {"monotonic": {"secs": 3}, "boottime": {"secs": -2, "nanosecs": 5}}
    doc = minimal(**with_time, **{"linux.timeOffsets": offsets})
    c = config_from_oci(doc).config
    assert dict(c.time_offsets) == {"monotonic": (3, 0), "boottime": (-2, 5)}
    assert config_to_oci(c)["linux"]["timeOffsets"] == {
        "monotonic": {"secs": 3, "nanosecs": 0},
        "boottime": {"secs": -2, "nanosecs": 5},
    }
    refused("linux.timeOffsets", minimal(**{"linux.timeOffsets": {"monotonic": {"secs": 1}}}), match="time namespace")
    refused("linux.timeOffsets.realtime", minimal(**with_time, **{"linux.timeOffsets": {"realtime": {"secs": 1}}}))
    bad_secs = {"linux.timeOffsets": {"boottime": {"secs": "1"}}}
    refused("linux.timeOffsets.boottime.secs", minimal(**with_time, **bad_secs))
    for bad in ({"realtime": (1, 0)}, {"monotonic": (1, 10**9)}, {"monotonic": (1,)}, {"boottime": (1.5, 0)}):
        with pytest.raises(ConfigError, match="time_offsets"):
            lc.Config(namespaces=lc.Namespaces(time=True), time_offsets=bad)
    with pytest.raises(ConfigError, match="new time namespace"):
        lc.Config(time_offsets={"monotonic": (1, 0)})


def test_personality() -> None:
    """linux.personality's domain maps to Config.personality and back; the
    spec defines no flags, so any is refused, as is an unknown domain."""
    c = config_from_oci(minimal(**{"linux.personality": {"domain": "LINUX32"}})).config
    assert c.personality == "LINUX32"
    assert config_to_oci(c)["linux"]["personality"] == {"domain": "LINUX32"}
    assert config_from_oci(minimal()).config.personality is None
    assert "personality" not in config_to_oci(config_from_oci(minimal()).config)["linux"]
    refused("linux.personality.domain", minimal(**{"linux.personality": {"domain": "PER_BSD"}}), match="LINUX32")
    refused("linux.personality.flags", minimal(**{"linux.personality": {"domain": "LINUX", "flags": ["X"]}}))
    refused("linux.personality.domain", minimal(**{"linux.personality": {}}))
    with pytest.raises(ConfigError, match="personality"):
        lc.Config(personality="LINUX64")


# --- cgroup resources ----------------------------------------------------------------------


def cgroup(resources: Any = None, path: Optional[str] = None) -> Optional[lc.CgroupConfig]:
    changes: Dict[str, Any] = {}
    if resources is not None:
        changes["linux.resources"] = resources
    if path is not None:
        changes["linux.cgroupsPath"] = path
    return load(**changes).cgroup


def test_cgroup_only_when_asked_for() -> None:
    assert cgroup() is None
    assert cgroup({}) == lc.CgroupConfig(devices=lc.Devices.default(), accounting=True)
    assert cgroup(path="/a/b") == lc.CgroupConfig(path="a/b")
    assert cgroup(path="a/b") == lc.CgroupConfig(path="a/b")
    refused("linux.cgroupsPath", minimal(**{"linux.cgroupsPath": "system.slice:x:y"}), match="systemd")
    refused("linux.cgroupsPath", minimal(**{"linux.cgroupsPath": "/a/../b"}))


def test_memory() -> None:
    c = cgroup({"memory": {"limit": 1 << 30, "reservation": 1 << 20, "swap": (1 << 30) + (1 << 29), "swappiness": 10}})
    assert c is not None and c.memory == lc.Memory(max=1 << 30, reservation=1 << 20, swap_max=1 << 29, swappiness=10)
    c = cgroup({"memory": {"limit": -1, "swap": -1}})
    assert c is not None and c.memory == lc.Memory(max=lc.UNLIMITED, swap_max=lc.UNLIMITED)
    c = cgroup({"memory": {"limit": 0, "swap": 0}, "unified": {"memory.high": "max"}})
    assert c is not None and c.memory == lc.Memory(high=lc.UNLIMITED)
    c = cgroup({"memory": {"limit": 100 << 20, "swap": 100 << 20}})
    assert c is not None and c.memory == lc.Memory(max=100 << 20, swap_max=0)


@pytest.mark.parametrize(
    "memory, field, match",
    [
        ({"disableOOMKiller": "yes"}, "linux.resources.memory.disableOOMKiller", "true or false"),
        ({"useHierarchy": False}, "linux.resources.memory.useHierarchy", "always"),
        ({"swap": 1 << 20}, "linux.resources.memory.swap", "needs a memory limit"),
        ({"limit": 2 << 20, "swap": 1 << 20}, "linux.resources.memory.swap", "at least"),
        ({"swappiness": 101}, "linux.resources.memory.swappiness", "between"),
        ({"limit": "1g"}, "linux.resources.memory.limit", "integer"),
    ],
)
def test_memory_refusals(memory: Dict[str, Any], field: str, match: str) -> None:
    refused(field, minimal(**{"linux.resources": {"memory": memory}}), match=match)


def test_memory_harmless_values_accepted() -> None:
    with pytest.warns(OciWarning, match="memory.kernel ignored"):
        c = cgroup(
            {"memory": {"kernel": 0, "disableOOMKiller": False, "useHierarchy": True, "checkBeforeUpdate": False}}
        )
    assert c is not None and c.memory == lc.Memory()


def test_cpu_pids_io_hugetlb() -> None:
    c = cgroup(
        {
            "cpu": {"shares": 512, "quota": 50000, "period": 100000, "burst": 1000, "cpus": "0-1", "mems": "0"},
            "pids": {"limit": 64},
            "blockIO": {
                "weight": 500,
                "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1 << 20}],
                "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 2 << 20}],
                "throttleReadIOPSDevice": [{"major": 8, "minor": 16, "rate": 100}],
                "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 200}],
            },
            "hugepageLimits": [{"pageSize": "2MB", "limit": 0}, {"pageSize": "1GB", "limit": 1 << 30}],
        }
    )
    assert c is not None
    assert c.cpu == lc.Cpu(shares=512, quota_us=50000, period_us=100000, burst_us=1000, cpus="0-1", mems="0")
    assert c.pids == lc.Pids(64)
    assert c.io == lc.IO(
        blkio_weight=500,
        read_bps={"8:0": 1 << 20},
        write_bps={"8:0": 2 << 20},
        read_iops={"8:16": 100},
        write_iops={"8:16": 200},
    )
    assert c.hugetlb == lc.Hugetlb({"2MB": 0, "1GB": 1 << 30})
    c = cgroup({"cpu": {"quota": -1, "shares": 0}, "pids": {"limit": -1}, "unified": {"cpu.weight": "100"}})
    assert c is not None and c.cpu == lc.Cpu(quota_us=lc.UNLIMITED, weight=100) and c.pids == lc.Pids(lc.UNLIMITED)
    c = cgroup({"pids": {"limit": 0}, "cpu": {"cpus": "", "mems": ""}})
    assert c is not None and c.pids == lc.Pids() and c.cpu == lc.Cpu()


@pytest.mark.parametrize(
    "resources, field, match",
    [
        ({"cpu": {"realtimeRuntime": "1"}}, "linux.resources.cpu.realtimeRuntime", "integer"),
        ({"cpu": {"realtimePeriod": 2**40}}, "linux.resources.cpu", "between"),
        ({"cpu": {"idle": 1}}, "linux.resources.cpu.idle", "idle"),
        ({"cpu": {"shares": 1}}, "linux.resources.cpu", "shares"),
        ({"cpu": {"cpus": "3-1"}}, "linux.resources.cpu", "backwards"),
        ({"blockIO": {"leafWeight": 10}}, "linux.resources.blockIO.leafWeight", "leaf"),
        (
            {"blockIO": {"weightDevice": [{"major": 8, "minor": 0, "weight": 1001}]}},
            "linux.resources.blockIO.weightDevice[0].weight",
            "between",
        ),
        (
            {"blockIO": {"weightDevice": [{"major": 8, "minor": 0, "leafWeight": 10}]}},
            "linux.resources.blockIO.weightDevice[0].leafWeight",
            "leaf",
        ),
        (
            {"blockIO": {"weightDevice": [{"major": 8, "weight": 10}]}},
            "linux.resources.blockIO.weightDevice[0].minor",
            "required",
        ),
        (
            {"blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0}]}},
            "linux.resources.blockIO.throttleReadBpsDevice[0].rate",
            "required",
        ),
        ({"hugepageLimits": [{"pageSize": "3MB", "limit": 0}]}, "linux.resources.hugepageLimits", "power of two"),
        ({"network": {"classID": -1}}, "linux.resources.network.classID", "between"),
        ({"network": {"priorities": [{"name": "eth0"}]}}, "linux.resources.network.priorities[0].priority", "required"),
        ({"network": {"priorities": [{"name": "a/b", "priority": 1}]}}, "linux.resources.network", "interface"),
        ({"rdma": {"mlx5_1": {"hcaHandles": 3}}}, "linux.resources.rdma", "rdma"),
        ({"unified": {"memory.max": "1"}}, "linux.resources.unified['memory.max']", "not supported"),
        ({"unified": {"cpu.weight": "x"}}, "linux.resources.unified['cpu.weight']", "number"),
        ({"devices": [{"allow": True, "type": "x"}]}, "linux.resources.devices[0]", "'a' (all)"),
        ({"devices": [{"type": "a"}]}, "linux.resources.devices[0].allow", "required"),
    ],
)
def test_resource_refusals(resources: Dict[str, Any], field: str, match: str) -> None:
    refused(field, minimal(**{"linux.resources": resources}), match=match)


def test_device_rules_get_runc_defaults_appended() -> None:
    c = cgroup({"devices": [{"allow": False, "access": "rwm"}]})
    assert c is not None and c.devices == lc.Devices.default()
    c = cgroup({"devices": [{"allow": True, "type": "c", "major": 10, "minor": -1, "access": "rw"}]})
    assert c is not None and c.devices is not None
    assert c.devices.rules == (lc.DeviceRule(True, "c", 10, None, "rw"), *DEFAULT_ALLOWS)
    c = cgroup({"devices": [{"allow": True}]})
    assert c is not None and c.devices == lc.Devices.allow_all()


# --- writing: what OCI cannot say -------------------------------------------------------


@pytest.mark.parametrize(
    "config, field",
    [
        (lambda: base(rootfs=lc.Rootfs.host()), "rootfs"),
        (lambda: base(rootfs=lc.Rootfs.overlay(["/l"])), "rootfs"),
        (lambda: base(rootfs=None, mounts=(), masked_paths=(), readonly_paths=()), "rootfs"),
        (lambda: base(rootfs=lc.Rootfs.directory(ROOT, no_pivot=True)), "rootfs.no_pivot"),
        (lambda: base(process=lc.Process(args=["sh"], init=True)), "process.init"),
        (lambda: base(process=lc.Process(args=["sh"], executable="/bin/busybox")), "process.executable"),
        (lambda: base(mounts=lc.Mounts.default(), devices=()), "devices"),
        (lambda: base(cgroup=lc.CgroupConfig(accounting=False)), "cgroup.accounting"),
        (lambda: base(cgroup=lc.CgroupConfig(devices=None)), "cgroup.devices"),
        (lambda: base(cgroup=lc.CgroupConfig(devices=lc.Devices((lc.DeviceRule(False),)))), "cgroup.devices"),
        (lambda: base(cgroup=lc.CgroupConfig(memory=lc.Memory(swap_max=1))), "cgroup.memory.swap_max"),
        (lambda: base(cgroup=lc.CgroupConfig(pids=lc.Pids(0))), "cgroup.pids.max"),
        (lambda: base(cgroup=lc.CgroupConfig(io=lc.IO(weight=100))), "cgroup.io.weight"),
        (lambda: base(cgroup=lc.CgroupConfig(io=lc.IO(read_bps={"/dev/vda": 1}))), "cgroup.io.read_bps['/dev/vda']"),
        (lambda: base(cgroup=lc.CgroupConfig(io=lc.IO(read_bps={"8:0": "max"}))), "cgroup.io.read_bps['8:0']"),
        (lambda: base(cgroup=lc.CgroupConfig(hugetlb={"2MB": "max"})), "cgroup.hugetlb['2MB']"),
    ],
)
def test_to_oci_refuses_what_oci_cannot_say(config: Any, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_to_oci(config())
    assert info.value.field == field, str(info.value)


# --- round trips ---------------------------------------------------------------------------


def full_config() -> lc.Config:
    return lc.Config(
        rootfs=lc.Rootfs.directory(ROOT, readonly=True, propagation="rprivate"),
        process=lc.Process(
            args=["/bin/sh", "-c", "echo hi"],
            env={"PATH": "/bin", "X": "a=b", "E": ""},
            cwd="/tmp",
            user=lc.User(1000, 1000, (5, 10)),
            umask=0o027,
            capabilities=lc.Capabilities(
                bounding={"CAP_KILL", "CAP_CHOWN"},
                effective={"CAP_KILL"},
                permitted={"CAP_KILL", "CAP_CHOWN"},
                inheritable={"CAP_KILL"},
                ambient={"CAP_KILL"},
            ),
            no_new_privileges=False,
            rlimits=[lc.Rlimit("nofile", 1024, 4096), lc.Rlimit("core", None)],
            terminal=True,
            oom_score_adj=-5,
        ),
        hostname="box",
        domainname="example.org",
        namespaces=lc.Namespaces(
            user=True, mount=True, uts=True, ipc=True, pid=True, net=True, cgroup="/proc/1/ns/cgroup", time=True
        ),
        mounts=lc.Mounts.default()
        + [
            lc.Mount.bind("/host/a", "/a", readonly=True, recursive=False, propagation="rshared"),
            lc.Mount.tmpfs("/t", size="1m", mode=0o700, options=("noatime", "lazytime")),
            lc.Mount.tmpfs("/var/cache", copy_up=True, readonly=True),
            lc.Mount("/sys/fs/cgroup", "cgroup2", "cgroup2", readonly=True),
            lc.Mount("/x", "tmpfs", None, propagation="unbindable"),
        ],
        devices=(*lc.DEFAULT_DEVICES, lc.Device("/dev/fuse", "c", 10, 229, 0o600)),
        uid_mappings=[lc.IDMap(0, 100000, 65536)],
        gid_mappings=[lc.IDMap(0, 100000, 65536)],
        masked_paths=["/proc/kcore"],
        readonly_paths=["/proc/sys", "/proc/bus"],
        sysctl={"net.ipv4.ip_forward": "1", "kernel.shmmax": "1000"},
        seccomp=lc.Seccomp.default(frozenset({"CAP_KILL"})),
        hooks=lc.Hooks(
            prestart=[lc.Hook("/bin/a", ("a", "1"), ("K=V",), 3)],
            poststop=[lc.Hook("/bin/b")],
            start_container=[lc.Hook("/bin/c")],
        ),
        cgroup=lc.CgroupConfig(
            path="a/b",
            memory=lc.Memory(max=1 << 30, swap_max=0, reservation=1 << 20, high=1 << 29, swappiness=0),
            cpu=lc.Cpu(weight=200, quota_us=lc.UNLIMITED, period_us=100000, burst_us=0, cpus="0", mems="0"),
            pids=lc.Pids(lc.UNLIMITED),
            io=lc.IO(blkio_weight=100, read_bps={"8:0": 0}, write_iops={"8:0": 5}),
            hugetlb={"2MB": 0},
            devices=lc.Devices.default(),
        ),
    )


@pytest.mark.parametrize(
    "make",
    [
        base,
        full_config,
        lambda: base(cgroup=lc.CgroupConfig(devices=lc.Devices.allow_all())),
        lambda: base(cgroup=lc.CgroupConfig(memory=lc.Memory(), cpu=lc.Cpu(), pids=lc.Pids(), io=lc.IO())),
        lambda: base(cgroup=lc.CgroupConfig(memory=lc.Memory(max=lc.UNLIMITED, swap_max=lc.UNLIMITED))),
        lambda: base(mounts=lc.Mounts.default(), devices=lc.DEFAULT_DEVICES),
        lambda: base(process=lc.Process(args=["sh"], capabilities=lc.Capabilities.default())),
    ],
)
def test_roundtrip(make: Any) -> None:
    config = make()
    assert roundtrip(config) == config
    # and the document is stable
    doc = config_to_oci(config)
    assert config_to_oci(config_from_oci(doc).config) == doc


def test_roundtrip_with_extras() -> None:
    oc = OciConfig(full_config(), {"k": "v"}, "1.0.2", (10, 20))
    assert config_from_oci(json.loads(json.dumps(oc.to_oci()))) == attrs.evolve(oc, bundle=None)


def test_runc_spec_document() -> None:
    """The document `runc spec` writes (runc 1.1) loads."""
    with open(RUNC_SPEC) as f:
        doc = json.load(f)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        oc = config_from_oci(doc, bundle="/bundle")
    assert [w.category for w in caught] == [OciWarning]
    c = oc.config
    assert c.rootfs == lc.Rootfs.directory("/bundle/rootfs", readonly=True)
    assert c.mounts[1] == lc.Mount.dev()
    assert c.mounts[2] == lc.Mount.devpts()
    assert c.mounts[3] == lc.Mount.shm()
    assert c.mounts[4] == lc.Mount.mqueue()
    assert c.mounts[5] == lc.Mount.sysfs()
    assert c.mounts[6] == lc.Mount.cgroup()
    assert c.devices == lc.DEFAULT_DEVICES
    assert c.cgroup is not None and c.cgroup.devices == lc.Devices.default()
    assert roundtrip(c) == c


def test_to_oci_is_json_and_does_not_share_state() -> None:
    c = full_config()
    doc = config_to_oci(c)
    assert json.loads(json.dumps(doc)) == doc
    doc["process"]["args"].append("x")
    assert config_to_oci(c) != doc


# --- property tests -----------------------------------------------------------------------


_text = strategies.text
_path = strategies.path
_cap = strategies.capability
capabilities = strategies.capabilities


processes = strategies.processes


_data_item = st.sampled_from(["mode=755", "size=1m", "uid=0", "newinstance", "gid=5", "nr_inodes=10"])
_mount = st.one_of(
    st.builds(
        lambda src, dst, ro, rec, prop, nosuid: lc.Mount.bind(
            src, dst, readonly=ro, recursive=rec, propagation=prop, nosuid=nosuid
        ),
        _path,
        _path,
        st.booleans(),
        st.booleans(),
        st.none() | st.sampled_from(["private", "rslave", "shared", "runbindable"]),
        st.booleans(),
    ),
    st.builds(
        lambda dst, typ, src, flags, opts, rec, data: lc.Mount(
            dst,
            typ,
            src,
            readonly=flags[0],
            nosuid=flags[1],
            nodev=flags[2],
            noexec=flags[3],
            options=opts,
            recursive_options=rec,
            data=",".join(data),
        ),
        _path,
        st.sampled_from(["tmpfs", "proc", "cgroup2", "mqueue"]),
        st.none() | st.sampled_from(["tmpfs", "none", "x"]),
        st.tuples(st.booleans(), st.booleans(), st.booleans(), st.booleans()),
        st.lists(
            st.sampled_from(["noatime", "strictatime", "sync", "nosymfollow", "relatime"]), max_size=3, unique=True
        ).filter(lambda o: len({"noatime", "strictatime", "relatime"} & set(o)) <= 1),
        st.lists(st.sampled_from(["rro", "rnosuid", "rnoatime", "rdev", "rsymfollow"]), max_size=3, unique=True),
        st.lists(_data_item, max_size=3),
    ),
)
_limit = st.none() | st.just(lc.UNLIMITED) | st.integers(1, 2**40)


def test_network_realtime_and_device_weights() -> None:
    c = cgroup(
        {
            "network": {
                "classID": 0x100001,
                "priorities": [{"name": "lo", "priority": 5}, {"name": "eth0", "priority": 0}],
            },
            "cpu": {"realtimePeriod": 1000000, "realtimeRuntime": 10000},
            "blockIO": {"weightDevice": [{"major": 7, "minor": 0, "weight": 300}, {"major": 8, "minor": 0}]},
        }
    )
    assert c is not None
    assert c.network == lc.CgroupNetwork(class_id=0x100001, priorities={"lo": 5, "eth0": 0})
    assert c.controllers() == ("cpu", "blkio", "devices", "net_cls", "net_prio")
    assert c.cpu == lc.Cpu(rt_period_us=1000000, rt_runtime_us=10000)
    assert c.io == lc.IO(device_weights={"7:0": 300})
    c = cgroup({"network": {"classID": 0, "priorities": []}, "cpu": {"realtimeRuntime": -1, "realtimePeriod": 0}})
    assert c is not None and c.network is None and c.cpu == lc.Cpu(rt_runtime_us=lc.UNLIMITED)


@st.composite
def cgroups(draw: Any) -> Optional[lc.CgroupConfig]:
    if draw(st.booleans()):
        return None
    mem_max = draw(st.none() | st.just(lc.UNLIMITED) | st.integers(1 << 20, 2**40))
    swap = draw(
        st.none()
        | st.just(lc.UNLIMITED)
        | (st.integers(0, 2**30) if mem_max not in (None, lc.UNLIMITED) else st.nothing())
    )
    return lc.CgroupConfig(
        path=draw(st.none() | st.sampled_from(["a", "a/b", "x/y/z"])),
        memory=draw(
            st.none() | st.just(lc.Memory(max=mem_max, swap_max=swap, reservation=draw(_limit), high=draw(_limit)))
        ),
        cpu=draw(
            st.none()
            | st.builds(
                lc.Cpu,
                shares=st.none() | st.integers(2, 262144),
                quota_us=st.none() | st.integers(1000, 10**6),
                rt_period_us=st.none() | st.integers(1, 10**6),
                rt_runtime_us=st.none() | st.just(lc.UNLIMITED) | st.integers(1, 10**6),
                cpus=st.none() | st.just("0-1"),
            )
        ),
        io=draw(st.none() | st.builds(lc.IO, device_weights=st.dictionaries(st.just("8:0"), st.integers(1, 1000)))),
        network=draw(
            st.none()
            | st.builds(
                lc.CgroupNetwork,
                class_id=st.none() | st.integers(1, 2**32 - 1),
                priorities=st.dictionaries(st.sampled_from(["lo", "eth0"]), st.integers(0, 2**32 - 1), min_size=1),
            )
        ),
        pids=draw(st.none() | st.builds(lc.Pids, _limit.filter(lambda n: n is None or n < 2**31))),
        hugetlb=draw(st.none() | st.builds(lambda n: lc.Hugetlb({"2MB": n}), st.integers(0, 2**30))),
        devices=draw(st.sampled_from([lc.Devices.default(), lc.Devices.allow_all()])),
    )


_offsets = st.dictionaries(
    st.sampled_from(["monotonic", "boottime"]),
    st.tuples(st.integers(-(2**40), 2**40), st.integers(0, 999_999_999)),
    max_size=2,
)


@st.composite
def configs(draw: Any) -> lc.Config:
    ns: Dict[str, Any] = {kind: draw(st.booleans() | _path) for kind in ("ipc", "pid", "net", "cgroup", "time")}
    ns["mount"] = True
    ns["uts"] = draw(st.booleans())
    mounts = draw(st.lists(_mount, max_size=4))
    with_dev = draw(st.booleans())
    if with_dev:
        mounts.append(lc.Mount.dev())
    return lc.Config(
        process=draw(processes()),
        rootfs=lc.Rootfs.directory(
            draw(_path),
            readonly=draw(st.booleans()),
            propagation=draw(st.sampled_from(["rslave", "private", "rshared"])),
        ),
        hostname=draw(st.none() | st.text("abc-", min_size=1, max_size=10)) if ns["uts"] else None,
        namespaces=lc.Namespaces(**ns),
        mounts=mounts,
        devices=lc.DEFAULT_DEVICES if with_dev else (),
        masked_paths=draw(st.lists(_path, max_size=3)),
        readonly_paths=draw(st.lists(_path, max_size=3)),
        seccomp=draw(st.none() | st.just(lc.Seccomp.default(frozenset()))),
        hooks=lc.Hooks(poststart=draw(st.lists(st.builds(lc.Hook, _path, st.lists(_text, max_size=2)), max_size=2))),
        cgroup=draw(cgroups()),
        personality=draw(st.sampled_from([None, "LINUX", "LINUX32"])),
        time_offsets=draw(_offsets) if ns["time"] is True else {},
    )


@settings(max_examples=150, deadline=None)
@given(configs())
def test_roundtrip_property(config: lc.Config) -> None:
    assert roundtrip(config) == config


# --- unknown properties: ignored with a warning, at every level ------------------------

#: A document with every object the spec defines (one of each), so that an
#: unknown property can be put in each.
FULL: Dict[str, Any] = {
    "ociVersion": "1.0.2",
    "process": {
        "args": ["sh"],
        "cwd": "/",
        "user": {"uid": 0, "gid": 0},
        "capabilities": {"bounding": ["CAP_KILL"]},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 10, "soft": 10}],
        "consoleSize": {"height": 1, "width": 2},
        "scheduler": {"policy": "SCHED_OTHER"},
        "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 1},
        "execCPUAffinity": {"initial": "0"},
    },
    "root": {"path": ROOT},
    "mounts": [DEV_MOUNT],
    "hooks": {"prestart": [{"path": "/bin/true"}]},
    "linux": {
        "namespaces": [{"type": "mount"}, {"type": "time"}, {"type": "user"}],
        "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
        "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
        "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}],
        "resources": {
            "memory": {"limit": 1 << 30},
            "cpu": {"shares": 512},
            "pids": {"limit": 10},
            "blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1}]},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 0}],
            "devices": [{"allow": False, "access": "rwm"}],
        },
        "seccomp": {
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}
            ],
        },
        "timeOffsets": {"monotonic": {"secs": 1}},
        "personality": {"domain": "LINUX"},
        "memoryPolicy": {"mode": "MPOL_DEFAULT"},
    },
}
#: JSON path of every object of FULL (list items by index).
OBJECTS = (
    "", "process", "process.user", "process.capabilities", "process.rlimits[0]", "process.consoleSize",
    "process.scheduler", "process.ioPriority", "process.execCPUAffinity", "root", "mounts[0]", "hooks",
    "hooks.prestart[0]", "linux", "linux.namespaces[0]", "linux.uidMappings[0]", "linux.gidMappings[0]",
    "linux.devices[0]", "linux.resources", "linux.resources.memory", "linux.resources.cpu",
    "linux.resources.pids", "linux.resources.blockIO", "linux.resources.blockIO.throttleReadBpsDevice[0]",
    "linux.resources.hugepageLimits[0]", "linux.resources.devices[0]", "linux.seccomp",
    "linux.seccomp.syscalls[0]", "linux.seccomp.syscalls[0].args[0]", "linux.timeOffsets.monotonic",
    "linux.personality", "linux.memoryPolicy",
)  # fmt: skip


def _node(doc: Any, path: str) -> Any:
    for part in path.replace("[", ".[").split(".") if path else []:
        doc = doc[int(part[1:-1])] if part.startswith("[") else doc[part]
    return doc


@pytest.mark.parametrize("where", OBJECTS)
def test_unknown_properties_are_ignored_with_a_warning(where: str) -> None:
    """The spec: runtimes MUST NOT generate an error for an unknown property,
    they MUST ignore it.  Each is named, with its JSON path, in one OciWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        expected = config_from_oci(FULL).config
    doc = copy.deepcopy(FULL)
    _node(doc, where).update(futureThing={"x": 1}, otherThing=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert config_from_oci(doc).config == expected
    prefix = f"{where}." if where else ""
    assert [(w.category, str(w.message)) for w in caught] == [
        (OciWarning, f"unknown properties ignored: {prefix}futureThing, {prefix}otherThing")
    ]


def test_other_platforms_are_ignored_with_a_warning() -> None:
    doc = minimal(windows={"layerFolders": []}, vm={"hypervisor": {}})
    with pytest.warns(OciWarning, match="^windows, vm ignored: they are for another platform than Linux$"):
        assert config_from_oci(doc).config == load()


@pytest.mark.parametrize(
    "doc, field",
    [
        (minimal(**{"linux.namespaces": [{"type": "mount"}, {"type": "future"}]}), "linux.namespaces[1].type"),
        (minimal(**{"linux.devices": [{"path": "/dev/x", "type": "x", "major": 1, "minor": 1}]}), "linux.devices[0]"),
        (minimal(**{"process.capabilities": {"bounding": ["CAP_FUTURE"]}}), "process.capabilities.bounding"),
        (minimal(**{"linux.seccomp": {"defaultAction": "SCMP_ACT_FUTURE"}}), "linux.seccomp.defaultAction"),
        (
            minimal(
                **{"linux.namespaces": [{"type": "mount"}, {"type": "time"}], "linux.timeOffsets": {"realtime": {}}}
            ),
            "linux.timeOffsets.realtime",
        ),
        (minimal(**{"linux.intelRdt": {"closID": "x"}}), "linux.intelRdt"),
        (minimal(**{"linux.resources": {"unified": {"io.future": "1"}}}), "linux.resources.unified['io.future']"),
    ],
)
def test_unknown_values_and_unsupported_settings_stay_errors(doc: Dict[str, Any], field: str) -> None:
    """Only properties are ignored: a value the spec does not define (a
    namespace type, a device type, a capability, an action, a clock) is an
    error, as is a known setting that cannot be honoured."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OciWarning)
        refused(field, doc)


def test_kernel_memory_limits() -> None:
    """memory.kernelTCP is Memory.kernel_tcp (0: not set, -1: unlimited);
    memory.kernel is ignored with a warning, as runc does."""
    doc = minimal(**{"linux.resources": {"memory": {"limit": 1 << 30, "kernel": 1 << 29, "kernelTCP": 1 << 20}}})
    with pytest.warns(OciWarning, match="^linux.resources.memory.kernel ignored: kernel memory limits are gone"):
        c = config_from_oci(doc).config
    assert c.cgroup is not None and c.cgroup.memory == lc.Memory(max=1 << 30, kernel_tcp=1 << 20)
    assert config_to_oci(c)["linux"]["resources"]["memory"] == {"limit": 1 << 30, "kernelTCP": 1 << 20}
    assert cgroup({"memory": {"kernelTCP": -1}}).memory == lc.Memory(kernel_tcp=lc.UNLIMITED)  # type: ignore[union-attr]
    assert cgroup({"memory": {"kernelTCP": 0}}).memory == lc.Memory()  # type: ignore[union-attr]
    refused("linux.resources.memory.kernel", minimal(**{"linux.resources": {"memory": {"kernel": "1g"}}}))


def test_disable_oom_killer_is_memory_oom_kill_disable() -> None:
    """memory.disableOOMKiller: Memory.oom_kill_disable, and back."""
    c = config_from_oci(minimal(**{"linux.resources": {"memory": {"limit": 1 << 30, "disableOOMKiller": True}}}))
    assert c.config.cgroup is not None and c.config.cgroup.memory == lc.Memory(max=1 << 30, oom_kill_disable=True)
    memory = config_to_oci(c.config)["linux"]["resources"]["memory"]
    assert memory == {"limit": 1 << 30, "disableOOMKiller": True}


# --- namespaces not listed, namespaces joined ------------------------------------------


def test_no_mount_namespace_is_a_chroot_without_mounts() -> None:
    """runtime-spec config-linux.md: a namespace type not listed is the
    runtime's; with no mount namespace the root is only chroot'ed into."""
    config = config_from_oci(minimal(**{"linux.namespaces": [{"type": "pid"}]})).config
    assert config.namespaces.mount is False and config.rootfs is not None and config.rootfs.path == ROOT
    assert (len(config.mounts), config.masked_paths, config.readonly_paths) == (0, (), ())
    assert roundtrip(config) == config
    assert "rootfsPropagation" not in config_to_oci(config)["linux"]
    no_mount = {"linux.namespaces": []}
    refused("linux.rootfsPropagation", minimal(**no_mount, **{"linux.rootfsPropagation": "rprivate"}))
    refused("mounts", minimal(**no_mount, mounts=[{"destination": "/proc", "type": "proc", "source": "proc"}]))
    refused("masked_paths", minimal(**no_mount, **{"linux.maskedPaths": ["/proc/kcore"]}))
    refused("rootfs.readonly", minimal(**no_mount, **{"root.readonly": True}))


def test_every_kind_joined_by_path_with_a_hostname() -> None:
    kinds = {"pid": "pid", "network": "net", "mount": "mnt", "ipc": "ipc", "uts": "uts", "user": "user",
             "cgroup": "cgroup", "time": "time"}  # fmt: skip
    listed = [{"type": t, "path": f"/proc/1/ns/{name}"} for t, name in kinds.items()]
    config = config_from_oci(minimal(**{"linux.namespaces": listed}, hostname="joined")).config
    assert config.namespaces.joined() == {
        field: f"/proc/1/ns/{name}"
        for field, name in zip(("pid", "net", "mount", "ipc", "uts", "user", "cgroup", "time"), kinds.values())
    }
    assert config.hostname == "joined" and len(config.mounts) == 0 and config.rootfs is not None
    assert roundtrip(config) == config
    refused("hostname", minimal(**{"linux.namespaces": [{"type": "mount"}]}, hostname="x"))


def test_no_hostname_reads_as_none_and_an_empty_one_is_written_as_none() -> None:
    """Absent or "" in config.json: None (the command line then sets none,
    as runc); a Config's "" (set none) is left out of the document."""
    for doc in (minimal(), minimal(hostname="")):
        assert config_from_oci(doc).config.hostname is None
    kept = config_to_oci(base(hostname="", domainname=""))
    assert "hostname" not in kept and "domainname" not in kept
    assert config_to_oci(base(hostname="box"))["hostname"] == "box"


def test_unknown_capabilities_follow_the_documents_spec_version() -> None:
    """runtime-spec 1.0: an unknown capability is an error; 1.1 and later:
    logged as a warning and left out ("SHOULD NOT fail"), as runc does."""
    both = ["CAP_CHOWN", "CAP_FUTURE"]
    caps = {"bounding": both, "effective": both, "permitted": ["CAP_CHOWN"]}
    with pytest.raises(lc.ConfigError, match="CAP_FUTURE"):
        config_from_oci(minimal(**{"process.capabilities": caps}))
    for version in ("1.1.0", "1.2.0", "1.1.0-rc.1"):
        with pytest.warns(OciWarning, match="CAP_FUTURE"):
            config = config_from_oci(minimal(ociVersion=version, **{"process.capabilities": caps})).config
        assert config.process.capabilities.bounding == {"CAP_CHOWN"}
        assert config.process.capabilities.effective == {"CAP_CHOWN"}
    with pytest.raises(lc.ConfigError, match=r"process\.capabilities"):  # a known name still obeys the rules
        config_from_oci(minimal(ociVersion="1.1.0", **{"process.capabilities": {"effective": ["CAP_KILL"]}}))
