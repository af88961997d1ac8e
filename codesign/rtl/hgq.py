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

from hw_models.da import matmul

from ..errors import CodesignError
from .network import pool_geometry, pool_windows, quantize_variable, reduce_windows, to_array, windows

ROUNDING = {"TRN": "TRN", "RND": "RND", "RND_CONV": "RND_CONV"}  # HGQ name -> what the RTL builds
OVERFLOW = ("WRAP", "SAT", "SAT_SYM")


def is_proxy(model) -> bool:
    return any(type(layer).__name__ == "FixedPointQuantizer" for layer in model.layers)


def _per_element(variable) -> np.ndarray:
    """A quantizer's per-element array without its batch axis (a scalar stays a scalar)."""
    arr = np.asarray(variable.numpy(), np.int64)
    return arr[0] if arr.ndim > 1 else arr


def uniform_over_pixels(layer) -> bool:
    """Whether the quantizer gives every pixel the same widths (per channel at most): what a stream kernel,
    reused for every pixel, can build. HGQ trains that with skip_dims='all' (its io_stream setting)."""
    for v in (layer.keep_negative, layer.bits, layer.integers):
        arr = _per_element(v)
        if arr.ndim > 1 and np.any(arr.reshape(-1, arr.shape[-1]) != arr.reshape(-1, arr.shape[-1])[:1]):
            return False
    return True


