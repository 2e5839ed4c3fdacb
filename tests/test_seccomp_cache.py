"""Compiled seccomp programs kept on disk (seccomp/cache.py): a hit gives
the program libseccomp gives, a container loads it and is filtered by it,
and anything doubtful about a stored file is a miss."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any, Callable, Iterator, List

import pytest
from support.oci import call, spec_bundle

from libcontainer_py.seccomp import Action, Seccomp, SeccompRule, compiler
from libcontainer_py.seccomp.cache import DEFAULT_DIRECTORY, FilterCache, filter_key

MKDIR_DENIED = Seccomp(
    default_action=Action.ALLOW,
    rules=(SeccompRule(syscalls=("mkdir", "mkdirat"), action=Action.ERRNO, errno=1),),
)


@pytest.fixture
def disk(tmp_path: Any) -> Iterator[str]:
    """compile() with a disk cache in a fresh directory, and no memory cache."""
    directory = str(tmp_path / "cache")
    compiler._compile_cached.cache_clear()
    compiler.use_disk_cache(directory)
    yield directory
    compiler.use_disk_cache(DEFAULT_DIRECTORY)
    compiler._compile_cached.cache_clear()


@pytest.fixture
def libseccomp_calls(monkeypatch: pytest.MonkeyPatch) -> List[Seccomp]:
    """The filters libseccomp is asked to compile from now on."""
    calls: List[Seccomp] = []
    real: Callable[..., Any] = compiler._compile

    def counting(seccomp: Seccomp, *, strict: bool = False) -> Any:
        calls.append(seccomp)
        return real(seccomp, strict=strict)

    monkeypatch.setattr(compiler, "_compile", counting)
    return calls


def _stored(directory: str) -> List[str]:
    return sorted(os.listdir(directory)) if os.path.isdir(directory) else []


def test_a_hit_is_libseccomps_program(disk: str, libseccomp_calls: List[Seccomp]) -> None:
    profile = Seccomp.default()
    first = compiler.compile(profile)
    assert len(libseccomp_calls) == 1 and len(_stored(disk)) == 1
    assert oct(os.stat(disk).st_mode & 0o777) == "0o700"
    compiler._compile_cached.cache_clear()  # as a new process would be
    second = compiler.compile(profile)
    assert len(libseccomp_calls) == 1  # from the file
    assert second == first
    compiler.use_disk_cache(None)
    compiler._compile_cached.cache_clear()
    assert compiler.compile(profile) == first  # what libseccomp gives without any cache


def test_each_filter_has_its_own_program(disk: str, libseccomp_calls: List[Seccomp]) -> None:
    a = compiler.compile(MKDIR_DENIED)
    b = compiler.compile(Seccomp.default())
    strict = compiler.compile(MKDIR_DENIED, strict=True)
    assert len(libseccomp_calls) == 3 and len(_stored(disk)) == 3
    assert a.program != b.program and strict.program == a.program
    library = compiler.library_id()
    assert filter_key(MKDIR_DENIED, False, library) != filter_key(MKDIR_DENIED, False, (*library[:2], library[2] + 1))


@pytest.mark.parametrize(
    "damage",
    [
        "group-writable",
        "short",
        "not-ours",
        "symlink",
        "directory-writable",
        "directory-symlink",
        "parent-writable",
        "tampered",
        "renamed",
    ],
)
def test_doubtful_files_are_misses(disk: str, libseccomp_calls: List[Seccomp], damage: str) -> None:
    first = compiler.compile(MKDIR_DENIED)
    (name,) = _stored(disk)
    path = os.path.join(disk, name)
    if damage == "group-writable":
        os.chmod(path, 0o620)
    elif damage == "short":
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) - 3)
    elif damage == "not-ours":
        os.chown(path, 65534, 65534)
    elif damage == "symlink":
        os.rename(path, path + ".real")
        os.symlink(path + ".real", path)
    elif damage == "directory-writable":
        os.chmod(disk, 0o777)
    elif damage == "parent-writable":
        os.chmod(os.path.dirname(disk), 0o777)
    elif damage == "tampered":  # one instruction changed, the file still ours and 0600
        with open(path, "r+b") as f:
            f.seek(-8, os.SEEK_END)
            f.write(bytes(8))
        assert oct(os.stat(path).st_mode & 0o777) == "0o600" and os.stat(path).st_uid == os.geteuid()
    elif damage == "renamed":  # a program of ours, stored under the key of another filter
        other = compiler.compile(Seccomp.default())
        (other_name,) = set(_stored(disk)) - {name}
        os.rename(os.path.join(disk, other_name), path)
        assert other.program != first.program
        libseccomp_calls.clear()
        libseccomp_calls.append(MKDIR_DENIED)
    else:
        os.rename(disk, disk + ".real")
        os.symlink(disk + ".real", disk)
    compiler._compile_cached.cache_clear()
    assert compiler.compile(MKDIR_DENIED) == first
    assert len(libseccomp_calls) == 2  # compiled again


def test_another_libseccomp_or_architecture_misses(
    disk: str, libseccomp_calls: List[Seccomp], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key holds libseccomp's version, API level and the native
    architecture: a program stored by another one is not used."""
    compiler.compile(MKDIR_DENIED)
    real = compiler.library_id()
    for other in ((*real[:2], real[2] + 1), (*real[:4], real[4] ^ 1)):  # a micro version, an architecture
        compiler._compile_cached.cache_clear()
        monkeypatch.setattr(compiler, "library_id", lambda other=other: other)
        compiler.compile(MKDIR_DENIED)
    assert len(libseccomp_calls) == 3 and len(_stored(disk)) == 3


