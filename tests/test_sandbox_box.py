"""A Sandbox keeps its box between runs: each run must still find the box
as the first one did (no process, file of /tmp or /dev/shm, ipc object or
memory charge of the run before), and the box's PID 1 stays out of reach."""

from __future__ import annotations

import json

from libcontainer_py import sandbox

LIMITS = sandbox.Limits(cpu_time=5.0, wall_time=10.0, memory="64M", pids=16, output="64k", disk="48M")

LEAVE = """
import os, subprocess, sys, ctypes
libc = ctypes.CDLL(None, use_errno=True)
assert libc.shmget(0, 4096, 0o1000 | 0o600) >= 0          # IPC_PRIVATE | IPC_CREAT: a SysV segment
open("/tmp/left", "w").write("x"); os.makedirs("/tmp/a/b/c"); open("/tmp/a/b/c/d", "w").write("x")
open("/dev/shm/left", "w").write("x")
subprocess.Popen(["sleep", "100"], start_new_session=True)
print(os.getpid(), flush=True)
"""

LOOK = """
import json, os
pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
segments = open("/proc/sysvipc/shm").read().splitlines()[1:]
print(json.dumps([pids, os.listdir("/tmp"), os.listdir("/dev/shm"), len(segments)]))
"""


def test_each_run_finds_the_box_as_the_first_did(no_leaks: None) -> None:
    with sandbox.Sandbox(limits=LIMITS) as box:
        first = box.run(["python3", "-c", LEAVE])
        assert (first.status, first.daemons_killed) == ("OK", 1), first.stderr
        pid = int(first.stdout)
        r = box.run(["python3", "-c", LOOK])
        assert r.status == "OK", r.stderr
        pids, tmp, shm, segments = json.loads(r.stdout)
        assert pids == [1, pids[-1]] and pids[-1] > pid  # the server and itself: nothing of the run before
        assert (tmp, shm, segments) == ([], [], 0)  # /tmp, /dev/shm and the ipc namespace emptied
        assert box.run(["sh", "-c", "test -w /tmp && test -w /dev/shm"]).status == "OK"


def test_a_run_is_not_charged_for_what_the_run_before_wrote(no_leaks: None) -> None:
    """Each run has a fresh cgroup: the 40 MB a run left in the box (tmpfs
    pages, charged to the cgroup that wrote them) do not count against the
    next run's 64 MB."""
    with sandbox.Sandbox(limits=LIMITS) as box:
        wrote = box.run(["dd", "if=/dev/zero", "of=big", "bs=1M", "count=40"])
        assert wrote.status == "OK" and wrote.memory_peak is not None and wrote.memory_peak >= 40 << 20
        r = box.run(["python3", "-c", "x = bytearray(40 << 20); x[::4096] = b'y' * len(x[::4096])"])
        assert r.status == "OK", (r.status, r.stderr)
        assert r.memory_peak is not None and r.memory_peak < 60 << 20


def test_the_box_pid_1_is_out_of_reach(no_leaks: None) -> None:
    script = "kill -9 1; echo $?; kill -STOP 1; echo $?; cat /proc/1/cmdline; echo; cat /proc/1/environ; echo $?"
    with sandbox.Sandbox(limits=LIMITS) as box:
        r = box.run(["sh", "-c", script])
        assert r.status == "OK"
        lines = r.stdout.decode().splitlines()
        assert lines[0] != "0" and lines[1] != "0"  # nobody may signal root's process
        assert lines[2].split("\0")[0] == "box" and "Permission denied" in r.stderr.decode()
        assert box.run(["true"]).status == "OK"  # and it still serves


def test_rlimits_and_environment_are_each_runs(no_leaks: None) -> None:
    with sandbox.Sandbox(limits=LIMITS) as box:
        show = ["sh", "-c", "ulimit -n; echo $X"]
        a = box.run(show, limits=sandbox.Limits(open_files=16), env={"X": "a", "PATH": "/usr/bin:/bin"})
        b = box.run(show, limits=sandbox.Limits(open_files=32), env={"X": "b", "PATH": "/usr/bin:/bin"})
        c = box.run(show)
    assert (a.stdout, b.stdout) == (b"16\na\n", b"32\nb\n") and a.enforced.open_files == 16
    assert c.stdout.endswith(b"\n\n")  # the sandbox's environment again: no X
