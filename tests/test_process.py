"""The process: user, groups, cwd, env, umask, stdio and fds, like subprocess."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from typing import Any

import attrs
import psutil
import pytest
from support.observe import inside, proc_status

import libcontainer_py as lc


def status_fields(config: lc.Config) -> dict:
    return {key: value.split() for key, value in proc_status(config).items()}


def test_user_group_and_supplementary_groups(busybox: str) -> None:
    config = lc.Config(
        rootfs=busybox, process=lc.Process(args=["true"], user=lc.User(uid=1000, gid=1000, additional_gids=[10, 5]))
    )
    st = status_fields(config)
    assert st["Uid"] == ["1000"] * 4
    assert st["Gid"] == ["1000"] * 4
    assert sorted(st["Groups"]) == ["10", "5"]
    assert st["CapEff"] == ["0000000000000000"]  # a non-root user keeps no capabilities


def test_root_has_no_supplementary_groups_of_the_caller(busybox: str) -> None:
    st = status_fields(lc.Config(rootfs=busybox))
    assert st["Uid"] == ["0"] * 4 and st.get("Groups", []) == []


def test_cwd_env_umask(busybox: str) -> None:
    config = lc.Config(
        rootfs=busybox,
        process=lc.Process(
            args=["true"], cwd="/etc", env={"PATH": "/bin", "GREETING": "hello world", "EMPTY": ""}, umask=0o027
        ),
    )
    out = inside(config, 'pwd; echo "$GREETING"; env | sort; umask; touch /tmp/f; stat -c %a /tmp/f')
    lines = out.splitlines()
    assert lines[0] == "/etc"
    assert lines[1] == "hello world"
    env = [ln for ln in lines[2:] if "=" in ln]
    assert {"PATH=/bin", "GREETING=hello world", "EMPTY="} <= set(env)
    assert not any(ln.startswith("HOME=/root") and False for ln in env)
    assert lines[-2] == "0027"
    assert lines[-1] == "640"


def test_environment_is_exactly_the_config(busybox: str) -> None:
    os.environ["LCPY_SHOULD_NOT_LEAK"] = "1"
    try:
        out = inside(lc.Config(rootfs=busybox, process=lc.Process(args=["true"], env={"A": "b"})), "/bin/env")
    finally:
        del os.environ["LCPY_SHOULD_NOT_LEAK"]
    # sh adds PWD (and SHLVL); nothing comes from the parent's environment.
    assert "A=b" in out.split()
    assert "LCPY_SHOULD_NOT_LEAK" not in out


def test_path_lookup_uses_the_container_path(busybox: str) -> None:
    config = lc.Config(rootfs=busybox, process=lc.Process(args=["echo", "hi"], env={"PATH": "/nowhere:/bin"}))
    assert lc.run(config=config, capture_output=True).stdout == b"hi\n"


def test_stdio_pipe_input_and_text(busybox: str) -> None:
    r = lc.run(
        ["sh", "-c", "tr a-z A-Z; echo err >&2; exit 3"],
        config=lc.Config(rootfs=busybox),
        input="shout\n",
        capture_output=True,
        text=True,
    )
    assert (r.returncode, r.stdout, r.stderr) == (3, "SHOUT\n", "err\n")


def test_stdout_to_file_object_and_stderr_to_stdout(busybox: str, tmp_path) -> None:
    path = tmp_path / "out"
    with open(path, "wb") as f:
        r = lc.run(["sh", "-c", "echo one; echo two >&2"], config=lc.Config(rootfs=busybox), stdout=f, stderr=lc.STDOUT)
    assert r.returncode == 0 and r.stdout is None
    assert path.read_bytes().splitlines() == [b"one", b"two"]


def test_stdin_from_fd_and_devnull(busybox: str, tmp_path) -> None:
    path = tmp_path / "in"
    path.write_bytes(b"from a file\n")
    fd = os.open(path, os.O_RDONLY)
    try:
        r = lc.run(["cat"], config=lc.Config(rootfs=busybox), stdin=fd, capture_output=True)
    finally:
        os.close(fd)
    assert r.stdout == b"from a file\n"
    r = lc.run(["cat"], config=lc.Config(rootfs=busybox), stdin=lc.DEVNULL, stdout=lc.PIPE, stderr=lc.DEVNULL)
    assert r.stdout == b"" and r.stderr is None


def test_inherited_stdio(busybox: str, capfd) -> None:
    lc.run(["sh", "-c", "echo to-inherited-stdout; echo to-inherited-stderr >&2"], config=lc.Config(rootfs=busybox))
    out, err = capfd.readouterr()
    assert out == "to-inherited-stdout\n" and err == "to-inherited-stderr\n"


def test_only_stdio_and_passed_fds_are_open(busybox: str) -> None:
    r, w = os.pipe()
    os.set_inheritable(w, False)
    leaky = os.open("/etc/hostname", os.O_RDONLY)  # inheritable, not passed: must not arrive
    os.set_inheritable(leaky, True)
    try:
        out = inside(lc.Config(rootfs=busybox), f"ls /proc/self/fd; echo via-passed-fd >&{w}", pass_fds=[w])
    finally:
        os.close(w)
        os.close(leaky)
    with os.fdopen(r) as f:
        assert f.read() == "via-passed-fd\n"
    fds = sorted(int(x) for x in out.split())
    # 0, 1, 2, the passed fd, and the fd ls opened for /proc/self/fd.
    assert fds[:3] == [0, 1, 2]
    assert w in fds and leaky not in fds and len(fds) == 5


def test_timeout_kills_and_reaps_the_container(busybox: str) -> None:
    config = lc.Config(
        rootfs=busybox, process=lc.Process(args=["sh", "-c", "sleep 100 & sleep 100 & echo started; wait"])
    )
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    t0 = time.monotonic()
    with pytest.raises(lc.TimeoutExpired) as info:
        lc.run(config=config, timeout=0.5, capture_output=True)
    assert time.monotonic() - t0 < 10
    assert isinstance(info.value, subprocess.TimeoutExpired)
    assert info.value.output == b"started\n"
    after = {p.pid for p in psutil.Process().children(recursive=True)}
    assert after == before
    # Nothing of the container runs anywhere: its sleeps died with its PID 1.
    assert not [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", "100"]]


def test_wait_with_a_timeout_wakes_on_the_pidfd(busybox: str, monkeypatch: Any) -> None:
    """subprocess's wait(timeout) polls waitpid between sleeps of up to 50
    ms; a container's process waits on its pidfd instead (poll(2)), so no
    sleep is taken, the status is the exit's, and a timeout still raises."""
    slept = []
    real_sleep = time.sleep
    monkeypatch.setattr(time, "sleep", lambda s: (slept.append(s), real_sleep(s)))
    config = lc.Config(rootfs=busybox, process=lc.Process(args=["sh", "-c", "read line; exit 3"]))
    with lc.ContainerProcess(config, stdin=lc.PIPE) as proc:
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=0.2)
        assert proc.returncode is None and slept == []
        proc.stdin.write(b"go\n")
        proc.stdin.close()
        assert proc.wait(timeout=30) == 3
    assert slept == []
    r = lc.run(["sh", "-c", "exit 4"], config=lc.Config(rootfs=busybox), timeout=30, capture_output=True)
    assert r.returncode == 4 and slept == []


