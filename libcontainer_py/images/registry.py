"""A client of one repository on a registry speaking the OCI distribution
protocol (``/v2/``), on urllib3 (transport.py): manifests, blobs (ranged
resumption of an interrupted download), uploads, and the basic and
bearer-token auth flows.

Needs the ``registry`` extra: ``pip install 'libcontainer_py[registry]'``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import ipaddress
import logging
import re
import urllib.parse
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from .credentials import AuthArg, Credentials, credentials_for
from .errors import DigestMismatchError, ImageNotFound, RegistryAuthError, RegistryError
from .sources import DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST
from .transport import Body, Response, Transport, origin, tls_context, transport_errors, with_query

__all__ = ["RegistryClient", "BlobReader", "tls_context", "api_host", "is_loopback", "schemes_for", "parse_challenge"]

log = logging.getLogger("libcontainer_py.images")

DOCKER_HUB_HOST = "registry-1.docker.io"
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST, OCI_INDEX, DOCKER_LIST)
MANIFEST_LIMIT = 4 << 20
RESUME_ATTEMPTS = 5
_CHALLENGE = re.compile(r'(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]+))')


def api_host(domain: str) -> str:
    """The host serving ``/v2/`` for a reference's domain (Docker Hub's API host for docker.io)."""
    return DOCKER_HUB_HOST if domain == "docker.io" else domain


def is_loopback(host: str) -> bool:
    """``localhost``, ``127.x.x.x`` or ``[::1]``, with or without a port."""
    name = host[1:].split("]")[0] if host.startswith("[") else host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def schemes_for(host: str, insecure: bool = False) -> Tuple[str, ...]:
    """HTTPS only, unless the registry is insecure (named so, or on the
    loopback): then HTTPS without verification, and plain HTTP after a
    failed TLS handshake, as Docker does."""
    return ("https", "http") if insecure or is_loopback(host) else ("https",)


def parse_challenge(header: str) -> Tuple[str, Dict[str, str]]:
    """``Bearer realm="...",service="..."`` -> ("bearer", {realm, service...})."""
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), {m[0].lower(): m[1] or m[2] for m in _CHALLENGE.findall(rest)}


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class RegistryClient:
    """Requests to ``domain/path`` on its registry.  ``insecure``: the
    registry may be plain HTTP or have a certificate not verified (as it
    always may when on the loopback); otherwise TLS is verified with the
    system's CA store.  ``actions``: the token scope asked for."""

    def __init__(
        self, domain: str, path: str, *, auth: AuthArg = None, insecure: bool = False, actions: str = "pull"
    ) -> None:
        self.host = api_host(domain)
        self.path = path
        self.actions = actions
        self.insecure = insecure or is_loopback(self.host)
        self.schemes = schemes_for(self.host, insecure)
        self.credentials: Optional[Credentials] = credentials_for(domain, path, auth)
        self.http = Transport(verify=not self.insecure)
        self.base = ""
        self._origin = ("", "")
        self.authorization: Optional[str] = None
        try:
            self._connect()
        except BaseException:
            self.http.close()
            raise

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- connection and auth ------------------------------------------------

    def _connect(self) -> None:
        """Probe ``/v2/`` (HTTPS; plain HTTP after a failed TLS handshake on
        an insecure registry) and authenticate from its challenge."""
        schemes = self.schemes
        for i, scheme in enumerate(schemes):
            try:
                response = self.http.send("GET", f"{scheme}://{self.host}/v2/")
            except transport_errors() as e:
                if i + 1 < len(schemes):
                    continue
                raise RegistryError(f"{self.host}: cannot reach the registry: {type(e).__name__}: {e}") from None
            self.base = f"{scheme}://{self.host}/v2/{self.path}"
            self._origin = origin(self.base)
            break
        if response.status_code == 401:
            self._authenticate(response)
        elif response.status_code >= 400 and response.status_code != 404:
            raise RegistryError(f"{self.host}: /v2/ answered {response.status_code}: not a registry?")

    def _authenticate(self, response: Any) -> None:
        """Answer a 401's WWW-Authenticate challenge (basic or bearer)."""
        scheme, params = parse_challenge(response.headers.get("www-authenticate", ""))
        who = self.credentials
        if scheme == "basic":
            if who is None:
                raise RegistryAuthError(f"{self.host}: the registry wants credentials and none were given or stored")
            self.authorization = _basic(who)
        elif scheme == "bearer" and params.get("realm"):
            self.authorization = f"Bearer {self._token(params)}"
        else:
            raise RegistryAuthError(f"{self.host}: unsupported authentication challenge {scheme!r}")

    def _token(self, params: Dict[str, str]) -> str:
        query = {"scope": params.get("scope") or f"repository:{self.path}:{self.actions}"}
        if params.get("service"):
            query["service"] = params["service"]
        realm = params["realm"]
        who = self.credentials
        basic = (origin(realm), _basic(who)) if who is not None else None
        try:
            response = self.http.send("GET", with_query(realm, query), authorization=basic)
        except transport_errors() as e:
            raise RegistryError(f"{self.host}: cannot reach the token service: {type(e).__name__}") from None
        if response.status_code in (401, 403):
            raise RegistryAuthError(f"{self.host}: the token service refused {self._whose()}")
        if response.status_code != 200:
            raise RegistryError(f"{self.host}: the token service answered {response.status_code}")
        try:
            doc = response.json()
        except ValueError:
            doc = None
        token = (doc.get("token") or doc.get("access_token")) if isinstance(doc, dict) else None
        if not isinstance(token, str) or not token:
            raise RegistryError(f"{self.host}: the token service sent no token")
        return token

    def _whose(self) -> str:
        who = self.credentials
        return "anonymous access" if who is None else f"the credentials of {who.username!r} (from {who.source})"

    def request(
        self,
        method: str,
        url: str,
        *,
        stream: bool = False,
        headers: Optional[Dict[str, str]] = None,
        body: Optional[Callable[[], Body]] = None,
    ) -> Response:
        """One request with the current authorization, sent to the
        registry's origin only (never to another host a redirect leads
        to); a 401 answered once (a new token for the challenge's scope),
        then RegistryAuthError.  ``body``: makes the body, once per attempt."""
        for attempt in (0, 1):
            authorization = (self._origin, self.authorization) if self.authorization else None
            try:
                response = self.http.send(
                    method,
                    url,
                    headers=headers,
                    body=body() if body is not None else None,
                    stream=stream,
                    authorization=authorization,
                )
            except transport_errors() as e:
                raise RegistryError(f"{self.host}: {method} {_short(url)}: {type(e).__name__}: {e}") from None
            if response.status_code != 401:
                return response
            response.close()
            if attempt == 1:
                break
            self._authenticate(response)
        raise RegistryAuthError(f"{self.host}/{self.path}: unauthorized with {self._whose()}")

    # -- manifests and blobs --------------------------------------------------

    def manifest(self, reference: str) -> Tuple[bytes, str, str]:
        """(body, media type, digest) of a manifest or index by tag or digest,
        checked against the digest asked for and ``Docker-Content-Digest``."""
        response = self.request(
            "GET", f"{self.base}/manifests/{reference}", headers={"Accept": ", ".join(MANIFEST_TYPES)}
        )
        what = (
            f"{self.host}/{self.path}:{reference}" if ":" not in reference else f"{self.host}/{self.path}@{reference}"
        )
        _check_status(response, what, "manifest")
        data: bytes = response.content
        if len(data) > MANIFEST_LIMIT:
            raise RegistryError(f"{what}: a manifest larger than {MANIFEST_LIMIT} bytes")
        got = digest_of(data)
        for expected in (reference if reference.startswith("sha256:") else None, _header_digest(response)):
            if expected is not None and expected != got:
                raise DigestMismatchError(f"manifest {what}", expected, got)
        media = response.headers.get("content-type", "").split(";")[0].strip()
        return data, media, got

    def blob_bytes(self, digest: str, limit: int = 64 << 20) -> bytes:
        """A small blob (an image config), checked against its digest."""
        response = self.request("GET", f"{self.base}/blobs/{digest}")
        _check_status(response, f"{self.host}/{self.path}@{digest}", "blob")
        data: bytes = response.content
        if len(data) > limit:
            raise RegistryError(f"blob {digest}: larger than {limit} bytes")
        if digest_of(data) != digest:
            raise DigestMismatchError(f"blob {digest}", digest, digest_of(data))
        return data

    def open_blob(self, digest: str, size: Optional[int]) -> BlobReader:
        """A reader of the blob as sent (not checked: the reader's caller
        hashes what it reads), resuming an interrupted download."""
        return BlobReader(self, digest, size)

    def has_blob(self, digest: str) -> bool:
        response = self.request("HEAD", f"{self.base}/blobs/{digest}")
        if response.status_code == 404:
            return False
        _check_status(response, f"{self.host}/{self.path}@{digest}", "blob")
        return True

    def upload_blob(self, digest: str, size: int, chunks: Callable[[], Iterator[bytes]]) -> None:
        """A monolithic upload: POST for a session, PUT with the digest."""
        where = f"{self.host}/{self.path}@{digest}"
        response = self.request("POST", f"{self.base}/blobs/uploads/")
        _check_status(response, where, "upload", ok=(202,))
        location = response.headers.get("location")
        if not location:
            raise RegistryError(f"{where}: the registry gave no upload location")
        url = with_query(urllib.parse.urljoin(response.url, location), {"digest": digest})
        response = self.request(
            "PUT",
            url,
            body=chunks,
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
        )
        _check_status(response, where, "upload", ok=(201, 204))

    def put_manifest(self, reference: str, data: bytes, media_type: str) -> str:
        """Upload a manifest under a tag (or its digest); returns its digest."""
        where = f"{self.host}/{self.path}:{reference}"
        response = self.request(
            "PUT", f"{self.base}/manifests/{reference}", body=lambda: data, headers={"Content-Type": media_type}
        )
        _check_status(response, where, "manifest upload", ok=(201, 204))
        got = digest_of(data)
        sent = _header_digest(response)
        if sent is not None and sent != got:
            raise DigestMismatchError(f"manifest {where} (as the registry stored it)", got, sent)
        return got


