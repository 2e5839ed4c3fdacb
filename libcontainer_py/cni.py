"""Calling CNI plugins: one network configuration list, ADD, CHECK and DEL.

The protocol is the CNI specification's (version 1.0): each plugin is an
executable found in ``CNI_PATH``, ``/usr/lib/cni`` or ``/opt/cni/bin``, run
with ``CNI_COMMAND``, ``CNI_CONTAINERID``, ``CNI_NETNS``, ``CNI_IFNAME``,
``CNI_ARGS`` and ``CNI_PATH`` in its environment and its configuration on
stdin; it prints a result (ADD) or an error object.  A list's plugins run in
order for ADD and CHECK, each getting the previous result as
``prevResult``, and in reverse order for DEL.  Runtime arguments (port
mappings, fixed IPs, a MAC) go to the plugins that declare the capability,
as ``runtimeConfig``.  Nothing here is Python in the child: the plugins run
in the parent while the container's first process waits.
"""

from __future__ import annotations

import os
import subprocess
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import attrs

from .errors import ConfigError, ContainerError

#: Where plugins are looked for after the directories of $CNI_PATH.
PLUGIN_DIRS: Tuple[str, ...] = ("/usr/lib/cni", "/opt/cni/bin")
#: The Debian package that installs the standard plugins.
PLUGIN_PACKAGE = "containernetworking-plugins"
_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#: (type, directories) -> the plugin's path, found once per process (a
#: plugin removed since is a CniError when it is run).
_FOUND: Dict[Tuple[str, Tuple[str, ...]], str] = {}

#: Seconds spent running plugins in this process (for benchmarks).
plugin_seconds = 0.0


class CniError(ContainerError):
    """A CNI plugin failed: its error ``code`` and ``msg`` (CNI's error
    object; code 999 when it printed none), which ``plugin`` and ``command``."""

    def __init__(self, plugin: str, command: str, code: int, msg: str, details: str = "") -> None:
        text = f"CNI {command} of plugin {plugin!r} failed (code {code}): {msg}"
        super().__init__(f"{text}: {details}" if details else text)
        self.plugin = plugin
        self.command = command
        self.code = code
        self.msg = msg
        self.details = details


def plugin_dirs() -> List[str]:
    """$CNI_PATH's directories, then PLUGIN_DIRS."""
    env = [d for d in os.environ.get("CNI_PATH", "").split(":") if d]
    return env + [d for d in PLUGIN_DIRS if d not in env]


def find_plugin(plugin_type: str, field: str = "network") -> str:
    """The executable of plugin ``plugin_type``; ConfigError naming it and
    the package when it is nowhere."""
    if not plugin_type or "/" in plugin_type:
        raise ConfigError(field, f"invalid CNI plugin type {plugin_type!r}")
    dirs = plugin_dirs()
    key = (plugin_type, tuple(dirs))
    found = _FOUND.get(key)
    if found is not None:
        return found
    for directory in dirs:
        path = os.path.join(directory, plugin_type)
        if os.access(path, os.X_OK):
            _FOUND[key] = path
            return path
    raise ConfigError(
        field,
        f"CNI plugin {plugin_type!r} not found in {', '.join(dirs)} (install Debian's {PLUGIN_PACKAGE})",
    )


