"""The default container's quick path (_quickrun.py): ``lc.run(argv)`` with
no config, spawned from the recipe the library's path saved, without the
config model -- and the same container, as the kernel shows it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from typing import Any, Dict, Iterator, List

import pytest
from support.layouts import run_in_layout
from support.observe import host_snapshot

import libcontainer_py as lc
from libcontainer_py import _quickrun
from libcontainer_py._popen_args import with_process_args
from libcontainer_py._statedir import DEFAULT_ROOT

#: What the container shows of itself: status, mounts, hostname, cgroup,
#: and what opening a block device it made gives (the device program).
INSPECT = (
    "grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status; echo ==;"
    " cat /proc/self/mountinfo; echo ==; hostname; echo ==; cat /proc/self/cgroup; echo ==;"
    " ls /proc/self/ns; echo ==; mknod /dev/blk b 7 0 && head -c 1 /dev/blk 2>&1 | sed 's/^.*: //'"
)


def _recipe_file() -> str:
    found = _quickrun._key()
    assert found is not None
    return os.path.join(DEFAULT_ROOT, _quickrun.DIRECTORY, _quickrun._file_name(found[0]))


@pytest.fixture
def recipe() -> Iterator[str]:
    """A recipe for this process (the library's path saves one if missing)."""
    from libcontainer_py.cgroups._ops import HostLayout

    if HostLayout.detect().unified is None:  # test_where_the_quick_path_applies covers such a host
        pytest.skip("a v1-only host: the default container joins v1 hierarchies, and no recipe is made")
    lc.run(["true"])
    assert _quickrun.load() is not None, "the library's path saved no recipe here"
    yield _recipe_file()


@pytest.fixture
def no_library_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The library's path fails: what runs is the quick path."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the library's path ran")

    monkeypatch.setattr(lc.ContainerProcess, "__init__", refuse)


def _normalized(output: str, container_id: str) -> List[str]:
    """The inspection without what differs between any two containers:
    their ids, mount ids and device numbers."""
    sections = output.replace(container_id, "<id>").split("==\n")
    mounts = sorted(" ".join(line.split()[4:]) for line in sections[1].splitlines())
    return [sections[0], *mounts, *sections[2:]]


def test_a_fresh_interpreter_runs_the_default_container_without_the_config_model(recipe: str) -> None:
    code = (
        "import json, sys\n"
        "import libcontainer_py as lc\n"
        "r = lc.run(['sh', '-c', 'hostname; pwd; echo $A'],\n"
        "           capture_output=True, text=True, cwd='/tmp', env={'A': 'b'})\n"
        "model = [m for m in ('attr', 'attrs', 'libcontainer_py.config', 'libcontainer_py.plan') if m in sys.modules]\n"
        "print(json.dumps([r.returncode, r.stdout, r.container_id, model, r.stats.cpu.usage_ns > 0]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    returncode, stdout, container_id, model, used_cpu = json.loads(done.stdout)
    assert returncode == 0 and used_cpu
    assert stdout == f"{container_id}\n/tmp\nb\n"
    assert model == [], f"the quick path imported {model}"


def test_the_quick_container_is_the_library_s_container(recipe: str, monkeypatch: pytest.MonkeyPatch) -> None:
    full = lc.run(["sh", "-c", INSPECT], config=lc.Config(), capture_output=True, text=True, timeout=30)
    with monkeypatch.context() as patch:
        patch.setattr(lc.ContainerProcess, "__init__", _refuse)
        quick = lc.run(["sh", "-c", INSPECT], capture_output=True, text=True, timeout=30)
    assert full.returncode == quick.returncode == 0, (full.stderr, quick.stderr)
    assert _normalized(quick.stdout, quick.container_id) == _normalized(full.stdout, full.container_id)
    status, *_, hostname, cgroup, namespaces, device = quick.stdout.split("==\n")
    assert "NoNewPrivs:\t1" in status and "Seccomp:\t2" in status
    assert hostname.strip() == quick.container_id
    assert "0::/" in cgroup.splitlines()  # its own cgroup namespace, rooted at its cgroup
    assert "Operation not permitted" in device  # the device program
    host_ns = {name: os.readlink(f"/proc/self/ns/{name}") for name in ("mnt", "uts", "ipc", "pid", "net", "cgroup")}
    assert set(namespaces.split()) >= set(host_ns)


def _refuse(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("the library's path ran")


def test_the_quick_container_has_its_own_namespaces(recipe: str, no_library_path: None) -> None:
    names = ("mnt", "uts", "ipc", "pid", "net", "cgroup")
    script = "; ".join(f"readlink /proc/self/ns/{name}" for name in names)
    done = lc.run(["sh", "-c", script], capture_output=True, text=True, timeout=30)
    inside = done.stdout.split()
    assert len(inside) == len(names)
    for name, link in zip(names, inside):
        assert link != os.readlink(f"/proc/self/ns/{name}"), name


def test_a_quick_run_leaves_nothing(recipe: str, no_library_path: None) -> None:
    before = host_snapshot()
    parent = os.path.dirname(_cgroup_dir("x"))
    cgroups = _listing(parent)
    done = lc.run(["sh", "-c", "sleep 0.2 & echo started"], capture_output=True, timeout=30)
    assert done.returncode == 0
    with pytest.raises(lc.ExecNotFound):
        lc.run(["/no/such/program"])
    with pytest.raises(lc.TimeoutExpired):
        lc.run(["sleep", "30"], timeout=0.3)
    assert host_snapshot().diff(before) == ""
    assert _listing(parent) == cgroups
    assert not [n for n in os.listdir(os.path.join(DEFAULT_ROOT, ".owned")) if not n.startswith(".owner-")]


def _listing(directory: str) -> set:
    """The cgroups in ``directory`` (none when it is gone: its last container removed it)."""
    return set(os.listdir(directory)) if os.path.isdir(directory) else set()


def _cgroup_dir(container_id: str) -> str:
    found = _quickrun.load()
    assert found is not None
    return found[0].cgroup_dir.replace(_quickrun.ID_MARK, container_id)


def test_quick_runs_from_threads_at_once(recipe: str, no_library_path: None) -> None:
    """Worker threads (which clone through _parents.py) and the main thread
    together: every container is its own, and none is left."""
    import threading

    before = host_snapshot()
    seen: List[str] = []
    errors: List[BaseException] = []

    def work() -> None:
        try:
            for _ in range(10):
                done = lc.run(["hostname"], capture_output=True, text=True, timeout=30)
                assert done.returncode == 0 and done.stdout.strip() == done.container_id
                seen.append(done.container_id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    work()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(seen)) == 40
    assert host_snapshot().diff(before) == ""


def test_errors_are_the_library_s(recipe: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def failure(**kwargs: Any) -> BaseException:
        with pytest.raises(lc.ContainerError) as caught:
            lc.run(**kwargs)
        return caught.value

    cases: List[Dict[str, Any]] = [{"args": ["/no/such/program"]}, {"args": ["true"], "cwd": "/no/such/dir"}]
    for case in cases:
        full = failure(config=lc.Config(), **case)
        with monkeypatch.context() as patch:
            patch.setattr(lc.ContainerProcess, "__init__", _refuse)
            quick = failure(**case)
        assert type(quick) is type(full)
        said = [str(e).replace(e.container_id or "", "<id>") for e in (quick, full)]
        assert said[0] == said[1]


def test_check_timeout_and_input_as_subprocess(recipe: str, no_library_path: None) -> None:
    with pytest.raises(lc.ProcessExitError) as caught:
        lc.run(["sh", "-c", "exit 3"], check=True)
    assert caught.value.returncode == 3
    done = lc.run(["cat"], input=b"fed", capture_output=True)
    assert done.stdout == b"fed"
    done = lc.run("echo $0", shell=True, stdout=subprocess.PIPE, text=True)
    assert done.stdout == "/bin/sh\n"
    started = time.monotonic()
    with pytest.raises(lc.TimeoutExpired):
        lc.run(["sleep", "30"], timeout=0.2)
    assert time.monotonic() - started < 25  # killed, not waited for
    with pytest.raises(lc.ConfigError):
        lc.run(["true"], input=b"x", stdin=subprocess.DEVNULL)


def test_a_changed_answer_of_the_host_takes_the_library_s_path(recipe: str) -> None:
    with open(recipe) as f:
        doc = json.load(f)
    answers = doc["answers"]
    assert any(method == "bounding_set" for method, _, _ in answers)
    changed = {**doc, "answers": [[m, a, "file" if m == "lstat_kind" else r] for m, a, r in answers]}
    _rewrite(recipe, changed)
    assert _quickrun.load() is None
    lc.run(["true"])  # the library's path, which saves the recipe again
    assert _quickrun.load() is not None


def test_a_recipe_someone_else_may_write_is_not_used(recipe: str) -> None:
    os.chmod(recipe, 0o666)
    try:
        assert _quickrun.load() is None
    finally:
        os.chmod(recipe, 0o600)
    assert _quickrun.load() is not None


def test_a_recipe_of_another_key_is_not_used(recipe: str) -> None:
    with open(recipe) as f:
        doc = json.load(f)
    _rewrite(recipe, {**doc, "key": {**doc["key"], "boot": "another boot"}})
    assert _quickrun.load() is None
    lc.run(["true"])
    assert _quickrun.load() is not None


def _rewrite(path: str, doc: Dict[str, Any]) -> None:
    with open(path, "w") as f:
        json.dump(doc, f)


def test_a_stranger_in_the_cgroup_is_killed_and_the_cgroup_removed(recipe: str) -> None:
    found = _quickrun.load()
    assert found is not None
    cgroup = _quickrun.QuickCgroup(found[0], "quick0stranger")
    cgroup.create()
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        with open(os.path.join(cgroup.dir, "cgroup.procs"), "w") as f:
            f.write(str(stranger.pid))
        cgroup.remove()
        assert stranger.wait(timeout=10) == -9
    finally:
        stranger.kill()
        stranger.wait()
    assert not os.path.exists(cgroup.dir)
    assert not os.path.exists(os.path.join(DEFAULT_ROOT, ".owned", "quick0stranger"))


@pytest.mark.parametrize(
    "args, env, cwd, shell",
    [
        (["true"], None, None, False),
        (("echo", "", "x"), {"A": "1", "B": ""}, "/tmp//x/", False),
        ("echo hi", None, "/", True),
        (None, None, None, False),
        ([""], None, None, False),
        ([], None, None, False),
        (["a\0b"], None, None, False),
        ([b"true"], None, None, False),
        ("true", None, None, False),
        (["true"], {"A=B": "1"}, None, False),
        (["true"], {"": "1"}, None, False),
        (["true"], {"A": "\0"}, None, False),
        (["true"], {"A": 1}, None, False),
        (["true"], None, "tmp", False),
        (["true"], None, "/tmp/../etc", False),
        (["true"], None, "/./tmp/.", False),
        (["true"], None, b"/tmp", False),
        (["echo", "x"], None, None, True),
    ],
)
def test_the_quick_inputs_are_the_library_s(recipe: str, args: Any, env: Any, cwd: Any, shell: bool) -> None:
    """Whatever the quick path takes, the library takes too, and makes the
    same argv, env and cwd of it; the rest is the library's to refuse."""
    found = _quickrun.load()
    assert found is not None
    quick = _quickrun.quick_inputs(args, env, cwd, shell, found[0])
    try:
        process = with_process_args(lc.Config(), args, env=env, cwd=cwd, shell=shell).process
    except lc.ConfigError:
        assert quick is None
        return
    if quick is not None:
        assert quick == (process.args, dict(process.env), process.cwd)


def test_the_recipe_holds_the_library_s_plan(recipe: str) -> None:
    """The saved steps are the plan the library builds for the same id."""
    from libcontainer_py.plan import build_plan
    from libcontainer_py.plan.cgroupfs import container_cgroup_dirs

    found = _quickrun.load()
    assert found is not None
    saved = found[0].plan("0123456789ab", ["sh"], {"PATH": "/usr/bin"}, "/")
    config = with_process_args(lc.Config(), ["sh"], env={"PATH": "/usr/bin"})
    layout = lc.cgroups.detect()
    built = build_plan(
        config,
        "0123456789ab",
        cgroup_at_clone=True,
        cgroup_layout=layout,
        cgroup_dirs=container_cgroup_dirs(layout, found[0].cgroup_path.replace(_quickrun.ID_MARK, "0123456789ab")),
        dies_with_owner=True,
    )
    assert saved.typed().steps == built.steps
    assert (saved.clone_flags, saved.argv, saved.envp, saved.exec_paths) == (
        built.clone_flags,
        built.argv,
        built.envp,
        built.exec_paths,
    )
    assert re.fullmatch(r"[0-9a-f]{32}\.json", os.path.basename(recipe))


LAYOUT_SCRIPT = """
import libcontainer_py as lc
from libcontainer_py import _quickrun
assert lc.run(['true']).returncode == 0
print('recipe', _quickrun.load() is not None)
r = lc.run(['sh', '-c', 'hostname; grep -c . /proc/self/cgroup'], capture_output=True, text=True)
print('ran', r.returncode, r.stdout.split()[0] == r.container_id)
"""


@pytest.mark.parametrize("kind, quick", [("v1", False), ("v2", True), ("hybrid", True)])
def test_where_the_quick_path_applies(kind: str, quick: bool) -> None:
    """cgroup2 and hybrid hosts: the device rules are a program on cgroup2 and
    clone3 places the child, so a recipe is saved; a v1-only host: none, and
    every default run takes the library's path."""
    status, out, left = run_in_layout(kind, [sys.executable, "-c", LAYOUT_SCRIPT])
    assert status == 0, out
    assert left == []
    assert f"recipe {quick}" in out.splitlines(), out
    assert "ran 0 True" in out.splitlines(), out
