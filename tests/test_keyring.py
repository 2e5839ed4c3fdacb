"""A container's session keyring: the command line makes each container's
processes join ``_ses.<id>`` (not the caller's keyring), as runc does, and
``--no-new-keyring`` keeps the caller's; the library's
``Process.session_keyring`` names one.  What the keyring is, is asked of the
kernel from inside (a static helper: ``keyctl`` GET_KEYRING_ID of the
session keyring, then DESCRIBE: ``type;uid;gid;perm;name``)."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest
from support.busybox import make_rootfs
from test_cli import Cli, cli, runc

import libcontainer_py as lc

__all__ = ["cli", "runc"]  # test_cli.py's fixtures (cli uses this module's rootfs)

SHOW_KEYRING_C = r"""
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void) {
    char buf[512];
    long id = syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -3 /* KEY_SPEC_SESSION_KEYRING */, 0);
    long n = id < 0 ? -1 : syscall(SYS_keyctl, 6 /* DESCRIBE */, id, buf, sizeof buf - 1);
    if (n < 0) { perror("keyctl"); return 1; }
    buf[n < (long)sizeof buf ? n : (long)sizeof buf - 1] = 0;
    printf("%s\n", buf);
    return 0;
}
"""


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: Any) -> str:
    """busybox and /bin/show-keyring."""
    root = make_rootfs(str(tmp_path_factory.mktemp("keyring-rootfs") / "rootfs"))
    source = tmp_path_factory.mktemp("keyring-src") / "show.c"
    source.write_text(SHOW_KEYRING_C)
    subprocess.run(["gcc", "-static", "-O2", "-o", os.path.join(root, "bin", "show-keyring"), str(source)], check=True)
    return root


def callers_keyring(rootfs: str) -> str:
    """The session keyring of this process (inherited by the helper run here)."""
    return subprocess.run([os.path.join(rootfs, "bin", "show-keyring")], capture_output=True, text=True).stdout


def test_each_container_joins_its_own_keyring_as_with_runc(cli: Cli, runc: Any, rootfs: str) -> None:
    cli.config(["/bin/show-keyring"])
    path = os.path.join(cli.bundle, "config.json")
    with open(path) as f:
        doc = json.load(f)
    doc["root"]["path"] = rootfs  # runc refuses a root reached through a symlink
    with open(path, "w") as f:
        json.dump(doc, f)
    runs = (("--bundle", cli.bundle, "kr-a"), ("--no-new-keyring", "--bundle", cli.bundle, "kr-b"))
    ours = [cli("run", *args) for args in runs]
    theirs = [runc("run", *args) for args in runs]
    assert [r.stdout for r in ours] == [r.stdout for r in theirs], (ours, theirs)
    assert ours[0].stdout == "keyring;0;0;3f1b0000;_ses.kr-a\n", ours  # searchable by its user
    assert ours[1].stdout == callers_keyring(rootfs) != ours[0].stdout


def test_an_exec_joins_the_containers_keyring(cli: Cli) -> None:
    cli.config(["sleep", "60"])
    assert cli("run", "--detach", "--bundle", cli.bundle, "kr-exec").returncode == 0
    try:
        for _ in range(2):  # the library's path, then the saved plan
            r = cli("exec", "kr-exec", "/bin/show-keyring")
            assert (r.returncode, r.stdout) == (0, "keyring;0;0;3f1b0000;_ses.kr-exec\n"), r
    finally:
        assert cli("delete", "--force", "kr-exec").returncode == 0


def _keyring_of(rootfs: str, **changes: Any) -> str:
    process = lc.Process(args=["/bin/show-keyring"], **changes.pop("process", {}))
    config = lc.Config(rootfs=rootfs, process=process, seccomp=None, **changes)
    return lc.run(config=config, capture_output=True, text=True, check=True).stdout


def test_the_librarys_session_keyring(rootfs: str) -> None:
    assert _keyring_of(rootfs) == callers_keyring(rootfs)  # by default: the caller's
    assert _keyring_of(rootfs, process={"session_keyring": "box-1"}) == "keyring;0;0;3f1b0000;box-1\n"
    # In a user namespace the keyring is searchable by "others" (the
    # process's ids are not the keyring's), as runc makes it.
    described = _keyring_of(rootfs, namespaces=lc.Namespaces.all(), process={"session_keyring": "box-2"})
    perm = int(described.split(";")[3], 16)
    assert described.endswith(";box-2\n") and perm & 0x8 and not perm & 0x80000, described


def test_the_default_seccomp_profile_refuses_keyctl(rootfs: str) -> None:
    """Without a keyring of its own, a container with the defaults still
    cannot reach its caller's: keyctl is not in the default profile."""
    config = lc.Config(rootfs=rootfs, process=lc.Process(args=["/bin/show-keyring"]))
    r = lc.run(config=config, capture_output=True, text=True)
    assert r.returncode == 1 and "keyctl: Operation not permitted" in r.stderr, r


@pytest.mark.parametrize("name", ["", ".hidden", "a\0b", 7])
def test_bad_keyring_names_are_refused(name: Any) -> None:
    with pytest.raises(lc.ConfigError) as info:
        lc.Process(args=["true"], session_keyring=name)
    assert info.value.field == "process.session_keyring"
