"""Fixed-point type strings as hls4ml writes them (framework-free)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_TYPE = re.compile(r"(ap_)?(u?)(fixed|int)<\s*(\d+)\s*(?:,\s*(-?\d+))?[^>]*>")


@dataclass(frozen=True)
class FixedType:
    width: int
    integer: int
    signed: bool = True

    def __str__(self) -> str:
        return f"ap_{'' if self.signed else 'u'}fixed<{self.width},{self.integer}>"


def parse_type(text: str | None) -> FixedType | None:
    """First ap_fixed/ap_int/fixed type in `text` (suffixes such as '(assumed)' are ignored)."""
    if not text:
        return None
    m = _TYPE.search(text)
    if not m:
        return None
    width = int(m.group(4))
    integer = int(m.group(5)) if m.group(3) == "fixed" else width
    return FixedType(width, integer, m.group(2) != "u")


def mac_accum(inp: FixedType, weight: FixedType, n_terms: int) -> FixedType:
    """hls4ml 1.x 'auto' accumulator of a dot product: both widths plus ceil(log2 n) carry bits
    (hls4ml/model/optimizer/passes/infer_precision.py, _infer_common_precision)."""
    grow = math.ceil(math.log2(max(n_terms, 1)))
    return FixedType(inp.width + weight.width + grow, inp.integer + weight.integer + grow,
                     inp.signed or weight.signed)
