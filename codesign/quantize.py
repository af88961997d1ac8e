"""A float Keras model -> its QKeras twin with per-layer bits: what `codesign.quantize` and user-model
designs do before quantization-aware training.

- Dense / Conv1D / Conv2D / DepthwiseConv2D become QDense / QConv1D / QConv2D / QDepthwiseConv2D with
  `quantized_bits(weight_bits, weight_integer, alpha=1)` kernels and `quantized_bits` biases
  (`builders.layer_quantizers`, one place for a design layer's quantizers).
- A BatchNormalization right after one of them (its only consumer, no activation between) is folded into
  it: kernel * gamma/sqrt(var+eps), (bias - mean) * gamma/sqrt(var+eps) + beta, as hls4ml's own
  fuse_batch_normalization pass does for float models; elsewhere it is kept (float, exact in the export).
- A ReLU (fused, `Activation('relu')` or `ReLU()`) becomes `QActivation(quantized_relu(bits, integer))`;
  after a MAC layer it is named `<layer>_relu` and takes that layer's activation bits, as hls4ml names
  split activations.
- Integer bits left as None ("auto" in a design file) are chosen from the data: weights and biases from
  their largest magnitude, activations from the 99.99th percentile of the float activations on `x`.
Weights are carried over; the returned `Quantized` says which bits every layer got.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from .design import LayerQuant
from .errors import CodesignError
from .keras_layers import QUANTIZED as QUANTIZED_CLASS
from .lower import inbound_tensors
from .modelio import clone_layer, consumers, functional, is_softmax_layer
from .policy import integer_bits as _int_bits
from .precision import bn_scale_bias

COPIED = {"Flatten", "Reshape", "MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D",
          "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D",
          "ZeroPadding1D", "ZeroPadding2D", "UpSampling1D", "UpSampling2D", "Add", "Concatenate",
          "BatchNormalization"}
DROPPED = {"Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise", "InputLayer"}
ALLOWED = sorted(set(QUANTIZED_CLASS) | COPIED | DROPPED | {"Activation (relu, linear, a final softmax)", "ReLU",
                                                           "a final Softmax"})
ACTIVATION_PERCENTILE = 99.99


@dataclass
class Quantized:
    """The QKeras model and the resolved bits of every quantized layer (relu layers by their own name)."""
    model: object
    layer_quant: dict[str, LayerQuant] = field(default_factory=dict)
    folded: dict[str, str] = field(default_factory=dict)  # BatchNormalization -> the layer it was folded into
    relu_sources: dict[str, str] = field(default_factory=dict)  # QActivation -> the float layer whose relu it is

    def to_json(self) -> dict:
        return {"layers": {k: dataclasses.asdict(v) for k, v in self.layer_quant.items()}, "folded": self.folded}


def is_qkeras(model) -> bool:
    return any(type(layer).__module__.startswith("qkeras") for layer in model.layers)


def _act_name(cfg) -> str:
    act = cfg.get("activation", "linear")
    return act if isinstance(act, str) else str(act.get("class_name", act)).lower()


def is_relu(layer) -> bool:
    cls = type(layer).__name__
    if cls == "ReLU":
        cfg = layer.get_config()
        if cfg.get("max_value") is not None or cfg.get("negative_slope", 0) or cfg.get("threshold", 0):
            raise CodesignError(f"layer '{layer.name}' (ReLU): max_value/negative_slope/threshold are not supported; "
                                "allowed: a plain ReLU")
        return True
    return cls == "Activation" and _act_name(layer.get_config()) == "relu"


def _fold(kernel: np.ndarray, bias: np.ndarray, bn, depthwise: bool) -> tuple[np.ndarray, np.ndarray]:
    """Fold an inference BatchNormalization into the preceding layer's kernel and bias."""
    s, shift = bn_scale_bias(bn)  # BN(x) = s * x + shift
    if depthwise:  # kernel (kh, kw, C, M): output channel c*M + m
        k = kernel * s.reshape(kernel.shape[-2], kernel.shape[-1])
    else:
        k = kernel * s
    return k.astype(np.float32), (bias * s + shift).astype(np.float32)


