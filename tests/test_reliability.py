"""Reliability: limits that cannot work fail loudly, a container never
outlives the process that runs it attached, and its creator's secrets stay
out of it.  Each test asserts on what the kernel shows and counts what is
left behind."""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import time
import uuid
from typing import Any, List, Tuple

import pytest

import libcontainer_py as lc
from libcontainer_py._statedir import process_start_time

# -- memory limits too small to start -------------------------------------------------------


@pytest.mark.parametrize("value", [64, 4096, 65536, (1 << 20) - 1])
def test_a_memory_limit_below_the_floor_is_refused(value: int) -> None:
    with pytest.raises(lc.ConfigError, match=r"memory\.max: .* below the 1048576 bytes") as info:
        lc.Memory(max=value)
    assert info.value.field == "memory.max" and f"'{value}M'" in str(info.value)
    assert lc.Memory(max="64M").max == 64 << 20 and lc.Memory(max=lc.UNLIMITED).max == lc.UNLIMITED


def test_a_limit_too_small_for_the_set_up_is_a_typed_error(no_leaks: None) -> None:
    """Thousands of tmpfs mounts do not fit in 1 MiB: the mount that hits
    the limit fails, and the error says the memory limit is why."""
    mounts = lc.Mounts.default() + [lc.Mount.tmpfs(f"/tmp/m{i}") for i in range(3000)]
    config = lc.Config(mounts=mounts, cgroup=lc.CgroupConfig(memory=lc.Memory(max="1M")))
    with pytest.raises(lc.StepError, match=r"reached its memory limit \(memory.max = 1048576 bytes\)"):
        lc.run(["true"], config=config)


def test_a_limit_too_small_for_the_program_is_an_oom_kill(no_leaks: None) -> None:
    """The set-up fits, the program's 8 MiB buffer does not: an OOM kill
    that CompletedProcess reports, not an exit status to guess from."""
    config = lc.Config(cgroup=lc.CgroupConfig(memory=lc.Memory(max="1M", swap_max=0)))
    r = lc.run(["dd", "if=/dev/zero", "of=/dev/null", "bs=8M", "count=1"], config=config, capture_output=True)
    assert r.returncode == -9 and r.oom_killed and r.stdout == b""


def test_a_failure_the_sync_socket_cannot_carry_is_still_reported(no_leaks: None) -> None:
    """Below the floor (forced past the check here) the child cannot even
    allocate the socket buffer of its error record; the shared page still
    carries it: a typed error, never a silent exit status 127."""
    memory = lc.Memory(max="1M")
    object.__setattr__(memory, "max", 64 << 10)  # what the floor refuses
    config = lc.Config(cgroup=lc.CgroupConfig(memory=memory))
    with pytest.raises(lc.StepError, match="memory limit") as info:
        lc.run(["echo", "never"], config=config, capture_output=True)
    assert info.value.errno != 0 and info.value.index >= 0


# -- attached containers die with their owner --------------------------------------------------

OWNER = r"""
import sys, threading, time
import libcontainer_py as lc

cid, where = sys.argv[1], sys.argv[2]
config = lc.Config(cgroup=lc.CgroupConfig(pids=lc.Pids(max=32)), process=lc.Process(args=["sleep", "300"]))

def start():
    return lc.ContainerProcess(config, container_id=cid)

if where == "thread":          # started from a worker thread that then ends
    box = []
    t = threading.Thread(target=lambda: box.append(start()))
    t.start(); t.join()
    proc = box[0]
elif where == "detached":      # Container.create/start: outlives its creator
    proc = lc.Container.create(cid, config)
    proc.start()
else:
    proc = start()
print(proc.pid, flush=True)
time.sleep(300)
"""


def _start_owner(tmp_path: Any, cid: str, where: str) -> Tuple[subprocess.Popen, int]:
    script = tmp_path / "owner.py"
    script.write_text(OWNER)
    owner = subprocess.Popen([sys.executable, str(script), cid, where], stdout=subprocess.PIPE, text=True)
    assert owner.stdout is not None
    pid = int(owner.stdout.readline())
    return owner, pid


def _gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process_start_time(pid) is None:
            return True
        time.sleep(0.01)
    return False


def _cgroups_of(cid: str) -> List[str]:
    return glob.glob(f"/sys/fs/cgroup/*/libcontainer_py/{cid}") + glob.glob(f"/sys/fs/cgroup/libcontainer_py/{cid}")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
@pytest.mark.parametrize("where", ["main", "thread"])
def test_an_attached_container_dies_with_its_owner(tmp_path: Any, sig: int, where: str, no_leaks: None) -> None:
    cid = f"owner-{where}-{sig}-{uuid.uuid4().hex[:6]}"
    owner, pid = _start_owner(tmp_path, cid, where)
    try:
        time.sleep(0.3)  # a worker thread that started it has ended by now
        assert process_start_time(pid) is not None, "the container died with the thread, not the process"
        assert _cgroups_of(cid)
        owner.send_signal(sig)
        owner.wait(10)
        assert _gone(pid), "the container outlived its owner"
        # Its cgroup stayed (nobody was left to remove it) and is reclaimed by
        # the next container started on the same state root: the id is free.
        assert _cgroups_of(cid)
        assert lc.run(["true"], container_id=cid, config=lc.Config(cgroup=lc.CgroupConfig())).returncode == 0
        assert _cgroups_of(cid) == [] and not os.path.exists(f"/run/libcontainer-py/.owned/{cid}")
    finally:
        owner.kill()
        owner.wait()
        owner.stdout.close()  # type: ignore[union-attr]


