"""podman and containerd drive our CLI as their OCI runtime.

Each engine runs in a sandbox of its own (tests/support/engines.py): its own
config, storage and state, a busybox image imported locally, nothing of the
host's set-up touched, and everything removed at the end (the fixtures assert
that no process or mount of theirs is left).  What we assert is what the
kernel and the container show: our state record for the container, its
/proc, its cgroup files, exit statuses.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import pty
import re
import select
import subprocess
import time
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
from support import engines
from support.engines import IMAGE, OURS, PODMAN_RUN_FLAGS, Containerd, Podman

#: podman does not pass --root: our default state root.
DEFAULT_ROOT = "/run/libcontainer-py"


@pytest.fixture(scope="module")
def podman(tmp_path_factory: Any, busybox: str) -> Iterator[Podman]:
    with contextlib.closing(Podman(str(tmp_path_factory.mktemp("podman")), busybox, engines.our_binary())) as p:
        yield p


@pytest.fixture(scope="module")
def ctr(tmp_path_factory: Any, busybox: str) -> Iterator[Containerd]:
    with contextlib.closing(Containerd(str(tmp_path_factory.mktemp("ctrd")), busybox, engines.our_binary())) as c:
        yield c


def on_a_terminal(argv: List[str], env: Optional[Dict[str, str]] = None, timeout: float = 30) -> str:
    """Run argv with a pty as its stdin/stdout/stderr; returns what it wrote."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: every slave end is closed
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return out.decode(errors="replace")


def cgroup_of(pid: int, controller: str) -> str:
    """The cgroup directory of ``pid`` for a v1 controller, or ("") the
    unified one."""
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, names, path = line.rstrip("\n").split(":", 2)
            if controller in names.split(",") or (controller == names == ""):
                return os.path.join("/sys/fs/cgroup", controller or "unified", path.lstrip("/"))
    raise AssertionError(f"{pid} has no {controller or 'unified'} cgroup")


def frozen(pid: int) -> bool:
    """What the kernel says: cgroup2's frozen event (this hybrid host has
    both freezers; ours uses cgroup2's where it can) or v1's freezer.state."""
    events = os.path.join(cgroup_of(pid, ""), "cgroup.events")
    if os.path.exists(events):
        with open(events) as f:
            if "frozen 1" in f.read().splitlines():
                return True
    with open(os.path.join(cgroup_of(pid, "freezer"), "freezer.state")) as f:
        return f.read().strip() == "FROZEN"


# ---- podman -----------------------------------------------------------------


def test_podman_run_passes_output_and_exit_status_through(podman: Podman) -> None:
    r = podman("run", "--rm", *PODMAN_RUN_FLAGS, IMAGE, "sh", "-c", "echo pid=$$; hostname; exit 3")
    assert r.returncode == 3, r
    lines = r.stdout.split()
    assert lines[0] == "pid=1", r


def _exec_plans(root: str, cid: str) -> Tuple[int, int]:
    """The inode of the container's saved exec plans and how many there are
    (an exec that took the library's path writes a new file)."""
    path = os.path.join(root, cid, "exec.json")
    with open(path) as f:
        return os.fstat(f.fileno()).st_ino, len(json.load(f)["plans"])


