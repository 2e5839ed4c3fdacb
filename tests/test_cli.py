"""The runc-compatible command line, run as a subprocess on a busybox bundle,
compared with runc itself where that is cheap."""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
from support.busybox import make_rootfs
from support.processes import wait_for

RUNC = "/usr/sbin/runc"
STATE_KEYS = ["ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "owner"]


class Result:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr

    def __repr__(self) -> str:
        return f"Result({self.returncode}, out={self.stdout!r}, err={self.stderr!r})"


def _run(argv: List[str], cwd: Optional[str] = None, timeout: float = 60) -> Result:
    # Files, not pipes: a created container inherits stdout/stderr and would
    # hold a pipe open long after the command returned.
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        rc = wait_for(argv, timeout=timeout, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=cwd)
        out.seek(0)
        err.seek(0)
        return Result(rc, out.read(), err.read())


class Cli:
    """``python -m libcontainer_py --root ROOT ...`` (and runc with its own root)."""

    def __init__(self, root: str, bundle: str) -> None:
        self.root, self.bundle = root, bundle

    def __call__(self, *args: str, cwd: Optional[str] = None, timeout: float = 60) -> Result:
        return _run([sys.executable, "-m", "libcontainer_py", "--root", self.root, *args], cwd=cwd, timeout=timeout)

    def config(self, args: List[str], terminal: bool = False, **process: Any) -> None:
        path = os.path.join(self.bundle, "config.json")
        with open(path) as f:
            doc = json.load(f)
        doc["process"].update(args=args, terminal=terminal, **process)
        with open(path, "w") as f:
            json.dump(doc, f)

    def state(self, cid: str) -> Dict[str, Any]:
        r = self("state", cid)
        assert r.returncode == 0, r
        doc: Dict[str, Any] = json.loads(r.stdout)
        return doc


#: What a state root keeps besides containers: compiled seccomp programs and
#: create recipes (cli/_create_recipe.py).
SHORTCUT_DIRS = (".seccomp-cache", ".create")


def _state_dirs(root: str) -> List[str]:
    """What is under a state root besides the shortcuts (the containers)."""
    return sorted(n for n in os.listdir(root) if n not in SHORTCUT_DIRS) if os.path.isdir(root) else []


def _cgroup_dirs(cid: str) -> List[str]:
    return [d for depth in range(1, 4) for d in glob.glob("/sys/fs/cgroup/" + "*/" * depth + cid)]


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: Any) -> str:
    return make_rootfs(str(tmp_path_factory.mktemp("cli-rootfs") / "rootfs"))


@pytest.fixture
def cli(tmp_path: Any, rootfs: str) -> Iterator[Cli]:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    os.symlink(rootfs, bundle / "rootfs")
    root = str(tmp_path / "state")
    c = Cli(root, str(bundle))
    r = c("spec", cwd=str(bundle))
    assert r.returncode == 0, r
    c.config(["/bin/true"])
    yield c
    # Nothing left behind: no state, no cgroup, no container process.
    leftovers = _state_dirs(root)
    for cid in leftovers:
        c("delete", "--force", cid)
    assert leftovers == []
    assert [d for d in glob.glob("/sys/fs/cgroup/*/libcontainer_py/cli-*")] == []


@pytest.fixture
def runc(tmp_path: Any) -> Iterator[Any]:
    root = str(tmp_path / "runc-root")
    made: List[str] = []

    def call(*args: str, cwd: Optional[str] = None) -> Result:
        if args and args[0] in ("create", "run"):
            made.append(args[-1])
        return _run([RUNC, "--root", root, *args], cwd=cwd)

    yield call
    for cid in made:
        _run([RUNC, "--root", root, "delete", "--force", cid])
    shutil.rmtree(root, ignore_errors=True)


def _gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


# -- spec ------------------------------------------------------------------------


