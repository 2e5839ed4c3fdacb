"""What the examples share: a check that prints its verdict, and the report
at the end (imported by the examples beside it; not an example itself)."""

import sys

failures = []


def check(ok, what):
    """Print ``what`` with ok or FAILED; remember a failure."""
    print(f"  {'ok' if ok else 'FAILED'}  {what}")
    if not ok:
        failures.append(what)


def report():
    """The exit status: 1 and the failures named, or 0."""
    if failures:
        print(f"\nFAILED: {', '.join(failures)}", file=sys.stderr)
        return 1
    print("\nall checks passed")
    return 0
