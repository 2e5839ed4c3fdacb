"""What the benchmarks share: the run-report-exit frame of a benchmark's
main, its progress line and JSON report, and how problems are reported
(imported by the benchmarks beside it; not a benchmark itself)."""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import signal
import sys
from typing import Any, Callable, Dict, Iterable, List, Mapping, Sequence, Tuple, Type

PR_SET_CHILD_SUBREAPER = 36

#: execute(args, problems) -> the report (cleanup problems appended to ``problems``).
Execute = Callable[[argparse.Namespace, List[str]], Dict[str, Any]]
#: print_report(report, problems)
PrintReport = Callable[[Dict[str, Any], List[str]], None]


def _interrupt(_sig: int, _frame: Any) -> None:
    """SIGTERM handler: unwind like Ctrl-C, so that everything is cleaned up."""
    raise KeyboardInterrupt


def interrupt_on_sigterm() -> None:
    """Make SIGTERM unwind like Ctrl-C (KeyboardInterrupt), so that what was made is removed."""
    signal.signal(signal.SIGTERM, _interrupt)


def become_subreaper() -> None:
    """Have orphans of our children reparented to us rather than to PID 1 (which may reap them late)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(err)}")


def progress(message: str) -> None:
    """A one-line progress indicator on a terminal's stderr."""
    if sys.stderr.isatty():
        sys.stderr.write(f"\r\033[K{message}")
        sys.stderr.flush()


def write_json(path: str, report: Dict[str, Any]) -> None:
    """The raw samples and the summary, for later comparison."""
    with open(path, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")


def add_only_option(parser: argparse.ArgumentParser, choices: Sequence[str], help: str) -> None:
    """``--only NAME[,NAME]`` (may be repeated): the names, each one of ``choices``, in ``args.only``."""

    def names(value: str) -> List[str]:
        names = [v.strip() for v in value.split(",") if v.strip()]
        unknown = [n for n in names if n not in choices]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"expected some of {', '.join(choices)}, got {value!r}")
        return names

    parser.add_argument("--only", type=names, action="extend", metavar="NAME[,NAME]", help=help)


def print_problems(
    failures: Mapping[str, str],
    leftovers: Mapping[str, Sequence[str]],
    notes: Iterable[str],
    problems: Iterable[str],
) -> None:
    """On stderr: what failed, what runs left behind (and was removed),
    further ``notes``, and what could not be cleaned up."""
    for name, message in failures.items():
        print(f"\nFAILED {name}: {message}", file=sys.stderr)
    for name, items in leftovers.items():
        print(f"\n{name} left {len(items)} thing(s) behind, removed (untimed): {', '.join(items[:5])}", file=sys.stderr)
    for note in notes:
        print(f"\n{note}", file=sys.stderr)
    for problem in problems:
        print(f"\ncleanup problem: {problem}", file=sys.stderr)


def run_reported(
    args: argparse.Namespace,
    execute: Execute,
    print_report: PrintReport,
    set_up_errors: Tuple[Type[BaseException], ...] = (),
) -> int:
    """Run ``execute``, print its report and write it to ``args.json``.

    The exit status: 0; 1 when something failed, set-up failed (one of
    ``set_up_errors``) or left what cannot be removed; 130 on Ctrl-C or SIGTERM.
    """
    interrupt_on_sigterm()
    become_subreaper()
    problems: List[str] = []
    try:
        report = execute(args, problems)
    except KeyboardInterrupt:
        progress("")
        print("\ninterrupted; cleaned up", file=sys.stderr)
        status = 130
    except set_up_errors as exc:
        print(f"FAILED set-up: {exc}", file=sys.stderr)
        status = 1
    else:
        print_report(report, problems)
        if args.json:
            write_json(args.json, report)
        return 1 if report["failures"] or problems else 0
    for problem in problems:
        print(f"cleanup problem: {problem}", file=sys.stderr)
    return status


def leftover_status(left: Sequence[str]) -> int:
    """1 (and what was left behind and removed, on stderr) when ``left`` names anything, else 0."""
    if left:
        print(f"left behind and removed: {', '.join(left)}", file=sys.stderr)
        return 1
    return 0
