"""The command line's features that tests/test_cli.py does not cover: update,
events streaming, the foreground terminal, --preserve-fds, --no-pivot,
exec into a terminal over a console socket, detached processes left to a
subreaper, and wrong-state errors.  Each asserts on what the kernel shows
(cgroup files, /proc, the terminal) and, where runc behaves the same, runs
runc on the same bundle and compares.

Container ids carry a random suffix: cgroup paths are global, and other
runs of these tests may share the machine."""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
import uuid
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import pytest
from support.observe import open_fds
from test_cli import RUNC, SHORTCUT_DIRS, Cli, ConsoleSocket, Result, _gone, _read_all, _run, rootfs

__all__ = ["rootfs"]  # the module-scoped busybox rootfs fixture, shared with test_cli.py

PR_SET_CHILD_SUBREAPER = 36
NR_LISTMOUNT = 458  # x86_64
NS_GET_MNTNS_ID = 0x8008B705  # _IOR(0xb7, 5, __u64)
LSMT_ROOT = 0xFFFFFFFFFFFFFFFF


class Tool(Cli):
    """A runtime's command line with its own --root: called like Cli, or
    its argv for a Popen."""

    def argv(self) -> List[str]:
        return [sys.executable, "-m", "libcontainer_py", "--root", self.root]

    def __call__(self, *args: str, cwd: Optional[str] = None, timeout: float = 60) -> Result:
        return _run([*self.argv(), *args], cwd=cwd, timeout=timeout)


class Ours(Tool):
    pass


class Runc(Tool):
    def argv(self) -> List[str]:
        return [RUNC, "--root", self.root]


class Tools:
    """Both runtimes on one bundle (rootfs given by its real path: runc
    refuses a symlink), each with its own state root."""

    def __init__(self, tmp_path: Any, rootfs: str) -> None:
        self.bundle = str(tmp_path / "bundle")
        os.mkdir(self.bundle)
        self.ours = Ours(str(tmp_path / "state"), self.bundle)
        self.runc = Runc(str(tmp_path / "runc-root"), self.bundle)
        self.suffix = uuid.uuid4().hex[:8]
        r = self.ours("spec", cwd=self.bundle)
        assert r.returncode == 0, r
        self.edit(lambda doc: doc["root"].update(path=os.path.realpath(rootfs)))
        self.ours.config(["/bin/true"])

    def both(self, name: str) -> List[Tuple[Tool, str]]:
        """(tool, container id) for ours, then runc."""
        return [(self.ours, f"lcf-{name}-{self.suffix}"), (self.runc, f"rcf-{name}-{self.suffix}")]

    def outputs(self, name: str) -> List[str]:
        """The bundle run (and deleted) by ours, then runc: the stdout of
        each, which must exit 0."""
        outputs = []
        for tool, cid in self.both(name):
            r = tool("run", "-b", self.bundle, cid)
            tool("delete", "--force", cid)
            assert r.returncode == 0, r
            outputs.append(r.stdout)
        return outputs

    def edit(self, change: Callable[[Dict[str, Any]], Any]) -> None:
        path = os.path.join(self.bundle, "config.json")
        with open(path) as f:
            doc = json.load(f)
        change(doc)
        with open(path, "w") as f:
            json.dump(doc, f)


def _children() -> List[int]:
    import psutil

    return sorted(p.pid for p in psutil.Process().children())


def _fd_names() -> List[str]:
    return sorted(open_fds())


@pytest.fixture
def tools(tmp_path: Any, rootfs: str) -> Iterator[Tools]:
    children, fds = _children(), _fd_names()
    t = Tools(tmp_path, rootfs)
    yield t
    # Nothing left behind: no state, no cgroup of ours or runc's, no child
    # process or fd of this one (these two are this process's own: other
    # tests running on the machine do not change them).
    leftovers = []
    for tool in (t.ours, t.runc):
        for cid in os.listdir(tool.root) if os.path.isdir(tool.root) else []:
            if cid in SHORTCUT_DIRS:
                continue
            leftovers.append(cid)
            tool("delete", "--force", cid)
    assert leftovers == []
    assert _cgroup_dirs(t.suffix) == []
    assert (_children(), _fd_names()) == (children, fds)


def _cgroup_dirs(suffix: str) -> List[str]:
    out = []
    for top, dirs, _ in os.walk("/sys/fs/cgroup"):
        out += [os.path.join(top, d) for d in dirs if d.endswith(suffix)]
        if top.count("/") >= 6:
            dirs[:] = []
    return out


def _wait(predicate: Callable[[], bool], timeout: float = 10, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what or predicate}"
        time.sleep(0.05)


def _pid(tool: Cli, cid: str) -> int:
    pid = tool.state(cid)["pid"]
    assert isinstance(pid, int) and pid > 0
    return pid


def _stop(tool: Cli, cid: str) -> None:
    assert tool("kill", cid, "KILL").returncode == 0
    _wait(lambda: tool.state(cid)["status"] == "stopped", what=f"{cid} to stop")


def _holds(fd: int, data: bytes) -> Callable[[], bool]:
    return lambda: os.pread(fd, len(data) + 1, 0) == data


def _runs_busybox(pid: int) -> Callable[[], bool]:
    """The container's first process has exec'd its program (busybox)."""
    return lambda: os.readlink(f"/proc/{pid}/exe").endswith("busybox")


def _exists(path: str) -> Callable[[], bool]:
    return lambda: os.path.exists(path)


def _message(r: Result) -> str:
    """The msg of the last logrus record on stderr."""
    found = re.findall(r'msg="((?:[^"\\]|\\.)*)"', r.stderr)
    assert found, r
    return str(found[-1])


# -- update ----------------------------------------------------------------------------


def _limits(pid: int) -> Dict[str, str]:
    """The container's limits, from the cgroup files of the cgroup that
    /proc/PID/cgroup names (v1 controllers, else the unified hierarchy)."""
    paths: Dict[str, str] = {}
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for c in controllers.split(",") if controllers else [""]:
                paths[c] = path

    def read(controller: str, name: str) -> str:
        base = f"/sys/fs/cgroup/{controller}" if controller else "/sys/fs/cgroup"
        with open(f"{base}{paths[controller]}/{name}") as f:
            return f.read().strip()

    if "memory" in paths:
        return {
            "memory": read("memory", "memory.limit_in_bytes"),
            "pids": read("pids", "pids.max"),
            "cpu": read("cpu", "cpu.cfs_quota_us") + " " + read("cpu", "cpu.cfs_period_us"),
        }
    return {"memory": read("", "memory.max"), "pids": read("", "pids.max"), "cpu": read("", "cpu.max")}


