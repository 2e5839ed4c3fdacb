"""Reliability: limits that cannot work fail loudly, a container never
outlives the process that runs it attached, and its creator's secrets stay
out of it.  Each test asserts on what the kernel shows and counts what is
left behind."""

from __future__ import annotations

import pytest

import libcontainer_py as lc

# -- memory limits too small to start -------------------------------------------------------


@pytest.mark.parametrize("value", [64, 4096, 65536, (1 << 20) - 1])
def test_a_memory_limit_below_the_floor_is_refused(value: int) -> None:
    with pytest.raises(lc.ConfigError, match=r"memory\.max: .* below the 1048576 bytes") as info:
        lc.Memory(max=value)
    assert info.value.field == "memory.max" and f"'{value}M'" in str(info.value)
    assert lc.Memory(max="64M").max == 64 << 20 and lc.Memory(max=lc.UNLIMITED).max == lc.UNLIMITED


def test_a_limit_too_small_for_the_set_up_is_a_typed_error(no_leaks: None) -> None:
    """Thousands of tmpfs mounts do not fit in 1 MiB: the mount that hits
    the limit fails, and the error says the memory limit is why."""
    mounts = lc.Mounts.default() + [lc.Mount.tmpfs(f"/tmp/m{i}") for i in range(3000)]
    config = lc.Config(mounts=mounts, cgroup=lc.CgroupConfig(memory=lc.Memory(max="1M")))
    with pytest.raises(lc.StepError, match=r"reached its memory limit \(memory.max = 1048576 bytes\)"):
        lc.run(["true"], config=config)


def test_a_limit_too_small_for_the_program_is_an_oom_kill(no_leaks: None) -> None:
    config = lc.Config(cgroup=lc.CgroupConfig(memory=lc.Memory(max="1M", swap_max=0)))
    r = lc.run(["python3", "-c", "print('started')"], config=config, capture_output=True)
    assert r.returncode == -9 and r.oom_killed and r.stdout == b""


def test_a_failure_the_sync_socket_cannot_carry_is_still_reported(no_leaks: None) -> None:
    """Below the floor (forced past the check here) the child cannot even
    allocate the socket buffer of its error record; the shared page still
    carries it: a typed error, never a silent exit status 127."""
    memory = lc.Memory(max="1M")
    object.__setattr__(memory, "max", 64 << 10)  # what the floor refuses
    config = lc.Config(cgroup=lc.CgroupConfig(memory=memory))
    with pytest.raises(lc.StepError, match="memory limit") as info:
        lc.run(["echo", "never"], config=config, capture_output=True)
    assert info.value.errno != 0 and info.value.index >= 0
