"""Cgroup checks run inside a layout built by :mod:`support.layouts`.

``python -m support.layout_checks <check> <rootfs>`` runs one check and
prints what the kernel and the container showed as one JSON line; a
ContainerError becomes ``{"error": <class>, "message": <text>}``.  The
container ids and cgroup paths start with ``$LAYOUT_TOKEN``, so that the
layout's sweep finds whatever they might leave.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any, Callable, Dict, List, Optional

import libcontainer_py as lc

TOKEN = os.environ.get("LAYOUT_TOKEN", "lay")
Result = Dict[str, Any]


def cid(name: str) -> str:
    return f"{TOKEN}-{name}"


def read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def files(proc_or_container: Any, names: List[str]) -> Dict[str, str]:
    """The named files of the container's cgroup, wherever the host has them."""
    out = {}
    for d in proc_or_container.cgroup.dirs():
        for name in names:
            if os.path.exists(os.path.join(d, name)):
                out[name] = read(os.path.join(d, name))
    return out


def where(name: str) -> str:
    """Shell: the directory under the container's /sys/fs/cgroup with ``name``."""
    return f'$(for d in /sys/fs/cgroup/* /sys/fs/cgroup; do [ -e "$d/{name}" ] && echo "$d" && break; done)'


def memory(rootfs: str) -> Result:
    """A 64M memory limit, no swap, and a 200M allocation: the OOM killer."""
    script = (
        f"cat {where('memory.limit_in_bytes')}/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max;"
        " exec dd if=/dev/zero of=/dev/null bs=200M count=1"
    )
    config = lc.Config(
        rootfs=rootfs,
        cgroup=lc.CgroupConfig(memory=lc.Memory(max="64M", swap_max=0)),
        process=lc.Process(args=["sh", "-c", script]),
    )
    r = lc.run(config=config, capture_output=True, text=True, timeout=60, container_id=cid("mem"))
    mem = r.stats.memory if r.stats is not None else None
    return {
        "seen": r.stdout.split(),
        "returncode": r.returncode,
        "oom_killed": r.oom_killed,
        "oom_kills": None if mem is None else mem.oom_kills,
    }


def pids(rootfs: str) -> Result:
    """pids.max 6: a shell that starts nine sleeps dies at the fifth fork
    (the init shell, it and four sleeps make six); what the kernel counts then."""
    script = (
        f"d={where('pids.max')}; sh -c 'for i in 1 2 3 4 5 6 7 8 9; do sleep 30 & done'; echo status=$?;"
        " read c < $d/pids.current; read m < $d/pids.max; read e < $d/pids.events; echo $c $m $e"
    )
    config = lc.Config(
        rootfs=rootfs, cgroup=lc.CgroupConfig(pids=lc.Pids(max=6)), process=lc.Process(args=["sh", "-c", script])
    )
    r = lc.run(config=config, capture_output=True, text=True, timeout=60, container_id=cid("pids"))
    return {"seen": r.stdout.split(), "returncode": r.returncode}


def cpu(rootfs: str) -> Result:
    """CFS quota and shares, as the kernel shows them while the container runs."""
    config = lc.Config(
        rootfs=rootfs,
        cgroup=lc.CgroupConfig(cpu=lc.Cpu(shares=512, quota_us=20_000, period_us=100_000)),
        process=lc.Process(args=["sh", "-c", "read x"]),
    )
    with lc.ContainerProcess(config, stdin=lc.PIPE, container_id=cid("cpu")) as proc:
        seen = files(proc, ["cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.shares", "cpu.max", "cpu.weight"])
        proc.communicate(b"\n", timeout=30)
    return {"seen": seen}


#: A node made for /dev/kmsg (1:11), which the default rules deny, opened; then /dev/null.
DEVICE_SCRIPT = "mknod /dev/k c 1 11; echo x > /dev/k; echo kmsg=$?; echo x > /dev/null; echo null=$?"


def devices(rootfs: str) -> Result:
    """The default device rules: a node made for /dev/kmsg (1:11) cannot be opened, /dev/null can."""
    script = DEVICE_SCRIPT
    config = lc.Config(rootfs=rootfs, cgroup=lc.CgroupConfig(), process=lc.Process(args=["sh", "-c", script]))
    r = lc.run(config=config, capture_output=True, text=True, timeout=60, container_id=cid("dev"))
    return {"seen": r.stdout.split(), "stderr": r.stderr, "returncode": r.returncode}


def default(rootfs: str) -> Result:
    """A container with the default cgroup (the device filter alone): where
    its process is, as the kernel shows it from outside, and what the
    filter lets it open."""
    config = lc.Config(rootfs=rootfs, process=lc.Process(args=["sh", "-c", f"read x; {DEVICE_SCRIPT}"]))
    with lc.ContainerProcess(config, stdin=lc.PIPE, stdout=lc.PIPE, container_id=cid("dflt")) as proc:
        with open(f"/proc/{proc.pid}/cgroup") as f:
            where = dict(line.strip().split(":", 2)[1:] for line in f)
        out, _ = proc.communicate(b"\n", timeout=30)
    return {"devices": where.get("devices"), "v2": where.get(""), "id": proc.container_id, "seen": out.decode().split()}


