"""Typed graph -> da4ml combinational logic that computes what the QKeras model computes, bit for bit.

Every node is built from its types in `precision.py` (the one authority): inputs cast to the input
type, multiply-accumulates summed exactly by da4ml's constant-matrix-vector solver (the typed graph
sizes accumulators so nothing is lost), results cast with the node's rounding and overflow modes
(`cast`), the rest as hls4ml's templates compute it (nnet_activation.h, nnet_pooling.h, nnet_merge.h).
A final softmax is not built: it is a lookup-table approximation in hls4ml too, and its argmax is the
argmax of the logits this network outputs.
"""

from __future__ import annotations

import numpy as np

from hw_models.da import matmul  # every constant-matrix product; importing it makes da4ml exact (da4ml_fixes)

from ..errors import CodesignError
from ..precision import LayerKind, LayerPrecision, TypedGraph, bn_scale_bias
from ..quantizers import quantizer_name, quantizer_object
from ..spec import QuantSpec, mac
from ..tables import table_values

# layers that act on each value alone (one pixel's channels at a time in a stream)
ELEMENTWISE = (LayerKind.QUANTIZE, LayerKind.RELU, LayerKind.SIGN, LayerKind.LEAKY_RELU, LayerKind.FUNCTION_TABLE,
               LayerKind.BATCHNORM)
SUPPORTED_KINDS = ", ".join(k.value for k in LayerKind if k is not LayerKind.SOFTMAX)


def _kif(spec: QuantSpec) -> tuple[int, int, int]:
    """da4ml's (keep_negative, integer bits without the sign, fraction bits)."""
    return int(spec.signed), spec.integer - int(spec.signed), spec.frac


def round_half_even(v, f: int):
    """v moved onto the 2^-f grid so that truncation there rounds half to even (ap_fixed AP_RND_CONV).

    With d = v - floor(v) in units of 2^-f on v's own grid u: floor(v + 1/2 - u + u*lsb) rounds up iff
    d >= 1/2 when the kept LSB is 1 and iff d > 1/2 when it is 0 (ties go to the even neighbour).
    """
    step = float(v.step)
    if step >= 2.0 ** -f:
        return v
    lsb = v.quantize(0, 1 - f, f)  # the bit of weight 2^-f: 0 or 2^-f
    return v + (2.0 ** (-f - 1) - step) + lsb * (step * 2.0 ** f)


def cast(arr, spec: QuantSpec, where: str):
    """Cast every element of a da4ml array to `spec` as ap_fixed does (rounding first, then overflow)."""
    from da4ml.trace import FixedVariableArray

    if spec.rounding not in ("TRN", "RND", "RND_CONV") or spec.overflow not in ("WRAP", "SAT", "SAT_SYM"):
        raise CodesignError(f"{where}: type {spec.to_hls()}: RTL is built for rounding TRN/RND/RND_CONV and "
                            "overflow WRAP/SAT/SAT_SYM")
    k, i, f = _kif(spec)
    flat = np.array([quantize_variable(v, k, i, f, spec.overflow, spec.rounding) for v in arr._vars.ravel()],
                    dtype=object)
    return FixedVariableArray(flat.reshape(arr.shape), arr.solver_options)


def quantize_variable(v, k: int, i: int, f: int, overflow: str, rounding: str):
    """One da4ml variable cast as ap_fixed does to (keep_negative k, integer bits i without the sign, fraction
    bits f): the one symbolic cast of every RTL front-end (the QKeras typed graph's and HGQ's)."""
    from da4ml.trace import FixedVariable

    if v.low == v.high:  # a constant (e.g. a zero kernel column): cast in numpy; da4ml 0.5.2 folds an
        # unsigned quantize of a negative constant wrongly (-0.125 -> -0.25 where the wrapped bit is +0.25)
        spec = QuantSpec(k + i + f, k + i, bool(k), rounding, overflow)
        return FixedVariable.from_const(float(spec.quantize(np.array([float(v.low)]))[0]), hwconf=v.hwconf, _factor=1)
    if rounding == "RND_CONV":
        v, rounding = round_half_even(v, f), "TRN"
    return v.quantize(k, i, f, overflow, rounding)