def test_update_changes_the_cgroup_as_runc(tools: Tools) -> None:
    tools.ours.config(["sleep", "60"])
    both = tools.both("upd")
    for tool, cid in both:
        assert tool("run", "-d", "-b", tools.bundle, cid).returncode == 0
    flags = ["--memory", "64m", "--pids-limit", "17", "--cpu-quota", "20000", "--cpu-period", "100000"]
    resources = {"memory": {"limit": 32 << 20}, "pids": {"limit": 10}, "cpu": {"quota": 30000, "period": 60000}}
    res_file = os.path.join(tools.bundle, "resources.json")
    with open(res_file, "w") as f:
        json.dump(resources, f)
    seen: List[List[Dict[str, str]]] = []
    for tool, cid in both:
        pid = _pid(tool, cid)
        before = _limits(pid)
        r = tool("update", *flags, cid)
        assert r.returncode == 0, r
        after_flags = _limits(pid)
        assert after_flags != before
        assert (after_flags["memory"], after_flags["pids"]) == (str(64 << 20), "17")
        assert after_flags["cpu"] == "20000 100000", after_flags
        r = tool("update", "-r", res_file, cid)
        assert r.returncode == 0, r
        after_file = _limits(pid)
        assert (after_file["memory"], after_file["pids"], after_file["cpu"]) == (str(32 << 20), "10", "30000 60000")
        # The kernel enforces it: with sleep and the exec'd sh, the 9th child is one too many.
        # (runc's exec needs room for its Go threads before sh runs: 10, not 3.)
        r = tool("exec", cid, "sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 0.2 & done; wait")
        assert "can't fork" in r.stderr, (tool, r)
        # -r - reads the document from stdin
        p = subprocess.run(
            [*tool.argv(), "update", "-r", "-", cid],
            input=json.dumps({"pids": {"limit": 5}}).encode(),
            capture_output=True,
            timeout=60,
        )
        assert p.returncode == 0, p
        assert _limits(pid)["pids"] == "5"
        seen.append([before, after_flags, after_file])
    assert seen[0][1:] == seen[1][1:]  # the same files, the same values, as runc
    for tool, cid in both:
        _stop(tool, cid)
        r = tool("update", "--pids-limit", "9", cid)
        assert (r.returncode, _message(r)) == (1, "container not running"), (tool, r)
        assert tool("delete", cid).returncode == 0


def _cgroup_file(pid: int, controller: str, name: str) -> str:
    """A cgroup file of PID's cgroup for ``controller`` (v1), else the unified one's."""
    with open(f"/proc/{pid}/cgroup") as f:
        paths = {names: path for _, names, path in (line.rstrip("\n").split(":", 2) for line in f)}
    v1 = [names for names in paths if controller in names.split(",")]
    path = paths[v1[0] if v1 else ""]
    mount = next(d for d in os.listdir("/sys/fs/cgroup") if controller in d.split(",")) if v1 else ""
    with open(os.path.join("/sys/fs/cgroup", mount, path.lstrip("/"), name)) as f:
        return f.read().strip()


def test_update_flags_of_runc_1_1(tools: Tools) -> None:
    """``update --cpuset-cpus/--cpuset-mems``, the memory reservation and
    memory+swap, ``--cpu-share`` (runc's spelling): the same cgroup files
    as runc's.  The realtime flags reach cpu.rt_*; Intel RDT's are refused."""
    tools.ours.config(["sleep", "60"])
    both = tools.both("updf")
    flags = ["--cpuset-cpus", "1", "--cpuset-mems", "0", "--memory", "64m", "--memory-reservation", "32m"]
    flags += ["--memory-swap", "128m", "--cpu-share", "512"]
    files = [("cpuset", "cpuset.cpus"), ("cpuset", "cpuset.mems"), ("memory", "memory.limit_in_bytes")]
    files += [
        ("memory", "memory.soft_limit_in_bytes"),
        ("memory", "memory.memsw.limit_in_bytes"),
        ("cpu", "cpu.shares"),
    ]
    seen = []
    for tool, cid in both:
        assert tool("run", "-d", "-b", tools.bundle, cid).returncode == 0
        r = tool("update", *flags, cid)
        assert r.returncode == 0, (tool, r)
        seen.append([_cgroup_file(_pid(tool, cid), c, name) for c, name in files])
    assert seen[0] == seen[1] == ["1", "0", str(64 << 20), str(32 << 20), str(128 << 20), "512"]
    # The realtime flags reach cpu.rt_*.  runc's cgroup is right below the
    # root, which has a real-time budget; ours is below libcontainer_py/,
    # which has none (docs/decisions.md), so the kernel refuses it there.
    (ours, cid), (runc, rcid) = both
    r = runc("update", "--cpu-rt-runtime", "1000", "--cpu-rt-period", "100000", rcid)
    assert r.returncode == 0 and _cgroup_file(_pid(runc, rcid), "cpu", "cpu.rt_runtime_us") == "1000", r
    r = ours("update", "--cpu-rt-runtime", "1000", "--cpu-rt-period", "100000", cid)
    assert r.returncode == 1 and "cpu.rt_runtime_us" in _message(r), r
    r = ours("update", "--l3-cache-schema", "L3:0=f", cid)
    assert r.returncode == 1 and "Intel RDT" in _message(r), r
    assert _cgroup_file(_pid(ours, cid), "memory", "memory.limit_in_bytes") == str(64 << 20)
    for tool, cid in both:
        assert tool("delete", "--force", cid).returncode == 0


# -- exec flags ------------------------------------------------------------------------


def _procs_of(pid: int) -> List[int]:
    return [int(x) for x in _cgroup_file(pid, "freezer", "cgroup.procs").split()]


def test_exec_ignore_paused_as_runc(tools: Tools) -> None:
    """Without the flag, exec into a paused container fails with runc's
    message; with it the process joins the frozen cgroup (the kernel shows
    it there, frozen) and runs once the container is resumed."""
    tools.ours.config(["sleep", "60"])
    for tool, cid in tools.both("ignp"):
        assert tool("run", "-d", "-b", tools.bundle, cid).returncode == 0
        pid = _pid(tool, cid)
        assert tool("pause", cid).returncode == 0
        r = tool("exec", cid, "true")
        assert (r.returncode, _message(r)) == (
            255,
            "exec failed: cannot exec in a paused container (use --ignore-paused to override)",
        ), (tool, r)
        with tempfile.TemporaryFile() as out:
            argv = [*tool.argv(), "exec", "--ignore-paused", cid, "sh", "-c", "echo in-$$"]
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
            try:
                _wait(lambda pid=pid: len(_procs_of(pid)) == 2, what="the exec'd process in the frozen cgroup")
                assert _frozen(pid) and tool.state(cid)["status"] == "paused"
                assert tool("resume", cid).returncode == 0
                assert proc.wait(timeout=30) == 0
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            out.seek(0)
            assert out.read().decode().startswith("in-"), tool
        assert tool("delete", "--force", cid).returncode == 0


