"""Cgroup layouts this host does not have, built for a test in a private mount namespace.

``run_in_layout(kind, argv)`` runs ``argv`` under ``unshare -m`` after this
module (run as a script there) has put a fresh layout on /sys/fs/cgroup:

- ``"v1"``: a tmpfs with every v1 hierarchy of the host mounted again (no cgroup2);
- ``"hybrid"``: the same, and cgroup2 at /sys/fs/cgroup/unified;
- ``"v2"``: cgroup2 alone on /sys/fs/cgroup (here it offers only hugetlb:
  the other controllers are bound to their v1 hierarchies).

``extra`` mounts more v1 hierarchies (``"net_cls,net_prio"``, which this
host does not mount).  The hierarchies are the host's own kernel objects, so
after the command the script removes every cgroup the command left under
``libcontainer_py/`` (or at the root, where runc puts /<id>) whose name starts with ``$LAYOUT_TOKEN`` (a fresh
token per run, which the command must put first in its container ids and
cgroup paths), killing what is in it, and reports them in its last
line of output, ``LEFT <json list>``: a test asserts that list is empty, and
nothing stays behind even when it is not.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from typing import Dict, List, Sequence, Tuple

from libcontainer_py.cgroups.layout import V1_CONTROLLERS

CGROUP_ROOT = "/sys/fs/cgroup"
PARENT = "libcontainer_py"
KINDS = ("v1", "v2", "hybrid")
HERE = os.path.dirname(os.path.abspath(__file__))


def host_v1_hierarchies() -> List[Tuple[str, str]]:
    """(directory name, mount options) of each v1 hierarchy this process sees."""
    out: Dict[str, Tuple[str, str]] = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[sep + 1] != "cgroup":
                continue
            opts = [o for o in fields[sep + 3].split(",") if o in V1_CONTROLLERS or o.startswith("name=")]
            if not any(o in V1_CONTROLLERS for o in opts):
                opts = ["none", *opts]
            out.setdefault(fields[2], (os.path.basename(fields[4]), ",".join(opts)))
    return list(out.values())


def _mount(fstype: str, options: str, target: str) -> None:
    os.makedirs(target, exist_ok=True)
    argv = ["mount", "-t", fstype] + (["-o", options] if options else []) + [fstype, target]
    subprocess.run(argv, check=True)


def build(kind: str, extra: Sequence[str]) -> List[str]:
    """Mount layout ``kind`` on /sys/fs/cgroup; the hierarchies' mount points."""
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    if kind == "v2":
        _mount("cgroup2", "", CGROUP_ROOT)
        return [CGROUP_ROOT]
    v1 = host_v1_hierarchies()
    _mount("tmpfs", "mode=755", CGROUP_ROOT)
    points = []
    for name, options in v1 + [(o, o) for o in extra]:
        points.append(os.path.join(CGROUP_ROOT, name))
        _mount("cgroup", options, points[-1])
    if kind == "hybrid":
        points.append(os.path.join(CGROUP_ROOT, "unified"))
        _mount("cgroup2", "", points[-1])
    return points


def _kill_all(d: str) -> None:
    for _ in range(200):
        with open(os.path.join(d, "cgroup.procs")) as f:
            pids = [int(x) for x in f.read().split()]
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for name, value in (("freezer.state", "THAWED"), ("cgroup.freeze", "0")):
            if os.path.exists(os.path.join(d, name)):
                with open(os.path.join(d, name), "w") as f:
                    f.write(value)
        time.sleep(0.05)


def _rmdir(d: str) -> None:
    for _ in range(100):
        try:
            os.rmdir(d)
            return
        except OSError as e:
            if e.errno != errno.EBUSY:
                raise
        time.sleep(0.05)
    os.rmdir(d)


def sweep(points: Sequence[str], token: str) -> List[str]:
    """Remove every cgroup under <point>/libcontainer_py or <point> whose name
    starts with ``token`` (runc's default path is /<id>), with what is below
    it, deepest first; what was there.  Other cgroups there belong to other
    containers of this host."""
    left = []
    for top in [d for point in points for d in (point, os.path.join(point, PARENT))]:
        if not os.path.isdir(top):
            continue
        for name in sorted(os.listdir(top)):
            if not name.startswith(token) or not os.path.isdir(os.path.join(top, name)):
                continue
            for d, _subdirs, _files in sorted(os.walk(os.path.join(top, name)), key=lambda e: -e[0].count("/")):
                left.append(d)
                _kill_all(d)
                _rmdir(d)
    return sorted(left)


def _drop_extra_parents(points: Sequence[str], extra: Sequence[str]) -> None:
    """A hierarchy the host does not mount (``extra``) lives on after its
    last unmount for as long as it has a cgroup below its root: remove the
    shared parent there when it is empty, so that the hierarchy goes with
    the namespace (another run using it at the same time keeps it: EBUSY)."""
    for point in points:
        if os.path.basename(point) in extra:
            try:
                os.rmdir(os.path.join(point, PARENT))
            except OSError:
                pass


def run_in_layout(
    kind: str, argv: Sequence[str], *, extra: Sequence[str] = (), timeout: float = 120
) -> Tuple[int, str, List[str]]:
    """Run ``argv`` in a private mount namespace with layout ``kind``:
    (its status, its output (stdout and stderr), the cgroups it left)."""
    assert kind in KINDS, kind
    token = "lay" + uuid.uuid4().hex[:10]
    cmd = [
        "unshare",
        "-m",
        "--propagation",
        "private",
        sys.executable,
        os.path.abspath(__file__),
        kind,
        ";".join(extra) or "-",
        *argv,
    ]
    r = subprocess.run(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout + 60,
        stdin=subprocess.DEVNULL,
        env=dict(os.environ, LAYOUT_TOKEN=token, LAYOUT_TIMEOUT=str(timeout)),
    )
    *lines, last = r.stdout.rstrip("\n").split("\n")
    assert last.startswith("LEFT "), r.stdout
    return r.returncode, "\n".join(lines), json.loads(last[5:])


def main() -> int:
    kind, extra, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
    points: List[str] = []
    status = 125
    token = os.environ["LAYOUT_TOKEN"]
    try:
        points = build(kind, [] if extra == "-" else extra.split(";"))
        env = dict(os.environ, PYTHONPATH=os.path.dirname(HERE) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        try:  # a timeout here, not in the caller, so that the sweep below always runs
            status = subprocess.run(
                argv, env=env, stdin=subprocess.DEVNULL, timeout=float(env["LAYOUT_TIMEOUT"])
            ).returncode
        except subprocess.TimeoutExpired:
            print(f"timed out after {env['LAYOUT_TIMEOUT']} s", flush=True)
            status = 124
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        left = sweep(points, token)
        _drop_extra_parents(points, [] if extra == "-" else extra.split(";"))
        print("LEFT " + json.dumps(left), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
