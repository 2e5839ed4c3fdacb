"""Rootless boxes: the sandbox run by a real unprivileged user
(support/rootless.py: ``lcrootless``, with subordinate ids, running this
project from a venv of Debian's python), with every limit this host can
enforce for that user, the others refused, and nothing left behind.

This host (cgroup v1 with an empty cgroup2 beside it) delegates no cgroup
to users: CPU time then comes from the processes' own clocks and what the
box's server reaped; memory and pids cannot be limited.  With a cgroup2
directory delegated to the user, the runs get cgroups in it (CPU time from
cpu.stat, cgroup.kill).
"""

from __future__ import annotations

import os
import socket
from typing import Any, Dict, Iterator

import pytest
from support.rootless import RootlessUser, as_user, delegated_cgroup

VERDICTS = """
    from libcontainer_py import sandbox

    L = sandbox.Limits(cpu_time=1.0, wall_time=3.0, output="64k", disk="4M")
    out = {}

    def rec(name, r):
        out[name] = {
            "status": r.status, "reasons": list(r.reasons), "exit": r.exit_code, "signal": r.signal,
            "cpu": r.cpu_time, "wall": r.wall_time, "daemons": r.daemons_killed, "peak": r.memory_peak,
            "out": r.stdout.decode(errors="replace"), "err": r.stderr.decode(errors="replace"),
            "out_bytes": r.stdout_bytes, "truncated": r.stdout_truncated,
        }

    with sandbox.Sandbox(limits=L) as box:
        box.put({"main.py": "a, b = map(int, input().split()); print(a + b)"})
        rec("ok", box.run(["python3", "main.py"], stdin=b"3 4\\n"))
        rec("exit3", box.run(["sh", "-c", "exit 3"]))
        rec("segv", box.run(["python3", "-c", "import ctypes; ctypes.string_at(0)"]))
        rec("abort", box.run(["python3", "-c", "import os; os.abort()"]))
        rec("busy", box.run(["sh", "-c", "while :; do :; done"],
                            limits=sandbox.Limits(cpu_time=0.5, extra_time=0.2, wall_time=10)))
        rec("four", box.run(["sh", "-c", "for i in 1 2 3 4; do (while :; do :; done) & done; wait"],
                            limits=sandbox.Limits(cpu_time=1.0, wall_time=20)))
        rec("sleep", box.run(["sleep", "30"], limits=sandbox.Limits(cpu_time=1.0, wall_time=0.5)))
        rec("flood", box.run(["yes"]))
        probe = "import socket; socket.create_connection(('127.0.0.1', PORT), timeout=2)"
        rec("host", box.run(["python3", "-c", probe]))
        rec("outside", box.run(["sh", "-c", "echo x > /etc/x; echo x > /usr/x; echo x > /x; echo ok > in-box"]))
        rec("daemon", box.run(["sh", "-c", "(sleep 100 &); (sleep 100 &); echo started"]))
        out["in-box"] = box.get("in-box").decode()
        rec("fill", box.run(["dd", "if=/dev/zero", "of=big", "bs=1M", "count=100"]))
        try:
            box.path
        except sandbox.SandboxError as exc:
            out["path"] = str(exc)
    refused = {}
    for field in ("memory", "pids"):
        try:
            sandbox.run(["true"], limits=sandbox.Limits(**{field: "64M" if field == "memory" else 8}))
        except sandbox.LimitUnsupported as exc:
            refused[field] = [exc.limit, exc.reason]
    out["refused"] = refused
    r = sandbox.run(["true"], limits=sandbox.Limits(memory="64M", pids=8, cpu_time=1), strict=False)
    out["lenient"] = [r.status, r.enforced.memory, r.enforced.pids, r.enforced.cpu_time]
    emit(out)
"""


