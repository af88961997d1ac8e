"""hls4ml's resolved ModelGraph -> the framework-free LayerIR list the cost model reads."""

from __future__ import annotations

import math

import numpy as np

from hw_models.kinds import global_pooling, kind_of, pool_kind, rounds_or_saturates, table_passes_input
from hw_models.layers import (ELEMENTWISE_KINDS, LayerIR, bn_shape, dense_stream_buffer_bits, line_buffer_bits,
                              weight_stats)
from hw_models.targets import strategy_key

from .errors import CodesignError

SUPPORTED = ("Dense, Conv1D, Conv2D, DepthwiseConv1D/2D, PointwiseConv1D/2D, BatchNormalization, Activation "
             "(relu, linear, sigmoid, tanh, elu, ...), Softmax, Max/AveragePooling1D/2D, GlobalPooling, "
             "Add, Concatenate, ZeroPadding, UpSampling, Flatten/Reshape, HGQ FixedPointQuantizer")


def _bits(prec) -> tuple[int, int, bool]:
    width = int(getattr(prec, "width", 1))
    return width, int(getattr(prec, "integer", width)), bool(getattr(prec, "signed", True))


def _type_of(layer, attr: str):
    t = layer.get_attr(attr)
    return t.precision if t is not None else None


def _strategy(layer) -> str:
    return strategy_key(layer.get_attr("strategy", "latency"))


def _common(layer, io_type: str) -> dict:
    inp = layer.get_input_variable()
    width, integer, signed = _bits(inp.type.precision) if inp is not None else (16, 6, True)
    return dict(name=layer.name, class_name=layer.class_name, io_type=io_type,
                rf=int(layer.get_attr("reuse_factor", 1) or 1), strategy=_strategy(layer),
                in_bits=width, in_integer=integer, in_signed=signed)


def _weights(layer, kernels: dict):
    """(values, width, fraction bits, binary, bias). hls4ml's distributed_arithmetic pass deletes a layer's
    weights (they became adder-graph constants): those come from `kernels` (name -> (kernel, bias, QuantSpec))."""
    if "weight" not in layer.weights:
        if layer.name not in kernels:
            raise CodesignError(f"cannot estimate layer {layer.name!r}: hls4ml kept no weights for it "
                                "(distributed_arithmetic) and none were given")
        kernel, bias, spec = kernels[layer.name]
        return np.asarray(kernel, np.float64), spec.width, spec.frac, False, bias
    w = layer.weights["weight"]
    data = np.asarray(w.data, dtype=np.float64)
    width, integer, _ = _bits(w.type.precision)
    binary = "Xnor" in type(w.type.precision).__name__
    bias = layer.weights["bias"].data if "bias" in layer.weights else None
    if type(w.type.precision).__name__.endswith("ExponentPrecisionType"):  # po2: sign + exponent, no integer
        # bits; each weight is one shifted copy of the input (nnet_mult.h weight_exponential), so its cost is
        # that of a one-digit constant on the grid of the smallest magnitude
        magnitudes = np.abs(data[data != 0])
        if not magnitudes.size:
            return data, 1, 0, binary, bias
        frac = max(0, -int(np.floor(np.log2(magnitudes.min()))))
        top = max(0, int(np.ceil(np.log2(magnitudes.max()))))
        return data, 1 + frac + top, frac, binary, bias
    return data, width, width - integer, binary, bias


def _mac(layer, io_type: str, kernels: dict) -> LayerIR:
    cls = layer.class_name
    a = layer.get_attr
    data, w_bits, frac, binary, bias = _weights(layer, kernels)
    if cls == "Dense":
        n_in, n_out, n_pos, steps, kind, kr, row, pf = a("n_in"), a("n_out"), 1, 1, "dense", 1, 0, 1
        in_elems = n_in
    else:
        two_d = "2D" in cls
        kh, kw = (a("filt_height"), a("filt_width")) if two_d else (1, a("filt_width"))
        oh, ow = (a("out_height"), a("out_width")) if two_d else (1, a("out_width"))
        ih, iw = (a("in_height"), a("in_width")) if two_d else (1, a("in_width"))
        chans = a("n_chan")
        depthwise = cls.startswith("Depthwise")
        n_out = chans if depthwise else a("n_filt")
        n_in = kh * kw * (1 if depthwise else chans)
        n_pos, kind, kr, row = oh * ow, "depthwise" if depthwise else "conv", kh, iw * chans
        in_elems = ih * iw * chans
        # io_parallel: hls4ml's ParallelizationFactor output positions per step (n_partitions steps); io_stream: a
        # step per input pixel
        pf = int(a("parallelization_factor") or 1) if io_type == "io_parallel" else 1
        steps = n_pos // pf if io_type == "io_parallel" else ih * iw
    res_bits = _bits(layer.get_output_variable().type.precision)[0]
    acc = _type_of(layer, "accum_t")
    common = _common(layer, io_type)
    buffers = 0
    if io_type == "io_stream" and kind == "dense":  # stream words of the input: a flattened map's channels each
        pack = getattr(layer.get_input_variable().type, "n_elem", n_in) or n_in
        buffers = dense_stream_buffer_bits(n_in, math.ceil(n_in / pack), common["in_bits"])
    elif io_type == "io_stream":
        buffers = line_buffer_bits(kr, row, 1, common["in_bits"])
    return LayerIR(kind=kind, n_out=int(n_out), n_terms=int(n_in), n_pos=int(n_pos), n_in_elems=int(in_elems),
                   w_bits=w_bits, acc_bits=_bits(acc)[0] if acc is not None else res_bits, res_bits=res_bits,
                   weights=weight_stats(data, frac), n_steps=int(steps), pf=pf, binary=binary, buffer_bits=buffers,
                   extra={"weights": data, "w_integer": w_bits - frac, "bias": bias}, **common)


