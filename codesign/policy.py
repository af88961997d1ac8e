"""Sizing rules every converter shares (one place, so QAT, PTQ and the search agree)."""

from __future__ import annotations

import math


def integer_bits(magnitude: float) -> int:
    """Integer bits (QKeras convention, sign excluded) of a power-of-two range [-2^i, 2^i) covering
    |values| <= magnitude; at least 0 (QKeras)."""
    return max(0, math.ceil(math.log2(magnitude))) if magnitude > 0 else 0
