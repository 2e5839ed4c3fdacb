"""The escape suite's tally, printed at the end of the test run."""

from __future__ import annotations

from typing import List, Tuple

#: (attack, blocked by default, worked with its protection off)
RESULTS: List[Tuple[str, bool, bool]] = []


def summary() -> str:
    tried = len(RESULTS)
    blocked = sum(1 for _, b, _ in RESULTS if b)
    shown = sum(1 for _, _, w in RESULTS if w)
    return (
        f"escape suite: {tried} attacks tried, {blocked} blocked by the defaults, "
        f"{shown} shown to work with their protection off"
    )
