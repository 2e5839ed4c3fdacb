"""The saved exec plan (cli/_exec_plan.py) and the fast exec's reading of
its inputs (cli/_exec_light.py), without a container."""

from __future__ import annotations

import json
import os
from typing import Any, Dict

import pytest

from libcontainer_py import _private_file
from libcontainer_py.cli import _exec_light, _exec_plan
from libcontainer_py.cli._argv import parse
from libcontainer_py.oci import spec
from libcontainer_py.plan import Op, Plan, Step
from libcontainer_py.process import DEFAULT_PATH


class _Record:
    id, pid, pid_start, cgroup_path = "c1", 4242, 777, "libcontainer_py/c1"


def _plan(program: bytes) -> Plan:
    steps = (
        Step(Op.JOIN_CGROUP, "join the cgroup", "/x/cgroup.procs", open_path="/x/cgroup.procs", open_flags=os.O_WRONLY),
        Step(Op.SETNS, "join the pid namespace", "/proc/1/ns/pid", n1=-1, n2=0x20000000, open_path="/proc/1/ns/pid"),
        Step(Op.SETGROUPS, "set supplementary groups", "[5]", n1=1, gids=(5,)),
        Step(Op.CHDIR, "enter the working directory", "/", s1="/"),
        Step(Op.SECCOMP, "load the seccomp filter", n1=len(program) // 8, data=program),
        Step(Op.EXEC, "exec", "true"),
    )
    return Plan("c1-exec1", 0, steps, ("true",), (), ("/bin/true",))


@pytest.fixture
def root(tmp_path: Any) -> str:
    os.makedirs(tmp_path / "c1")
    cache = tmp_path / _exec_plan.SECCOMP_CACHE
    os.makedirs(cache, mode=0o700)
    return str(tmp_path)


def _cache(root: str, key: str, program: bytes) -> None:
    path = os.path.join(root, _exec_plan.SECCOMP_CACHE, key + _private_file.SUFFIX)
    with open(path, "wb") as f:
        f.write(_private_file.program_file(key, program, ()))


def test_saved_and_loaded_with_its_program(root: str) -> None:
    program = bytes(range(16))
    _cache(root, "k1", program)
    _exec_plan.save(root, _Record(), "key", _plan(program), "k1")
    loaded = _exec_plan.load(root, _Record(), "key")
    assert loaded is not None
    assert [(s.op, s.what, s.path, s.n1, s.n2, s.gids, s.data, s.open_path) for s in loaded.steps] == [
        (int(s.op), s.what, s.path, s.n1, s.n2, s.gids, s.data, s.open_path) for s in _plan(program).steps
    ]
    assert loaded.typed().steps == _plan(program).steps
    assert loaded.default_path == DEFAULT_PATH
    assert _exec_plan.load(root, _Record(), "other key") is None


def test_not_loaded_for_another_process_or_another_program(root: str) -> None:
    program = bytes(range(16))
    _cache(root, "k1", program)
    _exec_plan.save(root, _Record(), "key", _plan(program), "k1")
    other = _Record()
    other.pid_start = 778  # the same pid, another process
    assert _exec_plan.load(root, other, "key") is None
    os.chmod(os.path.join(root, "c1", "exec.json"), 0o622)  # others may write it
    assert _exec_plan.load(root, _Record(), "key") is None
    os.chmod(os.path.join(root, "c1", "exec.json"), 0o600)
    assert _exec_plan.load(root, _Record(), "key") is not None
    _cache(root, "k1", bytes(16))  # the cached program is not the one saved
    assert _exec_plan.load(root, _Record(), "key") is None
    os.unlink(os.path.join(root, _exec_plan.SECCOMP_CACHE, "k1" + _private_file.SUFFIX))
    assert _exec_plan.load(root, _Record(), "key") is None


def test_not_saved_without_its_program_in_the_cache_nor_with_other_steps(root: str) -> None:
    program = bytes(range(16))
    _exec_plan.save(root, _Record(), "key", _plan(program), "k1")
    assert not os.path.exists(os.path.join(root, "c1", "exec.json"))
    _cache(root, "k1", program)
    plan = _plan(program)
    waits = Plan("c1-exec1", 0, (Step(Op.WAIT_START, "wait for start"), *plan.steps), plan.argv, (), plan.exec_paths)
    _exec_plan.save(root, _Record(), "key", waits, "k1")
    assert not os.path.exists(os.path.join(root, "c1", "exec.json"))
    unplaced = Plan("c1-exec1", 0, plan.steps[1:], plan.argv, (), plan.exec_paths)  # no JOIN_CGROUP
    _exec_plan.save(root, _Record(), "key", unplaced, "k1")
    assert not os.path.exists(os.path.join(root, "c1", "exec.json"))


def test_keeps_the_last_plans(root: str) -> None:
    program = bytes(range(16))
    _cache(root, "k1", program)
    for i in range(_exec_plan.MAX_PLANS + 2):
        _exec_plan.save(root, _Record(), f"key{i}", _plan(program), "k1")
    with open(os.path.join(root, "c1", "exec.json")) as f:
        assert list(json.load(f)["plans"]) == [f"key{i}" for i in range(2, _exec_plan.MAX_PLANS + 2)]


def test_the_ops_are_the_plans() -> None:
    for name in ("JOIN_CGROUP", "SETNS", "CHDIR", "SECCOMP", "EXEC", "FORK", "CAPSET", "NO_NEW_PRIVS"):
        assert getattr(_exec_plan, name) == Op[name]
    assert _exec_plan.KNOWN_OPS <= {int(op) for op in Op}


def test_process_keys_are_those_oci_reads() -> None:
    assert _exec_light.PROCESS_KEYS == set(spec._PROCESS_KEYS) | {f.key for f in spec._PROCESS_FIELDS}


def _args(*argv: str) -> Any:
    args = parse(["exec", *argv])
    assert args is not None
    return args


BASE: Dict[str, Any] = {"env": {"PATH": "/bin", "A": "1"}, "cwd": "/"}


def test_inputs_as_the_library_makes_them() -> None:
    assert _exec_light._inputs(_args("c1", "sh"), BASE, None) == (["sh"], {"PATH": "/bin", "A": "1"}, "/")
    process = {"args": ["x"], "cwd": "/a/./b//", "env": ["A=1", "B=2", "A=3"]}
    assert _exec_light._inputs(_args("c1"), BASE, process) == (["x"], {"B": "2", "A": "3"}, "/a/b")
    args = _args("--cwd", "/tmp", "c1", "sh")
    args.env = ["A=2", "C="]
    assert _exec_light._inputs(args, BASE, None) == (["sh"], {"PATH": "/bin", "A": "2", "C": ""}, "/tmp")


@pytest.mark.parametrize(
    "process",
    [
        {"args": [], "cwd": "/"},
        {"args": [""], "cwd": "/"},
        {"args": ["a\0"], "cwd": "/"},
        {"args": ["sh"], "cwd": "tmp"},
        {"args": ["sh"], "cwd": "/a/../b"},
        {"args": ["sh"], "cwd": "/", "env": ["NOEQUALS"]},
        {"args": ["sh"], "cwd": "/", "env": ["=x"]},
        {"args": ["sh"], "cwd": "/", "env": [1]},
    ],
)
def test_inputs_the_library_would_refuse_are_its(process: Dict[str, Any]) -> None:
    assert _exec_light._inputs(_args("c1"), BASE, process) is None


def test_the_key_is_what_else_shaped_the_plan() -> None:
    process = {"args": ["a"], "cwd": "/", "env": [], "user": {"uid": 1, "gid": 2}}
    same = {"user": {"gid": 2, "uid": 1}, "args": ["b"], "cwd": "/tmp", "env": ["X=1"]}
    assert _exec_light.plan_key(_args("c1"), process) == _exec_light.plan_key(_args("c1"), same)
    assert _exec_light.plan_key(_args("c1"), process) != _exec_light.plan_key(_args("c1"), {**process, "user": {}})
    assert _exec_light.plan_key(_args("c1"), None) != _exec_light.plan_key(_args("--no-new-privs", "c1"), None)
    assert _exec_light.plan_key(_args("c1"), None) != _exec_light.plan_key(_args("-u", "1", "c1"), None)