def test_a_detached_container_outlives_its_creator(tmp_path: Any, no_leaks: None) -> None:
    cid = f"owner-detached-{uuid.uuid4().hex[:6]}"
    owner, pid = _start_owner(tmp_path, cid, "detached")
    try:
        owner.kill()
        owner.wait(10)
        time.sleep(0.3)
        assert process_start_time(pid) is not None
        lc.run(["true"])  # reclaiming leaves a detached container alone
        assert process_start_time(pid) is not None
    finally:
        owner.kill()
        owner.wait()
        owner.stdout.close()  # type: ignore[union-attr]
        lc.Container.load(cid).destroy()
    assert _gone(pid) and _cgroups_of(cid) == []


# -- the init hides its creator ------------------------------------------------------------------

INIT_CREATOR = r"""
import sys
import libcontainer_py as lc

# With every capability the reader may read PID 1's environ (it is not
# dumpable): what it shows must be blank, not merely unreadable.
config = lc.Config(
    process=lc.Process(
        args=["sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline; echo; tr '\\0' ' ' < /proc/1/environ; echo"],
        init=True,
        capabilities=lc.Capabilities.all(),
    ),
)
r = lc.run(config=config, capture_output=True, text=True)
sys.stdout.write(r.stdout + r.stderr)
"""


def test_the_init_shows_neither_argv_nor_environment_of_its_creator(tmp_path: Any, no_leaks: None) -> None:
    script = tmp_path / "creator.py"
    script.write_text(INIT_CREATOR)
    env = {**os.environ, "CREATOR_SECRET": "env-secret-value"}
    out = subprocess.run(
        [sys.executable, str(script), "argv-secret-value"], env=env, capture_output=True, text=True, timeout=60
    ).stdout
    cmdline, environ = out.split("\n")[:2]
    assert cmdline.strip() == "init", out
    assert environ.strip() == "", out
    assert "secret-value" not in out and "creator.py" not in out


def test_reclaiming_takes_only_dead_owners_records(tmp_path: Any) -> None:
    """Records of live owners stay; a dead owner's record, and the claim a
    dead reclaimer left half-way, are reclaimed once."""
    from libcontainer_py import _owners

    root = str(tmp_path)
    owned = tmp_path / _owners.OWNED
    owned.mkdir()
    me = f"{os.getpid()}-{process_start_time(os.getpid())}"
    os.symlink(f"{me} /libcontainer_py/live", owned / "live")
    os.symlink("999999999-1 /libcontainer_py/dead-owner", owned / "dead")
    os.symlink("999999997-1 /libcontainer_py/half", owned / "half.claim-999999998-1")
    os.symlink("999999996-1 /libcontainer_py/busy", owned / ("busy.claim-" + me))
    # links to owners' files (records of default cgroup paths): a dead owner's
    # file and record go, a live owner's stay
    (owned / ".owner-999999995-1").write_text("999999995-1")
    os.link(owned / ".owner-999999995-1", owned / "linked")
    (owned / f".owner-{me}").write_text(me)
    os.link(owned / f".owner-{me}", owned / "live-linked")
    assert sorted(_owners.reclaim(root)) == ["dead", "half", "linked"]
    assert sorted(os.listdir(owned)) == [f".owner-{me}", "busy.claim-" + me, "live", "live-linked"]
    assert _owners.reclaim(root) == []


def test_a_default_cgroup_is_recorded_as_a_link_to_the_owners_file(tmp_path: Any) -> None:
    """A record of a default cgroup path makes no inode of its own: it is a
    hard link to the owner's file, which holds the owner; the file goes at
    the owner's exit.  A custom path is a symlink naming it."""
    script = f"""
import os, sys
from libcontainer_py import _owners
root = {str(tmp_path)!r}
owned = os.path.join(root, _owners.OWNED)
a = _owners.record(root, "a", "libcontainer_py/a")
b = _owners.record(root, "b", "custom/place")
assert _owners.record(root, "a", "libcontainer_py/a") is None  # the id is taken
mine = os.path.join(owned, ".owner-" + _owners.me())
st, own = os.lstat(a), os.lstat(mine)
print(st.st_ino == own.st_ino, st.st_nlink, open(a).read() == _owners.me())
print(os.readlink(b) == _owners.me() + " custom/place")
print(_owners._read(a, "a") == (_owners.me(), "libcontainer_py/a"))
_owners.forget(a)
_owners.forget(b)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "2", "True", "True", "True"]
    assert os.listdir(tmp_path / ".owned") == []  # records forgotten, the owner's file gone at exit
