"""Capabilities, no_new_privs, rlimits, oom_score_adj, masked and read-only
paths and sysctls, as /proc/self/status and the files themselves show them."""

from __future__ import annotations

import os
import subprocess
from typing import Dict, List, Tuple

import pytest
from support.observe import inside, proc_status

import libcontainer_py as lc
from libcontainer_py.capabilities import DEFAULT_CAPABILITIES, mask


def caps(st: dict, which: str) -> int:
    return int(st[which], 16)


def test_default_capabilities_and_no_new_privs(busybox: str) -> None:
    st = proc_status(lc.Config(rootfs=busybox))
    want = mask(DEFAULT_CAPABILITIES)
    for which in ("CapBnd", "CapPrm", "CapEff"):
        assert caps(st, which) == want, which
    assert caps(st, "CapInh") == 0 and caps(st, "CapAmb") == 0
    assert st["NoNewPrivs"] == "1"


def test_explicit_sets_by_any_spelling(busybox: str) -> None:
    c = lc.Capabilities(
        bounding={"CAP_NET_RAW", "chown", "SETPCAP", "net_bind_service"},
        permitted={"net_raw", "chown", "net_bind_service"},
        effective={"chown"},
        inheritable={"net_bind_service"},
        ambient={"net_bind_service"},
    )
    st = proc_status(
        lc.Config(rootfs=busybox, process=lc.Process(args=["true"], capabilities=c, user=lc.User(1000, 1000)))
    )
    # After exec as a non-root user, permitted and effective are the ambient set.
    assert caps(st, "CapBnd") == mask({"CAP_NET_RAW", "CAP_CHOWN", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE"})
    assert caps(st, "CapAmb") == mask({"CAP_NET_BIND_SERVICE"})
    assert caps(st, "CapPrm") == caps(st, "CapEff") == mask({"CAP_NET_BIND_SERVICE"})
    assert caps(st, "CapInh") == mask({"CAP_NET_BIND_SERVICE"})


def test_non_root_user_keeps_no_capabilities_by_default(busybox: str) -> None:
    st = proc_status(lc.Config(rootfs=busybox, process=lc.Process(args=["true"], user=lc.User(1000, 1000))))
    assert caps(st, "CapEff") == caps(st, "CapPrm") == 0
    assert caps(st, "CapBnd") == mask(DEFAULT_CAPABILITIES)


def test_unknown_capability_and_impossible_sets() -> None:
    with pytest.raises(lc.ConfigError, match="unknown capability"):
        lc.Capabilities.of("CAP_FLY")
    with pytest.raises(lc.ConfigError) as info:
        lc.Capabilities(bounding={"chown"}, permitted={"chown", "kill"})
    assert info.value.field == "capabilities.permitted"


def test_a_capability_the_caller_lacks_is_refused() -> None:
    held = int(next(ln for ln in open("/proc/self/status") if ln.startswith("CapBnd")).split()[1], 16)
    missing = [n for i, n in enumerate(lc.capabilities.CAPABILITY_NAMES) if not held & (1 << i)]
    assert missing, "this machine's root lacks CAP_SYS_RESOURCE (see DESIGN.md)"
    config = lc.Config(process=lc.Process(args=["true"], capabilities=lc.Capabilities.of(missing[0])))
    with pytest.raises(lc.ConfigError, match=missing[0]):
        lc.run(config=config)
    full = lc.Capabilities.all()
    assert missing[0] not in full.bounding and mask(full.bounding) == held


def test_no_new_privileges_off(busybox: str) -> None:
    st = proc_status(lc.Config(rootfs=busybox, process=lc.Process(args=["true"], no_new_privileges=False)))
    assert st["NoNewPrivs"] == "0"


def test_rlimits(busybox: str) -> None:
    config = lc.Config(
        rootfs=busybox,
        process=lc.Process(
            args=["true"], rlimits=[lc.Rlimit("nofile", soft=64, hard=128), lc.Rlimit("RLIMIT_CORE", 0)]
        ),
    )
    out = inside(config, "ulimit -n; ulimit -Hn; ulimit -c; cat /proc/self/limits | grep -i 'open files'")
    assert out.split()[:3] == ["64", "128", "0"]


def test_rlimit_above_the_hard_limit_fails_clearly(busybox: str, no_leaks: None) -> None:
    hard = int(open("/proc/self/limits").read().split("Max open files")[1].split()[1])
    config = lc.Config(rootfs=busybox, process=lc.Process(args=["true"], rlimits=[lc.Rlimit("nofile", hard + 1)]))
    with pytest.raises(lc.SecurityError) as info:
        lc.run(config=config)
    assert info.value.errno == 1 and info.value.step == "set rlimit nofile"  # EPERM: no CAP_SYS_RESOURCE here


def test_exceeding_an_rlimit_inside(busybox: str) -> None:
    config = lc.Config(rootfs=busybox, process=lc.Process(args=["true"], rlimits=[lc.Rlimit("fsize", 1024)]))
    r = lc.run(
        ["sh", "-c", "head -c 4096 /dev/zero > /tmp/big; echo rc=$?; wc -c < /tmp/big"],
        config=config.evolve(mounts=lc.Mounts.default() + [lc.Mount.tmpfs("/tmp")]),
        capture_output=True,
        text=True,
    )
    assert "rc=0" not in r.stdout and r.stdout.split()[-1] == "1024"


def test_oom_score_adj(busybox: str) -> None:
    config = lc.Config(rootfs=busybox, process=lc.Process(args=["true"], oom_score_adj=500))
    assert inside(config, "cat /proc/self/oom_score_adj").strip() == "500"


def test_masked_paths(busybox: str) -> None:
    present = [p for p in lc.DEFAULT_MASKED_PATHS if os.path.exists(p)]
    assert len(present) >= 3, present  # this kernel lacks some (kcore, sysrq...)
    script = "; ".join(f"if [ -d {p} ]; then ls -A {p} | wc -l; else wc -c < {p}; fi" for p in present)
    out = inside(lc.Config(rootfs=busybox), script)
    assert out.split() == ["0"] * len(present), dict(zip(present, out.split()))
    assert os.path.getsize("/proc/interrupts") == 0 and open("/proc/interrupts").read()  # the host's is intact


def test_masked_files_are_the_containers_dev_null(busybox: str) -> None:
    """A masked file is a bind of the container's /dev/null (as runc), so
    the container's mount table shows its own /dev (a tmpfs), not the
    host's devtmpfs with its size; with no /dev of its own, the host's."""
    masked = [p for p in lc.DEFAULT_MASKED_PATHS if os.path.isfile(p)]
    assert masked, lc.DEFAULT_MASKED_PATHS
    script = "cat /proc/self/mountinfo; echo x > /proc/keys && echo wrote; wc -c < /proc/keys"

    def fstypes(config: lc.Config) -> Tuple[Dict[str, str], List[str]]:
        out = inside(config, script).splitlines()
        table = {line.split()[4]: line.split(" - ")[1].split()[0] for line in out if " - " in line}
        return {p: table[p] for p in masked}, [line for line in out if " - " not in line]

    types, rest = fstypes(lc.Config(rootfs=busybox))
    assert set(types.values()) == {"tmpfs"}, types  # the container's /dev
    assert rest == ["wrote", "0"]
    no_dev = lc.Mounts([m for m in lc.Mounts.default() if not m.destination.startswith("/dev")])
    types, rest = fstypes(lc.Config(rootfs=busybox, mounts=no_dev, devices=()))
    assert set(types.values()) == {"devtmpfs"}, types  # the host's /dev/null
    assert rest == ["wrote", "0"]


def test_readonly_paths(busybox: str) -> None:
    present = [p for p in lc.DEFAULT_READONLY_PATHS if os.path.exists(p)]
    assert "/proc/sys" in present
    out = inside(lc.Config(rootfs=busybox), "(echo x > /proc/sys/kernel/domainname) 2>&1; cat /proc/self/mountinfo")
    assert "Read-only file system" in out
    mounts = {line.split()[4]: line.split()[5] for line in out.splitlines() if line[:1].isdigit()}
    for path in present:
        assert mounts[path].startswith("ro,"), path


def test_paths_can_be_unprotected(busybox: str) -> None:
    out = inside(
        lc.Config(rootfs=busybox, masked_paths=(), readonly_paths=()),
        "grep -c . /proc/interrupts; grep -c ' /proc/sys ' /proc/self/mountinfo; true",
    )
    lines = out.split()
    assert int(lines[0]) > 0 and lines[1] == "0"


def test_namespaced_sysctl(busybox: str) -> None:
    host = open("/proc/sys/net/ipv4/ip_forward").read()
    config = lc.Config(rootfs=busybox, sysctl={"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234"})
    out = inside(config, "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni")
    assert out.split() == ["1", "1234"]
    assert open("/proc/sys/net/ipv4/ip_forward").read() == host


@pytest.mark.parametrize(
    ("sysctl", "namespaces"),
    [
        ({"kernel.panic": "1"}, lc.Namespaces.default()),
        ({"vm.swappiness": "1"}, lc.Namespaces.default()),
        ({"net.ipv4.ip_forward": "1"}, lc.Namespaces(mount=True, pid=True)),
        ({"kernel.shmmax": "1"}, lc.Namespaces(mount=True, net=True)),
    ],
)
def test_host_sysctls_are_refused(sysctl: dict, namespaces: lc.Namespaces) -> None:
    with pytest.raises(lc.ConfigError) as info:
        lc.Config(sysctl=sysctl, namespaces=namespaces)
    assert info.value.field.startswith("sysctl[")


SHOW_EUID_C = '#include <stdio.h>\n#include <unistd.h>\nint main(void){printf("%d\\n", geteuid());return 0;}\n'


def test_setuid_binary_gains_nothing_with_no_new_privs(tmp_path) -> None:
    from support.busybox import make_rootfs

    root = make_rootfs(str(tmp_path / "root"))
    source = tmp_path / "euid.c"
    source.write_text(SHOW_EUID_C)
    binary = os.path.join(root, "bin", "show-euid")
    subprocess.run(["gcc", "-static", "-O2", "-o", binary, str(source)], check=True)
    os.chmod(binary, 0o4755)  # owned by root, setuid

    def euid(no_new_privileges: bool) -> str:
        process = lc.Process(args=["/bin/show-euid"], user=lc.User(1000, 1000), no_new_privileges=no_new_privileges)
        return lc.run(config=lc.Config(rootfs=root, process=process), capture_output=True, text=True).stdout

    assert euid(False) == "0\n"  # the attack works without the protection...
    assert euid(True) == "1000\n"  # ...and no_new_privs stops it


def test_personality_linux32(busybox: str) -> None:
    """Config.personality sets the execution domain of the container's
    process: ``uname -m`` says what ``setarch linux32`` says on the host."""
    expected = subprocess.run(["setarch", "linux32", "uname", "-m"], capture_output=True, text=True, check=True)
    config = lc.Config(rootfs=busybox, personality="LINUX32")
    assert inside(config, "uname -m") == expected.stdout
    assert inside(lc.Config(rootfs=busybox), "uname -m") == os.uname().machine + "\n"
