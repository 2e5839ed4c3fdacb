"""``create`` through a recipe (cli/_create_light.py): what the library's
path did for an engine's earlier container, done again without the config
model for the next container of the same config.json.

Each container here is made as podman makes them: its own bundle holding
the id, its own root (a layer id in the path), the id in its cgroup path
and mount sources, its 12-digit prefix as hostname and HOSTNAME, and a
creation time among the annotations.  A container made through the recipe
is compared with one made by the library's path: the records and config
file written, the cgroup's directories and limit files, and what its
process shows once started (namespaces, ids, capabilities, seccomp, rlimits,
every mount, hostname, environment, cgroups, devices)."""

from __future__ import annotations

import glob
import json
import os
import re
import secrets
import shutil
import time
from typing import Any, Dict, Iterator, List, Optional

import pytest
from test_cli import Cli, Result, _gone, _loaded_by, cli, rootfs

from libcontainer_py.seccomp import Seccomp

__all__ = ["cli", "rootfs"]  # test_cli.py's fixtures: a state root and bundle, the busybox rootfs

QUICK = "created through a recipe"
SAVED = "create recipe saved"
PARENT = "lcpy_recipe_test"
#: What the container shows of itself, into /out/result (a bind of the host).
INSPECT = (
    "exec > /out/result 2>&1;"
    " for n in cgroup ipc mnt net pid user uts; do readlink /proc/self/ns/$n; done | sort -u | wc -l; echo ---;"
    " grep -E '^(Cap|Seccomp|NoNewPrivs|Uid|Gid|Groups)' /proc/self/status; echo ---;"
    " cat /proc/self/limits; echo ---; cat /proc/self/mountinfo; echo ---; hostname; echo ---;"
    " env | sort; echo ---; cat /proc/self/cgroup; echo ---; stat -c '%n %A %u %g %t:%T' /dev/* /dev/pts/*; echo ---;"
    " cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/memory/memory.limit_in_bytes 2>&1; echo ---;"
    " cat /sys/fs/cgroup/devices/devices.list 2>&1; echo ---; cat /proc/sys/kernel/hostname; pwd"
)
#: The cgroup files that hold what the container's cgroup was set up with.
SETTINGS = ("pids.max", "memory.limit_in_bytes", "devices.list", "cpuset.cpus", "cpuset.mems", "cgroup.subtree_control")


