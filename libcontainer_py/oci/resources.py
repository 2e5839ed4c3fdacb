"""OCI ``linux.resources`` and ``linux.cgroupsPath`` <-> CgroupConfig.

Decisions (runc's reading of the spec, unless said otherwise):

- A document with neither ``linux.resources`` nor ``linux.cgroupsPath``
  gives ``Config.cgroup = None`` (the container stays in the caller's
  cgroups); with either, a CgroupConfig with ``accounting=True`` (OCI
  runtimes join every controller).  So ``accounting=False`` and
  ``devices=None`` cannot be written to OCI (ConfigError).
- ``cgroupsPath``: absolute or relative, it is taken relative to the root
  of every hierarchy (a relative path is *not* put under the runtime's own
  cgroup); systemd's ``slice:prefix:name`` form is refused.  Written back
  absolute.
- Zero means "not set" where runc reads it so: memory ``limit``,
  ``reservation``, ``swap``; cpu ``shares``, ``quota``, ``period``; pids
  ``limit``; blockIO ``weight``.  -1 is "unlimited" (UNLIMITED).
- ``memory.swap`` is memory+swap (v1 memsw); Memory.swap_max is swap on top
  of the memory limit: ``swap_max = swap - limit`` (-1 stays unlimited; a
  swap limit with an unlimited memory limit cannot be converted: error).
- ``devices``: the rules as given, then runc's standard allows (mknod of any
  node; null, zero, full, random, urandom, tty, ptmx, /dev/pts/*, tun/tap)
  unless the list already ends with them or with an allow-all rule; no
  ``devices`` key at all is Devices.default().
- ``unified``: only ``memory.high`` (Memory.high) and ``cpu.weight``
  (Cpu.weight) are read; any other key is refused.
- ``network``: ``classID`` and ``priorities`` (Network; cgroup v1's
  net_cls and net_prio: an error naming the controller where the host has
  no such hierarchy).  cpu ``realtimePeriod``/``realtimeRuntime`` (0 is not
  set) are Cpu.rt_period_us/rt_runtime_us; blockIO ``weightDevice``
  weights are IO.device_weights (bfq's per-device weights).
- memory ``kernelTCP`` is Memory.kernel_tcp (v1 memory.kmem.tcp.limit_in_bytes,
  ignored with a CgroupWarning where the cgroup has no such file);
  ``kernel`` is ignored with an OciWarning (the kernel no longer has kernel
  memory limits; runc warns too).
- memory ``disableOOMKiller`` is Memory.oom_kill_disable (v1
  memory.oom_control; ignored with a CgroupWarning on cgroup v2, as runc
  ignores it there).
- Refused when set: memory ``useHierarchy`` false,
  ``checkBeforeUpdate`` true; cpu ``idle``; blockIO ``leafWeight`` (also per
  device); ``rdma``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple

from .._jsondoc import array, at, boolean, fail, integer, obj, string, warn
from ..cgroups.resources import IO, UNLIMITED, CgroupConfig, Cpu, DeviceRule, Devices, Hugetlb, Memory, Network, Pids
from ..errors import ConfigError

INT64_MAX = 2**63 - 1
#: What runc allows after the configured rules (Devices.default() minus its deny-all).
DEFAULT_ALLOWS: Tuple[DeviceRule, ...] = Devices.default().rules[1:]
#: The allows Devices.default() ended with in earlier versions (the console,
#: 5:1, and no tun/tap): a Config loaded from an older record still converts
#: (its rules are written as they are).
_EARLIER_ALLOWS: Tuple[DeviceRule, ...] = (
    DeviceRule(True, "c", None, None, "m"),
    DeviceRule(True, "b", None, None, "m"),
    *(DeviceRule.char(major, minor) for major, minor in ((1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0))),
    *(DeviceRule.char(major, minor) for major, minor in ((5, 1), (5, 2), (136, None))),
)
_ALLOW_ALL = DeviceRule(True)

_MEMORY_KEYS = (
    "limit", "reservation", "swap", "kernel", "kernelTCP", "swappiness", "disableOOMKiller", "useHierarchy",
    "checkBeforeUpdate",
)  # fmt: skip
_CPU_KEYS = ("shares", "quota", "burst", "period", "realtimeRuntime", "realtimePeriod", "cpus", "mems", "idle")
_BLKIO_KEYS = (
    "weight", "leafWeight", "weightDevice", "throttleReadBpsDevice", "throttleWriteBpsDevice",
    "throttleReadIOPSDevice", "throttleWriteIOPSDevice",
)  # fmt: skip
_THROTTLES = (
    ("throttleReadBpsDevice", "read_bps"),
    ("throttleWriteBpsDevice", "write_bps"),
    ("throttleReadIOPSDevice", "read_iops"),
    ("throttleWriteIOPSDevice", "write_iops"),
)
_UNIFIED_KEYS = ("memory.high", "cpu.weight")


def _limit(path: str, value: Any) -> Optional[int]:
    """runc's reading of a limit: absent/0 not set, -1 (any negative) unlimited."""
    if value is None:
        return None
    n = integer(path, value, -(2**63), INT64_MAX)
    if n == 0:
        return None
    return UNLIMITED if n < 0 else n


