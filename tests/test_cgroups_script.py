"""cgroups.script on this host's hierarchies: a manager's create and apply
recorded (Recorder), done again for another cgroup (Replay) -- the same
directories in every hierarchy, the same limit files, the same device
program -- and a replay that meets a host answering otherwise stops
(ScriptDiverged) and takes back what it made, and nothing else."""

from __future__ import annotations

import glob
import os
import uuid
from typing import Dict, List

import pytest

from libcontainer_py.cgroups import CgroupConfig, CgroupError, Devices, Memory, Pids, detect, new_manager
from libcontainer_py.cgroups.script import Recorder, Replay, ScriptDiverged

PARENT = "lcpy_script_test"
CONFIG = CgroupConfig(memory=Memory(max="64M"), pids=Pids(max=77), devices=Devices.default())
#: Files of what a cgroup was set up with (those this host has).
SETTINGS = (
    "pids.max",
    "memory.max",
    "memory.limit_in_bytes",
    "devices.list",
    "cpuset.cpus",
    "cpuset.mems",
    "cgroup.subtree_control",
    "cgroup.type",
)


def _dirs(name: str) -> List[str]:
    return sorted(glob.glob(f"/sys/fs/cgroup/{PARENT}/{name}") + glob.glob(f"/sys/fs/cgroup/*/{PARENT}/{name}"))


def _settings(name: str) -> Dict[str, Dict[str, str]]:
    out = {}
    for d in _dirs(name):
        files = {}
        for f in SETTINGS:
            if os.path.exists(os.path.join(d, f)):
                with open(os.path.join(d, f)) as fh:
                    files[f] = fh.read()
        out[d.replace(name, "<name>")] = files
    return out


@pytest.fixture
def names() -> List[str]:
    made = [f"s-{uuid.uuid4().hex[:12]}" for _ in range(3)]
    # The first one makes the shared parent: the others' scripts find it.
    new_manager(f"{PARENT}/{made[0]}", detect()).create()
    yield made[1:]
    for name in made[:3]:
        for d in _dirs(name):
            os.rmdir(d)
    for d in sorted(glob.glob(f"/sys/fs/cgroup/{PARENT}") + glob.glob(f"/sys/fs/cgroup/*/{PARENT}")):
        try:
            os.rmdir(d)
        except OSError:
            pass


def _recorded(name: str) -> Recorder:
    """The manager's create and apply of ``name``, recorded."""
    recorder = Recorder()
    manager = new_manager(f"{PARENT}/{name}", detect(), fs=recorder)
    manager.create()
    manager.apply(CONFIG)
    assert not recorder.failed
    return recorder


def _marked(ops: List[List[object]], old: str, new: str) -> List[List[object]]:
    return [[v.replace(old, new) if isinstance(v, str) else v for v in op] for op in ops]


def test_a_replay_makes_what_the_manager_made(names: List[str]) -> None:
    first, second = names
    recorder = _recorded(first)
    kinds = {op[0] for op in recorder.ops}
    assert {"exists", "mkdir", "write"} <= kinds, kinds
    replay = Replay(_marked(recorder.ops, first, second))
    replay.run()
    settings = _settings(second)
    assert settings == _settings(first)
    assert replay.made == _dirs(second) or sorted(replay.made) == _dirs(second)
    assert any(files.get("pids.max") == "77\n" for files in settings.values()), settings
    replay.undo()
    assert _dirs(second) == []
    assert _dirs(first) != []


def test_a_replay_stops_where_the_host_answers_otherwise(names: List[str]) -> None:
    """The leaf made by someone else meanwhile: the replay stops there, and
    undo removes what it made (not that directory)."""
    first, second = names
    ops = _marked(_recorded(first).ops, first, second)
    theirs = [op[1] for op in ops if op[0] == "mkdir"][-1]
    os.mkdir(theirs)
    replay = Replay(ops)
    with pytest.raises(ScriptDiverged):
        replay.run()
    replay.undo()
    assert _dirs(second) == [theirs]
    # a recorded read that differs now (a limit file of the parent's): stops too
    changed = [op if op[0] != "read" else [*op[:2], "something else"] for op in ops]
    if any(op[0] == "read" for op in ops):
        os.rmdir(theirs)
        replay = Replay(changed)
        with pytest.raises(ScriptDiverged):
            replay.run()
        replay.undo()
        assert _dirs(second) == []


def test_a_failed_operation_is_not_repeated(names: List[str]) -> None:
    recorder = Recorder()
    with pytest.raises(CgroupError):
        recorder.write(f"/sys/fs/cgroup/{PARENT}-nosuch/{names[0]}/pids.max", "1")
    assert recorder.failed and recorder.ops == []
    recorder = Recorder()
    recorder.subdirs("/sys/fs/cgroup")
    assert recorder.failed, "a question a script does not check"
