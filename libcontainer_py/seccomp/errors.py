"""SeccompError: libseccomp refused to build a filter from a Seccomp config."""

from __future__ import annotations

import errno as errno_mod
import os
from typing import Optional

from ..errors import ConfigError


class SeccompError(ConfigError):
    """libseccomp could not turn the configuration into a BPF program.

    A ConfigError (and so a ValueError) on purpose: compilation runs in the
    parent before any kernel object exists, and every way it can fail is a
    setting libseccomp cannot express (an architecture it does not know, a
    rule it rejects, a program longer than the kernel accepts), not a
    failure of a running container.  ``field`` names the offending setting
    (``"seccomp.rules[3]"``), ``errno`` is libseccomp's negative return
    turned positive (None when the check is ours).
    """

    def __init__(self, field: str, message: str, errno: Optional[int] = None) -> None:
        if errno is not None:
            code = errno_mod.errorcode.get(errno, str(errno))
            message = f"{message}: [{code}] {os.strerror(errno)}"
        super().__init__(field, message)
        self.errno = errno
