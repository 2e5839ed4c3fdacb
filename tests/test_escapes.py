"""The escape suite: attacks run inside a default container and must fail;
each one is also run with its protection turned off and must then work, so
that no case passes for the wrong reason.  The tally is printed at the end.

Not applicable on this kernel: /proc/kcore and /proc/sysrq-trigger do not
exist here (the masking of /proc/timer_list and the read-only /proc/sys stand
for them), and even the host's root cannot open the disk (loop-control
stands in for a host device)."""

from __future__ import annotations

import errno
import os
import subprocess
from typing import Any

import attrs
import pytest
from support import escapes
from support.busybox import make_rootfs

import libcontainer_py as lc
from libcontainer_py.seccomp import Seccomp, SeccompRule

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def root(tmp_path_factory: Any) -> str:
    path = make_rootfs(str(tmp_path_factory.mktemp("escape") / "root"))
    subprocess.run(
        ["gcc", "-static", "-O2", "-o", os.path.join(path, "bin", "attack"), os.path.join(HERE, "support", "attack.c")],
        check=True,
    )
    os.makedirs(os.path.join(path, "mnt"), exist_ok=True)
    return path


@pytest.fixture(scope="module")
def host_marker(tmp_path_factory: Any) -> str:
    """A path that exists on the host only."""
    d = tmp_path_factory.mktemp("hostonly")
    (d / "marker").write_text("host\n")
    return str(d / "marker")


@pytest.fixture(scope="module")
def victim() -> Any:
    """A host process for the container to attack."""
    proc = subprocess.Popen(["sleep", "600"])
    yield proc
    proc.kill()
    proc.wait()


def attack(root: str, args: list, **config: Any) -> str:
    process = config.pop("process", {})
    pass_fds = config.pop("pass_fds", ())
    cfg = lc.Config(rootfs=root, process=lc.Process(args=["/bin/attack", *args], **process), **config)
    r = lc.run(config=cfg, capture_output=True, text=True, timeout=30, pass_fds=pass_fds)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return r.stdout.strip()


def check(name: str, blocked: str, unprotected: str, expect_errno: Any = None) -> None:
    tokens = blocked.split()
    is_blocked = "ERR" in tokens
    worked = "OK" in unprotected.split()
    escapes.RESULTS.append((name, is_blocked, worked))
    assert is_blocked, f"{name}: not blocked by default: {blocked}"
    if expect_errno is not None:
        codes = expect_errno if isinstance(expect_errno, tuple) else (expect_errno,)
        assert int(tokens[tokens.index("ERR") + 1]) in codes, f"{name}: {blocked}"
    assert worked, f"{name}: did not work with its protection off: {unprotected}"


ALL_CAPS = {"capabilities": lc.Capabilities.all()}
HOST_PID = lc.Namespaces(mount=True, uts=True, ipc=True, net=True)


def test_mount_a_filesystem(root: str) -> None:
    check(
        "mount a filesystem",
        attack(root, ["mount", "/mnt"]),
        attack(root, ["mount", "/mnt"], process=ALL_CAPS, seccomp=None),
        errno.EPERM,
    )


def test_load_a_kernel_module(root: str) -> None:
    check(
        "load a kernel module",
        attack(root, ["module"]),
        attack(root, ["module"], process=ALL_CAPS, seccomp=None),
        errno.EPERM,
    )


def test_write_proc_sys(root: str) -> None:
    target = "/proc/sys/kernel/printk_ratelimit"
    check(
        "write /proc/sys",
        attack(root, ["write", target]),
        attack(root, ["write", target], readonly_paths=()),
        errno.EROFS,
    )


def test_read_a_masked_proc_file(root: str) -> None:
    check(
        "read /proc/timer_list (masked, as /proc/kcore would be)",
        attack(root, ["read", "/proc/timer_list"]),
        attack(root, ["read", "/proc/timer_list"], masked_paths=()),
        errno.ENODATA,
    )


