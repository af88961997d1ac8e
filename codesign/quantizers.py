"""QKeras quantizer -> QuantSpec: the one place where QKeras sign/integer conventions live.

Mapping verified against qkeras 0.9.0 `quantizers.py` (tf.round = round half to even = AP_RND_CONV,
clip = AP_SAT, symmetric clip = AP_SAT_SYM). Only `precision.py` calls these functions.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import CodesignError
from .spec import QuantSpec, spec_for_values

SUPPORTED_ACTIVATIONS = ("quantized_relu(bits, integer, negative_slope=0 or 2^-k), quantized_bits(alpha=1 or None), "
                         "binary(alpha=1 or None), binary_tanh, ternary(alpha=float or None, threshold=float), "
                         "quantized_tanh, quantized_sigmoid")
# Weights are stored as the exact values their quantizer produces, so any quantizer whose values fit a
# fixed-point type is exact: quantized_bits (any alpha whose scales are powers of two), quantized_po2,
# binary, ternary, or no quantizer at all (float weights).
WEIGHT_FRAC_BITS_MAX = 32


def quantizer_object(config: Any):
    """Instantiate a QKeras quantizer from a layer-config entry (dict, string or object)."""
    from qkeras.quantizers import get_quantizer

    return config if hasattr(config, "__call__") and not isinstance(config, (str, dict)) else get_quantizer(config)


def quantizer_name(q) -> str:
    return getattr(q, "__name__", None) or type(q).__name__


def nominal_bits_spec(q) -> QuantSpec:
    """quantized_bits(bits, integer, keep_negative): the grid fixed<bits, integer+1> / ufixed<bits, integer>."""
    signed = bool(q.keep_negative)
    return QuantSpec(int(q.bits), int(q.integer) + int(signed), signed)


def _unit_alpha(q) -> bool:
    alpha = getattr(q, "alpha", None)
    return alpha is None or (not isinstance(alpha, str) and np.size(alpha) == 1 and float(np.max(alpha)) == 1.0)


def is_sign(q) -> bool:
    """QKeras quantizers that compute sign(x) with 0 -> +1 (qkeras quantizers.py: binary, quantized_bits(1))."""
    name = quantizer_name(q)
    if name == "binary":
        return _unit_alpha(q) and not q.use_01 and not q.use_stochastic_rounding
    return name == "quantized_bits" and int(q.bits) == 1 and bool(q.keep_negative) and _unit_alpha(q)


SIGN_SPEC = QuantSpec(2, 2, True)  # -1 and +1


def activation_spec(config: Any, where: str) -> QuantSpec:
    """Result type of a QActivation (or a quantized activation split off a QDense/QConv)."""
    q = quantizer_object(config)
    name = quantizer_name(q)
    if is_sign(q):
        return SIGN_SPEC
    if activation_form(q, where) != "plain":  # lower.py builds these from plain activations, BN and LeakyReLU
        raise CodesignError(f"{where}: {name} must be lowered first (lower.py)")
    if name == "quantized_sigmoid":
        # round(clip(x/2 + 1/2, 0, 1) * 2^bits) / 2^bits, clipped to 1 - 2^-bits: hls4ml hard_sigmoid + this cast
        # (use_real_sigmoid: hls4ml's sigmoid table + this cast, precision.function_table)
        return QuantSpec(int(q.bits), 0, False, "RND_CONV", "SAT")
    if name == "quantized_bits":
        if not _unit_alpha(q):
            raise CodesignError(f"{where}: activation quantized_bits(alpha={q.alpha!r}) scales at run time; "
                                f"allowed activations: {SUPPORTED_ACTIVATIONS}")
        if int(q.bits) - int(q.keep_negative) < 1:
            raise CodesignError(f"{where}: activation quantized_bits({q.bits}, keep_negative=False) is a step to "
                                f"0/1; allowed activations: {SUPPORTED_ACTIVATIONS}")
        spec = nominal_bits_spec(q)
        overflow = "SAT_SYM" if (spec.signed and q.symmetric) else "SAT"
        return QuantSpec(spec.width, spec.integer, spec.signed, "RND_CONV", overflow)
    if name == "quantized_relu":
        return QuantSpec(int(q.bits), int(q.integer), False, "RND_CONV", "SAT")
    if name == "quantized_tanh":  # hard: hls4ml hard_tanh; use_real_tanh: precision.function_table
        return QuantSpec(int(q.bits), 1, True, "RND_CONV", "SAT_SYM" if q.symmetric else "SAT")
    raise CodesignError(f"{where}: unsupported activation quantizer {name!r}; allowed: {SUPPORTED_ACTIVATIONS}")


def activation_form(q, where: str = "activation") -> str:
    """How lower.py builds a QKeras activation: 'plain' (one hls4ml activation and its result cast), 'sign',
    'binary_tanh', 'ternary', 'leaky_relu' or 'sigmoid_symmetric' (a few layers hls4ml computes exactly).
    Refuses, with one line, the parameters no exact construction exists for."""
    name = quantizer_name(q)
    where = f"{where} {q}"
    if is_sign(q):
        return "sign"
    if name == "binary_tanh":
        return "binary_tanh"
    if name == "ternary":
        ternary_parameters(q, where)
        return "ternary"
    if name == "quantized_sigmoid":
        if q.use_stochastic_rounding:
            raise CodesignError(f"{where}: quantized_sigmoid with stochastic rounding is not bit-exact; "
                                f"allowed: {SUPPORTED_ACTIVATIONS}")
        return "sigmoid_symmetric" if q.symmetric else "plain"
    if name == "quantized_relu":
        if q.use_sigmoid or q.relu_upper_bound is not None or q.use_stochastic_rounding:
            raise CodesignError(f"{where}: quantized_relu with use_sigmoid/relu_upper_bound/stochastic rounding is "
                                f"not supported; allowed: {SUPPORTED_ACTIVATIONS}")
        if q.negative_slope:
            leaky_parameters(q, where)
            return "leaky_relu"
    return "plain"


def ternary_parameters(q, where: str) -> tuple[float, float]:
    """(threshold, alpha) of a ternary activation: QKeras (quantizers.py ternary.__call__) returns
    alpha * sign(x) * (|x| >= threshold), the threshold compared in float32 (default 0.33, alpha 1)."""
    alpha = q.alpha
    if isinstance(alpha, str) or np.size(alpha) != 1 or q.use_stochastic_rounding:
        raise CodesignError(f"{where}: a ternary activation with alpha={alpha!r} or stochastic rounding scales at run "
                            f"time; allowed: ternary(alpha=a float or None, threshold=a float)")
    if isinstance(q.threshold, str):
        raise CodesignError(f"{where}: ternary threshold {q.threshold!r}; allowed: a float")
    threshold = q.default_threshold if q.threshold is None else q.threshold
    return float(np.float32(threshold)), 1.0 if alpha is None else float(np.float32(np.max(alpha)))


def leaky_parameters(q, where: str) -> tuple[int, int, int]:
    """(bits, integer, k) of quantized_relu(bits, integer, negative_slope=2^-k) (QKeras asserts a power of two).

    QKeras (quantizers.py quantized_relu.__call__, use_sigmoid=False): x >= 0 gives
    clip(round(x / g) * g, 0, 2^integer - g) and x < 0 gives clip(round(s * x / g) * g, -s * 2^integer, 0),
    with g = 2^(integer - bits + 1). For k > bits - 1 the negative floor s * 2^integer is finer than g.
    """
    bits, integer = int(q.bits), int(q.integer)
    k = int(round(-math.log2(float(q.negative_slope))))
    if not (0 <= k <= bits - 1 and bits >= 2):
        raise CodesignError(f"{where}: negative_slope {q.negative_slope} with {bits} bits puts its floor "
                            f"-negative_slope*2^integer off the {bits}-bit grid; allowed: negative_slope 2^-k with "
                            "0 <= k <= bits - 1")
    return bits, integer, k


def weight_spec(quantizer: Any, values: np.ndarray, where: str) -> tuple[QuantSpec, str | None]:
    """Type holding the (already quantized) weight values exactly, and a note when it is not the nominal one.

    quantized_bits keeps its nominal grid when that holds every value (the width the user chose);
    otherwise (alpha scales, +1 of quantized_bits(1), po2 exponents, binary/ternary, float weights) the
    narrowest type of the values themselves.
    """
    q = quantizer_object(quantizer) if quantizer is not None else None
    if q is not None and quantizer_name(q) == "quantized_bits":
        nominal = nominal_bits_spec(q)
        if np.array_equal(nominal.quantize(values), np.asarray(values, np.float64)):
            return nominal, None
    spec = spec_for_values(values, max_width=WEIGHT_FRAC_BITS_MAX)
    if not np.array_equal(spec.quantize(values), np.asarray(values, np.float64)):
        kind = "float weights" if q is None else f"{quantizer_name(q)} weights"
        raise CodesignError(f"{where}: {kind} need more than {WEIGHT_FRAC_BITS_MAX} fraction bits to be held "
                            "exactly; allowed: quantized weights (quantized_bits, quantized_po2, binary, ternary) "
                            "or float weights on a coarser grid")
    note = "float weights: exact type chosen from the values" if q is None else None
    return spec, note