class Podman:
    """Bundles made as podman makes them, under ``base``; ``cli`` creates."""

    def __init__(self, cli: Cli, base: str, rootfs: str) -> None:
        self.cli, self.base, self.rootfs = cli, base, rootfs
        with open(os.path.join(cli.bundle, "config.json")) as f:
            self.spec = json.load(f)  # runc's spec: namespaces, masked and read-only paths
        self.made: List[str] = []

    def bundle(
        self, cid: str, *, missing: str = "", args: Optional[List[str]] = None, home: Optional[str] = "/root"
    ) -> str:
        """A podman-shaped bundle of ``cid`` (``missing``: a bind source not
        made; ``home``: HOME in the environment, or with None none, and that
        home in the root's /etc/passwd instead)."""
        userdata = os.path.join(self.base, "ctr", cid, "userdata")
        os.makedirs(os.path.join(userdata, "shm"))
        os.makedirs(os.path.join(userdata, "out"))
        for name in ("hostname", "hosts", ".containerenv"):
            if name != missing:
                with open(os.path.join(userdata, name), "w") as f:
                    f.write(f"{cid[:12]}\n")
        root = os.path.join(self.base, "layers", secrets.token_hex(32), "merged")
        shutil.copytree(self.rootfs, root, symlinks=True)
        env = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", f"HOSTNAME={cid[:12]}"]
        if home is not None:
            env.insert(2, f"HOME={home}")
        else:
            with open(os.path.join(root, "etc", "passwd"), "w") as f:
                f.write(f"root:x:0:0:root:/home/{cid[:6]}:/bin/sh\n")
        doc = json.loads(json.dumps(self.spec))
        doc["process"].update(
            args=args or ["sh", "-c", INSPECT],
            env=env,
            rlimits=[{"type": "RLIMIT_NOFILE", "hard": 20000, "soft": 20000}],
        )
        doc["root"] = {"path": root, "readonly": False}
        doc["hostname"] = cid[:12]
        doc["mounts"] += [
            {"destination": "/etc/hostname", "type": "bind", "source": f"{userdata}/hostname", "options": ["bind"]},
            {"destination": "/etc/hosts", "type": "bind", "source": f"{userdata}/hosts", "options": ["bind"]},
            {
                "destination": "/dev/shm",
                "type": "bind",
                "source": f"{userdata}/shm",
                "options": ["bind", "rprivate", "nosuid", "noexec", "nodev"],
            },
            {
                "destination": "/run/.containerenv",
                "type": "bind",
                "source": f"{userdata}/.containerenv",
                "options": ["bind"],
            },
            {"destination": "/out", "type": "bind", "source": f"{userdata}/out", "options": ["rbind"]},
        ]
        doc["annotations"] = {"io.container.manager": "libpod", "io.kubernetes.cri-o.Created": time.strftime("%c")}
        linux = doc["linux"]
        linux["cgroupsPath"] = f"/{PARENT}/libpod-{cid}"
        linux["resources"] = {"devices": [{"allow": False, "access": "rwm"}], "pids": {"limit": 2048}}
        linux["resources"]["memory"] = {"limit": 256 << 20}
        linux["seccomp"] = Seccomp.default().to_oci()
        with open(os.path.join(userdata, "config.json"), "w") as f:
            json.dump(doc, f)
        self.made.append(cid)
        return userdata

    def create(self, cid: str, bundle: str, pid_file: str = "") -> Result:
        """``create`` with a debug log (in ``result.log``)."""
        log = os.path.join(self.base, f"{cid}.log")
        pid_file = pid_file or f"{bundle}/pid"
        r = self.cli("--debug", "--log", log, "create", "--bundle", bundle, "--pid-file", pid_file, cid)
        with open(log) as f:
            r.log = f.read()
        return r

    def run(self, cid: str, bundle: str) -> Result:
        r = self.create(cid, bundle)
        assert r.returncode == 0, r
        assert self.cli("start", cid).returncode == 0
        pid = self.cli.state(cid)["pid"]
        deadline = time.monotonic() + 30
        while self.cli.state(cid)["status"] != "stopped" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _gone(pid) or self.cli.state(cid)["status"] == "stopped"
        return r

    def recipes(self) -> List[str]:
        directory = os.path.join(self.cli.root, ".create")
        return sorted(os.listdir(directory)) if os.path.isdir(directory) else []


@pytest.fixture
def podman(cli: Cli, tmp_path: Any, rootfs: str) -> Iterator[Podman]:
    p = Podman(cli, str(tmp_path / "podman"), rootfs)
    yield p
    for cid in p.made:
        cli("delete", "--force", cid)
    assert _cgroup_dirs("") == [], "a cgroup left behind"
    for d in sorted(glob.glob(f"/sys/fs/cgroup/*/{PARENT}"), reverse=True):
        os.rmdir(d)


def _cgroup_dirs(cid: str) -> List[str]:
    return sorted(glob.glob(f"/sys/fs/cgroup/*/{PARENT}/libpod-{cid}*"))


def _normal(text: str, cid: str) -> str:
    """``text`` without what differs between two containers: the id, its
    prefix, the root's layer id, pids, times, the cgroup's inode numbers."""
    text = text.replace(cid, "<id>").replace(cid[:12], "<short>")
    text = re.sub(r"layers/[0-9a-f]{64}/", "layers/<layer>/", text)
    text = re.sub(r"/proc/\d+/", "/proc/<pid>/", text)
    text = re.sub(r"(?m)^\d+ \d+ (?=\d+:\d+ )", "", text)  # mountinfo's mount ids
    return re.sub(r"(?m)^0:\d+ ", "0:<anon> ", text)  # and the device numbers of proc, tmpfs...


