"""OCI mount entries (``mounts[]``) <-> Mount, with runc's option strings.

Options are read in order, as runc reads them:

- ``ro``/``rw``, ``nosuid``/``suid``, ``nodev``/``dev``, ``noexec``/``exec``
  set or clear Mount.readonly/nosuid/nodev/noexec (the last one wins);
- ``bind`` / ``rbind`` make a bind mount (Mount.type ``"bind"``), not
  recursive / recursive; type ``"bind"`` without either is a plain
  (non-recursive) bind, like ``bind``;
- ``private``, ``rprivate``, ``shared``, ``rshared``, ``slave``, ``rslave``,
  ``unbindable``, ``runbindable`` set Mount.propagation (at most one);
- ``sync``, ``dirsync``, ``noatime``, ``nodiratime``, ``relatime``,
  ``strictatime``, ``lazytime``, ``nosymfollow``, ``silent``, ``iversion``
  go to Mount.options (an
  atime mode replaces an earlier one: the last of ``noatime``,
  ``relatime``, ``strictatime`` wins), and ``async``, ``atime``,
  ``diratime``, ``norelatime``, ``nostrictatime``, ``nolazytime``,
  ``symfollow``, ``loud``, ``noiversion`` take the matching one out again (a new mount then has the
  kernel's default, a bind mount keeps its source's, as with runc);
  ``defaults``/``nomand`` are no-ops.  On a bind mount these flags, like
  ``ro``/``nosuid``/``nodev``/``noexec``, apply to the bound mount only,
  not to the submounts ``rbind`` brings along (runc's remount);
- the recursive attributes ``rro``, ``rrw``, ``rnosuid``, ``rsuid``,
  ``rnodev``, ``rdev``, ``rnoexec``, ``rexec``, ``rnodiratime``,
  ``rdiratime``, ``rnoatime``, ``rrelatime``, ``rstrictatime``, ``ratime``,
  ``rnorelatime``, ``rnostrictatime``, ``rnosymfollow``, ``rsymfollow`` go
  to Mount.recursive_options (the last of contradicting ones wins) and are
  applied to the whole mount tree with mount_setattr(AT_RECURSIVE) after
  the plain flags, on any type of mount;
- ``tmpcopyup`` (runc's extension) sets Mount.copy_up: the new tmpfs starts
  with a copy of what the destination held; on any type but ``tmpfs`` it is
  refused (runc ignores it there);
- flags Mount cannot carry (``idmap``/``ridmap``, ``remount``, ``mand``:
  the kernel dropped mandatory locking in 5.15) are refused, naming the
  option;
- type ``cgroup`` is runc's: the container's own cgroups as the host lays
  them out, ``Mount.cgroup`` (Mount.type ``"cgroup"``, written back as
  ``cgroup``): a cgroup2 mount on a cgroup v2 host, a tmpfs of one mount or
  bind per v1 hierarchy on a v1 or hybrid host (see plan/cgroupfs.py); it
  takes no file system data.  Type ``cgroup2`` stays the unified file
  system itself, mounted as is;
- anything else (``mode=755``, ``size=64m``, ``newinstance``, ``gid=5``) is
  file system data: joined with ``,`` in order into Mount.data.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional

from .._jsondoc import array, at, fail, obj, string, strings
from ..errors import ConfigError
from ..mounts import ATIME_MODES, OPTION_FLAGS, PROPAGATIONS, RECURSIVE_OPTIONS, Mount, recursive_group

#: The Mount fields an option pair sets and clears: (option setting it,
#: option clearing it, field), in the order mount_to_oci writes them.
_FLAG_FIELDS = (
    ("ro", "rw", "readonly"),
    ("nosuid", "suid", "nosuid"),
    ("nodev", "dev", "nodev"),
    ("noexec", "exec", "noexec"),
)
#: option -> (field, value)
_BOOL_OPTIONS = {
    option: (field, value) for on, off, field in _FLAG_FIELDS for option, value in ((on, True), (off, False))
}
_CLEARING = {
    "async": "sync",
    "atime": "noatime",
    "diratime": "nodiratime",
    "norelatime": "relatime",
    "nostrictatime": "strictatime",
    "nolazytime": "lazytime",
    "symfollow": "nosymfollow",
    "loud": "silent",
    "noiversion": "iversion",
}
_NO_OPS = ("defaults", "nomand")
_REFUSED = {
    "remount": "a remount cannot be expressed (mount entries make new mounts)",
    "mand": "mandatory locking (MS_MANDLOCK) is not supported",
    "idmap": "id-mapped mounts are not supported",
    "ridmap": "id-mapped mounts are not supported",
}
#: Every option name read as a flag (never as file system data).
FLAG_NAMES = frozenset(
    (*_BOOL_OPTIONS, *_CLEARING, *_NO_OPS, *_REFUSED, *RECURSIVE_OPTIONS, *OPTION_FLAGS, *PROPAGATIONS, "bind", "rbind")
) | {"tmpcopyup"}

MOUNT_KEYS = ("destination", "type", "source", "options", "uidMappings", "gidMappings")


def mount_from_oci(path: str, value: Any, bundle: Optional[str]) -> Mount:
    """One entry of OCI ``mounts``; ``path`` is its JSON path (``mounts[3]``)."""
    doc = obj(path, value, MOUNT_KEYS, required=("destination",))
    for key in ("uidMappings", "gidMappings"):
        if doc.get(key):
            raise fail(f"{path}.{key}", "id-mapped mounts are not supported")
    destination = string(f"{path}.destination", doc["destination"])
    mtype = string(f"{path}.type", doc["type"]) if "type" in doc else None
    source = string(f"{path}.source", doc["source"]) if "source" in doc else None
    options = strings(f"{path}.options", doc["options"]) if "options" in doc else []

    fields: Dict[str, Any] = {field: False for _, _, field in _FLAG_FIELDS}
    flags: List[str] = []
    rec: List[str] = []  # recursive options
    data: List[str] = []
    bind: Optional[bool] = True if mtype == "bind" else None  # None: not a bind; else recursive?
    recursive = False
    propagation: Optional[str] = None
    copy_up: Optional[str] = None  # where tmpcopyup was given
    for i, opt in enumerate(options):
        where = f"{path}.options[{i}]"
        if opt in _BOOL_OPTIONS:
            name, on = _BOOL_OPTIONS[opt]
            fields[name] = on
        elif opt in ("bind", "rbind"):
            bind = True
            recursive = opt == "rbind"
        elif opt in PROPAGATIONS:
            if propagation is not None:
                raise fail(where, f"a second propagation option ({propagation!r} already given)")
            propagation = opt
        elif opt in OPTION_FLAGS:
            replaced = ATIME_MODES if opt in ATIME_MODES else (opt,)
            flags = [f for f in flags if f not in replaced] + [opt]
        elif opt in RECURSIVE_OPTIONS:
            rec = [r for r in rec if r not in recursive_group(opt)] + [opt]
        elif opt in _CLEARING:
            flags = [f for f in flags if f != _CLEARING[opt]]
        elif opt in _NO_OPS:
            pass
        elif opt == "tmpcopyup":
            copy_up = where
        elif opt in _REFUSED:
            raise fail(where, f"{opt!r}: {_REFUSED[opt]}")
        elif not opt:
            raise fail(where, "an empty option")
        else:
            data.append(opt)

    if bind:
        if source is None:
            raise fail(f"{path}.source", "a bind mount needs a source")
        if not source.startswith("/"):
            if bundle is None:
                raise fail(f"{path}.source", f"relative bind source {source!r} needs a bundle directory")
            source = os.path.normpath(os.path.join(bundle, source))
        mtype = "bind"
    elif mtype is None:
        raise fail(f"{path}.type", "is required (except for bind mounts)")
    elif mtype == "none":
        raise fail(f"{path}.type", "'none' without a bind or rbind option is not a mount")
    if copy_up is not None and mtype != "tmpfs":
        raise fail(copy_up, f"'tmpcopyup' copies into a tmpfs only, not into a {mtype!r} mount")
    with at(path):
        return Mount(
            destination,
            mtype,
            source,
            recursive=recursive if bind else True,
            propagation=propagation,
            options=tuple(flags),
            recursive_options=tuple(rec),
            data=",".join(data),
            copy_up=copy_up is not None,
            **fields,
        )


def mount_to_oci(path: str, m: Mount) -> Dict[str, Any]:
    """``m`` as an OCI mount entry; ConfigError (naming ``path``) for what the
    options cannot say."""
    options: List[str] = []
    if m.is_bind:
        options.append("rbind" if m.recursive else "bind")
    elif not m.recursive:
        raise ConfigError(f"{path}.recursive", "only bind mounts can be non-recursive in OCI")
    options.extend(on for on, _, field in _FLAG_FIELDS if getattr(m, field))
    options.extend(m.options)
    options.extend(m.recursive_options)
    if m.propagation is not None:
        options.append(m.propagation)
    if m.copy_up:
        options.append("tmpcopyup")
    if m.data:
        for item in m.data.split(","):
            if not item or item in FLAG_NAMES:
                raise ConfigError(
                    f"{path}.data",
                    f"data item {item!r} would be read back as a mount flag, not as file system data",
                )
            options.append(item)
    out: Dict[str, Any] = {"destination": m.destination, "type": m.type}
    if m.source is not None:
        out["source"] = m.source
    if options:
        out["options"] = options
    return out


def mounts_from_oci(value: Any, bundle: Optional[str]) -> List[Mount]:
    return [mount_from_oci(f"mounts[{i}]", m, bundle) for i, m in enumerate(array("mounts", value))]
