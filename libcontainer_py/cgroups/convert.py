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

from typing import Tuple

#: The ranges of the knobs (lowest, highest).
_SHARES, _CPU_WEIGHT = (2, 262144), (1, 10000)
_BLKIO_WEIGHT, _IO_WEIGHT = (10, 1000), (1, 10000)


def _scale(value: int, source: Tuple[int, int], target: Tuple[int, int], *, round_up: bool = False) -> int:
    """``value``, held to the ``source`` range, mapped linearly onto ``target``
    (integer arithmetic, rounded down, or up for an inverse)."""
    low, high = source
    steps = (min(max(value, low), high) - low) * (target[1] - target[0])
    return target[0] + (-(-steps // (high - low)) if round_up else steps // (high - low))


def shares_to_weight(shares: int) -> int:
    """v1 cpu.shares (2..262144) -> v2 cpu.weight (1..10000)."""
    return _scale(shares, _SHARES, _CPU_WEIGHT)


def weight_to_shares(weight: int) -> int:
    """v2 cpu.weight (1..10000) -> v1 cpu.shares (2..262144); inverse of shares_to_weight."""
    return _scale(weight, _CPU_WEIGHT, _SHARES, round_up=True)


def blkio_to_io_weight(blkio: int) -> int:
    """v1 blkio.weight (10..1000) -> v2 io.weight (1..10000)."""
    return _scale(blkio, _BLKIO_WEIGHT, _IO_WEIGHT)


def io_to_blkio_weight(weight: int) -> int:
    """v2 io.weight (1..10000) -> v1 blkio.weight (10..1000); inverse of blkio_to_io_weight."""
    return _scale(weight, _IO_WEIGHT, _BLKIO_WEIGHT, round_up=True)
