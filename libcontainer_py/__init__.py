"""libcontainer_py: Linux containers for Python programs, in-process.

    import libcontainer_py as lc
    r = lc.run(["sh", "-c", "echo $$"], capture_output=True)

See docs/ for the guide and the architecture.
"""

from .capabilities import Capabilities
from .cgroups import (
    IO,
    UNLIMITED,
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
from .config import DEFAULT_CGROUP, Config
from .container import Container, ContainerExists, ContainerState, StateError
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
from .hooks import Hook, HookError, Hooks
from .idmap import IDMap
from .limits import Rlimit
from .mounts import Mount, Mounts
from .namespaces import Namespaces
from .oci import OciConfig, OciWarning, load_bundle
from .paths import DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS
from .popen import DEVNULL, PIPE, STDOUT, ContainerProcess
from .process import Process, User
from .rootfs import Rootfs
from .run import CompletedProcess, run
from .seccomp import Action, ArgCondition, Seccomp, SeccompError, SeccompRule
from .state import DEFAULT_ROOT, State, StateNotFound

__all__ = [
    "OciConfig",
    "OciWarning",
    "images",
    "load_bundle",
    "Hook",
    "HookError",
    "Hooks",
    "DEFAULT_CGROUP",
    "UNLIMITED",
    "Action",
    "ArgCondition",
    "Seccomp",
    "SeccompError",
    "SeccompRule",
    "IO",
    "CgroupConfig",
    "CgroupError",
    "CgroupUnsupported",
    "Container",
    "ContainerExists",
    "ContainerState",
    "DEFAULT_ROOT",
    "State",
    "StateNotFound",
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

from . import images
