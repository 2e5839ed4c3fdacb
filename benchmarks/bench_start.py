#!/usr/bin/env python3
"""Start-to-exit latency of ``/bin/true`` in a container: libcontainer_py, bubblewrap and runc, like for like.

Every row starts ``/bin/true`` in the same busybox root filesystem with new
mount, uts, ipc, pid and net namespaces, pivot_root, /proc and /dev, and the
wall-clock time from "about to start" to "exited and reaped" is recorded.
libcontainer_py runs three times, each with the features of what it is
compared with:

    ours        bwrap's: no masked or read-only paths, no seccomp, no cgroup
    ours-runc   those of runc's default spec (``runc spec``'s config.json)
    ours-full   lc.Config's defaults: everything on, Docker's seccomp profile

The runtimes alternate, one run each per iteration, so that drift on the host
hits them all alike; the orders cycle so that each runtime runs in each
position, and directly after each other runtime, equally often.  Medians, p10
and p90 are reported with the ratios ours/bwrap, runc/ours-runc and
runc/ours-full.  Run as root; see benchmarks/README.md.

    python3 benchmarks/bench_start.py --iterations 60
    python3 benchmarks/bench_start.py --only ours --profile

The exit status is 1 when a runtime fails to run (or leaves something behind
that cannot be removed), 130 on Ctrl-C, 0 otherwise.  Missing a target never
changes the exit status.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import itertools
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import _threads_row
import attrs
from _coldstart import cold_start_ratio, cold_start_table, measure_cold_start
from _common import add_only_option, print_problems, progress, run_reported

import libcontainer_py as lc
from libcontainer_py.mounts import OPTION_FLAGS
from libcontainer_py.plan import build_plan
from libcontainer_py.seccomp import Seccomp

REPO = Path(__file__).resolve().parent.parent
#: The rows, in the order they are reported: each libcontainer_py row above
#: the runtime whose features it copies.
RUNTIMES = ("ours", "bwrap", "ours-runc", "runc", "ours-full")
PROGRAM = "/bin/true"
#: The namespaces every runtime is asked for, as the OCI spec names them.
OCI_NAMESPACES = ("pid", "network", "ipc", "uts", "mount")
#: OCI namespace type -> lc.Namespaces field.
LC_NAMESPACE = {
    "pid": "pid",
    "network": "net",
    "ipc": "ipc",
    "uts": "uts",
    "mount": "mount",
    "cgroup": "cgroup",
    "user": "user",
    "time": "time",
}
#: What "ours" turns off to do what the bwrap command does; lc.Config's
#: defaults have them on (ours-full keeps those defaults).
BWRAP_LIKE: Mapping[str, Any] = {"masked_paths": (), "readonly_paths": (), "seccomp": None, "cgroup": None}
#: CgroupConfig arguments for a cgroup that only carries device rules, joining
#: just the hierarchies it needs (where the library can do that).
DEVICE_CGROUP: Mapping[str, Any] = {"accounting": False} if "accounting" in attrs.fields_dict(lc.CgroupConfig) else {}
CGROUP_ROOT = Path("/sys/fs/cgroup")
#: How long after a run its orphans may take to exit (untimed).
ORPHAN_WAIT_S = 2.0


@dataclass(frozen=True)
class Ratio:
    """A ratio of two medians, and the target it is measured against (if any; reported, never enforced)."""

    numerator: str
    denominator: str
    #: "<=" or ">=" with ``target``; None: shown for information.
    op: Optional[str] = None
    target: Optional[float] = None
    #: Shown as "12.3x" (how many times) rather than "0.45".
    times: bool = False

    @property
    def name(self) -> str:
        return f"{self.numerator}/{self.denominator}"

    def text(self, value: float) -> str:
        return f"{value:.1f}x" if self.times else f"{value:.2f}"

    def target_text(self) -> str:
        if self.op is None or self.target is None:
            return "-"
        return f"{self.op} {self.text(self.target).replace('.0x', 'x')}"

    def met(self, value: float) -> Optional[bool]:
        if self.op is None or self.target is None:
            return None
        return value <= self.target if self.op == "<=" else value >= self.target


#: Written in README.md.
RATIOS = (
    Ratio("ours", "bwrap", "<=", 0.7),
    # The target: runc run against our container of the same
    # workload (namespaces, pivot_root, /proc, /dev) ...
    Ratio("runc", "ours", ">=", 8.0, times=True),
    # ... and like for like with what runc's default spec also sets up.
    Ratio("runc", "ours-runc", times=True),
    # Issue 18: the safe defaults at bare speed.
    Ratio("ours-full", "bwrap", "<=", 1.0),
    Ratio("runc", "ours-full", ">=", 6.0, times=True),
    Ratio("ours-full", "ours", times=True),
)
DESCRIPTION = "Start-to-exit latency of /bin/true in a container: libcontainer_py vs bubblewrap vs runc, like for like."
DEFAULT_TMPDIR = "/dev/shm" if os.path.isdir("/dev/shm") else None


class RuntimeFailure(Exception):
    """A runtime could not be set up, could not start the program, or the program failed."""


# ---------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """Median, 10th and 90th percentile of a list of samples, in milliseconds."""

    median_ms: float
    p10_ms: float
    p90_ms: float
    n: int

    @classmethod
    def of(cls, samples_ns: Sequence[int]) -> Summary:
        """Summarise nanosecond samples (at least one)."""
        ms = [s / 1e6 for s in samples_ns]
        median = statistics.median(ms)
        if len(ms) < 2:
            return cls(median, median, median, len(ms))
        deciles = statistics.quantiles(ms, n=10, method="inclusive")
        return cls(median, deciles[0], deciles[-1], len(ms))


def balanced_orders(names: Sequence[str]) -> List[Tuple[str, ...]]:
    """The order the runtimes run in, one entry per iteration, cycled.

    For n >= 3 runtimes, a cycle of n(n-1) orders in which each runtime is
    in each position equally often and, counting the step from one
    iteration to the next (cyclically), directly follows each other runtime
    equally often (n times) and never itself.  The neighbour matters: a
    start right after runc is slower than one right after bwrap, and plain
    rotation would put some runtime behind runc more often than behind the
    others.  The orders are the rows of Williams designs (within an order,
    each runtime directly follows each other one equally often), sequenced
    by an Eulerian circuit so that the joins between orders, too, take
    every ordered pair once.  Fewer than three: every permutation.
    """
    n = len(names)
    if n < 3:
        return list(itertools.permutations(names))
    rows = williams_rows(n)
    rows = rows * (n * (n - 1) // len(rows))
    # A bipartite multigraph: an order is an edge from its first runtime
    # (as a "first" node) to its last (a "last" node); a join is an edge from
    # a "last" node to the "first" node of a different runtime, one per
    # ordered pair.  Every node has as many edges in as out (n - 1), so an
    # Eulerian circuit exists; it alternates orders and joins.
    edges: Dict[Tuple[str, int], List[Tuple[Tuple[str, int], Optional[Tuple[int, ...]]]]] = {}
    for row in rows:
        edges.setdefault(("first", row[0]), []).append((("last", row[-1]), row))
    for a in range(n):
        edges[("last", a)] = [(("first", b), None) for b in range(n) if b != a]
    for out in edges.values():
        out.reverse()  # pop() takes them in the order they were added: deterministic
    stack: List[Tuple[Tuple[str, int], Optional[Tuple[int, ...]]]] = [(("first", rows[0][0]), None)]
    circuit: List[Optional[Tuple[int, ...]]] = []
    while stack:  # Hierholzer
        node = stack[-1][0]
        if edges.get(node):
            stack.append(edges[node].pop())
        else:
            circuit.append(stack.pop()[1])
    cycle = [tuple(names[k] for k in row) for row in reversed(circuit) if row is not None]
    if not is_balanced(cycle, names):  # cannot happen; never run unbalanced without noticing
        raise AssertionError(f"unbalanced orders for {names}: {cycle}")
    return cycle


def williams_rows(n: int) -> List[Tuple[int, ...]]:
    """A Williams design for n treatments: n rows (2n when n is odd), each treatment once per row and
    once per position per square, each ordered pair of treatments adjacent in the rows equally often."""
    seq = [0]
    low, high = 1, n - 1
    while len(seq) < n:
        seq.append(low)
        low += 1
        if len(seq) < n:
            seq.append(high)
            high -= 1
    rows = [tuple((s + i) % n for s in seq) for i in range(n)]
    if n % 2:
        rows += [tuple(reversed(row)) for row in rows]
    return rows


def is_balanced(cycle: Sequence[Tuple[str, ...]], names: Sequence[str]) -> bool:
    """Each order a permutation; each runtime in each position, and directly after each other
    runtime (across iterations too, cyclically), equally often; never after itself."""
    n = len(names)
    if any(sorted(order) != sorted(names) for order in cycle):
        return False
    positions = {(order[p], p) for order in cycle for p in range(n)}
    per_position = [sum(1 for order in cycle if order[p] == name) for name in names for p in range(n)]
    if len(positions) != n * n or len(set(per_position)) != 1:
        return False
    run = [name for order in cycle for name in order]
    follows: Dict[Tuple[str, str], int] = {}
    for i in range(len(run)):
        pair = (run[i - 1], run[i])
        follows[pair] = follows.get(pair, 0) + 1
    return all(a != b for a, b in follows) and len(follows) == n * (n - 1) and len(set(follows.values())) == 1


def rotated(items: Sequence[Any], i: int) -> List[Any]:
    """``items`` rotated left by ``i`` places: iteration i starts with item i mod n."""
    k = i % len(items) if items else 0
    return list(items[k:]) + list(items[:k])


# ---------------------------------------------------------------------------
# Host cleanliness: cgroups and mounts
# ---------------------------------------------------------------------------


def cgroup_hierarchies() -> List[Path]:
    """The mounted cgroup hierarchies (/sys/fs/cgroup/<controller> on a v1 or hybrid host, or the v2 root)."""
    if (CGROUP_ROOT / "cgroup.procs").exists():
        return [CGROUP_ROOT]
    return sorted(p for p in CGROUP_ROOT.iterdir() if p.is_dir() and not p.is_symlink())


def find_cgroups(prefix: str) -> List[Path]:
    """Every cgroup directory, at any depth, whose name starts with ``prefix`` (deepest first)."""
    found: List[Path] = []
    for hierarchy in cgroup_hierarchies():
        for dirpath, dirnames, _files in os.walk(hierarchy):
            for name in list(dirnames):
                if name.startswith(prefix):
                    found.append(Path(dirpath, name))
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def remove_cgroup(path: Path, attempts: int = 50) -> bool:
    """rmdir a cgroup (and its children), killing what is left in it; True when it is gone."""
    for child in sorted((p for p in path.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        remove_cgroup(child, attempts)
    for _ in range(attempts):
        try:
            path.rmdir()
            return True
        except FileNotFoundError:
            return True
        except OSError as exc:
            if exc.errno != errno.EBUSY:
                raise
            _kill_cgroup_members(path)
            time.sleep(0.02)
    return not path.exists()


def _kill_cgroup_members(path: Path) -> None:
    try:
        pids = [int(line) for line in (path / "cgroup.procs").read_text().split()]
    except OSError:
        return
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def unescape_mountinfo(field: str) -> str:
    """Undo the octal escapes (space, tab, newline, backslash) of a /proc/self/mountinfo field."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def reap_orphans(deadline_s: float) -> Tuple[int, bool]:
    """Reap the orphans reparented to us (bwrap leaves its PID 1 behind) until none is left.

    Only called when every child we started has been waited for, so any
    child left is an orphan.  Returns how many were reaped and whether none
    is left (False when one still runs at the deadline).
    """
    reaped = 0
    end = time.monotonic() + deadline_s
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return reaped, True
        if pid:
            reaped += 1
        elif time.monotonic() >= end:
            return reaped, False
        else:
            time.sleep(0.0005)