def test_make_cwd_makes_a_missing_working_directory(busybox: str, no_leaks: None) -> None:
    """Process(make_cwd=True): the root gets the cwd (parents too, 0755,
    root's) before the root is made read-only; without it, or with a file
    in the way, CwdError before the program runs."""
    made = os.path.join(busybox, "mk")
    shutil.rmtree(made, ignore_errors=True)
    script = "pwd; stat -c '%n %a %u:%g' /mk /mk/a/b"
    rootfs = lc.Rootfs.directory(busybox, readonly=True)
    process = lc.Process(args=["sh", "-c", script], cwd="/mk/a/b", make_cwd=True)
    try:
        r = lc.run(config=lc.Config(rootfs=rootfs, process=process), capture_output=True, text=True)
        assert r.stdout == "/mk/a/b\n/mk 755 0:0\n/mk/a/b 755 0:0\n", r
    finally:
        shutil.rmtree(made, ignore_errors=True)
    for refused in (attrs.evolve(process, make_cwd=False), attrs.evolve(process, cwd="/bin/sh/x")):
        with pytest.raises(lc.CwdError):
            lc.run(config=lc.Config(rootfs=rootfs, process=refused), capture_output=True)
    assert not os.path.exists(made)


def test_check_raises_process_exit_error(busybox: str) -> None:
    with pytest.raises(lc.ProcessExitError) as info:
        lc.run(["sh", "-c", "echo out; exit 7"], config=lc.Config(rootfs=busybox), check=True, capture_output=True)
    assert info.value.returncode == 7 and info.value.stdout == b"out\n"
    assert isinstance(info.value, subprocess.CalledProcessError) and isinstance(info.value, lc.ContainerError)