def _refuse_set(path: str, doc: Mapping[str, Any], key: str, why: str, harmless: Any = (None, 0)) -> None:
    value = doc.get(key)
    if value is not None and value not in harmless:
        raise fail(f"{path}.{key}", why)


def cgroup_from_oci(linux: Mapping[str, Any]) -> Optional[CgroupConfig]:
    if linux.get("resources") is None and linux.get("cgroupsPath") is None:
        return None
    path = _cgroups_path(linux.get("cgroupsPath"))
    keys = tuple(p.key for p in _PROPERTIES) + ("rdma", "unified")
    res = obj("linux.resources", linux.get("resources") or {}, keys)
    where = "linux.resources"
    _refuse_set(where, res, "rdma", "rdma limits are not supported", ({},))
    unified = _unified(res.get("unified"))
    resources = {p.field: p.read(res.get(p.key), unified) for p in _PROPERTIES}
    with at("linux.resources"):
        return CgroupConfig(path=path, **resources, accounting=True)


def _cgroups_path(value: Any) -> Optional[str]:
    if value is None:
        return None
    p = string("linux.cgroupsPath", value)
    if ":" in p:
        raise fail("linux.cgroupsPath", f"systemd's slice:prefix:name form is not supported, got {p!r}")
    if not p.strip("/"):
        return None
    with at("linux.cgroupsPath"):
        return CgroupConfig(path=p, devices=None).path


def _unified(value: Any) -> Dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise fail("linux.resources.unified", f"expected an object, got {value!r}")
    out: Dict[str, Any] = {}
    for key, val in value.items():
        path = f"linux.resources.unified[{key!r}]"
        if key not in _UNIFIED_KEYS:
            raise fail(path, f"not supported (only {', '.join(_UNIFIED_KEYS)}; use the typed resources)")
        s = string(path, val).strip()
        if key == "memory.high":
            out[key] = "max" if s == "max" else _digits(path, s)
        else:
            out[key] = _digits(path, s)
    return out


def _digits(path: str, s: str) -> int:
    if not s.isdigit():
        raise fail(path, f"expected a number, got {s!r}")
    return int(s)


def _count(value: Optional[int]) -> Optional[int]:
    return None if value is None else (-1 if value == UNLIMITED else value)


def _put(out: Dict[str, Any], key: str, value: Optional[int], field: str) -> None:
    if value is None:
        return
    if value == 0:
        raise ConfigError(field, "0 reads back as 'not set' in OCI (runc's reading); cannot be expressed")
    out[key] = _count(value)


