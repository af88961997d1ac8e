"""Sizing rules every converter shares (one place, so QAT, PTQ and the search agree)."""

from __future__ import annotations

import math


def integer_bits(magnitude: float) -> int:
    """Integer bits (QKeras convention, sign excluded) of a power-of-two range [-2^i, 2^i) covering
    |values| <= magnitude; at least 0 (QKeras)."""
    return max(0, math.ceil(math.log2(magnitude))) if magnitude > 0 else 0


HLS4ML_DEFAULT_TYPE = "fixed<16,6>"  # hls4ml config_from_keras_model's default for every type, inputs included


def input_spec(model, x=None, input_type=None, where: str = "input_type", fallback: str | None = None):
    """The input type of a model: `input_type` as given (a QuantSpec or text such as 'ufixed<8,0>'); else the
    narrowest that holds the inputs x exactly (`validate.derive_input_spec`); else `fallback` (estimates:
    hls4ml's default HLS4ML_DEFAULT_TYPE), or an error naming what to give. `where`: the name the user typed."""
    from .errors import CodesignError
    from .spec import parse_hls

    if input_type is None and x is None:
        if fallback is None:
            raise CodesignError(f"give x (inputs, to derive the input type) or {where} (e.g. 'ufixed<8,0>')")
        input_type = fallback
    if input_type is not None:
        try:
            return parse_hls(input_type) if isinstance(input_type, str) else input_type
        except ValueError as exc:
            raise CodesignError(f"{where}: {exc}") from None
    from .validate import derive_input_spec

    return derive_input_spec(x, model)
