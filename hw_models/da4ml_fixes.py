"""Corrections to da4ml 0.5.x that the RTL and its cost rely on, applied once on import of `hw_models.da` (which
`codesign.rtl` builds with).

da4ml's `_const_f(c)` (the fewest fraction bits that hold a constant) searches only f in (-32, 32]. The
tracer uses it for every constant in *unscaled* units (value / _factor), and _factor grows with every
float product: after two BatchNormalizations (scales of 26-27 fraction bits) a saturation bound of a
fixed<8,1> cast is 127 * 2^34 unscaled. Clamped at f = -31 that constant gets a grid 8x finer than the
other input of the `msb_mux` that saturates, whose output keeps the coarser grid; the generated Verilog
(and da4ml's C++ interpreter) then aligns the inputs to the finer grid inside the output's width and wraps
(`../shared/repro/rtl_bn_chain`: 0.194 bit-exact). The Python interpreter does not, which hid it. A
constant needing more than 32 fraction bits was likewise truncated to a multiple of 2^-32.

The exact rule: a binary float c = m * 2^e (m odd) needs f = -e fraction bits.

The tracer keeps ranges, steps and _factor as `Decimal`s in the default context: 28 significant digits.
2^-73 (a _factor after three float BatchNormalizations) has 52, so it was rounded; an unscaled constant
value / _factor then was not on its grid, and a saturating cast compared against a wrong bound
(`tests/zoo.py` bn_chain: quantized_sigmoid gave 63/64 for 62/64 on 0.1-0.6% of outputs, depending on the
drawn weights). Decimal precision PRECISION holds every power of two down to 2^-800 (and products of
such) exactly.
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from fractions import Fraction

PRECISION = 600  # significant decimal digits: 2^-n has about 0.7 n of them


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
    decimal.DefaultContext.prec = PRECISION  # threads started from now on
    decimal.getcontext().prec = max(decimal.getcontext().prec, PRECISION)  # this one


apply()
