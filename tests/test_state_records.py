"""The records under the state root: many listed at once, containers made and
removed while others list them, a torn record or config file, a record of
an older version (the config inside it), the hooks a record names for the
command line, and what the owner keeps in memory per live container."""

from __future__ import annotations

import errno
import gc
import json
import os
import subprocess
import sys
import threading
import tracemalloc
from typing import Any, List

import attrs
import pytest

import libcontainer_py as lc
from libcontainer_py._statedir import INTENT_XATTR
from libcontainer_py.serialize import config_to_dict
from libcontainer_py.state import State, write_intent_state, write_state

STATUSES = {"creating", "created", "running", "paused", "stopped"}


@pytest.fixture
def root(tmp_path: Any) -> Any:
    path = str(tmp_path / "state")
    yield path
    assert not os.path.exists(path) or os.listdir(path) == []


def sleeping(**config: Any) -> lc.Config:
    """``sleep 30`` on the host's directories, with lc.Config's defaults."""
    return lc.Config(process=lc.Process(args=["sleep", "30"]), **config)


def cli(root: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "libcontainer_py", "--root", root, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


def cmdline(pid: int) -> List[bytes]:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().split(b"\0")[:-1]


def test_list_shows_every_one_of_many_records(root: str) -> None:
    live = [lc.Container.create(f"live-{i}", sleeping(), root=root) for i in range(3)]
    gone = [f"gone-{i:03}" for i in range(400)]
    try:
        for c in live:
            c.start()
        for cid in gone:  # records of containers whose process is gone (its pid is another's now)
            os.makedirs(os.path.join(root, cid))
            write_state(root, State(id=cid, pid=live[0].pid, pid_start=1, created="2026-01-01T00:00:00+00:00"))
        listed = {c.id: c for c in lc.Container.list(root=root)}
        assert sorted(listed) == sorted(gone + [c.id for c in live])
        for c in live:
            assert cmdline(listed[c.id].pid) == [b"sleep", b"30"]  # the kernel's process of that container
            assert listed[c.id].status() == "running"
            assert listed[c.id].config == c.config  # the config's own file, read when asked
        assert {listed[cid].status() for cid in gone} == {"stopped"}
    finally:
        for c in lc.Container.list(root=root):
            c.destroy()
        for c in live:
            c.destroy()


def test_list_while_containers_are_made_and_removed(root: str) -> None:
    """Containers made and destroyed while another thread lists: every list
    succeeds and shows each container with a status; none is left."""
    done = threading.Event()
    failed: List[BaseException] = []

    def churn() -> None:
        try:
            for i in range(12):
                with lc.Container.create(f"churn-{i}", sleeping(), root=root) as c:
                    c.start()
        except BaseException as exc:  # pragma: no cover - reported below
            failed.append(exc)
        finally:
            done.set()

    worker = threading.Thread(target=churn)
    worker.start()
    lists = 0
    try:
        while not done.is_set() or lists == 0:
            for c in lc.Container.list(root=root):
                assert c.id.startswith("churn-") and c.status() in STATUSES
            lists += 1
    finally:
        worker.join()
    assert not failed, failed
    assert lc.Container.list(root=root) == []


def test_a_torn_record_is_never_read_as_valid(root: str, monkeypatch: pytest.MonkeyPatch) -> None:
    c = lc.Container.create("torn", sleeping(), root=root)
    directory = os.path.join(root, "torn")
    try:
        path = os.path.join(directory, "state.json")
        with open(path, "rb") as f:
            whole = f.read()
        # A writer that fails half-way leaves its temp file; the record is the old one.
        real_write = os.write

        def half(fd: int, data: Any) -> int:
            real_write(fd, bytes(data[: len(data) // 2]))
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(os, "write", half)
        with pytest.raises(OSError):
            write_state(root, attrs.evolve(c.stored_state, pid=1))
        monkeypatch.undo()
        with open(path, "rb") as f:
            assert f.read() == whole
        assert lc.Container.load("torn", root=root).pid == c.pid

        # Torn another way (a crash before the page cache reached the disk):
        # unreadable, never valid: load raises, list and the command line skip it.
        with open(path, "wb") as f:
            f.write(whole[: len(whole) // 2])
        with pytest.raises(lc.ContainerError, match="cannot read the state"):
            lc.Container.load("torn", root=root)
        assert lc.Container.list(root=root) == []
        r = cli(root, "list", "--format", "json")
        assert r.returncode == 0 and json.loads(r.stdout or "null") in (None, []), r
        assert r.stderr.startswith("load container torn: "), r  # runc's words

        # A torn config file: the container is managed, but cannot be exec'd into.
        with open(path, "wb") as f:
            f.write(whole)
        config_path = os.path.join(directory, "config.json")
        with open(config_path, "rb") as f:
            document = f.read()
        with open(config_path, "wb") as f:
            f.write(document[: len(document) // 2])
        loaded = lc.Container.load("torn", root=root)
        assert loaded.status() == "created" and loaded.config is None
        with pytest.raises(lc.ContainerError, match="needs its config"):
            loaded.exec(["true"])
        loaded.destroy()
        assert c.process is not None and c.process.wait(10) is not None
    finally:
        c.destroy()
    assert not os.path.exists(directory)


def test_the_intent_is_an_attribute_of_the_directory(root: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # What a creator killed after its intent leaves: no file, the record on
    # the directory, read as "creating" with the cgroup destroy() removes.
    os.makedirs(os.path.join(root, "intent"))
    intent = State(id="intent", pid=0, pid_start=0, created="x", cgroup_path="libcontainer_py/intent-x")
    write_intent_state(root, intent)
    directory = os.path.join(root, "intent")
    assert os.listdir(directory) == []
    assert json.loads(os.getxattr(directory, INTENT_XATTR))["cgroup_path"] == "libcontainer_py/intent-x"
    [found] = lc.Container.list(root=root)
    assert (found.id, found.pid, found.status(), found.stored_state.cgroup_path) == (
        "intent",
        0,
        "creating",
        "libcontainer_py/intent-x",
    )
    found.destroy()
    assert not os.path.exists(directory)

    # A created container: the full record is the file, which wins; the
    # intent stays on the directory until destroy() removes both.
    c = lc.Container.create("full", sleeping(), root=root)
    try:
        directory = os.path.join(root, "full")
        assert sorted(os.listdir(directory)) == ["config.json", "start.sock", "state.json"]
        assert json.loads(os.getxattr(directory, INTENT_XATTR))["pid"] == 0
        assert lc.Container.load("full", root=root).pid == c.pid > 0
    finally:
        c.destroy()

    # A file system without user xattrs (tmpfs before Linux 6.6): the intent
    # is the record file.
    def refused(*args: Any) -> None:
        raise OSError(errno.EOPNOTSUPP, os.strerror(errno.EOPNOTSUPP))

    os.makedirs(os.path.join(root, "nox"))
    monkeypatch.setattr(os, "setxattr", refused)
    write_intent_state(root, attrs.evolve(intent, id="nox"))
    monkeypatch.undo()
    with open(os.path.join(root, "nox", "state.json")) as f:
        assert json.load(f)["cgroup_path"] == "libcontainer_py/intent-x"
    with pytest.raises(OSError):
        os.getxattr(os.path.join(root, "nox"), INTENT_XATTR)
    lc.Container.load("nox", root=root).destroy()


def test_containers_of_one_config_share_its_file(root: str) -> None:
    config = sleeping()
    made = [lc.Container.create(f"share-{i}", config, root=root) for i in range(3)]
    try:
        paths = [os.path.join(root, f"share-{i}", "config.json") for i in range(4)]
        stats = [os.stat(p) for p in paths[:3]]
        assert {s.st_ino for s in stats} == {stats[0].st_ino} and stats[0].st_nlink == 3  # links, not files
        with open(paths[0], "rb") as f:
            document = f.read()
        made[1].destroy()
        assert os.stat(paths[0]).st_nlink == 2
        assert lc.Container.load("share-2", root=root).config == config

        # The file linked from replaced by another container's (its id reused
        # by another process, with another config): not linked, written.
        os.unlink(paths[0])
        with open(paths[0], "wb") as f:
            f.write(document.replace(b'"sleep"', b'"other"'))
        made.append(lc.Container.create("share-3", config, root=root))
        assert os.stat(paths[3]).st_ino not in (os.stat(paths[0]).st_ino, stats[0].st_ino)
        with open(paths[3], "rb") as f:
            assert f.read() == document
        assert lc.Container.load("share-3", root=root).config == config
    finally:
        for c in made:
            c.destroy()


def _dir_flags(path: str) -> int:
    import fcntl
    import struct

    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        buf = bytearray(4)
        fcntl.ioctl(fd, 0x80086601, buf, True)  # FS_IOC_GETFLAGS
        return int(struct.unpack("i", buf)[0])
    finally:
        os.close(fd)


def test_a_root_made_by_create_spreads_its_containers(tmp_path: Any) -> None:
    # tmp_path is on the root file system, an ext4 here: a root the library
    # makes is the top of a hierarchy (chattr +T), one made before is left as it is.
    fstype = subprocess.run(["stat", "-f", "-c", "%T", str(tmp_path)], capture_output=True, text=True).stdout
    assert fstype == "ext2/ext3\n"
    made, existing = str(tmp_path / "made"), str(tmp_path / "existing")
    os.mkdir(existing)
    for root in (made, existing):
        lc.Container.create("spread", sleeping(), root=root).destroy()
    assert _dir_flags(made) & 0x00020000  # FS_TOPDIR_FL
    assert not _dir_flags(existing) & 0x00020000
    assert "T" in subprocess.run(["lsattr", "-d", made], capture_output=True, text=True).stdout.split()[0]


def test_a_record_of_an_older_version_still_loads(root: str, tmp_path: Any) -> None:
    """A record with the config inside (before the config had its own file,
    and before ``hook_phases``): loaded, exec'd into, its hooks run, deleted."""
    log = tmp_path / "log"
    poststop = lc.Hook("/bin/sh", args=["sh", "-c", f"echo poststop >> {log}"])
    config = sleeping(hostname="older", hooks=lc.Hooks(poststop=[poststop]))
    c = lc.Container.create("older", config, root=root)
    directory = os.path.join(root, "older")
    try:
        c.start()
        with open(os.path.join(directory, "state.json")) as f:
            record = json.load(f)
        del record["hook_phases"]
        record["config"] = config_to_dict(config)
        os.unlink(os.path.join(directory, "config.json"))
        with open(os.path.join(directory, "state.json"), "w") as f:
            json.dump(record, f, indent=2)

        loaded = lc.Container.load("older", root=root)
        assert loaded.status() == "running" and loaded.config == config
        p = loaded.exec(["cat", "/proc/sys/kernel/hostname"], stdout=lc.PIPE, text=True)
        assert p.communicate(timeout=10)[0] == "older\n"
        r = cli(root, "state", "older")
        assert r.returncode == 0 and json.loads(r.stdout)["pid"] == c.pid, r
        # The command line sees the hook in the old record's config, and runs it.
        r = cli(root, "delete", "--force", "older")
        assert r.returncode == 0, r
        assert log.read_text() == "poststop\n"
        assert not os.path.exists(directory) and c.process is not None and c.process.wait(10) is not None
    finally:
        c.destroy()
    assert log.read_text() == "poststop\n"  # once: whoever removed the record ran it


def test_the_command_line_runs_the_hooks_the_record_names(root: str, tmp_path: Any) -> None:
    """The command line's light start and delete read no config: the record's
    ``hook_phases`` send them to the library, which runs the hooks."""
    log = tmp_path / "log"

    def hook(phase: str) -> lc.Hook:
        return lc.Hook("/bin/sh", args=["sh", "-c", f"echo {phase} >> {log}"])

    config = sleeping(hooks=lc.Hooks(poststart=[hook("poststart")], poststop=[hook("poststop")]))
    c = lc.Container.create("hooked", config, root=root)
    try:
        assert c.stored_state.hook_phases == ("poststart", "poststop")
        r = cli(root, "start", "hooked")
        assert r.returncode == 0, r
        assert cmdline(c.pid) == [b"sleep", b"30"]
        r = cli(root, "delete", "--force", "hooked")
        assert r.returncode == 0, r
        assert log.read_text().split() == ["poststart", "poststop"]
    finally:
        c.destroy()


def test_the_owner_keeps_little_per_live_container(root: str) -> None:
    """The Python heap the owner keeps per created and started container it
    holds on to: not the config's document nor the plan's steps (~25 KiB
    together), which the record's file and the started child no longer need."""
    config = sleeping()
    warm = lc.Container.create("mem-warm", config, root=root)
    warm.start()
    warm.destroy()
    kept: List[lc.Container] = []
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(20):
            c = lc.Container.create(f"mem-{i}", config, root=root)
            kept.append(c)
            c.start()
        gc.collect()
        per_container = (tracemalloc.get_traced_memory()[0] - before) / len(kept)
        tracemalloc.stop()
        assert all(cmdline(c.pid) == [b"sleep", b"30"] for c in kept)  # all live meanwhile
    finally:
        tracemalloc.stop()
        for c in kept:
            c.destroy()
    assert per_container <= 16 * 1024, per_container
