"""The sandbox's errors (all ContainerErrors)."""

from __future__ import annotations

from ..errors import ContainerError


class SandboxError(ContainerError):
    """A sandbox operation failed (a bad path for put/get, a closed box)."""


class LimitUnsupported(SandboxError):
    """A limit cannot be enforced on this host; ``limit`` names it (the
    ``Limits`` field) and ``reason`` says why.  Raised by ``strict=True``
    before anything is made."""

    def __init__(self, limit: str, reason: str) -> None:
        super().__init__(f"limit {limit} cannot be enforced on this host: {reason}")
        self.limit = limit
        self.reason = reason
