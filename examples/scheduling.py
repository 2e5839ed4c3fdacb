"""A container's CPU policy, I/O priority, exec CPUs and NUMA memory policy, as its program sees them.

    python3 examples/scheduling.py        (as root)

1. A batch container with nice 10 and the idle I/O class: the program's own
   /proc/self/stat says policy 3 (SCHED_BATCH) and nice 10, and what it
   starts inherits them.
2. A round-robin real-time container (priority 5), left in the caller's
   cpu cgroup: policy 2, rt_priority 5.
3. The same policy from an OCI config.json (``process.scheduler``,
   ``process.ioPriority``) reads back as the same objects.
4. A process exec'd into a container with ``exec_cpu_affinity`` runs on the
   CPUs it names (the container's first process does not).
5. A container with the memory policy "bind" to node 0: every mapping of
   its program says ``bind:0`` in /proc/self/numa_maps.

Every claim is checked; the exit status is 0 only if all of them hold.
"""

import os

import libcontainer_py as lc

#: sh's own /proc/self/stat, from field 3 on; then a child's (cat).
SCRIPT = "read -r stat < /proc/self/stat; echo ${stat##*) }; cat /proc/self/stat"


def stat_fields(line: str) -> dict:
    fields = line.split(") ")[-1].split()  # from field 3 (state) on
    return {"nice": int(fields[16]), "rt_priority": int(fields[37]), "policy": int(fields[38])}


def run(process: lc.Process) -> list:
    result = lc.run(config=lc.Config(cgroup=None, process=process), capture_output=True, timeout=10)
    assert result.returncode == 0, result.stderr
    return [stat_fields(line) for line in result.stdout.decode().splitlines()]


batch = lc.Process(
    args=["sh", "-c", SCRIPT], scheduler=lc.Scheduler("batch", nice=10), io_priority=lc.IOPriority("idle")
)
shell, child = run(batch)
print("batch:", shell, "child:", child)
assert shell == child == {"nice": 10, "rt_priority": 0, "policy": 3}

realtime = lc.Process(args=["sh", "-c", SCRIPT], scheduler=lc.Scheduler("rr", priority=5))
shell, _ = run(realtime)
print("rr:", shell)
assert (shell["policy"], shell["rt_priority"]) == (2, 5)

doc = {
    "ociVersion": "1.2.0",
    "root": {"path": "/"},
    "process": {
        "args": ["true"],
        "cwd": "/",
        "scheduler": {"policy": "SCHED_BATCH", "nice": 10},
        "ioPriority": {"class": "IOPRIO_CLASS_IDLE", "priority": 0},
    },
    "linux": {"namespaces": [{"type": "mount"}]},
}
process = lc.Config.from_oci(doc).process
assert process.scheduler == batch.scheduler and process.io_priority == batch.io_priority
print("config.json: same scheduling")

# 4. Processes exec'd into a container run on the CPUs of exec_cpu_affinity.
cpus = sorted(os.sched_getaffinity(0))
process = lc.Process(args=["sleep", "30"], exec_cpu_affinity=lc.ExecCPUAffinity(final=str(cpus[-1])))
with lc.Container.create("scheduling-example", lc.Config(cgroup=None, process=process)) as c:
    c.start()
    out, _ = c.exec(["cat", "/proc/self/status"], stdout=lc.PIPE, text=True).communicate(timeout=10)
allowed = [line.split()[1] for line in out.splitlines() if line.startswith("Cpus_allowed_list:")]
print("exec'd process runs on CPUs", allowed[0])
assert allowed == [str(cpus[-1])]

# 5. The NUMA memory policy of the container's processes.
config = lc.Config(
    cgroup=None, memory_policy=lc.MemoryPolicy("bind", "0"), process=lc.Process(args=["cat", "/proc/self/numa_maps"])
)
result = lc.run(config=config, capture_output=True, timeout=10)
policies = {line.split()[1] for line in result.stdout.decode().splitlines()}
print("numa_maps policies:", policies)
assert result.returncode == 0 and policies == {"bind:0"}
