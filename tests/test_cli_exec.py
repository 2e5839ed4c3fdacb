"""``exec`` through the command line's fast path (cli/_exec_light.py): the
plan the library saved for an earlier exec, without the config model.

What the exec'd process shows is compared with the container's first
process, as the kernel reports both: every namespace, the cgroup, the
capability sets, the seccomp filter, no_new_privs, ids, rlimits."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any, Dict, List

import pytest
from test_cli import Cli, _gone, _loaded_by, cli, rootfs

from libcontainer_py.seccomp import Seccomp

__all__ = ["cli", "rootfs"]  # test_cli.py's fixtures: a state root and bundle, the busybox rootfs

FAST = "exec: the saved plan, without the config model"
NAMESPACES = ("cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts")
#: What the exec'd process shows of itself, then of the container's first
#: process (PID 1 in its pid namespace), as the container sees them.
SHOW = (
    "for n in "
    + " ".join(NAMESPACES)
    + "; do readlink /proc/self/ns/$n; done; echo ---;"
    + "".join(
        f" cat /proc/{p}/cgroup; echo ---;"
        f" grep -E '^(Cap|Seccomp|NoNewPrivs|Uid|Gid|Groups)' /proc/{p}/status; echo ---;"
        f" grep 'open files' /proc/{p}/limits; echo ---;"
        for p in ("self", "1")
    )
    + " pwd; echo $FOO"
)


def _catches(pid: int, sig: int) -> bool:
    """Whether process ``pid`` has a handler for ``sig`` (SigCgt)."""
    with open(f"/proc/{pid}/status") as f:
        caught = next(line.split()[1] for line in f if line.startswith("SigCgt:"))
    return bool(int(caught, 16) >> (sig - 1) & 1)


def _exec(cli: Cli, log: str, *args: str) -> Any:
    """``exec`` with a debug log; the result and whether the fast path ran."""
    open(log, "w").close()
    r = cli("--debug", "--log", log, "exec", *args)
    with open(log) as f:
        r.fast = FAST in f.read()
    return r


def _bundle(cli: Cli, variant: str) -> None:
    """The container: runc's spec, sleeping, with Docker's seccomp profile
    (and its namespaces, or every kind with ``all``: user, cgroup, time too;
    without no_new_privs with ``privs``)."""
    path = os.path.join(cli.bundle, "config.json")
    with open(path) as f:
        doc = json.load(f)
    caps = doc["process"]["capabilities"]
    doc["process"].update(
        args=["sleep", "60"],
        env=["PATH=/bin:/usr/bin", "FOO=bar"],
        cwd="/tmp",
        user={"uid": 1000, "gid": 1000, "additionalGids": [20, 30]},
        capabilities={**caps, "inheritable": ["CAP_KILL"], "ambient": ["CAP_KILL"]},
        rlimits=[{"type": "RLIMIT_NOFILE", "hard": 900, "soft": 800}],
    )
    doc["linux"]["seccomp"] = Seccomp.default().to_oci()
    if variant == "privs":  # no no_new_privs: the filter is loaded while CAP_SYS_ADMIN is held
        doc["process"]["noNewPrivileges"] = False
    if variant == "all":
        doc["linux"]["namespaces"] += [{"type": "cgroup"}, {"type": "time"}, {"type": "user"}]
        doc["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
        doc["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
        doc["mounts"] = [m for m in doc["mounts"] if m["destination"] != "/sys/fs/cgroup"]
    with open(path, "w") as f:
        json.dump(doc, f)


@pytest.mark.parametrize("variant", ["default", "all", "privs"])
def test_fast_exec_is_in_the_container_as_its_process(cli: Cli, tmp_path: Any, variant: str) -> None:
    _bundle(cli, variant)
    cid = f"cli-fx-{variant}"
    assert cli("run", "-d", "-b", cli.bundle, cid).returncode == 0
    try:
        pid = cli.state(cid)["pid"]
        log = str(tmp_path / "log")
        first = _exec(cli, log, cid, "sh", "-c", SHOW)
        second = _exec(cli, log, cid, "sh", "-c", SHOW)
        assert (first.returncode, first.fast, second.returncode, second.fast) == (0, False, 0, True), (first, second)
        assert second.stdout == first.stdout
        ns, *parts, where = second.stdout.split("---\n")
        assert ns.splitlines() == [os.readlink(f"/proc/{pid}/ns/{n}") for n in NAMESPACES]
        assert parts[:3] == parts[3:] and all(parts), parts
        assert where == "/tmp\nbar\n"
        status = dict(line.split(":\t", 1) for line in parts[1].splitlines())
        nnp = "0" if variant == "privs" else "1"
        assert status["Seccomp"] == "2" and status["NoNewPrivs"] == nnp and status["Seccomp_filters"] == "1"
        assert status["CapEff"] != "0000000000000000" and status["CapAmb"] == status["CapInh"] != "0000000000000000"
        assert status["Uid"].split() == ["1000"] * 4 and status["Groups"].split() == ["20", "30"]
        host = [os.readlink(f"/proc/self/ns/{n}") for n in NAMESPACES]
        new = {n for n, mine, theirs in zip(NAMESPACES, ns.splitlines(), host) if mine != theirs}
        every = {"cgroup", "time", "user"} if variant == "all" else set()
        assert new == {"ipc", "mnt", "net", "pid", "uts"} | every
        assert _loaded_by(cli, "exec", cid, "true") == {"status": 0, "heavy": []}
        # What the fast path refuses goes the library's way, with its answer.
        r = _exec(cli, log, "--user", "0:0", cid, "id", "-u")
        assert (r.returncode, r.stdout, r.fast) == (0, "0\n", False), r
        r = _exec(cli, log, cid, "nosuch")
        assert r.returncode == 255 and "exec failed:" in r.stderr and "nosuch" in r.stderr and r.fast, r
    finally:
        assert cli("delete", "--force", cid).returncode == 0


def test_fast_exec_status_signals_detach_and_process_json(cli: Cli, tmp_path: Any) -> None:
    cli.config(["sleep", "60"], env=["PATH=/bin"])
    cid = "cli-fx-io"
    assert cli("run", "-d", "-b", cli.bundle, cid).returncode == 0
    try:
        log = str(tmp_path / "log")
        for _ in range(2):
            r = _exec(cli, log, cid, "sh", "-c", "exit 7")
        assert (r.returncode, r.fast) == (7, True), r
        r = _exec(cli, log, cid, "sh", "-c", "kill -KILL $$")
        assert (r.returncode, r.fast) == (137, True), r
        # A signal to the command is passed on to the process.
        cmd = [sys.executable, "-m", "libcontainer_py", "--root", cli.root, "exec", cid]
        proc = subprocess.Popen([*cmd, "sh", "-c", "trap 'exit 42' TERM; echo ready; while :; do sleep 0.1; done"],
                                stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        while not _catches(proc.pid, signal.SIGTERM):  # the command forwards from when it waits
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 42
        proc.stdout.close()
        # --detach and --pid-file: the process runs in the container's cgroup.
        pidfile = str(tmp_path / "exec.pid")
        r = _exec(cli, log, "--detach", "--pid-file", pidfile, cid, "sleep", "30")
        assert (r.returncode, r.fast) == (0, True), r
        exec_pid = int(open(pidfile).read())
        assert exec_pid in json.loads(cli("ps", "--format", "json", cid).stdout)
        with open(f"/proc/{exec_pid}/cgroup") as f, open(f"/proc/{cli.state(cid)['pid']}/cgroup") as g:
            assert f.read() == g.read()
        # process.json: its args, env and cwd with the plan saved for its other fields.
        proc_json = str(tmp_path / "proc.json")
        doc: Dict[str, Any] = {"args": ["sh", "-c", "echo $X $(pwd)"], "cwd": "/", "env": ["X=1", "PATH=/bin"],
                               "user": {"uid": 0, "gid": 0}}  # fmt: skip
        outputs: List[Any] = []
        for cwd, x in (("/", "1"), ("/tmp", "2")):
            doc.update(cwd=cwd, env=[f"X={x}", "PATH=/bin"])
            with open(proc_json, "w") as f:
                json.dump(doc, f)
            r = _exec(cli, log, "--process", proc_json, cid)
            outputs.append((r.returncode, r.stdout, r.fast))
        assert outputs == [(0, "1 /\n", False), (0, "2 /tmp\n", True)]
        del doc["env"]  # no PATH: the programs are looked for in the default one
        with open(proc_json, "w") as f:
            json.dump(doc, f)
        r = _exec(cli, log, "--process", proc_json, cid)
        assert (r.returncode, r.stdout, r.fast) == (0, "/tmp\n", True), r
        # Another container with the same id later: the old plans are not its.
        assert cli("delete", "--force", cid).returncode == 0
        assert _gone(exec_pid)
        assert cli("run", "-d", "-b", cli.bundle, cid).returncode == 0
        r = _exec(cli, log, cid, "true")
        assert (r.returncode, r.fast) == (0, False), r
    finally:
        assert cli("delete", "--force", cid).returncode == 0


def test_fast_exec_needs_the_cached_program(cli: Cli, tmp_path: Any) -> None:
    """Without its seccomp program in the cache the plan is not used: the
    library compiles the filter again (and the next exec is fast again)."""
    _bundle(cli, "default")
    cid = "cli-fx-bpf"
    assert cli("run", "-d", "-b", cli.bundle, cid).returncode == 0
    try:
        log = str(tmp_path / "log")
        results = [_exec(cli, log, cid, "grep", "Seccomp:", "/proc/self/status") for _ in range(2)]
        cache = os.path.join(cli.root, ".seccomp-cache")
        for name in os.listdir(cache):
            os.unlink(os.path.join(cache, name))
        results += [_exec(cli, log, cid, "grep", "Seccomp:", "/proc/self/status") for _ in range(2)]
        assert [(r.returncode, r.stdout, r.fast) for r in results] == [
            (0, "Seccomp:\t2\n", False),
            (0, "Seccomp:\t2\n", True),
            (0, "Seccomp:\t2\n", False),
            (0, "Seccomp:\t2\n", True),
        ]
    finally:
        assert cli("delete", "--force", cid).returncode == 0


def test_home_and_session_as_runc(cli: Cli, tmp_path: Any) -> None:
    """Without HOME in the environment, the container's process and each
    exec'd one get their user's home from the root's /etc/passwd ("/" for a
    user not listed), through the library's path and the fast one alike;
    a HOME given stays.  Each process leads a session of its own."""
    cli.config(["sleep", "60"], env=["PATH=/bin"])
    cid = "cli-home"
    with open(os.path.join(cli.bundle, "rootfs", "etc", "passwd")) as f:
        homes = {line.split(":")[2]: line.split(":")[5] for line in f if line.count(":") >= 6}
    assert cli("run", "-d", "-b", cli.bundle, cid).returncode == 0
    try:
        pid = cli.state(cid)["pid"]
        with open(f"/proc/{pid}/environ", "rb") as f:
            assert f.read().split(b"\0")[:-1] == [b"PATH=/bin", f"HOME={homes['0']}".encode()]
        assert os.getsid(pid) == os.getpgid(pid) == pid
        show = "echo $HOME; cut -d' ' -f1,5,6 /proc/self/stat"
        log = str(tmp_path / "log")
        seen = []
        for args in (["--user", "1000"], ["--user", "4242"], ["--env", "HOME=/mine"], []):
            for _ in range(2):  # the library's path, then the saved plan
                r = _exec(cli, log, *args, cid, "sh", "-c", show)
                home, stat = r.stdout.splitlines()
                me, pgrp, sid = stat.split()
                assert r.returncode == 0 and me == pgrp == sid, r
                seen.append((home, r.fast))
        assert seen == [
            (homes.get("1000", "/"), False), (homes.get("1000", "/"), True),
            ("/", False), ("/", True),
            ("/mine", False), ("/mine", True),
            (homes["0"], True), (homes["0"], True),  # the key of --env's plan: env is per exec
        ]  # fmt: skip
    finally:
        assert cli("delete", "--force", cid).returncode == 0
