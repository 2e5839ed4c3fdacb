"""Registry credentials the user already has: podman's auth.json and
Docker's config.json (plain ``auth`` entries), never logged or shown."""

from __future__ import annotations

import base64
import binascii
import json
import os
from typing import Any, Dict, List, Optional, Tuple, Union

import attrs

from .errors import ImageError

DOCKER_HUB_KEYS = ("docker.io", "index.docker.io", "registry-1.docker.io")


@attrs.frozen
class Credentials:
    """A user name and password (or token); the password is never in the repr."""

    username: str
    password: str = attrs.field(repr=False)
    #: Where they came from: ``"auth="`` or a file path (never the secret).
    source: str = "auth="


AuthArg = Union[None, Tuple[str, str], Credentials]


def auth_files() -> List[str]:
    """The credential files read, in podman's order: ``$REGISTRY_AUTH_FILE``,
    ``$XDG_RUNTIME_DIR/containers/auth.json``, then Docker's
    ``$DOCKER_CONFIG/config.json`` (default ``~/.docker/config.json``)."""
    files = []
    if os.environ.get("REGISTRY_AUTH_FILE"):
        files.append(os.environ["REGISTRY_AUTH_FILE"])
    if os.environ.get("XDG_RUNTIME_DIR"):
        files.append(os.path.join(os.environ["XDG_RUNTIME_DIR"], "containers", "auth.json"))
    docker = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    files.append(os.path.join(docker, "config.json"))
    return files


def _normal_key(key: str) -> str:
    """``https://index.docker.io/v1/`` -> ``index.docker.io``; ``quay.io/a/b`` stays."""
    for scheme in ("https://", "http://"):
        if key.startswith(scheme):
            key = key[len(scheme) :].split("/", 1)[0]
    return key.rstrip("/")


def _keys_for(domain: str, path: str) -> List[str]:
    """The auth keys that may hold credentials for ``domain/path``, most
    specific first (podman allows per-repository entries)."""
    parts = path.split("/")
    hosts = DOCKER_HUB_KEYS if domain == "docker.io" else (domain,)
    return [f"{host}/{'/'.join(parts[:n])}" for host in hosts for n in range(len(parts), 0, -1)] + list(hosts)


def _decode(entry: Any, source: str) -> Optional[Credentials]:
    if not isinstance(entry, dict):
        return None
    if isinstance(entry.get("auth"), str) and entry["auth"]:
        try:
            user, sep, password = base64.b64decode(entry["auth"], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise ImageError(f"{source}: an 'auth' entry is not base64 of user:password") from None
        if not sep:
            raise ImageError(f"{source}: an 'auth' entry is not base64 of user:password")
        return Credentials(user, password, source)
    if isinstance(entry.get("username"), str) and isinstance(entry.get("password"), str):
        return Credentials(entry["username"], entry["password"], source)
    return None  # a credential helper's entry: not read (yet)


def _read_auths(path: str) -> Dict[str, Any]:
    try:
        with open(path, "rb") as f:
            doc = json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise ImageError(f"{path}: cannot read registry credentials: {type(e).__name__}") from None
    auths = doc.get("auths") if isinstance(doc, dict) else None
    return {_normal_key(k): v for k, v in auths.items()} if isinstance(auths, dict) else {}


def stored_credentials(domain: str, path: str, files: Optional[List[str]] = None) -> Optional[Credentials]:
    """Credentials for the repository ``domain/path`` from the first file
    that has an entry for it, or None."""
    for file in auth_files() if files is None else files:
        auths = _read_auths(file)
        for key in _keys_for(domain, path):
            found = _decode(auths.get(key), file)
            if found is not None:
                return found
    return None


def credentials_for(domain: str, path: str, auth: AuthArg) -> Optional[Credentials]:
    """``auth`` (a ``(user, password)`` pair) if given, else stored credentials."""
    if isinstance(auth, Credentials):
        return auth
    if auth is not None:
        if not (isinstance(auth, tuple) and len(auth) == 2 and all(isinstance(a, str) for a in auth)):
            raise ImageError("auth: expected a (username, password) pair of str")
        return Credentials(auth[0], auth[1])
    return stored_credentials(domain, path)