def _record(cli: Cli, cid: str) -> Dict[str, Any]:
    directory = os.path.join(cli.root, cid)
    with open(os.path.join(directory, "state.json")) as f:
        state = json.loads(_normal(f.read(), cid))
    for key in ("pid", "pid_start", "created", "annotations"):
        assert state.pop(key)
    with open(os.path.join(directory, "config.json")) as f:
        config = _normal(f.read(), cid)
    intent = json.loads(_normal(os.getxattr(directory, "user.libcontainer_py.intent").decode(), cid))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00", intent.pop("created"))
    return {"state": state, "config": config, "intent": intent}


def _cgroups(cid: str) -> Dict[str, Dict[str, str]]:
    """Each of the container's cgroup directories and its settings' files."""
    found = {}
    for d in _cgroup_dirs(cid):
        hierarchy = d.split("/")[4]
        files = {}
        for name in SETTINGS:
            path = os.path.join(d, name)
            if os.path.exists(path):
                with open(path) as f:
                    files[name] = f.read()
        found[hierarchy] = files
    return found


def _result(podman: Podman, cid: str) -> str:
    with open(os.path.join(podman.base, "ctr", cid, "userdata", "out", "result")) as f:
        return _normal(f.read(), cid)


def _ids(n: int) -> List[str]:
    return [secrets.token_hex(32) for _ in range(n)]


def test_a_create_through_the_recipe_is_the_librarys(podman: Podman) -> None:
    """The first container is made by the library's path, which saves a
    recipe; the next ones of the same kind through it, and each is the
    library's container exactly: records, config file, cgroups (made in
    every v1 hierarchy here, with their limits), and what it shows."""
    first, again, second, third = _ids(4)
    made = {cid: podman.create(cid, podman.bundle(cid)) for cid in (first, again, second)}
    assert made[first].returncode == 0 and SAVED in made[first].log and QUICK not in made[first].log, made[first]
    # The first one made the cgroups' shared parent: the second one's recipe
    # diverges there (the parent exists now), is taken back, and the
    # library's path saves one for a host with the parent.
    assert made[again].returncode == 0 and "ScriptDiverged" in made[again].log and SAVED in made[again].log
    assert made[second].returncode == 0 and QUICK in made[second].log, made[second]
    assert len(podman.recipes()) == 1
    assert podman.cli("delete", "--force", again).returncode == 0
    assert _record(podman.cli, second) == _record(podman.cli, first)
    cgroups = _cgroups(first)
    assert cgroups and _cgroups(second) == cgroups
    assert cgroups.get("pids", {}).get("pids.max", "2048\n") == "2048\n"
    # the pid file, as the library's path writes it
    for cid in (first, second):
        with open(os.path.join(podman.base, "ctr", cid, "userdata", "pid")) as f:
            assert int(f.read()) == podman.cli.state(cid)["pid"]
    for cid in (first, second):
        assert podman.cli("start", cid).returncode == 0
    r = podman.run(third, podman.bundle(third))
    assert QUICK in r.log
    deadline = time.monotonic() + 30
    while not all(podman.cli.state(c)["status"] == "stopped" for c in (first, second)):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    shown = _result(podman, first)
    assert "Seccomp:\t2" in shown and "pids.max" not in shown and "2048" in shown, shown
    assert _result(podman, second) == shown
    assert _result(podman, third) == shown
    for cid in (first, second, third):
        assert podman.cli("delete", cid).returncode == 0
        assert _cgroup_dirs(cid) == [] and not os.path.exists(os.path.join(podman.cli.root, cid))


