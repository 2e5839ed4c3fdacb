"""Hooks: an executable hook (a small shell script written to a temporary
directory) and Python callbacks at the OCI phases of a container's life.

    python3 examples/hooks.py        (as root)

1. ``Container.create`` runs the create hooks: the script as a
   ``create_runtime`` hook (in this process's namespaces) and as a
   ``create_container`` hook (in the container's namespaces, with the path
   resolved on the host, before pivot_root); each gets the container's state
   as JSON on stdin.
2. ``start()`` runs a ``start_container`` hook inside the container (after
   pivot_root: its path and what it writes are the container's), then the
   ``poststart`` hook; ``destroy()`` runs the ``poststop`` hook.
3. A Python callback is registered for every phase; it sees the same state
   as a dict, with the status of the moment (creating, created, running,
   stopped).
4. A failing ``create_runtime`` hook fails ``create()`` with ``HookError``
   and leaves nothing behind; a failing ``poststart`` hook only warns.

Every claim is checked; the exit status is 0 only if all of them hold and
nothing is left behind: no state directory, no cgroup directory of these
containers, no temporary file.
"""

import json
import os
import shutil
import sys
import tempfile
import warnings

from _checks import check, report  # the examples' shared check and report

import libcontainer_py as lc
from libcontainer_py.cgroups import DEFAULT_PARENT, detect

# The hook: records its phase ($1), the namespace it ran in and the state it
# was given on stdin, one line per run, in $LOG.
SCRIPT = """#!/bin/sh
state=$(cat)
echo "$1 $(readlink /proc/self/ns/uts) $state" >> "$LOG"
"""
PHASES = ["prestart", "create_runtime", "create_container", "start_container", "poststart", "poststop"]


def cgroup_dirs(container_id):
    """This container's cgroup directories that exist now."""
    layout = detect()
    mounts = [h.mountpoint for h in layout.v1] + ([layout.unified.mountpoint] if layout.unified else [])
    return [d for d in (os.path.join(m, DEFAULT_PARENT, container_id) for m in mounts) if os.path.exists(d)]


def read_log(log):
    """[(phase, uts namespace, state)] in the order the hook ran."""
    if not os.path.exists(log):
        return []
    out = []
    with open(log) as f:
        for line in f:
            phase, uts, state = line.rstrip("\n").split(" ", 2)
            out.append((phase, uts, json.loads(state)))
    return out


def hooks_at_work(root, tmp, cid, seen):
    script = os.path.join(tmp, "record.sh")
    with open(script, "w") as f:
        f.write(SCRIPT)
    os.chmod(script, 0o755)
    log = os.path.join(tmp, "log")

    def hook(phase):
        # args is the whole argv (args[0] included); env is exactly this.
        return lc.Hook(script, args=["record.sh", phase], env=[f"LOG={log}", "PATH=/usr/bin:/bin"], timeout=10)

    hooks = lc.Hooks(
        create_runtime=[hook("create_runtime")],
        create_container=[hook("create_container")],
        # In the container, after pivot_root: /bin/sh and /tmp are the
        # container's (Rootfs.host() binds /bin and gives it its own /tmp).
        start_container=[lc.Hook("/bin/sh", args=["sh", "-c", "hostname > /tmp/started-by-hook"])],
        poststart=[hook("poststart")],
        poststop=[hook("poststop")],
    )
    config = lc.Config(hostname="hooked", hooks=hooks, process=lc.Process(args=["sleep", "60"]))
    called = []

    def callback(phase):
        return lambda state: called.append((phase, state["status"], state["pid"], state["id"]))

    print("1. create: the create hooks")
    c = lc.Container.create(
        cid,
        config,
        root=root,
        bundle=tmp,
        annotations={"example": "hooks"},
        callbacks={p: [callback(p)] for p in PHASES},
    )
    seen.append(c)
    runs = read_log(log)
    ran = [p for p, _, _ in runs]
    check(ran == ["create_runtime", "create_container"], f"the script ran: {ran}")
    state = runs[0][2]
    check(
        (state["id"], state["status"], state["pid"], state["bundle"], state["annotations"])
        == (cid, "creating", c.pid, tmp, {"example": "hooks"}),
        f"with the state on stdin: {state}",
    )
    host_uts = os.readlink("/proc/self/ns/uts")
    container_uts = os.readlink(f"/proc/{c.pid}/ns/uts")
    check(runs[0][1] == host_uts, "create_runtime ran in the runtime's namespaces")
    check(runs[1][1] == container_uts != host_uts, "create_container ran in the container's namespaces")

    print("2. start and destroy")
    c.start()
    p = c.exec(["cat", "/tmp/started-by-hook"], stdout=lc.PIPE, text=True)
    out, _ = p.communicate(timeout=10)
    check(out == "hooked\n", "start_container ran inside the container: it wrote the container's /tmp")
    runs = read_log(log)
    check(runs[-1][0] == "poststart" and runs[-1][2]["status"] == "running", "poststart ran after the start")
    c.destroy()
    runs = read_log(log)
    check(runs[-1][0] == "poststop" and runs[-1][2]["status"] == "stopped", "poststop ran after destroy")

    print("3. the Python callbacks")
    check([p for p, _, _, _ in called] == PHASES, f"one per phase, in order: {[p for p, _, _, _ in called]}")
    statuses = [s for _, s, _, _ in called]
    check(
        statuses == ["creating", "creating", "creating", "created", "running", "stopped"],
        f"with the status of the moment: {statuses}",
    )
    check({(pid, i) for _, _, pid, i in called} == {(c.pid, cid)}, "and the container's id and pid")

    print("4. failing hooks")
    failing = config.evolve(hooks=lc.Hooks(create_runtime=[lc.Hook("/bin/false")]))
    try:
        lc.Container.create(cid + "-fail", failing, root=root)
        check(False, "a failing create_runtime hook fails create()")
    except lc.HookError as e:
        check(e.phase == "create_runtime" and "exited with 1" in str(e), f"a failing create hook raises HookError: {e}")
    check(
        lc.Container.list(root=root) == [] and not cgroup_dirs(cid + "-fail"),
        "and leaves nothing behind: no container, no cgroup",
    )
    warning = config.evolve(hooks=lc.Hooks(poststart=[lc.Hook("/bin/false")]))
    with lc.Container.create(cid + "-warn", warning, root=root) as w:
        seen.append(w)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            w.start()
        messages = [str(x.message) for x in caught if issubclass(x.category, RuntimeWarning)]
        check(w.status() == "running" and len(messages) == 1, f"a failing poststart hook only warns: {messages}")


def main():
    if os.geteuid() != 0:
        print("run this as root", file=sys.stderr)
        return 1
    tmp = tempfile.mkdtemp(prefix="lc-hooks-")
    root = os.path.join(tmp, "state")
    cid = f"hooks-{os.getpid()}"
    seen = []  # the Containers made
    try:
        hooks_at_work(root, tmp, cid, seen)
    finally:
        # Whatever failed above: remove what is left.
        for c in seen:
            c.destroy()
        left = os.listdir(root) if os.path.exists(root) else []
        shutil.rmtree(tmp, ignore_errors=True)
    cgroups = [d for i in (cid, cid + "-fail", cid + "-warn") for d in cgroup_dirs(i)]
    check(not left and not cgroups and not os.path.exists(tmp), "nothing left: no state, no cgroup, no temporary file")
    return report()


if __name__ == "__main__":
    sys.exit(main())