def test_exec_cgroup_joins_a_sub_cgroup_as_runc(tools: Tools) -> None:
    """``exec --cgroup memory:sub``: the process is in <container>/sub for
    memory and in the container's cgroup elsewhere (/proc/self/cgroup);
    a missing sub-cgroup or one outside the container's is an error.
    ``delete`` removes the sub-cgroup with the container's, as runc's."""
    tools.ours.config(["sleep", "60"])
    for tool, cid in tools.both("excg"):
        assert tool("run", "-d", "-b", tools.bundle, cid).returncode == 0
        pid = _pid(tool, cid)
        with open(f"/proc/{pid}/cgroup") as f:
            theirs = dict(line.rstrip("\n").split(":", 2)[1:] for line in f)
        memory = next(k for k in theirs if "memory" in k.split(","))
        sub = os.path.join("/sys/fs/cgroup", memory, theirs[memory].lstrip("/"), "sub")
        os.mkdir(sub)
        try:
            r = tool("exec", "--cgroup", "memory:sub", cid, "cat", "/proc/self/cgroup")
            assert r.returncode == 0, (tool, r)
            seen = dict(line.split(":", 2)[1:] for line in r.stdout.splitlines())
            assert seen[memory] == theirs[memory] + "/sub"
            assert {k: v for k, v in seen.items() if k != memory} == {k: v for k, v in theirs.items() if k != memory}
            for bad in ("nosuch", "/../.."):
                r = tool("exec", "--cgroup", bad, cid, "true")
                assert r.returncode == 255, (tool, bad, r)
        finally:
            r = tool("delete", "--force", cid)
            if os.path.isdir(sub):
                os.rmdir(sub)
        assert r.returncode == 0 and not os.path.exists(sub), (tool, r)


# -- events ----------------------------------------------------------------------------


class Stream:
    """A running ``events`` command whose stdout goes to a file."""

    def __init__(self, argv: List[str], path: str) -> None:
        self.path = path
        self.out = open(path, "w+")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.out, stderr=subprocess.PIPE)

    def lines(self) -> List[Dict[str, Any]]:
        with open(self.path) as f:
            return [json.loads(line) for line in f.read().splitlines() if line.endswith("}")]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate(timeout=10)
        self.out.close()


def test_events_stream_until_the_container_stops(tools: Tools) -> None:
    tools.ours.config(["sleep", "60"])
    (ours, cid), (runc, rcid) = tools.both("evs")
    for tool, c in ((ours, cid), (runc, rcid)):
        assert tool("run", "-d", "-b", tools.bundle, c).returncode == 0
    stream = Stream([*ours.argv(), "events", "--interval", "300ms", cid], os.path.join(tools.bundle, "events"))
    try:
        started = time.monotonic()
        _wait(lambda: len(stream.lines()) >= 4, what="four stats lines")
        elapsed = time.monotonic() - started
        assert len(stream.lines()) <= elapsed / 0.3 + 2  # one per interval, not more
        assert stream.proc.poll() is None
        _stop(ours, cid)
        assert stream.proc.wait(10) == 0  # the stream ends with the container
        lines = stream.lines()
    finally:
        stream.close()
    assert all((e["type"], e["id"]) == ("stats", cid) for e in lines)
    assert all(e["data"]["pids"]["current"] == 1 for e in lines[:3])
    # The shape of runc's stats object: our keys are runc's (fewer of them).
    theirs = json.loads(runc("events", "--stats", rcid).stdout)
    mine = lines[0]
    assert set(mine) == set(theirs) == {"type", "id", "data"}
    assert set(mine["data"]) <= set(theirs["data"]), set(mine["data"]) - set(theirs["data"])
    for section, key in (("cpu", "usage"), ("cpu", "throttling"), ("memory", "usage")):
        assert set(mine["data"][section][key]) <= set(theirs["data"][section][key]) | {
            "periods",
            "throttledPeriods",
            "throttledTime",
        }, (section, key)
    assert set(mine["data"]["memory"]["usage"]) == set(theirs["data"]["memory"]["usage"])
    assert mine["data"]["pids"]["current"] == theirs["data"]["pids"]["current"] == 1
    assert runc("kill", rcid, "KILL").returncode == 0
    _wait(lambda: runc.state(rcid)["status"] == "stopped")
    for tool, c in ((ours, cid), (runc, rcid)):
        r = tool("events", c)
        assert (r.returncode, _message(r)) == (1, f"container with id {c} is not running"), (tool, r)
        assert tool("delete", c).returncode == 0


def _has(stream: Stream, match: Callable[[Dict[str, Any]], bool]) -> Callable[[], bool]:
    return lambda: any(match(e) for e in stream.lines())


def _is_oom_of(cid: str) -> Callable[[Dict[str, Any]], bool]:
    return lambda e: e == {"type": "oom", "id": cid}


def test_events_report_an_oom_kill_as_runc(tools: Tools) -> None:
    tools.ours.config(["sleep", "60"])
    tools.edit(lambda doc: doc["linux"].setdefault("resources", {}).update(memory={"limit": 16 << 20}))
    streams: List[Tuple[Tool, str, Stream]] = []
    try:
        for tool, cid in tools.both("oom"):
            assert tool("run", "-d", "-b", tools.bundle, cid).returncode == 0
            argv = [*tool.argv(), "events", "--interval", "1s", cid]
            streams.append((tool, cid, Stream(argv, os.path.join(tools.bundle, f"events-{cid}"))))
        for _, cid, s in streams:  # both listen (runc's first line comes after one interval)
            _wait(_has(s, lambda e: e["type"] == "stats"), what=f"events of {cid}")
        for tool, cid, s in streams:
            # dd's 64 MiB buffer does not fit in 16 MiB: the kernel kills it, not the container's init
            r = tool("exec", cid, "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1")
            assert r.returncode == 137, (tool, r)
            _wait(_has(s, _is_oom_of(cid)), what=f"an oom event for {cid}")
            assert tool.state(cid)["status"] == "running"
    finally:
        for tool, cid, s in streams:
            tool("delete", "--force", cid)
            s.close()


# -- the foreground terminal -------------------------------------------------------------


def _set_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class Pty:
    """A command run with a new pty as its controlling terminal and stdio."""

    def __init__(self, argv: List[str], rows: int = 40, cols: int = 120) -> None:
        self.master, slave = os.openpty()
        _set_size(self.master, rows, cols)
        self.before = termios.tcgetattr(slave)
        self.slave = slave
        self.proc = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )
        self.out = b""

    def read_until(self, token: bytes, timeout: float = 15) -> bool:
        deadline = time.monotonic() + timeout
        while token not in self.out and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(self.master, 4096)
                except OSError:
                    break
                if not data:
                    break
                self.out += data
        return token in self.out

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        os.close(self.master)
        os.close(self.slave)


