"""Process.scheduler and Process.io_priority, as the kernel shows them to
the container's program (/proc/self/stat, busybox's ionice), from the
library and from an OCI config.json through the command line."""

from __future__ import annotations

import json
import os
from typing import Any, Dict

import pytest
from support.oci import call, spec_bundle

import libcontainer_py as lc
from libcontainer_py.scheduling import format_cpu_list

#: sh's own /proc/self/stat fields (1-based, proc(5)): 19 nice, 40 rt_priority, 41 policy.
SCRIPT = "read -r stat < /proc/self/stat; echo ${stat##*) }; ionice -p $$"


def _seen(output: str) -> Dict[str, Any]:
    """nice, rt_priority and policy of sh itself, and what ionice said."""
    stat_line, ionice = output.strip().splitlines()
    fields = stat_line.split()  # from field 3 (state) on
    return {"nice": int(fields[16]), "rt_priority": int(fields[37]), "policy": int(fields[38]), "io": ionice}


def _run(busybox: str, cgroup: Any = None, **process: Any) -> Dict[str, Any]:
    config = lc.Config(rootfs=busybox, cgroup=cgroup, process=lc.Process(args=["sh", "-c", SCRIPT], **process))
    result = lc.run(config=config, capture_output=True, timeout=10)
    assert result.returncode == 0, result.stderr
    return _seen(result.stdout.decode())


def test_nothing_set_keeps_the_callers(busybox: str) -> None:
    seen = _run(busybox)
    assert seen["policy"] == os.sched_getscheduler(0) == 0
    assert seen["nice"] == os.getpriority(os.PRIO_PROCESS, 0)


@pytest.mark.parametrize(
    "scheduler,policy,nice,rt",
    [
        (lc.Scheduler("batch", nice=7), 3, 7, 0),
        (lc.Scheduler("SCHED_IDLE"), 5, 0, 0),
        (lc.Scheduler("other", nice=-3), 0, -3, 0),
        (lc.Scheduler("fifo", priority=10), 1, 0, 10),
        (lc.Scheduler("rr", priority=3, flags=["reset_on_fork"]), 2, 0, 3),
    ],
)
def test_the_policy_is_the_programs(busybox: str, scheduler: lc.Scheduler, policy: int, nice: int, rt: int) -> None:
    """(In the caller's cpu cgroup: one of the container's own would have
    no real-time runtime on this kernel, see below.)"""
    seen = _run(busybox, scheduler=scheduler)
    assert (seen["policy"], seen["nice"], seen["rt_priority"]) == (policy, nice, rt)


def test_a_deadline_policy(busybox: str) -> None:
    """sched_setattr with runtime, deadline and period (a deadline task may
    not fork, so the program is exec'd directly and reads its own stat)."""
    scheduler = lc.Scheduler("deadline", runtime=1_000_000, deadline=10_000_000, period=50_000_000)
    config = lc.Config(
        rootfs=busybox, cgroup=None, process=lc.Process(args=["cat", "/proc/self/stat"], scheduler=scheduler)
    )
    result = lc.run(config=config, capture_output=True, timeout=10)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().split(") ")[1].split()[38] == "6"  # SCHED_DEADLINE
    with open("/proc/self/sched") as f:
        assert "dl" not in f.readline()  # this process is untouched


@pytest.mark.parametrize(
    "priority,shown", [(lc.IOPriority("be", 6), "best-effort: prio 6"), (lc.IOPriority("IOPRIO_CLASS_IDLE"), "idle")]
)
def test_the_io_priority_is_the_programs(busybox: str, priority: lc.IOPriority, shown: str) -> None:
    seen = _run(busybox, io_priority=priority)
    assert seen["io"].startswith(shown), seen


