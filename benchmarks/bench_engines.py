"""podman and containerd with our runtime vs with runc: one container's
create + start + delete through each engine.

Each engine runs sandboxed (tests/support/engines.py: its own config,
storage and state in a temporary directory, a busybox image imported
locally).  One iteration times, for each runtime in turn (alternating which
goes first), ``podman run --rm IMAGE true`` (the runtime's create, start,
state and delete; conmon in between) and ``ctr run --rm --runc-binary B
IMAGE ID true`` (the shim's create, start, delete).  Wall time from fork to
exit of the engine's client.  Reports medians and ours/runc per engine.

    python3 benchmarks/bench_engines.py --iterations 20

Run it from a non-editable install (an editable one adds an import hook to
every start of our CLI):
``python3 -m venv /tmp/bench-venv && /tmp/bench-venv/bin/pip install . &&
/tmp/bench-venv/bin/python benchmarks/bench_engines.py``.  Root; needs
podman, containerd, runc and busybox-static.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import bench_start as bs
from _common import interrupt_on_sigterm
from support import engines
from support.busybox import make_rootfs
from support.processes import wait_for

RUNTIMES = ("ours", "runc")
#: Floors: runc behind a Python start, and behind a Python start that also
#: loads what our ``create`` loads before its work (attrs and the config
#: model: the classes of the typed API, the OCI converter, Container).
FLOORS = ("floor-python", "floor-model")
_FLOOR_SCRIPT = """#!{python}
import os, sys
if {load_model} and "create" in sys.argv[1:]:
    import attrs  # noqa: F401
    from libcontainer_py.container import Container  # noqa: F401
    from libcontainer_py.oci import load_bundle  # noqa: F401
os.execv("/usr/sbin/runc", ["runc", *sys.argv[1:]])
"""


def write_floor(directory: str, name: str) -> str:
    """A runtime that is runc behind our interpreter's start (and for
    ``floor-model``, ``create`` also loading the model): what no Python
    front end loading the typed model can beat."""
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(_FLOOR_SCRIPT.format(python=sys.executable, load_model=name == "floor-model"))
    os.chmod(path, 0o755)
    return path


TIMEOUT = 120.0


def timed(argv: List[str], env: Optional[Dict[str, str]] = None) -> int:
    """Wall time of ``argv`` from fork to exit, in ns.

    The wait blocks in waitpid (support.processes.wait_for):
    ``subprocess.call(..., timeout=)`` polls with sleeps growing to 50 ms,
    which rounded every figure up to the next poll (sessions 3-9 measured
    114/164/214/264 ms steps, not the engines).
    """
    with tempfile.TemporaryFile() as log:
        t0 = time.perf_counter_ns()
        status = wait_for(argv, timeout=TIMEOUT, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
        elapsed = time.perf_counter_ns() - t0
        if status != 0:
            log.seek(0)
            raise bs.RuntimeFailure(f"{' '.join(argv)} exited {status}: {log.read().decode(errors='replace')}")
    return elapsed


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--no-floors", action="store_true", help="only ours and runc")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    interrupt_on_sigterm()
    binary = engines.our_binary()
    runtimes = RUNTIMES if args.no_floors else RUNTIMES + FLOORS
    samples: Dict[str, Dict[str, List[int]]] = {e: {r: [] for r in runtimes} for e in ("podman", "ctr")}
    work = tempfile.mkdtemp(prefix="bench-engines-")
    podman: Optional[engines.Podman] = None
    ctr: Optional[engines.Containerd] = None
    try:
        rootfs = make_rootfs(os.path.join(work, "rootfs"))
        podman = engines.Podman(os.path.join(work, "podman"), rootfs, binary)
        ctr = engines.Containerd(os.path.join(work, "ctrd"), rootfs, binary)
        podman_runtime = {"ours": engines.OURS, "runc": "runc"}
        ctr_binary = {"ours": binary, "runc": "/usr/sbin/runc"}
        for floor in runtimes[len(RUNTIMES) :]:
            podman_runtime[floor] = ctr_binary[floor] = write_floor(work, floor)
        for i in range(args.warmup + args.iterations):
            order = runtimes if i % 2 == 0 else tuple(reversed(runtimes))
            for name in order:
                p = timed(
                    ["podman", "--runtime", podman_runtime[name], "run", "--rm", *engines.PODMAN_RUN_FLAGS]
                    + [engines.IMAGE, "true"],
                    env=podman.env,
                )
                c = timed(
                    ["ctr", "--address", ctr.address, "run", "--rm", *ctr.runtime_flags(ctr_binary[name])]
                    + [engines.CTR_IMAGE, f"bench-{name}-{i}", "true"]
                )
                if i >= args.warmup:
                    samples["podman"][name].append(p)
                    samples["ctr"][name].append(c)
    finally:
        if ctr is not None:
            ctr.close()
        if podman is not None:
            podman.close()
        engines.unmount_under(work)
        subprocess.run(["rm", "-rf", work])
    print(f"{args.iterations} iterations (after {args.warmup} warm-up), medians in ms, p10-p90 in brackets")
    print(f"{'engine':8} {'runtime':13} {'median [p10-p90]':>22} {'/runc':>6}")
    for engine, by_runtime in samples.items():
        runc = bs.Summary.of(by_runtime["runc"])
        for name in runtimes:
            s = bs.Summary.of(by_runtime[name])
            cell = f"{s.median_ms:7.1f} [{s.p10_ms:5.1f}-{s.p90_ms:5.1f}]"
            print(f"{engine:8} {name:13} {cell:>22} {s.median_ms / runc.median_ms:6.2f}")
    print("target (issue 18): podman ours/runc <= 1.3")
    return 0


if __name__ == "__main__":
    sys.exit(main())
