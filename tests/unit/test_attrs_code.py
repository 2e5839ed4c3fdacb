"""_attrs_code: the code attrs compiles for our classes, kept on disk; what
comes from the file is what compile() gives, and only a trusted file is used."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Tuple

import attr
import attrs
import pytest

import libcontainer_py.config  # noqa: F401  (the model's import puts the cache in attrs' way)
from libcontainer_py import _attrs_code

#: A fresh interpreter that keeps its code in argv[1], builds and plans a
#: default container, checks every code object against compile() and says
#: how many came from the file.
_FRESH = """
import sys
from libcontainer_py import _attrs_code as a
sys.dont_write_bytecode = False  # the test environment sets PYTHONDONTWRITEBYTECODE
assert a.install(sys.argv[1])
made, loaded = [], []
load = a.load
def counted(directory, key):
    code = load(directory, key)
    loaded.append(code is not None)
    return code
a.load = counted
real = a._compile_and_eval
def spy(script, globs, locs=None, filename=""):
    theirs = {}
    a._original(script, dict(globs), theirs, filename)
    real(script, globs, locs, filename)
    made.append({k: f.__code__ for k, f in locs.items()} == {k: f.__code__ for k, f in theirs.items()})
from attr import _make
_make._compile_and_eval = spy
import libcontainer_py as lc
from libcontainer_py import popen, _run, spawn
from libcontainer_py.cgroups import stats
from libcontainer_py.plan import build_plan
build_plan(lc.Config(), "code-test")
assert lc.Config() == lc.Config() and hash(lc.Mount.bind("/a", "/b")) == hash(lc.Mount.bind("/a", "/b"))
assert all(made), made
print(len(made), sum(loaded), len(loaded) - sum(loaded))
"""


def _fresh(directory: Path) -> Tuple[int, int, int]:
    env = {**os.environ, "PYTHONHASHSEED": "1"}  # the same salts: the same files (see test_any_salt_...)
    done = subprocess.run([sys.executable, "-c", _FRESH, str(directory)], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    made, hits, new = map(int, done.stdout.split())
    return made, hits, new


def test_a_second_interpreter_takes_the_code_from_the_file(tmp_path: Path) -> None:
    directory = tmp_path / "code"
    made, hits, misses = _fresh(directory)
    assert made > 30 and hits == 0 and misses == made
    names = os.listdir(directory)
    assert len(names) == made and all(name.endswith(_attrs_code.SUFFIX) for name in names)
    assert all((directory / name).stat().st_mode & 0o777 == 0o600 for name in names)
    assert directory.stat().st_mode & 0o777 == 0o700
    assert _fresh(directory) == (made, made, 0)


def _codes(compile_and_eval: Callable[..., None], script: str, globs: Dict[str, Any], filename: str) -> Dict[str, Any]:
    """The code of the functions ``compile_and_eval`` makes of ``script``."""
    made: Dict[str, Any] = {}
    compile_and_eval(script, dict(globs), made, filename)
    return {name: function.__code__ for name, function in made.items()}


def _ours(script: str, globs: Dict[str, Any], filename: str) -> Dict[str, Any]:
    """The functions' code through the cache, compared with attrs' own."""
    assert _attrs_code._original is not None
    theirs = _codes(_attrs_code._original, script, globs, filename)
    ours = _codes(_attrs_code._compile_and_eval, script, globs, filename)
    assert ours == theirs, script
    return ours


@pytest.fixture
def scripts() -> Iterator[List[Tuple[str, Dict[str, Any], str]]]:
    """The (script, globals, filename) attrs compiles while the test makes
    classes (the file name as if they were ours)."""
    from attr import _make

    seen: List[Tuple[str, Dict[str, Any], str]] = []
    before = _make._compile_and_eval

    def record(script: str, globs: Any, locs: Any = None, filename: str = "") -> None:
        ours = filename.replace("<attrs generated methods ", "<attrs generated methods libcontainer_py.x.")
        seen.append((script, dict(globs or {}), ours))
        before(script, globs, locs, filename)

    _make._compile_and_eval = record
    try:
        yield seen
    finally:
        _make._compile_and_eval = before


def _shapes() -> None:
    @attrs.frozen
    class Empty:
        pass

    @attrs.frozen
    class Two:
        a: int
        b: str = "x"

    @attrs.define
    class Mutable:
        a: int = 0

    @attrs.frozen(cache_hash=True)
    class Cached:
        a: int

    @attrs.frozen(eq=False)
    class NoEq:
        a: int

    @attr.s(hash=True, slots=False)
    class Old:
        a: str = attr.ib(eq=str.lower)


@pytest.fixture
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "code"
    monkeypatch.setattr(_attrs_code, "_directory", str(directory))
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    return directory


def _counting(monkeypatch: pytest.MonkeyPatch) -> List[bool]:
    """Whether each load found its code."""
    found: List[bool] = []
    load = _attrs_code.load

    def counted(directory: str, key: str) -> Any:
        code = load(directory, key)
        found.append(code is not None)
        return code

    monkeypatch.setattr(_attrs_code, "load", counted)
    return found


def test_every_shape_of_class_gets_the_code_attrs_makes(
    scripts: List[Tuple[str, Dict[str, Any], str]], private_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _shapes()
    assert len(scripts) >= 6
    found = _counting(monkeypatch)
    for script, globs, filename in scripts:
        _ours(script, globs, filename)  # compiled, stored
    assert found == [False] * len(scripts) and len(os.listdir(private_cache)) == len(scripts)
    found.clear()
    for script, globs, filename in scripts:
        _ours(script, globs, filename)  # from the file
    assert found == [True] * len(scripts)


def test_the_salt_is_this_processs_number(scripts: List[Tuple[str, Dict[str, Any], str]]) -> None:
    _shapes()
    hashed = [script for script, _, _ in scripts if "__hash__" in script]
    assert hashed
    for script in hashed:
        split = _attrs_code.split_salt(script)
        assert split is not None
        keyed, salt = split
        assert salt is not None and str(salt) in script and str(salt) not in keyed
        stand_in = str(_attrs_code.placeholder(salt))
        assert len(stand_in) == len(str(salt)) and keyed.replace(stand_in, str(salt)) == script


@pytest.mark.parametrize("salt", [-9_223_372_036_854_775_807, -12, 0, 3, 12_345, 9_223_372_036_854_775_807])
def test_any_salt_gives_the_code_attrs_makes(salt: int, private_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = f"def __hash__(self):\n    return hash((\n        {salt},\n        self.a,\n    ))"
    lone = f"def __hash__(self):\n    return hash((\n        {salt},\n    ))"  # a constant tuple
    found = _counting(monkeypatch)
    for text in (script, lone):
        filename = "<attrs generated methods libcontainer_py.x.Salted>"
        _ours(text, {}, filename)
        _ours(text, {}, filename)
    assert found == [False, True, False, True]


def test_unknown_sources_are_not_cached() -> None:
    assert _attrs_code.split_salt("def __hash__(self):\n    return hash((\n        7,\n        77,\n    ))") is None
    assert _attrs_code.split_salt("def __hash__(self):\n    return 1") is None
    assert _attrs_code.split_salt("def f():\n    return hash((\n        x,\n    ))") is None
    twice = "def __hash__(self):\n    return hash((\n        1,\n    )) + hash((\n        2,\n    ))"
    assert _attrs_code.split_salt(twice) is None
    assert _attrs_code.split_salt("def f(self):\n    return 1") == ("def f(self):\n    return 1", None)


def test_other_classes_go_to_attrs_own_function(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _attrs_code._original is not None  # installed by the model's import
    from attr import _make

    assert _make._compile_and_eval is _attrs_code._compile_and_eval
    asked: List[str] = []
    monkeypatch.setattr(_attrs_code, "code_for", lambda script, filename: asked.append(filename))

    @attrs.frozen
    class Outside:
        a: int

    assert asked == [] and Outside(1) == Outside(1)


def _stored(directory: Path, mutate: Callable[[Path], object]) -> bool:
    """Whether load() takes the code of ``directory``'s one file after ``mutate``."""
    (name,) = os.listdir(directory)
    mutate(directory / name)
    return _attrs_code.load(str(directory), name[: -len(_attrs_code.SUFFIX)]) is not None