def test_a_refused_policy_fails_the_step_and_leaves_nothing(busybox: str, no_leaks: None) -> None:
    """A real-time policy in a cpu cgroup of the container's own, on a
    kernel with RT group scheduling (no real-time runtime in that cgroup):
    the kernel says EPERM, the step is named, and nothing is left."""
    if not os.path.exists("/sys/fs/cgroup/cpu/cpu.rt_runtime_us"):
        pytest.fail("this test needs a cgroup v1 cpu hierarchy with RT group scheduling (the CI machines have it)")
    config = lc.Config(
        rootfs=busybox,
        process=lc.Process(args=["true"], scheduler=lc.Scheduler("fifo", priority=10)),
        cgroup=lc.CgroupConfig(cpu=lc.Cpu(shares=512)),
    )
    with pytest.raises(lc.SecurityError) as info:
        lc.run(config=config, capture_output=True, timeout=10)
    assert info.value.errno == 1 and "scheduling policy fifo" in str(info.value)


def test_through_the_command_line(tmp_path: Any) -> None:
    """OCI's process.scheduler and process.ioPriority in config.json."""
    process = {
        "args": ["sh", "-c", SCRIPT],
        "scheduler": {"policy": "SCHED_BATCH", "nice": 4},
        "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 2},
    }
    bundle, cli = spec_bundle(tmp_path, process)
    status, output = call([*cli, "run", "-b", str(bundle), "sched-cli"])
    assert status == 0, output
    seen = _seen(output)
    assert (seen["policy"], seen["nice"]) == (3, 4) and seen["io"].startswith("best-effort: prio 2")
    assert lc.Config.from_oci(str(bundle / "config.json")).process.scheduler == lc.Scheduler("batch", nice=4)


def test_exec_takes_the_containers_scheduling_or_its_own(busybox: str, tmp_path: Any) -> None:
    process = lc.Process(
        args=["sleep", "30"], scheduler=lc.Scheduler("batch", nice=7), io_priority=lc.IOPriority("be", 5)
    )
    config = lc.Config(rootfs=busybox, cgroup=None, process=process)
    c = lc.Container.create("sched-exec", config, root=str(tmp_path / "state"))
    try:
        c.start()
        outputs = []
        for overrides in ({}, {"scheduler": None, "io_priority": None}, {"scheduler": lc.Scheduler("idle")}):
            proc = c.exec(["sh", "-c", SCRIPT], stdout=lc.PIPE, text=True, **overrides)
            out, _ = proc.communicate(timeout=10)
            assert proc.returncode == 0
            outputs.append(_seen(out))
    finally:
        c.destroy()
    inherited, none, own = outputs
    assert (inherited["policy"], inherited["nice"]) == (3, 7) and inherited["io"].startswith("best-effort: prio 5")
    assert (none["policy"], none["nice"]) == (0, 0) and none["io"].startswith("none")
    assert own["policy"] == 5 and own["io"].startswith("best-effort: prio 5")


def _allowed(text: str) -> str:
    (line,) = [x for x in text.splitlines() if x.startswith("Cpus_allowed_list:")]
    return line.split()[1]


def test_exec_cpu_affinity_applies_to_execd_processes_only(busybox: str, tmp_path: Any) -> None:
    """OCI's execCPUAffinity: ``final`` is where an exec'd process runs
    (set after it joined the cgroup, so it wins over ``initial``); the
    container's first process keeps the caller's CPUs."""
    cpus = sorted(os.sched_getaffinity(0))
    last = str(cpus[-1])
    process = lc.Process(args=["sleep", "30"], exec_cpu_affinity=lc.ExecCPUAffinity(initial=str(cpus[0]), final=last))
    config = lc.Config(rootfs=busybox, process=process)
    c = lc.Container.create("sched-affinity", config, root=str(tmp_path / "state"))
    try:
        c.start()
        with open(f"/proc/{c.pid}/status") as f:
            first = _allowed(f.read())
        seen = []
        for overrides in ({}, {"exec_cpu_affinity": None}):
            proc = c.exec(["cat", "/proc/self/status"], stdout=lc.PIPE, text=True, **overrides)
            out, _ = proc.communicate(timeout=10)
            seen.append(_allowed(out))
    finally:
        c.destroy()
    everything = format_cpu_list(tuple(cpus))
    assert first == everything and seen == [last, everything]


