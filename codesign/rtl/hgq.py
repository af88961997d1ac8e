"""HGQ proxy models (HGQ 0.2.6 `to_proxy_model`) as da4ml logic: the same RTL flow judges HGQ's designs.

A proxy model is plain Keras layers (Dense, Conv, ReLU, pooling, reshaping) whose weights already lie on
their per-weight grids, between `FixedPointQuantizer` layers that hold a (keep_negative, bits, integers)
triple per element and a rounding and an overflow mode (HGQ/proxy/fixed_point_quantizer.py
gfixed_quantizer: f = bits - integers; bits == 0 gives 0). Each of those becomes a per-element da4ml
quantize, the Dense/Conv kernels da4ml's constant-matrix adder graphs, exactly as `network.py` builds
QKeras models. The first quantizer reads the float inputs: it is applied in numpy (HGQ's own function) and
the RTL takes its result.
"""

from __future__ import annotations

import numpy as np

from ..errors import CodesignError
from .network import pool_windows, reduce_windows, round_half_even, to_array, windows

ROUNDING = {"TRN": "TRN", "RND": "RND", "RND_CONV": "RND_CONV"}  # HGQ name -> what the RTL builds
OVERFLOW = ("WRAP", "SAT", "SAT_SYM")


def is_proxy(model) -> bool:
    return any(type(layer).__name__ == "FixedPointQuantizer" for layer in model.layers)


def _kif(layer, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-element (keep_negative, integer bits without sign, fraction bits) broadcast to `shape`."""
    def spread(variable) -> np.ndarray:
        arr = np.asarray(variable.numpy(), np.int64)
        return np.broadcast_to(arr[0] if arr.ndim == len(shape) + 1 else arr, shape)

    k, b, i = (spread(v) for v in (layer.keep_negative, layer.bits, layer.integers))
    zero = b == 0
    return np.where(zero, 0, k), np.where(zero, 0, i - k), np.where(zero, 0, b - i)


def _quantize(x, layer):
    from da4ml.trace import FixedVariable

    rounding, overflow = layer.RND, layer.SAT
    if rounding not in ROUNDING or overflow not in OVERFLOW:
        raise CodesignError(f"layer '{layer.name}': HGQ quantizer {rounding}/{overflow}; RTL is built for rounding "
                            f"{', '.join(ROUNDING)} and overflow {', '.join(OVERFLOW)}")
    k, i, f = _kif(layer, x.shape)
    out = np.empty(x.shape, dtype=object)
    for idx in np.ndindex(x.shape):
        v = x._vars[idx]
        if k[idx] + i[idx] + f[idx] <= 0:  # bits == 0: HGQ multiplies the value by 0
            out[idx] = FixedVariable.from_const(0.0, hwconf=v.hwconf, _factor=1)
            continue
        mode = rounding
        if mode == "RND_CONV":
            v, mode = round_half_even(v, int(f[idx])), "TRN"
        out[idx] = v.quantize(int(k[idx]), int(i[idx]), int(f[idx]), overflow, mode)
    return to_array(out, x)


def input_grid(model, x: np.ndarray) -> np.ndarray:
    """The inputs as the proxy's first quantizer leaves them (HGQ's own function): what the RTL reads."""
    first = model.layers[1]
    if type(first).__name__ != "FixedPointQuantizer":
        raise CodesignError("HGQ proxy model: its first layer after the input must be a FixedPointQuantizer")
    return np.asarray(first(np.asarray(x, np.float32)), np.float64)


def _conv(layer, x):
    cfg = layer.get_config()
    kernel, *rest = (np.asarray(w, np.float64) for w in layer.get_weights())
    if tuple(np.atleast_1d(cfg.get("dilation_rate", 1))) not in ((1,), (1, 1)) or cfg.get("groups", 1) != 1:
        raise CodesignError(f"layer '{layer.name}': dilation/groups; allowed in RTL: 1")
    size = kernel.shape[:-2]
    win = windows(x._vars, size, tuple(np.atleast_1d(cfg["strides"])), cfg["padding"])
    positions = win.shape[:len(size)]
    y = to_array(win.reshape(*positions, -1), x) @ kernel.reshape(-1, kernel.shape[-1])
    return y + rest[0] if rest and cfg.get("use_bias", True) else y


def _activation(layer, x):
    cfg = layer.get_config()
    name = type(layer).__name__
    if name == "ReLU" and cfg.get("max_value") is None and not float(cfg.get("negative_slope", 0)) \
            and not float(cfg.get("threshold", 0)):
        return x.relu()
    if name == "Activation" and cfg["activation"] in ("relu", "linear"):
        return x.relu() if cfg["activation"] == "relu" else x
    raise CodesignError(f"layer '{layer.name}' ({name} {cfg.get('activation', '')}): not expressible in RTL here; "
                        "HGQ proxies are built with ReLU/linear activations")


def build(model):
    """(inputs, outputs) da4ml arrays of an HGQ proxy model; its inputs are `input_grid(model, x)`."""
    from da4ml.trace import FixedVariableArrayInput

    inp = FixedVariableArrayInput(tuple(model.input_shape[1:]))
    values = {model.layers[1].name: _quantize(inp, model.layers[1])}  # declares the grid input_grid() produced
    out = None
    for layer in model.layers[2:]:
        (parent,) = [n.inbound_layers for n in layer._inbound_nodes]
        x = values[parent.name]
        name = type(layer).__name__
        if name == "FixedPointQuantizer":
            y = _quantize(x, layer)
        elif name == "Dense":
            kernel, *rest = (np.asarray(w, np.float64) for w in layer.get_weights())
            if layer.get_config()["activation"] != "linear":
                raise CodesignError(f"layer '{layer.name}': a Dense with a fused activation; proxies keep them apart")
            y = x @ kernel + (rest[0] if rest else 0.0)
        elif name in ("Conv1D", "Conv2D"):
            y = _conv(layer, x)
        elif name in ("MaxPooling1D", "MaxPooling2D"):
            y = to_array(reduce_windows(pool_windows(x, layer), maximum=True), x)
        elif name in ("ReLU", "Activation"):
            y = _activation(layer, x)
        elif name in ("Flatten", "Reshape"):
            y = to_array(x._vars.reshape(tuple(layer.output_shape[1:])), x)
        else:
            raise CodesignError(f"layer '{layer.name}' ({name}): not expressible in RTL here; HGQ proxies with "
                                "Dense, Conv1D/2D, MaxPooling, ReLU, Flatten/Reshape are")
        values[layer.name] = out = y
    if out is None:
        raise CodesignError("HGQ proxy model without layers after its input quantizer")
    return inp, out
