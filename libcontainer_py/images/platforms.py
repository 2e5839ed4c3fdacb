"""Which manifest of an image index runs here: ``os/architecture[/variant]``
as the OCI image spec names platforms (``linux/amd64``, ``linux/arm/v7``)."""

from __future__ import annotations

import platform as _platform
from typing import Any, Dict, List, Optional

import attrs

from .errors import ImageError

_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "armv6l": "arm", "i686": "386", "i386": "386"}
_VARIANT = {"aarch64": "v8", "armv7l": "v7", "armv6l": "v6"}
#: A missing variant means this one (the image spec's defaults).
_DEFAULT_VARIANT = {"arm64": "v8", "amd64": "v1"}


@attrs.frozen
class Platform:
    """``os``, ``architecture`` and optional ``variant`` of an image."""

    os: str
    architecture: str
    variant: Optional[str] = None

    def __str__(self) -> str:
        return f"{self.os}/{self.architecture}" + (f"/{self.variant}" if self.variant else "")

    @classmethod
    def parse(cls, text: str) -> Platform:
        """``linux/arm64`` or ``linux/arm/v7``."""
        parts = text.split("/") if isinstance(text, str) else []
        if len(parts) not in (2, 3) or not all(parts):
            raise ImageError(f"platform: expected os/architecture[/variant], got {text!r}")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    @classmethod
    def here(cls) -> Platform:
        """This machine's platform (``linux/amd64`` on x86-64)."""
        machine = _platform.machine()
        return cls("linux", _ARCH.get(machine, machine), _VARIANT.get(machine))


def _variant(arch: str, variant: Any) -> Optional[str]:
    return variant if isinstance(variant, str) and variant else _DEFAULT_VARIANT.get(arch)


def choose(manifests: List[Dict[str, Any]], want: Platform) -> Dict[str, Any]:
    """The descriptor of an index's ``manifests`` for ``want``: same os and
    architecture, and the same variant (a missing one counts as the
    architecture's default).  ImageError lists the platforms there are."""
    wanted = _variant(want.architecture, want.variant)
    seen = []
    for desc in manifests:
        plat = desc.get("platform") if isinstance(desc, dict) else None
        if not isinstance(plat, dict):
            continue
        arch, os_name = plat.get("architecture"), plat.get("os")
        seen.append(Platform(str(os_name), str(arch), plat.get("variant") or None))
        if os_name == want.os and arch == want.architecture and _variant(str(arch), plat.get("variant")) == wanted:
            return desc
    listed = ", ".join(str(p) for p in seen) or "none"
    raise ImageError(f"the image has no manifest for {want} (it has: {listed})")
