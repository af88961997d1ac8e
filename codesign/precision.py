"""Derive exact per-layer hls4ml precisions from a (Q)Keras model.

Weights/biases/results follow the QKeras quantizers; accumulators and un-quantized results are
sized by `spec.mac` so that no intermediate can overflow or lose a bit (width = w + in +
ceil(log2 n_terms), integer bits likewise, bias aligned with one carry bit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .errors import CodesignError
from .quantizers import activation_spec, quantizer_object, weight_spec
from .spec import QuantSpec, accumulate, add, mac, product, spec_for_values

PASS_THROUGH = {"Flatten", "Reshape", "Dropout", "MaxPooling1D", "MaxPooling2D"}
MAC_LAYERS = {"QDense", "QConv1D", "QConv2D"}
AVG_POOL = {"AveragePooling1D", "AveragePooling2D"}
SUPPORTED = sorted(PASS_THROUGH | MAC_LAYERS | AVG_POOL | {"InputLayer", "QActivation", "Activation", "BatchNormalization"})
# Float parameters (BatchNorm scale/bias) are held exactly up to this many fractional bits.
PARAM_FRAC_BITS = 32


@dataclass
class LayerPrecision:
    name: str
    class_name: str
    result: QuantSpec
    accum: QuantSpec | None = None
    weight: QuantSpec | None = None
    bias: QuantSpec | None = None
    params: dict[str, QuantSpec] = field(default_factory=dict)  # e.g. BatchNorm scale/bias
    n_terms: int | None = None
    approximate: bool = False  # e.g. a softmax lookup table
    source: str | None = None  # the Keras layer whose output this is (None: hls4ml-internal layer)

    def hls_precision(self) -> dict[str, str]:
        out = {"result": self.result.to_hls()}
        if self.accum is not None:
            out["accum"] = self.accum.to_hls()
        out.update({k: v.to_hls() for k, v in self.params.items()})
        return out

    def to_json(self) -> dict:
        d = {"name": self.name, "class": self.class_name, "result": self.result.to_hls()}
        for key in ("accum", "weight", "bias"):
            if getattr(self, key) is not None:
                d[key] = getattr(self, key).to_hls()
        d.update({k: v.to_hls() for k, v in self.params.items()})
        if self.n_terms:
            d["n_terms"] = self.n_terms
        return d


def relu_spec(in_spec: QuantSpec) -> QuantSpec:
    """Exact type of relu(x): the sign bit is dropped, every other bit kept."""
    return QuantSpec(in_spec.width - int(in_spec.signed), in_spec.integer - int(in_spec.signed), False)


def _mac_layer(layer, in_spec: QuantSpec) -> list[LayerPrecision]:
    cfg = layer.get_config()
    where = f"layer '{layer.name}' ({type(layer).__name__})"
    if cfg.get("kernel_quantizer") is None:
        raise CodesignError(f"{where}: no kernel_quantizer; a bit-exact export needs quantized weights")
    kernel = layer.get_weights()[0]
    w = weight_spec(cfg["kernel_quantizer"], kernel, where)
    b = None
    if cfg.get("use_bias", True):
        bias = layer.get_weights()[1]
        if cfg.get("bias_quantizer") is not None:
            b = weight_spec(cfg["bias_quantizer"], bias, where)
        else:
            b = spec_for_values(bias, PARAM_FRAC_BITS)
    n_terms = int(np.prod(kernel.shape[:-1]))
    acc = mac(in_spec, w, n_terms, b)
    out = [LayerPrecision(layer.name, type(layer).__name__, acc, acc, w, b, n_terms=n_terms)]
    if b is not None and cfg.get("bias_quantizer") is None:
        out[0].params["bias"] = b
    act = cfg.get("activation")
    if act in (None, "linear") or (isinstance(act, dict) and act.get("class_name") == "linear"):
        # hls4ml keeps a `<name>_linear` layer after every Dense/Conv: it must not narrow the result
        out.append(LayerPrecision(f"{layer.name}_linear", "Activation", acc))
    else:
        if isinstance(act, str) and act == "relu":
            out.append(LayerPrecision(f"{layer.name}_relu", "Activation", relu_spec(acc)))
        else:
            q = quantizer_object(act)
            qname = getattr(q, "__name__", None) or type(q).__name__
            out.append(LayerPrecision(f"{layer.name}_{qname}", "Activation", activation_spec(act, where)))
    return out


def _batchnorm(layer, in_spec: QuantSpec) -> LayerPrecision:
    gamma, beta, mean, var = _bn_params(layer)
    # hls4ml BatchNormalization: res = x*scale + bias (hls4ml model/layers.py BatchNormalization.initialize)
    scale = gamma / np.sqrt(var + layer.epsilon)
    bias = beta - mean * scale
    s, b = spec_for_values(scale, PARAM_FRAC_BITS), spec_for_values(bias, PARAM_FRAC_BITS)
    result = add(product(in_spec, s), b)
    return LayerPrecision(layer.name, "BatchNormalization", result, params={"scale": s, "bias": b})


def _bn_params(layer):
    cfg = layer.get_config()
    weights = iter(layer.get_weights())
    n = layer.get_weights()[-1].shape[0]
    gamma = next(weights) if cfg.get("scale", True) else np.ones(n, np.float32)
    beta = next(weights) if cfg.get("center", True) else np.zeros(n, np.float32)
    return gamma, beta, next(weights), next(weights)


def _avg_pool(layer, in_spec: QuantSpec) -> LayerPrecision:
    size = int(np.prod(layer.pool_size))
    shift = int(math.log2(size))
    if 2**shift != size:
        raise CodesignError(f"layer '{layer.name}': AveragePooling pool size {layer.pool_size} is not a power of "
                            "two, so its mean is not exact in fixed point; allowed: pool areas 2, 4, 8, 16, ...")
    # hls4ml nnet_pooling*.h: sum in accum_t, then `/= N` still in accum_t -> needs both growths
    acc = accumulate(in_spec, size)
    acc = QuantSpec(acc.width + shift, acc.integer, acc.signed)
    mean = QuantSpec(in_spec.width + shift, in_spec.integer, in_spec.signed)
    return LayerPrecision(layer.name, type(layer).__name__, mean, acc, n_terms=size)


def softmax_precision(name: str) -> LayerPrecision:
    """Probabilities in [0, 1): all 18 bits fractional, so near-tied classes stay distinguishable."""
    return LayerPrecision(name, "Softmax", QuantSpec(18, 0, False, "RND_CONV", "SAT"), approximate=True, source=name)


def _activation(layer, in_spec: QuantSpec, is_last: bool) -> LayerPrecision:
    act = layer.get_config()["activation"]
    if act == "linear":
        return LayerPrecision(layer.name, "Activation", in_spec)
    if act == "relu":
        return LayerPrecision(layer.name, "Activation", relu_spec(in_spec))
    if act == "softmax" and is_last:
        return softmax_precision(layer.name)
    raise CodesignError(f"layer '{layer.name}': activation {act!r} is not bit-exact in hls4ml; "
                        "allowed: linear, relu, a final softmax, or a QActivation")


def derive_precisions(model, input_spec: QuantSpec, overrides: dict[str, QuantSpec] | None = None
                      ) -> list[LayerPrecision]:
    """Per-layer precisions, in hls4ml layer order, for a single-input chain model.

    `overrides` forces a layer's result (and accumulator) type, e.g. to explore narrower designs.
    """
    overrides = overrides or {}
    layers = [lyr for lyr in model.layers]
    out: list[LayerPrecision] = []
    spec = input_spec
    input_name = model.layers[0].name if type(model.layers[0]).__name__ == "InputLayer" else model.input_names[0]
    out.append(LayerPrecision(input_name, "InputLayer", input_spec, source=input_name))
    for i, layer in enumerate(layers):
        cls = type(layer).__name__
        if cls == "InputLayer":
            continue
        if len(getattr(layer, "_inbound_nodes", [])) > 1 or isinstance(layer.input, list):
            raise CodesignError(f"layer '{layer.name}' ({cls}): only single-input chains are supported")
        if cls in MAC_LAYERS:
            new = _mac_layer(layer, spec)
        elif cls == "QActivation":
            new = [LayerPrecision(layer.name, cls, activation_spec(layer.get_config()["activation"],
                                                                  f"layer '{layer.name}' (QActivation)"))]
        elif cls == "Activation":
            new = [_activation(layer, spec, i == len(layers) - 1)]
        elif cls == "BatchNormalization":
            new = [_batchnorm(layer, spec)]
        elif cls in AVG_POOL:
            new = [_avg_pool(layer, spec)]
        elif cls in PASS_THROUGH:
            new = [LayerPrecision(layer.name, cls, spec)]
        else:
            raise CodesignError(f"layer '{layer.name}': unknown layer type {cls!r}; supported: {', '.join(SUPPORTED)}")
        for lp in new:
            if lp.name in overrides:
                lp.result = overrides[lp.name]
                lp.accum = overrides[lp.name] if lp.accum is not None else None
        new[-1].source = layer.name
        out.extend(new)
        spec = new[-1].result
    return out
