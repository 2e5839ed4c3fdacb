"""A real registry on the loopback (Debian's docker-registry, the reference
implementation), and a small HTTP front of it that can hand out bearer
tokens, redirect blobs to another origin and break a blob download.
Nothing here listens on, or talks to, anything but 127.0.0.1."""

from __future__ import annotations

import base64
import http.server
import os
import re
import secrets
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
from typing import Any, Dict, List, Optional, Set, Tuple

import urllib3

from .processes import terminate

REGISTRY = shutil.which("docker-registry") or "/usr/bin/docker-registry"
_ACCESS = re.compile(r'http\.request\.method=(\w+).*?http\.request\.uri="?([^" ]+)"?.*?http\.response\.status=(\d+)')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Registry:
    """``docker-registry serve`` on 127.0.0.1, storage under ``tmp``;
    with ``user`` set, htpasswd basic auth for (user, password)."""

    def __init__(self, tmp: str, user: Optional[Tuple[str, str]] = None) -> None:
        self.tmp = tmp
        self.data = os.path.join(tmp, "data")
        self.log_path = os.path.join(tmp, "registry.log")
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        os.makedirs(self.data)
        auth = ""
        if user is not None:
            line = subprocess.run(["htpasswd", "-Bbn", *user], check=True, capture_output=True, text=True).stdout
            with open(os.path.join(tmp, "htpasswd"), "w") as f:
                f.write(line.strip() + "\n")
            auth = f"auth:\n  htpasswd:\n    realm: test\n    path: {tmp}/htpasswd\n"
        config = (
            "version: 0.1\nlog:\n  level: info\n  formatter: text\n"
            f"storage:\n  filesystem:\n    rootdirectory: {self.data}\n  delete:\n    enabled: true\n"
            f"http:\n  addr: {self.host}\n  secret: {secrets.token_hex(16)}\n{auth}"
        )
        with open(os.path.join(tmp, "config.yml"), "w") as f:
            f.write(config)
        self.proc: Optional[subprocess.Popen[bytes]] = None

    def start(self) -> Registry:
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [REGISTRY, "serve", os.path.join(self.tmp, "config.yml")], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 60
        while True:  # readiness, not a timed assertion: fails only if it never comes up
            if self.proc.poll() is not None:
                raise RuntimeError(f"docker-registry exited: {open(self.log_path).read()[-2000:]}")
            try:
                if urllib3.request("GET", f"http://{self.host}/v2/", timeout=5, retries=False).status in (200, 401):
                    return self
            except urllib3.exceptions.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("docker-registry did not answer on /v2/")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            terminate(self.proc, 30)
        self.proc = None

    def requests(self) -> List[Tuple[str, str, int]]:
        """(method, uri, status) of each request the registry served so far."""
        with open(self.log_path) as f:
            return [(m[0], m[1], int(m[2])) for m in _ACCESS.findall(f.read())]

    def blob_gets(self) -> List[str]:
        return [uri for method, uri, _ in self.requests() if method == "GET" and "/blobs/" in uri]

    def blob_file(self, digest: str) -> str:
        """Where the registry keeps a blob (to tamper with it)."""
        hexpart = digest[7:]
        return os.path.join(self.data, "docker/registry/v2/blobs/sha256", hexpart[:2], hexpart, "data")


def skopeo(*args: str) -> str:
    r = subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout


def push_layout(layout: str, ref_name: str, dest: str, *extra: str) -> None:
    """``skopeo copy oci:<layout>:<ref_name> docker://<dest>`` over plain HTTP."""
    skopeo("copy", "--quiet", "--dest-tls-verify=false", *extra, f"oci:{layout}:{ref_name}", f"docker://{dest}")


