"""libcontainer_py: Linux containers for Python programs, in-process.

    import libcontainer_py as lc
    r = lc.run(["sh", "-c", "echo $$"], capture_output=True)

See docs/ for the guide and the architecture.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # not typing's: see _shortcuts.py

# Names are imported on first use (PEP 562): `python -m libcontainer_py state`
# must not pay for cgroups, seccomp, images... it does not touch.
_WHERE = {
    "Action": ".seccomp",
    "ArgCondition": ".seccomp",
    "AsyncContainerProcess": "._asyncio",
    "CallError": ".errors",
    "CallMemoryError": ".errors",
    "CallStats": "._call",
    "CallTimeout": ".errors",
    "Capabilities": ".capabilities",
    "CgroupConfig": ".cgroups",
    "CgroupError": ".cgroups",
    "CgroupJoinError": ".errors",
    "CgroupUnsupported": ".cgroups",
    "CgroupWarning": ".cgroups",
    "CompletedProcess": "._run",
    "Config": ".config",
    "ConfigError": ".errors",
    "Container": ".container",
    "ContainerError": ".errors",
    "ContainerExists": ".errors",
    "ContainerProcess": ".popen",
    "ContainerState": ".container",
    "Cpu": ".cgroups",
    "CwdError": ".errors",
    "DEFAULT_CGROUP": ".config",
    "DEFAULT_DEVICES": ".devices",
    "DEFAULT_MASKED_PATHS": ".paths",
    "DEFAULT_READONLY_PATHS": ".paths",
    "DEFAULT_ROOT": ".state",
    "DEVNULL": ".popen",
    "Device": ".devices",
    "DeviceRule": ".cgroups",
    "Devices": ".cgroups",
    "ExecCPUAffinity": ".scheduling",
    "ExecError": ".errors",
    "ExecNotFound": ".errors",
    "ExecPermissionError": ".errors",
    "ForeignNetns": "._netrun",
    "Hook": ".hooks",
    "HookError": ".hooks",
    "Hooks": ".hooks",
    "Hugetlb": ".cgroups",
    "IDMap": ".idmap",
    "IO": ".cgroups",
    "IOPriority": ".scheduling",
    "IdentityError": ".errors",
    "InterpreterMismatch": ".errors",
    "Memory": ".cgroups",
    "MemoryPolicy": ".memory_policy",
    "Mount": ".mounts",
    "MountError": ".errors",
    "Mounts": ".mounts",
    "NamespaceError": ".errors",
    "Namespaces": ".namespaces",
    "Network": ".network",
    "CgroupNetwork": ".cgroups:Network",  # lc.Network is the CNI attachment
    "CniError": ".cni",
    "PortMapping": ".network",
    "OciConfig": ".oci",
    "OciWarning": ".oci",
    "PIPE": ".popen",
    "Pids": ".cgroups",
    "Pool": ".pool",
    "Process": ".process",
    "ProcessExitError": ".errors",
    "RemoteError": ".errors",
    "Rlimit": ".limits",
    "Rootfs": ".rootfs",
    "STDOUT": ".popen",
    "Scheduler": ".scheduling",
    "Seccomp": ".seccomp",
    "SeccompError": ".seccomp",
    "SeccompRule": ".seccomp",
    "SecurityError": ".errors",
    "SerializationError": ".errors",
    "SpawnError": ".errors",
    "State": ".state",
    "StateError": ".container",
    "StateNotFound": ".state",
    "Stats": ".cgroups",
    "StepError": ".errors",
    "TimeoutExpired": ".errors",
    "UNLIMITED": ".cgroups",
    "User": ".process",
    "WorkerCrashed": ".errors",
    "call": "._call",
    "create_subprocess_exec": "._asyncio",
    "load_bundle": ".oci",
    "run": "._run",
    "run_async": "._asyncio",
}
_SUBMODULES = frozenset({"images", "oci", "cgroups", "seccomp", "sandbox"})

if TYPE_CHECKING:
    from typing import Any, List

    from . import images
    from ._asyncio import AsyncContainerProcess, create_subprocess_exec, run_async
    from ._call import CallStats, call
    from ._netrun import ForeignNetns
    from ._run import CompletedProcess, run
    from .capabilities import Capabilities
    from .cgroups import (
        IO,
        UNLIMITED,
        CgroupConfig,
        CgroupError,
        CgroupUnsupported,
        CgroupWarning,
        Cpu,
        DeviceRule,
        Devices,
        Hugetlb,
        Memory,
        Pids,
        Stats,
    )
    from .cgroups import Network as CgroupNetwork
    from .cni import CniError
    from .config import DEFAULT_CGROUP, Config
    from .container import Container, ContainerState, StateError
    from .devices import DEFAULT_DEVICES, Device
    from .errors import (
        CallError,
        CallMemoryError,
        CallTimeout,
        CgroupJoinError,
        ConfigError,
        ContainerError,
        ContainerExists,
        CwdError,
        ExecError,
        ExecNotFound,
        ExecPermissionError,
        IdentityError,
        InterpreterMismatch,
        MountError,
        NamespaceError,
        ProcessExitError,
        RemoteError,
        SecurityError,
        SerializationError,
        SpawnError,
        StepError,
        TimeoutExpired,
        WorkerCrashed,
    )
    from .hooks import Hook, HookError, Hooks
    from .idmap import IDMap
    from .limits import Rlimit
    from .memory_policy import MemoryPolicy
    from .mounts import Mount, Mounts
    from .namespaces import Namespaces
    from .network import Network, PortMapping
    from .oci import OciConfig, OciWarning, load_bundle
    from .paths import DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS
    from .pool import Pool
    from .popen import DEVNULL, PIPE, STDOUT, ContainerProcess
    from .process import Process, User
    from .rootfs import Rootfs
    from .scheduling import ExecCPUAffinity, IOPriority, Scheduler
    from .seccomp import Action, ArgCondition, Seccomp, SeccompError, SeccompRule
    from .state import DEFAULT_ROOT, State, StateNotFound


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, _, attr = where.partition(":")
    value = getattr(importlib.import_module(module, __name__), attr or name)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(_WHERE) | _SUBMODULES)


__all__ = [
    "Action",
    "ArgCondition",
    "AsyncContainerProcess",
    "CallError",
    "CallMemoryError",
    "CallStats",
    "CallTimeout",
    "Capabilities",
    "CgroupConfig",
    "CgroupError",
    "CgroupJoinError",
    "CgroupNetwork",
    "CgroupUnsupported",
    "CgroupWarning",
    "CniError",
    "CompletedProcess",
    "Config",
    "ConfigError",
    "Container",
    "ContainerError",
    "ContainerExists",
    "ContainerProcess",
    "ContainerState",
    "Cpu",
    "CwdError",
    "DEFAULT_CGROUP",
    "DEFAULT_DEVICES",
    "DEFAULT_MASKED_PATHS",
    "DEFAULT_READONLY_PATHS",
    "DEFAULT_ROOT",
    "DEVNULL",
    "Device",
    "DeviceRule",
    "Devices",
    "ExecCPUAffinity",
    "ExecError",
    "ExecNotFound",
    "ExecPermissionError",
    "ForeignNetns",
    "Hook",
    "HookError",
    "Hooks",
    "Hugetlb",
    "IDMap",
    "IO",
    "IOPriority",
    "IdentityError",
    "InterpreterMismatch",
    "Memory",
    "MemoryPolicy",
    "Mount",
    "MountError",
    "Mounts",
    "NamespaceError",
    "Namespaces",
    "Network",
    "OciConfig",
    "OciWarning",
    "PIPE",
    "Pids",
    "PortMapping",
    "Pool",
    "Process",
    "ProcessExitError",
    "RemoteError",
    "Rlimit",
    "Rootfs",
    "STDOUT",
    "Scheduler",
    "Seccomp",
    "SeccompError",
    "SeccompRule",
    "SecurityError",
    "SerializationError",
    "SpawnError",
    "State",
    "StateError",
    "StateNotFound",
    "Stats",
    "StepError",
    "TimeoutExpired",
    "UNLIMITED",
    "User",
    "WorkerCrashed",
    "call",
    "create_subprocess_exec",
    "images",
    "load_bundle",
    "run",
    "run_async",
]

__version__ = "0.1.0"
