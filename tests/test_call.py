"""lc.call: Python functions run in fresh containers, results and errors back."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any, Iterator, List

import psutil
import pytest
from support import calls

import libcontainer_py as lc


@pytest.fixture
def nothing_left(monkeypatch: Any) -> Iterator[None]:
    with calls.nothing_left(monkeypatch, "lccall"):
        yield


def _ns(kind: str) -> str:
    return os.readlink(f"/proc/self/ns/{kind}")


def _whoami() -> dict[str, Any]:
    return {"pid": os.getpid(), "ns": {k: _ns(k) for k in ("pid", "mnt", "net")}, "env": dict(os.environ)}


def _raises_here() -> None:
    raise KeyError("the remote key")  # the line the traceback must name


class _Unpicklable(Exception):
    def __init__(self) -> None:
        super().__init__("holds a lock")
        self.lock = threading.Lock()


def test_lambda_and_closure_run_in_a_container(nothing_left: None) -> None:
    assert lc.call(lambda x: x * 2, 21) == 42
    factor = 3

    def times(x: int, *, plus: int = 0) -> int:
        return x * factor + plus

    assert lc.call(times, 5, plus=1) == 16
    seen = lc.call(_whoami)
    assert seen["pid"] == 1
    assert all(seen["ns"][k] != _ns(k) for k in ("pid", "mnt", "net"))


def test_main_code_is_pickled_by_value(tmp_path: Any, nothing_left: None) -> None:
    script = tmp_path / "main_call.py"
    script.write_text(
        textwrap.dedent(
            """
            import os
            import libcontainer_py as lc

            class Point:
                def __init__(self, x):
                    self.x = x

            def double(p):
                return Point(p.x * 2), os.getpid()

            p, pid = lc.call(double, Point(21))
            print(type(p).__name__, p.x, pid)
            """
        )
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "Point 42 1\n"


def test_exception_type_and_remote_line(nothing_left: None) -> None:
    with pytest.raises(KeyError) as info:
        lc.call(_raises_here)
    assert info.value.args == ("the remote key",)
    remote = str(info.value.__cause__)
    line = _raises_here.__code__.co_firstlineno + 1
    assert f'{__file__}", line {line}, in _raises_here' in remote
    assert "raise KeyError" in remote


def test_an_exception_that_cannot_be_rebuilt_is_a_remote_error(nothing_left: None) -> None:
    def fail() -> None:
        raise _Unpicklable()

    with pytest.raises(lc.RemoteError) as info:
        lc.call(fail)
    err = info.value
    assert (err.type_name, err.message) == ("_Unpicklable", "holds a lock")
    assert "in fail" in err.traceback and err.wall_time is not None and err.wall_time > 0


def test_unpicklable_argument_named_before_anything_is_made(nothing_left: None) -> None:
    with pytest.raises(lc.SerializationError) as info:
        lc.call(lambda a, b: None, 1, threading.Lock())
    assert info.value.what == "argument 1 (lock)"
    assert isinstance(info.value, TypeError)


def test_unpicklable_result(nothing_left: None) -> None:
    with pytest.raises(lc.SerializationError) as info:
        lc.call(threading.Lock)
    assert info.value.what == "the result" and "lock" in str(info.value)


def test_timeout_kills_the_whole_cgroup(nothing_left: None) -> None:
    marker = "4321.123"

    def hang() -> None:
        subprocess.Popen(["sleep", marker])  # a grandchild, in the same cgroup
        time.sleep(600)

    with pytest.raises(lc.CallTimeout) as info:
        lc.call(hang, timeout=2)
    assert isinstance(info.value, TimeoutError)
    assert info.value.cpu_time is not None and info.value.wall_time is not None
    assert not [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", marker]]


def test_oom_kill_is_a_call_memory_error(nothing_left: None) -> None:
    config = lc.Config(cgroup=lc.CgroupConfig(memory=lc.Memory(max="64M", swap_max=0)))

    def hog() -> int:
        chunks = [bytearray(16 << 20) for _ in range(64)]  # 1 GiB, touched
        return len(chunks)

    with pytest.raises(lc.CallMemoryError) as info:
        lc.call(hog, config=config)
    err = info.value
    assert isinstance(err, MemoryError)
    assert err.peak_memory is not None and err.peak_memory >= 48 << 20
    assert "OOM killer" in str(err)


def test_segfault_and_exit_are_worker_crashed(nothing_left: None) -> None:
    with pytest.raises(lc.WorkerCrashed) as info:
        lc.call(ctypes.string_at, 0)
    assert (info.value.signal, info.value.exitcode) == (signal.SIGSEGV, None)
    assert "SIGSEGV" in str(info.value)
    with pytest.raises(lc.WorkerCrashed) as info:
        lc.call(os._exit, 7)
    assert (info.value.signal, info.value.exitcode) == (None, 7)


def test_prints_reach_the_callers_fds_as_they_happen(nothing_left: None, capfd: Any) -> None:
    marker = "7654.321"

    def speak() -> None:
        print("to stdout")
        print("to stderr", file=sys.stderr)
        os.execv("/bin/sleep", ["sleep", marker])  # stays until the test kills it

    errors: List[BaseException] = []

    def run() -> None:
        try:
            lc.call(speak, timeout=600)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    out = err = ""
    sleeper: List[psutil.Process] = []
    while not (sleeper and "to stdout" in out and "to stderr" in err) and thread.is_alive():
        time.sleep(0.05)
        got = capfd.readouterr()
        out, err = out + got.out, err + got.err
        sleeper = [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", marker]]
    assert thread.is_alive()  # seen while the call still runs
    assert out == "to stdout\n" and err == "to stderr\n"
    sleeper[0].kill()
    thread.join()
    assert isinstance(errors[0], lc.WorkerCrashed) and errors[0].signal == signal.SIGKILL


def test_the_host_is_out_of_reach(nothing_left: None) -> None:
    os.environ["LC_CALL_SECRET"] = "host only"
    probe = "/etc/lc-call-probe"

    def escape() -> dict[str, Any]:
        try:
            with open(probe, "w") as f:
                f.write("written")
            wrote = "yes"
        except OSError as exc:
            wrote = type(exc).__name__
        with open("/proc/net/dev") as f:
            interfaces = sorted(line.split(":")[0].strip() for line in f.readlines()[2:])
        return {"wrote": wrote, "interfaces": interfaces, "env": dict(os.environ)}

    try:
        seen = lc.call(escape)
    finally:
        del os.environ["LC_CALL_SECRET"]
    assert seen["wrote"] == "OSError" or seen["wrote"].endswith("Error")
    assert not os.path.exists(probe)
    assert "LC_CALL_SECRET" not in seen["env"]
    assert seen["interfaces"] == ["lo"]


def test_calls_from_threads(nothing_left: None) -> None:
    results: dict[int, Any] = {}

    def worker(i: int) -> None:
        results[i] = lc.call(lambda n: (n * n, os.getpid(), _ns("pid")), i)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [results[i][0] for i in range(4)] == [0, 1, 4, 9]
    assert {results[i][1] for i in range(4)} == {1}
    assert len({results[i][2] for i in range(4)}) == 4  # four pid namespaces


def test_bad_arguments_are_config_errors(nothing_left: None) -> None:
    with pytest.raises(lc.ConfigError, match="timeout"):
        lc.call(print, timeout=0)
    with pytest.raises(lc.ConfigError, match="callable"):
        lc.call(42)  # type: ignore[arg-type]


def test_another_interpreter_of_the_same_version(nothing_left: None) -> None:
    debian = "/usr/bin/python3"
    theirs = subprocess.run([debian, "-c", "import sys; print(sys.version)"], capture_output=True, text=True)
    assert lc.call(lambda: (sys.executable, sys.version), python=debian) == (debian, theirs.stdout.strip())
    with lc.Pool(workers=1, python=debian) as pool:
        assert pool.call(lambda: sys.executable) == debian


def test_an_interpreter_of_another_version_is_refused(tmp_path: Any, nothing_left: None) -> None:
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\necho 3.7\n")
    fake.chmod(0o755)
    config = lc.Config(mounts=lc.Mounts.default() + [lc.Mount.bind(str(fake), "/opt/old/python3", readonly=True)])
    with pytest.raises(lc.InterpreterMismatch) as info:
        lc.call(print, config=config, python="/opt/old/python3")
    assert isinstance(info.value, lc.ConfigError)
    assert "is Python 3.7" in str(info.value) and f"{sys.version_info[0]}.{sys.version_info[1]}" in str(info.value)
    with pytest.raises(lc.ConfigError, match="absolute path"):
        lc.call(print, python="python3")