class BlobReader(io.RawIOBase):
    """A blob's bytes as downloaded, read straight from the connection in
    the sizes asked for; when the connection breaks before the end, the
    download goes on from where it stopped (``Range: bytes=N-``; a server
    that answers 200 instead has its first N bytes skipped)."""

    def __init__(self, client: RegistryClient, digest: str, size: Optional[int]) -> None:
        self.client = client
        self.digest = digest
        self.size = size
        self.offset = 0
        self.resumed = 0
        self._response: Optional[Response] = None
        self._open()

    def readable(self) -> bool:
        return True

    def _open(self) -> None:
        headers = {"Range": f"bytes={self.offset}-"} if self.offset else {}
        response = self.client.request("GET", f"{self.client.base}/blobs/{self.digest}", stream=True, headers=headers)
        if response.status_code not in (200, 206):
            try:
                _check_status(response, f"{self.client.host}/{self.client.path}@{self.digest}", "blob")
            finally:
                response.close()
        if response.status_code == 206 and not response.headers.get("content-range", "").startswith(
            f"bytes {self.offset}-"
        ):
            response.close()
            raise RegistryError(f"blob {self.digest}: the registry resumed at the wrong offset")
        self._response = response
        skip = self.offset if response.status_code == 200 else 0
        while skip > 0:  # a break here is one more resumption, as any other
            skipped = len(response.read(min(skip, 1 << 20)))
            if not skipped:
                raise EOFError("the blob ended before the bytes already received")
            skip -= skipped

    def read(self, size: int = -1, /) -> bytes:
        """The next ``size`` bytes (fewer only at the blob's end); all the
        rest when ``size`` is negative."""
        if size < 0:
            return self.readall()
        while True:
            try:
                assert self._response is not None
                data = self._response.read(size)
            except transport_errors() as e:
                log.debug("blob %s broke at %d bytes: %s", self.digest, self.offset, type(e).__name__)
                data, broken = b"", True
            else:
                broken = not data and size > 0 and self.size is not None and self.offset < self.size
            if not broken:
                break
            self._resume()
        self.offset += len(data)
        if self.size is not None and self.offset > self.size:
            raise RegistryError(f"blob {self.digest}: more than the {self.size} bytes its descriptor says")
        return data

    def _resume(self) -> None:
        self._close_response()
        self.resumed += 1
        if self.resumed > RESUME_ATTEMPTS:
            raise RegistryError(f"blob {self.digest}: download broken {self.resumed} times at {self.offset} bytes")
        try:
            self._open()
        except transport_errors() + (EOFError,) as e:
            self._close_response()
            log.debug("blob %s: resuming at %d bytes failed: %s", self.digest, self.offset, type(e).__name__)
            self._resume()

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _close_response(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None

    def close(self) -> None:
        self._close_response()
        super().close()


def _basic(who: Credentials) -> str:
    return "Basic " + base64.b64encode(f"{who.username}:{who.password}".encode()).decode()


def _short(url: str) -> str:
    return url.split("?", 1)[0]


def _header_digest(response: Any) -> Optional[str]:
    value = response.headers.get("docker-content-digest")
    return value if isinstance(value, str) and value.startswith("sha256:") else None


def _check_status(response: Any, what: str, kind: str, ok: Tuple[int, ...] = (200,)) -> None:
    code = response.status_code
    if code in ok:
        return
    detail = _error_codes(response)
    if code == 404:
        raise ImageNotFound(f"{what}: {kind} not found on the registry{detail}")
    if code == 403:
        raise RegistryAuthError(f"{what}: access denied{detail}")
    raise RegistryError(f"{what}: the registry answered {code} to the {kind} request{detail}")


def _error_codes(response: Any) -> str:
    """The registry's error codes (MANIFEST_UNKNOWN...), from its JSON body."""
    try:
        doc = response.json()
    except Exception:
        return ""
    errors: List[Any] = doc.get("errors") or [] if isinstance(doc, dict) else []
    codes = [str(e.get("code")) for e in errors if isinstance(e, dict) and e.get("code")]
    return f" ({', '.join(codes)})" if codes else ""
