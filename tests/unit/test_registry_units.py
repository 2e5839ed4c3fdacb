"""The pure parts of pulling: where a reference is fetched from and how,
which platform of an index is chosen, which stored credentials apply."""

from __future__ import annotations

import base64
import json
from typing import Any, Dict, List

import pytest

from libcontainer_py.images import Credentials, ImageError, Platform
from libcontainer_py.images.credentials import credentials_for, stored_credentials
from libcontainer_py.images.platforms import choose
from libcontainer_py.images.reference import parse
from libcontainer_py.images.registry import api_host, is_loopback, parse_challenge, schemes_for


def test_docker_hub_conventions() -> None:
    ref = parse("alpine")
    assert (ref.domain, ref.path, ref.tag) == ("docker.io", "library/alpine", "latest")
    assert api_host(ref.domain) == "registry-1.docker.io"
    assert api_host("quay.io") == "quay.io" and api_host("localhost:5000") == "localhost:5000"


@pytest.mark.parametrize(
    "host, loopback",
    [
        ("localhost", True),
        ("localhost:5000", True),
        ("127.0.0.1:5000", True),
        ("127.3.2.1", True),
        ("[::1]:5000", True),
        ("registry.example:5000", False),
        ("10.0.0.1:5000", False),
        ("localhost.example.com", False),
        ("128.0.0.1", False),
    ],
)
def test_plain_http_only_on_the_loopback_or_when_insecure(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
    assert schemes_for(host) == (("https", "http") if loopback else ("https",))
    assert schemes_for(host, insecure=True) == ("https", "http")


def test_challenges() -> None:
    assert parse_challenge('Bearer realm="https://auth.example/token",service="registry.example",scope="a:b:pull"') == (
        "bearer",
        {"realm": "https://auth.example/token", "service": "registry.example", "scope": "a:b:pull"},
    )
    assert parse_challenge('Basic realm="Registry Realm"') == ("basic", {"realm": "Registry Realm"})


def plat(arch: str, variant: str = "", os_name: str = "linux") -> Dict[str, Any]:
    p = {"os": os_name, "architecture": arch, **({"variant": variant} if variant else {})}
    return {"digest": f"sha256:{arch}{variant}", "platform": p}


INDEX: List[Dict[str, Any]] = [
    plat("amd64", os_name="windows"),
    plat("arm", "v6"),
    plat("arm", "v7"),
    plat("arm64", "v8"),
    plat("amd64"),
    {"digest": "sha256:attestation", "platform": {"os": "unknown", "architecture": "unknown"}},
]


@pytest.mark.parametrize(
    "want, got",
    [
        ("linux/amd64", "sha256:amd64"),
        ("linux/amd64/v1", "sha256:amd64"),  # a missing variant is the architecture's default
        ("linux/arm64", "sha256:arm64v8"),
        ("linux/arm/v7", "sha256:armv7"),
        ("linux/arm/v6", "sha256:armv6"),
        ("windows/amd64", "sha256:amd64"),
    ],
)
def test_platform_chosen(want: str, got: str) -> None:
    chosen = choose(INDEX, Platform.parse(want))
    assert chosen["digest"] == got
    assert chosen["platform"]["os"] == want.split("/")[0]


def test_no_platform_names_what_there_is() -> None:
    with pytest.raises(ImageError, match=r"no manifest for linux/arm/v5 \(it has: windows/amd64, linux/arm/v6"):
        choose(INDEX, Platform.parse("linux/arm/v5"))
    with pytest.raises(ImageError, match="os/architecture"):
        Platform.parse("amd64")


def test_this_machine() -> None:
    here = Platform.here()
    assert here.os == "linux" and "/" not in here.architecture and here.architecture != "x86_64"


def entry(user: str, password: str) -> Dict[str, str]:
    return {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_stored_credentials_by_registry_and_repository(tmp_path: Any) -> None:
    podman = tmp_path / "auth.json"
    docker = tmp_path / "config.json"
    podman.write_text(json.dumps({"auths": {"quay.io/team/app": entry("team", "t"), "quay.io": entry("q", "q")}}))
    docker.write_text(
        json.dumps(
            {
                "auths": {
                    "https://index.docker.io/v1/": entry("hub", "h"),
                    "localhost:5000": entry("local", "l"),
                    "helper.example": {},  # a credential helper's entry: not read
                },
                "credsStore": "desktop",
            }
        )
    )
    files = [str(podman), str(docker)]
    found = stored_credentials("quay.io", "team/app", files)
    assert found == Credentials("team", "t", str(podman))
    assert stored_credentials("quay.io", "other/app", files) == Credentials("q", "q", str(podman))
    assert stored_credentials("docker.io", "library/alpine", files) == Credentials("hub", "h", str(docker))
    assert stored_credentials("localhost:5000", "x", files) == Credentials("local", "l", str(docker))
    assert stored_credentials("helper.example", "x", files) is None
    assert stored_credentials("localhost:5001", "x", files) is None


def test_credentials_are_not_shown(tmp_path: Any) -> None:
    creds = credentials_for("r.example", "a", ("me", "hunter2-secret"))
    assert creds is not None and "hunter2" not in repr(creds) and "hunter2" not in str(creds)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"auths": {"r.example": {"auth": "bm90LWJhc2U2NA"}}}))  # "not-base64" without a colon
    with pytest.raises(ImageError, match="user:password") as info:
        stored_credentials("r.example", "a", [str(bad)])
    assert "not-base64" not in str(info.value)
    with pytest.raises(ImageError, match="pair"):
        credentials_for("r.example", "a", ("only-user",))  # type: ignore[arg-type]