def test_signal_exit_status(busybox: str) -> None:
    r = lc.run(["sh", "-c", "kill -TERM $$; sleep 1"], config=lc.Config(rootfs=busybox))
    # PID 1 ignores signals it has no handler for, even from itself...
    assert r.returncode == 0
    proc = lc.ContainerProcess(lc.Config(rootfs=busybox, process=lc.Process(args=["sleep", "100"])))
    proc.send_signal(signal.SIGKILL)  # ...but not SIGKILL from outside.
    assert proc.wait(timeout=10) == -signal.SIGKILL
    proc.close()


def test_popen_interface(busybox: str) -> None:
    config = lc.Config(rootfs=busybox, process=lc.Process(args=["sh", "-c", "read x; echo got $x; exit 4"]))
    with lc.ContainerProcess(config, stdin=lc.PIPE, stdout=lc.PIPE, text=True) as proc:
        assert proc.poll() is None
        assert psutil.Process(proc.pid).ppid() == os.getpid()
        out, _ = proc.communicate("42\n", timeout=10)
    assert out == "got 42\n" and proc.returncode == 4
    assert proc.pidfd == -1  # released on exit


def test_capture_output_conflicts_are_config_errors() -> None:
    with pytest.raises(lc.ConfigError):
        lc.run(["true"], capture_output=True, stdout=lc.PIPE)
    with pytest.raises(lc.ConfigError):
        lc.run(["true"], input=b"x", stdin=lc.PIPE)


def test_the_caller_stays_dumpable(busybox: str) -> None:
    """The child shares the caller's memory until execve (vfork-style), and
    the dumpable flag lives there: its non-dumpable step and its uid change
    must not leave the caller non-dumpable (no core dumps, no py-spy)."""
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    assert prctl(3, 0, 0, 0, 0) == 1  # PR_GET_DUMPABLE
    config = lc.Config(rootfs=busybox, process=lc.Process(args=["true"], user=lc.User(1000, 1000)))
    assert lc.run(config=config).returncode == 0
    assert prctl(3, 0, 0, 0, 0) == 1


def test_a_disowned_process_is_left_for_someone_else_to_reap(busybox: str) -> None:
    """disown(): the object never waits for the process, not even when it is
    collected (Popen.__del__ would reap an exited child and its status would
    be lost to the subreaper that inherits it)."""
    import gc

    config = lc.Config(rootfs=busybox, cgroup=None, process=lc.Process(args=["sh", "-c", "exit 7"]))
    proc = lc.ContainerProcess(config)
    pid = proc.pid
    deadline = time.monotonic() + 10
    while psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.disown()
    assert proc.pidfd == -1  # released
    del proc
    gc.collect()
    # Still a zombie of ours, with its status: nothing reaped it.
    assert os.waitpid(pid, 0) == (pid, 7 << 8)