def stats(rootfs: str) -> Result:
    """Accounting of a short busy loop: which parts the layout reports."""
    script = "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"
    config = lc.Config(rootfs=rootfs, cgroup=lc.CgroupConfig(), process=lc.Process(args=["sh", "-c", script]))
    r = lc.run(config=config, capture_output=True, timeout=60, container_id=cid("stats"))
    s = r.stats
    assert s is not None
    return {
        "memory_usage": None if s.memory is None else s.memory.peak,
        "cpu_usage_ns": None if s.cpu is None else s.cpu.usage_ns,
        "pids_limit_reported": s.pids is not None,
        "returncode": r.returncode,
    }


def _frozen(c: lc.Container) -> Dict[str, str]:
    seen = files(c, ["freezer.state", "cgroup.events"])
    out = {}
    if "freezer.state" in seen:
        out["freezer.state"] = seen["freezer.state"]
    if "cgroup.events" in seen:
        out["cgroup.events frozen"] = dict(line.split() for line in seen["cgroup.events"].splitlines())["frozen"]
    return out


def pause(rootfs: str) -> Result:
    """pause and resume: the status and the kernel's freezer state at each step."""
    root = tempfile.mkdtemp()
    config = lc.Config(rootfs=rootfs, cgroup=lc.CgroupConfig(), process=lc.Process(args=["sleep", "60"]))
    try:
        with lc.Container.create(cid("pause"), config, root=root) as c:
            c.start()
            c.pause()
            paused = {"status": c.status(), **_frozen(c)}
            c.resume()
            resumed = {"status": c.status(), **_frozen(c)}
        return {"paused": paused, "resumed": resumed}
    finally:
        shutil.rmtree(root)


def hugetlb(rootfs: str) -> Result:
    """A 2MB huge page limit: bound to cgroup2 on this host."""
    config = lc.Config(
        rootfs=rootfs,
        cgroup=lc.CgroupConfig(hugetlb={"2MB": "4M"}),
        process=lc.Process(args=["sh", "-c", "read x"]),
    )
    with lc.ContainerProcess(config, stdin=lc.PIPE, container_id=cid("huge")) as proc:
        seen = files(proc, ["hugetlb.2MB.max", "hugetlb.2MB.limit_in_bytes"])
        proc.communicate(b"\n", timeout=30)
    return {"seen": seen}


def network(rootfs: str) -> Result:
    """A net_cls class id and a net_prio priority for lo: the cgroup files, and
    the hierarchy the container's process is in."""
    config = lc.Config(
        rootfs=rootfs,
        cgroup=lc.CgroupConfig(network=lc.CgroupNetwork(class_id=0x100001, priorities={"lo": 7})),
        process=lc.Process(args=["sh", "-c", "grep net_cls /proc/self/cgroup; read x"]),
    )
    with lc.ContainerProcess(config, stdin=lc.PIPE, stdout=lc.PIPE, text=True, container_id=cid("net")) as proc:
        seen = files(proc, ["net_cls.classid", "net_prio.ifpriomap"])
        out, _ = proc.communicate("\n", timeout=30)
    prio = dict(line.split() for line in seen.pop("net_prio.ifpriomap", "").splitlines())
    return {"seen": seen, "lo": prio.get("lo"), "inside": out.strip()}


def cli(rootfs: str) -> Result:
    """The command line: run with limits, then create, pause, resume, kill, delete."""
    work = tempfile.mkdtemp()
    try:
        return _cli(rootfs, work)
    finally:
        shutil.rmtree(work)


def _cli(rootfs: str, work: str) -> Result:
    cmd = [sys.executable, "-m", "libcontainer_py", "--root", os.path.join(work, "state")]
    subprocess.run([*cmd, "spec"], cwd=work, check=True)
    with open(os.path.join(work, "config.json")) as f:
        doc = json.load(f)
    doc["root"] = {"path": rootfs, "readonly": True}
    d = where("pids.max")
    doc["process"].update(
        terminal=False,
        args=["sh", "-c", f"read m < {d}/pids.max; echo $m"]
        if lc.cgroups.detect().v1_for("pids") is not None
        else ["cat", "/proc/self/cgroup"],
    )
    doc["linux"]["resources"] = {"pids": {"limit": 40}} if lc.cgroups.detect().v1_for("pids") is not None else {}
    with open(os.path.join(work, "config.json"), "w") as f:
        json.dump(doc, f)

    def call(*args: str) -> List[Any]:
        # Files, not pipes: a created container holds its stdout open.
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            r = subprocess.run([*cmd, *args], cwd=work, stdout=out, stderr=err, stdin=subprocess.DEVNULL, timeout=60)
            out.seek(0)
            err.seek(0)
            return [r.returncode, out.read().strip(), err.read().strip()]

    out: Result = {"run": call("run", cid("clirun"))}
    doc["process"]["args"] = ["sleep", "60"]
    with open(os.path.join(work, "config.json"), "w") as f:
        json.dump(doc, f)
    name = cid("cli")
    out["create"] = call("create", name)
    out["start"] = call("start", name)
    out["pause"] = call("pause", name)
    out["paused"] = _status(call("state", name))
    out["resume"] = call("resume", name)
    out["resumed"] = _status(call("state", name))
    out["ps"] = call("ps", "--format", "json", name)
    out["stats"] = call("events", "--stats", name)
    out["kill"] = call("kill", name, "KILL")
    out["delete"] = call("delete", "--force", name)
    return out


