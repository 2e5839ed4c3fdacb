#!/usr/bin/env python3
"""Images: importing one and running it first, and what an overlay root adds to every container start.

Two measurements in one run, both with the container of bench_start.py's
``ours`` row (new mount, uts, ipc, pid and net namespaces, pivot_root, /proc,
/dev; no masked or read-only paths, no seccomp, no cgroup) running
``/bin/true``:

1. Import and first run.  A 2-layer OCI archive is built once (untimed): a
   busybox root, and a layer that changes and deletes a few files.  Each
   round makes a fresh ImageStore and times ``import_archive``, then the
   first ``lc.run`` on ``store.rootfs(ref)``, then a second
   ``import_archive`` of the same archive into the same store (nothing is
   unpacked: the script checks that).
2. Start cost of the root.  ``lc.run`` with ``lc.Rootfs.directory`` of the
   busybox tree, ``lc.Rootfs.overlay`` of the image's layers with a
   throwaway upper, and the same overlay with a persistent upper and work
   directory (one pair, emptied between runs, untimed), alternating in
   balanced orders as in bench_start.py.  Medians, p10 and p90, and the
   ratios overlay/directory (no targets: reported only).

Run as root, from the repository root; see benchmarks/README.md.

    python3 benchmarks/bench_images.py
    python3 benchmarks/bench_images.py --only overlay,directory --iterations 60 --json /tmp/images.json

The exit status is 1 when something fails to run (or leaves something behind
that cannot be removed), 130 on Ctrl-C or SIGTERM, 0 otherwise.

bench_start.py, beside this file, is imported as a module for its helpers
(running this file as a script puts this directory first on sys.path).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Dict, List, Optional, Sequence

import attrs
import bench_start as bs
from _common import add_only_option, print_problems, progress, run_reported

import libcontainer_py as lc
from libcontainer_py.images import Image, ImageStore

#: Part 1's rows, in the order they are reported.
IMPORT_ROWS = ("import", "first run", "import again")
#: Part 2's rows.
ROOTFS_ROWS = ("directory", "overlay", "overlay-upper")
#: What --only accepts: "import" is all of part 1.
PARTS = ("import", *ROOTFS_ROWS)
#: The ratios of part 2's medians.  No target: the issue sets none.
RATIOS = (
    bs.Ratio("overlay", "directory"),
    bs.Ratio("overlay-upper", "directory"),
    bs.Ratio("overlay-upper", "overlay"),
)
IMAGE_REF = "lcbench:1"
COMPRESSIONS = {"gzip": "gzip", "zstd": "zstd", "none": None}
#: Layer 2, on top of the busybox root: changed, new and deleted files.
LAYER2_FILES = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\nbench:x:1000:1000::/:/bin/sh\n",  # changed
    "etc/motd": "layer 2\n",  # new
    "etc/.wh.group": "",  # /etc/group deleted
    "bin/.wh.vi": "",  # two applet links deleted
    "bin/.wh.wget": "",
    "root/.wh..wh..opq": "",  # /root made opaque
    "root/.profile": "PS1='# '\n",
}
DESCRIPTION = "Image import and first run, and the start cost of an overlay root vs a directory root."


# ---------------------------------------------------------------------------
# The container, the image
# ---------------------------------------------------------------------------


def container_config(rootfs: lc.Rootfs) -> lc.Config:
    """bench_start.py's ``ours`` container on ``rootfs`` (checked against bs.ours_config by check_like_ours)."""
    return lc.Config(
        rootfs=rootfs,
        namespaces=lc.Namespaces(mount=True, uts=True, ipc=True, pid=True, net=True),
        mounts=lc.Mounts([lc.Mount.proc(), lc.Mount.dev()]),
        process=lc.Process(args=[bs.PROGRAM]),
        **bs.BWRAP_LIKE,
    )


def check_like_ours(rootfs_dir: Path) -> None:
    """Fail if container_config no longer builds bench_start's ``ours`` apart from the root."""
    ours = bs.ours_config(str(rootfs_dir), bs.BWRAP_LIKE)
    if attrs.evolve(container_config(lc.Rootfs.directory(str(rootfs_dir))), rootfs=ours.rootfs) != ours:
        raise bs.RuntimeFailure("container_config() differs from bench_start.ours_config() in more than the root")