def plugin_confs(conflist: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """Each plugin's configuration as it is given to the plugin (without
    prevResult and runtimeConfig)."""
    return [
        {**plugin, "name": conflist["name"], "cniVersion": conflist["cniVersion"]} for plugin in conflist["plugins"]
    ]


def runtime_config(plugin: Mapping[str, Any], runtime: Mapping[str, Any]) -> Dict[str, Any]:
    """The runtime arguments plugin ``plugin`` declares a capability for."""
    caps = plugin.get("capabilities") or {}
    return {key: value for key, value in runtime.items() if caps.get(key)}


@attrs.frozen
class Attachment:
    """What every plugin of an ADD, CHECK or DEL is told about the container:
    its id, the path of its network namespace, the interface's name in it,
    the runtime arguments (``runtimeConfig``, each plugin getting those it
    declares a capability for) and ``CNI_ARGS``."""

    container_id: str
    netns: str
    ifname: str
    runtime: Mapping[str, Any]
    args: str = ""


def add(conflist: Mapping[str, Any], at: Attachment) -> Dict[str, Any]:
    """ADD: the list's plugins in order; the last result."""
    result: Optional[Dict[str, Any]] = None
    for conf in plugin_confs(conflist):
        out = _invoke("ADD", conf, result, at)
        result = out if out is not None else result
    return result or {"cniVersion": conflist["cniVersion"]}


def check(conflist: Mapping[str, Any], result: Mapping[str, Any], at: Attachment) -> None:
    """CHECK: the list's plugins in order, each given the ADD's result."""
    for conf in plugin_confs(conflist):
        _invoke("CHECK", conf, result, at)


def delete(conflist: Mapping[str, Any], result: Optional[Mapping[str, Any]], at: Attachment) -> List[CniError]:
    """DEL: the list's plugins in reverse order; every plugin is called even
    when one fails (what each made goes), and the failures are returned."""
    failures: List[CniError] = []
    for conf in reversed(plugin_confs(conflist)):
        try:
            _invoke("DEL", conf, result, at)
        except CniError as exc:
            failures.append(exc)
        except ConfigError as exc:  # the plugin is gone since ADD
            failures.append(CniError(str(conf.get("type", "")), "DEL", 999, exc.message))
    return failures


def _invoke(
    command: str, conf: Mapping[str, Any], prev: Optional[Mapping[str, Any]], at: Attachment
) -> Optional[Dict[str, Any]]:
    """Run one plugin; its parsed output (None when empty)."""
    import json

    global plugin_seconds
    plugin_type = str(conf.get("type", ""))
    path = find_plugin(plugin_type)
    stdin = dict(conf)
    if prev is not None:
        stdin["prevResult"] = prev
    rc = runtime_config(conf, at.runtime)
    if rc:
        stdin["runtimeConfig"] = rc
    env = {
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": at.container_id,
        "CNI_NETNS": at.netns,
        "CNI_IFNAME": at.ifname,
        "CNI_ARGS": at.args,
        "CNI_PATH": ":".join(plugin_dirs()),
        "PATH": os.environ.get("PATH", _PATH),
    }
    began = time.perf_counter()
    try:
        proc = subprocess.run([path], input=json.dumps(stdin).encode(), env=env, capture_output=True, check=False)
    except OSError as exc:
        raise CniError(plugin_type, command, 999, f"cannot run {path}: {exc.strerror or exc}") from exc
    finally:
        plugin_seconds += time.perf_counter() - began
    return _output(plugin_type, command, proc.returncode, proc.stdout, proc.stderr)


def _output(plugin: str, command: str, status: int, out: bytes, err: bytes) -> Optional[Dict[str, Any]]:
    """A plugin's parsed stdout, or its error as CniError."""
    import json

    doc: Any = None
    if out.strip():
        try:
            doc = json.loads(out)
        except ValueError:
            doc = None
    if status != 0:
        if isinstance(doc, dict) and "code" in doc:
            raise CniError(
                plugin, command, int(doc.get("code", 999)), str(doc.get("msg", "")), str(doc.get("details", ""))
            )
        text = (err or out).decode(errors="replace").strip()
        raise CniError(plugin, command, 999, f"exit status {status}" + (f": {text}" if text else ""))
    if doc is not None and not isinstance(doc, dict):
        raise CniError(plugin, command, 999, f"unexpected output {out[:200]!r}")
    return doc


def plugin_types(conflist: Mapping[str, Any]) -> Sequence[str]:
    return [str(p.get("type", "")) for p in conflist["plugins"]]