def cgroup_to_oci(cgroup: Optional[CgroupConfig]) -> Dict[str, Any]:
    """The ``linux`` keys (``cgroupsPath``, ``resources``) for ``cgroup``."""
    if cgroup is None:
        return {}
    if not cgroup.accounting:
        raise ConfigError(
            "cgroup.accounting", "OCI runtimes join every controller; only accounting=True can be expressed"
        )
    if cgroup.devices is None:
        raise ConfigError("cgroup.devices", "OCI runtimes always set device rules; None cannot be expressed")
    out: Dict[str, Any] = {}
    if cgroup.path is not None:
        out["cgroupsPath"] = "/" + cgroup.path
    res: Dict[str, Any] = {}
    unified: Dict[str, str] = {}
    for p in _PROPERTIES:
        resource = getattr(cgroup, p.field)
        if resource is not None:
            res[p.key] = p.write(resource, unified)
    if unified:
        res["unified"] = unified
    out["resources"] = res
    return out


class _Property:
    """A property of ``linux.resources``, the CgroupConfig field it is, and
    how it is read and written; both see the ``unified`` values
    (memory.high, cpu.weight)."""

    #: Its key in ``linux.resources`` and the CgroupConfig field.
    key: str
    field: str

    def read(self, value: Any, unified: Mapping[str, Any]) -> Any:
        """The resource of the property's ``value`` (None: not set)."""
        raise NotImplementedError

    def write(self, resource: Any, unified: Dict[str, str]) -> Any:
        """The property for ``resource``, adding what goes to ``unified``."""
        raise NotImplementedError


class _ObjectProperty(_Property):
    """A property that is an object of ``keys``: absent (with no ``unified``
    value of ``also`` either), the resource is None; else ``parse`` makes it
    of the checked object (empty when only ``also`` is set) and that value,
    a config class's error raised under the property's JSON path."""

    keys: Tuple[str, ...]
    #: The ``unified`` key (a cgroup2 file) that sets part of it too, if any.
    also: Optional[str] = None

    @property
    def path(self) -> str:
        return f"linux.resources.{self.key}"

    def read(self, value: Any, unified: Mapping[str, Any]) -> Any:
        extra = unified.get(self.also) if self.also is not None else None
        if value is None and extra is None:
            return None
        doc = obj(self.path, value if value is not None else {}, self.keys)
        with at(self.path):
            return self.parse(doc, extra)

    def parse(self, doc: Mapping[str, Any], extra: Any) -> Any:
        """The resource of the property's object ``doc`` and the value of ``also``."""
        raise NotImplementedError

    def limit(self, doc: Mapping[str, Any], key: str) -> Optional[int]:
        """The limit at ``key`` of the object ``doc``, read as runc does (_limit)."""
        return _limit(f"{self.path}.{key}", doc.get(key))


class _Devices(_Property):
    """``devices``: the rules as given, then runc's standard allows unless the list
    ends with them or with an allow-all rule; absent: Devices.default()."""

    key = field = "devices"

    def read(self, value: Any, unified: Mapping[str, Any]) -> Devices:
        if value is None:
            return Devices.default()
        rules: List[DeviceRule] = []
        for i, item in enumerate(array("linux.resources.devices", value)):
            where = f"linux.resources.devices[{i}]"
            d = obj(where, item, ("allow", "type", "major", "minor", "access"), required=("allow",))

            def number(key: str, d: Mapping[str, Any] = d, where: str = where) -> Optional[int]:
                v = d.get(key)
                return None if v is None or v == -1 else integer(f"{where}.{key}", v, 0)

            with at(where):
                rules.append(
                    DeviceRule(
                        boolean(where + ".allow", d["allow"]),
                        d.get("type") or "a",
                        number("major"),
                        number("minor"),
                        d.get("access") or "rwm",
                    )
                )
        if tuple(rules[-len(DEFAULT_ALLOWS) :]) != DEFAULT_ALLOWS and not (rules and rules[-1] == _ALLOW_ALL):
            rules.extend(DEFAULT_ALLOWS)
        return Devices(tuple(rules))

    def write(self, devices: Devices, unified: Dict[str, str]) -> List[Dict[str, Any]]:
        rules = devices.rules
        standard = rules[-len(DEFAULT_ALLOWS) :] == DEFAULT_ALLOWS or rules[-len(_EARLIER_ALLOWS) :] == _EARLIER_ALLOWS
        if not standard and not (rules and rules[-1] == _ALLOW_ALL):
            raise ConfigError(
                "cgroup.devices",
                "OCI runtimes allow the standard devices after the given rules; the rules must end with them "
                "(as Devices.default() does) or with an allow-all rule",
            )
        out = []
        for r in rules:
            item: Dict[str, Any] = {"allow": r.allow, "type": r.type}
            if r.major is not None:
                item["major"] = r.major
            if r.minor is not None:
                item["minor"] = r.minor
            item["access"] = r.access
            out.append(item)
        return out


