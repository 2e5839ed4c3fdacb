"""Start containers from 8 threads at once.

    python3 examples/threads.py        (as root)

Safe because no Python runs in the child between clone and execve: the
child only walks a step array in C, so it cannot deadlock on a lock (the GIL,
malloc's, a logging handler's) that another thread of the parent held at the
moment of the clone.
"""

import sys
from concurrent.futures import ThreadPoolExecutor

from _checks import check, report  # the examples' shared check and report

import libcontainer_py as lc

WORKERS = 8


def one(i):
    config = lc.Config(hostname=f"worker-{i}")
    return lc.run(
        ["sh", "-c", 'echo "pid $$ on $(hostname)"'],
        config=config,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )


def main():
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = list(pool.map(one, range(WORKERS)))
    for i, r in enumerate(results):
        print(f"container {r.container_id}: {r.stdout.strip()}")
        check(r.stdout == f"pid 1 on worker-{i}\n", f"worker {i} is PID 1 of its own container")
    return report()


if __name__ == "__main__":
    sys.exit(main())