def test_podman_detached_container_is_ours_and_isolated(podman: Podman) -> None:
    cid = podman("run", "-d", "--name", "lc-detached", *PODMAN_RUN_FLAGS, IMAGE, "sleep", "1000").check().stdout.strip()
    try:
        pid = int(podman("inspect", "--format", "{{.State.Pid}}", cid).check().stdout)
        # Our state record (runc's would not load) names the same process.
        state = engines.our_state(DEFAULT_ROOT, cid)
        assert state["status"] == "running" and state["pid"] == pid, state
        for ns in ("mnt", "pid", "uts", "ipc", "net"):
            assert os.readlink(f"/proc/{pid}/ns/{ns}") != os.readlink(f"/proc/self/ns/{ns}"), ns
        assert cgroup_of(pid, "memory").endswith(f"libpod-{cid}")

        r = podman("exec", cid, "sh", "-c", "echo in=$(cat /proc/1/cmdline | tr '\\0' ' '); exit 5")
        assert r.returncode == 5 and r.stdout.strip() == "in=sleep 1000", r
        saved = _exec_plans(DEFAULT_ROOT, cid)
        r = podman("exec", cid, "sh", "-c", "echo again; exit 6")
        assert r.returncode == 6 and r.stdout.strip() == "again", r
        assert _exec_plans(DEFAULT_ROOT, cid) == saved and saved[1] == 1, saved  # spawned from the saved plan
        top = podman("top", cid).check().stdout
        assert "sleep 1000" in top, top

        podman("pause", cid).check()
        assert frozen(pid)
        assert podman("inspect", "--format", "{{.State.Status}}", cid).stdout.strip() == "paused"
        assert engines.our_state(DEFAULT_ROOT, cid)["status"] == "paused"
        podman("unpause", cid).check()
        assert not frozen(pid)

        # sleep as PID 1 ignores SIGTERM: podman escalates to SIGKILL.
        podman("stop", "--time", "1", cid).check()
        assert podman("inspect", "--format", "{{.State.ExitCode}}", cid).stdout.strip() == "137"
        assert not os.path.exists(f"/proc/{pid}")
    finally:
        podman("rm", "--force", "--time", "0", cid).check()
    assert not os.path.exists(os.path.join(DEFAULT_ROOT, cid)), "podman's delete --force left our state"
    assert not os.path.exists(f"/sys/fs/cgroup/memory/libpod_parent/libpod-{cid}")


@pytest.mark.parametrize("argv, status", [(["/nonexistent"], 127), (["/etc/passwd"], 126), (["nosuchcmd"], 127)])
def test_podman_maps_exec_errors_as_with_runc(podman: Podman, argv: List[str], status: int) -> None:
    ours = podman("run", "--rm", *PODMAN_RUN_FLAGS, IMAGE, *argv)
    runc = podman("run", "--rm", *PODMAN_RUN_FLAGS, IMAGE, *argv, runtime="runc")
    assert (ours.returncode, runc.returncode) == (status, status), (ours, runc)
    # The reason reached podman through our --log in JSON (no logrus text
    # framing), as runc's does, and names the program.
    assert ours.stderr.startswith(f"Error: {OURS}: ") and "time=" not in ours.stderr, ours
    assert repr(argv[0]) in ours.stderr, ours
    assert podman("ps", "--all", "--quiet").stdout.strip() == ""


def test_podman_privileged_as_with_runc(podman: Podman) -> None:
    """--privileged passes every host device (some below directories such as
    /dev/cpu/0) and every capability."""
    script = "grep CapEff /proc/self/status; ls /dev | wc -l"
    ours = podman("run", "--rm", "--privileged", *PODMAN_RUN_FLAGS, IMAGE, "sh", "-c", script)
    runc = podman("run", "--rm", "--privileged", *PODMAN_RUN_FLAGS, IMAGE, "sh", "-c", script, runtime="runc")
    assert ours.returncode == 0 and ours.stdout == runc.stdout, (ours, runc)


def test_podman_read_only_and_tmpfs_copy_up_as_with_runc(podman: Podman, busybox: str) -> None:
    """podman gives every --tmpfs, and with --read-only /tmp, /var/tmp and
    /run, runc's tmpcopyup option: a tmpfs over /etc shows the image's files."""
    script = (
        "stat -c '%n %a %u:%g %s' /etc/passwd /etc/group; head -1 /etc/passwd; "
        "grep -c ' /etc .* - tmpfs ' /proc/self/mountinfo; ls -A /scratch | wc -l; "
        "touch /scratch/x /etc/new /tmp/y && echo writable; touch /x 2>&1 | grep -c Read-only; "
        "stat -c %Y /etc/passwd"
    )
    outs = {}
    for runtime in (OURS, "runc"):
        flags = ("--read-only", "--tmpfs", "/scratch", "--tmpfs", "/etc")
        r = podman("run", "--rm", *PODMAN_RUN_FLAGS, *flags, IMAGE, "sh", "-c", script, runtime=runtime)
        assert r.returncode == 0, (runtime, r)
        outs[runtime] = r.stdout.splitlines()
    sizes = [os.path.getsize(os.path.join(busybox, "etc", name)) for name in ("passwd", "group")]
    assert outs[OURS][:2] == [f"/etc/passwd 644 0:0 {sizes[0]}", f"/etc/group 644 0:0 {sizes[1]}"], outs
    assert outs[OURS][2:7] == ["root:x:0:0:root:/root:/bin/sh", "1", "0", "writable", "1"], outs
    # The same as runc, but for the times: runc 1.1 does not keep them, we do.
    assert outs[OURS][:-1] == outs["runc"][:-1]
    image = podman("run", "--rm", *PODMAN_RUN_FLAGS, IMAGE, "stat", "-c", "%Y", "/etc/passwd").check()
    assert outs[OURS][-1] == image.stdout.strip()


