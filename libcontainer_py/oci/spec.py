"""The OCI runtime spec's Linux ``config.json`` <-> Config.

``config_from_oci(doc, bundle=...)`` reads a parsed config.json into an
OciConfig (the Config plus what OCI has and Config does not: the version,
annotations, the console size); ``config_to_oci(config)`` writes one.
Every known property is either mapped or, where it cannot be honoured,
refused with a ConfigError naming its JSON path (``linux.intelRdt``).
Unknown properties, at any level, are ignored as the spec requires, with an
OciWarning naming them (``linux.resources.memory.bogus``); so are the
sections of other platforms (``solaris``, ``windows``, ``vm``, ``zos``).
Values are never unknown: a namespace type, a capability, a seccomp action
or a device type the spec does not define is an error -- but for
capabilities in a document of runtime-spec 1.1 or later, which says to log
them as a warning and not fail (runc ignores them with a warning whatever
the version): those are left out with an OciWarning.  Free-form maps
(``annotations``, ``linux.sysctl``) have no unknown keys; ``unified`` keys
name cgroup files, and the ones not supported are refused.

Decisions, where OCI and Config do not line up one to one:

- Missing keys mean what OCI says they mean, not Config's defaults: no
  ``linux.seccomp`` is no filter, no ``process.capabilities`` is no
  capabilities (not all of them), no ``noNewPrivileges`` is false, no
  ``maskedPaths``/``readonlyPaths`` are none, a namespace not listed is
  shared with the runtime, the mount namespace included: ``root.path`` is
  then chroot'ed into (as runc does) and nothing may be mounted, masked or
  made read-only there, nor ``rootfsPropagation`` given (runc would do it
  in its own mount namespace).  ``process.user.umask`` defaults to 022.
- ``process.env``: ``"K=V"`` strings; a name given twice keeps its last
  value (as runc, which sets them in order).  An entry without ``=`` is an
  error.
- ``process.capabilities.ambient``: the kernel refuses to raise an ambient
  capability that is not both permitted and inheritable, and ``runc spec``
  writes such a set (ambient without inheritable); those names are dropped
  from the ambient set with an OciWarning.  Every other capability rule
  (effective within permitted within bounding) is an error.
- ``process.consoleSize`` goes to OciConfig.console_size (for whoever sets up
  the terminal); ``apparmorProfile``, ``selinuxLabel`` and
  ``linux.mountLabel`` must be empty (Config has no LSM labels; the error
  names the host's LSMs); ``user.username``, ``linux.intelRdt`` and
  ``linux.netDevices`` are refused. ``scheduler``, ``ioPriority`` and
  ``execCPUAffinity`` become Process.scheduler, io_priority and
  exec_cpu_affinity; ``linux.memoryPolicy`` Config.memory_policy.
- ``process`` may be left out (it is optional until ``start``): the Config
  then has NO_PROCESS, a stand-in, and OciConfig.has_process is False; the
  command line creates such a container with ``no_process=True`` and its
  ``start`` fails naming the missing process (runc refuses the create).
- ``root.path`` relative to the bundle (``bundle`` is needed then); so are
  relative bind mount sources.
- ``hostname``/``domainname`` empty or absent: None (Config then names the
  host after the container id when the uts namespace is new; the command
  line makes it "", none set, as runc).  "" is written as absent.
- ``linux.devices``: type ``u`` is read as ``c`` (the same node), ``p`` is a
  FIFO (mknod S_IFIFO; no device number); ``fileMode`` may carry the node's
  own S_IFMT bits (podman writes 020666); ``uid``/``gid`` own the node.  When the mounts have ``/dev``, the standard
  devices (DEFAULT_DEVICES) are added after the given ones unless a device
  with the same path is given (OCI runtimes must supply them).
- Cgroup resources: see :mod:`libcontainer_py.oci.resources`.
- Mount options: see :mod:`libcontainer_py.oci.mounts`.

``config_to_oci`` raises ConfigError naming the Config field for what OCI
cannot say: a root that is not a directory (Rootfs.host(), overlays, None),
Rootfs.no_pivot, Process.init, Process.executable, devices lacking a
standard one, and the cgroup cases of the resources module.  For every other
Config, ``config_from_oci(config_to_oci(c)).config == c``.
"""

from __future__ import annotations

import json
import os
import stat
import warnings
from types import MappingProxyType
from typing import Any, Dict, List, Mapping, Optional, Set, Tuple, Union

import attrs

from .._jsondoc import UINT64_MAX, OciWarning, array, at, boolean, fail, integer, obj, string, string_map, strings, warn
from .._log import log
from ..capabilities import CAPABILITY_NUMBERS, Capabilities
from ..config import PERSONALITIES, TIME_CLOCKS, Config
from ..devices import DEFAULT_DEVICES, Device
from ..errors import ConfigError
from ..hooks import Hook, Hooks
from ..idmap import IDMap
from ..limits import INFINITY, Rlimit
from ..memory_policy import MemoryPolicy
from ..mounts import Mounts
from ..namespaces import NAMESPACE_KINDS, Namespaces
from ..process import Process, User
from ..rootfs import Rootfs
from ..scheduling import ExecCPUAffinity, IOPriority, Scheduler
from ..seccomp import Seccomp
from .mounts import mount_to_oci, mounts_from_oci
from .resources import cgroup_from_oci, cgroup_to_oci

