"""Seccomp filters: typed config, Docker's default profile, BPF compilation with libseccomp.

``Seccomp`` describes a filter (``Seccomp.default()``, ``Seccomp.from_oci()``
or rules of your own); ``compile()`` turns it into a ``CompiledFilter`` in
the parent, which the child loads with seccomp(2) as its last step before
execve.
"""

from .compiler import (
    SECCOMP_FILTER_FLAG_NEW_LISTENER,
    CompiledFilter,
    action_value,
    compile,
    resolve_syscall,
)
from .config import ARCHITECTURES, FLAGS, OPS, Action, ArgCondition, Seccomp, SeccompRule
from .errors import SeccompError
from .profile import native_architecture

__all__ = [
    "ARCHITECTURES",
    "FLAGS",
    "OPS",
    "SECCOMP_FILTER_FLAG_NEW_LISTENER",
    "Action",
    "ArgCondition",
    "CompiledFilter",
    "Seccomp",
    "SeccompError",
    "SeccompRule",
    "action_value",
    "compile",
    "native_architecture",
    "resolve_syscall",
]
