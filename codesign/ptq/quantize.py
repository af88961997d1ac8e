"""`codesign ptq`: a float Keras model -> a QKeras model with power-of-two-scaled fixed-point quantizers."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import CodesignError
from ..modelio import clone_layer, is_softmax_layer
from .calibration import METHODS, clip_value, integer_bits
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


def _is_relu(layer) -> bool:
    import tensorflow as tf

    if isinstance(layer, tf.keras.layers.ReLU):
        return layer.get_config().get("max_value") is None and not layer.get_config().get("negative_slope")
    return isinstance(layer, tf.keras.layers.Activation) and layer.get_config()["activation"] == "relu"


def weight_integer(w: np.ndarray) -> int:
    """Per-tensor power-of-two range: QKeras quantized_bits(b, i) covers [-2^i, 2^i); i >= 0 (QKeras)."""
    m = float(np.max(np.abs(w))) if w.size else 0.0
    return max(0, math.ceil(math.log2(m))) if m > 0 else 0


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


SUPPORTED = "Dense, Conv1D, Conv2D, BatchNormalization (folded), ReLU, Activation relu/softmax/linear, " \
            "a final Softmax, Max/AveragePooling, Flatten, Reshape, Dropout"


def _quantized_twin(model, opts: PTQOptions, clips: dict[str, float]):
    import tensorflow as tf
    from qkeras import QActivation, QConv1D, QConv2D, QDense, quantized_bits, quantized_relu

    x = inp = tf.keras.Input(model.input_shape[1:], name=model.layers[0].name)
    plan = {}
    for layer in model.layers[1:]:
        cfg = layer.get_config()
        if isinstance(layer, (tf.keras.layers.Dense, tf.keras.layers.Conv2D, tf.keras.layers.Conv1D)):
            w, b = (layer.get_weights() + [np.zeros(layer.get_weights()[0].shape[-1], np.float32)])[:2]
            wi, bi = weight_integer(w), weight_integer(b)
            q = dict(kernel_quantizer=quantized_bits(opts.weight_bits, wi, alpha=1),
                     bias_quantizer=quantized_bits(opts.bias_bits, bi, alpha=1))
            cls = {tf.keras.layers.Dense: QDense, tf.keras.layers.Conv2D: QConv2D,
                   tf.keras.layers.Conv1D: QConv1D}[type(layer)]
            keep = {k: cfg[k] for k in ("units", "filters", "kernel_size", "strides", "padding") if k in cfg}
            new = cls(name=layer.name, use_bias=True, **keep, **q)
            x = new(x)
            new.set_weights([w, b])
            plan[layer.name] = {"weight": f"quantized_bits({opts.weight_bits},{wi})",
                                "bias": f"quantized_bits({opts.bias_bits},{bi})"}
        elif _is_relu(layer):
            ai = integer_bits(clips[layer.name])
            x = QActivation(quantized_relu(opts.activation_bits, ai), name=layer.name)(x)
            plan[layer.name] = {"activation": f"quantized_relu({opts.activation_bits},{ai})",
                                "clip": round(clips[layer.name], 6)}
        elif isinstance(layer, (tf.keras.layers.MaxPooling2D, tf.keras.layers.MaxPooling1D,
                                tf.keras.layers.AveragePooling2D, tf.keras.layers.AveragePooling1D,
                                tf.keras.layers.Flatten, tf.keras.layers.Reshape, tf.keras.layers.Dropout)) or (
                isinstance(layer, tf.keras.layers.Activation) and cfg["activation"] in ("softmax", "linear")) or (
                isinstance(layer, tf.keras.layers.Softmax) and layer is model.layers[-1] and is_softmax_layer(layer)):
            x = clone_layer(layer, x)
        else:
            raise CodesignError(f"layer '{layer.name}' ({type(layer).__name__}) is not supported by PTQ; "
                                f"supported: {SUPPORTED}")
    return tf.keras.Model(inp, x, name=model.name + "_ptq"), plan


def _correct_biases(float_model, qmodel, x_calib: np.ndarray) -> dict[str, float]:
    """Empirical bias correction (Nagel et al. 2019, sec. 4.2): feed each quantized layer the quantized
    model's own input, compare with the float weights on that same input, shift the bias by the mean error."""
    import tensorflow as tf

    shifts = {}
    for layer in qmodel.layers:
        if type(layer).__name__ not in ("QDense", "QConv2D", "QConv1D"):
            continue
        inp = tf.keras.Model(qmodel.input, layer.input).predict(x_calib, verbose=0)
        y_q = layer(inp).numpy()
        w, b = float_model.get_layer(layer.name).get_weights()[:2]
        ref = type(float_model.get_layer(layer.name)).from_config(
            float_model.get_layer(layer.name).get_config() | {"activation": "linear"})
        ref.build(inp.shape)
        ref.set_weights([w, b])
        err = (y_q - ref(inp).numpy()).reshape(-1, y_q.shape[-1]).mean(axis=0)
        qw, qb = layer.get_weights()
        layer.set_weights([qw, qb - err])
        shifts[layer.name] = float(np.abs(err).max())
    return shifts


def ptq(model, x_calib: np.ndarray, opts: PTQOptions = PTQOptions()):
    """Returns (QKeras model, report). The float function is kept by folding/CLE; ranges from x_calib."""
    import tensorflow as tf

    if opts.method not in METHODS:
        raise CodesignError(f"--method: {opts.method!r}; allowed: {', '.join(METHODS)}")
    for key in ("weight_bits", "activation_bits", "bias_bits"):
        if not 2 <= getattr(opts, key) <= 32:
            raise CodesignError(f"--{key.replace('_', '-')}: {getattr(opts, key)}; allowed: 2..32")
    float_model = _split_activations(fold_batchnorm(model))
    report = {"options": opts.__dict__, "transforms": ["batchnorm folding"]}
    if opts.cle:
        report["equalized"] = equalize(float_model)
        report["transforms"].append("cross-layer equalization")
    if opts.absorb_bias:
        report["bias_absorbed"] = absorb_high_bias(float_model, x_calib)
        report["transforms"].append("high-bias absorption")
    relus = [layer for layer in float_model.layers if _is_relu(layer)]
    clips = {}
    if relus:
        acts = tf.keras.Model(float_model.input, [r.output for r in relus]).predict(x_calib, verbose=0)
        acts = acts if isinstance(acts, list) else [acts]
        clips = {r.name: clip_value(a, opts.method, opts.activation_bits) for r, a in zip(relus, acts)}
    qmodel, plan = _quantized_twin(float_model, opts, clips)
    report["layers"] = plan
    if opts.bias_correction:
        report["bias_correction_max_shift"] = _correct_biases(float_model, qmodel, x_calib)
        report["transforms"].append("empirical bias correction")
    return qmodel, float_model, report