def support_images() -> ModuleType:
    """tests/support/images.py: the archive builders of the tests."""
    sys.path.insert(0, str(bs.REPO / "tests"))
    try:
        from support import images  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(bs.REPO / "tests"))
    return images


@dataclass(frozen=True)
class Archive:
    """The image archive that every import reads."""

    path: Path
    size: int
    #: Uncompressed size of each layer tar, base first.
    layer_sizes: List[int]
    compression: str


def build_archive(rootfs_dir: Path, workdir: Path, compression: str) -> Archive:
    """An OCI archive (oci-archive, as skopeo writes it) of two layers: ``rootfs_dir``, then LAYER2_FILES."""
    images = support_images()
    layer2 = workdir / "layer2"
    for name, text in LAYER2_FILES.items():
        (layer2 / name).parent.mkdir(parents=True, exist_ok=True)
        (layer2 / name).write_text(text)
    layers = [images.layer_from_dir(str(rootfs_dir)), images.layer_from_dir(str(layer2))]
    layout = workdir / "layout"
    try:
        images.write_oci_layout(
            str(layout),
            layers,
            config={"Cmd": [bs.PROGRAM]},
            ref_name=IMAGE_REF,
            compression=COMPRESSIONS[compression],
        )
    except ImportError as exc:  # zstd without the zstandard package
        raise bs.RuntimeFailure(f"cannot compress with {compression}: {exc}") from exc
    archive = Path(images.tar_dir(str(layout), str(workdir / "image.oci.tar")))
    shutil.rmtree(layout)
    shutil.rmtree(layer2)
    return Archive(archive, archive.stat().st_size, [len(layer) for layer in layers], compression)


# ---------------------------------------------------------------------------
# Part 1: import, first run, import again
# ---------------------------------------------------------------------------


@dataclass
class ImportResults:
    samples_ns: Dict[str, List[int]] = field(default_factory=lambda: {row: [] for row in IMPORT_ROWS})
    #: What had to be cleaned up, or looked wrong, after a round.
    notes: List[str] = field(default_factory=list)


def import_round(archive: Archive, workdir: Path, n: int, log: Any, results: ImportResults, keep: bool) -> None:
    """One round in a fresh store: three timed steps, then (untimed) remove + gc and delete the store."""
    root = workdir / f"store-{n}"
    stdio: Dict[str, Any] = {"stdin": lc.DEVNULL, "stdout": lc.DEVNULL, "stderr": log}
    try:
        store = ImageStore(str(root), progress=False)  # makes the store's directories: not timed

        t0 = time.perf_counter_ns()
        image = store.import_archive(str(archive.path))
        t1 = time.perf_counter_ns()
        log.seek(0)
        log.truncate()
        try:
            lc.run(
                config=container_config(store.rootfs(IMAGE_REF)),
                container_id=f"{workdir.name}-first-{n}",
                check=True,
                **stdio,
            )
        except Exception as exc:
            raise failure(log, f"first run: {type(exc).__name__}: {exc}") from exc
        t2 = time.perf_counter_ns()
        inodes = layer_inodes(store, image)
        t3 = time.perf_counter_ns()
        again = store.import_archive(str(archive.path))
        t4 = time.perf_counter_ns()

        if again != image:
            raise bs.RuntimeFailure(f"the second import gave another image: {again} != {image}")
        if layer_inodes(store, image) != inodes:
            raise bs.RuntimeFailure("the second import unpacked the layers again")
        if keep:
            for row, ns in zip(IMPORT_ROWS, (t1 - t0, t2 - t1, t4 - t3)):
                results.samples_ns[row].append(ns)
        store.remove(image.digest)
        removed = store.gc()
        if sorted(removed) != sorted(set(image.layers)):
            results.notes.append(f"round {n}: gc removed {removed}, expected {list(image.layers)}")
    finally:
        _reaped, all_gone = bs.reap_orphans(bs.ORPHAN_WAIT_S)
        if not all_gone:
            results.notes.append(f"round {n}: a process still running {bs.ORPHAN_WAIT_S:g} s after the run")
        shutil.rmtree(root, ignore_errors=True)


def layer_inodes(store: ImageStore, image: Image) -> List[int]:
    """The inode of each layer directory: unchanged when nothing was unpacked again."""
    return [os.stat(store.layer_path(d)).st_ino for d in image.layers]


