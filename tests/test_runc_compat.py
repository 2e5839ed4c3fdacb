"""Behaviours engines and runc users rely on (issue: runc compatibility),
each run on both runtimes with the same bundle and compared, asserting on
what the container shows."""

from __future__ import annotations

import errno
import os
import shutil
from typing import Any, Dict

import pytest
from test_cli import rootfs
from test_cli_features import Tools, tools

import libcontainer_py as lc

__all__ = ["rootfs", "tools"]


def _private_dir(root: str, name: str) -> str:
    path = os.path.join(root, name)
    os.makedirs(path, exist_ok=True)
    os.chmod(path, 0o700)
    os.chown(path, 0, 0)
    return "/" + name


# -- the working directory ----------------------------------------------------------------------


def test_a_cwd_only_the_runtime_can_enter_works_as_runc(tools: Tools, rootfs: str) -> None:
    """runc enters process.cwd before it drops privileges: a directory the
    user may not search still becomes the cwd, and the program runs there."""
    cwd = _private_dir(rootfs, "private-cwd")
    tools.ours.config(
        ["sh", "-c", "pwd; id -u; ls . >/dev/null 2>&1 || echo cannot-list"], user={"uid": 1000, "gid": 1000}, cwd=cwd
    )
    outputs = tools.outputs("cwd")
    assert outputs[0] == outputs[1] == f"{cwd}\n1000\ncannot-list\n"


def test_library_cwd_is_entered_before_the_user_changes(busybox: str, no_leaks: None) -> None:
    cwd = _private_dir(busybox, "private-cwd")
    process = lc.Process(args=["pwd"], cwd=cwd, user=lc.User(uid=1000, gid=1000))
    r = lc.run(config=lc.Config(rootfs=busybox, process=process), capture_output=True, text=True, timeout=10)
    assert r.stdout == f"{cwd}\n"
    missing = lc.Process(args=["pwd"], cwd="/no/such/dir", user=lc.User(uid=1000, gid=1000))
    with pytest.raises(lc.CwdError) as info:
        lc.run(config=lc.Config(rootfs=busybox, process=missing), timeout=10)
    assert info.value.errno == errno.ENOENT and info.value.path == "/no/such/dir"


# -- a working directory the root lacks -----------------------------------------------------------


def test_a_missing_cwd_is_made_as_runc(tools: Tools, rootfs: str) -> None:
    """runc makes process.cwd when the root lacks it (mode 0755, root's),
    read-only root or not; ctr run --cwd and a pod's workingDir count on it.
    A file in the way fails both."""
    tools.ours.config(["sh", "-c", "pwd; stat -c '%n %a %u:%g' /made /made/here"], cwd="/made/here")
    for readonly in (True, False):
        tools.edit(lambda doc, ro=readonly: doc["root"].update(readonly=ro))
        outputs = []
        for tool, cid in tools.both(f"cwd{int(readonly)}"):
            r = tool("run", "-b", tools.bundle, cid)
            tool("delete", "--force", cid)
            assert r.returncode == 0, r
            outputs.append(r.stdout)
            shutil.rmtree(os.path.join(rootfs, "made"))
        assert outputs[0] == outputs[1] == "/made/here\n/made 755 0:0\n/made/here 755 0:0\n", outputs
    tools.edit(lambda doc: doc["process"].update(cwd="/bin/sh/here"))
    for tool, cid in tools.both("cwdfile"):
        r = tool("run", "-b", tools.bundle, cid)
        tool("delete", "--force", cid)
        assert r.returncode != 0 and "not a directory" in r.stderr.lower(), r


# -- capabilities this runtime does not know -----------------------------------------------------


