"""Fixed-point types (ap_fixed semantics) and the arithmetic rules that size them exactly: the one
framework-free fixed-point leaf that codesign (`codesign.spec` re-exports it) and the cost model share.

Convention (hls4ml/Vivado): `integer` counts the sign bit for signed types, so
fixed<W,I> holds [-2^(I-1), 2^(I-1) - 2^(I-W)] and ufixed<W,I> holds [0, 2^I - 2^(I-W)].
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

Rounding = Literal["TRN", "TRN_ZERO", "RND", "RND_ZERO", "RND_INF", "RND_MIN_INF", "RND_CONV"]
Overflow = Literal["WRAP", "SAT", "SAT_ZERO", "SAT_SYM"]
ROUNDINGS = ("TRN", "TRN_ZERO", "RND", "RND_ZERO", "RND_INF", "RND_MIN_INF", "RND_CONV")
OVERFLOWS = ("WRAP", "SAT", "SAT_ZERO", "SAT_SYM")


def _round(scaled: np.ndarray, mode: str) -> np.ndarray:
    """ap_fixed quantization modes (Vitis HLS UG1399, 'Arbitrary Precision Fixed-Point Data Types')."""
    half = np.floor(scaled + 0.5)
    tie = (scaled - np.floor(scaled)) == 0.5
    if mode == "TRN":
        return np.floor(scaled)
    if mode == "TRN_ZERO":
        return np.trunc(scaled)
    if mode == "RND":  # ties toward +inf
        return half
    if mode == "RND_ZERO":
        return np.where(tie, np.trunc(scaled), half)
    if mode == "RND_INF":  # ties away from zero
        return np.where(tie, np.sign(scaled) * np.ceil(np.abs(scaled)), half)
    if mode == "RND_MIN_INF":
        return np.where(tie, np.floor(scaled), half)
    if mode == "RND_CONV":  # ties to even
        return np.rint(scaled)
    raise ValueError(f"unknown rounding mode {mode!r}; allowed: {', '.join(ROUNDINGS)}")


@dataclass(frozen=True)
class QuantSpec:
    width: int
    integer: int
    signed: bool = True
    rounding: Rounding = "TRN"
    overflow: Overflow = "WRAP"

    @property
    def frac(self) -> int:
        return self.width - self.integer

    @property
    def int_bits(self) -> int:
        """Integer bits excluding the sign bit."""
        return self.integer - int(self.signed)

    @property
    def lsb(self) -> float:
        return 2.0 ** -self.frac

    @property
    def max_value(self) -> float:
        return 2.0 ** self.int_bits - self.lsb

    @property
    def min_value(self) -> float:
        if not self.signed:
            return 0.0
        low = -(2.0 ** self.int_bits)
        return low + self.lsb if self.overflow == "SAT_SYM" else low

    def to_hls(self) -> str:
        """hls4ml precision string, e.g. 'fixed<8,3,RND_CONV,SAT>'."""
        name = "fixed" if self.signed else "ufixed"
        modes = "" if (self.rounding, self.overflow) == ("TRN", "WRAP") else f",{self.rounding},{self.overflow}"
        return f"{name}<{self.width},{self.integer}{modes}>"

    def exact(self) -> QuantSpec:
        """Same grid without rounding/saturation modes (for values known to fit)."""
        return replace(self, rounding="TRN", overflow="WRAP")

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """Cast float values to this type as ap_fixed would (RND_CONV = round half to even)."""
        scaled = np.asarray(x, dtype=np.float64) * 2.0**self.frac
        q = _round(scaled, self.rounding)
        lo, hi = self.min_value * 2.0**self.frac, self.max_value * 2.0**self.frac
        if self.overflow == "WRAP":
            span = 2.0**self.width
            q = np.mod(q - lo, span) + lo if self.signed else np.mod(q, span)
        elif self.overflow == "SAT_ZERO":
            q = np.where((q < lo) | (q > hi), 0.0, q)
        else:
            q = np.clip(q, lo, hi)
        return q / 2.0**self.frac


def union(a: QuantSpec, b: QuantSpec) -> QuantSpec:
    """Smallest type that holds every value of a and of b exactly."""
    signed = a.signed or b.signed
    int_bits = max(a.int_bits, b.int_bits)
    frac = max(a.frac, b.frac)
    integer = int_bits + int(signed)
    return QuantSpec(integer + frac, integer, signed)


def product(a: QuantSpec, b: QuantSpec) -> QuantSpec:
    """Exact type of a*b: widths add, integer parts add (sign bit counted once)."""
    signed = a.signed or b.signed
    integer = a.int_bits + b.int_bits + int(signed) + int(a.signed and b.signed)
    frac = a.frac + b.frac
    return QuantSpec(integer + frac, integer, signed)


def accumulate(term: QuantSpec, n_terms: int) -> QuantSpec:
    """Exact type of a sum of n_terms values of type `term`: ceil(log2 n) more integer bits."""
    growth = math.ceil(math.log2(n_terms)) if n_terms > 1 else 0
    return QuantSpec(term.width + growth, term.integer + growth, term.signed)


def add(a: QuantSpec, b: QuantSpec) -> QuantSpec:
    """Exact type of a+b: align binary points, one carry bit."""
    u = union(a, b)
    return QuantSpec(u.width + 1, u.integer + 1, u.signed)


def mac(data: QuantSpec, weight: QuantSpec, n_terms: int, bias: QuantSpec | None) -> QuantSpec:
    """Accumulator of sum_k data_k*weight_k (+ bias) that can neither overflow nor drop a bit."""
    acc = accumulate(product(data, weight), n_terms)
    return add(acc, bias) if bias is not None else acc


def spec_for_values(values: np.ndarray, max_width: int = 64) -> QuantSpec:
    """Narrowest fixed type representing every value exactly (frac bits capped by max_width)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    signed = bool(np.any(v < 0))
    nz = np.abs(v[v != 0])
    if nz.size == 0:
        return QuantSpec(1 + int(signed), 1, signed)
    int_bits = max(int(np.floor(np.log2(nz.max()))) + 1, 0)
    frac = 0
    while frac < max_width and np.any(np.mod(v * 2.0**frac, 1.0) != 0):
        frac += 1
    integer = int_bits + int(signed)
    # a value equal to -2^k needs no extra bit, but one of +2^k does: int_bits above covers both
    return QuantSpec(max(integer + frac, 1), integer, signed)