def test_without_urllib3_a_clear_error(monkeypatch: Any) -> None:
    import sys

    from libcontainer_py.images.transport import urllib3_module

    monkeypatch.setitem(sys.modules, "urllib3", None)  # import urllib3 now raises ImportError
    with pytest.raises(ImageError, match=r"pip install 'libcontainer_py\[registry\]'"):
        urllib3_module()


def test_progress_sinks(monkeypatch: Any, capsys: Any) -> None:
    from libcontainer_py.images import PullProgress
    from libcontainer_py.images import progress as progress_mod

    events: List[PullProgress] = []
    reporter = progress_mod.Reporter("pull x", events.append, 10)
    reporter("sha256:" + "a" * 64, "downloading", 4, 10)
    reporter("sha256:" + "a" * 64, "done", 10, 10)
    reporter.close()
    assert [(e.status, e.done, e.total) for e in events] == [("downloading", 4, 10), ("done", 10, 10)]
    monkeypatch.setattr(progress_mod, "_tqdm", lambda: None)  # tqdm not installed: a line on stderr
    line = progress_mod.Reporter("pull x", True, 10)
    line("sha256:" + "b" * 64, "done", 10, 10)
    line.close()
    assert "pull x" in capsys.readouterr().err
    quiet = progress_mod.Reporter("pull x", False, 10)
    quiet("sha256:" + "b" * 64, "done", 10, 10)
    quiet.close()
    assert capsys.readouterr().err == ""


def test_the_tls_context_verifies_and_is_loaded_once() -> None:
    """Every client shares one context with the system's CA store: it
    verifies certificates and host names."""
    import ssl

    from libcontainer_py.images.registry import tls_context

    context = tls_context()
    assert context is tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 0


def test_origins_decide_where_authorization_goes() -> None:
    """The registry's Authorization goes to a URL only when its origin
    (scheme, host, port; the default port left out) is the registry's."""
    from libcontainer_py.images.transport import origin, with_query

    assert origin("https://Registry.example/v2/a") == origin("https://registry.example:443/v2/b")
    assert origin("http://127.0.0.1:5000/v2/") == ("http", "127.0.0.1:5000")
    assert origin("http://localhost:5000/v2/") != origin("http://127.0.0.1:5000/v2/")
    assert origin("https://r.example/v2/") != origin("http://r.example/v2/")
    assert origin("https://r.example:8443/v2/") != origin("https://r.example/v2/")
    assert with_query("https://a/token", {"scope": "repository:x/y:pull"}) == (
        "https://a/token?scope=repository%3Ax%2Fy%3Apull"
    )
    assert with_query("https://a/up?_state=s", {"digest": "sha256:ab"}) == "https://a/up?_state=s&digest=sha256%3Aab"