def test_a_process_that_owns_its_cgroup_cannot_be_disowned(busybox: str, no_leaks: None) -> None:
    """Nobody would remove the cgroup: refused; once handed over, allowed."""
    config = lc.Config(rootfs=busybox, cgroup=lc.CgroupConfig(), process=lc.Process(args=["true"]))
    with lc.ContainerProcess(config) as proc:
        with pytest.raises(lc.ContainerError, match="detach_cgroup"):
            proc.disown()
        proc.wait(timeout=10)
        manager = proc.detach_cgroup()
        assert manager is not None
        proc.disown()
    manager.destroy()


def test_disown_needs_a_started_process(busybox: str) -> None:
    config = lc.Config(rootfs=busybox, process=lc.Process(args=["true"]))
    with lc.ContainerProcess(config, wait_start=True) as proc:
        with pytest.raises(lc.ContainerError):
            proc.disown()


def _session(stat: str) -> tuple[str, str, str]:
    """(pid, process group, session) from a /proc/<pid>/stat line."""
    fields = stat.rsplit(")", 1)[1].split()
    return stat.split(" ", 1)[0], fields[2], fields[3]


def test_the_process_stays_in_the_callers_session_by_default(busybox: str) -> None:
    """As subprocess: the container's process is in the caller's process
    group and session (pid namespace: the kernel shows them as 0 inside)."""
    r = lc.run(["sh", "-c", "cat /proc/self/stat; echo $$"], config=lc.Config(rootfs=busybox), capture_output=True)
    stat = r.stdout.decode().splitlines()[0]
    assert _session(stat)[1:] == ("0", "0"), stat  # outside its pid namespace


def test_new_session_makes_the_process_a_session_leader(busybox: str) -> None:
    config = lc.Config(rootfs=busybox, process=lc.Process(args=["true"], new_session=True))
    r = lc.run(["cat", "/proc/self/stat"], config=config, capture_output=True)
    pid, pgrp, sid = _session(r.stdout.decode())
    assert pid == pgrp == sid == "1", r.stdout


def test_new_session_seen_from_the_host(busybox: str) -> None:
    own = lc.Config(rootfs=busybox, process=lc.Process(args=["sleep", "10"], new_session=True))
    shared = lc.Config(rootfs=busybox, process=lc.Process(args=["sleep", "10"]))
    with lc.ContainerProcess(own) as proc:
        try:
            assert os.getsid(proc.pid) == os.getpgid(proc.pid) == proc.pid
        finally:
            proc.kill()
    with lc.ContainerProcess(shared) as proc:
        try:
            assert os.getsid(proc.pid) == os.getsid(0) and os.getpgid(proc.pid) == os.getpgid(0)
        finally:
            proc.kill()


def test_passwd_home_sets_home_from_the_roots_passwd(busybox: str) -> None:
    """Process(passwd_home=True): HOME from the container's /etc/passwd for
    the process's user when the environment has none (as runc); an
    environment's own HOME stays; without the flag the environment is
    exactly the config's."""

    def home(**process: Any) -> str:
        config = lc.Config(rootfs=busybox, process=lc.Process(args=["true"], **process))
        return lc.run(["sh", "-c", "echo ${HOME-unset}"], config=config, capture_output=True).stdout.decode().strip()

    with open(os.path.join(busybox, "etc/passwd")) as f:
        entries = {line.split(":")[2]: line.split(":")[5] for line in f if line.count(":") >= 6}
    assert home(passwd_home=True) == entries["0"]
    assert home(passwd_home=True, user=lc.User(1000, 1000)) == (entries.get("1000") or "/")
    assert home(passwd_home=True, user=lc.User(4242, 4242)) == "/"  # not listed
    assert home(passwd_home=True, env={"HOME": "/mine"}) == "/mine"
    assert home(passwd_home=True, env={"HOME": ""}) == entries["0"]
    assert home() == "unset"
