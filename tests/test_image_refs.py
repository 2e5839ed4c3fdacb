"""Image references as Docker users type them, against a real store and a
container run from what the reference found."""

from __future__ import annotations

import os
from typing import Any

import pytest
from support.images import busybox_layer, write_docker_archive, write_oci_layout

import libcontainer_py as lc
from libcontainer_py.images import ImageNotFound, ImageStore


@pytest.fixture(scope="module")
def layer(tmp_path_factory: Any) -> bytes:
    tmp = tmp_path_factory.mktemp("reflayer")
    return busybox_layer(str(tmp / "root"), "from the layer\n")


def motd(store: ImageStore, ref: str) -> str:
    config = lc.Config(rootfs=store.rootfs(ref))
    return lc.run(["cat", "/etc/motd"], config=config, capture_output=True, text=True, check=True).stdout


def test_docker_forms_name_one_image(layer: bytes, tmp_path: Any, no_leaks: None) -> None:
    store = ImageStore(str(tmp_path / "store"))
    write_docker_archive(str(tmp_path / "a.tar"), [layer], tags=["newcomer/bb:1"])
    write_docker_archive(str(tmp_path / "b.tar"), [layer], config={"Cmd": ["true"]}, tags=["img:latest"])
    a = store.import_archive(str(tmp_path / "a.tar"))
    b = store.import_archive(str(tmp_path / "b.tar"))
    assert a.names == ("newcomer/bb:1",) and b.names == ("img:latest",)
    for ref in ("newcomer/bb:1", "docker.io/newcomer/bb:1", "index.docker.io/newcomer/bb:1"):
        assert store.get(ref) == a
    for ref in ("img", "img:latest", "library/img", "docker.io/library/img:latest", f"img@{b.digest}"):
        assert store.get(ref) == b
    for missing in ("bb:1", "newcomer/bb", "img:2", f"newcomer/bb@{b.digest}", "quay.io/newcomer/bb:1"):
        with pytest.raises(ImageNotFound):
            store.get(missing)
    assert motd(store, "docker.io/newcomer/bb:1") == "from the layer\n"
    assert store.remove("docker.io/library/img:latest") == b
    assert [i.names for i in store.list()] == [("newcomer/bb:1",)]


def test_a_bare_oci_tag_gets_the_layouts_name(layer: bytes, tmp_path: Any, no_leaks: None) -> None:
    store = ImageStore(str(tmp_path / "store"))
    write_oci_layout(str(tmp_path / "bb.oci"), [layer], ref_name="latest")
    image = store.import_layout(str(tmp_path / "bb.oci"))
    assert [i.names for i in store.list()] == [("bb:latest",)]
    assert store.get("bb") == store.get("docker.io/library/bb:latest") == image
    assert motd(store, "bb") == "from the layer\n"


def test_a_name_moves_whatever_form_it_was_given_in(layer: bytes, tmp_path: Any) -> None:
    store = ImageStore(str(tmp_path / "store"))
    write_oci_layout(str(tmp_path / "one"), [layer], ref_name="docker.io/library/x:1")
    write_docker_archive(str(tmp_path / "two.tar"), [layer], config={"Cmd": ["sh"]}, tags=["x:1"])
    one = store.import_layout(str(tmp_path / "one"))
    two = store.import_archive(str(tmp_path / "two.tar"))
    assert one.digest != two.digest and store.get("library/x:1") == two
    assert {i.digest: i.names for i in store.list()} == {one.digest: (), two.digest: ("x:1",)}  # the name moved


def test_a_missing_working_dir_is_made(layer: bytes, tmp_path: Any, no_leaks: None) -> None:
    store = ImageStore(str(tmp_path / "store"))
    write_docker_archive(
        str(tmp_path / "w.tar"), [layer], config={"WorkingDir": "/srv/app/data", "Cmd": ["sh"]}, tags=["w:1"]
    )
    image = store.import_archive(str(tmp_path / "w.tar"))
    config = lc.Config.from_image(store, "w:1", cmd=["sh", "-c", "pwd; stat -c '%u %a' . /srv/app"])
    r = lc.run(config=config, capture_output=True, text=True)
    assert (r.returncode, r.stdout, r.stderr) == (0, "/srv/app/data\n0 755\n0 755\n", "")
    assert not os.path.exists(os.path.join(store.layer_path(image.layers[0]), "srv", "app"))  # the image is unchanged
    # One that exists is used as it is; cwd= is made too, as docker's -w.
    assert lc.Config.from_image(store, "w:1", cwd="/etc").rootfs.lower == store.rootfs("w:1").lower
    r = lc.run(["pwd"], config=lc.Config.from_image(store, "w:1", cwd="/made/by/w"), capture_output=True, text=True)
    assert r.stdout == "/made/by/w\n"