def _shape(layer) -> tuple[int, int]:
    shape = [int(s) for s in layer.get_output_variable().shape]
    return shape[-1], math.prod(shape[:-1])


def layer_ir(layer, io_type: str, kernels: dict | None = None) -> LayerIR:
    cls = layer.class_name
    common = _common(layer, io_type)
    act = str(layer.get_attr("activation", "") or "").lower()
    out_type = layer.get_output_variable().type.precision if layer.get_output_variable() is not None else None
    kind = kind_of(cls, io_type, act, str(out_type or ""), layer.get_attr("activ_param"))
    if kind is None:
        raise CodesignError(f"cannot estimate layer {layer.name!r} (hls4ml class {cls}"
                            f"{', activation ' + act if act else ''}); the cost model covers: {SUPPORTED}")
    if kind in ("dense", "conv", "depthwise"):
        return _mac(layer, io_type, kernels or {})
    if kind == "free":
        return LayerIR(kind="free", **common)
    chans, pos = _shape(layer)
    res_bits = _bits(out_type)[0]
    steps = pos if io_type == "io_stream" else 1
    base = dict(n_out=chans, n_pos=pos, n_in_elems=chans * pos, res_bits=res_bits, n_steps=steps, **common)
    if kind in ELEMENTWISE_KINDS:  # a comparison, a clip or a cast per element; nnet_merge.h (templates.Merge)
        return LayerIR(kind=kind, res_rounds=rounds_or_saturates(out_type), **base)
    if kind == "bn":
        scale = _bits(layer.weights["scale"].type.precision)[0]
        return LayerIR(kind="bn", w_bits=scale, acc_bits=res_bits, **(base | bn_shape(chans, pos, io_type)))
    if kind in ("softmax", "table"):
        t = (_type_of(layer, "exp_table_t") if kind == "softmax" else None) or _type_of(layer, "table_t")
        return LayerIR(kind=kind, table_size=int(layer.get_attr("table_size", 1024)),
                       table_bits=_bits(t)[0] if t is not None else 18, table_passes=table_passes_input(act, cls),
                       **base)
    # pooling. Input positions: a 1D layer's `n_in` is its length (hls4ml's Pooling1D, GlobalPooling1D), a 2D
    # layer's are in_height x in_width; a global pooling window covers all of them
    if cls in ("Pooling1D", "GlobalPooling1D"):
        in_pos = int(layer.get_attr("n_in", 1) or 1)
    else:
        in_pos = int((layer.get_attr("in_height", 1) or 1) * (layer.get_attr("in_width", 1) or 1))
    pool = in_pos if global_pooling(cls) else int(
        (layer.get_attr("pool_height", 1) or 1) * (layer.get_attr("pool_width", 1) or 1))
    two_d = io_type == "io_stream" and cls == "Pooling2D"
    buffer = line_buffer_bits(int(layer.get_attr("pool_height")), int(layer.get_attr("in_width")), chans,
                              common["in_bits"]) if two_d else 0
    return LayerIR(kind=pool_kind(layer.get_attr("pool_op", "Max")), pool=pool, buffer_bits=buffer,
                   **(base | {"n_steps": in_pos if io_type == "io_stream" else 1}))


def graph_layers(hls_model, kernels: dict | None = None) -> list[LayerIR]:
    """kernels: name -> (kernel, bias, weight QuantSpec) for layers whose weights hls4ml dropped (DA)."""
    io_type = hls_model.config.get_config_value("IOType")
    return [layer_ir(layer, io_type, kernels) for layer in hls_model.get_layers()]
