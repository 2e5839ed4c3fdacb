"""linux.devices of type "p": FIFOs made with mknod(S_IFIFO), their mode
and owner as stat inside the container shows them; beside runc."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from support.configs import userns_config
from support.observe import inside
from support.oci import spec_bundle

import libcontainer_py as lc

RUNC = "/usr/sbin/runc"
STAT = "stat -c '%F %a %u:%g' /dev/pipe /dev/fuse"


def test_fifo_with_mode_and_owner(busybox: str, no_leaks: None) -> None:
    devices = lc.DEFAULT_DEVICES + (
        lc.Device.fifo("/dev/pipe", mode=0o640, uid=1000, gid=5),
        lc.Device("/dev/fuse", "c", 10, 229, 0o600, uid=7, gid=8),
    )
    config = lc.Config(rootfs=busybox, devices=devices)
    out = inside(config, f"{STAT}; (echo through > /dev/pipe &) ; cat /dev/pipe")
    assert out.splitlines() == ["fifo 640 1000:5", "character special file 600 7:8", "through"]


def test_fifo_in_a_user_namespace(busybox: str, no_leaks: None) -> None:
    """mknod of a FIFO needs no privilege: it is made (not bound from the
    host as device nodes are there), owned by a mapped id."""
    config = userns_config(
        busybox, devices=lc.DEFAULT_DEVICES + (lc.Device.fifo("/dev/pipe", mode=0o600, uid=1000, gid=1000),)
    )
    assert inside(config, "stat -c '%F %a %u:%g' /dev/pipe") == "fifo 600 1000:1000\n"


def test_fifo_as_runc(tmp_path: Path) -> None:
    devices = [
        {"path": "/dev/pipe", "type": "p", "fileMode": 0o640, "uid": 1000, "gid": 5},
        {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o600, "uid": 7, "gid": 8},
    ]
    bundle, cli = spec_bundle(tmp_path, {"args": ["sh", "-c", STAT]}, {"devices": devices})
    doc = json.loads((bundle / "config.json").read_text())
    doc["root"]["path"] = str(bundle / "rootfs")
    (bundle / "config.json").write_text(json.dumps(doc))
    outputs = []
    for argv in (
        [*cli, "run", "--bundle", str(bundle), "fifo-ours"],
        [RUNC, "--root", str(tmp_path / "runc"), "run", "--bundle", str(bundle), "fifo-runc"],
    ):
        r = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
        assert r.returncode == 0, (argv[0], r.stderr)
        outputs.append(r.stdout)
    assert outputs[0] == outputs[1] == "fifo 640 1000:5\ncharacter special file 600 7:8\n"