def test_podman_default_device_rules_as_with_runc(podman: Podman) -> None:
    """The devices a container may open unless told otherwise are runc's:
    with CAP_MKNOD on the image's root (no nodev), the host's console (5:1)
    stays shut and tun/tap (10:200) opens; the devices cgroup lists the same
    rules."""
    script = (
        "mknod /console c 5 1 && (echo > /console) 2>&1 | grep -o 'not permitted'; "
        "mknod /tun c 10 200 && cat /tun 2>&1 | grep -o 'bad state'; "
        "sort /sys/fs/cgroup/devices/devices.list | tr '\\n' ,"
    )
    outs = {}
    for runtime in (OURS, "runc"):
        r = podman("run", "--rm", *PODMAN_RUN_FLAGS, "--cap-add", "MKNOD", IMAGE, "sh", "-c", script, runtime=runtime)
        assert r.returncode == 0, (runtime, r)
        outs[runtime] = r.stdout
    assert outs[OURS].splitlines()[:2] == ["not permitted", "bad state"], outs
    assert "5:1" not in outs[OURS] and "10:200" in outs[OURS], outs
    assert outs[OURS] == outs["runc"], outs


def test_podman_terminal_through_the_console_socket(podman: Podman) -> None:
    out = on_a_terminal(
        ["podman", "--runtime", OURS, "run", "--rm", "-t", *PODMAN_RUN_FLAGS, IMAGE, "sh", "-c", "tty; exit 0"],
        env=podman.env,
    )
    assert "/dev/pts/0" in out, out


def test_podman_stdin_reaches_the_container(podman: Podman) -> None:
    r = podman("run", "--rm", "-i", *PODMAN_RUN_FLAGS, IMAGE, "sh", "-c", "tr a-z A-Z", input=b"through stdin\n")
    assert r.returncode == 0 and r.stdout == "THROUGH STDIN\n", r


def test_podman_container_sees_its_cgroup_limits_as_with_runc(podman: Podman) -> None:
    """podman mounts type "cgroup" at /sys/fs/cgroup: on this hybrid host
    the container's own v1 hierarchies, holding its limits (what JVMs read)."""
    argv = ["cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/pids/pids.max"]
    flags = ("--memory", "64m", "--pids-limit", "50", *PODMAN_RUN_FLAGS)
    for runtime in (OURS, "runc"):
        r = podman("run", "--rm", *flags, IMAGE, *argv, runtime=runtime)
        assert (r.returncode, r.stdout) == (0, "67108864\n50\n"), (runtime, r)


def test_podman_user_namespace_without_a_cgroup_namespace(podman: Podman) -> None:
    """--uidmap: a user namespace but no cgroup namespace, where the cgroup
    hierarchies are bound, not mounted (a cgroup2 mount was refused there)."""
    flags = ("--uidmap", "0:100000:65536", "--gidmap", "0:100000:65536", *PODMAN_RUN_FLAGS)
    script = "cat /proc/self/uid_map; ls /sys/fs/cgroup/pids/pids.max"
    ours = podman("run", "--rm", *flags, IMAGE, "sh", "-c", script)
    runc = podman("run", "--rm", *flags, IMAGE, "sh", "-c", script, runtime="runc")
    assert ours.returncode == runc.returncode == 0, (ours, runc)
    assert ours.stdout == runc.stdout and ours.stdout.split() == [
        "0",
        "100000",
        "65536",
        "/sys/fs/cgroup/pids/pids.max",
    ]