class _Planner:
    """One pass over the float model: which layers fold, which relus belong to which MAC layer."""

    def __init__(self, model):
        self.model = model
        self.fold_into: dict[str, object] = {}   # mac name -> BN layer folded into it
        self.folded_bn: set[str] = set()
        self.relu_of: dict[str, str] = {}        # relu layer name -> mac name
        self.relu_after: dict[str, str] = {}     # mac name -> its relu layer
        for layer in model.layers:
            cls = type(layer).__name__
            if cls not in QUANTIZED_CLASS:
                continue
            tail = layer
            if _act_name(layer.get_config()) == "linear":
                nxt = consumers(layer)
                if len(nxt) == 1 and type(nxt[0]).__name__ == "BatchNormalization":
                    self.fold_into[layer.name] = nxt[0]
                    self.folded_bn.add(nxt[0].name)
                    tail = nxt[0]
                nxt = consumers(tail)
                if len(nxt) == 1 and is_relu(nxt[0]):
                    self.relu_of[nxt[0].name] = layer.name
                    self.relu_after[layer.name] = nxt[0].name


def _check_supported(model) -> None:
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise CodesignError(f"model '{model.name}': {len(model.inputs)} inputs and {len(model.outputs)} outputs; "
                            "allowed: one input and one output")
    last = model.layers[-1].name
    for layer in model.layers:
        cls = type(layer).__name__
        if cls in QUANTIZED_CLASS:
            act = _act_name(layer.get_config())
            if act not in ("linear", "relu") and not (act == "softmax" and layer.name == last):
                raise CodesignError(f"layer '{layer.name}' ({cls}): activation {act!r}; allowed: relu, linear, "
                                    "softmax on the last layer")
        elif cls == "Activation":
            act = _act_name(layer.get_config())
            if act not in ("linear", "relu") and not (act == "softmax" and layer.name == last):
                raise CodesignError(f"layer '{layer.name}' (Activation): {act!r} is not bit-exact in hls4ml; "
                                    "allowed: relu, linear, softmax as the last layer")
        elif cls == "ReLU":
            is_relu(layer)
        elif cls == "Softmax" and layer.name == last and is_softmax_layer(layer):
            continue
        elif cls not in COPIED and cls not in DROPPED:
            raise CodesignError(f"layer '{layer.name}': {cls} cannot be quantized; allowed: {', '.join(ALLOWED)}")


def relu_outputs(model) -> list[str]:
    """The layers whose outputs each relu's range is taken from: ReLU layers, and MAC layers with a fused relu."""
    return [lyr.name for lyr in model.layers if is_relu(lyr)] + \
           [lyr.name for lyr in model.layers if type(lyr).__name__ in QUANTIZED_CLASS
            and _act_name(lyr.get_config()) == "relu"]


def _activation_ranges(model, names: list[str], x: np.ndarray | None) -> dict[str, float]:
    """The 99.99th percentile of each named layer's float output on x (empty without x)."""
    import tensorflow as tf

    if x is None or not names:
        return {}
    probe = tf.keras.Model(model.inputs, [model.get_layer(n).output for n in names])
    outs = probe.predict(np.asarray(x[:2048], np.float32), verbose=0, batch_size=512)
    outs = outs if isinstance(outs, list) else [outs]
    return {n: float(np.percentile(o, ACTIVATION_PERCENTILE)) for n, o in zip(names, outs)}


def resolve(q: LayerQuant, kernel=None, bias=None, act_max: float | None = None) -> LayerQuant:
    """Fill integer bits left as None from the values (see the module docstring)."""
    change = {}
    if q.weight_integer is None:
        change["weight_integer"] = min(_int_bits(float(np.max(np.abs(kernel)))) if kernel is not None else 0,
                                       q.weight_bits - 1)
    if q.bias_integer is None:
        change["bias_integer"] = min(_int_bits(float(np.max(np.abs(bias)))) if bias is not None and bias.size else 0,
                                     q.bias_bits - 1)
    if q.activation_integer is None:
        change["activation_integer"] = min(_int_bits(act_max) if act_max else 2, q.activation_bits)
    return dataclasses.replace(q, **change)


