"""Framework-free description of one hls4ml layer, as the cost model sees it."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field, replace

import numpy as np

from .targets import DA, DEFAULT_TOOL, IO_TYPES, STRATEGY_KEYS as STRATEGIES  # noqa: F401 - the cost model's names

MAC_KINDS = ("dense", "conv", "depthwise")
# a comparison or clip per element (templates.Elementwise), a stream copy (StreamCopy), a merge (Merge): one shape
ELEMENTWISE_KINDS = ("relu", "copy", "merge")
KINDS = MAC_KINDS + ELEMENTWISE_KINDS + ("bn", "table", "softmax", "max_pool", "avg_pool", "free")


@dataclass(frozen=True)
class WeightStats:
    """Counts that decide multiplier cost: zero weights need no product, +-2^k weights only a shift
    (hls4ml Latency strategy writes weights as constants and HLS folds them), the rest a real multiplier
    whose LUT cost grows with the number of non-zero canonical-signed-digit (CSD) digits."""

    n_weights: int
    n_zero: int = 0
    n_pow2: int = 0
    mean_digits: float = 0.0  # mean CSD digits of the weights that need a real multiplier
    mean_bits: float = 0.0    # their mean effective width (MSB..LSB + sign); 0 = the layer's weight width
    n_three: int | None = None  # weights of 3 or more CSD digits (None: unknown, every real one counted)

    @property
    def n_mult(self) -> int:
        return self.n_weights - self.n_zero - self.n_pow2

    @property
    def n_mul_ops(self) -> int:
        """Products HLS keeps as multiply operations: constants of 3 or more CSD digits. A two-digit constant
        (2^a +- 2^b) is one shift-add; the MLP estimator study's reports (Vitis HLS 2021.1, 8-bit weights)
        count 25 multiplies on DSPs of fc1's 45 non-power-of-two weights (`config_op mul -impl dsp`) and an
        interval of 27 when one multiplier instance is allowed."""
        return self.n_mult if self.n_three is None else self.n_three


@dataclass(frozen=True)
class LayerIR:
    name: str
    kind: str
    class_name: str = ""
    n_out: int = 1          # outputs per position (units, filters, channels)
    n_terms: int = 1        # products summed per output (dense n_in, conv k*k*C, depthwise k*k)
    n_pos: int = 1          # output positions computed one after the other (conv pixels)
    n_in_elems: int = 0     # input elements of the layer (stream length x channels)
    in_bits: int = 16
    in_integer: int | None = None  # input integer bits incl. sign (None: unknown, half the width)
    in_signed: bool = True
    w_bits: int = 0
    acc_bits: int = 0
    res_bits: int = 16
    res_rounds: bool = False  # the result type rounds or saturates (kinds.rounds_or_saturates)
    rf: int = 1
    strategy: str = "latency"
    io_type: str = "io_parallel"
    weights: WeightStats | None = None
    table_size: int = 0
    table_bits: int = 0
    table_passes: bool = False  # a table activation passing non-negative inputs through (kinds.table_passes_input)
    pool: int = 1           # pooling window elements
    n_steps: int = 1        # sequential steps: conv pixels (io_parallel) or input pixels (io_stream)
    pf: int = 1             # output positions an io_parallel convolution computes per step (ParallelizationFactor)
    buffer_bits: int = 0    # io_stream line buffers of a 2D convolution or pooling (`line_buffer_bits`)
    binary: bool = False    # QKeras binary weights: hls4ml's XNOR-type weight_binary product
    tool: str = DEFAULT_TOOL  # HLS tool generation (targets.TOOLS): fits with `by_tool` cost it separately
    mult_impl: str = "auto"   # products forced to LUTs or DSPs by a synthesis directive (targets.MULT_IMPLS)
    extra: dict = field(default_factory=dict, compare=False)

    def with_(self, **changes) -> "LayerIR":
        return replace(self, **changes)

    @property
    def n_weights(self) -> int:
        return self.weights.n_weights if self.weights else 0


def line_buffer_bits(kernel_height: int, in_width: int, channels: int, bits: int) -> int:
    """io_stream line buffers of a 2D window (convolution or pooling): kernel_height - 1 rows of the input, each
    in_width x channels elements (nnet_conv2d_stream.h / nnet_pooling_stream.h `ap_shift_reg line_buffer`)."""
    return max(kernel_height - 1, 0) * in_width * channels * bits


def dense_stream_buffer_bits(n_in: int, words: int, bits: int) -> int:
    """An io_stream Dense reads its input into an array of n_in registers (nnet_dense_stream.h `data`, partitioned
    complete) over `words` stream reads; when the input comes in one word (after another Dense) they are the word
    itself, when a flattened feature map arrives a pixel per word they hold all of it until the last pixel."""
    return n_in * bits if words > 1 else 0


def bn_shape(channels: int, positions: int, io_type: str) -> dict[str, int]:
    """A BatchNormalization's LayerIR shape. io_parallel (nnet_batchnorm.h normalize) unrolls every element of
    the tensor at once: n_out = channels x positions, one step. io_stream (nnet_batchnorm_stream.h) unrolls
    one pixel's channels and runs once per pixel: n_out = channels, n_pos = n_steps = positions."""
    if io_type == "io_stream":
        return {"n_out": channels, "n_pos": positions, "n_steps": positions}
    return {"n_out": channels * positions, "n_pos": 1, "n_steps": 1}