# ---- containerd ---------------------------------------------------------------


def test_ctr_run_passes_output_and_exit_status_through(ctr: Containerd) -> None:
    r = ctr(
        "run",
        "--rm",
        *ctr.runtime_flags(ctr.binary),
        engines.CTR_IMAGE,
        "lc-ctr-run",
        "sh",
        "-c",
        "echo pid=$$; exit 4",
    )
    assert r.returncode == 4 and r.stdout.strip() == "pid=1", r
    assert "lc-ctr-run" not in ctr.ids()


def test_ctr_task_lifecycle(ctr: Containerd) -> None:
    cid = "lc-ctr-task"
    ctr("run", "-d", *ctr.runtime_flags(ctr.binary), engines.CTR_IMAGE, cid, "sleep", "1000").check()
    try:
        pid = int(ctr("tasks", "list").check().stdout.split(cid)[1].split()[0])
        state = engines.our_state(ctr.state_root, cid)
        assert state["status"] == "running" and state["pid"] == pid, state
        assert os.readlink(f"/proc/{pid}/ns/pid") != os.readlink("/proc/self/ns/pid")

        # A quick exec: it exits while our CLI is still running; the shim
        # (a subreaper) must still see its status.
        r = ctr("tasks", "exec", "--exec-id", "quick", cid, "sh", "-c", "echo exec; exit 7", timeout=30)
        assert r.returncode == 7 and r.stdout.strip() == "exec", r
        # The next exec spawns the plan the first one saved (the file is not rewritten).
        saved = _exec_plans(ctr.state_root, cid)
        r = ctr("tasks", "exec", "--exec-id", "again", cid, "sh", "-c", "echo again; exit 8", timeout=30)
        assert r.returncode == 8 and r.stdout.strip() == "again", r
        assert _exec_plans(ctr.state_root, cid) == saved and saved[1] == 1, saved
        pids = ctr("tasks", "ps", cid).check().stdout
        assert str(pid) in pids, pids

        ctr("tasks", "pause", cid).check()
        assert frozen(pid)
        assert "PAUSED" in ctr("tasks", "list").stdout
        assert engines.our_state(ctr.state_root, cid)["status"] == "paused"
        ctr("tasks", "resume", cid).check()
        assert not frozen(pid)

        ctr("tasks", "kill", "--signal", "SIGKILL", cid).check()
        deadline = time.monotonic() + 10
        while "STOPPED" not in ctr("tasks", "list").stdout:
            assert time.monotonic() < deadline, ctr("tasks", "list")
            time.sleep(0.05)
        ctr("tasks", "delete", cid).check()
        assert not os.path.exists(os.path.join(ctr.state_root, cid)), "the shim's delete left our state"
    finally:
        ctr.remove(cid)
    assert cid not in ctr.ids()


def test_ctr_terminal_through_the_console_socket(ctr: Containerd) -> None:
    argv = ["ctr", "--address", ctr.address, "run", "--rm", "-t", *ctr.runtime_flags(ctr.binary)]
    out = on_a_terminal([*argv, engines.CTR_IMAGE, "lc-ctr-tty", "sh", "-c", "tty; exit 0"])
    assert "/dev/pts/0" in out, out
    assert "lc-ctr-tty" not in ctr.ids()