def test_mknod_and_open_a_host_device(root: str) -> None:
    check("mknod and open a host device", attack(root, ["device"]), attack(root, ["device"], cgroup=None), errno.EPERM)


def test_mknod_and_open_the_host_console(root: str) -> None:
    """A 5:1 node is the host's console whatever the container's /dev holds
    (its own /dev/console is a pty); runc's device rules leave it out."""
    check(
        "mknod and open the host's console",
        attack(root, ["console"]),
        attack(root, ["console"], cgroup=None),
        errno.EPERM,
    )


def test_raw_socket_without_net_raw(root: str) -> None:
    check(
        "raw socket without CAP_NET_RAW",
        attack(root, ["rawsocket"], process={"capabilities": lc.Capabilities.default().drop("net_raw")}),
        attack(root, ["rawsocket"]),
        errno.EPERM,
    )


def test_ptrace_a_host_process(root: str, victim: Any) -> None:
    check(
        "ptrace a host process",
        attack(root, ["ptrace", str(victim.pid)]),
        attack(root, ["ptrace", str(victim.pid)], namespaces=HOST_PID, process=ALL_CAPS, seccomp=None),
        errno.ESRCH,
    )


def test_kill_a_host_process(root: str, victim: Any) -> None:
    check(
        "kill a host process by pid",
        attack(root, ["kill", str(victim.pid)]),
        attack(root, ["kill", str(victim.pid)], namespaces=HOST_PID),
        errno.ESRCH,
    )
    assert victim.poll() is None


def test_reach_the_host_root_through_proc_pid_root(root: str, host_marker: str, victim: Any) -> None:
    """/proc/<pid>/root of a host process leads to the host's root; in the
    container's pid namespace no host pid exists ("/proc/1/root" there is the
    container's own root)."""
    target = f"/proc/{victim.pid}/root{host_marker}"
    assert attack(root, ["exists", "/proc/1/root" + host_marker]).startswith("ERR")
    check(
        "reach the host rootfs through /proc/<pid>/root",
        attack(root, ["exists", target]),
        attack(root, ["exists", target], namespaces=HOST_PID, process=ALL_CAPS, seccomp=None),
        errno.ENOENT,
    )


def test_reach_the_host_through_a_leaked_fd(root: str, host_marker: str) -> None:
    fd = os.open(os.path.dirname(host_marker), os.O_RDONLY | os.O_DIRECTORY)
    os.set_inheritable(fd, True)  # inheritable, not passed: must not arrive
    try:
        name = os.path.basename(host_marker)
        check(
            "reach the host through a leaked fd",
            attack(root, ["fds", name]),
            attack(root, ["fds", name], pass_fds=[fd]),
            errno.EBADF,
        )
    finally:
        os.close(fd)


def test_reach_the_host_through_the_cwd(root: str, host_marker: str) -> None:
    """CVE-2024-21626: a cwd of /proc/self/fd/N naming a host fd."""
    fd = os.open(os.path.dirname(host_marker), os.O_RDONLY | os.O_DIRECTORY)
    os.set_inheritable(fd, True)
    try:
        name = os.path.basename(host_marker)
        cwd = f"/proc/self/fd/{fd}"
        with pytest.raises(lc.CwdError) as info:
            attack(root, ["cwd", name], process={"cwd": cwd})
        blocked = f"ERR {info.value.errno}"
        # Two protections: the fd is closed before the cwd is entered, and
        # the cwd entered must be inside the root (as runc's verifyCwd). With
        # the fd passed on purpose the second one still refuses it...
        with pytest.raises(lc.CwdError) as passed:
            attack(root, ["cwd", name], process={"cwd": cwd}, pass_fds=[fd])
        assert passed.value.errno == errno.ENOENT
        # ...and what it guards is real: that fd reaches the host's directory.
        worked = attack(root, ["fds", name], pass_fds=[fd])
        check("reach the host through the cwd (CVE-2024-21626)", blocked, worked, errno.ENOENT)
    finally:
        os.close(fd)