def csd_digits(values: np.ndarray) -> np.ndarray:
    """Non-zero digits of the non-adjacent form (canonical signed digits) of integers."""
    n = np.abs(np.asarray(values, dtype=np.int64))
    count = np.zeros(n.shape, dtype=np.int64)
    while np.any(n):
        odd = (n & 1).astype(bool)
        digit = np.where(odd, 2 - (n & 3), 0)  # +1 or -1 where odd
        count += odd
        n = (n - digit) >> 1
    return count


def weight_stats(weights: np.ndarray, frac_bits: int) -> WeightStats:
    """Stats of weights already on a grid of 2^-frac_bits (values off the grid are rounded)."""
    w = np.asarray(weights, dtype=np.float64).ravel()
    ints = np.rint(w * 2.0 ** frac_bits).astype(np.int64)
    digits = csd_digits(ints)
    n_zero = int(np.sum(digits == 0))
    n_pow2 = int(np.sum(digits == 1))
    real = digits > 1
    if not real.any():
        return WeightStats(int(w.size), n_zero, n_pow2, 0.0, 0.0, 0)
    bits = effective_bits(w, frac_bits)[real]
    return WeightStats(int(w.size), n_zero, n_pow2, float(digits[real].mean()), float(bits.mean()),
                       int(np.sum(digits >= 3)))


def unknown_weight_stats(n_weights: int, w_bits: int, n_zero: int = 0, n_pow2: int = 0) -> WeightStats:
    """When only counts are known. Their magnitudes are taken as spread evenly up to the largest that makes
    `n_pow2` of the non-zero ones powers of two (trained weights crowd near zero: the MLP estimator study's 8-bit
    layers have 26-40% of them, an even spread over all 127 magnitudes 6%); with no power of two counted, over
    every magnitude of `w_bits`, where a random b-bit integer has about b/3 non-zero NAF digits (Arno & Wheeler
    1993, 'Signed digit representations of minimal Hamming weight')."""
    n_mult = n_weights - n_zero - n_pow2
    nonzero = n_weights - n_zero
    top = magnitude_range(w_bits, n_pow2 / nonzero if nonzero and n_pow2 else 0.0)
    digits, three = _magnitude_stats(top)
    if top == _full_range(w_bits):
        digits = max(2.0, w_bits / 3.0 + 1.0 / 9.0)
    # the products' width stays the layer's type (mean_bits 0): their effective width from the range as well
    # priced the corpus worse held out (LUT median 14.5% against 10.7%)
    return WeightStats(n_weights, n_zero, n_pow2, digits, 0.0, round(n_mult * three))


def _full_range(w_bits: int) -> int:
    return 2 ** (min(w_bits, 16) - 1) - 1


@functools.lru_cache(maxsize=256)
def magnitude_range(w_bits: int, pow2_share: float) -> int:
    """The largest magnitude M such that powers of two are `pow2_share` of 1..M (at most the type's own)."""
    top = _full_range(w_bits)
    if pow2_share <= 0 or top < 3:
        return max(top, 1)
    m = np.arange(3, top + 1)
    share = (np.floor(np.log2(m)) + 1) / m
    return int(m[np.argmin(np.abs(share - pow2_share))])


@functools.lru_cache(maxsize=256)
def _magnitude_stats(top: int) -> tuple[float, float]:
    """(mean CSD digits, share with 3 or more digits) of the magnitudes 1..top that are not powers of two."""
    digits = csd_digits(np.arange(1, max(top, 1) + 1))
    real = digits[digits > 1]
    return (float(real.mean()), float(np.mean(real >= 3))) if real.size else (2.0, 0.0)


def ceil_div(a: float, b: float) -> int:
    return int(math.ceil(a / b)) if b else 0


def effective_bits(weights: np.ndarray, frac_bits: int) -> np.ndarray:
    """Per-weight bits HGQ would count: from the highest to the lowest set bit of |w| on the 2^-frac grid,
    plus a sign bit; 0 for zero weights (Sun et al. 2024, HGQ: per-parameter bitwidths)."""
    ints = np.abs(np.rint(np.asarray(weights, dtype=np.float64).ravel() * 2.0 ** frac_bits)).astype(np.int64)
    out = np.zeros(ints.shape, dtype=np.int64)
    nz = ints > 0
    v = ints[nz]
    low = np.zeros(v.shape, dtype=np.int64)
    while np.any(v % 2 == 0):  # strip trailing zeros
        even = v % 2 == 0
        v = np.where(even, v // 2, v)
        low += even
    out[nz] = np.floor(np.log2(v)).astype(np.int64) + 2  # significant bits + sign
    return out


def ebops(layers: list[LayerIR]) -> float:
    """Effective bit operations: per-weight effective bits x input bits, summed over every MAC layer
    (HGQ's EBOPs; a convolution kernel counted once). Layers without weight values use the layer width."""
    total = 0.0
    for L in layers:
        if L.kind not in MAC_KINDS or not L.weights:
            continue
        data = L.extra.get("weights")
        if data is None:
            total += (L.weights.n_weights - L.weights.n_zero) * L.w_bits * L.in_bits
        else:
            total += float(effective_bits(data, L.w_bits - int(L.extra.get("w_integer", 1))).sum()) * L.in_bits
    return total
