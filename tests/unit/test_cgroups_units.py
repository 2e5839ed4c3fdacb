"""Byte sizes and the v1 <-> v2 conversions (no root needed)."""

from __future__ import annotations

import pytest

from libcontainer_py import ConfigError
from libcontainer_py.cgroups import (
    blkio_to_io_weight,
    io_to_blkio_weight,
    parse_bytes,
    shares_to_weight,
    weight_to_shares,
)
from libcontainer_py.cgroups.units import format_page_size


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0),
        (4096, 4096),
        ("4096", 4096),
        ("512k", 512 * 1024),
        ("512K", 512 * 1024),
        ("64M", 64 << 20),
        ("64m", 64 << 20),
        ("64MiB", 64 << 20),
        ("64mb", 64 << 20),
        ("1G", 1 << 30),
        ("1.5G", 3 << 29),
        ("2T", 2 << 40),
        (" 8 M ", 8 << 20),
        ("max", None),
        ("MAX", None),
    ],
)
def test_parse_bytes(value: object, expected: object) -> None:
    assert parse_bytes(value) == expected


@pytest.mark.parametrize(
    "value", ["", "abc", "64X", "-1", "1.1k", "1e6", "64 MBB", True, 1.5, -5, 2**63, "9999999P", None]
)
def test_parse_bytes_rejects_junk_naming_the_field(value: object) -> None:
    with pytest.raises(ConfigError) as e:
        parse_bytes(value, "memory.max")
    assert e.value.field == "memory.max"


def test_page_size_names_match_the_kernel() -> None:
    assert format_page_size(2 << 20) == "2MB"
    assert format_page_size(1 << 30) == "1GB"
    assert format_page_size(64 << 10) == "64KB"
    assert format_page_size(16 << 30) == "16GB"


def test_cpu_shares_weight_formula_is_runcs() -> None:
    # runc: 1 + ((shares - 2) * 9999) / 262142
    assert shares_to_weight(2) == 1
    assert shares_to_weight(262144) == 10000
    assert shares_to_weight(1024) == 39
    assert shares_to_weight(512) == 1 + (510 * 9999) // 262142


def test_cpu_weight_round_trips_through_shares() -> None:
    for w in range(1, 10001):
        s = weight_to_shares(w)
        assert 2 <= s <= 262144
        assert shares_to_weight(s) == w


def test_blkio_io_weight_map() -> None:
    assert blkio_to_io_weight(10) == 1
    assert blkio_to_io_weight(1000) == 10000
    assert blkio_to_io_weight(500) == 1 + (490 * 9999) // 990
    assert io_to_blkio_weight(1) == 10 and io_to_blkio_weight(10000) == 1000
    for b in range(10, 1001):
        assert io_to_blkio_weight(blkio_to_io_weight(b)) == b