def test_every_verdict_a_user_can_get(rootless_user: RootlessUser, no_leaks: None) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        out: Dict[str, Any] = as_user(rootless_user, VERDICTS.replace("PORT", str(server.getsockname()[1])))
    assert (out["ok"]["status"], out["ok"]["out"], out["ok"]["exit"]) == ("OK", "7\n", 0)
    assert out["ok"]["peak"] is None  # no memory accounting without a cgroup
    assert (out["exit3"]["status"], out["exit3"]["exit"]) == ("RUNTIME_ERROR", 3)
    assert (out["segv"]["status"], out["segv"]["signal"]) == ("SIGNALED", 11)
    assert (out["abort"]["status"], out["abort"]["signal"]) == ("SIGNALED", 6)
    busy = out["busy"]
    assert (busy["status"], busy["signal"]) == ("TIME_LIMIT", 9) and abs(busy["cpu"] - 0.7) <= 0.05 * 0.7, busy
    four = out["four"]
    assert four["reasons"] == ["TIME_LIMIT"] and abs(four["cpu"] - 1.0) <= 0.05, four
    sleep = out["sleep"]
    assert (sleep["status"], sleep["signal"]) == ("WALL_TIME_LIMIT", 9) and sleep["cpu"] < 0.1 and sleep["wall"] >= 0.5
    flood = out["flood"]
    assert flood["status"] == "OUTPUT_LIMIT" and flood["truncated"] and flood["out"] == "y\n" * (32 << 10)
    assert flood["out_bytes"] > 64 << 10
    assert out["fill"]["status"] == "DISK_LIMIT" and "No space left" in out["fill"]["err"]
    assert out["host"]["status"] == "RUNTIME_ERROR" and "Network is unreachable" in out["host"]["err"]
    assert out["outside"]["status"] == "OK" and out["outside"]["err"].count("Read-only file system") == 3
    assert out["in-box"] == "ok\n"
    assert (out["daemon"]["status"], out["daemon"]["out"], out["daemon"]["daemons"]) == ("OK", "started\n", 2)
    assert "own mount namespace" in out["path"]
    for field in ("memory", "pids"):
        limit, reason = out["refused"][field]
        assert limit == field and "delegated" in reason
    assert out["lenient"] == ["OK", None, None, 1.0]
    assert rootless_user.processes() == []  # the boxes ended with their owner's calls
    left = [os.path.join(d, n) for d, dirs, files in os.walk(rootless_user.runtime_dir) for n in dirs + files]
    assert [p for p in left if "sbx" in p or ".sandboxes" in p] == [], left


@pytest.fixture
def delegated(rootless_user: RootlessUser) -> Iterator[str]:
    with delegated_cgroup(rootless_user, "lcrootless-sbx") as path:
        yield path


DELEGATED = """
    from libcontainer_py import sandbox

    with sandbox.Sandbox(limits=sandbox.Limits(cpu_time=0.3, wall_time=10)) as box:
        busy = box.run(["sh", "-c", "cat /proc/self/cgroup; while :; do :; done"])
        daemon = box.run(["sh", "-c", "(sleep 100 &); echo started"])
    try:
        sandbox.Sandbox(limits=sandbox.Limits(memory="64M"))
        refused = None
    except sandbox.LimitUnsupported as exc:
        refused = exc.reason
    emit({"busy": [busy.status, busy.cpu_time, busy.user_time, busy.stdout.decode()],
          "daemon": [daemon.status, daemon.daemons_killed], "refused": refused})
"""


def test_a_delegated_cgroup2_directory_holds_the_runs(rootless_user: RootlessUser, delegated: str) -> None:
    """The user's process in a delegated cgroup2 directory (as systemd's
    user@ service leaves it): the runs get cgroups there, CPU time from
    cpu.stat; memory is still refused (this cgroup2 has no memory controller)."""
    out = as_user(rootless_user, DELEGATED, delegated=delegated)
    status, cpu, user, cgroups = out["busy"]
    assert status == "TIME_LIMIT" and abs(cpu - 0.3) <= 0.05 * 0.3 and user > 0
    assert "0::/run-" in cgroups  # its own cgroup below the box's, in the cgroup namespace of the box
    assert out["daemon"] == ["OK", 1]
    assert "in the user's delegated cgroup2 directory" in out["refused"]
    assert [n for n in os.listdir(delegated) if os.path.isdir(os.path.join(delegated, n))] == ["init"]


ONE_ID = """
    import warnings
    from libcontainer_py import rootless, sandbox

    rootless.SUBUID = rootless.SUBGID = "/nonexistent"  # a user /etc/subuid has no line for
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the RootlessWarning that says to add a range
        with sandbox.Sandbox(limits=sandbox.Limits(wall_time=10)) as box:
            box.put({"f": "given\\n"})
            r = box.run(["sh", "-c", "id -u; grep CapEff /proc/self/status; cat f; echo made > g; kill -9 1"])
            made = box.get("g").decode()
            after = box.run(["true"]).status
    emit([r.status, r.stdout.decode().split(), made, after])
"""


def test_without_subordinate_ids_the_box_user_is_root_of_the_box_without_capabilities(
    rootless_user: RootlessUser,
) -> None:
    """Only the user's own id is mapped: the programs run as root of the
    box's user namespace, with no capability (nobody is not mapped); the
    box's PID 1, the same id, ignores even SIGKILL from inside (the kernel
    keeps a namespace's init from its own processes' signals)."""
    status, out, made, after = as_user(rootless_user, ONE_ID)
    assert (status, made, after) == ("OK", "made\n", "OK")
    assert out == ["0", "CapEff:", "0000000000000000", "given"]
