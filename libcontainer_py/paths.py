"""Paths of /proc and /sys a container must not read or write."""

from __future__ import annotations

from typing import Tuple

#: Masked (runc's default list): a read-only empty tmpfs over a directory,
#: /dev/null over a file.  Paths the running kernel lacks are skipped.
DEFAULT_MASKED_PATHS: Tuple[str, ...] = (
    "/proc/acpi",
    "/proc/asound",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
)

#: Bound read-only (runc's default list).
DEFAULT_READONLY_PATHS: Tuple[str, ...] = (
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
)
