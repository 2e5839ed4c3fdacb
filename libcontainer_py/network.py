"""Network: a container's attachment to a CNI network.

``Config(network=...)`` takes one Network or a list.  Each is a CNI network
configuration list (its JSON document) plus what the container asks of it
at run time: port mappings, a fixed IP, a MAC and the interface's name.
The standard plugins (Debian's ``containernetworking-plugins``) do the
work; see docs/networking.md and _netrun.py.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple, Union

import attrs

from ._fields import (
    FieldCheck,
    choice_field,
    fail,
    field_options,
    freeze_mapping_field,
    named_fields,
    text,
    uint32,
)
from ._repr import short_repr
from .errors import wrong_type

if TYPE_CHECKING:
    import ipaddress

#: Where Network.cni(name) looks for network configuration lists.
CNI_CONF_DIR = "/etc/cni/net.d"
#: The CNI specification version of the lists Network.bridge builds.
CNI_VERSION = "1.0.0"
PROTOCOLS = ("tcp", "udp", "sctp")


def _port(field: str, value: Any) -> int:
    if type(value) is not int or not 1 <= value <= 65535:
        raise fail(field, f"must be a port number 1..65535, got {value!r}")
    return value


def _host_ip(field: str, value: Any) -> str:
    if value == "":
        return ""
    import ipaddress

    try:
        return str(ipaddress.ip_address(text(field, value)))
    except ValueError:
        raise fail(field, f"must be an IP address or '' (every address), got {value!r}") from None


if TYPE_CHECKING:  # see _fields: what mypy's attrs plugin reads

    def _port_field(value: Any) -> int: ...
    def _host_ip_field(value: Any) -> str: ...

else:
    _port_field = FieldCheck(_port)
    _host_ip_field = FieldCheck(_host_ip)


@attrs.frozen(field_transformer=named_fields("ports"))
class PortMapping:
    """``host_ip:host_port`` on the host forwarded to ``container_port``
    (portmap's ``portMappings``); ``host_ip`` "" is every address."""

    host_port: int = attrs.field(converter=_port_field)
    container_port: int = attrs.field(converter=_port_field)
    protocol: str = attrs.field(default="tcp", converter=choice_field, metadata=field_options(choices=PROTOCOLS))
    host_ip: str = attrs.field(default="", converter=_host_ip_field)

    def to_cni(self) -> Dict[str, Any]:
        """This mapping as CNI's ``portMappings`` capability takes it."""
        return {
            "hostPort": self.host_port,
            "containerPort": self.container_port,
            "protocol": self.protocol,
            "hostIP": self.host_ip,
        }


def _ports(field: str, value: Any) -> Tuple[PortMapping, ...]:
    """{host: container} (a key may be "8053/udp"), or PortMappings."""
    if value is None:
        return ()
    if isinstance(value, Mapping):
        out = []
        for key, container in value.items():
            host, _, proto = str(key).partition("/")
            try:
                host_port = int(host)
            except ValueError:
                raise fail(field, f"a key is a host port, or 'port/protocol', got {key!r}") from None
            out.append(PortMapping(host_port, container, proto or "tcp"))
        return tuple(out)
    if isinstance(value, PortMapping):
        return (value,)
    if isinstance(value, (list, tuple)) and all(isinstance(p, PortMapping) for p in value):
        return tuple(value)
    raise fail(field, f"expected {{host_port: container_port}} or PortMappings, got {value!r}")


def _conflist(field: str, value: Any) -> str:
    """A network configuration list, checked, as canonical JSON text."""
    import json

    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise fail(field, f"not JSON: {exc}") from None
    if not isinstance(value, Mapping):
        raise fail(field, f"expected a CNI network configuration list, got {value!r}")
    doc = dict(value)
    for key in ("cniVersion", "name"):
        if not isinstance(doc.get(key), str) or not doc[key]:
            raise fail(f"{field}.{key}", f"must be a non-empty string, got {doc.get(key)!r}")
    plugins = doc.get("plugins")
    if not isinstance(plugins, list) or not plugins:
        raise fail(f"{field}.plugins", f"must be a non-empty list, got {plugins!r}")
    for i, plugin in enumerate(plugins):
        if not isinstance(plugin, Mapping) or not isinstance(plugin.get("type"), str) or not plugin["type"]:
            raise fail(f"{field}.plugins[{i}]", f"must be an object with a 'type', got {plugin!r}")
        if "/" in plugin["type"]:
            raise fail(f"{field}.plugins[{i}].type", f"must be a plugin name, got {plugin['type']!r}")
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


def _ip(field: str, value: Any) -> Optional[str]:
    import ipaddress

    if value is None:
        return None
    try:
        return str(ipaddress.ip_interface(text(field, value)))
    except ValueError:
        raise fail(field, f"must be an IP address (with its /prefix), got {value!r}") from None


def _mac(field: str, value: Any) -> Optional[str]:
    if value is None:
        return None
    mac = text(field, value).lower()
    parts = mac.split(":")
    if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdef" for c in p) for p in parts):
        raise fail(field, f"must be a MAC address aa:bb:cc:dd:ee:ff, got {value!r}")
    return mac


def _ifname(field: str, value: Any) -> Optional[str]:
    if value is None:
        return None
    name = text(field, value)
    if len(name) > 15 or "/" in name or any(c.isspace() for c in name) or name in (".", ".."):
        raise fail(field, f"must be an interface name of at most 15 characters, got {value!r}")
    return name


if TYPE_CHECKING:  # see _fields: what mypy's attrs plugin reads

    def _conflist_field(value: Any) -> str: ...
    def _ports_field(value: Any) -> Tuple[PortMapping, ...]: ...
    def _ip_field(value: Any) -> Optional[str]: ...
    def _mac_field(value: Any) -> Optional[str]: ...
    def _ifname_field(value: Any) -> Optional[str]: ...

else:
    _conflist_field = FieldCheck(_conflist)
    _ports_field = FieldCheck(_ports)
    _ip_field = FieldCheck(_ip, keeps_none=True)
    _mac_field = FieldCheck(_mac, keeps_none=True)
    _ifname_field = FieldCheck(_ifname, keeps_none=True)


@attrs.frozen(field_transformer=named_fields("network"))
class Network:
    """One attachment of the container to a CNI network.

    ``conflist`` is the network configuration list (JSON text; ``document``
    parses it).  ``ports``, ``ip`` and ``mac`` go to the plugins that
    declare the ``portMappings``, ``ips`` and ``mac`` capabilities;
    ``ifname`` is the interface in the container (``eth0``, ``eth1``... by
    position when None); ``args`` become ``CNI_ARGS``.
    """

    __repr__ = short_repr

    conflist: str = attrs.field(converter=_conflist_field)
    ports: Tuple[PortMapping, ...] = attrs.field(
        default=(), converter=_ports_field, metadata=field_options(name="ports")
    )
    ip: Optional[str] = attrs.field(default=None, converter=_ip_field)
    mac: Optional[str] = attrs.field(default=None, converter=_mac_field)
    ifname: Optional[str] = attrs.field(default=None, converter=_ifname_field)
    args: Mapping[str, str] = attrs.field(factory=dict, converter=freeze_mapping_field)

    @property
    def document(self) -> Dict[str, Any]:
        """The configuration list, parsed (a new copy each time)."""
        import json

        doc: Dict[str, Any] = json.loads(self.conflist)
        return doc

    @property
    def name(self) -> str:
        """The network's name (its configuration list's ``name``)."""
        return str(self.document["name"])

    def runtime_config(self) -> Dict[str, Any]:
        """The capability arguments (``runtimeConfig``) this attachment asks for."""
        out: Dict[str, Any] = {}
        if self.ports:
            out["portMappings"] = [p.to_cni() for p in self.ports]
        if self.ip is not None:
            out["ips"] = [self.ip]
        if self.mac is not None:
            out["mac"] = self.mac
        return out

    def cni_args(self) -> str:
        """``args`` as the ``CNI_ARGS`` variable spells them (``K=V;K=V``)."""
        return ";".join(f"{k}={v}" for k, v in self.args.items())

    # -- named constructors ------------------------------------------------

    @staticmethod
    def none() -> Tuple[Network, ...]:
        """No attachment: the network namespace has only ``lo`` (the default)."""
        return ()

    @classmethod
    def bridge(
        cls,
        name: str = "lcpy",
        subnet: str = "10.89.0.0/24",
        ports: Any = None,
        *,
        bridge: Optional[str] = None,
        gateway: Optional[str] = None,
        ip: Optional[str] = None,
        mac: Optional[str] = None,
        ifname: Optional[str] = None,
        ip_masq: bool = True,
        firewall: bool = True,
        dns: Optional[Mapping[str, Any]] = None,
        data_dir: Optional[str] = None,
        mtu: Optional[int] = None,
    ) -> Network:
        """A bridge network: ``bridge`` (a Linux bridge, by default
        ``lc-<name>``), ``host-local`` addresses from ``subnet`` (the first
        one is the gateway unless given), ``portmap`` for ``ports``
        ({host_port: container_port}) and ``firewall``; ``ip`` is a fixed
        address in the subnet, ``dns`` CNI's DNS object (nameservers,
        search, options) for the container's resolv.conf, ``data_dir``
        where host-local keeps its leases (default /var/lib/cni/networks)."""
        net = _subnet(subnet)
        ipam: Dict[str, Any] = {"type": "host-local", "ranges": [[{"subnet": str(net)}]]}
        if gateway is not None:
            ipam["ranges"][0][0]["gateway"] = _address("gateway", gateway)
        ipam["routes"] = [{"dst": "0.0.0.0/0" if net.version == 4 else "::/0"}]
        if data_dir is not None:
            ipam["dataDir"] = data_dir
        main: Dict[str, Any] = {
            "type": "bridge",
            "bridge": _ifname("network.ifname", bridge) or f"lc-{name}"[:15],
            "isGateway": True,
            "ipMasq": bool(ip_masq),
            "hairpinMode": True,
            "ipam": ipam,
            "capabilities": {"ips": True},
        }
        if mtu is not None:
            main["mtu"] = uint32("mtu", mtu)
        if dns is not None:
            main["dns"] = dict(dns)
        plugins: List[Dict[str, Any]] = [
            main,
            {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True},
        ]
        if firewall:
            plugins.append({"type": "firewall", "backend": "iptables"})
        if mac is not None:
            plugins.append({"type": "tuning", "capabilities": {"mac": True}})
        fixed = None
        if ip is not None:
            fixed = ip if "/" in str(ip) else f"{_address('network.ip', ip)}/{net.prefixlen}"
        return cls(
            {"cniVersion": CNI_VERSION, "name": text("name", name), "plugins": plugins},
            ports=ports,
            ip=fixed,
            mac=mac,
            ifname=ifname,
        )

    @classmethod
    def cni(
        cls,
        conflist: Union[str, Mapping[str, Any]],
        ports: Any = None,
        *,
        ip: Optional[str] = None,
        mac: Optional[str] = None,
        ifname: Optional[str] = None,
        args: Optional[Mapping[str, str]] = None,
        conf_dir: str = CNI_CONF_DIR,
    ) -> Network:
        """A network configuration list: a document, or the name of one in
        ``conf_dir`` (a ``.conflist``, or a single-plugin ``.conf``/``.json``)."""
        doc = conflist if isinstance(conflist, Mapping) else load_conflist(conflist, conf_dir)
        return cls(doc, ports=ports, ip=ip, mac=mac, ifname=ifname, args=args or {})


def _address(field: str, value: Any) -> str:
    import ipaddress

    try:
        return str(ipaddress.ip_address(text(field, value)))
    except ValueError:
        raise fail(field, f"must be an IP address, got {value!r}") from None


def _subnet(value: Any) -> Union[ipaddress.IPv4Network, ipaddress.IPv6Network]:
    import ipaddress

    try:
        return ipaddress.ip_network(text("subnet", value))
    except ValueError as exc:
        raise fail("subnet", f"must be a network such as 10.89.0.0/24: {exc}") from None


def load_conflist(name: str, conf_dir: str = CNI_CONF_DIR) -> Dict[str, Any]:
    """The configuration list called ``name`` in ``conf_dir`` (files in
    lexical order, as libcni); a single plugin's .conf becomes a list of one."""
    import json

    try:
        files = sorted(os.listdir(conf_dir))
    except OSError as exc:
        raise fail("network", f"no CNI network {name!r}: cannot list {conf_dir}: {exc.strerror}") from None
    for file in files:
        if not file.endswith((".conflist", ".conf", ".json")):
            continue
        try:
            with open(os.path.join(conf_dir, file), encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError):
            continue
        if not isinstance(doc, dict) or doc.get("name") != name:
            continue
        if "plugins" not in doc:
            plugin = {k: v for k, v in doc.items() if k not in ("name", "cniVersion")}
            doc = {"cniVersion": doc.get("cniVersion", CNI_VERSION), "name": name, "plugins": [plugin]}
        return doc
    raise fail("network", f"no CNI network {name!r} in {conf_dir}")


def network_tuple(field: str, value: Any) -> Tuple[Network, ...]:
    """Config.network: None, one Network or a sequence; interfaces named
    eth0, eth1... by position where not given, and distinct."""
    if value is None:
        return ()
    items = (value,) if isinstance(value, Network) else value
    if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, (list, tuple)):
        raise fail(field, f"expected a Network, a list of them or None, got {value!r}")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, Network):
            raise fail(f"{field}[{i}]", wrong_type("a Network", item))
        out.append(item if item.ifname is not None else attrs.evolve(item, ifname=f"eth{i}"))
    names = [n.ifname for n in out]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise fail(f"{field}[{i}].ifname", f"{name!r} is used by another attachment")
    return tuple(out)