def failure(log: Any, message: str) -> bs.RuntimeFailure:
    """A RuntimeFailure with the end of the run's stderr."""
    log.flush()
    log.seek(0)
    err = log.read().decode(errors="replace").strip()[-2000:]
    return bs.RuntimeFailure(f"{message}\n{err}" if err else message)


def run_imports(archive: Archive, workdir: Path, args: argparse.Namespace, failures: Dict[str, str]) -> ImportResults:
    """Part 1: ``--import-warmup`` untimed rounds, then ``--import-iterations`` timed ones; stop at a failure."""
    results = ImportResults()
    stores = workdir / "stores"
    stores.mkdir()
    total = args.import_warmup + args.import_iterations
    with open(workdir / "import.stderr", "w+b") as log:
        for i in range(total):
            progress(f"import round {i + 1}/{total}" + (" (warm-up)" if i < args.import_warmup else ""))
            try:
                import_round(archive, stores, i + 1, log, results, keep=i >= args.import_warmup)
            except Exception as exc:  # an import or a run that fails ends part 1, not the report
                failures["import"] = str(exc) if isinstance(exc, bs.RuntimeFailure) else f"{type(exc).__name__}: {exc}"
                break
    progress("")
    return results


# ---------------------------------------------------------------------------
# Part 2: directory vs overlay roots, alternating
# ---------------------------------------------------------------------------


class RootfsRunner(bs.LibRunner):
    """bench_start's ``ours`` container on one kind of root; building the Rootfs and Config is timed."""

    def __init__(self, workdir: Path, id_prefix: str, name: str, tag: str, rootfs: Callable[[], lc.Rootfs]) -> None:
        self.name, self.tag = name, tag
        super().__init__(workdir, id_prefix)
        self.rootfs = rootfs

    def config(self) -> lc.Config:
        return container_config(self.rootfs())

    def describe(self) -> str:
        r = self.rootfs()
        if r.is_overlay:
            upper = "one persistent upper/work pair" if r.upper else "a throwaway tmpfs upper"
            what = f"lc.Rootfs.overlay({len(r.lower)} layers, {upper})"
        else:
            what = "lc.Rootfs.directory(ROOTFS)"
        return f"{what}: {bs.describe_config(self.config())}"


class UpperRunner(RootfsRunner):
    """The overlay with one persistent upper/work pair, reused by every run and emptied after each (untimed)."""

    def __init__(self, workdir: Path, id_prefix: str, layers: Sequence[str]) -> None:
        self.upper, self.work = workdir / "upper", workdir / "work"
        lower, upper, work = list(layers), str(self.upper), str(self.work)
        super().__init__(workdir, id_prefix, "overlay-upper", "ovlup", lambda: lc.Rootfs.overlay(lower, upper, work))
        #: What the runs wrote to the upper (removed after each run).
        self.written: List[str] = []

    def setup(self) -> None:
        self.upper.mkdir()
        self.work.mkdir()
        super().setup()

    def after(self) -> None:
        super().after()
        entries = sorted(os.listdir(self.upper))
        if entries and len(self.written) < 5:
            self.written.append(f"run {self.count}: {', '.join(entries[:5])}")
        empty_dir(self.upper)
        empty_dir(self.work)  # overlayfs' own work/work: it would clear it at the next mount anyway


def empty_dir(path: Path) -> None:
    """Remove what is in ``path``, keeping ``path`` itself (and its xattrs: overlayfs' trusted.overlay.uuid)."""
    for entry in os.scandir(path):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path)
        else:
            os.unlink(entry.path)


def create_runners(names: Sequence[str], workdir: Path, rootfs_dir: Path, layers: Sequence[str]) -> List[bs.Runner]:
    """The part-2 runners asked for, in ROOTFS_ROWS' order."""
    id_prefix = workdir.name
    directory, lower = str(rootfs_dir), list(layers)
    factories: Dict[str, Callable[[], bs.Runner]] = {
        "directory": lambda: RootfsRunner(
            workdir, id_prefix, "directory", "dir", lambda: lc.Rootfs.directory(directory)
        ),
        "overlay": lambda: RootfsRunner(workdir, id_prefix, "overlay", "ovl", lambda: lc.Rootfs.overlay(lower)),
        "overlay-upper": lambda: UpperRunner(workdir, id_prefix, lower),
    }
    return [factories[name]() for name in ROOTFS_ROWS if name in names]