def quantize(model, default: LayerQuant | None = None, layers: dict[str, LayerQuant] | None = None,
             x: np.ndarray | None = None, ranges: dict[str, float] | None = None) -> Quantized:
    """The QKeras twin of a float Keras model (see the module docstring). A QKeras model is returned as is.
    `ranges`: each relu's calibrated range (by its float layer's name, or its MAC layer's for a fused relu),
    instead of the percentile of its activations on x (PTQ's calibration methods)."""
    import tensorflow as tf
    import qkeras
    from qkeras import QActivation

    from .builders import layer_quantizers

    if is_qkeras(model):
        return Quantized(model)
    model = functional(model)
    default = default or LayerQuant(weight_integer=None, bias_integer=None, activation_integer=None)
    layers = layers or {}
    _check_supported(model)
    plan = _Planner(model)
    quant_of = lambda name: layers.get(name, default)  # noqa: E731
    needs_data = ranges is None and any(q.activation_integer is None for q in [default, *layers.values()])
    ranges = ranges if ranges is not None else _activation_ranges(model, relu_outputs(model), x if needs_data else None)

    inp = tf.keras.Input(model.inputs[0].shape[1:], name=model.layers[0].name)
    tensors = {model.inputs[0].ref(): inp}
    out = Quantized(None)
    for layer in model.layers:
        cls = type(layer).__name__
        if cls == "InputLayer":
            continue
        xs = inbound_tensors(layer, tensors)
        x_in = xs if cls in ("Add", "Concatenate") else xs[0]
        if cls in DROPPED or layer.name in plan.folded_bn or (cls == "Activation" and _act_name(
                layer.get_config()) == "linear"):
            y = x_in
        elif cls in QUANTIZED_CLASS:
            weights = layer.get_weights()
            cfg = layer.get_config()
            use_bias = cfg.get("use_bias", True)
            kernel = weights[0]
            depthwise = cls == "DepthwiseConv2D"
            n_out = kernel.shape[-2] * kernel.shape[-1] if depthwise else kernel.shape[-1]
            bias = weights[1] if use_bias else np.zeros(n_out, np.float32)
            if layer.name in plan.fold_into:
                kernel, bias = _fold(kernel, bias, plan.fold_into[layer.name], depthwise)
                out.folded[plan.fold_into[layer.name].name] = layer.name
            relu = _act_name(cfg) == "relu"
            act_src = layer.name if relu else plan.relu_after.get(layer.name)
            q = resolve(quant_of(layer.name), kernel, bias, ranges.get(act_src) if act_src else None)
            out.layer_quant[layer.name] = q
            kq, bq, aq = layer_quantizers(q)
            qcfg = {k: v for k, v in cfg.items() if not k.endswith(("_initializer", "_regularizer", "_constraint"))}
            qcfg.update(activation="linear", use_bias=True, bias_quantizer=bq)
            qcfg["depthwise_quantizer" if depthwise else "kernel_quantizer"] = kq
            new = getattr(qkeras, QUANTIZED_CLASS[cls]).from_config(qcfg)
            y = new(x_in)
            new.set_weights([kernel, bias])
            if relu:
                y = QActivation(aq, name=f"{layer.name}_relu")(y)
                out.relu_sources[f"{layer.name}_relu"] = layer.name
            elif _act_name(cfg) == "softmax":
                y = tf.keras.layers.Activation("softmax", name=f"{layer.name}_softmax")(y)
        elif is_relu(layer):
            mac = plan.relu_of.get(layer.name)
            if mac is not None:
                q, name = out.layer_quant[mac], f"{mac}_relu"
            else:
                q = resolve(quant_of(layer.name), act_max=ranges.get(layer.name))
                name = layer.name
                out.layer_quant[name] = q
            y = QActivation(layer_quantizers(q)[2], name=name)(x_in)
            out.relu_sources[name] = layer.name
        else:
            y = clone_layer(layer, x_in)
        tensors[layer.output.ref()] = y
    out.model = tf.keras.Model(inp, tensors[model.outputs[0].ref()], name=f"{model.name}_qkeras")
    return out