class _Memory(_ObjectProperty):
    """``memory`` (and ``unified`` memory.high): ``swap`` is memory+swap."""

    key = field = "memory"
    keys, also = _MEMORY_KEYS, "memory.high"

    def parse(self, doc: Mapping[str, Any], high: Any) -> Memory:
        path = self.path
        if doc.get("kernel") is not None:
            integer(f"{path}.kernel", doc["kernel"], -(2**63), INT64_MAX)
            warn(f"{path}.kernel ignored: kernel memory limits are gone from the kernel (5.16 and later ignore them)")
        oom_kill_disable = doc.get("disableOOMKiller")
        if oom_kill_disable is not None:
            oom_kill_disable = boolean(f"{path}.disableOOMKiller", oom_kill_disable)
        _refuse_set(path, doc, "useHierarchy", "memory.use_hierarchy is always on", (None, True))
        _refuse_set(path, doc, "checkBeforeUpdate", "only meaningful for an update", (None, False))
        limit = self.limit(doc, "limit")
        swap = self.limit(doc, "swap")
        swap_max: Optional[int] = None
        if swap == UNLIMITED:
            swap_max = UNLIMITED
        elif swap is not None:
            if limit is None or limit == UNLIMITED:
                raise fail(f"{path}.swap", "memory+swap needs a memory limit to convert to a swap limit")
            if swap < limit:
                raise fail(f"{path}.swap", f"memory+swap ({swap}) must be at least the memory limit ({limit})")
            swap_max = swap - limit
        swappiness = doc.get("swappiness")
        if swappiness is not None:
            swappiness = integer(f"{path}.swappiness", swappiness, 0, 100)
        return Memory(
            max=limit,
            swap_max=swap_max,
            reservation=self.limit(doc, "reservation"),
            high=None if high is None else (UNLIMITED if high == "max" else high),
            swappiness=swappiness,
            kernel_tcp=self.limit(doc, "kernelTCP"),
            oom_kill_disable=bool(oom_kill_disable),
        )

    def write(self, m: Memory, unified: Dict[str, str]) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        _put(out, "limit", m.max, "cgroup.memory.max")
        _put(out, "reservation", m.reservation, "cgroup.memory.reservation")
        if m.swap_max == UNLIMITED:
            out["swap"] = -1
        elif m.swap_max is not None:
            if m.max is None or m.max == UNLIMITED:
                raise ConfigError("cgroup.memory.swap_max", "OCI's memory+swap needs a numeric memory limit (max)")
            out["swap"] = m.max + m.swap_max
        if m.swappiness is not None:
            out["swappiness"] = m.swappiness
        _put(out, "kernelTCP", m.kernel_tcp, "cgroup.memory.kernel_tcp")
        if m.oom_kill_disable:
            out["disableOOMKiller"] = True
        if m.high is not None:
            unified["memory.high"] = "max" if m.high == UNLIMITED else str(m.high)
        return out