def test_spec_is_runcs_and_accepted(tmp_path: Any, rootfs: str) -> None:
    import libcontainer_py as lc

    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    mine.mkdir()
    theirs.mkdir()
    assert _run([sys.executable, "-m", "libcontainer_py", "spec"], cwd=str(mine)).returncode == 0
    assert _run([RUNC, "spec"], cwd=str(theirs)).returncode == 0
    a = json.loads((mine / "config.json").read_text())
    b = json.loads((theirs / "config.json").read_text())
    assert a["mounts"] == b["mounts"] and a["linux"] == b["linux"] and a["root"] == b["root"]
    assert "ambient" not in a["process"]["capabilities"]
    assert {k: v for k, v in a["process"].items() if k != "capabilities"} == {
        k: v for k, v in b["process"].items() if k != "capabilities"
    }
    os.symlink(rootfs, mine / "rootfs")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        oci = lc.load_bundle(str(mine))
    assert oci.config.process.terminal is True
    again = _run([sys.executable, "-m", "libcontainer_py", "spec"], cwd=str(mine))
    assert again.returncode == 1 and "File config.json exists. Remove it first" in again.stderr
    rootless = tmp_path / "rootless"
    rootless.mkdir()
    assert _run([sys.executable, "-m", "libcontainer_py", "spec", "--rootless"], cwd=str(rootless)).returncode == 0
    doc = json.loads((rootless / "config.json").read_text())
    assert {"type": "user"} in doc["linux"]["namespaces"] and doc["linux"]["uidMappings"][0]["hostID"] == os.geteuid()


# -- run -------------------------------------------------------------------------


@pytest.mark.parametrize("script,status", [("exit 0", 0), ("exit 7", 7), ("exit 130", 130)])
def test_run_exit_status_passes_through(cli: Cli, script: str, status: int) -> None:
    cli.config(["sh", "-c", f"echo out; echo err >&2; {script}"])
    r = cli("run", "-b", cli.bundle, "cli-run")
    assert (r.returncode, r.stdout, r.stderr) == (status, "out\n", "err\n")
    assert _state_dirs(cli.root) == []
    assert _cgroup_dirs("cli-run") == []


