"""HTML tables for notebooks (``_repr_html_``): Jupyter shows these instead of
the reprs.  Pure formatting: nothing here touches the host."""

from __future__ import annotations

import html
from typing import Any, Iterable, Optional, Tuple

from ._repr import non_default_fields

Row = Tuple[str, Any]

#: Longest text shown in a cell; the rest is cut (the object keeps it all).
MAX_CELL = 500


def table(title: str, rows: Iterable[Row]) -> str:
    """``<table>`` with ``title`` as its caption and one row per (name, value);
    every value is escaped, and cut at MAX_CELL characters."""
    body = "".join(
        f"<tr><th style='text-align:left'>{html.escape(name)}</th><td style='text-align:left'>{_cell(value)}</td></tr>"
        for name, value in rows
    )
    return f"<table><caption style='text-align:left'><b>{html.escape(title)}</b></caption>{body}</table>"


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    if len(text) > MAX_CELL:
        text = text[:MAX_CELL] + f"… ({len(text)} characters)"
    return f"<code>{html.escape(text)}</code>"


def config_rows(obj: Any) -> Iterable[Row]:
    """The fields of an attrs config object that differ from their defaults."""
    return [(field.name, value) for field, value in non_default_fields(obj)]


def size(n: Optional[int]) -> str:
    """``n`` bytes as a short human figure (``'12.3 MiB'``); ``-`` for None."""
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def stats_rows(stats: Any) -> Iterable[Row]:
    """The headline figures of a cgroups Stats, one row each."""
    rows = []
    if stats.memory is not None:
        m = stats.memory
        rows += [("memory", f"{size(m.usage)} (peak {size(m.peak)}, limit {size(m.limit)})")]
        rows += [("OOM kills", str(m.oom_kills)), ("limit hits", str(m.failcnt))]
    if stats.cpu is not None:
        c = stats.cpu
        rows += [("cpu", f"{c.usage_ns / 1e9:.3f} s")]
        if c.periods:
            rows += [("throttled", f"{c.throttled_periods}/{c.periods} periods, {c.throttled_ns / 1e9:.3f} s")]
    if stats.pids is not None:
        limit = "no limit" if stats.pids.limit is None else str(stats.pids.limit)
        rows += [("pids", f"{stats.pids.current} (limit {limit})")]
    for d in stats.io:
        rows += [(f"io {d.major}:{d.minor}", f"{size(d.read_bytes)} read, {size(d.write_bytes)} written")]
    for page, h in sorted(stats.hugetlb.items()):
        rows += [(f"hugetlb {page}", repr(h))]
    return rows or [("accounting", "none")]