def test_the_library_caches_under_the_default_state_root() -> None:
    """Without use_disk_cache, a fresh interpreter keeps Docker's profile
    under <DEFAULT_ROOT>/.seccomp-cache, and the next one loads it from there
    without asking libseccomp."""
    code = (
        "import os\n"
        "from libcontainer_py._statedir import DEFAULT_ROOT\n"
        "from libcontainer_py.seccomp import Seccomp, compiler\n"
        "assert compiler._disk.directory == os.path.join(DEFAULT_ROOT, '.seccomp-cache'), compiler._disk.directory\n"
        "if os.environ.get('NO_LIBSECCOMP'):\n"
        "    def refuse(*a, **k): raise AssertionError('compiled')\n"
        "    compiler._compile = refuse\n"
        "print(compiler.compile(Seccomp.default()).instructions)\n"
    )
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    env = {**os.environ, "NO_LIBSECCOMP": "1"}
    second = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout and int(first.stdout) > 100


def test_the_oldest_programs_go_beyond_the_limit(tmp_path: Any) -> None:
    cache = FilterCache(str(tmp_path / "c"), limit=2)
    for i, key in enumerate(("a", "b", "c")):
        cache.store(key, bytes(8 * (i + 1)), ())
        os.utime(os.path.join(cache.directory, key + ".bpf"), ns=(i * 10**9, i * 10**9))
    assert _stored(cache.directory) == ["b.bpf", "c.bpf"]
    assert cache.load("a") is None and cache.load("c") == (bytes(24), ())


def test_a_failed_store_leaves_nothing(tmp_path: Any) -> None:
    cache = FilterCache(str(tmp_path / "c"))
    os.makedirs(cache.directory, mode=0o700)
    os.mkdir(os.path.join(cache.directory, "k.bpf"))  # the rename onto it fails
    cache.store("k", bytes(8), ())
    assert _stored(cache.directory) == ["k.bpf"] and cache.load("k") is None


# -- through the command line ------------------------------------------------------


def test_the_command_line_compiles_a_profile_once(tmp_path: Any) -> None:
    """Two containers of one bundle: the first command compiles and stores
    the program, the second loads it; both containers are filtered by it."""
    script = "grep Seccomp: /proc/self/status; mkdir /tmp/x"
    bundle, cli = spec_bundle(tmp_path, {"args": ["sh", "-c", script]}, linux={"seccomp": MKDIR_DENIED.to_oci()})
    root = str(tmp_path / "state")
    cache = os.path.join(root, ".seccomp-cache")
    outputs = []
    for cid in ("cache-1", "cache-2"):
        outputs.append(call([*cli, "run", "-b", str(bundle), cid]))
        if cid == "cache-1":
            (stored,) = _stored(cache)
            written = os.stat(os.path.join(cache, stored)).st_mtime_ns
    assert _stored(cache) == [stored] and os.stat(os.path.join(cache, stored)).st_mtime_ns == written
    for status, text in outputs:
        assert status == 1 and "Seccomp:\t2" in text and "Operation not permitted" in text, text
    assert sorted(os.listdir(root)) == [".seccomp-cache"]


def test_the_key_is_sha256_without_hashlib() -> None:
    import hashlib

    from libcontainer_py.seccomp import cache

    assert cache.sha256_hex(b"abc") == hashlib.sha256(b"abc").hexdigest()
    code = (
        "import sys; from libcontainer_py.seccomp import cache; cache.sha256_hex(b'x'); print('hashlib' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