class _Cpu(_ObjectProperty):
    """``cpu`` (and ``unified`` cpu.weight)."""

    key = field = "cpu"
    keys, also = _CPU_KEYS, "cpu.weight"

    def parse(self, doc: Mapping[str, Any], weight: Any) -> Cpu:
        path = self.path
        _refuse_set(path, doc, "idle", "SCHED_IDLE cgroups (cpu.idle) are not supported")
        burst = doc.get("burst")
        return Cpu(
            weight=weight,
            shares=self.limit(doc, "shares"),
            quota_us=self.limit(doc, "quota"),
            period_us=self.limit(doc, "period"),
            burst_us=None if burst is None else integer(f"{path}.burst", burst, 0),
            rt_period_us=self.limit(doc, "realtimePeriod"),
            rt_runtime_us=self.limit(doc, "realtimeRuntime"),
            cpus=doc.get("cpus") or None,
            mems=doc.get("mems") or None,
        )

    def write(self, c: Cpu, unified: Dict[str, str]) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        _put(out, "shares", c.shares, "cgroup.cpu.shares")
        _put(out, "quota", c.quota_us, "cgroup.cpu.quota_us")
        _put(out, "period", c.period_us, "cgroup.cpu.period_us")
        if c.burst_us is not None:
            out["burst"] = c.burst_us
        _put(out, "realtimePeriod", c.rt_period_us, "cgroup.cpu.rt_period_us")
        _put(out, "realtimeRuntime", c.rt_runtime_us, "cgroup.cpu.rt_runtime_us")
        if c.cpus is not None:
            out["cpus"] = c.cpus
        if c.mems is not None:
            out["mems"] = c.mems
        if c.weight is not None:
            unified["cpu.weight"] = str(c.weight)
        return out


class _Pids(_ObjectProperty):
    """``pids``: the limit."""

    key = field = "pids"
    keys = ("limit",)

    def parse(self, doc: Mapping[str, Any], extra: Any) -> Pids:
        return Pids(max=self.limit(doc, "limit"))

    def write(self, p: Pids, unified: Dict[str, str]) -> Dict[str, Any]:
        if p.max == 0:
            raise ConfigError("cgroup.pids.max", "0 reads back as 'not set' in OCI (runc's reading)")
        return {"limit": 0 if p.max is None else _count(p.max)}


def _weight_devices(path: str, value: Any) -> Dict[str, int]:
    """blockIO.weightDevice -> {"major:minor": weight}; 0 or no weight is not set."""
    out: Dict[str, int] = {}
    for i, item in enumerate(array(f"{path}.weightDevice", value or [])):
        where = f"{path}.weightDevice[{i}]"
        d = obj(where, item, ("major", "minor", "weight", "leafWeight"), required=("major", "minor"))
        _refuse_set(where, d, "leafWeight", "blkio leaf weights are not supported")
        weight = d.get("weight")
        if weight is None or weight == 0:
            continue
        dev = f"{integer(where + '.major', d['major'], 0)}:{integer(where + '.minor', d['minor'], 0)}"
        out[dev] = integer(where + ".weight", weight, 1, 1000)
    return out