def test_podman_day_to_day_commands_as_with_runc(podman: Podman) -> None:
    """exec with user/cwd/env, update, kill, restart, commit --pause (pause
    and resume by the runtime), stop with a TERM trap, logs, and a private
    cgroup namespace: the same outputs with our runtime as with runc."""
    script = "trap 'echo got-term; exit 0' TERM; echo started; while :; do sleep 0.1; done"
    seen = {}
    for runtime in (OURS, "runc"):
        out: List[str] = []

        def pm(*args: str, runtime: str = runtime) -> engines.Done:
            return podman(*args, runtime=runtime)

        cid = pm("run", "-d", *PODMAN_RUN_FLAGS, IMAGE, "sh", "-c", script).check().stdout.strip()
        try:
            out.append(
                pm("exec", "-u", "1000", "-w", "/tmp", "-e", "A=b", cid, "sh", "-c", "id -u; pwd; echo $A")
                .check()
                .stdout
            )
            pm("update", "--memory", "100m", cid).check()
            out.append(pm("exec", cid, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes").check().stdout)
            pm("kill", "--signal", "USR1", cid).check()  # PID 1 has no handler: the kernel drops it
            pm("restart", "--time", "5", cid).check()
            pm("commit", "--pause", cid, f"localhost/committed-{runtime}").check()
            pm("stop", "--time", "5", cid).check()
            out.append(pm("inspect", "--format", "{{.State.ExitCode}}", cid).check().stdout)
            out.append(pm("logs", cid).check().stdout)
        finally:
            pm("rm", "--force", "--time", "0", cid)
            pm("rmi", "--force", f"localhost/committed-{runtime}")
        ns = pm("run", "--rm", *PODMAN_RUN_FLAGS, "--cgroupns", "private", IMAGE, "cat", "/proc/self/cgroup")
        out.append(ns.check().stdout)
        seen[runtime] = out
    assert seen[OURS] == seen["runc"], seen
    assert seen[OURS][:3] == ["1000\n/tmp\nb\n", "104857600\n", "0\n"], seen
    assert seen[OURS][3] == "started\ngot-term\nstarted\ngot-term\n", seen
    assert all(line.endswith(":/") for line in seen[OURS][4].split()), seen


def test_podman_timeout_kills_the_container_as_with_runc(podman: Podman) -> None:
    """``--timeout``: conmon kills the container's process group, which must
    be the container's own (runc's processes lead a session of their own);
    in conmon's group, conmon killed itself, podman never learned the exit
    and could not remove the container."""
    seen = {}
    for runtime in (OURS, "runc"):
        name = f"lc-timeout-{runtime}"
        argv = ["run", "--rm", "--name", name, "--timeout", "1", *PODMAN_RUN_FLAGS, IMAGE, "sleep", "30"]
        r = podman(*argv, runtime=runtime)
        left = podman("ps", "--all", "--quiet", "--filter", f"name={name}").check().stdout.strip()
        if left:
            podman("rm", "--force", "--time", "0", name)
        seen[runtime] = (r.returncode, left)
    assert seen[OURS] == seen["runc"] == (255, ""), seen


def session_of(pid: int) -> Tuple[int, int]:
    """(process group, session) of ``pid`` as the host sees them."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[2]), int(fields[3])


def test_podman_processes_lead_their_own_sessions(podman: Podman) -> None:
    """The container's process and an exec'd one are each a session leader,
    without a terminal too: as runc's."""
    cid = podman("run", "-d", *PODMAN_RUN_FLAGS, IMAGE, "sleep", "1000").check().stdout.strip()
    try:
        pid = int(podman("inspect", "--format", "{{.State.Pid}}", cid).check().stdout)
        assert session_of(pid) == (pid, pid)
        for _ in range(2):  # the library's path, then the saved exec plan
            stat = podman("exec", cid, "cat", "/proc/self/stat").check().stdout
            inner_pid = stat.split(" ", 1)[0]
            fields = stat.rsplit(")", 1)[1].split()
            assert fields[2] == fields[3] == inner_pid, stat  # pgrp == sid == its pid in the container
    finally:
        podman("rm", "--force", "--time", "0", cid).check()


def test_ctr_environment_gets_home_as_with_runc(ctr: Containerd) -> None:
    """containerd's spec carries PATH only: runc adds HOME from the image's
    /etc/passwd, for the container's process and for an exec'd one."""
    seen = {}
    for name, binary in (("ours", ctr.binary), ("runc", "/usr/sbin/runc")):
        cid = f"lc-ctr-home-{name}"
        flags = ctr.runtime_flags(binary)
        out = [ctr("run", "--rm", *flags, engines.CTR_IMAGE, cid, "sh", "-c", "echo $HOME").check().stdout]
        ctr("run", "-d", *flags, engines.CTR_IMAGE, cid, "sleep", "60").check()
        try:
            r = ctr("tasks", "exec", "--exec-id", "home", "--user", "1000", cid, "sh", "-c", "echo $HOME")
            out.append(r.check().stdout)
        finally:
            ctr.remove(cid)
        seen[name] = out
    assert seen["ours"] == seen["runc"] == ["/root\n", "/\n"], seen


def test_ctr_container_keeps_the_hosts_name_as_with_runc(ctr: Containerd) -> None:
    """ctr run writes no hostname: runc sets none, so the new uts namespace
    keeps its copy of the host's name; so do we."""
    seen = {}
    for name, binary in (("ours", ctr.binary), ("runc", "/usr/sbin/runc")):
        flags = ctr.runtime_flags(binary)
        seen[name] = ctr("run", "--rm", *flags, engines.CTR_IMAGE, f"lc-ctr-name-{name}", "hostname").check().stdout
    assert seen["ours"] == seen["runc"] == f"{os.uname().nodename}\n", seen


#: What a container is shown, as a probe inside it prints it: ids, names,
#: environment, capabilities and seccomp, rlimits, the mount table (mount
#: point, options, type, super options without sizes), /dev, sysctls, its
#: cgroups and their limit files, and whether its root and /tmp are writable.
SEEN = r"""
id; hostname; umask; pwd; env | grep -v ^HOSTNAME= | sort
grep -E '^(Cap|NoNewPrivs|Seccomp|Groups):' /proc/self/status
ulimit -a | sort; cat /proc/self/oom_score_adj
awk '{print $5, $6, $(NF-2), $NF}' /proc/self/mountinfo | sed 's/,size=[0-9a-z]*//' | sort
ls -la /dev | awk '{print $1, $3, $4, $5, $6, $NF}' | sort
for f in net/ipv4/ip_forward kernel/shmmax kernel/msgmax kernel/domainname; do echo $f $(cat /proc/sys/$f); done
sed 's/libpod-[0-9a-f]*/libpod-ID/' /proc/self/cgroup | sort; ls /sys/fs/cgroup | tr '\n' ' '; echo
for f in memory/memory.limit_in_bytes memory/memory.memsw.limit_in_bytes pids/pids.max cpu/cpu.shares \
  cpu/cpu.cfs_quota_us cpuset/cpuset.cpus devices/devices.list; do echo $f $(cat /sys/fs/cgroup/$f); done
touch /x 2>&1 | sed 's/.*: //'; touch /tmp/x 2>&1 | sed 's/.*: //'
"""

#: Where ours differs from runc 1.1 (docs/engines.md, "Known differences"):
#: masked directories get nosuid,nodev,noexec and mode 555 (stricter), and
#: the tmpfs at /sys/fs/cgroup is read-only as podman's config asks (runc's
#: is read-write): for these mount points only the type is compared.
DELIBERATE = ("/proc/acpi", "/proc/asound", "/proc/scsi", "/sys/firmware", "/sys/dev/block", "/sys/fs/cgroup")


def _seen(out: str) -> List[str]:
    lines = []
    for line in out.splitlines():
        line = re.sub(r"\b([0-9a-f]{64}|[0-9a-f]{12})\b", "ID", line)
        words = line.split()
        if len(words) == 4 and words[0] in DELIBERATE and words[2] == "tmpfs":
            line = f"{words[0]} tmpfs"
        if words[-1:] == ["mqueue"] and words[0].startswith("d"):
            # In a user namespace /dev/mqueue is the overflow uid's with us
            # (mounted before the child is the namespace's root), root's
            # with runc: the same mode, 1777, either way.
            line = " ".join([words[0], "OWNER", *words[2:]])
        lines.append(line)
    return lines


@pytest.mark.parametrize(
    "flags",
    [
        (),
        ("--read-only",),
        ("--cap-drop", "all", "--cap-add", "CHOWN"),
        ("--privileged",),
        ("--user", "1000:1000", "--group-add", "10", "--workdir", "/tmp", "-e", "A=1"),
        ("--memory", "64m", "--memory-swap", "128m", "--pids-limit", "50", "--cpu-shares", "512", "--cpus", "0.5"),
        ("--security-opt", "seccomp=unconfined", "--security-opt", "no-new-privileges"),
        ("--tmpfs", "/scratch:size=1m,mode=700", "--shm-size", "1m", "--sysctl", "net.ipv4.ip_forward=1"),
        ("--uidmap", "0:100000:65536", "--gidmap", "0:100000:65536"),
        ("--ipc", "host", "--uts", "host", "--cgroupns", "host"),
    ],
    ids=lambda flags: " ".join(flags) or "defaults",
)
def test_podman_containers_see_what_runc_shows_them(podman: Podman, flags: Tuple[str, ...]) -> None:
    """The same `podman run` through both runtimes: what the container sees
    is the same, line for line, but for DELIBERATE.  Ours runs it three
    times: the first `create` of a kind takes the library's path and saves
    a recipe, later ones are made through it (cli/_create_light.py) once
    podman's shared mounts come in an order seen before."""
    r = podman("run", "--rm", *PODMAN_RUN_FLAGS, *flags, IMAGE, "sh", "-c", SEEN, runtime="runc")
    assert r.returncode == 0, r
    runc = _seen(r.stdout)
    for _ in range(3):
        r = podman("run", "--rm", *PODMAN_RUN_FLAGS, *flags, IMAGE, "sh", "-c", SEEN)
        assert r.returncode == 0, r
        ours = _seen(r.stdout)
        assert len(ours) > 60, ours
        assert ours == runc, "\n".join(difflib.unified_diff(runc, ours, "runc", OURS, n=0))


@pytest.mark.parametrize(
    "flags",
    [(), ("--privileged",), ("--read-only",), ("--memory-limit", "67108864", "--cpus", "0.5"), ("--seccomp",)],
    ids=lambda flags: " ".join(flags) or "defaults",
)
def test_ctr_containers_see_what_runc_shows_them(ctr: Containerd, flags: Tuple[str, ...]) -> None:
    """As the podman test above, through containerd's shim (ours twice: the
    second `create` through the first one's recipe)."""
    seen = {}
    for name, binary in (("runc", "/usr/sbin/runc"), ("ours", ctr.binary), ("ours again", ctr.binary)):
        cid = f"lc-ctr-seen-{name.replace(' ', '-')}"
        r = ctr("run", "--rm", *ctr.runtime_flags(binary), *flags, engines.CTR_IMAGE, cid, "sh", "-c", SEEN)
        assert r.returncode == 0, (name, r)
        # each run has snapshots of its own: their numbers differ
        seen[name] = [re.sub(r"snapshots/\d+/", "snapshots/N/", line.replace(cid, "CID")) for line in _seen(r.stdout)]
    for name in ("ours", "ours again"):
        assert len(seen[name]) > 60, seen[name]
        diff = difflib.unified_diff(seen["runc"], seen[name], "runc", name, n=0)
        assert seen[name] == seen["runc"], "\n".join(diff)


def test_ctr_run_cwd_the_image_lacks_as_with_runc(ctr: Containerd) -> None:
    """ctr run --cwd (as a pod's workingDir) names a directory the image may
    lack: runc makes it, and so do we."""
    seen = {}
    for name, binary in (("ours", ctr.binary), ("runc", "/usr/sbin/runc")):
        flags = [*ctr.runtime_flags(binary), "--cwd", "/work/dir"]
        script = "pwd; stat -c '%n %a %u' /work /work/dir"
        r = ctr("run", "--rm", *flags, engines.CTR_IMAGE, f"lc-ctr-cwd-{name}", "sh", "-c", script)
        seen[name] = (r.returncode, r.stdout)
    assert seen["ours"] == seen["runc"] == (0, "/work/dir\n/work 755 0\n/work/dir 755 0\n"), seen