def test_unknown_capabilities_are_ignored_with_a_warning_as_runc(tools: Tools) -> None:
    """runtime-spec 1.1: a capability that cannot be mapped is logged as a
    warning, and the runtime should not fail (an engine may know newer ones
    than the runtime); runc ignores them with a warning.  The container gets
    the known ones."""
    tools.ours.config(["sh", "-c", "grep CapBnd /proc/self/status"])

    def with_future(doc: Dict[str, Any]) -> None:
        doc["ociVersion"] = "1.1.0"
        caps = doc["process"]["capabilities"]
        caps["bounding"] = [*caps["bounding"], "CAP_FUTURE"]

    tools.edit(with_future)
    seen = []
    for tool, cid in tools.both("capfuture"):
        r = tool("run", "-b", tools.bundle, cid)
        tool("delete", "--force", cid)
        assert r.returncode == 0 and "CAP_FUTURE" in r.stderr, r
        seen.append(r.stdout)
    assert seen[0] == seen[1] and seen[0].startswith("CapBnd:"), seen


# -- the hostname ---------------------------------------------------------------------------------


def test_no_hostname_in_config_json_keeps_the_hosts_as_runc(tools: Tools) -> None:
    """runc sets no hostname when config.json has none (or ""): the new uts
    namespace keeps its copy of the host's names (ctr run writes no
    hostname).  A given one is set, by both."""
    with open("/proc/sys/kernel/domainname") as f:
        host = f"{os.uname().nodename}\n{f.read()}"
    tools.ours.config(["sh", "-c", "hostname; cat /proc/sys/kernel/domainname"])
    for value in (None, ""):
        tools.edit(lambda doc, v=value: doc.pop("hostname", None) if v is None else doc.update(hostname=v))
        outputs = tools.outputs(f"nohost{0 if value is None else 1}")
        assert outputs[0] == outputs[1] == host
    tools.edit(lambda doc: doc.update(hostname="given"))
    outputs = tools.outputs("hostgiven")
    assert outputs[0] == outputs[1] and outputs[0].startswith("given\n")


# -- createContainer hooks ------------------------------------------------------------------------

HOOK_MOUNT = "mount -t tmpfs -o size=1m hooktmp tmp && echo made-by-hook > tmp/hook-file"


def test_create_container_hooks_change_what_the_container_sees(tools: Tools) -> None:
    """As runc: the hook runs in the container's mount namespace with the
    rootfs as its working directory, after the mounts and before
    pivot_root; what it mounts there is the container's."""
    tools.ours.config(["sh", "-c", "cat /tmp/hook-file; grep -c ' /tmp .* hooktmp ' /proc/self/mountinfo"])
    hook = {"path": "/bin/sh", "args": ["sh", "-c", HOOK_MOUNT], "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]}
    tools.edit(lambda doc: doc.update(hooks={"createContainer": [hook]}))
    outputs = tools.outputs("cchook")
    assert outputs[0] == outputs[1] == "made-by-hook\n1\n"


def test_a_create_container_hook_cannot_undo_a_masked_path(busybox: str, tmp_path: Any, no_leaks: None) -> None:
    """Masked and read-only paths are applied after the hooks (runc applies
    them after pivot_root): a writable tmpfs a hook mounts on /proc/acpi is
    masked over, read-only.  The hook's working directory is the root."""
    hook = lc.Hook(
        "/bin/sh",
        args=["sh", "-c", 'mount -t tmpfs -o size=1m unmask proc/acpi && pwd > "$OUT"'],
        env=[f"OUT={tmp_path / 'cwd'}", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
    )
    config = lc.Config(
        rootfs=busybox,
        hooks=lc.Hooks(create_container=[hook]),
        process=lc.Process(args=["sh", "-c", "touch /proc/acpi/x 2>/dev/null && echo unmasked || echo masked"]),
    )
    with lc.Container.create(f"cchook-{os.getpid()}", config, root=str(tmp_path / "state"), stdout=lc.PIPE) as c:
        c.start()
        assert c.wait(10) == 0
        assert c.process is not None and c.process.stdout is not None
        assert c.process.stdout.read() == b"masked\n"
    assert (tmp_path / "cwd").read_text().strip() == os.path.realpath(busybox)