__all__ = ["NO_PROCESS", "OCI_VERSION", "OciConfig", "OciWarning", "config_from_oci", "config_to_oci", "load_bundle"]

#: The spec version config_to_oci writes.
OCI_VERSION = "1.0.2"


def _annotations(value: Any) -> Mapping[str, str]:
    if not isinstance(value, Mapping):
        raise ConfigError("annotations", f"expected a mapping of str to str, got {value!r}")
    for k, v in value.items():
        if not isinstance(k, str) or not k or not isinstance(v, str):
            raise ConfigError("annotations", f"expected non-empty str keys and str values, got {k!r}: {v!r}")
    return MappingProxyType(dict(value))


def _console_size(value: Any) -> Optional[Tuple[int, int]]:
    if value is None:
        return None
    try:
        height, width = value
    except (TypeError, ValueError):
        raise ConfigError("console_size", f"expected (height, width), got {value!r}") from None
    return (integer("console_size", height, 0, 2**16 - 1), integer("console_size", width, 0, 2**16 - 1))


def _version(value: Any) -> str:
    return string("oci_version", value)


def _has_process(value: Any) -> bool:
    return boolean("has_process", value)


def _config(value: Any) -> Config:
    if not isinstance(value, Config):
        raise ConfigError("config", f"expected a Config, got {type(value).__name__}")
    return value


@attrs.frozen
class OciConfig:
    """A config.json: the Config, and what OCI has that Config does not."""

    config: Config = attrs.field(converter=_config)
    annotations: Mapping[str, str] = attrs.field(factory=dict, converter=_annotations)
    oci_version: str = attrs.field(default=OCI_VERSION, converter=_version)
    #: process.consoleSize as (height, width), for whoever sizes the terminal.
    console_size: Optional[Tuple[int, int]] = attrs.field(default=None, converter=_console_size)
    #: The bundle directory it was read from, if any.
    bundle: Optional[str] = attrs.field(default=None)
    #: False when the document has no ``process`` (optional at create):
    #: ``config.process`` is then NO_PROCESS, a stand-in never to be started.
    has_process: bool = attrs.field(default=True, converter=_has_process)

    def to_oci(self) -> Dict[str, Any]:
        """The config.json document (a dict), with the annotations, version and console size kept."""
        doc = config_to_oci(
            self.config, annotations=self.annotations, oci_version=self.oci_version, console_size=self.console_size
        )
        if not self.has_process:
            del doc["process"]
        return doc


#: What Config.process is for a document without ``process``: created, the
#: container is never started (Container.create(..., no_process=True)).
NO_PROCESS = Process(args=("<no process>",))


# -- reading -------------------------------------------------------------------

_TOP_KEYS = ("ociVersion", "process", "root", "hostname", "domainname", "mounts", "hooks", "annotations", "linux")
#: The spec's sections for other platforms: ignored here, with a warning.
_OTHER_PLATFORMS = ("solaris", "windows", "vm", "zos")
#: The keys read here; those of one field each are in _PROCESS_FIELDS and _LINUX_FIELDS.
_PROCESS_KEYS = (
    "terminal", "consoleSize", "user", "args", "env", "cwd", "capabilities", "rlimits", "noNewPrivileges",
    "oomScoreAdj", "apparmorProfile", "selinuxLabel",
)  # fmt: skip
_LINUX_KEYS = (
    "namespaces", "uidMappings", "gidMappings", "devices", "cgroupsPath", "resources", "sysctl", "seccomp",
    "maskedPaths", "readonlyPaths", "rootfsPropagation", "mountLabel", "intelRdt", "netDevices",
)  # fmt: skip
_LINUX_REFUSED = {
    "intelRdt": "Intel RDT (resctrl) is not supported",
    "netDevices": "moving network devices into the container is not supported",
}
_SCHEDULER_KEYS = ("policy", "nice", "priority", "flags", "runtime", "deadline", "period")
#: OCI namespace type -> Namespaces field.
_NS_TYPES = {k.oci_type: k.name for k in NAMESPACE_KINDS}
_CAP_SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")
_HOOK_PHASES = (
    ("prestart", "prestart"),
    ("createRuntime", "create_runtime"),
    ("createContainer", "create_container"),
    ("startContainer", "start_container"),
    ("poststart", "poststart"),
    ("poststop", "poststop"),
)


def host_lsms() -> Tuple[str, ...]:
    """The Linux security modules the running kernel has active."""
    try:
        with open("/sys/kernel/security/lsm") as f:
            return tuple(x for x in f.read().strip().split(",") if x)
    except OSError:
        return ()


