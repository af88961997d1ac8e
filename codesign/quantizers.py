"""QKeras quantizer -> QuantSpec: the one place where QKeras sign/integer conventions live.

Mapping verified against qkeras 0.9.0 `quantizers.py` (tf.round = round half to even = AP_RND_CONV,
clip = AP_SAT) and hls4ml 1.3.0 `utils/config.py::_get_precision_from_quantizer`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import CodesignError
from .spec import QuantSpec, spec_for_values

SUPPORTED_ACTIVATIONS = "quantized_relu, quantized_bits, quantized_tanh"
SUPPORTED_WEIGHTS = "quantized_bits (alpha=1 or None), quantized_po2"


def quantizer_object(config: Any):
    """Instantiate a QKeras quantizer from a layer-config entry (dict, string or object)."""
    from qkeras.quantizers import get_quantizer

    return config if hasattr(config, "__call__") and not isinstance(config, (str, dict)) else get_quantizer(config)


def _name(q) -> str:
    return getattr(q, "__name__", None) or type(q).__name__


def _check_alpha(q, where: str) -> None:
    alpha = getattr(q, "alpha", None)
    if alpha is None or (not isinstance(alpha, str) and float(np.max(alpha)) == 1.0 and np.size(alpha) == 1):
        return
    raise CodesignError(
        f"{where}: quantized_bits with alpha={alpha!r} (a per-channel scale) is not supported; "
        "allowed: alpha=1 or alpha=None"
    )


def bits_spec(q, activation: bool, where: str) -> QuantSpec:
    """quantized_bits(bits, integer, symmetric, keep_negative): fixed<bits, integer+1> or ufixed<bits, integer>."""
    _check_alpha(q, where)
    bits, integer = int(q.bits), int(q.integer)
    signed = bool(q.keep_negative)
    overflow = "SAT_SYM" if (signed and q.symmetric) else "SAT"
    spec = QuantSpec(bits, integer + int(signed), signed)
    return QuantSpec(spec.width, spec.integer, signed, "RND_CONV", overflow) if activation else spec


def activation_spec(config: Any, where: str) -> QuantSpec:
    """Result type of a QActivation (or a quantized activation inside QDense/QConv)."""
    q = quantizer_object(config)
    name = _name(q)
    if name == "quantized_bits":
        return bits_spec(q, True, where)
    if name == "quantized_relu":
        if q.negative_slope or q.use_sigmoid or q.relu_upper_bound is not None:
            raise CodesignError(
                f"{where}: quantized_relu with negative_slope/use_sigmoid/relu_upper_bound is not supported; "
                "allowed: plain quantized_relu(bits, integer)"
            )
        return QuantSpec(int(q.bits), int(q.integer), False, "RND_CONV", "SAT")
    if name == "quantized_tanh":
        if q.use_real_tanh:
            raise CodesignError(f"{where}: quantized_tanh(use_real_tanh=True) uses a lookup table, not bit-exact; "
                                "allowed: use_real_tanh=False (hard tanh)")
        return QuantSpec(int(q.bits), 1, True, "RND_CONV", "SAT_SYM" if q.symmetric else "SAT")
    raise CodesignError(f"{where}: unsupported activation quantizer {name!r}; allowed: {SUPPORTED_ACTIVATIONS}")


def weight_spec(config: Any, values: np.ndarray, where: str) -> QuantSpec:
    """Type that holds the quantized weights exactly (po2 weights: from their actual exponents)."""
    q = quantizer_object(config)
    if _name(q) == "quantized_bits":
        return bits_spec(q, False, where)
    if _name(q) == "quantized_po2":
        return spec_for_values(np.asarray(q(values.astype(np.float32))))
    raise CodesignError(f"{where}: unsupported weight quantizer {_name(q)!r}; allowed: {SUPPORTED_WEIGHTS}")