def test_run_in_the_foreground_proxies_the_terminal_as_runc(tools: Tools) -> None:
    script = "tty; stty size; echo READY; read line; echo got:$line; stty size; exit 5"
    tools.ours.config(["sh", "-c", script], terminal=True, consoleSize={"height": 30, "width": 100})
    for tool, cid in tools.both("fg"):
        pty = Pty([*tool.argv(), "run", "-b", tools.bundle, cid])
        try:
            assert pty.read_until(b"READY"), (tool, pty.out)
            _set_size(pty.master, 50, 132)  # SIGWINCH to the command, the new size to the container
            time.sleep(0.2)
            os.write(pty.master, b"hello\r")  # raw mode on our side: the container's tty maps \r
            assert pty.read_until(b"got:hello\r\n50 132\r\n"), (tool, pty.out)
            assert pty.proc.wait(15) == 5
            lines = pty.out.decode().split("\r\n")
            # The command's terminal's size wins over consoleSize.  runc resizes just
            # after the start, so its program may see consoleSize first; ours is set before.
            sizes = ["40 120"] if isinstance(tool, Ours) else ["40 120", "30 100"]
            assert lines[0] == "/dev/pts/0" and lines[1] in sizes and lines[2] == "READY", (tool, lines)
            assert termios.tcgetattr(pty.slave) == pty.before  # our terminal is no longer raw
        finally:
            pty.close()
        assert tool("state", cid).returncode == 1  # run deleted it
    # Without a terminal on our side the stdin pipe is copied in and consoleSize
    # applies.  (runc needs a controlling terminal for this: without one it fails
    # with "open /dev/tty: no such device or address".)
    for tool, cid in tools.both("fgpipe")[:1]:
        p = subprocess.run(
            [*tool.argv(), "run", "-b", tools.bundle, cid],
            input=b"piped\n",
            capture_output=True,
            timeout=30,
            start_new_session=True,  # no controlling terminal, whatever pytest has
        )
        out = p.stdout.decode().replace("\r", "")
        lines = [line for line in out.split("\n") if line != "piped"]  # the terminal's echo, whenever it came
        assert (p.returncode, lines[:3]) == (5, ["/dev/pts/0", "30 100", "READY"]), (tool, p)
        assert "got:piped\n30 100\n" in out, (tool, p)


_TTY_OWNER = 'stat -c "owner=%u:%g mode=%a." $(tty)'


@pytest.mark.parametrize("uid", [1000, 0])
def test_the_terminal_belongs_to_the_process_user_as_runc(tools: Tools, uid: int) -> None:
    """The pty given to the process, by run and by exec: owned by the
    process's user, group tty (5: the devpts gid= option), mode 620, as
    runc leaves it (what stat(2) of the process's own terminal says)."""
    tools.ours.config(["sh", "-c", _TTY_OWNER], terminal=True, user={"uid": uid, "gid": uid})
    want = f"owner={uid}:5 mode=620.".encode()
    seen = []
    for tool, cid in tools.both(f"ttyown{uid}"):
        pty = Pty([*tool.argv(), "run", "-b", tools.bundle, cid])
        try:
            assert pty.read_until(b"."), (tool, pty.out)
            assert pty.proc.wait(15) == 0
        finally:
            pty.close()
        seen.append(pty.out.split(b"owner=", 1)[1].split(b".", 1)[0])
    assert seen == [want[6:-1]] * 2, seen
    tools.ours.config(["sleep", "60"])
    seen = []
    for tool, cid in tools.both(f"ttyexec{uid}"):
        assert tool("run", "-d", "-b", tools.bundle, cid).returncode == 0
        pty = Pty([*tool.argv(), "exec", "-t", "-u", f"{uid}:{uid}", cid, "sh", "-c", _TTY_OWNER])
        try:
            assert pty.read_until(b"."), (tool, pty.out)
            assert pty.proc.wait(15) == 0
        finally:
            pty.close()
            assert tool("delete", "--force", cid).returncode == 0
        seen.append(pty.out.split(b"owner=", 1)[1].split(b".", 1)[0])
    assert seen == [want[6:-1]] * 2, seen


def test_exec_tty_in_the_foreground_as_runc(tools: Tools) -> None:
    tools.ours.config(["sleep", "60"])
    script = "stty size; echo READY; read line; echo got:$line; stty size; exit 6"
    for tool, cid in tools.both("xfg"):
        assert tool("run", "-d", "-b", tools.bundle, cid).returncode == 0
        pty = Pty([*tool.argv(), "exec", "-t", cid, "sh", "-c", script], rows=24, cols=90)
        try:
            assert pty.read_until(b"READY"), (tool, pty.out)
            _set_size(pty.master, 33, 111)
            time.sleep(0.2)
            os.write(pty.master, b"hi\r")
            assert pty.read_until(b"got:hi\r\n33 111\r\n"), (tool, pty.out)  # SIGWINCH became the new size
            assert pty.proc.wait(15) == 6
            if isinstance(tool, Ours):  # runc resizes after the start: its first size is a race
                assert pty.out.startswith(b"24 90\r\n"), pty.out
            assert termios.tcgetattr(pty.slave) == pty.before
        finally:
            pty.close()
        assert tool("delete", "--force", cid).returncode == 0


# -- --preserve-fds ------------------------------------------------------------------------


def _with_fds(argv: List[str], fds: Sequence[int], timeout: float = 60) -> Result:
    """Run argv with fds[i] as its fd 3+i (and no other fd above 2)."""
    wanted = list(range(3, 3 + len(fds)))

    def place() -> None:
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for fd in fds]
        for target, fd in zip(wanted, high):
            os.dup2(fd, target)

    # Files, not pipes, for stdout and stderr: a created container holds them open.
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        rc = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            pass_fds=wanted,
            preexec_fn=place,
            timeout=timeout,
        ).returncode
        out.seek(0)
        err.seek(0)
        return Result(rc, out.read(), err.read())


def _fds_of(pid: int) -> List[int]:
    return sorted(int(n) for n in os.listdir(f"/proc/{pid}/fd"))


def _pos(pid: int, fd: int) -> int:
    with open(f"/proc/{pid}/fdinfo/{fd}") as f:
        return int(f.readline().split()[1])


