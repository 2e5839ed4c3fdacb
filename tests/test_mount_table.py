"""The mount table the cgroup layout is read from is kept open and read
again only when poll(2) says the mount namespace changed."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from libcontainer_py.cgroups import _ops


def _mounted(path: str) -> bool:
    return any(line.split()[4] == path for line in _ops._mount_table.text().splitlines())


def test_a_mount_and_an_unmount_are_seen_at_once(tmp_path: Any, monkeypatch: Any) -> None:
    reads = []
    real = _ops._read_all
    monkeypatch.setattr(_ops, "_read_all", lambda fd: reads.append(fd) or real(fd))
    target = str(tmp_path)
    assert not _mounted(target)
    subprocess.run(["mount", "-t", "tmpfs", "lcpy-table", target], check=True)
    try:
        assert _mounted(target)
        assert _ops.kept_fds() == (_ops._mount_table.fd(),) and _ops._mount_table.fd() >= 0
    finally:
        subprocess.run(["umount", target], check=True)
    assert not _mounted(target)
    count = len(reads)
    assert count >= 2  # read again after each change
    assert not _mounted(target) and not _mounted(target)
    assert len(reads) == count  # nothing changed: not read again


def test_a_new_mount_namespace_reads_its_own_table(tmp_path: Any) -> None:
    """After unshare(CLONE_NEWNS) a mount made there is seen, though the
    kept fd was opened in the first namespace; a forked child closes its
    copy of the fd."""
    script = f"""
import os, ctypes, subprocess
from libcontainer_py.cgroups import _ops
target = {str(tmp_path)!r}
def mounted():
    return any(l.split()[4] == target for l in _ops._mount_table.text().splitlines())
first = mounted()
kept = _ops._mount_table.fd()
pid = os.fork()
if pid == 0:
    os._exit(0 if _ops._mount_table.fd() == -1 and not os.path.exists(f"/proc/self/fd/{{kept}}") else 1)
_, status = os.waitpid(pid, 0)
libc = ctypes.CDLL(None, use_errno=True)
assert libc.unshare(0x00020000) == 0  # CLONE_NEWNS
subprocess.run(["mount", "--make-rprivate", "/"], check=True)
subprocess.run(["mount", "-t", "tmpfs", "lcpy-ns", target], check=True)
print(first, os.waitstatus_to_exitcode(status), mounted())
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "0", "True"]
    assert not _mounted(str(tmp_path))  # the host's namespace never saw it
