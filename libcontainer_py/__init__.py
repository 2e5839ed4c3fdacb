"""libcontainer_py: Linux containers for Python programs, in-process.

    import libcontainer_py as lc
    r = lc.run(["sh", "-c", "echo $$"], capture_output=True)

See docs/ for the guide and the architecture.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: see _shortcuts.py

# The public names: the imports below are the one list of them (and __all__).
# They run for the type checker only; each name is imported on first use
# (PEP 562, see _exports.py): `python -m libcontainer_py state` must not pay
# for cgroups, seccomp, images... it does not touch.
if TYPE_CHECKING:
    from typing import Any, List

    from . import images as images
    from ._asyncio import AsyncContainerProcess as AsyncContainerProcess
    from ._asyncio import create_subprocess_exec as create_subprocess_exec
    from ._asyncio import run_async as run_async
    from ._call import CallStats as CallStats
    from ._call import call as call
    from ._netrun import ForeignNetns as ForeignNetns
    from ._run import CompletedProcess as CompletedProcess
    from ._run import run as run
    from .capabilities import Capabilities as Capabilities
    from .cgroups import IO as IO
    from .cgroups import UNLIMITED as UNLIMITED
    from .cgroups import CgroupConfig as CgroupConfig
    from .cgroups import CgroupError as CgroupError
    from .cgroups import CgroupUnsupported as CgroupUnsupported
    from .cgroups import CgroupWarning as CgroupWarning
    from .cgroups import Cpu as Cpu
    from .cgroups import DeviceRule as DeviceRule
    from .cgroups import Devices as Devices
    from .cgroups import Hugetlb as Hugetlb
    from .cgroups import Memory as Memory
    from .cgroups import Pids as Pids
    from .cgroups import Stats as Stats
    from .cgroups.resources import CgroupNetwork as CgroupNetwork  # lc.Network is the CNI attachment
    from .cni import CniError as CniError
    from .config import DEFAULT_CGROUP as DEFAULT_CGROUP
    from .config import Config as Config
    from .container import Container as Container
    from .container import ContainerState as ContainerState
    from .container import StateError as StateError
    from .devices import DEFAULT_DEVICES as DEFAULT_DEVICES
    from .devices import Device as Device
    from .errors import CallError as CallError
    from .errors import CallMemoryError as CallMemoryError
    from .errors import CallTimeout as CallTimeout
    from .errors import CgroupJoinError as CgroupJoinError
    from .errors import ConfigError as ConfigError
    from .errors import ContainerError as ContainerError
    from .errors import ContainerExists as ContainerExists
    from .errors import CwdError as CwdError
    from .errors import ExecError as ExecError
    from .errors import ExecNotFound as ExecNotFound
    from .errors import ExecPermissionError as ExecPermissionError
    from .errors import IdentityError as IdentityError
    from .errors import InterpreterMismatch as InterpreterMismatch
    from .errors import MountError as MountError
    from .errors import NamespaceError as NamespaceError
    from .errors import ProcessExitError as ProcessExitError
    from .errors import RemoteError as RemoteError
    from .errors import SecurityError as SecurityError
    from .errors import SerializationError as SerializationError
    from .errors import SpawnError as SpawnError
    from .errors import StepError as StepError
    from .errors import TimeoutExpired as TimeoutExpired
    from .errors import WorkerCrashed as WorkerCrashed
    from .hooks import Hook as Hook
    from .hooks import HookError as HookError
    from .hooks import Hooks as Hooks
    from .idmap import IDMap as IDMap
    from .limits import Rlimit as Rlimit
    from .memory_policy import MemoryPolicy as MemoryPolicy
    from .mounts import Mount as Mount
    from .mounts import Mounts as Mounts
    from .namespaces import Namespaces as Namespaces
    from .network import Network as Network
    from .network import PortMapping as PortMapping
    from .oci import OciConfig as OciConfig
    from .oci import OciWarning as OciWarning
    from .oci import load_bundle as load_bundle
    from .paths import DEFAULT_MASKED_PATHS as DEFAULT_MASKED_PATHS
    from .paths import DEFAULT_READONLY_PATHS as DEFAULT_READONLY_PATHS
    from .pool import Pool as Pool
    from .popen import DEVNULL as DEVNULL
    from .popen import PIPE as PIPE
    from .popen import STDOUT as STDOUT
    from .popen import ContainerProcess as ContainerProcess
    from .process import Process as Process
    from .process import User as User
    from .rootfs import Rootfs as Rootfs
    from .scheduling import ExecCPUAffinity as ExecCPUAffinity
    from .scheduling import IOPriority as IOPriority
    from .scheduling import Scheduler as Scheduler
    from .seccomp import Action as Action
    from .seccomp import ArgCondition as ArgCondition
    from .seccomp import Seccomp as Seccomp
    from .seccomp import SeccompError as SeccompError
    from .seccomp import SeccompRule as SeccompRule
    from .state import DEFAULT_ROOT as DEFAULT_ROOT
    from .state import State as State
    from .state import StateNotFound as StateNotFound


#: Reachable as attributes, not exports (not in __all__).
_SUBMODULES = frozenset({"oci", "cgroups", "seccomp", "sandbox"})


def __getattr__(name: str) -> Any:
    if name.startswith("_") and name != "__all__":  # a submodule being imported: not an export
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from ._exports import exports_of

    return exports_of(__name__, __file__, _SUBMODULES).load(name, globals())


def __dir__() -> List[str]:
    from ._exports import exports_of

    return exports_of(__name__, __file__, _SUBMODULES).dir(globals())


__version__ = "0.1.0"