def windows(x: np.ndarray, kernel: tuple[int, ...], strides: tuple[int, ...], padding: str) -> np.ndarray:
    """Sliding windows of an (H[, W], C) object array: (out positions..., *kernel, C), zero padded as Keras."""
    spatial = x.shape[:-1]
    if padding == "same":
        pads = []
        for size, k, s in zip(spatial, kernel, strides):
            out = -(-size // s)
            total = max((out - 1) * s + k - size, 0)
            pads.append((total // 2, total - total // 2))
        x = np.pad(x, pads + [(0, 0)], constant_values=0.0)
    elif padding != "valid":
        raise CodesignError(f"padding {padding!r}; allowed: valid, same")
    view = np.lib.stride_tricks.sliding_window_view(x, kernel, axis=tuple(range(len(kernel))))
    view = view[tuple(slice(None, None, s) for s in strides)]
    # sliding_window_view puts the window axes last: (..., C, *kernel) -> (..., *kernel, C)
    return np.moveaxis(view, len(kernel), -1)


def to_array(values: np.ndarray, like):
    from da4ml.trace import FixedVariableArray

    return FixedVariableArray(values, like.solver_options)


def _mac(node: LayerPrecision, x, layer, graph: TypedGraph, one_window: bool = False):
    """Dense/Conv/Depthwise; one_window: x is exactly one window of a convolution's input (a stream kernel)."""
    src = graph.lowered.weights[node.name]
    exact = mac(node.input, node.weight, node.n_terms, None if src.bias is None else node.bias)
    if node.accum.frac < exact.frac:
        raise CodesignError(f"layer '{node.name}': accumulator {node.accum.to_hls()} truncates each product; "
                            "RTL is built for exact accumulators (the typed graph's own)")
    kernel = np.asarray(src.kernel, np.float64)
    bias = np.zeros(kernel.shape[-1]) if src.bias is None else np.asarray(src.bias, np.float64)
    cfg = layer.get_config()
    if node.kind is LayerKind.DENSE:
        y = matmul(x, kernel)
    else:
        if tuple(np.atleast_1d(cfg.get("dilation_rate", 1))) not in ((1,), (1, 1)):
            raise CodesignError(f"layer '{node.name}': dilation_rate {cfg['dilation_rate']}; allowed: 1")
        kernel_size = tuple(kernel.shape[:-2])
        strides, padding = ((1,) * len(kernel_size), "valid") if one_window else (tuple(cfg["strides"]),
                                                                                  cfg["padding"])
        win = windows(x._vars, kernel_size, strides, padding)
        positions = win.shape[:len(kernel_size)]
        if node.kind is LayerKind.DEPTHWISE:  # one kernel per channel: y[p, c] = sum_k w[k, c] * x[p, k, c]
            w = kernel.reshape(-1, kernel.shape[-2])
            cols = win.reshape(*positions, -1, w.shape[-1])
            out = np.empty(positions + (w.shape[-1],), dtype=object)
            for c in range(w.shape[-1]):
                out[..., c] = matmul(to_array(cols[..., c], x), w[:, c:c + 1])._vars[..., 0]
            y = to_array(out, x)
        else:
            y = matmul(to_array(win.reshape(*positions, -1), x), kernel.reshape(-1, kernel.shape[-1]))
    return cast(y + bias, node.result, f"layer '{node.name}'")


def _sign(v):
    """x >= 0 ? 1 : -1. da4ml's msb_mux tests the top bit of the signal as stored: the sign only when the
    value can be negative and positive (an all-positive range is stored unsigned). A negated signal is
    kept as (u, factor < 0), where msb(-u) is taken as NOT msb(u), wrong at 0: there x >= 0 is
    u <= 0, i.e. msb(u - lsb)."""
    from da4ml.trace import FixedVariable

    if v.low >= 0 or v.high < 0:
        return FixedVariable.from_const(1.0 if v.low >= 0 else -1.0, hwconf=v.hwconf, _factor=1)
    if v._factor < 0:
        u = -v
        return (u - float(u.step)).msb_mux(1.0, -1.0)
    return v.msb_mux(-1.0, 1.0)


def _rom(v, node: LayerPrecision):
    """hls4ml's real sigmoid/tanh table (clamped at its ends, `tables.py`) at every value v can take."""
    xs = np.arange(round((v.high - v.low) / v.step) + 1) * float(v.step) + float(v.low)
    return v.lookup(table_values(node.table_function, xs, node.input.lsb, node.result))


def _activation(node: LayerPrecision, x, layer):
    where = f"layer '{node.name}'"
    if node.kind is LayerKind.SIGN:  # nnet_activation.h binary_tanh: x >= 0 ? 1 : -1
        return to_array(np.array([_sign(v) for v in x._vars.ravel()], dtype=object).reshape(x.shape), x)
    if node.kind is LayerKind.RELU:
        return x.relu()
    if node.kind is LayerKind.FUNCTION_TABLE:  # one ROM per element over the values it can take
        return to_array(np.array([_rom(v, node) for v in x._vars.ravel()], dtype=object).reshape(x.shape), x)
    if node.kind is LayerKind.LEAKY_RELU:  # nnet_activation.h leaky_relu: x > 0 ? x : alpha * x (exact type)
        alpha = float(layer.get_config()["alpha"])
        return cast(x.relu() - (-x).relu() * alpha, node.result, where)
    if node.class_name == "QActivation" and quantizer_name(quantizer_object(layer.get_config()["activation"])) \
            == "quantized_sigmoid":  # hls4ml hard_sigmoid: clip(x/2 + 1/2, 0, 1); the cast saturates
        x = x * 0.5 + 0.5
    return cast(x, node.result, where)


def pool_geometry(layer, spatial: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(window size, strides) of a (Global)Pooling1D/2D layer over an input with these spatial dimensions;
    only valid padding is built."""
    if type(layer).__name__.startswith("Global"):
        return spatial, spatial
    cfg = layer.get_config()
    if cfg.get("padding", "valid") != "valid":
        raise CodesignError(f"layer '{layer.name}': pooling padding {cfg['padding']!r}; allowed in RTL: valid")
    per_axis = lambda v: tuple(int(a) for a in np.broadcast_to(np.atleast_1d(v), (len(spatial),)))  # noqa: E731
    return per_axis(cfg["pool_size"]), per_axis(cfg["strides"] or cfg["pool_size"])


def pool_windows(x, layer) -> np.ndarray:
    """The windows of a (Global)Pooling1D/2D layer over the da4ml array x: (output positions..., window values,
    channels); a global pooling has one window and no position axes."""
    if type(layer).__name__.startswith("Global"):
        return x._vars.reshape(-1, x.shape[-1])
    size, strides = pool_geometry(layer, x.shape[:-1])
    win = windows(x._vars, size, strides, "valid")
    return win.reshape(*win.shape[:x.ndim - 1], -1, x.shape[-1])


def reduce_windows(win: np.ndarray, maximum: bool) -> np.ndarray:
    """Max (nnet_pooling.h pool_op Max) or sum over each window's values, per channel: (positions..., C)."""
    out = np.empty(win.shape[:-2] + win.shape[-1:], dtype=object)
    for idx in np.ndindex(out.shape):
        column = win[idx[:-1] + (slice(None), idx[-1])]
        acc = column[0]
        for v in column[1:]:
            acc = acc.max_of(v) if maximum else acc + v
        out[idx] = acc
    return out


def _pool(node: LayerPrecision, x, layer):
    win = pool_windows(x, layer)
    out = reduce_windows(win, node.kind is LayerKind.MAX_POOL)
    if node.kind is LayerKind.AVG_POOL:  # nnet_pooling.h: the sum times 1 / window size
        out = np.vectorize(lambda v: v * (1.0 / win.shape[-2]), otypes=[object])(out)
    return cast(to_array(out, x), node.result, f"layer '{node.name}'")


def move_values(node: LayerPrecision, layer, values: np.ndarray, other: np.ndarray | None = None) -> np.ndarray:
    """One sample's values (any dtype) through a node that only moves them: Flatten/Reshape, ZeroPadding,
    UpSampling, a linear Activation or Concatenate (with the second input `other`)."""
    cfg = layer.get_config()
    if node.kind is LayerKind.CONCATENATE:
        axis = cfg.get("axis", -1)
        return np.concatenate([values, other], axis=axis - 1 if axis > 0 else axis)  # Keras counts the batch axis
    if node.class_name == "Activation":
        return values
    target = tuple(layer.output_shape[1:])
    if node.class_name.startswith("ZeroPadding"):
        pad = np.atleast_1d(cfg["padding"])
        pads = [tuple(np.atleast_1d(p)) * (2 if np.size(p) == 1 else 1) for p in
                (pad if pad.ndim > 1 or len(target) == 3 else [pad])]
        return np.pad(values, [tuple(p) for p in pads] + [(0, 0)], constant_values=0.0)
    if node.class_name.startswith("UpSampling"):
        for axis, factor in enumerate(np.atleast_1d(cfg["size"])):
            values = np.repeat(values, int(factor), axis=axis)
        return values
    return values.reshape(target)


def _node_value(graph: TypedGraph, node: LayerPrecision, values: dict, one_window: bool = False):
    """The da4ml array of one node, from the arrays of its inputs in `values` (one_window: see `_mac`)."""
    layer = graph.keras_model.get_layer(node.name)
    x = values[node.inputs[0]]
    where = f"layer '{node.name}' ({node.class_name})"
    if node.kind in (LayerKind.DENSE, LayerKind.CONV, LayerKind.DEPTHWISE):
        return _mac(node, x, layer, graph, one_window)
    if node.kind in ELEMENTWISE and node.kind is not LayerKind.BATCHNORM:
        return _activation(node, x, layer)
    if node.kind is LayerKind.BATCHNORM:  # nnet_batchnorm.h: x * scale + bias, exact types
        scale, bias = (np.asarray(a, np.float64) for a in bn_scale_bias(layer))
        return cast(x * scale + bias, node.result, where)
    if node.kind in (LayerKind.MAX_POOL, LayerKind.AVG_POOL):
        return _pool(node, x, layer)
    if node.kind is LayerKind.ADD:
        return cast(x + values[node.inputs[1]], node.result, where)
    if node.kind in (LayerKind.RESHAPE, LayerKind.CONCATENATE):
        other = values[node.inputs[1]]._vars if node.kind is LayerKind.CONCATENATE else None
        return to_array(move_values(node, layer, x._vars, other), x)
    raise CodesignError(f"{where}: not expressible in RTL here; supported kinds: {SUPPORTED_KINDS}")


def input_spec_of(graph: TypedGraph, name: str) -> QuantSpec:
    """The type of node `name`'s output as a next layer reads it (the graph input's own for the first node)."""
    return graph.input_spec.exact() if name == graph.nodes[0].name else graph[name].result.exact()


def build(graph: TypedGraph, until: str | None = None):
    """(inputs, outputs) da4ml arrays of the graph up to node `until` (default: the last non-softmax node)."""
    from da4ml.trace import FixedVariableArrayInput

    nodes = [n for n in graph.nodes if n.kind is not LayerKind.SOFTMAX]
    until = until or nodes[-1].name
    first = nodes[0]
    inp = FixedVariableArrayInput(tuple(graph.keras_model.input_shape[1:]))
    values = {first.name: cast(inp, input_spec_of(graph, first.name), f"input '{first.name}'")}
    for node in nodes[1:]:
        values[node.name] = _node_value(graph, node, values)
        if node.name == until:
            return inp, values[node.name]
    raise CodesignError(f"layer '{until}' is not in the model")


def build_kernel(graph: TypedGraph, nodes: list[LayerPrecision], inputs: list[tuple[str, tuple[int, ...]]],
                 window: bool = False):
    """(inputs, outputs) of the logic that computes `nodes` (a chain) on one flat vector: the values of each
    (node name, shape) in `inputs` one after the other; window: the first node's input is exactly one of its
    windows (a pooling one is; a convolution is then computed there alone, without its padding)."""
    from da4ml.trace import FixedVariableArrayInput

    inp = FixedVariableArrayInput((sum(int(np.prod(shape)) for _, shape in inputs),))
    values, start = {}, 0
    for name, shape in inputs:
        size = int(np.prod(shape))
        part = to_array(inp._vars[start:start + size].reshape(shape), inp)
        values[name] = cast(part, input_spec_of(graph, name), f"input of '{nodes[0].name}' from '{name}'")
        start += size
    for node in nodes:
        values[node.name] = _node_value(graph, node, values, one_window=node is nodes[0] and window)
    out = values[nodes[-1].name]
    return inp, to_array(out._vars.reshape(-1), out)
