"""A container's life across processes: created here, started from a second
Python process, listed, loaded, exec'd into, paused and resumed, with an init
that reaps the orphans its program leaves, and destroyed.

    python3 examples/lifecycle.py        (as root)

1. ``Container.create`` sets the container up under a temporary state root
   and leaves it waiting before execve; its record is on disk.
2. A second Python process (``sys.executable``) loads it and starts it.
3. It is listed and loaded; ``exec`` runs processes in it, from here and
   from a second process.
4. A loaded copy pauses and resumes it; the creator sees the status change.
5. Its program leaves five orphans behind; with ``Process(init=True)``
   PID 1 is a small init that reaps them, and that forwards ``SIGTERM`` to
   the program and exits with its status (128 + 15, reported as -15 to
   the creator, which sent the signal).
6. A second process destroys it; ``destroy()`` in the creator is then a
   no-op that only releases what the creator holds.

Every claim is checked; the exit status is 0 only if all of them hold and
nothing is left behind: no state directory, no cgroup directory of this
container, no process of it.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

import psutil
from _checks import check, report  # the examples' shared check and report

import libcontainer_py as lc
from libcontainer_py.cgroups import DEFAULT_PARENT, detect

# Five subshells each leave a `sleep 0.2` behind and exit: the sleeps are
# reparented to PID 1. The program then becomes `sleep`, which never waits
# for children: without an init the orphans would stay zombies.
PROGRAM = "for i in 1 2 3 4 5; do (sleep 0.2 &); done; echo ready; exec sleep 300"


def second_process(code):
    """Run ``code`` in another Python interpreter; its output (stdout + stderr)."""
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60)
    return r.returncode, (r.stdout + r.stderr).strip()


def cgroup_dirs(container_id):
    """This container's cgroup directories that exist now."""
    layout = detect()
    mounts = [h.mountpoint for h in layout.v1] + ([layout.unified.mountpoint] if layout.unified else [])
    return [d for d in (os.path.join(m, DEFAULT_PARENT, container_id) for m in mounts) if os.path.exists(d)]


def lifecycle(root, cid, seen):
    config = lc.Config(
        cgroup=lc.CgroupConfig(pids=lc.Pids(max=64)),
        process=lc.Process(args=["sh", "-c", PROGRAM], init=True),
    )

    print("1. create")
    c = lc.Container.create(cid, config, root=root, stdout=lc.PIPE, annotations={"example": "lifecycle"})
    seen.append(c)
    check(c.status() == "created", "created: set up, waiting before execve")
    files = sorted(os.listdir(os.path.join(root, cid)))
    expected = ["config.json", "start.sock", "state.json"]
    check(files == expected, f"its record is on disk: {root}/{cid}/{{{', '.join(files)}}}")

    print("2. start from a second process")
    rc, out = second_process(f"""
        import libcontainer_py as lc
        c = lc.Container.load({cid!r}, root={root!r})
        print(c.status())
        c.start()
        print(c.status())
    """)
    check(rc == 0 and out.split() == ["created", "running"], f"the second process saw: {' -> '.join(out.split())}")
    check(c.status() == "running", "the creator sees it running")
    check(c.process.stdout.readline() == b"ready\n", "the program runs")

    print("3. list, load, exec")
    listed = lc.Container.list(root=root)
    check([x.id for x in listed] == [cid], f"Container.list() finds it: {[x.id for x in listed]}")
    loaded = lc.Container.load(cid, root=root)
    state = loaded.state()
    check(
        (state.pid, state.status, state.annotations) == (c.pid, "running", {"example": "lifecycle"}),
        f"Container.load() reads its state: pid {state.pid}, {state.status}, {state.annotations}",
    )
    p = c.exec(["sh", "-c", "hostname; echo $$; ps -o comm="], stdout=lc.PIPE, text=True)
    out, _ = p.communicate(timeout=10)
    hostname, pid, *names = out.split()
    check(p.returncode == 0 and hostname == cid, f"exec runs in its uts namespace: hostname {hostname}")
    check(pid != "1" and "sleep" in names, f"and in its pid namespace: it is pid {pid}, it sees {sorted(set(names))}")
    rc, out = second_process(f"""
        import libcontainer_py as lc
        c = lc.Container.load({cid!r}, root={root!r})
        p = c.exec(["cat", "/proc/self/cgroup"])
        p.wait()
    """)
    check(rc == 0 and "/libcontainer_py/" not in out and ":/" in out, "exec from a second process, in its cgroup")

    print("4. pause and resume")
    loaded.pause()
    check(c.status() == "paused", "paused through a loaded copy; the creator sees it")
    try:
        c.exec(["true"])
        check(False, "exec into a paused container raises StateError")
    except lc.StateError as e:
        check(e.status == "paused", f"exec into a paused container raises StateError ({e})")
    loaded.resume()
    check(c.status() == "running", "resumed")

    print("5. the init")
    time.sleep(1)  # the orphans have exited meanwhile
    processes = c.processes()
    seen.extend(processes)
    names = sorted(p.name() for p in processes)
    zombies = [p.pid for p in processes if p.status() == psutil.STATUS_ZOMBIE]
    check(psutil.Process(c.pid).name() == "init", "PID 1 is the init")
    check(names == ["init", "sleep"] and not zombies, f"the five orphans were reaped: the container holds {names}")
    c.kill(signal.SIGTERM)
    status = c.wait(10)
    # the init exits 128 + 15; a signal this process sent is reported as -15, as subprocess does
    check(status == -signal.SIGTERM, f"SIGTERM was forwarded to the program: exit status {status}")

    print("6. destroy")
    rc, out = second_process(f"""
        import libcontainer_py as lc
        lc.Container.load({cid!r}, root={root!r}).destroy()
        print(lc.Container.list(root={root!r}))
    """)
    check(rc == 0 and out == "[]", "destroyed by a second process")
    c.destroy()
    check(c.status() == "stopped", "destroy() again in the creator is a no-op")


def main():
    if os.geteuid() != 0:
        print("run this as root", file=sys.stderr)
        return 1
    root = tempfile.mkdtemp(prefix="lc-lifecycle-")
    cid = f"lifecycle-{os.getpid()}"
    seen = []  # the Container, then its processes
    try:
        lifecycle(root, cid, seen)
    finally:
        # Whatever failed above: remove what is left.
        for c in seen[:1]:
            c.destroy()
        for c in lc.Container.list(root=root):
            c.destroy()
        left = os.listdir(root)
        shutil.rmtree(root, ignore_errors=True)
    deadline = time.monotonic() + 5
    while any(p.is_running() for p in seen[1:]) and time.monotonic() < deadline:
        time.sleep(0.05)
    running = [p.pid for p in seen[1:] if p.is_running()]
    check(not left and not cgroup_dirs(cid) and not running, "nothing left: no state, no cgroup, no process")
    return report()


if __name__ == "__main__":
    sys.exit(main())