def test_create_preserve_fds_as_runc(tools: Tools, tmp_path: Any) -> None:
    tools.ours.config(["sh", "-c", "cat <&4 >&3; echo done >&3; exec sleep 60"])
    seen = []
    for tool, cid in tools.both("pfd"):
        (tmp_path / "b").write_text("bee\n")
        out_fd = os.open(str(tmp_path / f"a-{cid}"), os.O_RDWR | os.O_CREAT, 0o644)
        in_fd = os.open(str(tmp_path / "b"), os.O_RDONLY)
        extra = os.open(os.devnull, os.O_RDONLY)
        try:
            r = _with_fds(
                [*tool.argv(), "create", "-b", tools.bundle, "--preserve-fds", "2", cid], [out_fd, in_fd, extra]
            )
            assert r.returncode == 0, (tool, r)
            assert tool("start", cid).returncode == 0
            pid = _pid(tool, cid)
            _wait(_holds(out_fd, b"bee\ndone\n"), what="the container's writes to fd 3")
            _wait(_runs_busybox(pid), what="exec sleep")
            # The same open files: the container's reads and writes moved our offsets.
            assert (os.lseek(out_fd, 0, os.SEEK_CUR), os.lseek(in_fd, 0, os.SEEK_CUR)) == (9, 4)
            assert (_pos(pid, 3), _pos(pid, 4)) == (9, 4)
            assert os.stat(f"/proc/{pid}/fd/3").st_ino == os.fstat(out_fd).st_ino
            seen.append(_fds_of(pid))  # fd 5 (the third one given) was not preserved
            assert tool("delete", "--force", cid).returncode == 0
            # Without the flag, none of them gets in.
            tools.ours.config(["sleep", "60"])
            r = _with_fds([*tool.argv(), "create", "-b", tools.bundle, cid], [out_fd, in_fd])
            assert r.returncode == 0, (tool, r)
            assert tool("start", cid).returncode == 0
            pid = _pid(tool, cid)
            _wait(_runs_busybox(pid), what="exec sleep")
            seen.append(_fds_of(pid))
            assert tool("delete", "--force", cid).returncode == 0
            tools.ours.config(["sh", "-c", "cat <&4 >&3; echo done >&3; exec sleep 60"])
        finally:
            for fd in (out_fd, in_fd, extra):
                os.close(fd)
    assert seen == [[0, 1, 2, 3, 4], [0, 1, 2]] * 2


def test_exec_preserve_fds_as_runc(tools: Tools, tmp_path: Any) -> None:
    tools.ours.config(["sleep", "60"])
    probe = "echo exec-fd >&3; for n in 3 4; do [ -e /proc/$$/fd/$n ] && echo $n:open || echo $n:closed; done"
    for tool, cid in tools.both("xpfd"):
        assert tool("run", "-d", "-b", tools.bundle, cid).returncode == 0
        path = str(tmp_path / f"x-{cid}")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        other = os.open(os.devnull, os.O_RDONLY)
        try:
            argv = [*tool.argv(), "exec", "--preserve-fds", "1", cid, "sh", "-c", probe]
            r = _with_fds(argv, [fd, other])
            assert (r.returncode, r.stdout) == (0, "3:open\n4:closed\n"), (tool, r)
            assert os.pread(fd, 100, 0) == b"exec-fd\n"
            argv = [*tool.argv(), "exec", cid, "sh", "-c", probe]
            r = _with_fds(argv, [fd, other])
            assert (r.returncode, r.stdout) == (0, "3:closed\n4:closed\n"), (tool, r)
            assert "bad file descriptor" in r.stderr.lower(), r  # echo >&3 had no fd 3
        finally:
            os.close(fd)
            os.close(other)
        assert tool("delete", "--force", cid).returncode == 0


# -- --no-pivot ------------------------------------------------------------------------------


def _mounts_in_namespace(pid: int) -> int:
    """How many mounts the mount namespace of PID holds, hidden or not
    (listmount(2) with the namespace's id: Linux 6.11 or later)."""
    fd = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY)
    try:
        (ns_id,) = struct.unpack("Q", fcntl.ioctl(fd, NS_GET_MNTNS_ID, b"\0" * 8))
    finally:
        os.close(fd)
    req = struct.pack("IIQQQ", 32, 0, LSMT_ROOT, 0, ns_id)
    ids = (ctypes.c_uint64 * 4096)()
    libc = ctypes.CDLL(None, use_errno=True)
    n = libc.syscall(NR_LISTMOUNT, req, ids, len(ids), 0)
    if n < 0:
        e = ctypes.get_errno()
        raise OSError(e, f"listmount: {os.strerror(e)} (needs Linux 6.11)")
    return int(n)


def _visible_mounts(pid: int) -> int:
    with open(f"/proc/{pid}/mountinfo") as f:
        return len(f.read().splitlines())


def test_no_pivot_as_runc(tools: Tools) -> None:
    tools.ours.config(["sleep", "60"])
    hidden: Dict[Tuple[str, bool], int] = {}
    for no_pivot in (False, True):
        for tool, cid in tools.both("piv"):
            flags = ["--no-pivot"] if no_pivot else []
            assert tool("run", "-d", "-b", tools.bundle, *flags, cid).returncode == 0
            pid = _pid(tool, cid)
            r = tool("exec", cid, "sh", "-c", "ls /; head -1 /etc/passwd")
            assert r.returncode == 0 and "bin" in r.stdout.split() and "root:x:0:0" in r.stdout, r
            hidden[(type(tool).__name__, no_pivot)] = _mounts_in_namespace(pid) - _visible_mounts(pid)
            assert tool("delete", "--force", cid).returncode == 0
    # pivot_root and unmounting the old root leave only what the container sees;
    # MS_MOVE + chroot leaves the host's mounts in the namespace, under the root.
    assert hidden[("Ours", False)] == hidden[("Runc", False)] == 0, hidden
    assert hidden[("Ours", True)] >= 5 and hidden[("Runc", True)] >= 5, hidden


# -- exec --tty --console-socket --detach, and a subreaper --------------------------------------