def _filled(private_cache: Path) -> Path:
    _attrs_code.code_for("def __init__(self):\n    pass", "<attrs generated methods libcontainer_py.x.Y>")
    assert _stored(private_cache, lambda f: None)
    return private_cache


def test_a_file_others_can_write_is_not_used(private_cache: Path) -> None:
    assert not _stored(_filled(private_cache), lambda f: f.chmod(0o620))


def test_a_directory_others_can_write_is_not_used(private_cache: Path) -> None:
    directory = _filled(private_cache)
    directory.chmod(0o702)
    assert not _stored(directory, lambda f: None)


def test_a_file_of_another_user_is_not_used(private_cache: Path) -> None:
    assert not _stored(_filled(private_cache), lambda f: os.chown(f, 65534, 65534))


def test_a_symlinked_directory_or_file_is_not_used(private_cache: Path, tmp_path: Path) -> None:
    directory = _filled(private_cache)
    (name,) = os.listdir(directory)
    key = name[: -len(_attrs_code.SUFFIX)]
    link = tmp_path / "link"
    link.symlink_to(directory)
    assert _attrs_code.load(str(link), key) is None
    other = tmp_path / "other"
    other.mkdir(mode=0o700)
    (other / name).symlink_to(directory / name)
    assert _attrs_code.load(str(other), key) is None


def test_a_changed_moved_or_foreign_file_is_not_used(private_cache: Path) -> None:
    directory = _filled(private_cache)

    def flip_last_byte(f: Path) -> None:
        data = bytearray(f.read_bytes())
        data[-1] ^= 1
        f.write_bytes(bytes(data))

    def other_python(f: Path) -> None:
        header, _, payload = f.read_bytes().partition(b"\n")
        f.write_bytes(header.replace(b"marshal", b"marshal 0") + b"\n" + payload)

    def moved(f: Path) -> None:
        f.rename(f.with_name("0" * 64 + _attrs_code.SUFFIX))

    for change in (flip_last_byte, other_python, lambda f: f.write_bytes(b""), moved):
        for name in os.listdir(directory):
            os.unlink(directory / name)
        _filled(private_cache)
        assert not _stored(directory, change)


def test_nothing_is_written_without_bytecode(private_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    _attrs_code.code_for("def __init__(self):\n    pass", "<attrs generated methods libcontainer_py.x.Z>")
    assert not private_cache.exists()


def test_no_state_root_is_made_for_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache goes into a state root that exists: a program that only
    makes configs leaves none behind."""
    monkeypatch.setattr(_attrs_code, "_directory", str(tmp_path / "root" / "code"))
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    _attrs_code.code_for("def __init__(self):\n    pass", "<attrs generated methods libcontainer_py.x.W>")
    assert os.listdir(tmp_path) == []


def test_uninstall_gives_attrs_its_function_back(monkeypatch: pytest.MonkeyPatch) -> None:
    from attr import _make

    original = _attrs_code._original
    assert original is not None
    monkeypatch.setattr(_make, "_compile_and_eval", _make._compile_and_eval)  # restored after the test
    monkeypatch.setattr(_attrs_code, "_original", original)
    _attrs_code.uninstall()
    assert _make._compile_and_eval is original and _attrs_code._original is None