class Front:
    """An HTTP server on 127.0.0.1 in front of a Registry.

    - ``token``: (user, password): /v2/ wants a bearer token from /token
      (basic auth with those credentials; wrong ones get 401).
    - ``redirect``: blob GETs are redirected to ``localhost:<port>/storage/``
      (another origin, like a storage bucket), served without auth.
    - ``cut``: digests whose first download is cut after half its bytes.
    - ``ignore_range``: Range headers are not passed on (the whole blob, 200).
    - ``gated``: digests whose downloads are held until ``gate`` of them are
      in flight at once (or a second has passed); ``max_in_flight`` is the
      most there were.
    ``seen`` records (method, path, range, authorization) of each request."""

    def __init__(self, upstream: Registry, *, token: Optional[Tuple[str, str]] = None, redirect: bool = False) -> None:
        self.upstream = upstream
        self.token_user = token
        self.redirect = redirect
        self.cut: Set[str] = set()
        self.ignore_range = False
        self.gated: Set[str] = set()
        self.gate = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._cond = threading.Condition()
        self.seen: List[Dict[str, Any]] = []
        self.tokens: Set[str] = set()
        self.scopes: List[str] = []
        front = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                front.handle(self, "GET")

            def do_HEAD(self) -> None:
                front.handle(self, "HEAD")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = False  # server_close() joins the handler threads: no fd outlives the front
        self.port = self.server.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        self.client = urllib3.PoolManager(timeout=30, retries=False)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Front:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
        self.client.clear()

    def handle(self, h: http.server.BaseHTTPRequestHandler, method: str) -> None:
        path = h.path
        auth = h.headers.get("Authorization")
        self.seen.append({"method": method, "path": path, "range": h.headers.get("Range"), "auth": auth})
        if path.startswith("/token"):
            return self.token(h, auth)
        if path.startswith("/storage/"):
            return self.forward(h, method, "/v2/" + path[len("/storage/") :])
        if self.token_user is not None and (auth or "")[7:] not in self.tokens:
            scope = ""
            m = re.match(r"/v2/(.+)/(manifests|blobs)/", path)
            if m:
                scope = f',scope="repository:{m[1]}:pull"'
            challenge = f'Bearer realm="http://{self.host}/token",service="front"{scope}'
            return self.reply(h, 401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {"WWW-Authenticate": challenge})
        if self.redirect and method == "GET" and "/blobs/sha256:" in path:
            return self.reply(h, 307, b"", {"Location": f"http://localhost:{self.port}/storage/{path[4:]}"})
        digest = path.rsplit("/", 1)[-1]
        if method == "GET" and digest in self.gated:
            with self._cond:
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
                self._cond.notify_all()
                self._cond.wait_for(lambda: self.in_flight >= self.gate, timeout=1)
            try:
                return self.forward(h, method, path)
            finally:
                with self._cond:
                    self.in_flight -= 1
        return self.forward(h, method, path)

    def token(self, h: http.server.BaseHTTPRequestHandler, auth: Optional[str]) -> None:
        want = self.token_user
        good = want is not None and auth == "Basic " + base64.b64encode(f"{want[0]}:{want[1]}".encode()).decode()
        self.scopes.append(urllib.parse.parse_qs(urllib.parse.urlsplit(h.path).query).get("scope", [""])[0])
        if not good:
            return self.reply(h, 401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {})
        token = secrets.token_hex(16)
        self.tokens.add(token)
        return self.reply(h, 200, f'{{"token":"{token}"}}'.encode(), {"Content-Type": "application/json"})

    def forward(self, h: http.server.BaseHTTPRequestHandler, method: str, path: str) -> None:
        passed = ("accept",) if self.ignore_range else ("accept", "range")
        headers = {k: v for k, v in h.headers.items() if k.lower() in passed}
        r = self.client.request(method, f"http://{self.upstream.host}{path}", headers=headers, redirect=False)
        keep = ("content-type", "docker-content-digest", "content-range", "accept-ranges", "location")
        out = {k: v for k, v in r.headers.items() if k.lower() in keep}
        digest = path.rsplit("/", 1)[-1]
        if method == "GET" and digest in self.cut and r.status == 200:
            self.cut.discard(digest)
            return self.reply(h, 200, r.data, out, cut_at=len(r.data) // 2)
        return self.reply(h, r.status, r.data, out, head=method == "HEAD")

    def reply(
        self,
        h: http.server.BaseHTTPRequestHandler,
        code: int,
        body: bytes,
        headers: Dict[str, str],
        *,
        cut_at: Optional[int] = None,
        head: bool = False,
    ) -> None:
        h.send_response(code)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if head:
            return
        if cut_at is None:
            h.wfile.write(body)
            return
        h.wfile.write(body[:cut_at])
        h.wfile.flush()
        h.close_connection = True
        h.connection.shutdown(socket.SHUT_RDWR)