def _run_bundle(rootfs: str, runtime: str, resources: Dict[str, Any], script: str, name: str) -> Result:
    """``run`` of a bundle by ``runtime`` ("ours" or a runc binary): its status and output."""
    work = tempfile.mkdtemp()
    try:
        ours = [sys.executable, "-m", "libcontainer_py"]
        cmd = [*(ours if runtime == "ours" else [runtime]), "--root", os.path.join(work, "state")]
        subprocess.run([*ours, "spec"], cwd=work, check=True)
        with open(os.path.join(work, "config.json")) as f:
            doc = json.load(f)
        doc["root"] = {"path": rootfs, "readonly": True}
        doc["process"].update(terminal=False, args=["sh", "-c", script])
        doc["linux"]["resources"] = resources
        with open(os.path.join(work, "config.json"), "w") as f:
            json.dump(doc, f)
        r = subprocess.run([*cmd, "run", cid(name)], cwd=work, capture_output=True, text=True, timeout=60)
        return {"status": r.returncode, "out": r.stdout.split(), "err": r.stderr}
    finally:
        shutil.rmtree(work)


def cli_network(rootfs: str, runtime: str) -> Result:
    """linux.resources.network: what the container reads in its cgroup mount."""
    resources = {"network": {"classID": 0x100001, "priorities": [{"name": "lo", "priority": 7}]}}
    script = "cat /sys/fs/cgroup/net_cls/net_cls.classid /sys/fs/cgroup/net_prio/net_prio.ifpriomap"
    return _run_bundle(rootfs, runtime, resources, script, "netcli")


def cli_limits(rootfs: str, runtime: str) -> Result:
    """Memory, pids and cpu limits, as the container reads them in its cgroup mount."""
    resources = {"memory": {"limit": 64 << 20}, "pids": {"limit": 40}, "cpu": {"quota": 20000, "period": 100000}}
    files = ("memory/memory.limit_in_bytes", "pids/pids.max", "cpu/cpu.cfs_quota_us", "cpu/cpu.cfs_period_us")
    return _run_bundle(rootfs, runtime, resources, "cat " + " ".join(f"/sys/fs/cgroup/{f}" for f in files), "limits")


def cli_recipe(rootfs: str) -> Result:
    """Three ``create``s of one config.json (the id in the bundle's path and
    the cgroup's): the later ones through the recipe the library's path
    saved.  For each, whether it was, and its process's cgroups as the host
    sees them before start (the id replaced): clone3's placement on a
    cgroup2-only host, the joins of v1 hierarchies elsewhere."""
    work = tempfile.mkdtemp()
    ours = [sys.executable, "-m", "libcontainer_py", "--root", os.path.join(work, "state")]
    made: List[Dict[str, Any]] = []
    names: List[str] = []
    try:
        subprocess.run([*ours, "spec"], cwd=work, check=True)
        with open(os.path.join(work, "config.json")) as f:
            doc = json.load(f)
        doc["root"] = {"path": rootfs, "readonly": True}
        doc["process"].update(terminal=False, args=["true"])
        for i in range(3):
            name = cid(f"recipe-{i}")
            names.append(name)
            bundle = os.path.join(work, name)
            os.mkdir(bundle)
            with open(os.path.join(bundle, "config.json"), "w") as f:
                json.dump(doc, f)
            log = os.path.join(work, f"{name}.log")
            argv = [*ours, "--debug", "--log", log, "create", "--bundle", bundle, name]
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, timeout=60)
            state = subprocess.run([*ours, "state", name], capture_output=True, text=True, timeout=60)
            cgroups = read(f"/proc/{json.loads(state.stdout)['pid']}/cgroup") if state.returncode == 0 else ""
            made.append(
                {
                    "status": r.returncode,
                    "quick": "created through a recipe" in read(log),
                    "cgroup": cgroups.replace(name, "ID"),
                }
            )
        return {"made": made}
    finally:
        for name in names:
            subprocess.run([*ours, "delete", "--force", name], capture_output=True, timeout=60)
        shutil.rmtree(work)


def _status(result: List[Any]) -> Optional[str]:
    return json.loads(result[1])["status"] if result[0] == 0 else None


CHECKS: Dict[str, Callable[..., Result]] = {
    f.__name__: f
    for f in (memory, pids, cpu, devices, default, stats, pause, hugetlb, network, cli, cli_network, cli_limits)
    + (cli_recipe,)
}


def main() -> None:
    check, rootfs, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    try:
        result = CHECKS[check](rootfs, *args)
    except lc.ContainerError as e:
        result = {"error": type(e).__name__, "message": str(e)}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
