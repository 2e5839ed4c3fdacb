"""HTTP for the registry client, on urllib3: one connection pool per
client, TLS verified with one shared context of the system's CA store,
redirects followed here so that an ``Authorization`` header only ever goes
to the origin it was made for.

Needs the ``registry`` extra: ``pip install 'libcontainer_py[registry]'``.
"""

from __future__ import annotations

import json
import ssl
import urllib.parse
from typing import Any, Dict, Iterable, Mapping, Optional, Tuple, Type, Union

from ._optional import optional_module

REDIRECTS = 10
USER_AGENT = "libcontainer_py"
Body = Union[bytes, Iterable[bytes], None]


def urllib3_module() -> Any:
    """The ``urllib3`` module, or an ImageError saying how to install it."""
    missing = "pulling and pushing need the 'urllib3' package: pip install 'libcontainer_py[registry]'"
    return optional_module("urllib3", missing)


_contexts: Dict[bool, ssl.SSLContext] = {}


def tls_context(verify: bool = True) -> ssl.SSLContext:
    """The system's CA store in a verifying TLS context, loaded once per
    process (~20 ms) and shared by every client (an SSLContext is made to
    be); with ``verify=False`` a context that checks nothing (insecure
    registries), made once too."""
    context = _contexts.get(verify)
    if context is None:
        if verify:
            context = ssl.create_default_context()
        else:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        context = _contexts.setdefault(verify, context)
    return context


def transport_errors() -> Tuple[Type[BaseException], ...]:
    """What a request or a body read raises when the network or the peer
    fails (urllib3 wraps the socket's, TLS and HTTP framing errors)."""
    return (urllib3_module().exceptions.HTTPError,)


def origin(url: str) -> Tuple[str, str]:
    """(scheme, host[:port]) of an absolute URL, the port left out when it is the scheme's default."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2].lower()
    default = {"http": ":80", "https": ":443"}.get(parts.scheme.lower())
    if default and netloc.endswith(default):
        netloc = netloc[: -len(default)]
    return parts.scheme.lower(), netloc


def with_query(url: str, params: Mapping[str, str]) -> str:
    """``url`` with ``params`` added to its query string."""
    if not params:
        return url
    return url + ("&" if "?" in url else "?") + urllib.parse.urlencode(params)


class Response:
    """A urllib3 response and the URL it came from (after redirects):
    ``status_code``, ``headers`` (case-insensitive), ``content`` (all of
    the body), ``read(n)`` (the body as it arrives, not decoded)."""

    __slots__ = ("_content", "headers", "raw", "status_code", "url")

    def __init__(self, raw: Any, url: str) -> None:
        self.raw = raw
        self.url = url
        self.status_code: int = raw.status
        self.headers: Mapping[str, str] = raw.headers
        self._content: Optional[bytes] = None

    @property
    def content(self) -> bytes:
        if self._content is None:
            self._content = self.raw.data or b""  # read now if streamed
        return self._content

    def json(self) -> Any:
        return json.loads(self.content)

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes of the body as sent (fewer only at its end)."""
        data: bytes = self.raw.read(size, decode_content=False)
        return data

    def close(self) -> None:
        """Done with the response: a connection read to the end went back
        to the pool already; one that was not is closed."""
        self.raw.close()


class Transport:
    """One pool of connections (16 per host at most, kept alive);
    ``verify``: TLS checked with the system's CA store."""

    def __init__(self, verify: bool = True) -> None:
        urllib3 = urllib3_module()
        self.pool = urllib3.PoolManager(
            num_pools=32,  # one per origin (registry, token service, storage); close() closes them all
            maxsize=16,
            ssl_context=tls_context(verify),
            timeout=urllib3.Timeout(connect=15.0, read=60.0),
            retries=False,
            headers={"User-Agent": USER_AGENT},
        )

    def close(self) -> None:
        """Close every connection now (PoolManager.clear() only drops the
        pools, leaving their connections to the garbage collector)."""
        pools = self.pool.pools
        for key in pools.keys():
            pool = pools.get(key)
            if pool is not None:
                pool.close()
        pools.clear()

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Optional[Mapping[str, str]] = None,
        body: Body = None,
        stream: bool = False,
        authorization: Optional[Tuple[Tuple[str, str], str]] = None,
    ) -> Response:
        """``method url``, redirects followed (303: then a GET without a
        body).  ``authorization``: (origin, header value), sent only to
        that origin, on any hop.  ``stream``: the body is left to read."""
        sent = dict(headers or {})
        for _ in range(REDIRECTS + 1):
            hop = dict(sent)
            if authorization is not None and origin(url) == authorization[0]:
                hop["Authorization"] = authorization[1]
            raw = self.pool.request(
                method,
                url,
                headers=hop,
                body=body,
                redirect=False,
                preload_content=not stream,
                decode_content=False,
            )
            location = raw.headers.get("location") if raw.status in (301, 302, 303, 307, 308) else None
            if not location:
                return Response(raw, url)
            raw.drain_conn()
            raw.release_conn()
            url = urllib.parse.urljoin(url, location)
            if raw.status == 303 or (raw.status in (301, 302) and method == "POST"):
                method, body = "GET" if method != "HEAD" else "HEAD", None
                sent = {k: v for k, v in sent.items() if k.lower() not in ("content-type", "content-length")}
        urllib3 = urllib3_module()
        raise urllib3.exceptions.HTTPError(f"more than {REDIRECTS} redirects")
