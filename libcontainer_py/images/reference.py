"""Image references as Docker reads them: ``bb:1``, ``library/bb:1`` and
``docker.io/library/bb:1`` are one name; a missing tag is ``latest``;
``name@sha256:<hex>`` names a digest."""

from __future__ import annotations

import os
import re
from typing import Optional

import attrs

from .errors import ImageError

DEFAULT_DOMAIN = "docker.io"
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")
_PATH = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*\Z")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}\Z")


@attrs.frozen
class Reference:
    """A parsed reference: ``domain``/``path``, ``tag`` and ``digest``."""

    domain: str
    path: str
    tag: Optional[str]
    digest: Optional[str]

    @property
    def repository(self) -> str:
        return f"{self.domain}/{self.path}"

    def __str__(self) -> str:
        """The full form: ``docker.io/library/bb:1``."""
        return self.repository + _suffix(self.tag, self.digest)

    @property
    def familiar(self) -> str:
        """The short form Docker shows: ``bb:1``, ``acme/bb:1``, ``quay.io/x/y:2``."""
        name = self.repository
        if self.domain == DEFAULT_DOMAIN:
            name = (
                self.path[len("library/") :]
                if self.path.count("/") == 1 and self.path.startswith("library/")
                else self.path
            )
        return name + _suffix(self.tag, self.digest)


def _suffix(tag: Optional[str], digest: Optional[str]) -> str:
    return (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def parse(ref: str) -> Reference:
    """``ref`` with Docker's defaults filled in; ImageError if it is not a
    reference (upper-case repository names, empty parts...)."""
    if not isinstance(ref, str) or not ref:
        raise ImageError(f"not an image reference: {ref!r}")
    name, at, digest = ref.partition("@")
    if at and not _DIGEST.match(digest):
        raise ImageError(f"{ref!r}: the digest must be sha256:<64 hex digits>")
    slash, colon = name.rfind("/"), name.rfind(":")
    repo, tag = (name[:colon], name[colon + 1 :]) if colon > slash else (name, None)
    if tag is not None and not _TAG.match(tag):
        raise ImageError(f"{ref!r}: invalid tag {tag!r}")
    first, sep, rest = repo.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        domain, path = first, rest
    else:
        domain, path = DEFAULT_DOMAIN, repo
    if domain == "index.docker.io":
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = "library/" + path
    if not _PATH.match(path):
        raise ImageError(f"{ref!r}: invalid repository name {path!r} (lower-case letters, digits, '.', '_', '-', '/')")
    if tag is None and not at:
        tag = "latest"
    return Reference(domain, path, tag, digest or None)


def parse_or_none(ref: str) -> Optional[Reference]:
    try:
        return parse(ref)
    except ImageError:
        return None


def name_for(ref_name: str, source_path: str, oci_layout: bool = True) -> str:
    """The name an imported image is stored under, in its familiar form.  An
    OCI layout's ref.name that is only a tag (``latest``, as ``skopeo copy
    ... oci:dir:latest`` writes it) is given the source's base name as
    repository (``bb.oci.tar`` -> ``bb:latest``)."""
    if oci_layout and "/" not in ref_name and ":" not in ref_name and "@" not in ref_name:
        ref_name = f"{source_repository(source_path)}:{ref_name}"
    parsed = parse_or_none(ref_name)
    return parsed.familiar if parsed is not None else ref_name


def source_repository(path: str) -> str:
    """A repository name from an archive or layout path: its base name,
    lower-case, without archive extensions."""
    base = os.path.basename(os.path.normpath(os.fspath(path))).lower()
    for ext in (".tar.gz", ".tgz", ".tar.zst", ".tar", ".oci", ".docker"):
        if base.endswith(ext) and len(base) > len(ext):
            base = base[: -len(ext)]
    base = re.sub(r"[^a-z0-9._-]+", "-", base).strip("._-")
    return base or "image"


def key(ref: str) -> str:
    """The full form of ``ref`` to compare names by (``ref`` itself if it does not parse)."""
    parsed = parse_or_none(ref)
    return str(parsed) if parsed is not None else ref