def mounts_under(directory: Path) -> List[str]:
    """Mount points in this mount namespace at or below ``directory`` (deepest first)."""
    base = str(directory.resolve())
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = unescape_mountinfo(line.split()[4])
            if point == base or point.startswith(base + "/"):
                points.append(point)
    return sorted(points, key=len, reverse=True)


# ---------------------------------------------------------------------------
# The runtimes
# ---------------------------------------------------------------------------


class Runner:
    """One way of starting the program.  Only ``run`` is timed; the rest is set-up and checking."""

    name: str

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        #: The program's (and the runtime's) stderr, kept for error messages.
        self.log: IO[bytes] = open(workdir / f"{self.name}.stderr", "w+b")
        #: What had to be cleaned up after a run (reported at the end).
        self.leftovers: List[str] = []
        #: Orphaned processes of its runs that were reparented to us and reaped.
        self.orphans = 0

    def setup(self) -> None:
        """Once, before the first run."""

    def describe(self) -> str:
        """What a run does, for the header (after ``setup``)."""
        return ""

    def prepare(self) -> None:
        """Before each run, untimed."""
        self.log.seek(0)
        self.log.truncate()

    def run(self) -> int:
        """Start the program, wait for it and return the elapsed nanoseconds."""
        raise NotImplementedError

    def after(self) -> None:
        """After each run (also a failed one), untimed: remove leftovers."""

    def close(self) -> None:
        """At the end, also on error or Ctrl-C: leave nothing behind."""
        self.log.close()

    def stderr_text(self, limit: int = 2000) -> str:
        """The end of what the last run wrote to stderr."""
        self.log.flush()
        self.log.seek(0)
        text = self.log.read().decode(errors="replace").strip()
        return text[-limit:]

    def failure(self, message: str) -> RuntimeFailure:
        """A RuntimeFailure with the run's stderr attached."""
        err = self.stderr_text()
        return RuntimeFailure(f"{message}\n{err}" if err else message)