def test_what_a_recipe_does_not_cover_takes_the_librarys_path(podman: Podman) -> None:
    """A recipe is used only when everything it depends on holds: otherwise
    the library's path runs and answers as it always did, and nothing of
    a quick attempt is left behind."""
    first, second = _ids(2)
    assert SAVED in podman.run(first, podman.bundle(first)).log
    assert SAVED in podman.run(second, podman.bundle(second)).log  # with the shared parent made
    (recipe,) = podman.recipes()
    # a mount source missing: the host answers planning otherwise
    cid = _ids(1)[0]
    r = podman.create(cid, podman.bundle(cid, missing="hosts"))
    assert r.returncode == 1 and QUICK not in r.log and "hosts" in r.stderr, r
    assert _cgroup_dirs(cid) == [] and not os.path.exists(os.path.join(podman.cli.root, cid))
    # a pid file that cannot be written: the library's error, after it made the
    # container again and removed it
    cid = _ids(1)[0]
    r = podman.create(cid, podman.bundle(cid), pid_file="/nonexistent-dir/pid")
    assert r.returncode == 1 and "the recipe failed" in r.log and "nonexistent-dir" in r.stderr, r
    assert _cgroup_dirs(cid) == [] and not os.path.exists(os.path.join(podman.cli.root, cid))
    # the id of a container that exists: the library's refusal, that one untouched
    before = _record(podman.cli, first)
    r = podman.create(first, os.path.join(podman.base, "ctr", first, "userdata"))
    assert r.returncode == 1 and "container with given ID already exists" in r.stderr, r
    assert _record(podman.cli, first) == before
    # a cgroup that exists already: the script diverges and is taken back; the
    # library joins it, as runc joins a cgroupsPath that exists, with a warning
    cid = _ids(1)[0]
    bundle = podman.bundle(cid)
    theirs = f"/sys/fs/cgroup/pids/{PARENT}/libpod-{cid}"
    os.mkdir(theirs)
    try:
        r = podman.create(cid, bundle)
        assert r.returncode == 0 and "ScriptDiverged" in r.log and "exists already" in r.log, r
        assert SAVED not in r.log, "nothing warned of is repeated"
        assert open(f"{theirs}/cgroup.procs").read() == f"{podman.cli.state(cid)['pid']}\n"
        assert podman.cli("delete", "--force", cid).returncode == 0
    finally:
        for d in _cgroup_dirs(cid):  # a joined cgroup is left in place, by the library as by runc
            os.rmdir(d)
    # a recipe file someone else could have written is not read
    path = os.path.join(podman.cli.root, ".create", recipe)
    os.chmod(path, 0o666)
    cid = _ids(1)[0]
    r = podman.create(cid, podman.bundle(cid))
    assert r.returncode == 0 and QUICK not in r.log, r
    assert os.stat(path).st_mode & 0o777 == 0o600, "the library's path saves a new one"
    # another config (a limit changed): another recipe
    cid = _ids(1)[0]
    bundle = podman.bundle(cid)
    with open(os.path.join(bundle, "config.json")) as f:
        doc = json.load(f)
    doc["linux"]["resources"]["pids"]["limit"] = 100
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(doc, f)
    r = podman.create(cid, bundle)
    assert r.returncode == 0 and QUICK not in r.log and SAVED in r.log, r
    assert len(podman.recipes()) == 2
    with open(f"/sys/fs/cgroup/pids/{PARENT}/libpod-{cid}/pids.max") as f:
        assert f.read() == "100\n"


