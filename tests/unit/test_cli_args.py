"""The CLI's own parsing, without containers."""

from __future__ import annotations

import pytest

from libcontainer_py.cli import CliError
from libcontainer_py.cli.query import _duration


@pytest.mark.parametrize(
    "text, seconds",
    [("5s", 5.0), ("300ms", 0.3), ("1.5s", 1.5), ("1m30s", 90.0), ("2h", 7200.0), ("100us", 1e-4), (".5s", 0.5)],
)
def test_intervals_are_go_durations(text: str, seconds: float) -> None:
    assert _duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "x", "1m30", "5 s", "-1s", "1.2.3s"])
def test_bad_intervals_are_refused(text: str) -> None:
    with pytest.raises(CliError, match="invalid interval"):
        _duration(text)