def image_layers(archive: Archive, workdir: Path) -> List[str]:
    """Import the archive once (untimed) into the store part 2 uses; its layer directories, base first."""
    store = ImageStore(str(workdir / "store"), progress=False)
    image = store.import_archive(str(archive.path))
    return [store.layer_path(d) for d in image.layers]


# ---------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------


def fs_type(path: Path) -> str:
    """The file system type of the mount holding ``path`` (from /proc/self/mountinfo)."""
    best, kind = "", "unknown"
    target = str(path.resolve())
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            point = bs.unescape_mountinfo(fields[4])
            if (target == point or target.startswith(point.rstrip("/") + "/")) and len(point) >= len(best):
                best, kind = point, fields[fields.index("-") + 1]
    return kind


def host_info(workdir: Path) -> Dict[str, Any]:
    return {
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "libcontainer_py": lc.__version__,
        "tmpdir_fs": fs_type(workdir),
    }


def header(
    host: Dict[str, Any], args: argparse.Namespace, workdir: Path, archive: Archive, rows: Dict[str, str]
) -> str:
    kib = [f"{size / 1024:.0f} KiB" for size in archive.layer_sizes]
    lines = [
        f"{bs.PROGRAM} in bench_start's `ours` container (new mount, uts, ipc, pid, net namespaces; pivot_root; "
        "/proc; /dev; no masked/read-only paths, seccomp or cgroup), read-write root",
        f"image: OCI archive, 2 layers ({' + '.join(kib)} as tars, {archive.compression}), "
        f"{archive.size / 1024:.0f} KiB: a busybox root, then a layer changing 2 files, deleting 3, "
        "making 1 directory opaque",
        f"host: Linux {host['kernel']}, {host['cpus']} CPUs, Python {host['python']}, "
        f"libcontainer_py {host['libcontainer_py']}; temp dir in {workdir.parent} ({host['tmpdir_fs']})",
    ]
    if "import" in args.parts:
        lines.append(
            f"import: {args.import_iterations} rounds after {args.import_warmup} warm-up, each in a fresh ImageStore"
        )
    if rows:
        width = max(len(name) for name in rows)
        orders = bs.balanced_orders(list(rows))
        lines.append(
            f"roots: {args.iterations} iterations after {args.warmup} warm-up, alternating in balanced orders "
            f"(exact every {len(orders)} iterations)"
        )
        lines += [f"  {name:<{width}}  {text}" for name, text in rows.items()]
    return "\n".join(lines)


def stats_table(first: str, samples: Dict[str, List[int]]) -> str:
    rows = [[first, "median ms", "p10 ms", "p90 ms", "n"]]
    for name, values in samples.items():
        if values:
            s = bs.Summary.of(values)
            rows.append([name, f"{s.median_ms:.3f}", f"{s.p10_ms:.3f}", f"{s.p90_ms:.3f}", str(s.n)])
    return bs.format_table(rows, "<>>>>")


def ratio_values(summaries: Dict[str, bs.Summary]) -> Dict[str, float]:
    return {
        r.name: summaries[r.numerator].median_ms / summaries[r.denominator].median_ms
        for r in RATIOS
        if r.numerator in summaries and r.denominator in summaries
    }


def ratio_table(values: Dict[str, float]) -> str:
    rows = [["ratio of medians", "value", "target"]]
    rows += [[r.name, r.text(values[r.name]), "none"] for r in RATIOS if r.name in values]
    return bs.format_table(rows, "<>>")


