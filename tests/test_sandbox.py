"""The sandbox: each verdict from what the kernel reports, nothing left behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from typing import Any, Dict

import pytest
from support.images import layer_from_dir, write_oci_layout
from support.layouts import run_in_layout

import libcontainer_py as lc
from libcontainer_py import sandbox
from libcontainer_py.images import ImageStore

LIMITS = sandbox.Limits(cpu_time=1.0, wall_time=3.0, memory="64M", pids=16, output="64k", disk="4M")


def run(args: Any, **kwargs: Any) -> sandbox.Result:
    return sandbox.run(args, limits=kwargs.pop("limits", LIMITS), **kwargs)


def test_ok_with_files_stdin_and_the_box_as_cwd(no_leaks: None) -> None:
    src = "a, b = map(int, input().split()); print(a + b)"
    r = run(["python3", "main.py"], files={"main.py": src}, stdin=b"3 4\n")
    assert (r.status, r.reasons, r.exit_code, r.signal, r.stdout) == ("OK", (), 0, None, b"7\n")
    assert r.enforced == LIMITS and r.memory_peak and r.daemons_killed == 0


def test_a_fork_bomb_is_pids_limit(no_leaks: None) -> None:
    r = run(["sh", "-c", "while :; do sleep 10 & done"])
    assert r.status == "PIDS_LIMIT" and r.reasons == ("PIDS_LIMIT",)


def test_a_memory_hog_is_memory_limit_not_a_timeout(no_leaks: None) -> None:
    r = run(["python3", "-c", "x = bytearray(1 << 30)"])
    assert (r.status, r.signal) == ("MEMORY_LIMIT", 9)
    assert r.memory_peak is not None and r.memory_peak <= 64 << 20
    assert "cg-oom-killed:1" in r.to_isolate_meta()


def test_a_busy_loop_is_time_limit_within_5_percent() -> None:
    limits = sandbox.Limits(cpu_time=0.5, extra_time=0.2, wall_time=10)
    r = run(["sh", "-c", "while :; do :; done"], limits=limits)
    assert (r.status, r.signal) == ("TIME_LIMIT", 9)
    assert abs(r.cpu_time - 0.7) <= 0.05 * 0.7, r.cpu_time


def test_four_threads_sum_their_cpu_time() -> None:
    spin = "import threading\ndef f():\n    while True: pass\n[threading.Thread(target=f).start() for _ in range(4)]"
    r = run(["python3", "-c", spin], limits=sandbox.Limits(cpu_time=1.0, wall_time=20))
    assert r.status == "TIME_LIMIT" and abs(r.cpu_time - 1.0) <= 0.05
    # four processes, each with a quarter of the time: only their sum reaches the limit
    loops = "for i in 1 2 3 4; do (while :; do :; done) & done; wait"
    r = run(["sh", "-c", loops], limits=sandbox.Limits(cpu_time=1.0, wall_time=20))
    assert r.reasons == ("TIME_LIMIT",) and abs(r.cpu_time - 1.0) <= 0.05


def test_sleep_is_wall_time_limit_with_no_cpu_time(no_leaks: None) -> None:
    r = run(["sleep", "30"], limits=sandbox.Limits(cpu_time=1.0, wall_time=0.5))
    assert (r.status, r.reasons, r.signal) == ("WALL_TIME_LIMIT", ("WALL_TIME_LIMIT",), 9)
    assert r.cpu_time < 0.1 and r.wall_time >= 0.5


def test_an_output_flood_keeps_exactly_the_cap(no_leaks: None) -> None:
    r = run(["yes"])
    assert r.status == "OUTPUT_LIMIT" and r.stdout_truncated and not r.stderr_truncated
    assert r.stdout == b"y\n" * (32 << 10) and r.stdout_bytes > 64 << 10


def test_a_disk_fill_is_disk_limit(no_leaks: None) -> None:
    r = run(["dd", "if=/dev/zero", "of=big", "bs=1M", "count=100"])
    assert r.status == "DISK_LIMIT" and r.exit_code == 1 and b"No space left" in r.stderr


def test_the_hosts_loopback_is_not_reachable(no_leaks: None) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        probe = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=2)"
        none = run(["python3", "-c", probe])
        own = run(["python3", "-c", probe], network="loopback")
    assert none.status == "RUNTIME_ERROR" and b"Network is unreachable" in none.stderr  # no interface at all
    assert own.status == "RUNTIME_ERROR" and b"ConnectionRefusedError" in own.stderr  # its own loopback


def test_loopback_works_inside_the_box(no_leaks: None) -> None:
    echo = "import socket; s = socket.create_server(('127.0.0.1', 0)); socket.create_connection(s.getsockname())"
    assert run(["python3", "-c", echo], network="loopback").status == "OK"
    with pytest.raises(lc.ConfigError):
        run(["true"], network=True)


def test_a_write_outside_the_box_fails(no_leaks: None) -> None:
    before = sorted(os.listdir("/etc"))
    script = "echo x > /etc/sbx-test; echo x > /usr/sbx-test; echo x > /sbx-test; echo ok > in-box"
    with sandbox.Sandbox(limits=LIMITS) as box:
        r = box.run(["sh", "-c", script])
        assert r.status == "OK" and r.stderr.count(b"Read-only file system") == 3
        assert box.get("in-box") == b"ok\n"
    assert sorted(os.listdir("/etc")) == before and not os.path.exists("/usr/sbx-test")


@pytest.mark.parametrize(("code", "sig"), [("import ctypes; ctypes.string_at(0)", 11), ("import os; os.abort()", 6)])
def test_a_segfault_and_an_abort_are_signaled(no_leaks: None, code: str, sig: int) -> None:
    r = run(["python3", "-c", code])
    assert (r.status, r.signal, r.exit_code, r.reasons) == ("SIGNALED", sig, None, ())


def test_exit_3_is_runtime_error_and_exit_139_is_not_a_signal(no_leaks: None) -> None:
    assert (run(["sh", "-c", "exit 3"]).status, run(["sh", "-c", "exit 3"]).exit_code) == ("RUNTIME_ERROR", 3)
    r = run(["sh", "-c", "exit 139"])
    assert (r.status, r.exit_code, r.signal) == ("RUNTIME_ERROR", 139, None)


def test_a_daemon_is_killed_and_counted(no_leaks: None) -> None:
    with sandbox.Sandbox(limits=LIMITS) as box:
        for _ in range(5):  # orphans reach the init at once, beside the program: it is still told apart
            r = box.run(["sh", "-c", "(sleep 100 &); (sleep 100 &); echo started"])
            assert (r.status, r.stdout, r.daemons_killed) == ("OK", b"started\n", 2)
        r = box.run(["sh", "-c", "(while :; do date >> log; sleep 0.01; done &) ; sleep 0.1"])
        assert r.status == "OK" and r.daemons_killed >= 1
        size = len(box.get("log"))
        r = box.run(["sleep", "0.3"])
        assert len(box.get("log")) == size  # nothing of the first run writes any more


def test_sixteen_boxes_at_once_do_not_see_each_other(no_leaks: None) -> None:
    results: Dict[int, sandbox.Result] = {}
    script = "echo $1 > /tmp/me; echo $1 > /dev/shm/me; echo $1 > mine; sleep 0.3; cat /tmp/me /dev/shm/me mine"

    def one(i: int) -> None:
        results[i] = run(["sh", "-c", script, "sh", str(i)], limits=sandbox.Limits(wall_time=20, memory="64M"))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, r in results.items():
        assert r.status == "OK", (r.status, r.stderr)
        assert r.stdout.split() == [str(i).encode()] * 3  # its own /tmp, /dev/shm and box
    assert len(results) == 16


def test_the_meta_file_parses_as_judges_parse_isolates() -> None:
    def parse(text: str) -> Dict[str, str]:  # as CMS's IsolateSandbox.get_stats does
        return dict(line.split(":", 1) for line in text.splitlines() if line)

    ok = parse(run(["true"]).to_isolate_meta())
    assert ok["exitcode"] == "0" and "status" not in ok and float(ok["time"]) >= 0
    tle = parse(run(["sh", "-c", "while :; do :; done"], limits=sandbox.Limits(cpu_time=0.2)).to_isolate_meta())
    assert (tle["status"], tle["killed"], tle["exitsig"]) == ("TO", "1", "9")
    re_ = parse(run(["sh", "-c", "exit 3"]).to_isolate_meta())
    assert (re_["status"], re_["exitcode"]) == ("RE", "3")


def test_compile_once_run_many(no_leaks: None) -> None:
    src = '#include <stdio.h>\nint main(void){int a,b;scanf("%d %d",&a,&b);printf("%d\\n",a*b);return 0;}\n'
    with sandbox.Sandbox(limits=sandbox.Limits(cpu_time=10, wall_time=30, memory="256M", pids=64, disk="16M")) as box:
        box.put({"main.c": src})
        assert box.run(["gcc", "-O2", "-o", "main", "main.c"]).status == "OK"
        outs = [box.run(["./main"], stdin=f"{i} 7\n").stdout for i in range(3)]
        assert outs == [b"0\n", b"7\n", b"14\n"]


def test_get_does_not_follow_symlinks_out_of_the_box(no_leaks: None) -> None:
    with sandbox.Sandbox() as box:
        assert box.run(["ln", "-s", "/etc/shadow", "leak"]).status == "OK"
        with pytest.raises(sandbox.SandboxError):
            box.get("leak")
        with pytest.raises(sandbox.SandboxError):
            box.put({"../x": b""})


def test_bad_limits_are_config_errors_before_anything() -> None:
    with pytest.raises(lc.ConfigError) as e:
        sandbox.Limits(memory="lots")
    assert e.value.field == "limits.memory"
    with pytest.raises(lc.ConfigError):
        sandbox.Limits(cpu_time=-1)
    with pytest.raises(lc.ConfigError):
        sandbox.Limits(disk=None)


def test_every_limit_that_fired_is_a_reason(no_leaks: None) -> None:
    r = run(["sh", "-c", "dd if=/dev/zero of=big bs=1M count=10; while :; do :; done"])
    assert (r.status, r.reasons) == ("TIME_LIMIT", ("TIME_LIMIT", "DISK_LIMIT"))


LAYOUT_PROBE = """
import json
from libcontainer_py import sandbox
out = {}
try:
    sandbox.run(["true"], limits=sandbox.Limits(memory="64M", pids=8))
