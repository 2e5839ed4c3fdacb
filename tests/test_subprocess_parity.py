"""subprocess habits on lc.run and lc.ContainerProcess, and the errors users
meet first: each checked against what the container's process shows."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
from typing import Any, Dict

import psutil
import pytest
from support.busybox import make_rootfs

import libcontainer_py as lc


def status_of(text: str) -> Dict[str, str]:
    """/proc/<pid>/status as a dict."""
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def test_env_replaces_the_environment(no_leaks: None) -> None:
    r = lc.run(["cat", "/proc/self/environ"], env={"FOO": "bar", "PATH": "/bin:/usr/bin"}, capture_output=True)
    assert sorted(r.stdout.split(b"\0")[:-1]) == [b"FOO=bar", b"PATH=/bin:/usr/bin"]


def test_cwd(no_leaks: None) -> None:
    r = lc.run(["readlink", "/proc/self/cwd"], cwd="/usr/bin", capture_output=True, text=True)
    assert r.stdout == "/usr/bin\n"


@pytest.mark.parametrize(
    "user, uid, gid",
    [(65534, 65534, 65534), ("1234:4321", 1234, 4321), ("nobody", 65534, 65534), (lc.User(7, 8), 7, 8)],
)
def test_user(user: Any, uid: int, gid: int, no_leaks: None) -> None:
    r = lc.run(["cat", "/proc/self/status"], user=user, capture_output=True, text=True)
    status = status_of(r.stdout)
    assert status["Uid"].split() == [str(uid)] * 4
    assert status["Gid"].split() == [str(gid)] * 4


def test_user_name_looked_up_in_the_containers_root(tmp_path: Any, no_leaks: None) -> None:
    rootfs = make_rootfs(str(tmp_path / "rootfs"))
    with open(os.path.join(rootfs, "etc", "passwd"), "a") as f:
        f.write("boxuser:x:4242:4343::/:/bin/sh\n")
    config = lc.Config(rootfs=rootfs)
    r = lc.run(["cat", "/proc/self/status"], config=config, user="boxuser", capture_output=True, text=True)
    assert status_of(r.stdout)["Uid"].split()[0] == "4242"
    assert status_of(r.stdout)["Gid"].split()[0] == "4343"
    with pytest.raises(lc.ConfigError, match="no user 'nosuchuser'"):
        lc.run(["true"], config=config, user="nosuchuser")


def test_shell_runs_a_str_with_sh_in_the_container(no_leaks: None) -> None:
    r = lc.run("echo $$ $0; echo err >&2", shell=True, capture_output=True, text=True)
    assert r.stdout == "1 /bin/sh\n" and r.stderr == "err\n"
    with pytest.raises(lc.ConfigError, match="shell=True"):
        lc.run("echo hi")
    with pytest.raises(lc.ConfigError, match="one str"):
        lc.run(["echo", "hi"], shell=True)


def test_universal_newlines(no_leaks: None) -> None:
    r = lc.run(["printf", "a\\r\\nb"], universal_newlines=True, stdout=lc.PIPE)
    assert r.stdout == "a\nb"


def test_missing_program_is_a_file_not_found_error(no_leaks: None) -> None:
    with pytest.raises(FileNotFoundError) as info:
        lc.run(["no-such-program"])
    assert isinstance(info.value, lc.ContainerError) and isinstance(info.value, lc.ExecError)
    assert info.value.errno == errno.ENOENT and info.value.filename == "no-such-program"
    assert "no-such-program" in str(info.value) and "exec" in str(info.value)


def test_not_executable_is_a_permission_error(no_leaks: None) -> None:
    with pytest.raises(PermissionError) as info:
        lc.run(["/etc/passwd"])
    assert isinstance(info.value, lc.ContainerError) and info.value.errno == errno.EACCES


def _terminated(init: bool) -> lc.ContainerProcess:
    config = lc.Config(process=lc.Process(args=["sh", "-c", "echo up; exec sleep 60"], init=init))
    proc = lc.ContainerProcess(config, stdout=lc.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"up\n"
    proc.terminate()
    proc.wait(10)
    return proc


def test_terminate_without_init_ends_pid1(no_leaks: None) -> None:
    """A PID 1 with no SIGTERM handler never sees SIGTERM: it is killed."""
    with _terminated(init=False) as proc:
        assert proc.returncode == -signal.SIGKILL
        assert not psutil.pid_exists(proc.pid)


def test_terminate_with_init_reports_the_signal(no_leaks: None) -> None:
    with _terminated(init=True) as proc:
        assert proc.returncode == -signal.SIGTERM


def test_terminate_of_a_pid1_with_a_handler_is_sigterm(no_leaks: None) -> None:
    script = "trap 'echo got TERM; exit 7' TERM; echo up; while :; do sleep 0.05; done"
    with lc.ContainerProcess(lc.Config(), args=["sh", "-c", script], stdout=lc.PIPE) as proc:
        assert proc.stdout is not None and proc.stdout.readline() == b"up\n"
        proc.terminate()
        assert proc.wait(10) == 7 and proc.stdout.read() == b"got TERM\n"


def test_init_exit_codes_of_its_own_are_kept(no_leaks: None) -> None:
    config = lc.Config(process=lc.Process(args=["sh", "-c", "exit 143"], init=True))
    assert lc.run(config=config).returncode == 143  # no signal was sent: a plain status


def test_dict_config_points_to_config(no_leaks: None) -> None:
    with pytest.raises(lc.ConfigError, match=r"lc\.Config\(\.\.\.\).*Config\.from_oci"):
        lc.run(["true"], config={"process": {"args": ["true"]}})  # type: ignore[arg-type]
    with pytest.raises(lc.ConfigError, match="dict is not a Config"):
        lc.ContainerProcess({"process": {}})  # type: ignore[arg-type]


def test_rootfs_missing_or_a_file(tmp_path: Any, no_leaks: None) -> None:
    missing = str(tmp_path / "nope")
    with pytest.raises(lc.ConfigError, match=f"rootfs.path: the directory '{missing}' does not exist"):
        lc.run(["true"], config=lc.Config(rootfs=missing))
    afile = tmp_path / "file"
    afile.write_text("")
    with pytest.raises(lc.ConfigError, match=f"'{afile}' is not a directory"):
        lc.run(["true"], config=lc.Config(rootfs=str(afile)))


def test_duplicate_id_is_container_exists(no_leaks: None) -> None:
    cid = "dup-" + os.urandom(3).hex()
    with lc.ContainerProcess(lc.Config(), args=["sleep", "60"], container_id=cid) as first:
        with pytest.raises(lc.ContainerExists, match=cid):
            lc.run(["true"], container_id=cid)
        assert first.poll() is None  # untouched
        first.kill()


def test_id_of_a_recorded_container_is_container_exists(no_leaks: None) -> None:
    cid = "rec-" + os.urandom(3).hex()
    with lc.Container.create(cid, lc.Config(process=lc.Process(args=["true"]), cgroup=None)):
        with pytest.raises(lc.ContainerExists, match=lc.DEFAULT_ROOT):
            lc.run(["true"], container_id=cid, config=lc.Config(cgroup=None))


@pytest.mark.parametrize("hostname", ["my box", "a/b", "tab\there", "x" * 65, "nul\0"])
def test_invalid_hostname_refused(hostname: str) -> None:
    with pytest.raises(lc.ConfigError, match="hostname"):
        lc.Config(hostname=hostname)


def test_an_empty_hostname_is_none_set() -> None:
    """An empty hostname is accepted: none is set (a new uts namespace keeps the caller's)."""
    assert lc.Config(hostname="").hostname == ""


def test_pass_fds_with_a_closed_fd_names_it(no_leaks: None) -> None:
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    with pytest.raises(lc.ConfigError, match=rf"pass_fds\[1\]: fd {w} is not open"):
        lc.run(["true"], pass_fds=[sys.stderr.fileno(), w])


def test_popen_takes_the_same_arguments(no_leaks: None) -> None:
    with lc.ContainerProcess(
        lc.Config(), args="id -u; pwd; echo $X", shell=True, env={"X": "y"}, cwd="/tmp", user=5, stdout=lc.PIPE
    ) as proc:
        out, _ = proc.communicate()
    assert out == b"5\n/tmp\ny\n" and proc.returncode == 0


def test_run_matches_subprocess_for_the_same_command(no_leaks: None) -> None:
    """The host's subprocess and lc.run agree on what the same arguments do."""
    kwargs: Dict[str, Any] = dict(shell=True, env={"A": "1"}, cwd="/usr", capture_output=True, text=True)
    command = "echo $A; pwd; exit 3"
    ours = lc.run(command, **kwargs)
    theirs = subprocess.run(command, **kwargs)
    assert (ours.returncode, ours.stdout, ours.stderr) == (theirs.returncode, theirs.stdout, theirs.stderr)