def print_report(report: Dict[str, Any], problems: List[str]) -> None:
    imports = report["import"]
    if imports and any(imports["samples_ns"].values()):
        print()
        print(stats_table("image (fresh store per round)", imports["samples_ns"]))
    roots = report["roots"]
    if any(roots["samples_ns"].values()):
        print()
        print(stats_table("root of the container", roots["samples_ns"]))
    if roots["ratios"]:
        print()
        print(ratio_table(roots["ratios"]))
        print("(no targets are set for these: reported, not judged)")
    notes = [f"import: {note}" for note in (imports or {}).get("notes", [])]
    notes += [
        f"{name}: the runs wrote to the upper (emptied, untimed): {'; '.join(items)}"
        for name, items in roots["written_to_upper"].items()
    ]
    print_problems(report["failures"], roots["leftovers_cleaned"], notes, problems)


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=DESCRIPTION, epilog="See benchmarks/README.md.")
    p.add_argument("--iterations", type=bs.positive, default=200, help="timed runs per root kind, part 2 (default 200)")
    p.add_argument("--warmup", type=bs.non_negative, default=10, help="untimed rounds before them (default 10)")
    p.add_argument("--import-iterations", type=bs.positive, default=20, help="timed import rounds, part 1 (default 20)")
    p.add_argument("--import-warmup", type=bs.non_negative, default=1, help="untimed import rounds first (default 1)")
    add_only_option(p, PARTS, f"run only these ({', '.join(PARTS)}; import is all of part 1); may be repeated")
    p.add_argument("--compression", choices=sorted(COMPRESSIONS), default="gzip", help="of the layers (default gzip)")
    p.add_argument("--json", metavar="FILE", help="write raw samples and the summary as JSON")
    p.add_argument("--tmpdir", default=bs.DEFAULT_TMPDIR, help="where the temp dir goes (default /dev/shm)")
    args = p.parse_args(argv)
    args.parts = args.only or list(PARTS)
    return args


def execute(args: argparse.Namespace, problems: List[str]) -> Dict[str, Any]:
    """Build the rootfs and the archive, run both parts, clean up; returns the report."""
    failures: Dict[str, str] = {}
    imports: Optional[ImportResults] = None
    results = bs.Results(failures=failures)
    names = [n for n in ROOTFS_ROWS if n in args.parts]
    with bs.workspace(args.tmpdir, problems) as workdir:
        host = host_info(workdir)
        rootfs_dir = bs.make_rootfs(workdir / "rootfs")
        check_like_ours(rootfs_dir)
        archive = build_archive(rootfs_dir, workdir, args.compression)
        runners = create_runners(names, workdir, rootfs_dir, image_layers(archive, workdir) if names else [])
        with bs.closing_all(runners):
            bs.set_up(runners, results)
            rows = {r.name: bs.describe_or_failure(r, results) for r in runners}
            print(header(host, args, workdir, archive, rows), flush=True)
            if "import" in args.parts:
                imports = run_imports(archive, workdir, args, failures)
            bs.benchmark(runners, args.iterations, args.warmup, results)
        leftovers = {r.name: r.leftovers for r in runners if r.leftovers}
        written = {r.name: r.written for r in runners if isinstance(r, UpperRunner) and r.written}
    summaries = {n: bs.Summary.of(s) for n, s in results.samples_ns.items() if s}
    return {
        "workload": {"program": bs.PROGRAM, "container": "bench_start's ours, read-write root"},
        "host": host,
        "archive": {
            "size": archive.size,
            "layer_tar_sizes": archive.layer_sizes,
            "compression": archive.compression,
        },
        "settings": {
            "iterations": args.iterations,
            "warmup": args.warmup,
            "import_iterations": args.import_iterations,
            "import_warmup": args.import_warmup,
            "parts": args.parts,
            "tmpdir": args.tmpdir,
        },
        "import": None
        if imports is None
        else {
            "summary_ms": {n: asdict(bs.Summary.of(s)) for n, s in imports.samples_ns.items() if s},
            "samples_ns": imports.samples_ns,
            "notes": imports.notes,
        },
        "roots": {
            "rows": rows,
            "summary_ms": {n: asdict(s) for n, s in summaries.items()},
            "ratios": ratio_values(summaries),
            "samples_ns": results.samples_ns,
            "leftovers_cleaned": leftovers,
            "written_to_upper": written,
        },
        "failures": failures,
    }


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark; 0, 1 when something failed or left what cannot be removed, 130 on Ctrl-C."""
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("bench_images.py must run as root (namespaces, overlay and trusted.* xattrs need it)", file=sys.stderr)
        return 1
    # bs.RuntimeFailure: the rootfs or the archive could not be made
    return run_reported(args, execute, print_report, set_up_errors=(bs.RuntimeFailure,))


if __name__ == "__main__":
    sys.exit(main())