def _refuse_label(path: str, value: Any) -> None:
    if value is None or string(path, value) == "":
        return
    lsms = host_lsms()
    active = f"active LSMs: {', '.join(lsms)}" if lsms else "this host has no LSM list (no AppArmor or SELinux)"
    raise fail(path, f"security labels are not supported ({active}); got {value!r}")


def config_from_oci(doc: Mapping[str, Any], *, bundle: Optional[str] = None) -> OciConfig:
    """An OciConfig from a parsed config.json.  ``bundle`` is the directory
    relative paths (``root.path``, bind sources) are taken from."""
    top = obj("", doc, _TOP_KEYS + _OTHER_PLATFORMS, required=("ociVersion",))
    others = [key for key in _OTHER_PLATFORMS if key in top]
    if others:
        warn(
            f"{', '.join(others)} ignored: {'they are' if len(others) > 1 else 'it is'} for another platform than Linux"
        )
    version = string("ociVersion", top["ociVersion"])
    if not version.startswith("1."):
        raise fail("ociVersion", f"only version 1.x of the runtime spec is supported, got {version!r}")
    if bundle is not None:
        bundle = os.path.abspath(bundle)
    linux = obj("linux", top.get("linux") or {}, _LINUX_KEYS + tuple(f.key for f in _LINUX_FIELDS))
    for key, why in _LINUX_REFUSED.items():
        if linux.get(key) not in (None, {}, []):
            raise fail(f"linux.{key}", why)
    _refuse_label("linux.mountLabel", linux.get("mountLabel"))

    has_process = top.get("process") is not None
    process, console_size, ambient_dropped, unknown_caps = (
        _process(top["process"], lenient_caps=_minor(version) >= 1)
        if has_process
        else (NO_PROCESS, None, frozenset(), frozenset())
    )
    _left_out(
        "process.capabilities",
        unknown_caps,
        "ignored: not capabilities this runtime knows (runtime-spec 1.1: warn and go on)",
    )
    _left_out(
        "process.capabilities.ambient",
        ambient_dropped,
        "dropped: an ambient capability must be permitted and inheritable (the kernel refuses to raise it otherwise)",
    )
    rootfs = _root(top.get("root"), linux.get("rootfsPropagation"), bundle)
    mounts = mounts_from_oci(top.get("mounts") or [], bundle)
    devices = _devices(linux.get("devices") or [])
    if any(m.destination == "/dev" for m in mounts):
        given = {d.path for d in devices}
        devices += [d for d in DEFAULT_DEVICES if d.path not in given]
    seccomp = None
    if linux.get("seccomp") is not None:
        try:
            seccomp = Seccomp.from_oci(linux["seccomp"])
        except ConfigError as exc:
            field = exc.field if exc.field.startswith("linux.") else f"linux.{exc.field}"
            raise fail(field, exc.message) from exc
        if seccomp.uses_notify and seccomp.listener_path is None:
            # runc's "seccomp listenerPath is not set", before anything exists
            raise fail("linux.seccomp.listenerPath", "notify rules need a seccomp agent's socket (as in runc)")
    with at("linux.sysctl"):
        sysctl = string_map("linux.sysctl", linux.get("sysctl") or {})
    annotations = string_map("annotations", top.get("annotations") or {})
    namespaces = _namespaces(linux.get("namespaces") or [])
    if namespaces.mount is False and linux.get("rootfsPropagation"):
        raise fail(
            "linux.rootfsPropagation",
            "without a mount namespace (none in linux.namespaces) the root is only chroot'ed into: "
            "its propagation would be the runtime's own mounts'",
        )
    if linux.get("timeOffsets") and namespaces.time is not True:
        raise fail("linux.timeOffsets", "clock offsets need a new time namespace (no 'time' in linux.namespaces)")

    config = Config(
        process=process,
        rootfs=rootfs,
        hostname=_name("hostname", top.get("hostname")),
        domainname=_name("domainname", top.get("domainname")),
        namespaces=namespaces,
        mounts=Mounts(mounts),
        devices=tuple(devices),
        uid_mappings=_idmaps("linux.uidMappings", linux.get("uidMappings") or []),
        gid_mappings=_idmaps("linux.gidMappings", linux.get("gidMappings") or []),
        masked_paths=_paths("linux.maskedPaths", linux.get("maskedPaths")),
        readonly_paths=_paths("linux.readonlyPaths", linux.get("readonlyPaths")),
        sysctl=sysctl,
        seccomp=seccomp,
        hooks=_hooks(top.get("hooks")),
        cgroup=cgroup_from_oci(linux),
        **{f.field: f.read(linux.get(f.key)) for f in _LINUX_FIELDS},
    )
    return OciConfig(config, annotations, version, console_size, bundle, has_process)


def _name(path: str, value: Any) -> Optional[str]:
    """Empty or absent: None.  (Config checks the rest, under the same name.)"""
    if value is None or string(path, value) == "":
        return None
    return str(value)


