"""``spec``: write a default config.json, as ``runc spec`` does.

The document is runc's default with one difference: no
``process.capabilities.ambient``.  runc writes ambient capabilities that are
not inheritable, which the kernel cannot raise (runc ignores the failure;
``Config.from_oci`` drops them with a warning), so they are left out.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict

from ._errors import CliError
from ._log import Logger

TYPE_CHECKING = False  # not typing's: see _shortcuts.py
if TYPE_CHECKING:
    from ._argv import Args

CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]


def default_spec(rootless: bool = False) -> Dict[str, Any]:
    devpts = ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]
    if not rootless:
        devpts.append("gid=5")
    sys_mount: Dict[str, Any] = {
        "destination": "/sys",
        "type": "sysfs",
        "source": "sysfs",
        "options": ["nosuid", "noexec", "nodev", "ro"],
    }
    if rootless:
        sys_mount = {
            "destination": "/sys",
            "type": "none",
            "source": "/sys",
            "options": ["rbind", "nosuid", "noexec", "nodev", "ro"],
        }
    namespaces = [
        {"type": t}
        for t in (("pid", "ipc", "uts", "mount", "user") if rootless else ("pid", "network", "ipc", "uts", "mount"))
    ]
    linux: Dict[str, Any] = {}
    if rootless:
        linux["uidMappings"] = [{"containerID": 0, "hostID": os.geteuid(), "size": 1}]
        linux["gidMappings"] = [{"containerID": 0, "hostID": os.getegid(), "size": 1}]
    else:
        linux["resources"] = {"devices": [{"allow": False, "access": "rwm"}]}
    linux["namespaces"] = namespaces
    linux["maskedPaths"] = [
        "/proc/acpi",
        "/proc/asound",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/sys/firmware",
        "/proc/scsi",
    ]
    linux["readonlyPaths"] = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": True,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": CAPS, "effective": CAPS, "permitted": CAPS},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "libcontainer-py",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {
                "destination": "/dev",
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
            },
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": devpts},
            {
                "destination": "/dev/shm",
                "type": "tmpfs",
                "source": "shm",
                "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
            },
            {
                "destination": "/dev/mqueue",
                "type": "mqueue",
                "source": "mqueue",
                "options": ["nosuid", "noexec", "nodev"],
            },
            sys_mount,
            {
                "destination": "/sys/fs/cgroup",
                "type": "cgroup",
                "source": "cgroup",
                "options": ["nosuid", "noexec", "nodev", "relatime", "ro"],
            },
        ],
        "linux": linux,
    }


def cmd_spec(args: Args, log: Logger) -> int:
    bundle = args.bundle or "."
    path = os.path.join(bundle, "config.json")
    if os.path.lexists(path):
        raise CliError("File config.json exists. Remove it first")
    if not os.path.isdir(bundle):
        raise CliError(f"stat {bundle}: no such file or directory")
    data = json.dumps(default_spec(args.rootless), indent="\t")
    with open(path, "x") as f:
        f.write(data)
    return 0
