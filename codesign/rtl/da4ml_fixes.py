"""Corrections to da4ml 0.5.x that the RTL relies on, applied once on import of `codesign.rtl.network`.

da4ml's `_const_f(c)` (the fewest fraction bits that hold a constant) searches only f in (-32, 32]. The
tracer uses it for every constant in *unscaled* units (value / _factor), and _factor grows with every
float product: after two BatchNormalizations (scales of 26-27 fraction bits) a saturation bound of a
fixed<8,1> cast is 127 * 2^34 unscaled. Clamped at f = -31 that constant gets a grid 8x finer than the
other input of the `msb_mux` that saturates, whose output keeps the coarser grid; the generated Verilog
(and da4ml's C++ interpreter) then aligns the inputs to the finer grid inside the output's width and wraps
(`../shared/repro/rtl_bn_chain`: 0.194 bit-exact). The Python interpreter does not, which hid it. A
constant needing more than 32 fraction bits was likewise truncated to a multiple of 2^-32.

The exact rule: a binary float c = m * 2^e (m odd) needs f = -e fraction bits.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction


def exact_const_f(const: float | Decimal) -> int:
    """The least f such that const * 2^f is an integer (any binary float, any magnitude)."""
    value = Fraction(float(const))
    if value == 0:
        return 0
    num, den = value.numerator, value.denominator  # den is a power of two for a binary float
    if den > 1:
        return den.bit_length() - 1
    return -((abs(num) & -abs(num)).bit_length() - 1)  # the lowest set bit of an integer


def apply() -> None:
    from da4ml.trace import fixed_variable, tracer

    fixed_variable._const_f = exact_const_f
    tracer._const_f = exact_const_f


apply()
