"""hls4ml's sigmoid/tanh lookup tables as its C++ computes them (nnet_activation.h), value for value.

`init_sigmoid_table` stores sigmoid_fcn_float(x) = float(1.0 / (1 + expf(-x))) (the sum in float, the quotient
in double, returned as float), `init_tanh_table` tanhf(x) (g++ resolves the unqualified `tanh(float)` to the
float overload: checked against a compiled table, all 65,536 entries); the entry is cast to table_t, then the
layer casts it to its result type. Here the same float arithmetic runs through the C library g++ links (libm),
so the table is exactly the C model's; QKeras rounds TensorFlow's float32 sigmoid/tanh instead, which can land
on the other side of a rounding tie (`precision.function_table` compares the two on every input value).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache

import numpy as np

from .spec import QuantSpec

TABLE_FRAC = 40  # table_t fraction bits: far finer than any result grid, so the cast rounds the float value
TABLE_INPUT_FRAC = (-2, 12)  # input fraction bits for which the table (2 * range * 2^f entries) indexes exactly
# nnet_activation.h: entry i holds f(x_i), x_i = R * (2i - N) / N, for |x| < R
RANGES = {"sigmoid": 8.0, "tanh": 4.0}


@lru_cache(maxsize=1)
def _libm():
    lib = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
    for name in ("expf", "tanhf"):
        getattr(lib, name).restype, getattr(lib, name).argtypes = ctypes.c_float, [ctypes.c_float]
    return lib


def c_function(name: str, xs: np.ndarray) -> np.ndarray:
    """The float the C++ table init computes at each (float32-exact) x."""
    lib = _libm()
    xs = np.asarray(xs, np.float32)
    if name == "tanh":
        return np.array([lib.tanhf(float(x)) for x in xs], np.float32)
    e = np.array([lib.expf(float(-x)) for x in xs], np.float32)
    return (1.0 / (np.float32(1) + e).astype(np.float64)).astype(np.float32)  # 1 + float: float; 1.0 / it: double


def table_type(result: QuantSpec) -> QuantSpec:
    """table_t of a sigmoid/tanh layer with this result type (signed as the result, RND_CONV, SAT)."""
    return QuantSpec(TABLE_FRAC + int(result.signed), int(result.signed), result.signed, "RND_CONV", "SAT")


@lru_cache(maxsize=64)
def _entries(name: str, ulp: float, result: QuantSpec) -> np.ndarray:
    half = RANGES[name]
    xs = np.arange(-round(half / ulp), round(half / ulp)) * ulp  # one entry per input value in [-R, R)
    return result.quantize(table_type(result).quantize(c_function(name, xs)))


def table_values(name: str, x: np.ndarray, in_lsb: float, result: QuantSpec) -> np.ndarray:
    """The layer's output for inputs x on a grid of step in_lsb: the entry at x, the end entries beyond +-R
    (the C++ clamps the index), cast to the result type."""
    half = RANGES[name]
    entries = _entries(name, float(in_lsb), result)
    index = np.round((np.clip(np.asarray(x, np.float64), -half, half - in_lsb) + half) / in_lsb).astype(np.int64)
    return entries[index]