def ours_config(rootfs: str, off: Mapping[str, Any], namespaces: Optional[lc.Namespaces] = None) -> lc.Config:
    """The benchmark's container as a libcontainer_py Config: bwrap's set-up, plus ``off`` (see BWRAP_LIKE).

    Like ``bwrap --ro-bind ROOTFS /`` the root is read-only.  With ``off``
    empty, every other setting is lc.Config's default (ours-full).
    """
    if namespaces is None:
        namespaces = lc.Namespaces(mount=True, uts=True, ipc=True, pid=True, net=True)
    return lc.Config(
        rootfs=lc.Rootfs.directory(rootfs, readonly=True),
        namespaces=namespaces,
        mounts=lc.Mounts([lc.Mount.proc(), lc.Mount.dev()]),
        process=lc.Process(args=[PROGRAM]),
        **off,
    )


class LibRunner(Runner):
    """libcontainer_py in this process: building the Config plus lc.run, no interpreter start.

    Each run gets a new container id, ``<temp dir name>-<tag>-<n>``; a cgroup
    of the container (lc's default path is ``libcontainer_py/<id>``) is then
    named after the temp dir, and the final cleanup finds it.
    """

    tag: str

    def __init__(self, workdir: Path, id_prefix: str) -> None:
        super().__init__(workdir)
        self.id_prefix = f"{id_prefix}-{self.tag}"
        self.count = 0
        self.container_id = ""
        self.cgroup: Optional[lc.CgroupConfig] = None

    def config(self) -> lc.Config:
        """The Config of a run (built inside the timed region)."""
        raise NotImplementedError

    def setup(self) -> None:
        try:
            cfg = self.config()
        except RuntimeFailure:
            raise
        except Exception as exc:  # ConfigError, or anything from a library that is mid-change
            raise RuntimeFailure(f"cannot build the Config: {type(exc).__name__}: {exc}") from exc
        self.cgroup = cfg.cgroup

    def describe(self) -> str:
        return describe_config(self.config())

    def prepare(self) -> None:
        super().prepare()
        self.count += 1
        self.container_id = f"{self.id_prefix}-{self.count}"

    def run(self) -> int:
        t0 = time.perf_counter_ns()
        try:
            cfg = self.config()
            lc.run(
                config=cfg,
                container_id=self.container_id,
                check=True,
                stdin=lc.DEVNULL,
                stdout=lc.DEVNULL,
                stderr=self.log,
            )
        except Exception as exc:  # any exception means the run failed (the library may be mid-change)
            raise self.failure(f"lc.run failed: {type(exc).__name__}: {exc}") from exc
        return time.perf_counter_ns() - t0

    def after(self) -> None:
        """lc.run removes the container's cgroup; check."""
        if self.cgroup is None:
            return
        path = self.cgroup.resolved_path(self.container_id)
        for hierarchy in cgroup_hierarchies():
            if (hierarchy / path).exists():
                self.leftovers.append(f"cgroup {hierarchy / path}")
                remove_cgroup(hierarchy / path)

    def close(self) -> None:
        try:
            for path in find_cgroups(f"{self.id_prefix}-"):
                self.leftovers.append(f"cgroup {path} at exit")
                remove_cgroup(path)
        finally:
            super().close()


class OursRunner(LibRunner):
    """bwrap's features: namespaces, pivot_root, /proc, /dev; no masked or read-only paths, seccomp or cgroup."""

    name = "ours"
    tag = "ours"

    def __init__(self, workdir: Path, id_prefix: str, rootfs: Path) -> None:
        super().__init__(workdir, id_prefix)
        self.rootfs = str(rootfs)

    def config(self) -> lc.Config:
        return ours_config(self.rootfs, BWRAP_LIKE)

    def describe(self) -> str:
        return "libcontainer_py, bwrap's features: " + super().describe()


class OursFullRunner(OursRunner):
    """The same Config as ours, with lc.Config's defaults for what ours turns off."""

    name = "ours-full"
    tag = "oursfull"

    def config(self) -> lc.Config:
        return ours_config(self.rootfs, {})

    def describe(self) -> str:
        return "libcontainer_py, lc.Config defaults: " + LibRunner.describe(self)


class OursRuncRunner(LibRunner):
    """The features of runc's default spec, read from the config.json that ``runc spec`` writes."""

    name = "ours-runc"
    tag = "oursrunc"

    def __init__(self, workdir: Path, id_prefix: str, runc: str, rootfs: Path) -> None:
        super().__init__(workdir, id_prefix)
        self.runc = runc
        self.rootfs = rootfs
        self.build: Callable[[], lc.Config] = self._not_set_up
        #: What of the spec the library does not do (shown in the header).
        self.omitted: List[str] = []

    @staticmethod
    def _not_set_up() -> lc.Config:
        raise RuntimeFailure("ours-runc is not set up")

    def setup(self) -> None:
        spec = edit_runc_spec(runc_default_spec(self.runc, self.workdir / "ours-runc-spec"), self.rootfs)
        try:
            self.build, self.omitted = config_from_runc_spec(spec)
        except Exception as exc:  # a spec this translation does not understand
            raise RuntimeFailure(f"cannot translate runc's spec: {type(exc).__name__}: {exc}") from exc
        super().setup()

    def config(self) -> lc.Config:
        return self.build()

    def describe(self) -> str:
        text = "libcontainer_py, runc spec's features: " + super().describe()
        return text + (f"; not done: {', '.join(self.omitted)}" if self.omitted else "")


class CommandRunner(Runner):
    """A runtime started as a command; timed from just before Popen to just after wait."""

    executable: str

    def __init__(self, workdir: Path, executable: str) -> None:
        super().__init__(workdir)
        self.executable = executable

    def setup(self) -> None:
        if not os.access(self.executable, os.X_OK):
            raise RuntimeFailure(f"{self.executable}: not found or not executable")

    def argv(self) -> List[str]:
        """The command line of the next run."""
        raise NotImplementedError

    def run(self) -> int:
        argv = self.argv()
        t0 = time.perf_counter_ns()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log)
        try:
            rc = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        elapsed = time.perf_counter_ns() - t0
        if rc != 0:
            raise self.failure(f"{' '.join(argv)} exited with status {rc}")
        return elapsed


class BwrapRunner(CommandRunner):
    """bubblewrap: ``bwrap --unshare-all --ro-bind ROOTFS / --proc /proc --dev /dev /bin/true``."""

    name = "bwrap"

    def __init__(self, workdir: Path, executable: str, rootfs: Path) -> None:
        super().__init__(workdir, executable)
        self._argv = [
            executable,
            "--unshare-all",
            "--ro-bind",
            str(rootfs),
            "/",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            PROGRAM,
        ]

    def argv(self) -> List[str]:
        return self._argv

    def describe(self) -> str:
        shown = ["ROOTFS" if arg == self._argv[3] else arg for arg in self._argv]
        shown[0] = os.path.basename(shown[0])
        return (
            " ".join(shown) + " (also user and cgroup namespaces; as root it keeps every capability; "
            "no_new_privs; no seccomp, no cgroup)"
        )


