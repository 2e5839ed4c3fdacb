"""Run one container and show that it is isolated from the host.

    python3 examples/demo.py        (as root)

The container is ``lc.Config(hostname="demo")``: a fresh tmpfs root with the
host's /usr, /bin, /lib*, /etc bound read-only (Rootfs.host()), and new mount,
uts, ipc, pid, net and cgroup namespaces.  Every property printed is also
checked; the exit status is 0 only if all of them hold.
"""

import os
import shutil
import sys

import libcontainer_py as lc

HOSTNAME = "demo"

# The container sees the host's /usr, so it has ps(1) when the host has it.
# Otherwise list /proc/[0-9]* with shell builtins (no extra processes).
if shutil.which("ps"):
    LIST_PROCESSES = "ps -e -o pid=,comm="
else:
    LIST_PROCESSES = 'for p in /proc/[0-9]*; do read -r c < $p/comm; echo "${p#/proc/} $c"; done'

SCRIPT = f"""
echo "pid $$"
echo "hostname $(hostname)"
{LIST_PROCESSES}
for ns in /proc/self/ns/*; do echo "ns ${{ns##*/}} $(readlink $ns)"; done
"""


def parse(stdout):
    """-> (pid, hostname, [(pid, command)], {namespace: id})"""
    pid = hostname = "?"
    processes, namespaces = [], {}
    for line in stdout.splitlines():
        words = line.split()
        if words[0] == "pid":
            pid = words[1]
        elif words[0] == "hostname":
            hostname = words[1]
        elif words[0] == "ns":
            namespaces[words[1]] = words[2]
        elif words[0].isdigit():
            processes.append((int(words[0]), words[1]))
    return pid, hostname, processes, namespaces


def ns_id(link):
    return link.split(":")[1].strip("[]")  # "net:[4026531840]" -> "4026531840"


def main():
    config = lc.Config(hostname=HOSTNAME)
    result = lc.run(["sh", "-c", SCRIPT], config=config, capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        print(f"the container failed (exit {result.returncode}):\n{result.stderr}", file=sys.stderr)
        return 1
    pid, hostname, processes, namespaces = parse(result.stdout)

    failures = []

    def verdict(ok, what):
        if not ok:
            failures.append(what)
        return "ok" if ok else "FAILED"

    host_count = sum(name.isdigit() for name in os.listdir("/proc"))
    only_its_own = processes[:1] == [(1, "sh")] and len(processes) <= 2

    print(f"container {result.container_id}\n")
    print(f"  pid of its shell    {pid:<10} {verdict(pid == '1', 'PID 1')}")
    print(
        f"  hostname            {hostname:<10} {verdict(hostname == HOSTNAME, 'hostname')}"
        f"  (host: {os.uname().nodename})"
    )
    print(f"  processes it sees   {len(processes):<10} {verdict(only_its_own, 'process list')}  (host: {host_count})")
    for p, command in processes[:8]:
        print(f"      {p:>5} {command}")
    if len(processes) > 8:
        print(f"      ... and {len(processes) - 8} more")

    # The kinds the config creates must differ from the host's; the rest must not.
    expected_new = {"mnt" if kind == "mount" else kind for kind in config.namespaces.new()}
    print(f"\n  {'namespace':<18} {'container':<12} host")
    for name in sorted(namespaces):
        mine, host = ns_id(namespaces[name]), ns_id(os.readlink(f"/proc/self/ns/{name}"))
        is_new = mine != host
        ok = is_new == (name.replace("_for_children", "") in expected_new)
        mark = "new" if is_new else "shared"
        print(f"  {name:<18} {mine:<12} {host:<12} {mark}{'' if ok else '  FAILED'}")
        verdict(ok, f"{name} namespace")
    verdict(expected_new <= set(namespaces), "namespace list")

    if failures:
        print(f"\nFAILED: {', '.join(failures)}", file=sys.stderr)
        return 1
    print("\nall checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
