"""Activation range calibration: the clipping value that sets a layer's integer bits.

Methods as in Nagel et al. 2021 (white paper, sec. 3.5) and Krishnamoorthi 2018; KL as in TensorRT
(Migacz 2017, '8-bit inference with TensorRT')."""

from __future__ import annotations

import math

import numpy as np

from ..policy import integer_bits  # noqa: F401 - a clip's integer bits: the one rule, re-exported

METHODS = ("minmax", "ema_minmax", "percentile", "mean_ksigma", "mse", "kl")


def minmax(x: np.ndarray) -> float:
    return float(np.max(np.abs(x)))


def ema_minmax(x: np.ndarray, batch: int = 64, momentum: float = 0.9) -> float:
    """Moving average of per-batch max |x| (TensorFlow QAT's default range tracker)."""
    flat = np.abs(x.reshape(len(x), -1))
    value = None
    for start in range(0, len(flat), batch):
        m = float(flat[start:start + batch].max())
        value = m if value is None else momentum * value + (1 - momentum) * m
    return float(value)


def percentile(x: np.ndarray, p: float = 99.99) -> float:
    return float(np.percentile(np.abs(x), p))


def mean_ksigma(x: np.ndarray, k: float = 3.0) -> float:
    a = np.abs(x)
    return float(a.mean() + k * a.std())


def quantize_clip(x: np.ndarray, clip: float, bits: int, signed: bool) -> np.ndarray:
    """Uniform quantizer with 2^bits levels on [0, clip) (or [-clip, clip)), round to nearest, saturate."""
    levels = 2 ** (bits - int(signed))
    step = clip / levels
    lo = -clip if signed else 0.0
    return np.clip(np.round(x / step) * step, lo, clip - step)


def mse(x: np.ndarray, bits: int, signed: bool = False, grid: int = 200) -> float:
    """The clip that minimises the mean squared quantization error (grid search over 0.5%..100% of max)."""
    top = minmax(x)
    if top == 0:
        return 0.0
    candidates = top * np.linspace(0.005, 1.0, grid)
    errors = [np.mean((quantize_clip(x, c, bits, signed) - x) ** 2) for c in candidates]
    return float(candidates[int(np.argmin(errors))])


def kl(x: np.ndarray, bits: int, bins: int = 2048) -> float:
    """Entropy calibration: the threshold whose 2^bits-level quantized histogram is closest in KL divergence
    to the clipped reference histogram (outliers folded into the last bin)."""
    a = np.abs(x).ravel()
    top = float(a.max())
    if top == 0:
        return 0.0
    hist, edges = np.histogram(a, bins=bins, range=(0, top))
    levels = 2 ** bits
    best, best_i = math.inf, bins
    for i in range(levels, bins + 1, max(1, bins // 256)):
        ref = hist[:i].astype(np.float64).copy()
        ref[-1] += hist[i:].sum()
        chunks = np.array_split(np.arange(i), levels)
        q = np.zeros(i)
        for c in chunks:
            nz = hist[c] > 0
            if nz.any():
                q[c[nz]] = hist[c].sum() / nz.sum()
        p = ref / ref.sum()
        q = q / max(q.sum(), 1e-12)
        mask = p > 0
        div = float(np.sum(p[mask] * np.log(p[mask] / np.maximum(q[mask], 1e-12))))
        if div < best:
            best, best_i = div, i
    return float(edges[best_i])


def clip_value(x: np.ndarray, method: str, bits: int, signed: bool = False) -> float:
    if method == "minmax":
        return minmax(x)
    if method == "ema_minmax":
        return ema_minmax(x)
    if method == "percentile":
        return percentile(x)
    if method == "mean_ksigma":
        return mean_ksigma(x)
    if method == "mse":
        return mse(x, bits, signed)
    if method == "kl":
        return kl(x, bits)
    raise ValueError(f"unknown calibration method {method!r}; allowed: {', '.join(METHODS)}")