def parse_hls(text: str) -> QuantSpec:
    """Inverse of QuantSpec.to_hls: 'ufixed<6,0,RND_CONV,SAT>' -> QuantSpec(6, 0, False, ...); also int<W>."""
    import re

    expected = "expected e.g. 'fixed<16,6>', 'ufixed<8,0,RND_CONV,SAT>' or 'int<8>'"
    m = re.fullmatch(r"\s*(?:ap_)?(u?)int<\s*(\d+)\s*>\s*", text)
    if m:
        return QuantSpec(int(m.group(2)), int(m.group(2)), m.group(1) != "u")
    m = re.fullmatch(r"\s*(?:ap_)?(u?)fixed<\s*(\d+)\s*,\s*(-?\d+)\s*(?:,\s*(\w+)\s*(?:,\s*(\w+)\s*"
                     r"(?:,\s*\d+\s*)?)?)?>\s*", text)
    if not m:
        raise ValueError(f"not a fixed-point type: {text!r}; {expected}")
    rounding = (m.group(4) or "TRN").removeprefix("AP_")
    overflow = (m.group(5) or "WRAP").removeprefix("AP_")
    if rounding not in ROUNDINGS:
        raise ValueError(f"{text!r}: unknown rounding mode {rounding!r}; allowed: {', '.join(ROUNDINGS)}")
    if overflow not in OVERFLOWS:
        raise ValueError(f"{text!r}: unknown overflow mode {overflow!r}; allowed: {', '.join(OVERFLOWS)}")
    return QuantSpec(int(m.group(2)), int(m.group(3)), m.group(1) != "u", rounding, overflow)


# Report text as hls4ml and Vivado/Vitis write it (the calibration corpus)
_TYPE = re.compile(r"(ap_)?(u?)(fixed|int)<\s*(\d+)\s*(?:,\s*(-?\d+))?[^>]*>")


def parse_type(text: str | None) -> QuantSpec | None:
    """First ap_fixed/ap_int/fixed type in a report's text (its width, integer bits and sign; rounding and
    overflow modes and suffixes such as '(assumed)' are ignored). A user's type: `parse_hls`, strict."""
    if not text:
        return None
    m = _TYPE.search(text)
    if not m:
        return None
    width = int(m.group(4))
    integer = int(m.group(5)) if m.group(3) == "fixed" else width
    return QuantSpec(width, integer, m.group(2) != "u")


def mac_accum(inp: QuantSpec, weight: QuantSpec, n_terms: int) -> QuantSpec:
    """hls4ml 1.x 'auto' accumulator of a dot product: both widths plus ceil(log2 n) carry bits
    (hls4ml/model/optimizer/passes/infer_precision.py, _infer_common_precision)."""
    grow = math.ceil(math.log2(max(n_terms, 1)))
    return QuantSpec(inp.width + weight.width + grow, inp.integer + weight.integer + grow,
                     inp.signed or weight.signed)