class _BlockIO(_ObjectProperty):
    """``blockIO``: the v1 weight, per-device weights and throttles."""

    key = "blockIO"
    field = "io"
    keys = _BLKIO_KEYS

    def parse(self, doc: Mapping[str, Any], extra: Any) -> IO:
        path = self.path
        _refuse_set(path, doc, "leafWeight", "blkio leaf weights are not supported")
        maps: Dict[str, Dict[str, int]] = {"device_weights": _weight_devices(path, doc.get("weightDevice"))}
        for key, name in _THROTTLES:
            out: Dict[str, int] = {}
            for i, item in enumerate(array(f"{path}.{key}", doc.get(key) or [])):
                where = f"{path}.{key}[{i}]"
                d = obj(where, item, ("major", "minor", "rate"), required=("major", "minor", "rate"))
                dev = f"{integer(where + '.major', d['major'], 0)}:{integer(where + '.minor', d['minor'], 0)}"
                out[dev] = integer(where + ".rate", d["rate"], 0, INT64_MAX)
            maps[name] = out
        return IO(blkio_weight=self.limit(doc, "weight"), **maps)

    def write(self, io: IO, unified: Dict[str, str]) -> Dict[str, Any]:
        if io.weight is not None:
            raise ConfigError("cgroup.io.weight", "OCI's blockIO weight is the v1 scale: use blkio_weight")
        out: Dict[str, Any] = {}
        _put(out, "weight", io.blkio_weight, "cgroup.io.blkio_weight")
        weights = []
        for dev, weight in io.device_weights.items():
            if ":" not in dev:
                raise ConfigError(f"cgroup.io.device_weights[{dev!r}]", "OCI names devices by major:minor, not by path")
            major, minor = dev.split(":")
            weights.append({"major": int(major), "minor": int(minor), "weight": weight})
        if weights:
            out["weightDevice"] = weights
        for key, name in _THROTTLES:
            items = []
            for dev, rate in getattr(io, name).items():
                field = f"cgroup.io.{name}[{dev!r}]"
                if ":" not in dev:
                    raise ConfigError(field, "OCI names devices by major:minor, not by path")
                if rate == UNLIMITED:
                    raise ConfigError(field, "OCI throttles are numbers; 'max' cannot be said")
                major, minor = dev.split(":")
                items.append({"major": int(major), "minor": int(minor), "rate": rate})
            if items:
                out[key] = items
        return out


class _HugepageLimits(_Property):
    """``hugepageLimits``: a limit per page size."""

    key = "hugepageLimits"
    field = "hugetlb"

    def read(self, value: Any, unified: Mapping[str, Any]) -> Optional[Hugetlb]:
        if value is None:
            return None
        limits: Dict[str, int] = {}
        for i, item in enumerate(array("linux.resources.hugepageLimits", value)):
            where = f"linux.resources.hugepageLimits[{i}]"
            d = obj(where, item, ("pageSize", "limit"), required=("pageSize", "limit"))
            limits[string(where + ".pageSize", d["pageSize"])] = integer(where + ".limit", d["limit"], 0, INT64_MAX)
        with at("linux.resources.hugepageLimits"):
            return Hugetlb(limits)

    def write(self, h: Hugetlb, unified: Dict[str, str]) -> List[Dict[str, Any]]:
        pages = []
        for size, limit in h.limits.items():
            if limit == UNLIMITED:
                raise ConfigError(f"cgroup.hugetlb[{size!r}]", "OCI hugepage limits are numbers; 'max' cannot be said")
            pages.append({"pageSize": size, "limit": limit})
        return pages


class _Network(_ObjectProperty):
    """``network``: classID and priorities (cgroup v1's net_cls and net_prio)."""

    key = field = "network"
    keys = ("classID", "priorities")

    def parse(self, doc: Mapping[str, Any], extra: Any) -> Optional[Network]:
        path = self.path
        class_id = doc.get("classID")
        priorities: Dict[str, int] = {}
        for i, item in enumerate(array(f"{path}.priorities", doc.get("priorities") or [])):
            where = f"{path}.priorities[{i}]"
            d = obj(where, item, ("name", "priority"), required=("name", "priority"))
            priorities[string(where + ".name", d["name"])] = integer(where + ".priority", d["priority"], 0, 2**32 - 1)
        if not class_id and not priorities:
            return None  # runc's reading: a classID of 0 is not set
        return Network(
            class_id=integer(f"{path}.classID", class_id, 0, 2**32 - 1) if class_id else None,
            priorities=priorities,
        )

    def write(self, n: Network, unified: Dict[str, str]) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        _put(out, "classID", n.class_id, "cgroup.network.class_id")
        if n.priorities:
            out["priorities"] = [{"name": k, "priority": v} for k, v in n.priorities.items()]
        return out


#: Each resource of CgroupConfig as OCI has it, in the order written.
_PROPERTIES: Tuple[_Property, ...] = (_Devices(), _Memory(), _Cpu(), _Pids(), _BlockIO(), _HugepageLimits(), _Network())
