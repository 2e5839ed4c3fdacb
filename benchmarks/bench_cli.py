"""The command line, side by side with runc: each command's wall time.

Both runtimes get the same bundle (the config.json of ``runc spec``, edited
by bench_start.edit_runc_spec: /bin/true, no terminal, the busybox rootfs)
and their own ``--root``.  Each iteration runs, for each runtime in turn
(alternating which goes first), ``run`` of a new id, then ``create``,
``state``, ``start`` and ``delete`` of another, and ``exec ID true`` in a
container of its own that sleeps (busybox, runc's spec: what an engine's
exec probe does; issue 18's target is ours/runc <= 2); every command is timed from
fork to exit of the CLI process, so the Python interpreter's start-up is in
our numbers, as Go's is in runc's.  Reports medians and ours/runc per command.

Ours is the ``libcontainer-py`` console script installed next to the running
interpreter (``<venv>/bin/libcontainer-py``, what an engine would call), or
``python -m libcontainer_py`` when there is none.  Run it from a venv with a
**non-editable** install: an editable install adds an import hook (~11 ms)
to every start of the CLI, which a real installation does not have::

    python3 -m venv /tmp/speed-venv
    /tmp/speed-venv/bin/pip install /path/to/libcontainer_py      # again after every change
    /tmp/speed-venv/bin/python benchmarks/bench_cli.py --iterations 10
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_start as bs
from _common import interrupt_on_sigterm, leftover_status

COMMANDS = ("run", "create", "state", "start", "delete", "exec")
#: Issue 18's target for ``exec``: ours/runc at most this.
EXEC_TARGET = 2.0


def our_cli() -> List[str]:
    """The console script beside sys.executable, else ``python -m libcontainer_py``."""
    script = Path(sys.executable).parent / "libcontainer-py"
    if os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "libcontainer_py"]


def interpreter_of(cli: List[str]) -> str:
    """The Python that runs our command line (the script's #! line)."""
    if cli[0] != sys.executable:
        with open(cli[0], "rb") as f:
            first = f.readline()
        if first.startswith(b"#!"):
            return first[2:].decode().split()[0]
    return sys.executable


def runtimes(runc: str) -> Dict[str, List[str]]:
    """The argv prefix of each runtime's command line."""
    return {"ours": our_cli(), "runc": [runc]}


def timed(argv: List[str]) -> int:
    """Nanoseconds from fork to exit; a failing command stops the benchmark.

    No pipes: a created container keeps its stdio open, so output goes to a
    file (reading a pipe to EOF would wait for the container)."""
    with tempfile.TemporaryFile() as log:
        t0 = time.perf_counter_ns()
        status = subprocess.call(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        elapsed = time.perf_counter_ns() - t0
        if status != 0:
            log.seek(0)
            raise bs.RuntimeFailure(f"{' '.join(argv)} exited {status}: {log.read().decode(errors='replace').strip()}")
    return elapsed


def status_of(base: List[str], cid: str) -> str:
    done = subprocess.run([*base, "state", cid], stdin=subprocess.DEVNULL, capture_output=True, text=True)
    return str(json.loads(done.stdout)["status"])


def one_round(
    prefix: List[str], root: Path, bundle: Path, cid: str, samples: Dict[str, List[int]], sleeper: str
) -> None:
    """run, then create/state/start/delete, then exec in ``sleeper``, each timed."""
    base = [*prefix, "--root", str(root)]
    samples["run"].append(timed([*base, "run", "--bundle", str(bundle), f"{cid}-r"]))
    samples["create"].append(timed([*base, "create", "--bundle", str(bundle), cid]))
    samples["state"].append(timed([*base, "state", cid]))
    samples["start"].append(timed([*base, "start", cid]))
    deadline = time.monotonic() + 10
    while status_of(base, cid) != "stopped":
        if time.monotonic() > deadline:
            raise bs.RuntimeFailure(f"{cid} did not stop")
        time.sleep(0.005)
    samples["delete"].append(timed([*base, "delete", cid]))
    samples["exec"].append(timed([*base, "exec", sleeper, "true"]))


def start_sleeper(prefix: List[str], root: Path, bundle: Path, cid: str) -> None:
    """A container that sleeps (``bundle``'s config with ``sleep``), for exec."""
    sleeping = bundle.parent / "sleeping"
    if not sleeping.is_dir():
        sleeping.mkdir()
        spec = json.loads((bundle / "config.json").read_text())
        spec["process"]["args"] = ["sleep", "3600"]
        spec["root"]["path"] = str((bundle / spec["root"]["path"]).resolve())
        (sleeping / "config.json").write_text(json.dumps(spec))
    timed([*prefix, "--root", str(root), "run", "--detach", "--bundle", str(sleeping), cid])


def plain_bundle(work: Path, runc: str) -> Path:
    """``work``/bundle: runc spec's config.json as bench_start edits it, on a busybox rootfs."""
    rootfs = bs.make_rootfs(work / "rootfs")
    spec = bs.edit_runc_spec(bs.runc_default_spec(runc, work / "bundle"), rootfs)
    (work / "bundle" / "config.json").write_text(json.dumps(spec))
    return work / "bundle"


def clean_up(prefix: List[str], root: Path) -> List[str]:
    """Force-delete whatever a runtime still lists; returns what was left."""
    if not root.is_dir():
        return []
    listed = subprocess.run([*prefix, "--root", str(root), "list", "-q"], capture_output=True, text=True)
    left = listed.stdout.split()
    for cid in left:
        subprocess.run([*prefix, "--root", str(root), "delete", "-f", cid], capture_output=True)
    return left


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--runc", default=shutil.which("runc") or "/usr/sbin/runc")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    interrupt_on_sigterm()  # so that created containers are deleted
    prefixes = runtimes(args.runc)
    samples = {name: {c: [] for c in COMMANDS} for name in prefixes}  # type: Dict[str, Dict[str, List[int]]]
    left: List[str] = []
    # The floor under every command of ours: the interpreter starting and exiting.
    floor_argv = [interpreter_of(prefixes["ours"]), "-c", "pass"]
    floor: List[int] = []
    with tempfile.TemporaryDirectory(prefix="bench-cli-", dir=bs.DEFAULT_TMPDIR) as tmp:
        work = Path(tmp)
        bundle = plain_bundle(work, args.runc)
        tag = f"bcli{os.getpid()}"
        try:
            for name in prefixes:
                start_sleeper(prefixes[name], work / f"{name}-state", bundle, f"{tag}-{name}-sleeper")
            for i in range(args.warmup + args.iterations):
                order = list(prefixes) if i % 2 == 0 else list(reversed(prefixes))
                for name in order:
                    into = samples[name] if i >= args.warmup else {c: [] for c in COMMANDS}
                    sleeper = f"{tag}-{name}-sleeper"
                    one_round(prefixes[name], work / f"{name}-state", bundle, f"{tag}-{name}-{i}", into, sleeper)
                if i >= args.warmup:
                    floor.append(timed(floor_argv))
        finally:
            for name, prefix in prefixes.items():
                base = [*prefix, "--root", str(work / f"{name}-state")]
                subprocess.run([*base, "delete", "--force", f"{tag}-{name}-sleeper"], capture_output=True)
                left += [f"{name}: {cid}" for cid in clean_up(prefix, work / f"{name}-state")]
    print(f"ours: {' '.join(prefixes['ours'])}")
    print(f"{args.iterations} iterations (after {args.warmup} warm-up), medians in ms, p10-p90 in brackets")
    print(f"{'command':8} {'ours':>22} {'runc':>22} {'ours/runc':>10}")
    for command in COMMANDS:
        ours, runc = bs.Summary.of(samples["ours"][command]), bs.Summary.of(samples["runc"][command])
        cells = [f"{s.median_ms:7.1f} [{s.p10_ms:5.1f}-{s.p90_ms:5.1f}]" for s in (ours, runc)]
        print(f"{command:8} {cells[0]:>22} {cells[1]:>22} {ours.median_ms / runc.median_ms:10.2f}")
    ratio = bs.Summary.of(samples["ours"]["exec"]).median_ms / bs.Summary.of(samples["runc"]["exec"]).median_ms
    print(f"exec: ours/runc {ratio:.2f}, target <= {EXEC_TARGET:.0f}: {'met' if ratio <= EXEC_TARGET else 'NOT met'}")
    floor_ms = bs.Summary.of(floor).median_ms
    print(f"{' '.join(floor_argv)}: {floor_ms:.1f} ms (the interpreter's start, in every command of ours)")
    return leftover_status(left)


if __name__ == "__main__":
    sys.exit(main())