def _paths(path: str, value: Any) -> Tuple[str, ...]:
    if value is None:
        return ()
    return tuple(strings(path, value))


def _left_out(field: str, names: frozenset[str], why: str) -> None:
    """Capability names of ``field`` the container does not get: logged, and
    an OciWarning for config_from_oci's caller."""
    if names:
        log.warning("%s: %s %s", field, sorted(names), why)
        warnings.warn(f"{field}: {sorted(names)} {why}", OciWarning, stacklevel=3)


def _minor(version: str) -> int:
    """The minor version of an ociVersion "1.Y[.Z][-suffix]" (0 when unreadable)."""
    parts = version.split("-", 1)[0].split(".")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def _process(
    value: Any, *, lenient_caps: bool = False
) -> Tuple[Process, Optional[Tuple[int, int]], frozenset[str], frozenset[str]]:
    doc = obj("process", value, _PROCESS_KEYS + tuple(f.key for f in _PROCESS_FIELDS), required=("args", "cwd"))
    _refuse_label("process.apparmorProfile", doc.get("apparmorProfile"))
    _refuse_label("process.selinuxLabel", doc.get("selinuxLabel"))
    console_size = None
    if doc.get("consoleSize") is not None:
        cs = obj("process.consoleSize", doc["consoleSize"], ("height", "width"), required=("height", "width"))
        console_size = (
            integer("process.consoleSize.height", cs["height"], 0, 2**16 - 1),
            integer("process.consoleSize.width", cs["width"], 0, 2**16 - 1),
        )
    user, umask = _user(doc.get("user"))
    env: Dict[str, str] = {}
    for i, item in enumerate(strings("process.env", doc.get("env") or [])):
        if "=" not in item:
            raise fail(f"process.env[{i}]", f"expected NAME=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        env.pop(k, None)  # the last one wins, and keeps its place
        env[k] = v
    caps, dropped, unknown = _capabilities(doc.get("capabilities"), lenient_caps)
    rlimits = []
    for i, item in enumerate(array("process.rlimits", doc.get("rlimits") or [])):
        where = f"process.rlimits[{i}]"
        r = obj(where, item, ("type", "hard", "soft"), required=("type", "hard", "soft"))
        hard = integer(where + ".hard", r["hard"], 0, UINT64_MAX)
        soft = integer(where + ".soft", r["soft"], 0, UINT64_MAX)
        with at(where):
            rlimits.append(
                Rlimit(
                    string(where + ".type", r["type"]),
                    soft=None if soft == UINT64_MAX else soft,
                    hard=None if hard == UINT64_MAX else hard,
                )
            )
    nnp = doc.get("noNewPrivileges")
    terminal = doc.get("terminal")
    fields = {f.field: f.read(doc.get(f.key)) for f in _PROCESS_FIELDS}
    with at("process"):
        process = Process(
            args=strings("process.args", doc["args"]),
            env=env,
            cwd=string("process.cwd", doc["cwd"]),
            user=user,
            umask=umask,
            capabilities=caps,
            no_new_privileges=False if nnp is None else boolean("process.noNewPrivileges", nnp),
            rlimits=tuple(rlimits),
            terminal=False if terminal is None else boolean("process.terminal", terminal),
            oom_score_adj=doc.get("oomScoreAdj"),
            **fields,
        )
    return process, console_size, dropped, unknown


def _user(value: Any) -> Tuple[User, int]:
    if value is None:
        return User(), 0o022
    doc = obj("process.user", value, ("uid", "gid", "umask", "additionalGids", "username"), required=("uid", "gid"))
    if doc.get("username"):
        raise fail("process.user.username", "user names are for Windows; give uid and gid")
    umask = doc.get("umask")
    with at("process.user"):
        user = User(uid=doc["uid"], gid=doc["gid"], additional_gids=doc.get("additionalGids") or ())
    return user, 0o022 if umask is None else integer("process.user.umask", umask, 0, 0o777)


def _capabilities(value: Any, lenient: bool = False) -> Tuple[Capabilities, frozenset[str], frozenset[str]]:
    """The sets, the ambient names dropped, and (``lenient``: a runtime-spec
    1.1+ document, which says to warn and go on) the unknown names left out;
    an unknown name of a 1.0 document is an error, as that version says."""
    if value is None:
        return Capabilities(), frozenset(), frozenset()
    doc = obj("process.capabilities", value, _CAP_SETS)
    sets: Dict[str, frozenset[str]] = {}
    unknown: Set[str] = set()
    for name in _CAP_SETS:
        names = strings(f"process.capabilities.{name}", doc.get(name) or [])
        if lenient:
            unknown.update(n for n in names if not _known_capability(n))
            names = [n for n in names if _known_capability(n)]
        with at(f"process.capabilities.{name}"):
            sets[name] = Capabilities(bounding=names).bounding
    dropped = sets["ambient"] - (sets["permitted"] & sets["inheritable"])
    sets["ambient"] -= dropped
    with at("process.capabilities"):
        return Capabilities(**sets), dropped, frozenset(unknown)


def _known_capability(name: str) -> bool:
    canonical = name.upper()
    return (canonical if canonical.startswith("CAP_") else "CAP_" + canonical) in CAPABILITY_NUMBERS


def _root(value: Any, propagation: Any, bundle: Optional[str]) -> Rootfs:
    if value is None:
        raise fail("root", "is required (the container's root directory)")
    doc = obj("root", value, ("path", "readonly"), required=("path",))
    path = string("root.path", doc["path"])
    if not path:
        raise fail("root.path", "must not be empty")
    if not os.path.isabs(path):
        if bundle is None:
            raise fail("root.path", f"{path!r} is relative to the bundle, but no bundle was given")
        path = os.path.join(bundle, path)
    readonly = doc.get("readonly")
    prop = "rslave" if propagation in (None, "") else propagation
    with at("linux.rootfsPropagation"):
        Rootfs(None, propagation=prop)
    with at("root"):
        return Rootfs.directory(
            path, readonly=False if readonly is None else boolean("root.readonly", readonly), propagation=prop
        )


def _namespaces(value: Any) -> Namespaces:
    settings: Dict[str, Any] = {}
    for i, item in enumerate(array("linux.namespaces", value)):
        where = f"linux.namespaces[{i}]"
        d = obj(where, item, ("type", "path"), required=("type",))
        kind = _NS_TYPES.get(string(where + ".type", d["type"]))
        if kind is None:
            raise fail(where + ".type", f"unknown namespace type {d['type']!r} (known: {', '.join(_NS_TYPES)})")
        if kind in settings:
            raise fail(where + ".type", f"namespace {d['type']!r} given twice")
        path = d.get("path")
        settings[kind] = True if path in (None, "") else string(where + ".path", path)
    with at("linux.namespaces"):
        return Namespaces(**settings)


def _idmaps(path: str, value: Any) -> Tuple[IDMap, ...]:
    out = []
    for i, item in enumerate(array(path, value)):
        where = f"{path}[{i}]"
        d = obj(where, item, ("containerID", "hostID", "size"), required=("containerID", "hostID", "size"))
        with at(where):
            out.append(IDMap(d["containerID"], d["hostID"], d["size"]))
    return tuple(out)


_IFMT = {"c": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}


def _devices(value: Any) -> List[Device]:
    out = []
    for i, item in enumerate(array("linux.devices", value)):
        where = f"linux.devices[{i}]"
        d = obj(where, item, ("path", "type", "major", "minor", "fileMode", "uid", "gid"), required=("path", "type"))
        kind = string(where + ".type", d["type"])
        if kind == "u":
            kind = "c"
        owner = {k: integer(f"{where}.{k}", d[k], 0) for k in ("uid", "gid") if d.get(k) is not None}
        mode = d.get("fileMode")
        if mode is not None:
            mode = integer(where + ".fileMode", mode, 0, 0xFFFFFFFF)  # a mode_t
            if stat.S_IFMT(mode) not in (0, _IFMT.get(kind, 0)):
                raise fail(where + ".fileMode", f"file type bits {oct(stat.S_IFMT(mode))} do not match type {kind!r}")
            mode &= 0o7777
        with at(where):
            out.append(
                Device(string(where + ".path", d["path"]), kind, d.get("major", 0 if kind == "p" else None),
                       d.get("minor", 0 if kind == "p" else None), 0o666 if mode is None else mode, **owner)
            )  # fmt: skip
    return out


def _hooks(value: Any) -> Hooks:
    if value is None:
        return Hooks()
    doc = obj("hooks", value, tuple(k for k, _ in _HOOK_PHASES))
    phases: Dict[str, Tuple[Hook, ...]] = {}
    for key, name in _HOOK_PHASES:
        hooks = []
        for i, item in enumerate(array(f"hooks.{key}", doc.get(key) or [])):
            where = f"hooks.{key}[{i}]"
            h = obj(where, item, ("path", "args", "env", "timeout"), required=("path",))
            with at(where):
                hooks.append(Hook(h["path"], h.get("args") or (), h.get("env") or (), h.get("timeout")))
        phases[name] = tuple(hooks)
    return Hooks(**phases)


# -- writing -------------------------------------------------------------------

#: The fields handled by name here; those of one key each are in _LINUX_FIELDS and _PROCESS_FIELDS.
_KNOWN_FIELDS = {
    Config: ("process", "rootfs", "hostname", "domainname", "namespaces", "mounts", "devices", "uid_mappings",
             "gid_mappings", "masked_paths", "readonly_paths", "sysctl", "seccomp", "hooks", "cgroup", "network"),
    Process: ("args", "env", "cwd", "user", "umask", "capabilities", "no_new_privileges", "rlimits", "executable",
              "terminal", "init", "oom_score_adj", "new_session", "passwd_home",
              "session_keyring", "make_cwd"),
    Rootfs: ("path", "readonly", "propagation", "no_pivot", "lower", "upper", "work"),
}  # fmt: skip


def _check_known_fields() -> None:
    """A field added to Config must be taught to this module, not dropped."""
    tables = {Config: _LINUX_FIELDS, Process: _PROCESS_FIELDS}
    for cls, known in _KNOWN_FIELDS.items():
        names = tuple(a.name for a in attrs.fields(cls))
        if set(names) != set(known) | {f.field for f in tables.get(cls, ())}:
            missing = sorted(set(names) - set(known) - {f.field for f in tables.get(cls, ())})
            raise NotImplementedError(f"oci.spec does not know {cls.__name__} fields {missing}")


def config_to_oci(
    config: Config,
    annotations: Optional[Mapping[str, str]] = None,
    *,
    oci_version: str = OCI_VERSION,
    console_size: Optional[Tuple[int, int]] = None,
) -> Dict[str, Any]:
    """``config`` as a config.json document (a JSON-safe dict).  Raises
    ConfigError naming the Config field for what OCI cannot express."""
    _check_known_fields()
    if not isinstance(config, Config):
        raise TypeError(f"expected a Config, got {type(config).__name__}")
    if config.network:
        raise ConfigError("network", "OCI has no CNI networks: the engine attaches them and passes the namespace")
    doc: Dict[str, Any] = {"ociVersion": oci_version}
    doc["process"] = _process_to_oci(config.process, console_size)
    rootfs = config.rootfs
    if rootfs is None or rootfs.path is None:
        what = "Rootfs.host()"
        if rootfs is None:
            what = "None (the caller's root)"
        elif rootfs.is_overlay:
            what = "an overlay root"
        raise ConfigError("rootfs", f"OCI's root is a directory; {what} cannot be expressed")
    if rootfs.no_pivot:
        raise ConfigError("rootfs.no_pivot", "OCI has no such setting (it is runc's --no-pivot flag)")
    doc["root"] = {"path": rootfs.path, "readonly": rootfs.readonly}
    if config.hostname:
        doc["hostname"] = config.hostname
    if config.domainname:
        doc["domainname"] = config.domainname
    doc["mounts"] = [mount_to_oci(f"mounts[{i}]", m) for i, m in enumerate(config.mounts)]
    hooks = {key: [_hook_to_oci(h) for h in config.hooks.of(name)] for key, name in _HOOK_PHASES}
    hooks = {k: v for k, v in hooks.items() if v}
    if hooks:
        doc["hooks"] = hooks
    if annotations:
        doc["annotations"] = dict(_annotations(annotations))
    doc["linux"] = _linux_to_oci(config)
    return doc


def _process_to_oci(p: Process, console_size: Optional[Tuple[int, int]]) -> Dict[str, Any]:
    if p.executable is not None:
        raise ConfigError("process.executable", "OCI runs args[0]; a separate executable cannot be expressed")
    if p.init:
        raise ConfigError("process.init", "OCI has no init process setting")
    user: Dict[str, Any] = {"uid": p.user.uid, "gid": p.user.gid, "umask": p.umask}
    if p.user.additional_gids:
        user["additionalGids"] = list(p.user.additional_gids)
    out: Dict[str, Any] = {"terminal": p.terminal}
    if console_size is not None:
        height, width = _console_size(console_size) or (0, 0)
        out["consoleSize"] = {"height": height, "width": width}
    out.update(
        user=user,
        args=list(p.args),
        env=[f"{k}={v}" for k, v in p.env.items()],
        cwd=p.cwd,
        capabilities={name: sorted(getattr(p.capabilities, name)) for name in _CAP_SETS},
        noNewPrivileges=p.no_new_privileges,
    )
    if p.rlimits:
        out["rlimits"] = [
            {
                "type": "RLIMIT_" + r.type.upper(),
                "hard": UINT64_MAX if r.hard == INFINITY else r.hard,
                "soft": UINT64_MAX if r.soft == INFINITY else r.soft,
            }
            for r in p.rlimits
        ]
    if p.oom_score_adj is not None:
        out["oomScoreAdj"] = p.oom_score_adj
    out.update(_write_fields(_PROCESS_FIELDS, p))
    return out


def _hook_to_oci(h: Hook) -> Dict[str, Any]:
    out: Dict[str, Any] = {"path": h.path}
    if h.args:
        out["args"] = list(h.args)
    if h.env:
        out["env"] = list(h.env)
    if h.timeout is not None:
        out["timeout"] = h.timeout
    return out


def _linux_to_oci(config: Config) -> Dict[str, Any]:
    assert config.rootfs is not None
    linux: Dict[str, Any] = {}
    namespaces: List[Dict[str, Any]] = []
    for kind in NAMESPACE_KINDS:
        setting = config.namespaces.setting(kind.name)
        if setting is True:
            namespaces.append({"type": kind.oci_type})
        elif isinstance(setting, str):
            namespaces.append({"type": kind.oci_type, "path": setting})
    linux["namespaces"] = namespaces
    for key, maps in (("uidMappings", config.uid_mappings), ("gidMappings", config.gid_mappings)):
        if maps:
            linux[key] = [{"containerID": m.container_id, "hostID": m.host_id, "size": m.size} for m in maps]
    if config.mounts.find("/dev") is not None:
        paths = {d.path for d in config.devices}
        missing = [d.path for d in DEFAULT_DEVICES if d.path not in paths]
        if missing:
            raise ConfigError(
                "devices", f"OCI runtimes always make the standard devices; without {missing} cannot be expressed"
            )
    if config.devices:
        linux["devices"] = [
            {
                "path": d.path,
                "type": d.type,
                "major": d.major,
                "minor": d.minor,
                "fileMode": d.mode,
                "uid": d.uid,
                "gid": d.gid,
            }
            for d in config.devices
        ]
    linux.update(cgroup_to_oci(config.cgroup))
    if config.sysctl:
        linux["sysctl"] = dict(config.sysctl)
    if config.seccomp is not None:
        linux["seccomp"] = config.seccomp.to_oci()
    linux["maskedPaths"] = list(config.masked_paths)
    linux["readonlyPaths"] = list(config.readonly_paths)
    if config.namespaces.mount is not False:
        linux["rootfsPropagation"] = config.rootfs.propagation
    linux.update(_write_fields(_LINUX_FIELDS, config))
    return linux


# -- the properties that are one field each -----------------------------------


class _Field:
    """A property of ``linux`` or ``process`` that is one field of Config or
    Process, and how it is read and written; the property is left out when
    the field is not set (None or empty)."""

    #: Its key in ``linux`` or ``process``, and the field.
    key: str
    field: str

    def read(self, value: Any) -> Any:
        """The field of the property's ``value`` (absent: None)."""
        raise NotImplementedError

    def write(self, value: Any) -> Any:
        """The property for the field's ``value``."""
        raise NotImplementedError


class _ObjectField(_Field):
    """A property that is an object of ``keys`` (``required`` among them):
    absent, the field is None; present, ``parse`` makes the field of the
    checked object, a config class's error raised under its JSON path."""

    keys: Tuple[str, ...]
    required: Tuple[str, ...] = ()
    #: ``linux`` or ``process``: where the property is.
    section = "linux"

    @property
    def path(self) -> str:
        return f"{self.section}.{self.key}"

    def read(self, value: Any) -> Any:
        if value is None:
            return None
        doc = obj(self.path, value, self.keys, required=self.required)
        with at(self.path):
            return self.parse(doc)

    def parse(self, doc: Mapping[str, Any]) -> Any:
        """The field of the property's object ``doc``."""
        raise NotImplementedError


def _write_fields(table: Tuple[_Field, ...], obj: Any) -> Dict[str, Any]:
    """The properties of ``table`` for the fields of ``obj`` that are set."""
    values = ((f, getattr(obj, f.field)) for f in table)
    return {f.key: f.write(value) for f, value in values if value is not None and value != {}}


class _Personality(_ObjectField):
    """``linux.personality``: the domain (LINUX or LINUX32); the spec
    defines no flags yet, so any is refused."""

    key = field = "personality"
    keys, required = ("domain", "flags"), ("domain",)

    def parse(self, doc: Mapping[str, Any]) -> str:
        if doc.get("flags"):
            raise fail("linux.personality.flags", f"no personality flags are supported, got {doc['flags']!r}")
        domain = string("linux.personality.domain", doc["domain"])
        if domain not in PERSONALITIES:
            raise fail("linux.personality.domain", f"must be one of {', '.join(PERSONALITIES)}, got {domain!r}")
        return domain

    def write(self, domain: str) -> Dict[str, Any]:
        return {"domain": domain}


class _TimeOffsets(_Field):
    """``linux.timeOffsets``: {clock: {secs, nanosecs}} (Config checks the
    clocks and the need for a new time namespace)."""

    key = "timeOffsets"
    field = "time_offsets"

    def read(self, value: Any) -> Dict[str, Tuple[int, int]]:
        out: Dict[str, Tuple[int, int]] = {}
        if not isinstance(value or {}, Mapping):
            raise fail("linux.timeOffsets", f"expected an object, got {value!r}")
        for clock, offset in (value or {}).items():
            if clock not in TIME_CLOCKS:  # a key of this map is a value: the clock
                raise fail(f"linux.timeOffsets.{clock}", f"not a clock with offsets (only {', '.join(TIME_CLOCKS)})")
            doc = obj(f"linux.timeOffsets.{clock}", offset, ("secs", "nanosecs"))
            out[clock] = (
                integer(f"linux.timeOffsets.{clock}.secs", doc.get("secs", 0)),
                integer(f"linux.timeOffsets.{clock}.nanosecs", doc.get("nanosecs", 0)),
            )
        return out

    def write(self, offsets: Mapping[str, Tuple[int, int]]) -> Dict[str, Any]:
        return {c: {"secs": s, "nanosecs": n} for c, (s, n) in offsets.items()}


class _MemoryPolicy(_ObjectField):
    """``linux.memoryPolicy``: a mode, a node list and flags."""

    key = "memoryPolicy"
    field = "memory_policy"
    keys, required = ("mode", "nodes", "flags"), ("mode",)

    def parse(self, doc: Mapping[str, Any]) -> MemoryPolicy:
        nodes = None if doc.get("nodes") is None else string("linux.memoryPolicy.nodes", doc["nodes"])
        flags = strings("linux.memoryPolicy.flags", doc.get("flags") or [])
        return MemoryPolicy(string("linux.memoryPolicy.mode", doc["mode"]), nodes, flags)

    def write(self, policy: MemoryPolicy) -> Dict[str, Any]:
        out: Dict[str, Any] = {"mode": "MPOL_" + policy.mode.upper()}
        if policy.nodes is not None:
            out["nodes"] = policy.nodes
        if policy.flags:
            out["flags"] = ["MPOL_F_" + f.upper() for f in policy.flags]
        return out


class _Scheduler(_ObjectField):
    """``process.scheduler``: sched_setattr(2)'s fields, policy required."""

    key = field = "scheduler"
    keys, required, section = _SCHEDULER_KEYS, ("policy",), "process"

    def parse(self, doc: Mapping[str, Any]) -> Scheduler:
        kwargs: Dict[str, Any] = {"policy": string("process.scheduler.policy", doc["policy"])}
        for key in ("nice", "priority", "runtime", "deadline", "period"):
            if doc.get(key) is not None:
                kwargs[key] = integer(f"process.scheduler.{key}", doc[key])
        if doc.get("flags") is not None:
            kwargs["flags"] = strings("process.scheduler.flags", doc["flags"])
        return Scheduler(**kwargs)

    def write(self, s: Scheduler) -> Dict[str, Any]:
        out: Dict[str, Any] = {"policy": "SCHED_" + s.policy.upper()}
        for key in ("nice", "priority", "runtime", "deadline", "period"):
            if getattr(s, key):
                out[key] = getattr(s, key)
        if s.flags:
            out["flags"] = ["SCHED_FLAG_" + f.upper() for f in s.flags]
        return out


class _ExecCPUAffinity(_ObjectField):
    """``process.execCPUAffinity``: CPU lists for exec'd processes."""

    key = "execCPUAffinity"
    field = "exec_cpu_affinity"
    keys, section = ("initial", "final"), "process"

    def parse(self, doc: Mapping[str, Any]) -> ExecCPUAffinity:
        lists = {k: string(f"{self.path}.{k}", doc[k]) for k in self.keys if doc.get(k) is not None}
        return ExecCPUAffinity(**lists)

    def write(self, affinity: ExecCPUAffinity) -> Dict[str, Any]:
        return {k: getattr(affinity, k) for k in ("initial", "final") if getattr(affinity, k)}


class _IOPriority(_ObjectField):
    """``process.ioPriority``: a class and a level (0-7)."""

    key = "ioPriority"
    field = "io_priority"
    keys, required, section = ("class", "priority"), ("class",), "process"

    def parse(self, doc: Mapping[str, Any]) -> IOPriority:
        io_class = string("process.ioPriority.class", doc["class"])
        level = 0 if doc.get("priority") is None else integer("process.ioPriority.priority", doc["priority"])
        return IOPriority(io_class, level)

    def write(self, priority: IOPriority) -> Dict[str, Any]:
        return {"class": "IOPRIO_CLASS_" + priority.io_class.upper(), "priority": priority.priority}


#: linux.* properties that are one Config field each, in the order written.
_LINUX_FIELDS: Tuple[_Field, ...] = (_Personality(), _TimeOffsets(), _MemoryPolicy())

#: process.* properties that are one Process field each, in the order written.
_PROCESS_FIELDS: Tuple[_Field, ...] = (_Scheduler(), _ExecCPUAffinity(), _IOPriority())


def load_bundle(path: Union[str, os.PathLike[str]]) -> OciConfig:
    """Read ``<path>/config.json`` (or ``path`` itself when it is a file, the
    bundle then being its directory); ``root.path`` and relative bind sources
    are taken relative to the bundle."""
    path = os.path.abspath(os.fspath(path))
    if os.path.isdir(path):
        bundle, file = path, os.path.join(path, "config.json")
    else:
        bundle, file = os.path.dirname(path), path
    try:
        with open(file, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as exc:
        raise ConfigError("bundle", f"cannot read {file}: {exc.strerror}") from exc
    except ValueError as exc:
        raise ConfigError("bundle", f"{file} is not valid JSON: {exc}") from exc
    return config_from_oci(doc, bundle=bundle)