def _kif(layer, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-element (keep_negative, integer bits without sign, fraction bits) broadcast to `shape`; a value of
    one pixel (a stream kernel's) takes the widths every pixel has (`uniform_over_pixels`)."""
    def spread(variable) -> np.ndarray:
        arr = _per_element(variable)
        if arr.ndim > 1 and arr.shape[:-1] != tuple(shape[:-1]) and arr.ndim == len(shape):
            arr = arr.reshape(-1, arr.shape[-1])[:1].reshape((1,) * (arr.ndim - 1) + arr.shape[-1:])
        return np.broadcast_to(arr, shape)

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
        out[idx] = quantize_variable(v, int(k[idx]), int(i[idx]), int(f[idx]), overflow, rounding)
    return to_array(out, x)


def input_grid(model, x: np.ndarray) -> np.ndarray:
    """The inputs as the proxy's first quantizer leaves them (HGQ's own function): what the RTL reads."""
    first = model.layers[1]
    if type(first).__name__ != "FixedPointQuantizer":
        raise CodesignError("HGQ proxy model: its first layer after the input must be a FixedPointQuantizer")
    return np.asarray(first(np.asarray(x, np.float32)), np.float64)


def _conv(layer, x, one_window: bool = False):
    """A convolution over x; one_window: x is exactly one window (a stream kernel: no padding there)."""
    cfg = layer.get_config()
    kernel, *rest = (np.asarray(w, np.float64) for w in layer.get_weights())
    if tuple(np.atleast_1d(cfg.get("dilation_rate", 1))) not in ((1,), (1, 1)) or cfg.get("groups", 1) != 1:
        raise CodesignError(f"layer '{layer.name}': dilation/groups; allowed in RTL: 1")
    size = kernel.shape[:-2]
    win = windows(x._vars, size, tuple(np.atleast_1d(cfg["strides"])), "valid" if one_window else cfg["padding"])
    positions = win.shape[:len(size)]
    y = matmul(to_array(win.reshape(*positions, -1), x), kernel.reshape(-1, kernel.shape[-1]))
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


def _apply(layer, x, one_window: bool = False):
    name = type(layer).__name__
    if name == "FixedPointQuantizer":
        return _quantize(x, layer)
    if name == "Dense":
        kernel, *rest = (np.asarray(w, np.float64) for w in layer.get_weights())
        if layer.get_config()["activation"] != "linear":
            raise CodesignError(f"layer '{layer.name}': a Dense with a fused activation; proxies keep them apart")
        return matmul(x, kernel) + (rest[0] if rest else 0.0)
    if name in CONV:
        return _conv(layer, x, one_window)
    if name in MAX_POOL:
        return to_array(reduce_windows(pool_windows(x, layer), maximum=True), x)
    if name in ("ReLU", "Activation"):
        return _activation(layer, x)
    if name in WIRING:
        return to_array(x._vars.reshape(tuple(layer.output_shape[1:])), x)
    raise CodesignError(f"layer '{layer.name}' ({name}): not expressible in RTL here; HGQ proxies with "
                        "Dense, Conv1D/2D, MaxPooling, ReLU, Flatten/Reshape are")


CONV = ("Conv1D", "Conv2D")
MAX_POOL = ("MaxPooling1D", "MaxPooling2D")
WIRING = ("Flatten", "Reshape")
FUSED = ("FixedPointQuantizer", "ReLU", "Activation")  # act on each value alone: fused into the kernel before


def _parent(layer):
    (parent,) = [n.inbound_layers for n in layer._inbound_nodes]
    return parent


def build(model):
    """(inputs, outputs) da4ml arrays of an HGQ proxy model; its inputs are `input_grid(model, x)`."""
    from da4ml.trace import FixedVariableArrayInput

    inp = FixedVariableArrayInput(tuple(model.input_shape[1:]))
    values = {model.layers[1].name: _quantize(inp, model.layers[1])}  # declares the grid input_grid() produced
    out = None
    for layer in model.layers[2:]:
        values[layer.name] = out = _apply(layer, values[_parent(layer).name])
    if out is None:
        raise CodesignError("HGQ proxy model without layers after its input quantizer")
    return inp, out


def _shape(layer) -> tuple[int, ...]:
    return tuple(layer.output_shape[1:])


def _grid_of(model, name: str):
    """The quantizer whose grid the output of layer `name` lies on: the nearest one upstream."""
    layer = model.get_layer(name)
    while type(layer).__name__ != "FixedPointQuantizer":
        layer = _parent(layer)
    return layer


def stream_plan(model) -> list:
    """The proxy as hls4ml io_stream builds it (`stream.py`): one kernel per Conv/MaxPooling (one window) or
    Dense (one pixel's channels), the quantizers and activations after it fused in, Flatten/Reshape as wiring."""
    from .stream import Stage, stream_buffer_bits

    readers: dict[str, int] = {}
    for layer in model.layers[2:]:
        readers[_parent(layer).name] = readers.get(_parent(layer).name, 0) + 1
    for layer in model.layers[1:]:
        if type(layer).__name__ == "FixedPointQuantizer" and len(_shape(layer)) > 1 and \
                not uniform_over_pixels(layer):
            raise CodesignError(f"layer '{layer.name}': per-pixel bit widths; a stream kernel serves every pixel, "
                                "so it needs one width per channel (HGQ: skip_dims='all' for io_stream)")
    stages, current = [], None
    for layer in model.layers[2:]:
        parent, name = _parent(layer), type(layer).__name__
        if name in WIRING:
            stages.append(Stage([layer], [(parent.name, _shape(parent))], wiring=True))
            current = None
            continue
        if name in FUSED and current is not None and current.output == parent.name and readers[parent.name] == 1:
            current.nodes.append(layer)
            continue
        spatial = _shape(parent)[:-1]
        if name in CONV or name in MAX_POOL:
            cfg = layer.get_config()
            if name in CONV:
                kernel = tuple(np.asarray(layer.get_weights()[0]).shape[:len(spatial)])
                strides, padding = tuple(np.atleast_1d(cfg["strides"])), cfg["padding"]
            else:
                kernel, strides = pool_geometry(layer, spatial)
                padding = "valid"
            width = int(np.max(_per_element(_grid_of(model, parent.name).bits)))
            current = Stage([layer], [(parent.name, kernel + _shape(parent)[-1:])], kernel, strides, padding,
                            calls=int(np.prod(_shape(layer)[:-1])),
                            line_buffer_bits=stream_buffer_bits(kernel, _shape(parent), width))
        elif name == "Dense" or name in FUSED:
            current = Stage([layer], [(parent.name, _shape(parent)[-1:])], calls=int(np.prod(spatial)) or 1)
        else:
            _apply(layer, None)  # raises the one message for layers not built here
        stages.append(current)
    return stages


def build_kernel(model, stage):
    """(inputs, outputs) of one stream kernel: its flat input (one window or one pixel) declared on the grid of
    the quantizer it comes from, then the stage's layers."""
    from da4ml.trace import FixedVariableArrayInput

    ((src, shape),) = stage.inputs
    inp = FixedVariableArrayInput((int(np.prod(shape)),))
    before = model.get_layer(src)  # the value as its quantizer shaped it: before any Flatten/Reshape
    while type(before).__name__ in WIRING:
        before = _parent(before)
    if before.name != src and int(np.prod(_shape(before))) != int(np.prod(shape)):
        raise CodesignError(f"layer '{stage.name}': reads part of a reshaped value; stream kernels are built for "
                            "a whole flattened value")
    declared = _shape(before) if before.name != src else shape
    x = _quantize(to_array(inp._vars.reshape(declared), inp), _grid_of(model, before.name))
    x = to_array(x._vars.reshape(shape), x)
    for layer in stage.nodes:
        x = _apply(layer, x, one_window=stage.window is not None and layer is stage.nodes[0])
    return inp, to_array(x._vars.reshape(-1), x)


def simulate_stream(stages: list, model, xq: np.ndarray, run_kernel) -> np.ndarray:
    """The streamed proxy's outputs for inputs on its input grid: every kernel on every window (`stream.py`)."""
    from .stream import batch_windows

    n = len(xq)
    values = {model.layers[1].name: np.asarray(xq, np.float64).reshape((n,) + _shape(model.layers[1]))}
    for stage in stages:
        layer = stage.nodes[0]
        src = stage.inputs[0][0]
        if stage.wiring:
            values[layer.name] = values[src].reshape((n,) + _shape(layer))
            continue
        rows = batch_windows(values[src], stage) if stage.window is not None else \
            values[src].reshape(-1, values[src].shape[-1])
        values[stage.output] = np.asarray(run_kernel(stage, rows), np.float64).reshape((n,) + _shape(stage.nodes[-1]))
    return values[stages[-1].output].reshape(n, -1)