def test_exec_cpu_affinity_through_the_command_line(tmp_path: Any) -> None:
    """config.json's execCPUAffinity for ``exec ID ...``; a process.json
    given to ``exec --process`` has its own (here: none)."""
    cpus = sorted(os.sched_getaffinity(0))
    bundle, cli = spec_bundle(tmp_path, {"args": ["sleep", "30"], "execCPUAffinity": {"final": str(cpus[-1])}})
    process_json = tmp_path / "process.json"
    process_json.write_text(json.dumps({"args": ["cat", "/proc/self/status"], "cwd": "/"}))
    try:
        results = [
            call([*cli, "run", "-d", "-b", str(bundle), "sched-aff-cli"]),
            call([*cli, "exec", "sched-aff-cli", "cat", "/proc/self/status"]),
            call([*cli, "exec", "--process", str(process_json), "sched-aff-cli"]),
        ]
    finally:
        call([*cli, "delete", "-f", "sched-aff-cli"])
    assert [status for status, _ in results] == [0, 0, 0], results
    plain, own = (_allowed(output) for _, output in results[1:])
    assert (plain, own) == (str(cpus[-1]), format_cpu_list(tuple(cpus)))


@pytest.mark.parametrize(
    "policy,shown",
    [
        (lc.MemoryPolicy("bind", "0"), "bind:0"),
        (lc.MemoryPolicy("MPOL_INTERLEAVE", "0", ["MPOL_F_STATIC_NODES"]), "interleave=static:0"),
        (lc.MemoryPolicy("local"), "local"),
        (lc.MemoryPolicy("preferred", "0"), "prefer:0"),
    ],
)
def test_the_memory_policy_is_the_containers(busybox: str, policy: lc.MemoryPolicy, shown: str) -> None:
    """OCI's linux.memoryPolicy: /proc/self/numa_maps shows the policy of
    each mapping (the process's, where a mapping has none of its own)."""
    config = lc.Config(rootfs=busybox, memory_policy=policy, process=lc.Process(args=["cat", "/proc/self/numa_maps"]))
    result = lc.run(config=config, capture_output=True, timeout=10)
    assert result.returncode == 0, result.stderr
    policies = {line.split()[1] for line in result.stdout.decode().splitlines()}
    assert policies == {shown}, policies


def test_a_memory_policy_on_a_missing_node_fails_the_step(busybox: str, no_leaks: None) -> None:
    missing = max(int(n[4:]) for n in os.listdir("/sys/devices/system/node") if n[4:].isdigit()) + 1
    config = lc.Config(
        rootfs=busybox, memory_policy=lc.MemoryPolicy("bind", str(missing)), process=lc.Process(["true"])
    )
    with pytest.raises(lc.SecurityError) as info:
        lc.run(config=config, capture_output=True, timeout=10)
    assert info.value.errno == 22 and f"memory policy bind {missing}" in str(info.value)


def test_memory_policy_through_the_command_line_and_exec(tmp_path: Any) -> None:
    bundle, cli = spec_bundle(
        tmp_path, {"args": ["sleep", "30"]}, linux={"memoryPolicy": {"mode": "MPOL_BIND", "nodes": "0"}}
    )
    try:
        started = call([*cli, "run", "-d", "-b", str(bundle), "numa-cli"])
        assert started[0] == 0, started
        pid = json.loads(call([*cli, "state", "numa-cli"])[1])["pid"]
        with open(f"/proc/{pid}/numa_maps") as f:
            first = {line.split()[1] for line in f}
        status, output = call([*cli, "exec", "numa-cli", "cat", "/proc/self/numa_maps"])
        assert status == 0, output
        execd = {line.split()[1] for line in output.splitlines()}
    finally:
        call([*cli, "delete", "-f", "numa-cli"])
    assert first == execd == {"bind:0"}
