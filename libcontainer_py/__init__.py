"""libcontainer_py: Linux containers for Python programs, in-process.

    import libcontainer_py as lc
    r = lc.run(["sh", "-c", "echo $$"], capture_output=True)

See docs/ for the guide and the architecture.
"""

from .capabilities import Capabilities
from .cgroups import (
    IO,
    CgroupConfig,
    CgroupError,
    CgroupUnsupported,
    Cpu,
    DeviceRule,
    Devices,
    Hugetlb,
    Memory,
    Pids,
    Stats,
)
from .config import Config
from .container import Container, StateError
from .devices import DEFAULT_DEVICES, Device
from .errors import (
    CgroupJoinError,
    ConfigError,
    ContainerError,
    CwdError,
    ExecError,
    IdentityError,
    MountError,
    NamespaceError,
    ProcessExitError,
    SecurityError,
    SpawnError,
    StepError,
    TimeoutExpired,
)
from .idmap import IDMap
from .limits import Rlimit
from .mounts import Mount, Mounts
from .namespaces import Namespaces
from .paths import DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS
from .popen import DEVNULL, PIPE, STDOUT, ContainerProcess
from .process import Process, User
from .rootfs import Rootfs
from .run import CompletedProcess, run

__all__ = [
    "IO",
    "CgroupConfig",
    "CgroupError",
    "CgroupUnsupported",
    "Container",
    "Cpu",
    "DeviceRule",
    "Devices",
    "Hugetlb",
    "Memory",
    "Pids",
    "StateError",
    "Stats",
    "Capabilities",
    "DEFAULT_MASKED_PATHS",
    "DEFAULT_READONLY_PATHS",
    "Rlimit",
    "CgroupJoinError",
    "CompletedProcess",
    "Config",
    "ConfigError",
    "ContainerError",
    "ContainerProcess",
    "CwdError",
    "DEFAULT_DEVICES",
    "DEVNULL",
    "Device",
    "ExecError",
    "IDMap",
    "IdentityError",
    "Mount",
    "MountError",
    "Mounts",
    "NamespaceError",
    "Namespaces",
    "PIPE",
    "Process",
    "ProcessExitError",
    "Rootfs",
    "STDOUT",
    "SecurityError",
    "SpawnError",
    "StepError",
    "TimeoutExpired",
    "User",
    "run",
]

__version__ = "0.1.0"
