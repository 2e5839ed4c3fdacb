"""What Python users reach for first: names that stay callable, one version,
one state root, short reprs, Docker-style image references."""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
import sys
import types

import pytest

import libcontainer_py as lc
from libcontainer_py import _statedir
from libcontainer_py.images import ImageError
from libcontainer_py.images.reference import name_for, parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_public_names_stay_callable_whatever_is_imported() -> None:
    before = {name: getattr(lc, name) for name in lc.__all__}
    for info in pkgutil.walk_packages(lc.__path__, "libcontainer_py."):
        if info.name.endswith(("__main__", "_libseccomp_ffi")):
            continue
        importlib.import_module(info.name)
    for name in lc.__all__:
        value = getattr(lc, name)
        if name in ("images", "oci", "cgroups", "seccomp"):
            assert isinstance(value, types.ModuleType)
        else:
            assert not isinstance(value, types.ModuleType), f"lc.{name} is now a module"
            assert value is before[name] or value == before[name]
    assert callable(lc.run) and callable(lc.run_async) and callable(lc.create_subprocess_exec)


def test_one_version_source() -> None:
    from importlib.metadata import version

    with open(os.path.join(ROOT, "pyproject.toml")) as f:
        pyproject = f.read()
    project = pyproject.split("\n[project]\n", 1)[1].split("\n[", 1)[0]
    assert 'dynamic = ["version"]' in project and not re.search(r"^version\s*=", project, re.M)
    assert 'version = { attr = "libcontainer_py.__version__" }' in pyproject
    assert lc.__version__ == version("libcontainer_py")


def test_one_default_state_root_for_library_and_cli() -> None:
    from libcontainer_py import cli
    from libcontainer_py.cli import _argv

    assert lc.DEFAULT_ROOT == cli.DEFAULT_ROOT == _argv._GLOBAL_VALUED["--root"][1] == "/run/libcontainer-py"
    assert lc.DEFAULT_ROOT == _statedir.default_root(0, {"USER": "root"})


def test_default_state_root_of_other_users() -> None:
    assert _statedir.default_root(1000, {"XDG_RUNTIME_DIR": "/run/user/1000"}) == "/run/user/1000/libcontainer-py"
    assert _statedir.default_root(1000, {}) == "/tmp/libcontainer-py-1000"
    assert _statedir.default_root(1000, {"XDG_RUNTIME_DIR": "relative"}) == "/tmp/libcontainer-py-1000"
    # root outside any user namespace (this test) keeps the system root whatever $USER says
    assert _statedir.default_root(0, {"USER": "me", "XDG_RUNTIME_DIR": "/run/user/1000"}) == "/run/libcontainer-py"
    assert lc.Container.create.__kwdefaults__["root"] == lc.DEFAULT_ROOT


def test_short_reprs() -> None:
    assert repr(lc.Config()) == "Config()"
    assert len(repr(lc.Config())) < 400
    config = lc.Config(hostname="box", process=lc.Process(args=["id"], user=lc.User(1000, 1000)), rootfs="/srv/r")
    text = repr(config)
    assert text == (
        "Config(process=Process(args=('id',), user=User(uid=1000, gid=1000)), "
        "rootfs=Rootfs(path='/srv/r'), hostname='box')"
    )
    assert len(repr(lc.Config(rootfs=None, namespaces=lc.Namespaces(user=True)))) < 400


@pytest.mark.parametrize(
    "ref, full, familiar",
    [
        ("bb", "docker.io/library/bb:latest", "bb:latest"),
        ("bb:1", "docker.io/library/bb:1", "bb:1"),
        ("library/bb:1", "docker.io/library/bb:1", "bb:1"),
        ("docker.io/library/bb:1", "docker.io/library/bb:1", "bb:1"),
        ("index.docker.io/library/bb:1", "docker.io/library/bb:1", "bb:1"),
        ("acme/bb:1", "docker.io/acme/bb:1", "acme/bb:1"),
        ("docker.io/acme/bb:1", "docker.io/acme/bb:1", "acme/bb:1"),
        ("quay.io/acme/bb", "quay.io/acme/bb:latest", "quay.io/acme/bb:latest"),
        ("localhost:5000/bb:2", "localhost:5000/bb:2", "localhost:5000/bb:2"),
        ("bb@sha256:" + "a" * 64, "docker.io/library/bb@sha256:" + "a" * 64, "bb@sha256:" + "a" * 64),
    ],
)
def test_references_as_docker_reads_them(ref: str, full: str, familiar: str) -> None:
    assert str(parse(ref)) == full and parse(ref).familiar == familiar


@pytest.mark.parametrize("ref", ["", "BB:1", "bb:", "bb@sha256:12", "bb:a b", "/bb"])
def test_invalid_references(ref: str) -> None:
    with pytest.raises(ImageError):
        parse(ref)


def test_a_bare_oci_tag_is_named_after_the_source() -> None:
    assert name_for("latest", "/x/img.oci.tar") == "img:latest"
    assert name_for("1.2", "/x/My Image/") == "my-image:1.2"
    assert name_for("latest", "/x/a.tar", oci_layout=False) == "latest:latest"
    assert name_for("docker.io/library/bb:1", "/x/y.tar") == "bb:1"


def test_typed_and_licensed_metadata() -> None:
    from importlib.metadata import metadata

    meta = metadata("libcontainer_py")
    assert meta["License-Expression"] == "Apache-2.0"
    classifiers = meta.get_all("Classifier") or []
    assert "Operating System :: POSIX :: Linux" in classifiers and "Typing :: Typed" in classifiers
    assert any(c.startswith("Programming Language :: Python :: 3.") for c in classifiers)
    assert meta.get_all("Project-URL")
    assert sys.modules["libcontainer_py"].__file__ is not None
