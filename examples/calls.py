"""Python functions in containers: lc.call and lc.Pool.

A closure run in a fresh container (PID 1, its own network namespace, the
host's /etc read-only); its exception raised here with the remote
traceback; a memory hog OOM-killed with its figures; a crash; a Pool
mapping over items, one fresh process and cgroup per call.  Run as root
from the repository root; exits non-zero if a check fails.
"""

from __future__ import annotations

import ctypes
import os

import libcontainer_py as lc


def main() -> None:
    offset = 100

    def inside(x: int) -> dict:
        try:
            open("/etc/written-by-a-call", "w").close()
            wrote = True
        except OSError:
            wrote = False
        with open("/proc/net/dev") as f:
            interfaces = [line.split(":")[0].strip() for line in f.readlines()[2:]]
        return {"value": x + offset, "pid": os.getpid(), "wrote": wrote, "interfaces": interfaces}

    seen = lc.call(inside, 1)
    print("lc.call:", seen)
    assert seen == {"value": 101, "pid": 1, "wrote": False, "interfaces": ["lo"]}

    def fails() -> None:
        raise ValueError("raised in the container")

    try:
        lc.call(fails)
    except ValueError as e:
        where = [line.strip() for line in str(e.__cause__).splitlines() if "in fails" in line]
        print("re-raised here:", repr(e), "| remote:", where[0])
        assert where

    limited = lc.Config(cgroup=lc.CgroupConfig(memory=lc.Memory(max="64M", swap_max=0)))
    try:
        lc.call(lambda: [bytearray(1 << 20) for _ in range(1024)], config=limited)
    except lc.CallMemoryError as e:
        print(f"OOM: {e} (cpu {e.cpu_time:.2f} s, wall {e.wall_time:.2f} s)")
    else:
        raise AssertionError("expected CallMemoryError")

    try:
        lc.call(ctypes.string_at, 0)
    except lc.WorkerCrashed as e:
        print("crash:", e)
        assert e.signal == 11

    with lc.Pool(workers=2) as pool:
        squares = list(pool.map(lambda x: x * x, range(10)))
        print("Pool.map:", squares)
        assert squares == [x * x for x in range(10)]
        assert pool.submit(os.getpid).result() != 1  # forked by the worker's zygote, PID 1


if __name__ == "__main__":
    main()