@pytest.fixture
def subreaper() -> Iterator[None]:
    """Makes this process a child subreaper for the test.  On the way out
    the flag is cleared and whatever was adopted meanwhile (the containers'
    processes the test made: the commands that made them have exited) is
    killed and reaped, by pid."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    before = set(_children())
    assert prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    try:
        yield
    finally:
        assert prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) == 0
        for pid in set(_children()) - before:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                _reap(pid)
            except ChildProcessError:
                pass


def _reap(pid: int, timeout: float = 10) -> int:
    """waitpid(pid) with a deadline; ChildProcessError if pid is not our child."""
    deadline = time.monotonic() + timeout
    while True:
        got, status = os.waitpid(pid, os.WNOHANG)
        if got == pid:
            return status
        assert time.monotonic() < deadline, f"{pid} did not exit"
        time.sleep(0.02)


def test_exec_tty_console_socket_detach_as_runc(tools: Tools, tmp_path: Any, subreaper: None) -> None:
    tools.ours.config(["sleep", "60"])
    for tool, cid in tools.both("xtty"):
        assert tool("run", "-d", "-b", tools.bundle, cid).returncode == 0
        short = tempfile.mkdtemp(prefix="lcf")  # tmp_path is too long for a socket's address
        sock_path = os.path.join(short, "c.sock")
        console = ConsoleSocket(sock_path)
        pidfile = str(tmp_path / f"{cid}.pid")
        try:
            r = tool("exec", "-t", "--console-socket", sock_path, "-d", "--pid-file", pidfile, cid, "sh")
            assert r.returncode == 0, (tool, r)
            _, master = console.received()
            pid = int(open(pidfile).read())
            try:
                os.write(master, b"echo answer=$((6*7)); tty; stty size; exit 3\n")
                out = _read_all(master).decode().replace("\r", "")
            finally:
                os.close(master)
            assert "answer=42\n" in out and "/dev/pts/" in out, (tool, out)
            status = _reap(pid)  # the command left it to us, its subreaper
            assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 3, (tool, status)
        finally:
            console.close()
            shutil.rmtree(short)
        assert tool("delete", "--force", cid).returncode == 0


def test_detached_processes_are_left_to_the_subreaper_as_runc(tools: Tools, tmp_path: Any, subreaper: None) -> None:
    tools.ours.config(["sleep", "60"])
    for tool, cid in tools.both("reap"):
        pidfile = str(tmp_path / f"{cid}.pid")
        # create: the command exits, the container's first process is ours to reap
        assert tool("create", "-b", tools.bundle, "--pid-file", pidfile, cid).returncode == 0
        pid = int(open(pidfile).read())
        assert os.stat(f"/proc/{pid}").st_uid == 0 and _ppid(pid) == os.getpid()
        assert tool("start", cid).returncode == 0
        # exec --detach --pid-file of a quick command: its status is for us, not lost
        xpid_file = str(tmp_path / f"{cid}.xpid")
        r = tool("exec", "--detach", "--pid-file", xpid_file, cid, "sh", "-c", "exit 7")
        assert r.returncode == 0, (tool, r)
        xpid = int(open(xpid_file).read())
        status = _reap(xpid)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 7, (tool, status)
        # a foreground exec --pid-file: the pid is the process's, in the container
        fg_file = str(tmp_path / f"{cid}.fg")
        p = subprocess.Popen(
            [*tool.argv(), "exec", "--pid-file", fg_file, cid, "sh", "-c", "sleep 1; exit 4"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        try:
            _wait(_exists(fg_file), what="the exec pid file")
            fg = int(open(fg_file).read())
            assert os.readlink(f"/proc/{fg}/ns/pid") == os.readlink(f"/proc/{pid}/ns/pid")
            assert open(f"/proc/{fg}/cgroup").read() == open(f"/proc/{pid}/cgroup").read()
            assert p.wait(15) == 4
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        # killed right away: its status goes to us too
        assert tool("kill", cid, "KILL").returncode == 0
        status = _reap(pid)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, (tool, status)
        assert _gone(pid)
        assert tool("delete", cid).returncode == 0


def _ppid(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


# -- wrong states ------------------------------------------------------------------------------


def test_wrong_states_fail_as_runc(tools: Tools) -> None:
    tools.ours.config(["sleep", "60"])
    both = tools.both("st")
    for tool, cid in both:
        assert tool("run", "-d", "-b", tools.bundle, cid).returncode == 0
    running = [("start", "{id}"), ("delete", "{id}"), ("resume", "{id}")]
    stopped = [
        ("start", "{id}"),
        ("pause", "{id}"),
        ("resume", "{id}"),
        ("kill", "{id}"),
        ("exec", "{id}", "true"),
        ("update", "--pids-limit", "5", "{id}"),
        ("events", "--stats", "{id}"),
        ("exec", "nosuch-{id}", "true"),
    ]
    for phase, cases in (("running", running), ("stopped", stopped)):
        if phase == "stopped":
            for tool, cid in both:
                _stop(tool, cid)
        for case in cases:
            got = []
            for tool, cid in both:
                r = tool(*(a.format(id=cid) for a in case))
                got.append((r.returncode, _message(r).replace(cid, "{id}")))
            assert got[0] == got[1], (phase, case, got)
            assert got[0][0] in (1, 255), (phase, case, got)
    for tool, cid in both:
        assert tool("delete", cid).returncode == 0


def _frozen(pid: int) -> bool:
    """What the kernel says of the process: state D/S, and its freezer's."""
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, names, path = line.rstrip("\n").split(":", 2)
            if names == "":
                with open(f"/sys/fs/cgroup/unified{path}/cgroup.events") as ev:
                    if "frozen 1" in ev.read().splitlines():
                        return True
            elif "freezer" in names.split(","):
                with open(f"/sys/fs/cgroup/freezer{path}/freezer.state") as st:
                    if st.read().strip() == "FROZEN":
                        return True
    return False


@pytest.mark.parametrize("status", ["created", "running", "paused"])
def test_delete_of_a_container_that_is_not_stopped_fails_and_leaves_it(tools: Tools, status: str) -> None:
    """runtime.md: deleting a container that is not stopped has no effect
    and is an error; --force kills and removes it.  runc 1.1 deletes a
    created container without --force (docs/decisions.md)."""
    tools.ours.config(["sleep", "60"])
    both = tools.both(f"del{status[:3]}")
    for tool, cid in both:
        assert tool("create", "-b", tools.bundle, cid).returncode == 0
        if status != "created":
            assert tool("start", cid).returncode == 0
            _wait(_runs_busybox(_pid(tool, cid)), what="the program to run")
        if status == "paused":
            assert tool("pause", cid).returncode == 0
    (ours, cid), (runc, rcid) = both
    pid = _pid(ours, cid)
    r = ours("delete", cid)
    assert r.returncode == 1 and _message(r) == f"cannot delete container {cid} that is not stopped: {status}", r
    # as it was: the same process, the same status, the cgroup still there
    assert ours.state(cid)["status"] == status and _pid(ours, cid) == pid
    assert os.path.exists(f"/proc/{pid}") and _frozen(pid) == (status == "paused")
    assert _cgroup_dirs(tools.suffix)
    theirs = runc("delete", rcid)
    if status == "created":
        assert theirs.returncode == 0, theirs  # runc's difference
    else:
        assert theirs.returncode == 1 and _message(theirs).endswith(f"not stopped: {status}"), theirs
        assert runc("delete", "--force", rcid).returncode == 0
    if status == "created":  # still startable
        assert ours("start", cid).returncode == 0
        _wait(_runs_busybox(pid), what="the program to run")
    assert ours("delete", "--force", cid).returncode == 0
    assert _gone(pid)
    assert ours("state", cid).returncode == 1 and runc("state", rcid).returncode == 1
    assert _cgroup_dirs(tools.suffix) == []