class RuncRunner(CommandRunner):
    """runc: ``runc --root STATE run --bundle BUNDLE ID`` in the foreground, a new id per run.

    The bundle's config.json comes from ``runc spec``, edited so that the
    process is /bin/true without a terminal, the root is the shared rootfs
    and the namespaces are exactly ours (edit_runc_spec).
    ``linux.cgroupsPath`` is set to ``/<id>`` so that runc's cgroups sit at
    the top of each hierarchy, beside (never inside) the cgroups of the
    host's own processes.
    """

    name = "runc"

    def __init__(self, workdir: Path, executable: str, rootfs: Path, id_prefix: str) -> None:
        super().__init__(workdir, executable)
        self.rootfs = rootfs
        self.id_prefix = f"{id_prefix}-runc"
        self.bundle = workdir / "runc-bundle"
        self.state = workdir / "runc-state"
        self.spec: Dict[str, Any] = {}
        self.container_id = ""
        self.count = 0

    def setup(self) -> None:
        super().setup()
        self.state.mkdir(mode=0o700)
        self.spec = edit_runc_spec(runc_default_spec(self.executable, self.bundle), self.rootfs)

    def describe(self) -> str:
        return (
            f"runc run, config.json of `runc spec`: {describe_runc_spec(self.spec)}; "
            "runc's own cgroup in every hierarchy"
        )

    def prepare(self) -> None:
        super().prepare()
        self.count += 1
        self.container_id = f"{self.id_prefix}-{self.count}"
        self.spec["linux"]["cgroupsPath"] = f"/{self.container_id}"
        (self.bundle / "config.json").write_text(json.dumps(self.spec))

    def argv(self) -> List[str]:
        return [self.executable, "--root", str(self.state), "run", "--bundle", str(self.bundle), self.container_id]

    def after(self) -> None:
        """runc deletes a foreground container when it exits; check, and clean up if not."""
        for cid in sorted(os.listdir(self.state)):
            self.leftovers.append(f"runc state of {cid}")
            self._delete(cid)
        for hierarchy in cgroup_hierarchies():
            path = hierarchy / self.container_id
            if path.exists():
                self.leftovers.append(f"cgroup {path}")
                remove_cgroup(path)

    def close(self) -> None:
        try:
            if self.state.is_dir():
                for cid in self._listed():
                    self.leftovers.append(f"runc container {cid} at exit")
                    self._delete(cid)
            for path in find_cgroups(f"{self.id_prefix}-"):
                self.leftovers.append(f"cgroup {path} at exit")
                remove_cgroup(path)
        finally:
            super().close()

    def _listed(self) -> List[str]:
        """Containers runc knows of, and any state directory it does not."""
        done = subprocess.run(
            [self.executable, "--root", str(self.state), "list", "-q"], capture_output=True, text=True
        )
        return sorted(set(done.stdout.split()) | set(os.listdir(self.state)))

    def _delete(self, cid: str) -> None:
        subprocess.run(
            [self.executable, "--root", str(self.state), "delete", "-f", cid],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        shutil.rmtree(self.state / cid, ignore_errors=True)


# ---------------------------------------------------------------------------
# runc's default spec, and the same features as a libcontainer_py Config
# ---------------------------------------------------------------------------


def runc_default_spec(runc: str, directory: Path) -> Dict[str, Any]:
    """The config.json that ``runc spec`` writes (in ``directory``, which is created)."""
    if not os.access(runc, os.X_OK):
        raise RuntimeFailure(f"{runc}: not found or not executable (runc writes the spec)")
    directory.mkdir()
    done = subprocess.run([runc, "spec"], cwd=directory, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeFailure(f"runc spec failed: {done.stderr.strip()}")
    spec: Dict[str, Any] = json.loads((directory / "config.json").read_text())
    return spec


def edit_runc_spec(spec: Dict[str, Any], rootfs: Path) -> Dict[str, Any]:
    """The benchmark's edits to the config.json that ``runc spec`` wrote.

    The process becomes /bin/true without a terminal, the root the shared
    rootfs (read-only or not as the spec has it), and the namespaces exactly
    OCI_NAMESPACES (a cgroup namespace would be dropped; runc 1.1's spec has
    none).  Nothing else changes.
    """
    spec["process"]["terminal"] = False
    spec["process"]["args"] = [PROGRAM]
    spec["root"] = {"path": str(rootfs.resolve()), "readonly": bool(spec.get("root", {}).get("readonly", False))}
    linux = spec.setdefault("linux", {})
    kept = [ns for ns in linux.get("namespaces", []) if ns.get("type") in OCI_NAMESPACES]
    have = {ns["type"] for ns in kept}
    linux["namespaces"] = kept + [{"type": t} for t in OCI_NAMESPACES if t not in have]
    return spec


#: OCI mount options that are mount flags of lc.Mount (the rest go to ``data``).
_MOUNT_FLAG_OPTIONS = {"ro": "readonly", "nosuid": "nosuid", "nodev": "nodev", "noexec": "noexec"}
_MOUNT_DEFAULT_OPTIONS = ("rw", "suid", "dev", "exec")
#: Keys of config.json that config_from_runc_spec translates (or, for the
#: cgroup and the terminal, deliberately sets); any other is reported as not done.
_SPEC_KEYS = {
    "": ("ociVersion", "process", "root", "hostname", "mounts", "linux"),
    "process": ("terminal", "user", "args", "env", "cwd", "capabilities", "rlimits", "noNewPrivileges"),
    "linux": (
        "resources",
        "cgroupsPath",
        "namespaces",
        "maskedPaths",
        "readonlyPaths",
        "seccomp",
        "sysctl",
    ),
}


def config_from_runc_spec(spec: Mapping[str, Any]) -> Tuple[Callable[[], lc.Config], List[str]]:
    """A builder of the libcontainer_py Config with the features of an OCI config.json, and what it leaves out.

    The spec is turned into plain values once, here; the builder makes the
    Config from them the way a caller would write it (that part is timed,
    as for ours).  What the library cannot do is listed instead of being
    approximated: a ``cgroup`` mount (on a v1 host runc makes a tmpfs with a
    bind of its own cgroup per hierarchy), resources other than device
    rules, unknown keys.  Capabilities are the sets the process really gets
    from runc: an ambient capability also needs to be inheritable, and runc
    ignores the failure to raise one that is not (runc's spec has ambient
    ones without an inheritable set: CapAmb is 0 in its container).  Device
    rules are the spec's followed by runc's own allowed list, which runc
    appends (lc.Devices.default()); they go in a cgroup that carries nothing
    else.  seccomp is used only if the spec has it.
    """
    omitted: List[str] = []
    for section, keys in _SPEC_KEYS.items():
        obj = spec.get(section, {}) if section else spec
        omitted += [f"{section + '.' if section else ''}{k}" for k in obj if k not in keys]
    process = spec["process"]
    linux = spec.get("linux", {})
    root = spec["root"]

    mounts: List[Dict[str, Any]] = []
    for m in spec.get("mounts", []):
        if m["type"] == "cgroup":
            omitted.append(f"the {m['destination']} cgroup mount")
            continue
        options = list(m.get("options", []))
        kwargs: Dict[str, Any] = {"destination": m["destination"], "type": m["type"], "source": m.get("source")}
        if m["type"] == "bind" or "bind" in options or "rbind" in options:
            kwargs.update(type="bind", recursive="rbind" in options)
        kwargs.update({_MOUNT_FLAG_OPTIONS[o]: True for o in options if o in _MOUNT_FLAG_OPTIONS})
        kwargs["options"] = tuple(o for o in options if o in OPTION_FLAGS)
        skip = set(_MOUNT_FLAG_OPTIONS) | set(OPTION_FLAGS) | set(_MOUNT_DEFAULT_OPTIONS) | {"bind", "rbind"}
        kwargs["data"] = ",".join(o for o in options if o not in skip)
        mounts.append(kwargs)

    caps = process.get("capabilities", {})
    cap_sets = {kind: tuple(caps.get(kind, ())) for kind in ("bounding", "effective", "permitted", "inheritable")}
    cap_sets["ambient"] = tuple(
        c for c in caps.get("ambient", ()) if c in cap_sets["permitted"] and c in cap_sets["inheritable"]
    )
    rlimits = [(r["type"], r["soft"], r["hard"]) for r in process.get("rlimits", [])]
    env = dict(item.split("=", 1) for item in process.get("env", []))
    user = process.get("user", {})
    namespaces = {LC_NAMESPACE[ns["type"]]: ns.get("path", True) for ns in linux.get("namespaces", [])}

    resources = dict(linux.get("resources", {}))
    rules = [
        {
            "allow": r["allow"],
            "type": r.get("type", "a"),
            "major": r.get("major"),
            "minor": r.get("minor"),
            "access": r.get("access", "rwm"),
        }
        for r in resources.pop("devices", [])
    ]
    omitted += [f"linux.resources.{k}" for k in resources]
    seccomp = Seccomp.from_oci(linux["seccomp"]) if "seccomp" in linux else None
    root_path, root_readonly = root["path"], bool(root.get("readonly", False))
    hostname, sysctl = spec.get("hostname"), dict(linux.get("sysctl", {}))
    masked, readonly = tuple(linux.get("maskedPaths", ())), tuple(linux.get("readonlyPaths", ()))

    def build() -> lc.Config:
        return lc.Config(
            rootfs=lc.Rootfs.directory(root_path, readonly=root_readonly),
            hostname=hostname,
            namespaces=lc.Namespaces(**namespaces),
            mounts=lc.Mounts([lc.Mount(**m) for m in mounts]),
            process=lc.Process(
                args=process["args"],
                env=env,
                cwd=process.get("cwd", "/"),
                user=lc.User(user.get("uid", 0), user.get("gid", 0), user.get("additionalGids", ())),
                capabilities=lc.Capabilities(**cap_sets),
                no_new_privileges=bool(process.get("noNewPrivileges", False)),
                rlimits=[lc.Rlimit(kind, soft, hard) for kind, soft, hard in rlimits],
            ),
            masked_paths=masked,
            readonly_paths=readonly,
            sysctl=sysctl,
            seccomp=seccomp,
            # runc makes a cgroup for every container and applies its device rules in it.
            cgroup=lc.CgroupConfig(
                devices=lc.Devices([lc.DeviceRule(**r) for r in rules] + list(lc.Devices.default())),
                **DEVICE_CGROUP,
            ),
        )

    return build, omitted


# ---------------------------------------------------------------------------
# Describing what a row does (the header and the JSON)
# ---------------------------------------------------------------------------


def describe_features(
    root_readonly: bool,
    mounts: Sequence[str],
    masked: int,
    readonly: int,
    caps: int,
    no_new_privs: bool,
    rlimits: Sequence[str],
    seccomp: str,
    cgroup: str,
) -> str:
    """One line, in the same words for every row."""
    parts = [
        ("read-only" if root_readonly else "read-write") + " root",
        " ".join(mounts) if mounts else "no mounts",
        f"{masked} masked + {readonly} read-only paths" if masked or readonly else "no masked or read-only paths",
        f"{caps} caps" + (" + no_new_privs" if no_new_privs else ""),
    ]
    if rlimits:
        parts.append("rlimit " + " ".join(rlimits))
    return "; ".join(parts + [seccomp, cgroup])


def describe_config(cfg: lc.Config) -> str:
    """What a libcontainer_py Config sets up, beyond namespaces, pivot_root and the program."""
    if cfg.seccomp is None:
        seccomp = "no seccomp"
    else:
        names = sum(len(rule.syscalls) for rule in cfg.seccomp.rules)
        docker = cfg.seccomp == Seccomp.default(cfg.process.capabilities.bounding)
        seccomp = f"seccomp: {'Docker' if docker else 'a'} profile, {names} syscall names"
    if cfg.cgroup is None:
        cgroup = "no cgroup"
    else:
        kinds = [type(r).__name__.lower() for r in cfg.cgroup.resources()]
        every = getattr(cfg.cgroup, "accounting", True)
        cgroup = "cgroup: " + (", ".join(kinds) or "no limits") + (" (every hierarchy)" if every else "")
    return describe_features(
        root_readonly=cfg.rootfs is not None and cfg.rootfs.readonly,
        mounts=[m.destination for m in cfg.mounts],
        masked=len(cfg.masked_paths),
        readonly=len(cfg.readonly_paths),
        caps=len(cfg.process.capabilities.bounding),
        no_new_privs=cfg.process.no_new_privileges,
        rlimits=[r.type for r in cfg.process.rlimits],
        seccomp=seccomp,
        cgroup=cgroup,
    )


def describe_runc_spec(spec: Mapping[str, Any]) -> str:
    """The same line for an OCI config.json."""
    linux = spec.get("linux", {})
    process = spec["process"]
    seccomp = linux.get("seccomp")
    devices = linux.get("resources", {}).get("devices")
    return describe_features(
        root_readonly=bool(spec["root"].get("readonly")),
        mounts=[m["destination"] for m in spec.get("mounts", [])],
        masked=len(linux.get("maskedPaths", [])),
        readonly=len(linux.get("readonlyPaths", [])),
        caps=len(process.get("capabilities", {}).get("bounding", [])),
        no_new_privs=bool(process.get("noNewPrivileges")),
        rlimits=[r["type"][len("RLIMIT_") :].lower() for r in process.get("rlimits", [])],
        seccomp=(
            f"seccomp: {sum(len(r.get('names', [])) for r in seccomp.get('syscalls', []))} syscall names"
            if seccomp
            else "no seccomp section"
        ),
        cgroup="cgroup: devices" if devices else "cgroup",
    )


# ---------------------------------------------------------------------------
# The workspace: a temp dir that is always removed
# ---------------------------------------------------------------------------


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Ignore SIGINT/SIGTERM for the duration (cleanup must not be cut short)."""
    old = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def closing_all(runners: Sequence[Runner]) -> Iterator[None]:
    """Close every runner at the end (each one even if another fails), without being interrupted."""
    try:
        yield
    finally:
        with signals_deferred(), contextlib.ExitStack() as stack:
            stack.callback(reap_orphans, ORPHAN_WAIT_S)  # last: callbacks run in reverse
            for r in runners:
                stack.callback(r.close)


@contextlib.contextmanager
def workspace(parent: Optional[str], problems: List[str]) -> Iterator[Path]:
    """A temp dir, removed at the end whatever happens; what cannot be removed goes to ``problems``."""
    path = Path(tempfile.mkdtemp(prefix="lcbench-", dir=parent))
    try:
        yield path
    finally:
        with signals_deferred():
            remove_workspace(path, problems)


def remove_workspace(path: Path, problems: List[str]) -> None:
    """Unmount anything below ``path`` (there should be nothing), then delete it.

    Also the last check that no cgroup named after this run (runc's are
    ``<temp dir name>-<n>``) is left anywhere under /sys/fs/cgroup.
    """
    for cgroup in find_cgroups(f"{path.name}-"):
        if not remove_cgroup(cgroup):
            problems.append(f"cgroup {cgroup} could not be removed")
    for point in mounts_under(path):
        problems.append(f"mount {point}")
        subprocess.run(["umount", "-l", point], stderr=subprocess.DEVNULL)
    remaining = mounts_under(path)
    if remaining:
        problems.append(f"not removing {path}: still mounted: {', '.join(remaining)}")
        return
    shutil.rmtree(path, ignore_errors=True)
    if path.exists():
        problems.append(f"could not remove {path}")


def make_rootfs(path: Path) -> Path:
    """The busybox rootfs of the tests (tests/support/busybox.py)."""
    sys.path.insert(0, str(REPO / "tests"))
    try:
        from support.busybox import make_rootfs as build  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(REPO / "tests"))
    build(str(path))
    return path


def create_runners(names: Sequence[str], args: argparse.Namespace, workdir: Path, rootfs: Path) -> List[Runner]:
    """The runners asked for, in the canonical order."""
    id_prefix = workdir.name
    factories: Dict[str, Callable[[], Runner]] = {
        "ours": lambda: OursRunner(workdir, id_prefix, rootfs),
        "bwrap": lambda: BwrapRunner(workdir, args.bwrap, rootfs),
        "ours-runc": lambda: OursRuncRunner(workdir, id_prefix, args.runc, rootfs),
        "runc": lambda: RuncRunner(workdir, args.runc, rootfs, id_prefix),
        "ours-full": lambda: OursFullRunner(workdir, id_prefix, rootfs),
    }
    return [factories[name]() for name in RUNTIMES if name in names]


# ---------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------


@dataclass
class Results:
    """Samples per runtime (warm-up excluded) and the runtimes that failed."""

    samples_ns: Dict[str, List[int]] = field(default_factory=dict)
    failures: Dict[str, str] = field(default_factory=dict)


def measure(runner: Runner) -> int:
    """One timed run with its untimed preparation, leftover check and reaping of orphans.

    Waiting for the orphans keeps a run's stragglers (bwrap's PID 1 exits
    after bwrap itself) out of the next runtime's measurement.
    """
    runner.prepare()
    try:
        return runner.run()
    finally:
        runner.after()
        reaped, all_gone = reap_orphans(ORPHAN_WAIT_S)
        runner.orphans += reaped
        if not all_gone:
            runner.leftovers.append(f"a process still running {ORPHAN_WAIT_S:g} s after the run")


def set_up(runners: Sequence[Runner], results: Results) -> None:
    """Set every runner up once; one that cannot be is recorded as failed (and not run)."""
    for r in runners:
        try:
            r.setup()
        except (RuntimeFailure, OSError) as exc:
            results.failures[r.name] = f"set-up failed: {exc}"


def benchmark(runners: Sequence[Runner], iterations: int, warmup: int, results: Results) -> Results:
    """Run every runner once per iteration in balanced orders; drop a runner at its first failure."""
    results.samples_ns.update({r.name: [] for r in runners})
    by_name = {r.name: r for r in runners}
    orders = balanced_orders(list(by_name))
    total = warmup + iterations
    for i in range(total):
        progress(f"iteration {i + 1}/{total}" + (" (warm-up)" if i < warmup else ""))
        # The cycle starts with the first timed iteration.
        for r in (by_name[name] for name in orders[(i - warmup) % len(orders)]):
            if r.name in results.failures:
                continue
            try:
                elapsed = measure(r)
            except RuntimeFailure as exc:
                results.failures[r.name] = str(exc)
                continue
            if i >= warmup:
                results.samples_ns[r.name].append(elapsed)
    progress("")
    return results


# ---------------------------------------------------------------------------
# --profile: where our time goes
# ---------------------------------------------------------------------------

Probe = Callable[[], Dict[str, int]]


def timed(fn: Callable[[], Any]) -> int:
    """Nanoseconds taken by ``fn()``."""
    t0 = time.perf_counter_ns()
    fn()
    return time.perf_counter_ns() - t0


def profile_probes(rootfs: Path, log: IO[bytes], id_prefix: str) -> List[Probe]:
    """Measurements that split up (and put in context) what ``ours`` costs, and what ours-full adds."""
    root = str(rootfs)
    cfg = ours_config(root, BWRAP_LIKE)
    no_net = ours_config(root, BWRAP_LIKE, lc.Namespaces(mount=True, uts=True, ipc=True, pid=True))
    bare = lc.Config(
        rootfs=None,
        namespaces=lc.Namespaces(),
        mounts=lc.Mounts([]),
        devices=(),
        process=lc.Process(args=[PROGRAM]),
        **BWRAP_LIKE,
    )

    def plus(**on: Any) -> lc.Config:
        """ours with some of what it turns off back on; an empty value means lc.Config's default."""
        off = {k: v for k, v in BWRAP_LIKE.items() if k not in on}
        return ours_config(root, {**off, **{k: v for k, v in on.items() if v is not None}})

    paths = plus(masked_paths=None, readonly_paths=None)
    seccomp = plus(seccomp=None)
    # The library's default path, libcontainer_py/<container id>, with a new id per run, as in the main run.
    cgroup = plus(cgroup=lc.CgroupConfig(devices=lc.Devices.default(), **DEVICE_CGROUP))
    cgroup_ids = (f"{id_prefix}-profile-{n}" for n in itertools.count(1))

    stdio: Dict[str, Any] = {"stdin": lc.DEVNULL, "stdout": lc.DEVNULL, "stderr": log}
    # One id for all: hostnames as long as in the main run's.
    container_id = f"{id_prefix}-profile"

    def run(config: lc.Config, cid: str = container_id) -> None:
        lc.run(config=config, container_id=cid, check=True, **stdio)

    def run_new_id(config: lc.Config) -> int:
        cid = next(cgroup_ids)
        return timed(lambda: run(config, cid))

    def start_then_wait() -> Dict[str, int]:
        t0 = time.perf_counter_ns()
        proc = lc.ContainerProcess(cfg, container_id=container_id, **stdio)
        t1 = time.perf_counter_ns()
        rc = proc.wait()
        t2 = time.perf_counter_ns()
        proc.close()
        if rc != 0:
            raise RuntimeFailure(f"{PROGRAM} exited with status {rc} in ContainerProcess")
        return {"  ContainerProcess(cfg): clone .. execve": t1 - t0, "  .wait(): execve .. exit + reap": t2 - t1}

    def warm_run() -> Dict[str, int]:
        run(cfg)
        return {"lc.run(config=cfg) right after another one": timed(lambda: run(cfg))}

    return [
        lambda: {"Config(...) construction + validation": timed(lambda: ours_config(root, BWRAP_LIKE))},
        lambda: {"build_plan(cfg, 'x')": timed(lambda: build_plan(cfg, "x"))},
        lambda: {"lc.run(config=cfg), cfg prebuilt": timed(lambda: run(cfg))},
        start_then_wait,
        warm_run,
        lambda: {"variant: + lc's masked and read-only paths": timed(lambda: run(paths))},
        lambda: {"variant: + lc's seccomp (Docker's profile)": timed(lambda: run(seccomp))},
        lambda: {"variant: + a cgroup with the default device rules": run_new_id(cgroup)},
        lambda: {"variant: lc.run without the net namespace": timed(lambda: run(no_net))},
        lambda: {"variant: lc.run, no namespaces, rootfs=None": timed(lambda: run(bare))},
        lambda: {
            "reference: subprocess.Popen([true]).wait()": timed(lambda: subprocess.Popen([PROGRAM], **stdio).wait())
        },
    ]


def fork_exit() -> None:
    """A plain fork of this interpreter whose child exits at once."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)


def run_profile(rootfs: Path, log: IO[bytes], iterations: int, warmup: int, id_prefix: str) -> Dict[str, List[int]]:
    """Run the profile probes round-robin (plain rotation), then the fork reference in a loop of its own.

    The fork gets its own loop because the copy-on-write faults it leaves
    behind would be charged to whichever probe ran next (they make building a
    Config several times slower).  Samples per label, in probe order.
    """
    probes = profile_probes(rootfs, log, id_prefix)
    per_probe: List[Dict[str, List[int]]] = [{} for _ in probes]
    total = warmup + iterations
    for i in range(total):
        progress(f"profile {i + 1}/{total}")
        for k in rotated(range(len(probes)), i):
            for label, ns in probes[k]().items():
                if i >= warmup:
                    per_probe[k].setdefault(label, []).append(ns)
    progress("")
    samples = {label: values for probe_samples in per_probe for label, values in probe_samples.items()}
    fork_samples = [timed(fork_exit) for _ in range(warmup + iterations)]
    samples["reference: os.fork() + _exit + waitpid, own loop"] = fork_samples[warmup:]
    return samples


def profile_or_failure(rootfs: Path, workdir: Path, args: argparse.Namespace, results: Results) -> Dict[str, List[int]]:
    """The --profile samples, or none with the failure recorded under "profile"."""
    with open(workdir / "profile.stderr", "w+b") as log:
        try:
            return run_profile(rootfs, log, args.iterations, args.warmup, workdir.name)
        except Exception as exc:  # a failing probe ends the profile, not the report
            log.seek(0)
            err = log.read().decode(errors="replace").strip()
            results.failures["profile"] = f"{type(exc).__name__}: {exc}\n{err}".strip()
            return {}


def rss_mib() -> float:
    """This process's resident set size (a full fork copies its page tables)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# ---------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------


def command_version(argv: Sequence[str]) -> str:
    """First line of a ``--version`` output, or why there is none."""
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unavailable ({exc.__class__.__name__})"
    return out.splitlines()[0].strip() if out else "unknown"


def host_info(args: argparse.Namespace) -> Dict[str, Any]:
    """What the numbers depend on."""
    return {
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "libcontainer_py": lc.__version__,
        "runc": command_version([args.runc, "--version"]),
        "bwrap": command_version([args.bwrap, "--version"]),
    }


def ratios(summaries: Dict[str, Summary]) -> Dict[str, float]:
    """The ratios of RATIOS, of medians, where both runtimes have samples."""
    return {
        r.name: summaries[r.numerator].median_ms / summaries[r.denominator].median_ms
        for r in RATIOS
        if r.numerator in summaries and r.denominator in summaries
    }


def format_table(rows: Sequence[Sequence[str]], align: str) -> str:
    """Rows of text as columns; ``align`` has one "<" or ">" per column."""
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    return "\n".join("  ".join(f"{cell:{a}{w}}" for cell, a, w in zip(row, align, widths)).rstrip() for row in rows)


def summary_table(summaries: Dict[str, Summary]) -> str:
    """The per-runtime table: median, p10, p90 in milliseconds."""
    rows = [["runtime", "median ms", "p10 ms", "p90 ms", "n"]]
    for name, s in summaries.items():
        rows.append([name, f"{s.median_ms:.3f}", f"{s.p10_ms:.3f}", f"{s.p90_ms:.3f}", str(s.n)])
    return format_table(rows, "<>>>>")


def ratio_table(values: Dict[str, float]) -> str:
    """The ratios of medians with their targets (reported, never enforced)."""
    rows = [["ratio of medians", "value", "target", ""]]
    for r in RATIOS:
        if r.name in values:
            met = r.met(values[r.name])
            verdict = "" if met is None else "met" if met else "missed"
            rows.append([r.name, r.text(values[r.name]), r.target_text(), verdict])
    return format_table(rows, "<>><")


def profile_table(samples: Dict[str, List[int]]) -> str:
    """The --profile table."""
    rows = [["ours, split up, and variants (same rootfs and stdio)", "median ms", "p10 ms", "p90 ms"]]
    for label, values in samples.items():
        s = Summary.of(values)
        rows.append([label, f"{s.median_ms:.3f}", f"{s.p10_ms:.3f}", f"{s.p90_ms:.3f}"])
    return format_table(rows, "<>>>")


def header(host: Dict[str, Any], args: argparse.Namespace, workdir: Path, rows: Dict[str, str]) -> str:
    """What was measured (what each row runs), where and how."""
    width = max((len(name) for name in rows), default=0)
    orders = balanced_orders(list(rows))
    balance = "each runtime in each position"
    if len(rows) >= 3:
        balance += " and directly after each other"
    balance += f" equally often, exactly so every {len(orders)} iterations"
    return "\n".join(
        [
            f"start-to-exit of {PROGRAM} in a busybox rootfs; every row: new mount, uts, ipc, pid, net namespaces; "
            "pivot_root; /proc; /dev",
            *(f"  {name:<{width}}  {text}" for name, text in rows.items()),
            f"host: Linux {host['kernel']}, {host['cpus']} CPUs, Python {host['python']}, "
            f"libcontainer_py {host['libcontainer_py']}, {host['runc']}, {host['bwrap']}",
            f"{args.iterations} iterations after {args.warmup} warm-up, round-robin in balanced orders "
            f"({balance}); temp dir in {workdir.parent}",
        ]
    )


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def positive(value: str) -> int:
    """argparse type: an integer >= 1."""
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def non_negative(value: str) -> int:
    """argparse type: an integer >= 0."""
    n = int(value)
    if n < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {n}")
    return n


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(description=DESCRIPTION, epilog="See benchmarks/README.md.")
    p.add_argument("--iterations", type=positive, default=200, help="timed runs per runtime (default 200)")
    p.add_argument("--warmup", type=non_negative, default=10, help="untimed rounds first (default 10)")
    add_only_option(p, RUNTIMES, f"run only these runtimes ({', '.join(RUNTIMES)}); may be repeated")
    p.add_argument(
        "--threads-rounds", type=non_negative, default=6, help="rounds of the threads row (default 6; 0: none)"
    )
    p.add_argument(
        "--threads-per-round", type=positive, default=40, help="containers per round of the threads row (default 40)"
    )
    p.add_argument("--profile", action="store_true", help="also show where ours spends its time")
    p.add_argument(
        "--cold-iterations",
        type=non_negative,
        default=20,
        help="fresh interpreters per cold-start row (default 20; 0: no cold start)",
    )
    p.add_argument("--json", metavar="FILE", help="write raw samples and the summary as JSON")
    p.add_argument("--runc", default=shutil.which("runc") or "/usr/sbin/runc", help="runc binary")
    p.add_argument("--bwrap", default=shutil.which("bwrap") or "/usr/bin/bwrap", help="bwrap binary")
    p.add_argument(
        "--tmpdir",
        default=DEFAULT_TMPDIR,
        help="where the temp dir goes (default /dev/shm: runc wants its state on tmpfs)",
    )
    return p.parse_args(argv)


def execute(args: argparse.Namespace, problems: List[str]) -> Dict[str, Any]:
    """Build the rootfs, run the benchmark (and the profile), clean up; returns the report."""
    names = args.only or list(RUNTIMES)
    host = host_info(args)
    results = Results()
    with workspace(args.tmpdir, problems) as workdir:
        rootfs = make_rootfs(workdir / "rootfs")
        runners = create_runners(names, args, workdir, rootfs)
        with closing_all(runners):
            set_up(runners, results)
            rows = {r.name: describe_or_failure(r, results) for r in runners}
            print(header(host, args, workdir, rows), flush=True)
            benchmark(runners, args.iterations, args.warmup, results)
            threads = threads_or_failure(rootfs, workdir.name, names, args, results)
            profile: Dict[str, List[int]] = {}
            if args.profile:
                profile = profile_or_failure(rootfs, workdir, args, results)
        cold = cold_start_or_failure(args, results)
        leftovers = {r.name: r.leftovers for r in runners if r.leftovers}
        orphans = {r.name: r.orphans for r in runners if r.orphans}
    summaries = {n: Summary.of(s) for n, s in results.samples_ns.items() if s}
    return {
        "workload": {"program": PROGRAM, "namespaces": list(OCI_NAMESPACES), "mounts": ["/proc", "/dev"]},
        "rows": rows,
        "host": host,
        "settings": {"iterations": args.iterations, "warmup": args.warmup, "runtimes": names, "tmpdir": args.tmpdir},
        "summary_ms": {n: asdict(s) for n, s in summaries.items()},
        "ratios": ratios(summaries),
        "targets": {f"{r.name} {r.op}": r.target for r in RATIOS if r.op is not None},
        "samples_ns": results.samples_ns,
        "failures": results.failures,
        "leftovers_cleaned": leftovers,
        "orphans_reaped": orphans,
        "profile": {"rss_mib": rss_mib(), "samples_ns": profile} if profile else None,
        "threads": threads,
        "cold_start": {"samples_ns": cold, "ratio": cold_start_ratio(cold)} if cold else None,
    }


def threads_or_failure(
    rootfs: Path, id_prefix: str, names: Sequence[str], args: argparse.Namespace, results: Results
) -> Optional[Dict[str, Any]]:
    """The threads row (_threads_row.py) with ours-full's workload, when ours-full runs."""
    if "ours-full" not in names or args.threads_rounds == 0:
        return None
    counter = itertools.count()

    def run_one() -> None:
        lc.run(
            config=ours_config(str(rootfs), {}),
            container_id=f"{id_prefix}-threads-{os.getpid()}-{next(counter)}",  # forked workers too
            check=True,
            stdin=lc.DEVNULL,
            stdout=lc.DEVNULL,
            stderr=lc.DEVNULL,
        )

    progress("threads: one thread, two threads, two processes, alternating")
    try:
        result = _threads_row.measure(run_one, args.threads_rounds, args.threads_per_round, processes=True)
    except Exception as exc:  # reported with the other failures
        results.failures["threads"] = f"{type(exc).__name__}: {exc}"
        return None
    if "bwrap" in names:
        # The same from separate processes (no GIL): what the kernel's own
        # work for a container (namespaces made and torn down, mounts) lets
        # two threads gain on this machine.
        argv = BwrapRunner(Path(rootfs).parent, args.bwrap, rootfs).argv()

        def run_bwrap() -> None:
            subprocess.run(argv, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)

        progress("threads: bwrap, one thread, then two")
        try:
            result["bwrap"] = _threads_row.measure(run_bwrap, args.threads_rounds, args.threads_per_round)
        except Exception as exc:  # reported with the other failures
            results.failures["threads (bwrap)"] = f"{type(exc).__name__}: {exc}"
        finally:
            reap_orphans(ORPHAN_WAIT_S)  # bwrap leaves its PID 1 to us
    return result


def cold_start_or_failure(args: argparse.Namespace, results: Results) -> Dict[str, List[int]]:
    """The cold-start samples (_coldstart.py), or none with the failure recorded under "cold start"."""
    if not args.cold_iterations:
        return {}
    try:
        return measure_cold_start(args.cold_iterations)
    except Exception as exc:  # a failing cold start ends its rows, not the report
        results.failures["cold start"] = f"{type(exc).__name__}: {exc}"
        return {}


def describe_or_failure(runner: Runner, results: Results) -> str:
    """The runner's description for the header, or that it could not be set up."""
    if runner.name in results.failures:
        return "(set-up failed, see below)"
    try:
        return runner.describe()
    except Exception as exc:  # a description must never stop the benchmark
        return f"(cannot describe: {type(exc).__name__}: {exc})"


def print_report(report: Dict[str, Any], problems: List[str]) -> None:
    """The tables, the failures and what had to be cleaned up."""
    summaries = {n: Summary(**s) for n, s in report["summary_ms"].items()}
    if summaries:
        print()
        print(summary_table(summaries))
    if report["ratios"]:
        print()
        print(ratio_table(report["ratios"]))
    if report["threads"]:
        print()
        print(_threads_row.table(report["threads"]))
    if report["profile"]:
        print()
        print(profile_table(report["profile"]["samples_ns"]))
        print(f"(this process's RSS: {report['profile']['rss_mib']:.1f} MiB)")
    if report["cold_start"]:
        print()
        print(cold_start_table(report["cold_start"]["samples_ns"]))
    orphans = [
        f"{name}: {n} orphaned process(es) of its runs reaped (untimed)" for name, n in report["orphans_reaped"].items()
    ]
    print_problems(report["failures"], report["leftovers_cleaned"], orphans, problems)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark; 0, 1 when a runtime failed or left what cannot be removed, 130 on Ctrl-C."""
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("bench_start.py must run as root (runc and the namespaces need it)", file=sys.stderr)
        return 1
    return run_reported(args, execute, print_report)


if __name__ == "__main__":
    sys.exit(main())