@pytest.mark.parametrize("kind", ["user namespace", "terminal"])
def test_no_recipe_for_what_it_does_not_repeat(podman: Podman, kind: str) -> None:
    """Id maps (and a terminal, which needs a console socket) are the
    library's alone: no recipe is saved, every create takes its path."""
    for cid in _ids(2):
        bundle = podman.bundle(cid)
        with open(os.path.join(bundle, "config.json")) as f:
            doc = json.load(f)
        if kind == "terminal":
            doc["process"]["terminal"] = True
        else:
            doc["linux"]["namespaces"].append({"type": "user"})
            doc["linux"]["uidMappings"] = doc["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 0, "size": 65536}]
        with open(os.path.join(bundle, "config.json"), "w") as f:
            json.dump(doc, f)
        r = podman.create(cid, bundle)
        assert QUICK not in r.log and SAVED not in r.log, r
        if kind != "terminal":
            assert r.returncode == 0, r
    assert podman.recipes() == []


def test_a_create_through_the_recipe_loads_no_config_model(podman: Podman) -> None:
    """No attrs, typing, psutil, subprocess, json or config model: the
    point of the recipe is a create that costs what runc's does."""
    first, again, second = _ids(3)
    assert SAVED in podman.create(first, podman.bundle(first)).log
    assert SAVED in podman.create(again, podman.bundle(again)).log  # with the shared parent made
    bundle = podman.bundle(second)
    loaded = _loaded_by(podman.cli, "create", "--bundle", bundle, second)
    assert loaded == {"status": 0, "heavy": []}
    assert podman.cli.state(second)["status"] == "created"


def test_home_from_each_roots_passwd(podman: Podman) -> None:
    """A config.json without HOME (containerd's): the library's path gives
    the process its user's home from the root's /etc/passwd, as runc; a
    create through the recipe reads its own root's, not the first one's."""
    first, again, second = _ids(3)
    for cid in (first, again, second):
        r = podman.run(cid, podman.bundle(cid, home=None))
        assert (QUICK in r.log) == (cid == second), r.log
        shown = _result(podman, cid).replace(cid[:6], "<home>")
        assert "HOME=/home/<home>\n" in shown, shown
    assert _result(podman, second).replace(second[:6], "") == _result(podman, first).replace(first[:6], "")


def test_the_documents_warnings_are_given_again(podman: Podman) -> None:
    """A warning of the document (an ambient capability that cannot be
    raised: runc spec's own config.json has three) is part of the recipe,
    and a create through it gives it as the library's path does."""
    warned = []
    for cid in _ids(3):
        bundle = podman.bundle(cid)
        with open(os.path.join(bundle, "config.json")) as f:
            doc = json.load(f)
        doc["process"]["capabilities"]["ambient"] = ["CAP_KILL"]
        doc["process"]["capabilities"]["inheritable"] = []
        with open(os.path.join(bundle, "config.json"), "w") as f:
            json.dump(doc, f)
        r = podman.create(cid, bundle)
        assert r.returncode == 0, r
        warned.append((QUICK in r.log, [line for line in r.log.splitlines() if "level=warning" in line]))
    assert [quick for quick, _ in warned] == [False, False, True]
    messages = {tuple(re.sub(r'time="[^"]*" ', "", line) for line in lines) for _, lines in warned}
    assert len(messages) == 1 and "CAP_KILL" in next(iter(messages))[0], warned


def test_a_container_made_through_the_recipe_is_managed_as_any(podman: Podman) -> None:
    """start, exec (the library's path, then the saved exec plan), pause,
    resume, kill and delete of a container made through a recipe."""
    ids = _ids(3)
    for cid in ids:
        r = podman.create(cid, podman.bundle(cid, args=["sleep", "60"]))
        assert r.returncode == 0, r
    cid = ids[2]
    assert QUICK in r.log, r.log
    cli = podman.cli
    assert cli("start", cid).returncode == 0
    pid = cli.state(cid)["pid"]
    with open(f"/proc/{pid}/cgroup") as f:
        cgroups = f.read()
    for _ in range(2):
        r = cli("exec", cid, "sh", "-c", "cat /proc/self/cgroup; readlink /proc/self/ns/pid; readlink /proc/1/ns/pid")
        assert r.returncode == 0, r
        lines = r.stdout.splitlines()
        assert lines[-1] == lines[-2] and "\n".join(lines[:-2]) + "\n" == cgroups, (r.stdout, cgroups)
    assert cli("pause", cid).returncode == 0 and cli.state(cid)["status"] == "paused"
    assert cli("resume", cid).returncode == 0 and cli.state(cid)["status"] == "running"
    assert cli("kill", cid, "KILL").returncode == 0
    deadline = time.monotonic() + 30
    while cli.state(cid)["status"] != "stopped":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert cli("delete", cid).returncode == 0
    assert _cgroup_dirs(cid) == [] and not os.path.exists(os.path.join(cli.root, cid))