def test_create_without_a_process_and_start_fails_naming_it(tools: Tools) -> None:
    """config.md: ``process`` is optional at create, required by start.
    The container is created (its namespaces exist, it is in its cgroup),
    start fails naming the missing process and leaves it created; exec
    works; delete needs --force.  runc refuses the create (decisions)."""
    tools.edit(lambda doc: doc.pop("process"))
    (ours, cid), (runc, rcid) = tools.both("noproc")
    theirs = runc("create", "-b", tools.bundle, rcid)
    assert theirs.returncode == 1 and "process property must not be empty" in _message(theirs), theirs
    assert ours("create", "-b", tools.bundle, cid).returncode == 0
    pid = _pid(ours, cid)
    assert os.readlink(f"/proc/{pid}/ns/pid") != os.readlink("/proc/self/ns/pid")
    assert pid in _procs_of(pid)
    r = ours("start", cid)
    assert r.returncode == 1 and _message(r).endswith("it was created without a process (the config has no 'process')")
    assert ours.state(cid)["status"] == "created" and _pid(ours, cid) == pid
    r = ours("exec", cid, "sh", "-c", "echo $$")
    assert (r.returncode, r.stdout.strip()) == (0, "2"), r  # beside the stand-in, PID 1
    r = ours("delete", cid)
    assert r.returncode == 1 and _message(r).endswith("not stopped: created"), r
    assert ours("delete", "--force", cid).returncode == 0
    assert _gone(pid) and ours("state", cid).returncode == 1


def test_unlisted_namespaces_are_the_runtimes_as_runc(tools: Tools) -> None:
    """config-linux.md: a namespace type not listed is inherited.  With
    only mount and pid listed, the uts, ipc, network, cgroup, user and time
    namespaces of the container are the runtime's (its parent's here: this
    process's), the same inodes in /proc/<pid>/ns, with runc as with ours."""

    def mount_and_pid_only(doc: Dict[str, Any]) -> None:
        doc["linux"]["namespaces"] = [{"type": "mount"}, {"type": "pid"}]
        doc.pop("hostname", None)
        doc["process"]["args"] = ["sleep", "60"]

    tools.edit(mount_and_pid_only)
    inherited = ("uts", "ipc", "net", "cgroup", "user", "time")
    for tool, cid in tools.both("unlisted"):
        assert tool("run", "-d", "-b", tools.bundle, cid).returncode == 0
        pid = _pid(tool, cid)
        for name in inherited:
            assert os.readlink(f"/proc/{pid}/ns/{name}") == os.readlink(f"/proc/self/ns/{name}"), (tool, name)
        for name in ("mnt", "pid"):
            assert os.readlink(f"/proc/{pid}/ns/{name}") != os.readlink(f"/proc/self/ns/{name}"), (tool, name)
        assert tool("delete", "--force", cid).returncode == 0


def test_namespaces_joined_by_path_with_a_hostname_as_runc(tools: Tools) -> None:
    """uts, ipc and network namespaces of a host process joined by path
    (the same inodes in /proc/<pid>/ns), the others new, and ``hostname``
    set in the joined uts namespace: what runc does."""
    holder = subprocess.Popen(["unshare", "--uts", "--ipc", "--net", "sleep", "60"])
    try:
        _wait(lambda: os.readlink(f"/proc/{holder.pid}/ns/uts") != os.readlink("/proc/self/ns/uts"))
        joined = {"uts": "uts", "ipc": "ipc", "network": "net"}
        paths = {kind: f"/proc/{holder.pid}/ns/{name}" for kind, name in joined.items()}

        def join(doc: Dict[str, Any]) -> None:
            kept = [ns for ns in doc["linux"]["namespaces"] if ns["type"] not in joined]
            doc["linux"]["namespaces"] = kept + [{"type": k, "path": p} for k, p in paths.items()]
            doc["process"]["args"] = ["sleep", "60"]

        tools.edit(join)
        for n, (tool, cid) in enumerate(tools.both("joinns")):
            tools.edit(lambda doc, n=n: doc.update(hostname=f"joined-{n}"))
            assert tool("run", "-d", "-b", tools.bundle, cid).returncode == 0
            pid = _pid(tool, cid)
            for name in joined.values():
                assert os.readlink(f"/proc/{pid}/ns/{name}") == os.readlink(f"/proc/{holder.pid}/ns/{name}"), tool
            assert os.readlink(f"/proc/{pid}/ns/pid") != os.readlink("/proc/self/ns/pid")
            r = tool("exec", cid, "hostname")
            assert (r.returncode, r.stdout.strip()) == (0, f"joined-{n}"), (tool, r)
            assert tool("delete", "--force", cid).returncode == 0
        assert os.uname().nodename not in ("joined-0", "joined-1")
    finally:
        holder.kill()
        holder.wait()


def test_kill_all_of_a_stopped_container_succeeds_as_runc(tools: Tools) -> None:
    """The containerd shim sends ``kill --all`` after the container exited:
    0 and nothing said, as runc.  A single signal to it stays an error, as
    runc's and as runtime.md asks."""
    tools.ours.config(["sleep", "60"])
    both = tools.both("kstop")
    for tool, cid in both:
        assert tool("run", "-d", "-b", tools.bundle, cid).returncode == 0
        _stop(tool, cid)
    for args in (("kill", "--all", "{id}", "KILL"), ("kill", "-a", "{id}"), ("kill", "{id}", "KILL")):
        got = [tool(*(a.format(id=cid) for a in args)) for tool, cid in both]
        assert got[0].returncode == got[1].returncode, (args, got)
        if "KILL" in args and len(args) == 3:
            assert got[0].returncode == 1 and _message(got[0]) == "container not running", got
        else:
            assert (got[0].returncode, got[0].stderr) == (0, ""), got
    for tool, cid in both:
        assert tool("state", cid).returncode == 0 and tool.state(cid)["status"] == "stopped"
        assert tool("delete", cid).returncode == 0


def test_no_mount_namespace_listed_is_a_chroot(tools: Tools, no_leaks: None) -> None:
    """config-linux.md: a namespace type not listed is the runtime's.  With
    no mount namespace the container runs in ours, chroot'ed into root.path,
    and neither it nor an exec'd process mounts anything (no_leaks: our
    mount table is unchanged).  runc (1.1.5) mounts in its own namespace
    there and then fails: not compared (docs/decisions.md)."""

    def no_mount_namespace(doc: Dict[str, Any]) -> None:
        doc["linux"]["namespaces"] = [ns for ns in doc["linux"]["namespaces"] if ns["type"] != "mount"]
        doc["mounts"] = []
        for key in ("maskedPaths", "readonlyPaths", "rootfsPropagation"):
            doc["linux"].pop(key, None)
        doc["process"]["args"] = ["sleep", "60"]
        doc["root"]["readonly"] = False

    tools.edit(no_mount_namespace)
    ours, cid = tools.both("nomnt")[0]
    assert ours("run", "-d", "-b", tools.bundle, cid).returncode == 0
    pid = _pid(ours, cid)
    assert os.readlink(f"/proc/{pid}/ns/mnt") == os.readlink("/proc/self/ns/mnt")
    assert os.readlink(f"/proc/{pid}/ns/pid") != os.readlink("/proc/self/ns/pid")
    root = os.readlink(f"/proc/{pid}/root")
    with open(os.path.join(tools.bundle, "config.json")) as f:
        assert root == json.load(f)["root"]["path"]
    r = ours("exec", cid, "ls", "/")
    assert r.returncode == 0 and sorted(r.stdout.split()) == sorted(os.listdir(root)), r
    assert ours("delete", "--force", cid).returncode == 0
    assert _gone(pid)


