"""What lc.Config() does for security, shown from inside and under attack.

    python3 examples/security.py        (as root)

1. The process's capabilities, no_new_privs and seccomp mode, as its own
   /proc/self/status shows them.
2. Two attacks -- ``unshare -U`` (a new user namespace, where the process
   would be root again) and ``mount`` -- blocked by the defaults, and each
   shown to work once the protection that stopped it is turned off:
   seccomp stops the first, the missing CAP_SYS_ADMIN (and seccomp) the
   second.
3. An rlimit: a file size limit cuts a write short.

Every claim is checked; the exit status is 0 only if all of them hold and
no cgroup directory of these containers is left behind.
"""

import os
import sys

from _checks import check, report  # the examples' shared check and report

import libcontainer_py as lc
from libcontainer_py.cgroups import DEFAULT_PARENT, detect
from libcontainer_py.seccomp import Seccomp

DOCKER_CAPS = 0xA80425FB  # Capabilities.default() as the kernel shows it
ATTACKS = (
    "unshare -U true 2>/dev/null && echo unshare=works || echo unshare=blocked; "
    "mount -t tmpfs none /tmp 2>/dev/null && echo mount=works || echo mount=blocked"
)
started = []  # container ids: as root each one has a device cgroup, removed when it ends


def inside(script, config=None):
    r = lc.run(["sh", "-c", script], config=config, capture_output=True, text=True, timeout=30)
    started.append(r.container_id)
    if r.returncode != 0:
        raise SystemExit(f"the container failed (exit {r.returncode}): {r.stderr}")
    return r.stdout


def defaults():
    print("1. lc.Config(), seen from inside")
    status = {}
    for line in inside("grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status").splitlines():
        key, _, value = line.partition(":")
        status[key] = value.strip()
        print(f"     {key:<16} {status[key]}")
    for kind in ("CapBnd", "CapPrm", "CapEff"):
        check(int(status[kind], 16) == DOCKER_CAPS, f"{kind} is Docker's default set of 14 capabilities")
    check(int(status["CapAmb"], 16) == 0 and int(status["CapInh"], 16) == 0, "no inheritable or ambient capabilities")
    check(status["NoNewPrivs"] == "1", "no_new_privs is set")
    check(status["Seccomp"] == "2", "a seccomp filter is loaded (mode 2)")


def attacks():
    print("2. attacks, with the defaults and with a protection turned off")
    admin = lc.Process(args=["sh"], capabilities=lc.Capabilities.default().add("sys_admin"))
    # The default profile follows the capabilities (Docker's rule); pinned to
    # the profile without CAP_SYS_ADMIN, seccomp alone still stops mount.
    without_admin = Seccomp.default()
    cases = [
        ("defaults", lc.Config(), "blocked", "blocked"),
        ("seccomp=None", lc.Config(seccomp=None), "works", "blocked"),
        ("+CAP_SYS_ADMIN, profile without it", lc.Config(process=admin, seccomp=without_admin), "blocked", "blocked"),
        ("+CAP_SYS_ADMIN, seccomp=None", lc.Config(process=admin, seccomp=None), "works", "works"),
    ]
    print(f"     {'protection':<36} {'unshare -U':<11} mount")
    results = []
    for name, config, unshare, mount in cases:
        got = dict(word.split("=") for word in inside(ATTACKS, config).split())
        print(f"     {name:<36} {got['unshare']:<11} {got['mount']}")
        results.append((name, got == {"unshare": unshare, "mount": mount}, unshare, mount))
    for name, ok, unshare, mount in results:
        check(ok, f"{name}: unshare -U {unshare}, mount {mount}")


def rlimit():
    print("3. an rlimit")
    script = "ulimit -n; head -c 4096 /dev/zero > /tmp/f 2>/dev/null; wc -c < /tmp/f"
    limits = [lc.Rlimit("nofile", 64), lc.Rlimit("fsize", 1024)]
    limited = inside(script, lc.Config(process=lc.Process(args=["sh"], rlimits=limits))).split()
    plain = inside(script).split()
    print(f"     open files {limited[0]}, a 4096-byte write kept {limited[1]} bytes (without the limits: {plain[1]})")
    check(limited == ["64", "1024"] and plain[1] == "4096", "nofile and fsize hold inside the container")


def cgroups_left():
    layout = detect()
    roots = [h.mountpoint for h in layout.v1] + ([layout.unified.mountpoint] if layout.unified else [])
    dirs = [os.path.join(root, DEFAULT_PARENT, cid) for root in roots for cid in started]
    return [d for d in dirs if os.path.exists(d)]


def main():
    if os.geteuid() != 0:
        print("run this as root", file=sys.stderr)
        return 1
    defaults()
    attacks()
    rlimit()
    left = cgroups_left()
    check(not left, f"the cgroups of all {len(started)} containers are gone {left if left else ''}")
    return report()


if __name__ == "__main__":
    sys.exit(main())
