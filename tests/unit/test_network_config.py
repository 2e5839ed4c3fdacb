"""lc.Network and Config(network=...): building, checking, serializing; pure."""

from __future__ import annotations

import json
from typing import Any

import pytest

import libcontainer_py as lc
from libcontainer_py import cni
from libcontainer_py.plan import Op, build_plan
from libcontainer_py.serialize import config_from_dict, config_to_dict


def test_bridge_builds_the_usual_list() -> None:
    net = lc.Network.bridge(name="lcpy", subnet="10.89.0.0/24", ports={8080: 80, "8053/udp": 53}, ip="10.89.0.9")
    doc = net.document
    assert (doc["cniVersion"], doc["name"]) == ("1.0.0", "lcpy")
    assert [p["type"] for p in doc["plugins"]] == ["bridge", "portmap", "firewall"]
    assert doc["plugins"][0]["ipam"]["type"] == "host-local"
    assert doc["plugins"][0]["ipam"]["ranges"] == [[{"subnet": "10.89.0.0/24"}]]
    assert net.runtime_config() == {
        "portMappings": [
            {"hostPort": 8080, "containerPort": 80, "protocol": "tcp", "hostIP": ""},
            {"hostPort": 8053, "containerPort": 53, "protocol": "udp", "hostIP": ""},
        ],
        "ips": ["10.89.0.9/24"],
    }
    # each plugin gets only the capabilities it declares
    assert cni.runtime_config(doc["plugins"][0], net.runtime_config()) == {"ips": ["10.89.0.9/24"]}
    assert list(cni.runtime_config(doc["plugins"][1], net.runtime_config())) == ["portMappings"]
    assert cni.runtime_config(doc["plugins"][2], net.runtime_config()) == {}


def test_a_mac_adds_tuning() -> None:
    net = lc.Network.bridge(mac="02:42:AC:11:00:02")
    assert net.mac == "02:42:ac:11:00:02"
    assert net.document["plugins"][-1] == {"type": "tuning", "capabilities": {"mac": True}}


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"ports": {0: 80}}, "ports.host_port"),
        ({"ports": {8080: 70000}}, "ports.container_port"),
        ({"ports": {"8080/icmp": 80}}, "ports.protocol"),
        ({"ports": {"http": 80}}, "ports"),
        ({"ports": "8080:80"}, "ports"),
        ({"subnet": "10.89.0.0/33"}, "subnet"),
        ({"ip": "10.89.0.300"}, "network.ip"),
        ({"mac": "02:42:ac:11:00"}, "network.mac"),
        ({"ifname": "a-very-long-interface-name"}, "network.ifname"),
    ],
)
def test_bad_bridge_settings_are_config_errors(kwargs: Any, field: str) -> None:
    with pytest.raises(lc.ConfigError) as info:
        lc.Network.bridge(**kwargs)
    assert info.value.field == field


@pytest.mark.parametrize(
    "doc, field",
    [
        ({"name": "x", "plugins": [{"type": "bridge"}]}, "network.conflist.cniVersion"),
        ({"cniVersion": "1.0.0", "name": "x", "plugins": []}, "network.conflist.plugins"),
        ({"cniVersion": "1.0.0", "name": "x", "plugins": [{"bridge": "b"}]}, "network.conflist.plugins[0]"),
        ({"cniVersion": "1.0.0", "name": "x", "plugins": [{"type": "../bin/sh"}]}, "network.conflist.plugins[0].type"),
    ],
)
def test_bad_lists_are_config_errors(doc: Any, field: str) -> None:
    with pytest.raises(lc.ConfigError) as info:
        lc.Network.cni(doc)
    assert info.value.field == field


def test_cni_by_name_from_a_directory(tmp_path: Any) -> None:
    (tmp_path / "10-other.conflist").write_text(
        json.dumps({"cniVersion": "1.0.0", "name": "other", "plugins": [{"type": "bridge"}]})
    )
    (tmp_path / "20-mine.conf").write_text(
        json.dumps({"cniVersion": "0.4.0", "name": "mine", "type": "macvlan", "master": "eth0"})
    )
    (tmp_path / "30-broken.conflist").write_text("{")
    net = lc.Network.cni("mine", conf_dir=str(tmp_path))
    assert net.document == {"cniVersion": "0.4.0", "name": "mine", "plugins": [{"type": "macvlan", "master": "eth0"}]}
    assert lc.Network.cni("other", conf_dir=str(tmp_path)).name == "other"
    with pytest.raises(lc.ConfigError, match="no CNI network 'absent'"):
        lc.Network.cni("absent", conf_dir=str(tmp_path))