def test_change_the_host_hostname(root: str) -> None:
    before = os.uname().nodename
    no_uts = lc.Namespaces(mount=True, ipc=True, pid=True, net=True)
    # Inside its own uts namespace the call works but touches only the
    # container: the protection is that the host's name is out of reach.
    inside = attack(root, ["hostname"], process=ALL_CAPS, seccomp=None)
    default = attack(root, ["hostname"])
    unprotected = attack(root, ["hostname"], namespaces=no_uts, process=ALL_CAPS, seccomp=None)
    assert inside == "OK"
    check("change the host's hostname", default, unprotected, errno.EPERM)
    assert os.uname().nodename == before


def test_keyctl(root: str) -> None:
    check("keyctl", attack(root, ["keyctl"]), attack(root, ["keyctl"], seccomp=None), errno.EPERM)


def test_io_uring(root: str) -> None:
    """A ring's operations never pass through the filter (moby#46762);
    unprotected is Docker's profile before 2023, which allowed the three calls."""
    io_uring = SeccompRule("allow", ["io_uring_setup", "io_uring_enter", "io_uring_register"])
    old_docker = attrs.evolve(Seccomp.default(), rules=(*Seccomp.default().rules, io_uring))
    check(
        "io_uring (bypasses the filter)",
        attack(root, ["io_uring"]),
        attack(root, ["io_uring"], seccomp=old_docker),
        errno.EPERM,
    )


def test_unshare_a_user_namespace_to_regain_caps(root: str) -> None:
    check(
        "unshare a user namespace to regain caps",
        attack(root, ["userns"]),
        attack(root, ["userns"], seccomp=None),
        errno.EPERM,
    )


def test_exceed_an_rlimit(root: str) -> None:
    limit = {"rlimits": [lc.Rlimit("nofile", 32)]}
    check("exceed an rlimit (nofile)", attack(root, ["rlimit", "32"], process=limit), attack(root, ["rlimit", "32"]))


def test_setuid_binary_with_no_new_privs(root: str, tmp_path: Any) -> None:
    source = tmp_path / "euid.c"
    source.write_text(
        "#include <stdio.h>\n#include <unistd.h>\n"
        'int main(void){if(geteuid()==0)puts("OK");else printf("ERR %d\\n",1);return 0;}\n'
    )
    binary = os.path.join(root, "bin", "show-euid")
    subprocess.run(["gcc", "-static", "-O2", "-o", binary, str(source)], check=True)
    os.chmod(binary, 0o4755)
    user = {"user": lc.User(1000, 1000)}

    def euid(**process: Any) -> str:
        cfg = lc.Config(rootfs=root, process=lc.Process(args=["/bin/show-euid"], **user, **process))
        return lc.run(config=cfg, capture_output=True, text=True).stdout.strip()

    check("setuid binary gaining privileges", euid(), euid(no_new_privileges=False), errno.EPERM)


def test_symlinked_mount_destination(tmp_path: Any) -> None:
    """The mount lands inside the root (refused, here); the same path
    resolved the naive way, on the host, reaches the victim directory."""
    base = make_rootfs(str(tmp_path / "r"))
    victim_dir = tmp_path / "victim"
    victim_dir.mkdir()
    os.symlink(str(victim_dir), os.path.join(base, "evil"))
    cfg = lc.Config(
        rootfs=base, mounts=lc.Mounts.default() + [lc.Mount.tmpfs("/evil")], process=lc.Process(args=["true"])
    )
    try:
        lc.run(config=cfg)
        blocked = "OK"
    except lc.MountError as exc:
        blocked = f"ERR {exc.errno}"
    naive = "OK" if os.path.realpath(os.path.join(base, "evil")) == str(victim_dir) else "ERR 0"
    check("mount through a symlinked destination", blocked, naive, errno.ENOENT)
    assert os.listdir(victim_dir) == []


def test_tally() -> None:
    names = [name for name, _, _ in escapes.RESULTS]
    assert len(names) == len(set(names)) >= 19
    assert all(blocked and worked for _, blocked, worked in escapes.RESULTS)