except sandbox.LimitUnsupported as e:
    out["refused"] = [e.limit, e.reason]
r = sandbox.run(["sh", "-c", "while :; do :; done"], limits=sandbox.Limits(memory="64M", pids=8, cpu_time=0.3),
                strict=False)
out["lenient"] = [r.status, r.enforced.memory, r.enforced.pids, round(r.cpu_time, 2)]
print(json.dumps(out))
"""


@pytest.mark.parametrize("kind", ["v1", "v2"])
def test_strict_refuses_what_the_layout_cannot_enforce(kind: str) -> None:
    """cgroup2 alone offers no memory or pids controller here: strict refuses
    before anything exists, strict=False runs without them (and times the CPU
    from cgroup2's cpu.stat); v1 alone enforces everything."""
    status, out, left = run_in_layout(kind, [sys.executable, "-c", LAYOUT_PROBE])
    assert status == 0 and left == [], (out, left)
    result = json.loads(out.splitlines()[-1])
    if kind == "v2":
        assert result["refused"] == ["memory", "no memory controller (v1 hierarchy or cgroup2)"]
        assert result["lenient"][:3] == ["TIME_LIMIT", None, None]
    else:
        assert "refused" not in result and result["lenient"][:3] == ["TIME_LIMIT", 64 << 20, 8]
    assert abs(result["lenient"][3] - 0.3) <= 0.02


def test_a_box_left_by_a_killed_owner_is_reclaimed(no_leaks: None) -> None:
    owner = (
        "import os, signal\nfrom libcontainer_py import sandbox\n"
        "box = sandbox.Sandbox()\nbox.put({'f': 'x'})\nprint(box.path, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    r = subprocess.run([sys.executable, "-c", owner], capture_output=True, text=True, timeout=60)
    assert r.returncode == -signal.SIGKILL, r.stderr
    left = r.stdout.strip()
    with open("/proc/self/mountinfo") as f:
        assert f" {left} " in f.read()  # the dead owner's box is still mounted
    with sandbox.Sandbox():
        pass  # a new box reclaims it first
    with open("/proc/self/mountinfo") as f:
        assert f" {left} " not in f.read()
    assert not os.path.exists(os.path.dirname(left))


def test_a_missing_program_is_a_typed_error_and_leaves_nothing(no_leaks: None) -> None:
    with sandbox.Sandbox(limits=LIMITS) as box:
        with pytest.raises(lc.ExecNotFound):
            box.run(["no-such-program"])
        assert box.run(["true"]).status == "OK"  # the box is still usable


def test_open_files_and_address_space_are_the_processes_rlimits(no_leaks: None) -> None:
    limits = sandbox.Limits(open_files=32, address_space="256M", wall_time=10)
    r = run(["sh", "-c", "grep -E 'open files|address space' /proc/self/limits"], limits=limits)
    lines = [line.split() for line in r.stdout.decode().splitlines()]
    assert ["Max", "address", "space", str(256 << 20), str(256 << 20), "bytes"] in lines
    assert ["Max", "open", "files", "32", "32", "files"] in lines
    r = run(["python3", "-c", "x = bytearray(512 << 20)"], limits=limits)
    assert r.status == "RUNTIME_ERROR" and b"MemoryError" in r.stderr  # refused, not OOM-killed


def test_an_image_is_the_read_only_root(busybox: str, tmp_path: Any, no_leaks: None) -> None:
    config = {"Env": ["GREETING=hello", "PATH=/bin"], "Cmd": ["/bin/sh"]}
    write_oci_layout(str(tmp_path / "layout"), [layer_from_dir(busybox)], config=config)
    store = ImageStore(str(tmp_path / "store"))
    store.import_layout(str(tmp_path / "layout"))
    script = "echo $GREETING $HOME; ls /usr/bin/python3 2>&1; touch /etc/x 2>&1; echo in-box > f; cat f"
    r = sandbox.run(["sh", "-c", script], image=(store, "test"), limits=LIMITS)
    lines = r.stdout.decode().splitlines()
    assert r.status == "OK" and lines[0] == "hello /box" and lines[-1] == "in-box"
    assert "No such file" in lines[1] and "Read-only file system" in lines[2]  # busybox's root, read-only
    with pytest.raises(lc.ConfigError):
        sandbox.run(["true"], image=("not", "a store"))