def test_config_takes_one_a_list_or_none() -> None:
    net = lc.Network.bridge()
    assert net.ifname is None and lc.Config(network=net).network[0].ifname == "eth0"
    assert [n.ifname for n in lc.Config(network=[net, lc.Network.bridge(name="b", ifname="net1")]).network] == [
        "eth0",
        "net1",
    ]
    assert lc.Config(network=lc.Network.none()).network == ()
    assert lc.Config().network == ()
    with pytest.raises(lc.ConfigError) as info:
        lc.Config(network=[net, lc.Network.bridge(name="b", ifname="eth0")])
    assert info.value.field == "network[1].ifname"
    with pytest.raises(lc.ConfigError) as info:
        lc.Config(network="lcpy")
    assert info.value.field == "network"


def test_a_network_needs_a_new_network_namespace() -> None:
    with pytest.raises(lc.ConfigError) as info:
        lc.Config(network=lc.Network.bridge(), rootfs=None, namespaces=lc.Namespaces(net=False))
    assert info.value.field == "network"
    with pytest.raises(lc.ConfigError) as info:
        lc.Config(network=lc.Network.bridge(), rootfs=None, namespaces=lc.Namespaces(net="/run/netns/x"))
    assert "joins" in str(info.value)


def test_the_child_waits_for_the_parent_only_with_a_network() -> None:
    def waits(config: lc.Config) -> bool:
        return any(s.op is Op.WAIT_PARENT for s in build_plan(config, "x").steps)

    assert not waits(lc.Config(rootfs=None, cgroup=None))
    assert waits(lc.Config(rootfs=None, cgroup=None, network=lc.Network.bridge()))


def test_serialized_and_refused_by_oci() -> None:
    config = lc.Config(network=[lc.Network.bridge(ports={8080: 80}, ip="10.89.0.5", mac="02:00:00:00:00:01")])
    assert config_from_dict(json.loads(json.dumps(config_to_dict(config)))) == config
    with pytest.raises(lc.ConfigError) as info:
        lc.Config(rootfs="/srv/x", network=lc.Network.bridge()).to_oci()
    assert info.value.field == "network"


def test_a_plugin_error_object_becomes_cni_error() -> None:
    out = json.dumps({"cniVersion": "1.0.0", "code": 7, "msg": "invalid network config", "details": "x"}).encode()
    with pytest.raises(lc.CniError) as info:
        cni._output("bridge", "ADD", 1, out, b"")
    assert (info.value.code, info.value.msg, info.value.details, info.value.plugin) == (
        7,
        "invalid network config",
        "x",
        "bridge",
    )
    with pytest.raises(lc.CniError) as info:
        cni._output("bridge", "ADD", 2, b"", b"panic: boom")
    assert info.value.code == 999 and "panic: boom" in info.value.msg
    assert cni._output("bridge", "DEL", 0, b"", b"") is None


def test_a_missing_plugin_names_the_package(monkeypatch: Any, tmp_path: Any) -> None:
    monkeypatch.setenv("CNI_PATH", str(tmp_path))
    with pytest.raises(lc.ConfigError) as info:
        cni.find_plugin("no-such-plugin")
    assert "no-such-plugin" in str(info.value) and "containernetworking-plugins" in str(info.value)
    assert str(tmp_path) in str(info.value)


def test_del_goes_on_past_a_failing_or_missing_plugin(monkeypatch: Any, tmp_path: Any) -> None:
    """Every plugin's DEL runs, in reverse order; the failures are returned."""
    log = tmp_path / "log"
    for name, status in (("first", 0), ("broken", 1)):
        plugin = tmp_path / name
        plugin.write_text(f'#!/bin/sh\necho "$CNI_COMMAND {name}" >> {log}\nexit {status}\n')
        plugin.chmod(0o755)
    monkeypatch.setenv("CNI_PATH", str(tmp_path))
    doc = {"cniVersion": "1.0.0", "name": "x", "plugins": [{"type": "first"}, {"type": "gone"}, {"type": "broken"}]}
    failures = cni.delete(doc, None, cni.Attachment(container_id="c", netns="", ifname="eth0", runtime={}))
    assert [(f.plugin, f.command) for f in failures] == [("broken", "DEL"), ("gone", "DEL")]
    assert "not found" in failures[1].msg
    assert log.read_text() == "DEL broken\nDEL first\n"
