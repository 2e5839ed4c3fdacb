"""User namespaces: id maps as root, and rootless containers."""

from __future__ import annotations

import ctypes
import json
import os
from typing import Any, Callable

from support.configs import userns_config
from support.observe import inside

import libcontainer_py as lc
from libcontainer_py.capabilities import DEFAULT_CAPABILITIES, mask

PR_SET_DUMPABLE = 4


def test_mapped_ids_as_root(busybox: str, no_leaks: None) -> None:
    config = userns_config(
        busybox,
        mounts=lc.Mounts.default() + [lc.Mount.tmpfs("/tmp")],
        process=lc.Process(args=["true"], user=lc.User(1000, 1000, [5, 10])),
    )
    out = inside(
        config,
        "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -G; touch /tmp/f; stat -c %u:%g /tmp/f;"
        "readlink /proc/self/ns/user",
    )
    lines = out.splitlines()
    assert lines[0].split() == ["0", "100000", "65536"]
    assert lines[1].split() == ["0", "100000", "65536"]
    assert lines[2] == "1000" and set(lines[3].split()) == {"1000", "5", "10"}
    assert lines[4] == "1000:1000"
    assert lines[5] != os.readlink("/proc/self/ns/user")


def test_root_in_user_namespace_is_not_root_outside(busybox: str, tmp_path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "rootonly").write_text("secret\n")
    os.chmod(shared / "rootonly", 0o600)
    config = userns_config(busybox, mounts=lc.Mounts.default() + [lc.Mount.bind(str(shared), "/root")])
    out = inside(config, "id -u; (cat /root/rootonly) 2>&1; grep CapEff /proc/self/status")
    assert out.splitlines()[0] == "0"
    assert "Permission denied" in out  # host root's file; container root is uid 100000 outside
    assert f"{mask(DEFAULT_CAPABILITIES):016x}" in out  # the default set, valid only inside its namespace


def in_unprivileged_child(fn: Callable[[], Any]) -> Any:
    """Run fn in a forked child that dropped to uid/gid 65534 (nobody)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            # setuid made this process non-dumpable; an unprivileged user's
            # own process is dumpable, so that its /proc files are its own.
            ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
            payload = {"ok": fn()}
        except BaseException as exc:
            payload = {"error": f"{type(exc).__name__}: {exc}"}
        os.write(w, json.dumps(payload).encode())
        os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        data = f.read()
    os.waitpid(pid, 0)
    result = json.loads(data)
    assert "error" not in result, result["error"]
    return result["ok"]


def test_rootless_container(no_leaks: None) -> None:
    def run() -> list:
        config = lc.Config(namespaces=lc.Namespaces.all(), hostname="rootless")
        r = lc.run(
            ["sh", "-c", "id -u; cat /proc/self/uid_map; hostname; echo $$; cat /dev/zero | head -c1 | wc -c"],
            config=config,
            capture_output=True,
            text=True,
            timeout=30,
        )
        return [r.returncode, r.stdout, r.stderr]

    returncode, out, err = in_unprivileged_child(run)
    assert returncode == 0, err
    lines = out.splitlines()
    assert lines[0] == "0"
    assert lines[1].split() == ["0", "65534", "1"]
    assert lines[2:] == ["rootless", "1", "1"]


def test_rootless_without_user_namespace_fails_cleanly(no_leaks: None) -> None:
    def run() -> str:
        try:
            lc.run(["true"], config=lc.Config(namespaces=lc.Namespaces(mount=True, uts=True)))
        except lc.ContainerError as exc:
            return f"{type(exc).__name__}: {exc}"
        return "no error"

    # explicit namespaces without a user namespace (the default has one for this caller)
    out = in_unprivileged_child(run)
    assert out.startswith("SpawnError: clone failed") and "namespaces.user=True" in out
