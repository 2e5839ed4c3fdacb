"""Drive the runc-compatible command line on a busybox bundle.

    python3 examples/cli.py        (as root; needs busybox-static)

1. A bundle is made in a temporary directory: a busybox root filesystem in
   ``bundle/rootfs`` and ``config.json`` written by ``libcontainer-py spec``,
   then edited (``args``, ``terminal: false``).
2. ``create`` leaves the container waiting before execve (``--pid-file``);
   ``state`` says ``created``; ``start`` lets it run; ``state`` says
   ``running``; ``list`` shows it.
3. ``exec`` runs a process in it (environment override, exit status passed
   through); ``kill`` stops it; ``delete`` removes it.
4. A second ``create`` of the same bundle (another id) is made through the
   recipe the first one's ``create`` saved under the state root, without
   the config model (``--debug`` says so): the same container, faster.
5. ``run`` does create, start, wait and delete in one command and exits
   with the program's status.

The CLI is run as ``sys.executable -m libcontainer_py --root <temp dir>``.
Every claim is checked; the exit status is 0 only if all of them hold and
nothing is left behind (no state, no cgroup, no temporary directory).
"""

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from _checks import make_busybox_rootfs  # the examples' shared busybox root

CID = f"cli-example-{os.getpid()}"


def cli(root: str, *args: str, cwd: str = "/", check: bool = True) -> subprocess.CompletedProcess:
    # Files, not pipes, for the output: a created container inherits them
    # and would keep a pipe open after the command has returned.
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        argv = [sys.executable, "-m", "libcontainer_py", "--root", root, *args]
        rc = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, timeout=60).returncode
        out.seek(0)
        err.seek(0)
        r = subprocess.CompletedProcess(argv, rc, out.read(), err.read())
    if check and r.returncode != 0:
        raise SystemExit(f"{' '.join(args)}: exit {r.returncode}: {r.stderr}")
    return r


def set_process(bundle: str, args: list) -> None:
    path = os.path.join(bundle, "config.json")
    with open(path) as f:
        doc = json.load(f)
    doc["process"]["args"] = args
    doc["process"]["terminal"] = False  # no console socket here
    with open(path, "w") as f:
        json.dump(doc, f, indent="\t")


def state(root: str, cid: str) -> dict:
    doc: dict = json.loads(cli(root, "state", cid).stdout)
    return doc


def main() -> None:
    tmp = tempfile.mkdtemp(prefix="cli-example-")
    root = os.path.join(tmp, "state")
    bundle = os.path.join(tmp, "bundle")
    os.mkdir(bundle)
    try:
        make_busybox_rootfs(os.path.join(bundle, "rootfs"))
        cli(root, "spec", cwd=bundle)
        with open(os.path.join(bundle, "config.json")) as f:
            spec = json.load(f)
        assert spec["process"]["terminal"] is True and spec["root"] == {"path": "rootfs", "readonly": True}
        print("spec:   config.json written, args", spec["process"]["args"])

        # create, start, state, list
        set_process(bundle, ["sleep", "60"])
        pidfile = os.path.join(tmp, "ctr.pid")
        cli(root, "create", "--bundle", bundle, "--pid-file", pidfile, CID)
        pid = int(open(pidfile).read())
        st = state(root, CID)
        assert (st["ociVersion"], st["id"], st["pid"], st["status"]) == ("1.0.2", CID, pid, "created"), st
        assert st["bundle"] == bundle and st["rootfs"] == os.path.join(bundle, "rootfs"), st
        print(f"create: {CID} pid {pid}, {st['status']}")
        cli(root, "start", CID)
        assert state(root, CID)["status"] == "running"
        assert cli(root, "list", "-q").stdout == CID + "\n"
        print("start:  running; list:", cli(root, "list", "--format", "json").stdout.strip()[:60], "...")

        # exec: the environment is the container's, FOO added; the status passes through
        r = cli(root, "exec", "--env", "FOO=bar", CID, "sh", "-c", "echo $FOO $(hostname) $$; exit 3", check=False)
        assert (r.returncode, r.stdout) == (3, "bar libcontainer-py 2\n"), r
        print(f"exec:   {r.stdout.strip()!r}, exit {r.returncode}")

        # a running container is not deleted without --force
        r = cli(root, "delete", CID, check=False)
        assert r.returncode == 1 and "that is not stopped: running" in r.stderr, r

        # kill, then delete
        cli(root, "kill", CID, "KILL")
        deadline = time.monotonic() + 10
        while state(root, CID)["status"] != "stopped":
            assert time.monotonic() < deadline, "the container did not stop"
            time.sleep(0.05)
        assert state(root, CID)["pid"] == 0
        cli(root, "delete", CID)
        r = cli(root, "state", CID, check=False)
        assert r.returncode == 1 and "container does not exist" in r.stderr, r
        print("kill:   stopped; delete: gone")

        # a second create of the same kind: through the first one's recipe
        log = os.path.join(tmp, "create.log")
        again = f"{CID}-again"
        cli(root, "--debug", "--log", log, "create", "--bundle", bundle, again)
        with open(log) as f:
            assert "created through a recipe" in f.read(), "the recipe was not used"
        assert os.listdir(os.path.join(root, ".create")), "no recipe kept"
        st = state(root, again)
        assert (st["id"], st["status"], st["bundle"]) == (again, "created", bundle), st
        cli(root, "start", again)
        assert state(root, again)["status"] == "running"
        cli(root, "delete", "--force", again)
        print(f"again:  {again} created through the recipe, started, deleted")

        # run: create + start + wait + delete, with the program's status
        set_process(bundle, ["sh", "-c", "echo hello from $(hostname); exit 7"])
        r = cli(root, "run", "--bundle", bundle, CID, check=False)
        assert (r.returncode, r.stdout, r.stderr) == (7, "hello from libcontainer-py\n", ""), r
        # no container is left; the state root keeps its shortcuts in hidden
        # directories (compiled seccomp programs, create recipes)
        assert [name for name in os.listdir(root) if not name.startswith(".")] == []
        print(f"run:    {r.stdout.strip()!r}, exit {r.returncode}")
    finally:
        if os.path.isdir(root):
            for cid in os.listdir(root):
                if not cid.startswith("."):
                    cli(root, "delete", "--force", cid, check=False)
        shutil.rmtree(tmp)
    leftovers = glob.glob(f"/sys/fs/cgroup/**/{CID}", recursive=True)
    assert leftovers == [], leftovers
    print("ok: nothing left behind")


if __name__ == "__main__":
    main()
