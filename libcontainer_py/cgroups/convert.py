"""v1 <-> v2 value conversions, where only one version has a knob.

The cpu formula is runc's and crun's (linear, integer arithmetic):
``weight = 1 + ((shares - 2) * 9999) // 262142`` maps shares 2..262144 onto
weight 1..10000.  The reverse rounds up so that ``shares_to_weight(
weight_to_shares(w)) == w`` for every weight.  The default shares (1024) map
to weight 39, not to the v2 default 100: that is what runc does too.

Block I/O weight is runc's linear map of 10..1000 onto 1..10000:
``io_weight = 1 + ((blkio - 10) * 9999) // 990``, reverse rounded up likewise.
"""

from __future__ import annotations


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def shares_to_weight(shares: int) -> int:
    """v1 cpu.shares (2..262144) -> v2 cpu.weight (1..10000)."""
    shares = min(max(shares, 2), 262144)
    return 1 + ((shares - 2) * 9999) // 262142


def weight_to_shares(weight: int) -> int:
    """v2 cpu.weight (1..10000) -> v1 cpu.shares (2..262144); inverse of shares_to_weight."""
    weight = min(max(weight, 1), 10000)
    return 2 + _ceil_div((weight - 1) * 262142, 9999)


def blkio_to_io_weight(blkio: int) -> int:
    """v1 blkio.weight (10..1000) -> v2 io.weight (1..10000)."""
    blkio = min(max(blkio, 10), 1000)
    return 1 + ((blkio - 10) * 9999) // 990


def io_to_blkio_weight(weight: int) -> int:
    """v2 io.weight (1..10000) -> v1 blkio.weight (10..1000); inverse of blkio_to_io_weight."""
    weight = min(max(weight, 1), 10000)
    return 10 + _ceil_div((weight - 1) * 990, 9999)
