"""`codesign ptq`: a float Keras model -> a QKeras model with power-of-two-scaled fixed-point quantizers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import CodesignError
from ..keras_layers import is_quantized_mac
from ..modelio import clone_layer
from ..quantize import relu_outputs
from .calibration import METHODS, clip_value
from .transforms import absorb_high_bias, equalize, fold_batchnorm


@dataclass(frozen=True)
class PTQOptions:
    weight_bits: int = 8
    activation_bits: int = 8
    bias_bits: int = 16
    method: str = "mse"            # activation range calibration, see calibration.METHODS
    bias_correction: bool = False  # empirical: subtract the mean output error measured on calibration data
    cle: bool = False              # cross-layer equalization of Dense-ReLU-Dense pairs
    absorb_bias: bool = False      # high-bias absorption (needs cle's pairs)


def _split_activations(model):
    """Dense/Conv layers with a built-in relu are split so that the relu can get its own quantizer."""
    import tensorflow as tf

    x = inp = tf.keras.Input(model.input_shape[1:], name=model.layers[0].name)
    for layer in model.layers[1:]:
        cfg = layer.get_config()
        act = cfg.get("activation")
        if isinstance(layer, (tf.keras.layers.Dense, tf.keras.layers.Conv2D, tf.keras.layers.Conv1D)) and act not in (
                None, "linear"):
            last = layer is model.layers[-1]
            if act != "relu" and not (act == "softmax" and last):
                raise CodesignError(f"layer '{layer.name}': activation {act!r} inside the layer; PTQ supports relu, "
                                    "and softmax on the last layer")
            x = clone_layer(layer, x, activation="linear")
            x = tf.keras.layers.Activation(act, name=f"{layer.name}_{act}")(x)
            continue
        x = clone_layer(layer, x)
    return tf.keras.Model(inp, x, name=model.name)


def _quantized_twin(model, opts: PTQOptions, clips: dict[str, float]):
    """The QKeras model of `codesign.quantize` (the one float -> QKeras converter), every weight range from its
    tensor and every relu's from its calibrated clip."""
    from ..design import LayerQuant
    from ..quantize import quantize

    default = LayerQuant(weight_bits=opts.weight_bits, weight_integer=None, bias_bits=opts.bias_bits,
                         bias_integer=None, activation_bits=opts.activation_bits, activation_integer=None)
    out = quantize(model, default, ranges=clips)
    plan = {}
    for name, q in out.layer_quant.items():
        layer = out.model.get_layer(name)
        if type(layer).__name__ != "QActivation":
            plan[name] = {"weight": f"quantized_bits({q.weight_bits},{q.weight_integer})",
                          "bias": f"quantized_bits({q.bias_bits},{q.bias_integer})"}
    for name, source in out.relu_sources.items():
        plan[name] = {"activation": str(out.model.get_layer(name).get_config()["activation"]),
                      "clip": round(clips[source], 6)}
    out.model._name = model.name + "_ptq"
    return out.model, plan


def _correct_biases(float_model, qmodel, x_calib: np.ndarray) -> dict[str, float]:
    """Empirical bias correction (Nagel et al. 2019, sec. 4.2): feed each quantized layer the quantized
    model's own input, compare with its float weights (a QKeras layer keeps them; folded BatchNormalizations
    included) on that same input, shift the bias by the mean error."""
    import tensorflow as tf

    shifts = {}
    for layer in qmodel.layers:
        if not is_quantized_mac(layer):
            continue
        inp = tf.keras.Model(qmodel.input, layer.input).predict(x_calib, verbose=0)
        y_q = layer(inp).numpy()
        float_layer = float_model.get_layer(layer.name)
        ref = type(float_layer).from_config(float_layer.get_config() | {"activation": "linear", "use_bias": True})
        ref.build(inp.shape)
        ref.set_weights(layer.get_weights())
        err = (y_q - ref(inp).numpy()).reshape(-1, y_q.shape[-1]).mean(axis=0)
        qw, qb = layer.get_weights()
        layer.set_weights([qw, qb - err])
        shifts[layer.name] = float(np.abs(err).max())
    return shifts


def ptq(model, x_calib: np.ndarray, opts: PTQOptions = PTQOptions()):
    """Returns (QKeras model, the float model it quantizes, report). The float function is kept by folding/CLE;
    ranges from x_calib; the QKeras model is `codesign.quantize`'s, as for `run` and the search."""
    import tensorflow as tf

    if opts.method not in METHODS:
        raise CodesignError(f"--method: {opts.method!r}; allowed: {', '.join(METHODS)}")
    for key in ("weight_bits", "activation_bits", "bias_bits"):
        if not 2 <= getattr(opts, key) <= 32:
            raise CodesignError(f"--{key.replace('_', '-')}: {getattr(opts, key)}; allowed: 2..32")
    from ..modelio import functional

    model = functional(model)
    float_model, report = model, {"options": opts.__dict__, "transforms": []}
    if opts.cle or opts.absorb_bias:  # they work on Dense-ReLU-Dense chains: BatchNormalizations folded, relus apart
        float_model = _split_activations(fold_batchnorm(model))
    if opts.cle:
        report["equalized"] = equalize(float_model)
        report["transforms"].append("cross-layer equalization")
    if opts.absorb_bias:
        report["bias_absorbed"] = absorb_high_bias(float_model, x_calib)
        report["transforms"].append("high-bias absorption")
    names = relu_outputs(float_model)
    clips = {}
    if names:
        acts = tf.keras.Model(float_model.input, [float_model.get_layer(n).output for n in names]).predict(
            x_calib, verbose=0)
        acts = acts if isinstance(acts, list) else [acts]
        clips = {n: clip_value(a, opts.method, opts.activation_bits) for n, a in zip(names, acts)}
    qmodel, plan = _quantized_twin(float_model, opts, clips)
    bns = {lyr.name for lyr in model.layers if type(lyr).__name__ == "BatchNormalization"}
    if bns - {lyr.name for lyr in qmodel.layers}:
        report["transforms"].insert(0, "batchnorm folding")
    report["layers"] = plan
    if opts.bias_correction:
        report["bias_correction_max_shift"] = _correct_biases(float_model, qmodel, x_calib)
        report["transforms"].append("empirical bias correction")
    return qmodel, float_model, report