def test_ps_of_a_stopped_container_as_runc(tools: Tools) -> None:
    """Nothing runs, which is no error: the table's header, or null."""
    tools.ours.config(["sleep", "60"])
    both = tools.both("ps")
    for tool, cid in both:
        assert tool("run", "-d", "-b", tools.bundle, cid).returncode == 0
        _stop(tool, cid)
    got = [(tool("ps", cid), tool("ps", "-f", "json", cid)) for tool, cid in both]
    for table, doc in got:
        assert (table.returncode, doc.returncode, doc.stdout.strip()) == (0, 0, "null"), (table, doc)
        assert table.stdout.split("\n")[0].split()[:2] == ["UID", "PID"] and table.stdout.count("\n") == 1, table
    for tool, cid in both:
        assert tool("delete", cid).returncode == 0


@pytest.mark.parametrize("command", ["checkpoint", "restore"])
def test_checkpoint_and_restore_are_refused_clearly(tools: Tools, command: str) -> None:
    """Whatever flags containerd's shim passes, the answer is the refusal
    (exit 1, the reason in the log), not a usage error."""
    r = tools.ours("--log-format", "json", command, "--image-path", "/x", "--work-path", "/y", "-d", "some-id")
    assert r.returncode == 1, r
    assert f"{command} is not supported" in r.stderr and "usage" not in r.stderr, r


def test_rootfs_propagation_all_four_against_runc(tools: Tools) -> None:
    """rootfsPropagation is the root mount's own (the OCI spec): slave and
    private as runc; shared gives a shared root (runc leaves it private) and
    unbindable works (runc fails to bind the root)."""
    script = 'awk \'$5 == "/" { for (i = 7; $i != "-"; i++) printf "%s ", $i }\' /proc/self/mountinfo; echo .'
    tools.ours.config(["sh", "-c", script])
    seen: Dict[str, List[Tuple[int, str]]] = {}
    for propagation in ("shared", "slave", "private", "unbindable"):
        tools.edit(lambda doc, p=propagation: doc["linux"].update(rootfsPropagation=p))
        seen[propagation] = []
        for tool, cid in tools.both(f"prop-{propagation}"):
            r = tool("run", "-b", tools.bundle, cid)
            fields = " ".join(f.split(":")[0] for f in r.stdout.split()[:-1]) if r.returncode == 0 else ""
            seen[propagation].append((r.returncode, fields))
    assert seen["private"] == [(0, ""), (0, "")] and seen["slave"][0] == seen["slave"][1], seen
    assert seen["shared"] == [(0, "shared"), (0, "")], seen
    assert seen["unbindable"][0] == (0, "unbindable") and seen["unbindable"][1][0] != 0, seen


def _frozen_state(pid: int) -> str:
    """ "frozen" when the kernel says the process's cgroup is frozen: cgroup2's
    frozen event or v1's freezer.state (runc uses v1's on a hybrid host, we
    use cgroup2's where it can)."""
    with open(f"/proc/{pid}/cgroup") as f:
        lines = [line.rstrip("\n").split(":", 2) for line in f]
    for _, names, path in lines:
        if names == "":
            events = os.path.join("/sys/fs/cgroup/unified", path.lstrip("/"), "cgroup.events")
            if os.path.exists(events) and "frozen 1" in open(events).read().splitlines():
                return "frozen"
        if "freezer" in names.split(","):
            with open(os.path.join("/sys/fs/cgroup/freezer", path.lstrip("/"), "freezer.state")) as f:
                if f.read().strip() == "FROZEN":
                    return "frozen"
    return "thawed"


def test_exec_pause_and_resume_of_a_created_container_as_runc(tools: Tools) -> None:
    """runc lets exec run in a created container and pause freeze one;
    resumed, it is created again, and starts as usual."""
    tools.ours.config(["sh", "-c", "echo main"])
    seen = []
    for tool, cid in tools.both("created"):
        out = os.path.join(tools.bundle, f"{cid}.out")
        with open(out, "w") as f:
            created = subprocess.run(
                [*tool.argv(), "create", "-b", tools.bundle, cid],
                stdin=subprocess.DEVNULL,
                stdout=f,
                stderr=f,
                timeout=60,
            )
        assert created.returncode == 0
        steps = [tool("exec", cid, "sh", "-c", "echo exec-in-created").stdout]
        steps.append(str(tool("pause", cid).returncode))
        steps.append(tool.state(cid)["status"])
        pid = tool.state(cid)["pid"]
        steps.append(_frozen_state(pid))
        steps.append(str(tool("resume", cid).returncode))
        steps.append(tool.state(cid)["status"])
        steps.append(str(tool("start", cid).returncode))
        _wait(lambda t=tool, c=cid: t.state(c)["status"] == "stopped", what="the container to stop")
        with open(out) as f:
            steps.append(f.read())
        assert tool("delete", cid).returncode == 0
        seen.append(steps)
    assert seen[0] == seen[1] == ["exec-in-created\n", "0", "paused", "frozen", "0", "created", "0", "main\n"], seen


def test_exec_cap_and_additional_gids_as_runc(tools: Tools) -> None:
    """exec --cap adds to the bounding, effective and permitted sets; -g adds
    supplementary groups: the kernel shows the same as with runc."""
    tools.ours.config(["sleep", "60"])
    script = "grep -E '^Cap(Bnd|Eff|Prm|Inh)' /proc/self/status; id -G"
    seen = []
    for tool, cid in tools.both("execcap"):
        assert tool("run", "-d", "-b", tools.bundle, cid).returncode == 0
        extra = ["--cap", "CAP_SYS_ADMIN", "--cap", "CAP_NET_ADMIN", "-g", "10", "-g", "20"]
        r = tool("exec", *extra, cid, "sh", "-c", script)
        plain = tool("exec", cid, "sh", "-c", script)
        seen.append((r.returncode, r.stdout, plain.stdout))
        _stop(tool, cid)
        assert tool("delete", cid).returncode == 0
    assert seen[0] == seen[1], seen
    rc, with_caps, plain = seen[0]
    eff = int(with_caps.split("CapEff:")[1].split()[0], 16)
    assert rc == 0 and eff & (1 << 21) and eff & (1 << 12), with_caps  # CAP_SYS_ADMIN, CAP_NET_ADMIN
    assert not int(plain.split("CapEff:")[1].split()[0], 16) & (1 << 21), plain
    assert with_caps.split()[-2:] == ["10", "20"], with_caps