def test_run_killed_and_signals_forwarded(cli: Cli) -> None:
    import signal

    cli.config(["sh", "-c", "trap 'exit 42' TERM; while :; do sleep 0.05; done"])
    argv = [sys.executable, "-m", "libcontainer_py", "--root", cli.root, "run", "-b", cli.bundle]
    for cid, how, status in (("cli-fwd", "forward", 42), ("cli-killed", "kill", 137)):
        p = subprocess.Popen([*argv, cid], stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while cli("state", cid).stdout.find('"running"') < 0:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        if how == "forward":
            p.send_signal(signal.SIGTERM)  # to the CLI: passed on to the container
        else:
            assert cli("kill", cid, "KILL").returncode == 0
        assert p.wait(10) == status
    assert _state_dirs(cli.root) == []


def test_run_detach(cli: Cli) -> None:
    cli.config(["sleep", "30"])
    r = cli("run", "-d", "-b", cli.bundle, "--pid-file", os.path.join(cli.bundle, "pid"), "cli-det")
    assert r.returncode == 0, r
    pid = int(open(os.path.join(cli.bundle, "pid")).read())
    assert cli.state("cli-det")["status"] == "running"
    assert cli.state("cli-det")["pid"] == pid
    assert cli("delete", "-f", "cli-det").returncode == 0
    assert _gone(pid)


# -- the lifecycle ---------------------------------------------------------------


def test_create_start_state_list_kill_delete(cli: Cli) -> None:
    cli.config(["sleep", "30"])
    pidfile = os.path.join(cli.bundle, "ctr.pid")
    r = cli("create", "--bundle", cli.bundle, "--pid-file", pidfile, "cli-cycle")
    assert r.returncode == 0, r
    pid = int(open(pidfile).read())  # no newline, as runc
    st = cli.state("cli-cycle")
    assert list(st) == STATE_KEYS
    assert (st["id"], st["pid"], st["status"], st["bundle"]) == ("cli-cycle", pid, "created", cli.bundle)
    assert st["rootfs"] == os.path.join(cli.bundle, "rootfs") and st["created"].endswith("Z") and st["owner"] == ""
    listed = cli("list", "--format", "json")
    [item] = json.loads(listed.stdout)
    assert (item["id"], item["owner"]) == ("cli-cycle", "root")
    table = cli("list").stdout.splitlines()
    assert table[0].split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    assert table[1].split()[:3] == ["cli-cycle", str(pid), "created"]
    assert cli("list", "-q").stdout == "cli-cycle\n"
    assert cli("start", "cli-cycle").returncode == 0
    assert cli.state("cli-cycle")["status"] == "running"
    # wrong states, with runc's messages
    r = cli("start", "cli-cycle")
    assert r.returncode == 1 and "cannot start an already running container" in r.stderr
    r = cli("delete", "cli-cycle")
    assert r.returncode == 1 and "cannot delete container cli-cycle that is not stopped: running" in r.stderr
    r = cli("resume", "cli-cycle")
    assert r.returncode == 1 and "container not paused" in r.stderr
    assert cli("kill", "cli-cycle", "KILL").returncode == 0
    assert _gone(pid)
    st = cli.state("cli-cycle")
    assert (st["status"], st["pid"]) == ("stopped", 0)
    r = cli("kill", "cli-cycle")
    assert r.returncode == 1 and "container not running" in r.stderr
    r = cli("start", "cli-cycle")
    assert r.returncode == 1 and "cannot start a container that has stopped" in r.stderr
    assert cli("delete", "cli-cycle").returncode == 0
    r = cli("state", "cli-cycle")
    assert r.returncode == 1 and "container does not exist" in r.stderr
    assert cli("delete", "--force", "cli-cycle").returncode == 0  # as runc: nothing to do
    assert _cgroup_dirs("cli-cycle") == []


@pytest.mark.parametrize("sig", ["TERM", "SIGTERM", "15", "sigterm"])
def test_kill_signal_names(cli: Cli, sig: str) -> None:
    cli.config(["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.05; done"])
    assert cli("run", "-d", "-b", cli.bundle, "--pid-file", os.path.join(cli.bundle, "p"), "cli-sig").returncode == 0
    pid = int(open(os.path.join(cli.bundle, "p")).read())
    assert cli("kill", "cli-sig", sig).returncode == 0
    assert _gone(pid)
    assert cli("delete", "cli-sig").returncode == 0


def test_kill_unknown_signal(cli: Cli) -> None:
    cli.config(["sleep", "30"])
    assert cli("create", "-b", cli.bundle, "cli-badsig").returncode == 0
    r = cli("kill", "cli-badsig", "NOSUCH")
    assert r.returncode == 1 and "unknown signal" in r.stderr
    assert cli("delete", "--force", "cli-badsig").returncode == 0  # created: only with --force (runtime.md)


def test_kill_all(cli: Cli) -> None:
    cli.config(["sh", "-c", "sleep 30 & sleep 30 & wait"])
    assert cli("run", "-d", "-b", cli.bundle, "cli-all").returncode == 0
    time.sleep(0.2)
    assert len(json.loads(cli("ps", "--format", "json", "cli-all").stdout)) == 3
    assert cli("kill", "--all", "cli-all", "KILL").returncode == 0
    deadline = time.monotonic() + 5
    while cli.state("cli-all")["status"] != "stopped" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cli.state("cli-all")["status"] == "stopped"
    assert cli("delete", "cli-all").returncode == 0


def test_exec_pause_resume_ps_events(cli: Cli) -> None:
    cli.config(["sleep", "30"], env=["PATH=/bin", "FOO=bar"])
    assert cli("run", "-d", "-b", cli.bundle, "cli-exec").returncode == 0
    r = cli("exec", "cli-exec", "sh", "-c", "echo $FOO; hostname; exit 3")
    assert (r.returncode, r.stdout) == (3, "bar\nlibcontainer-py\n")
    r = cli(
        "exec",
        "--env",
        "FOO=baz",
        "--cwd",
        "/tmp",
        "--user",
        "1000:1000",
        "cli-exec",
        "sh",
        "-c",
        "echo $FOO $(pwd) $(id -u):$(id -g)",
    )
    assert r.stdout == "baz /tmp 1000:1000\n", r
    proc = {
        "args": ["sh", "-c", "echo from-json $X"],
        "cwd": "/",
        "env": ["X=1", "PATH=/bin"],
        "user": {"uid": 0, "gid": 0},
    }
    path = os.path.join(cli.bundle, "proc.json")
    with open(path, "w") as f:
        json.dump(proc, f)
    r = cli("exec", "--process", path, "cli-exec")
    assert (r.returncode, r.stdout) == (0, "from-json 1\n"), r
    pidfile = os.path.join(cli.bundle, "exec.pid")
    r = cli("exec", "--detach", "--pid-file", pidfile, "cli-exec", "sleep", "20")
    assert r.returncode == 0, r
    exec_pid = int(open(pidfile).read())
    pids = json.loads(cli("ps", "--format", "json", "cli-exec").stdout)
    assert exec_pid in pids and cli.state("cli-exec")["pid"] in pids and len(pids) == 2
    table = cli("ps", "cli-exec").stdout.splitlines()
    assert "PID" in table[0].split() and len(table) == 3
    stats = json.loads(cli("events", "--stats", "cli-exec").stdout)
    assert (stats["type"], stats["id"]) == ("stats", "cli-exec")
    assert stats["data"]["pids"]["current"] == 2 and stats["data"]["memory"]["usage"]["usage"] > 0
    assert cli("pause", "cli-exec").returncode == 0
    assert cli.state("cli-exec")["status"] == "paused"
    r = cli("pause", "cli-exec")
    assert r.returncode == 1 and "container not running" in r.stderr
    r = cli("exec", "cli-exec", "true")
    assert r.returncode == 255 and "exec failed: cannot exec in a paused container" in r.stderr  # as runc
    assert cli("resume", "cli-exec").returncode == 0
    assert cli.state("cli-exec")["status"] == "running"
    assert cli("delete", "--force", "cli-exec").returncode == 0
    assert _gone(exec_pid)


# -- logging -----------------------------------------------------------------------


def test_log_json_errors(cli: Cli, tmp_path: Any) -> None:
    log = str(tmp_path / "log.json")
    r = cli("--log", log, "--log-format", "json", "start", "nosuch")
    assert r.returncode == 1
    assert r.stderr == "container does not exist\n"  # the log went to the file: plain on stderr
    [line] = open(log).read().splitlines()
    rec = json.loads(line)
    assert (rec["level"], rec["msg"]) == ("error", "container does not exist") and rec["time"].endswith("Z")
    r = cli("start", "nosuch")  # no --log: the text record on stderr
    assert (
        r.returncode == 1 and r.stderr.startswith('time="') and 'level=error msg="container does not exist"' in r.stderr
    )


def test_systemd_cgroup_refused(cli: Cli) -> None:
    r = cli("--systemd-cgroup", "list")
    assert r.returncode == 1 and "--systemd-cgroup is not supported" in r.stderr


def test_create_errors(cli: Cli) -> None:
    cli.config(["sleep", "30"])
    assert cli("create", "-b", cli.bundle, "cli-dup").returncode == 0
    r = cli("create", "-b", cli.bundle, "cli-dup")
    assert r.returncode == 1 and "container with given ID already exists" in r.stderr
    assert cli("delete", "--force", "cli-dup").returncode == 0
    r = cli("create", "-b", cli.bundle, "--console-socket", "/nonexistent.sock", "cli-cs")
    assert r.returncode == 1 and "cannot use console socket" in r.stderr
    cli.config(["sh"], terminal=True)
    r = cli("create", "-b", cli.bundle, "cli-tty")
    assert r.returncode == 1 and "cannot allocate tty if runc will detach without setting console socket" in r.stderr
    r = cli("create", "-b", "/nonexistent", "cli-nobundle")
    assert r.returncode == 1 and "config.json" in r.stderr


# -- terminal ------------------------------------------------------------------------


class ConsoleSocket:
    """A --console-socket listening at ``path``: a thread accepts one
    connection and receives the terminal's (name, [master fd])."""

    def __init__(self, path: str) -> None:
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(1)
        self.box: List[Tuple[bytes, List[int]]] = []
        self.thread = threading.Thread(target=self._receive)
        self.thread.start()

    def _receive(self) -> None:
        conn, _ = self.server.accept()
        with conn:
            msg, fds, _, _ = socket.recv_fds(conn, 4096, 1)
            self.box.append((msg, fds))

    def received(self) -> Tuple[bytes, int]:
        """The terminal's name and master fd, once sent (within 10 s)."""
        self.thread.join(10)
        [(name, [master])] = self.box
        return name, master

    def close(self) -> None:
        self.server.close()
        self.thread.join(10)


def _read_all(fd: int, timeout: float = 10) -> bytes:
    import select

    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                data = os.read(fd, 4096)
            except OSError:  # EIO: every slave end closed
                break
            if not data:
                break
            out += data
    return out


def test_console_socket(cli: Cli, tmp_path: Any) -> None:
    cli.config(["sh", "-c", "echo tty-ok; tty; stty size"], terminal=True)
    sock_path = str(tmp_path / "console.sock")
    console = ConsoleSocket(sock_path)
    try:
        r = cli("create", "-b", cli.bundle, "--console-socket", sock_path, "cli-tty")
        assert r.returncode == 0, r
        name, master = console.received()
        assert name.startswith(b"/dev/")
        assert cli("start", "cli-tty").returncode == 0
        out = _read_all(master)
        os.close(master)
        lines = out.decode().replace("\r", "").splitlines()
        assert lines[0] == "tty-ok" and lines[1] == "/dev/pts/0", lines
    finally:
        console.close()
        cli("delete", "-f", "cli-tty")


# -- compared with runc ----------------------------------------------------------------


def test_same_as_runc(cli: Cli, runc: Any) -> None:
    cli.config(["sleep", "30"])
    path = os.path.join(cli.bundle, "config.json")
    with open(path) as f:
        doc = json.load(f)
    doc["root"]["path"] = os.path.realpath(os.path.join(cli.bundle, "rootfs"))  # runc refuses a symlink
    with open(path, "w") as f:
        json.dump(doc, f)
    for tool, cid in ((cli, "cli-cmp"), (runc, "runc-cmp")):
        r = tool("create", "--bundle", cli.bundle, cid)
        assert r.returncode == 0, (tool, r)
    mine = cli.state("cli-cmp")
    theirs = json.loads(runc("state", "runc-cmp").stdout)
    assert sorted(mine) == sorted(theirs)
    assert [k for k in theirs if k in mine] == list(mine)  # same order
    assert (mine["status"], mine["bundle"], mine["owner"]) == (theirs["status"], theirs["bundle"], theirs["owner"])
    for tool, cid in ((cli, "cli-cmp"), (runc, "runc-cmp")):
        assert tool("start", cid).returncode == 0
    cases = [
        ("start", "{id}"),  # already running
        ("delete", "{id}"),  # running, no --force
        ("resume", "{id}"),  # not paused
        ("state", "nosuch"),
        ("start", "nosuch"),
        ("kill", "nosuch"),
        ("delete", "--force", "nosuch"),
    ]
    for case in cases:
        codes = []
        for tool, cid in ((cli, "cli-cmp"), (runc, "runc-cmp")):
            codes.append(tool(*(a.format(id=cid) for a in case)).returncode)
        assert codes[0] == codes[1], (case, codes)
    for tool, cid in ((cli, "cli-cmp"), (runc, "runc-cmp")):
        assert tool("kill", cid, "KILL").returncode == 0
    time.sleep(1.5)
    for case in [("kill", "{id}"), ("start", "{id}"), ("pause", "{id}")]:
        codes = [
            tool(*(a.format(id=cid) for a in case)).returncode for tool, cid in ((cli, "cli-cmp"), (runc, "runc-cmp"))
        ]
        assert codes[0] == codes[1], (case, codes)
    for tool, cid in ((cli, "cli-cmp"), (runc, "runc-cmp")):
        assert tool("delete", cid).returncode == 0


def test_features(cli: Cli) -> None:
    doc = json.loads(cli("features").stdout)
    assert doc["linux"]["cgroup"]["systemd"] is False
    assert "tmpcopyup" in doc["mountOptions"] and "rbind" in doc["mountOptions"]
    assert "remount" not in doc["mountOptions"]
    assert "SCMP_ACT_NOTIFY" in doc["linux"]["seccomp"]["actions"]
    assert "CAP_SYS_ADMIN" in doc["linux"]["capabilities"]


def test_unknown_flag_exits_1_as_runc(cli: Cli) -> None:
    r = cli("--no-subreaper", "list")
    assert r.returncode == 1 and "unrecognized arguments: --no-subreaper" in r.stderr


@pytest.mark.parametrize("command", ["features", "list"])  # larger and smaller than a pipe buffer
def test_closed_stdout_is_quiet(cli: Cli, command: str) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written
    try:
        r = subprocess.run(
            [sys.executable, "-m", "libcontainer_py", "--root", cli.root, command],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=30,
        )
    finally:
        os.close(write_end)
    assert r.returncode == 141 and r.stderr == ""


def test_python_m_and_help() -> None:
    r = _run([sys.executable, "-m", "libcontainer_py", "--help"])
    assert r.returncode == 0 and "create" in r.stdout


# -- start-up cost ---------------------------------------------------------------

#: What the light commands must not load: the config model and what it pulls
#: in, and the standard modules that cost milliseconds at start-up (the
#: light path reads its command line, JSON and signals without them).
HEAVY = (
    "attr",
    "attrs",
    "psutil",
    "typing",
    "subprocess",
    "libcontainer_py.config",
    "libcontainer_py.container",
    "argparse",
    "json",
    "re",
    "enum",
    "socket",
    "signal",
    "datetime",
)

#: Imports nothing itself before the command: a module loaded by then came
#: with the interpreter (site, an editable install's hook), not with us.
_PROBE = """
import os, sys
before = set(sys.modules)
from libcontainer_py.cli import main
status = main(sys.argv[1:])
heavy = [m for m in os.environ["HEAVY"].split(",") if m in sys.modules and m not in before]
sys.stdout.flush()
print("PROBE", status, ",".join(heavy))
"""


def _loaded_by(cli: Cli, *args: str) -> Dict[str, Any]:
    """Run one command in a fresh interpreter; its status and the HEAVY
    modules it imported."""
    env = dict(os.environ, HEAVY=",".join(HEAVY))
    with tempfile.TemporaryFile("w+") as out:
        subprocess.run(
            [sys.executable, "-c", _PROBE, "--root", cli.root, *args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.DEVNULL,
            env=env,
            timeout=60,
        )
        out.seek(0)
        _, status, heavy = (out.read().strip().splitlines()[-1].split(" ") + [""])[:3]
    return {"status": int(status), "heavy": [m for m in heavy.split(",") if m]}


def test_light_commands_do_not_load_the_config_model(cli: Cli) -> None:
    """state, list, start, ps, pause, resume, kill and delete of a real
    container (with a cgroup) import no attrs, psutil, typing, subprocess
    or config model: an engine calls them several times per container."""
    cli.config(["/bin/sleep", "100"])
    assert cli("create", "--bundle", cli.bundle, "cli-light").returncode == 0
    try:
        for args in (
            ("state", "cli-light"),
            ("list",),
            ("start", "cli-light"),
            ("state", "cli-light"),  # running: asks the cgroup's freezer
            ("ps", "--format", "json", "cli-light"),
            ("pause", "cli-light"),
            ("resume", "cli-light"),
            ("kill", "--all", "cli-light", "KILL"),
        ):
            assert _loaded_by(cli, *args) == {"status": 0, "heavy": []}, args
        assert _gone(cli.state("cli-light")["pid"]) or cli.state("cli-light")["status"] == "stopped"
        assert _loaded_by(cli, "delete", "cli-light") == {"status": 0, "heavy": []}
        assert cli("state", "cli-light").returncode == 1
    finally:
        cli("delete", "--force", "cli-light")


def test_run_and_create_parse_only_their_command(cli: Cli) -> None:
    """The whole parser is built only when the command line needs it (help,
    abbreviations, errors): the same answers either way."""
    from libcontainer_py.cli._parser import build as _parser
    from libcontainer_py.cli._parser import command_of

    assert command_of(["--root", "/x", "--log-format=json", "--debug", "run", "-b", "b", "id"]) == "run"
    assert command_of(["--ro", "/x", "run", "id"]) is None  # an abbreviation: the whole parser
    assert command_of(["-h", "run"]) is None
    assert command_of(["nosuch"]) is None
    argv = ["--root", "/x", "run", "-d", "--keep", "-b", "b", "id"]
    assert vars(_parser("run").parse_args(argv)) == vars(_parser().parse_args(argv))


CGROUP_SCRIPT = (
    "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; echo ---;"
    " cat /proc/self/cgroup; echo ---; grep ' /sys/fs/cgroup' /proc/self/mountinfo; echo ---;"
    " ls /sys/fs/cgroup; echo ---; (echo 1 > /sys/fs/cgroup/pids/pids.max) 2>&1; mkdir /sys/fs/cgroup/x 2>&1; true"
)


@pytest.mark.parametrize("variant", ["plain", "cgroupns", "userns", "userns+cgroupns"])
def test_cgroup_mount_as_runc(cli: Cli, runc: Any, variant: str) -> None:
    """podman's mount of type "cgroup" (read-only, a memory and a pids
    limit): the container sees its own v1 hierarchies with its limits, as
    with runc on the same bundle; in a user namespace too (bind mounts
    without a cgroup namespace).  runc 1.1 leaves the tmpfs under them
    writable; ours is read-only as the mount asks."""
    cli.config(["sh", "-c", CGROUP_SCRIPT])
    path = os.path.join(cli.bundle, "config.json")
    with open(path) as f:
        doc = json.load(f)
    doc["root"]["path"] = os.path.realpath(os.path.join(cli.bundle, "rootfs"))
    for m in doc["mounts"]:
        if m["type"] == "cgroup":
            m["options"] = ["rprivate", "nosuid", "noexec", "nodev", "relatime", "ro"]
    doc["linux"]["resources"].update(memory={"limit": 64 << 20}, pids={"limit": 50})
    if "cgroupns" in variant:
        doc["linux"]["namespaces"].append({"type": "cgroup"})
    if "userns" in variant:
        # runc binds the root as the namespace's root, which must be able to
        # reach it: open up the search permission of this run's temp dirs.
        d = doc["root"]["path"]
        while d.startswith(tempfile.gettempdir()) and d != "/":
            os.chmod(d, os.stat(d).st_mode | 0o111)
            d = os.path.dirname(d)
        doc["linux"]["namespaces"].append({"type": "user"})
        doc["linux"]["uidMappings"] = doc["linux"]["gidMappings"] = [
            {"containerID": 0, "hostID": 100000, "size": 65536}
        ]
    with open(path, "w") as f:
        json.dump(doc, f)
    outputs = []
    for tool, cid in ((cli, "cli-cgm"), (runc, "runc-cgm")):
        r = tool("run", "--bundle", cli.bundle, cid)
        assert r.returncode == 0, (tool, r)
        outputs.append(r.stdout.split("---\n"))
    (limits, cgroups, mountinfo, listing, writes), theirs = outputs
    assert limits == theirs[0] == f"{64 << 20}\n50\n"
    assert listing == theirs[3] and listing.split() == [
        "blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "memory", "pids", "systemd"
    ]  # fmt: skip
    assert "Read-only file system" in writes and "can't create directory" in writes
    own = {c: p for line in cgroups.splitlines() for _, cs, p in [line.split(":", 2)] for c in cs.split(",")}
    if "cgroupns" in variant:
        assert set(own.values()) == {"/"}
    else:
        assert own["memory"] == own["pids"] != "/"

    def fields(text: str) -> List[Tuple[str, ...]]:
        # mount point, per-mount options, fstype, super options; the root too
        out = []
        for line in text.splitlines():
            f = line.split()
            sep = f.index("-")
            out.append((f[4], f[5], *f[sep + 1 : sep + 2], f[sep + 3], f[3]))
        return out

    mine, runcs = fields(mountinfo), fields(theirs[2])
    assert len(mine) == len(runcs) == 10
    assert mine[0][0] == "/sys/fs/cgroup" and mine[0][2] == "tmpfs" and mine[0][1].startswith("ro,")
    assert runcs[0][1].startswith("rw,") and mine[0][3] == runcs[0][3]
    for m, t in zip(mine[1:], runcs[1:]):
        assert m[:4] == t[:4] and m[1].startswith("ro,") and m[2] == "cgroup"
        hierarchy = os.path.basename(m[0])
        controller = "name=systemd" if hierarchy == "systemd" else hierarchy
        assert m[4] == ("/" if "cgroupns" in variant else own[controller])
