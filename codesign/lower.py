"""QKeras model -> the plain Keras graph codesign hands to hls4ml, one layer per hls4ml layer.

Weights become the exact values the QKeras quantizers produce (`quantizer(kernel)`, scales such as
alpha='auto_po2' included) and the quantizers are dropped, so hls4ml uses the weight types written
in the config (`precision.py` decides them) instead of its own quantizer-derived types. Fused
activations are split into their own layers, so every tensor hls4ml computes is also a Keras
tensor that the trace can compare. Separable convolutions become depthwise + pointwise.
The lowered model computes the same float32 function as the original (checked by the tests).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import CodesignError
from .modelio import functional, is_softmax_layer

# original class -> plain Keras class of the lowered layer
MAC_CLASSES = {"QDense": "Dense", "Dense": "Dense", "QConv1D": "Conv1D", "Conv1D": "Conv1D",
               "QConv2D": "Conv2D", "Conv2D": "Conv2D", "QConv2DBatchnorm": "Conv2D",
               "QDepthwiseConv2D": "DepthwiseConv2D", "DepthwiseConv2D": "DepthwiseConv2D",
               "DepthwiseConv1D": "DepthwiseConv1D"}
SEPARABLE = {"QSeparableConv1D": ("DepthwiseConv1D", "Conv1D"), "SeparableConv1D": ("DepthwiseConv1D", "Conv1D"),
             "QSeparableConv2D": ("DepthwiseConv2D", "Conv2D"), "SeparableConv2D": ("DepthwiseConv2D", "Conv2D")}
KEPT = {"QActivation", "Activation", "BatchNormalization", "QBatchNormalization", "MaxPooling1D", "MaxPooling2D",
        "AveragePooling1D", "AveragePooling2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling1D",
        "GlobalMaxPooling2D", "Flatten", "Reshape", "ZeroPadding1D", "ZeroPadding2D", "UpSampling1D",
        "UpSampling2D", "Add", "Concatenate"}
DROPPED = {"Dropout"}  # identity at inference; hls4ml skips it too
SUPPORTED = sorted(set(MAC_CLASSES) | set(SEPARABLE) | KEPT | DROPPED | {"InputLayer", "Softmax"})


@dataclass
class WeightSource:
    """Exact weight values of one lowered layer and the QKeras quantizers (None: float) they came from."""
    kernel: np.ndarray
    kernel_quantizer: Any
    bias: np.ndarray | None = None
    bias_quantizer: Any = None


@dataclass
class Lowered:
    model: Any                                   # the plain Keras model hls4ml converts
    weights: dict[str, WeightSource] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)  # lowered layer -> original layer name
    # the last layer of an activation built from several (quantized_activation) -> the values it can take;
    # precision.derive types that node to hold exactly those (narrower than its arithmetic's type)
    output_values: dict[str, np.ndarray] = field(default_factory=dict)
    affine: set[str] = field(default_factory=set)  # BatchNormalizations of constants the lowering made (_affine)


def quantized_values(quantizer, values: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    if quantizer is None:
        return np.asarray(values, np.float32)
    return np.asarray(quantizer(tf.constant(values, tf.float32)), np.float32)


def _quantizer(layer, attr: str):
    """The QKeras quantizer object a Q-layer applies to `attr` ('kernel', 'bias', 'depthwise', ...)."""
    return getattr(layer, f"{attr}_quantizer_internal", None)


def _base_config(layer, plain: str) -> dict:
    """The layer's config restricted to what the plain Keras class takes (no quantizers, no initializers)."""
    import inspect

    import tensorflow as tf

    accepted = set(inspect.signature(getattr(tf.keras.layers, plain).__init__).parameters) | {"name", "dtype"}
    cfg = {k: v for k, v in layer.get_config().items() if k in accepted and not k.endswith(
        ("_quantizer", "_initializer", "_regularizer", "_constraint", "_range"))}
    if "activation" in accepted:
        cfg["activation"] = "linear"
    return cfg


def _folded_batchnorm(layer) -> tuple[np.ndarray, np.ndarray]:
    """QConv2DBatchnorm at inference (qkeras qconv2d_batchnorm.py call()): kernel*inv, inv*(bias-mean)+beta."""
    import tensorflow as tf

    bn = layer.batchnorm
    inv = tf.math.rsqrt(bn.moving_variance + bn.epsilon)
    if bn.gamma is not None:
        inv *= bn.gamma
    bias = layer.bias if layer.use_bias else 0
    return (inv * layer.kernel).numpy(), (inv * (bias - bn.moving_mean) + (bn.beta if bn.beta is not None else 0)
                                          ).numpy()


def _fused_activation(layer, y, lowered: Lowered):
    """The activation fused into a Dense/Conv layer, built as layers of its own (y unchanged when linear)."""
    import tensorflow as tf

    act = layer.get_config().get("activation")
    if act in (None, "linear") or (isinstance(act, dict) and act.get("class_name") == "linear"):
        return y
    if isinstance(act, str) and act in ("relu", "softmax", "sigmoid", "tanh"):
        return _call(tf.keras.layers.Activation(act, name=f"{layer.name}_{act}"), y, lowered, layer.name)
    from .quantizers import quantizer_name, quantizer_object

    return quantized_activation(act, f"{layer.name}_{quantizer_name(quantizer_object(act))}", y, lowered, layer)


def _call(layer, x, lowered: Lowered, origin: str):
    lowered.origin[layer.name] = origin
    return layer(x)


def _affine(x, scale: float, bias: float, name: str, lowered: Lowered, origin: str):
    """x * scale + bias per element, as a BatchNormalization hls4ml builds exactly (nnet_batchnorm.h);
    epsilon 0 and variance 1 keep scale and bias the float32 values given."""
    import tensorflow as tf

    layer = tf.keras.layers.BatchNormalization(epsilon=0.0, name=name)
    lowered.affine.add(name)
    y = _call(layer, x, lowered, origin)
    n = int(x.shape[-1])
    layer.set_weights([np.full(n, scale, np.float32), np.full(n, bias, np.float32), np.zeros(n, np.float32),
                       np.ones(n, np.float32)])
    return y


def quantized_activation(config, name: str, x, lowered: Lowered, source, keep: bool = False):
    """A QKeras activation of layer `source` as layers hls4ml computes exactly (`quantizers.activation_form`
    says which); with `keep`, `source` is a QActivation re-used as is where one hls4ml activation computes it."""
    import tensorflow as tf
    from qkeras import QActivation

    from .quantizers import activation_form, leaky_parameters, quantizer_object, ternary_parameters

    q = quantizer_object(config)
    origin = source.name
    where = f"layer '{origin}' ({type(source).__name__})"
    form = activation_form(q, where)

    def sign(y, sign_name):  # hls4ml binary_tanh (nnet_activation.h): y >= 0 ? 1 : -1
        return _call(QActivation("binary(alpha=1)", name=sign_name), y, lowered, origin)

    if form == "plain":
        layer = type(source).from_config(source.get_config()) if keep else QActivation(str(q), name=name)
        return _call(layer, x, lowered, origin)
    if form == "sign":
        return sign(x, name)
    if form == "binary_tanh":
        # QKeras: 2 * round(clip(x/2 + 1/2, 0, 1)) - 1, round half to even: x > 0 ? 1 : -1 = -sign(-x)
        y = sign(_affine(x, -1.0, 0.0, f"{name}_neg", lowered, origin), f"{name}_sign")
        lowered.output_values[name] = np.array([-1.0, 1.0])
        return _affine(y, -1.0, 0.0, name, lowered, origin)
    if form == "ternary":
        # alpha * [x >= t] - alpha * [x <= -t] = alpha/2 * (sign(x - t) - sign(-x - t)), t the float32 threshold
        t, alpha = ternary_parameters(q, where)
        upper = sign(_affine(x, 1.0, -t, f"{name}_upper", lowered, origin), f"{name}_upper_sign")
        lower_ = sign(_affine(x, -1.0, -t, f"{name}_lower", lowered, origin), f"{name}_lower_sign")
        lower_ = _affine(lower_, -1.0, 0.0, f"{name}_lower_neg", lowered, origin)
        lowered.output_values[name] = np.array([-alpha, 0.0, alpha])
        if alpha == 2.0:
            return _call(tf.keras.layers.Add(name=name), [upper, lower_], lowered, origin)
        y = _call(tf.keras.layers.Add(name=f"{name}_sum"), [upper, lower_], lowered, origin)
        return _affine(y, alpha / 2, 0.0, name, lowered, origin)
    if form == "sigmoid_symmetric":
        # QKeras clips at 2^-bits from below: max(quantized_sigmoid(bits)(x), 2^-bits)
        floor = 2.0 ** -int(q.bits)
        lowered.output_values[name] = np.arange(1, 2 ** int(q.bits)) * floor
        base = f"quantized_sigmoid({int(q.bits)},use_real_sigmoid={int(q.use_real_sigmoid)})"
        y = _call(QActivation(base, name=f"{name}_base"), x, lowered, origin)
        y = _affine(y, 1.0, -floor, f"{name}_floor", lowered, origin)
        y = _call(tf.keras.layers.Activation("relu", name=f"{name}_relu"), y, lowered, origin)
        return _affine(y, 1.0, floor, name, lowered, origin)
    # leaky_relu: QKeras clips s*x at -s*2^integer and x at 2^integer - g (quantizers.leaky_parameters). Clip x
    # from below at -2^integer, then hls4ml's leaky_relu (exact), then one signed cast onto the grid g.
    bits, integer, k = leaky_parameters(q, where)
    lift = 2.0 ** integer
    y = _affine(x, 1.0, lift, f"{name}_lift", lowered, origin)
    y = _call(tf.keras.layers.Activation("relu", name=f"{name}_floor"), y, lowered, origin)
    y = _affine(y, 1.0, -lift, f"{name}_drop", lowered, origin)
    y = _call(tf.keras.layers.LeakyReLU(alpha=2.0 ** -k, name=f"{name}_leaky"), y, lowered, origin)
    return _call(QActivation(f"quantized_bits({bits},{integer},keep_negative=1,alpha=1)", name=name), y, lowered,
                 origin)


def inbound_tensors(layer, tensors: dict) -> list:
    nodes = layer._inbound_nodes  # Keras 2 functional graph
    if len(nodes) != 1:
        raise CodesignError(f"layer '{layer.name}' ({type(layer).__name__}): used {len(nodes)} times; "
                            "allowed: each layer called once (no shared layers)")
    inputs = nodes[0].input_tensors
    inputs = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    try:
        return [tensors[t.ref()] for t in inputs]
    except KeyError as exc:
        raise CodesignError(f"layer '{layer.name}': input comes from outside the model graph") from exc


def _check_depth_multiplier(layer) -> None:
    """hls4ml's depthwise convolutions assert n_filt == n_chan at run time (nnet_sepconv2d_latency.h,
    nnet_sepconv1d_latency.h): the C model would abort."""
    multiplier = layer.get_config().get("depth_multiplier", 1)
    if multiplier != 1:
        raise CodesignError(f"layer '{layer.name}' ({type(layer).__name__}): depth_multiplier {multiplier}; "
                            "allowed: 1 (hls4ml's depthwise convolution supports no other)")


def _mac(layer, x, plain: str, lowered: Lowered):
    import tensorflow as tf

    cls = type(layer).__name__
    _check_depth_multiplier(layer)
    weights = layer.get_weights()
    use_bias = layer.get_config().get("use_bias", True)
    if cls == "QConv2DBatchnorm":
        weights, use_bias = list(_folded_batchnorm(layer)), True
    kernel_attr = "depthwise" if "Depthwise" in plain else "kernel"
    kq = _quantizer(layer, kernel_attr)
    bq = _quantizer(layer, "bias") if use_bias else None
    cfg = _base_config(layer, plain) | {"use_bias": use_bias}
    if cls.startswith("Q") and kq is None and layer.get_config().get(f"{kernel_attr}_quantizer") is not None:
        raise CodesignError(f"layer '{layer.name}' ({cls}): its {kernel_attr} quantizer could not be built")
    kernel = quantized_values(kq, weights[0])
    bias = quantized_values(bq, weights[1]) if use_bias else None
    new = getattr(tf.keras.layers, plain).from_config(cfg)
    y = new(x)
    new.set_weights([kernel, bias] if use_bias else [kernel])
    lowered.weights[new.name] = WeightSource(kernel, kq, bias, bq)
    lowered.origin[new.name] = layer.name
    return y


def _separable(layer, x, lowered: Lowered):
    import tensorflow as tf

    _check_depth_multiplier(layer)
    dw_cls, pw_cls = SEPARABLE[type(layer).__name__]
    cfg = layer.get_config()
    weights = layer.get_weights()
    dq, pq = _quantizer(layer, "depthwise"), _quantizer(layer, "pointwise")
    use_bias = cfg.get("use_bias", True)
    bq = _quantizer(layer, "bias") if use_bias else None
    dw = getattr(tf.keras.layers, dw_cls)(cfg["kernel_size"], strides=cfg["strides"], padding=cfg["padding"],
                                          depth_multiplier=cfg.get("depth_multiplier", 1), use_bias=False,
                                          dilation_rate=cfg.get("dilation_rate", 1), name=f"{layer.name}_dw")
    pw = getattr(tf.keras.layers, pw_cls)(cfg["filters"], 1, use_bias=use_bias, name=layer.name)
    y = pw(dw(x))
    dk, pk = quantized_values(dq, weights[0]), quantized_values(pq, weights[1])
    dw.set_weights([dk])
    bias = quantized_values(bq, weights[2]) if use_bias else None
    pw.set_weights([pk, bias] if use_bias else [pk])
    lowered.weights[dw.name] = WeightSource(dk, dq)
    lowered.weights[pw.name] = WeightSource(pk, pq, bias, bq)
    lowered.origin.update({dw.name: layer.name, pw.name: layer.name})
    return y


def _qbatchnorm(layer, x):
    """QBatchNormalization at inference (qkeras qnormalization.py call()): BatchNormalization of its
    quantized gamma, beta, moving mean and moving variance."""
    import tensorflow as tf

    new = tf.keras.layers.BatchNormalization.from_config(_base_config(layer, "BatchNormalization"))
    y = new(x)
    params = []
    for attr in ("gamma", "beta", "moving_mean", "moving_variance"):
        value = getattr(layer, attr)
        if value is None:
            continue
        qname = {"moving_mean": "mean", "moving_variance": "variance"}.get(attr, attr)
        params.append(quantized_values(getattr(layer, f"{qname}_quantizer_internal", None), value.numpy()))
    new.set_weights(params)
    return y


def lower(model) -> Lowered:
    """The plain-Keras twin of `model` (see the module docstring); refuses what it cannot lower exactly."""
    import tensorflow as tf

    model = functional(model)
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise CodesignError(f"model '{model.name}': {len(model.inputs)} inputs and {len(model.outputs)} outputs; "
                            "allowed: one input and one output")
    inp = tf.keras.Input(model.inputs[0].shape[1:], name=model.layers[0].name)
    tensors = {model.inputs[0].ref(): inp}
    lowered = Lowered(model=None)
    lowered.origin[inp.node.layer.name] = model.layers[0].name
    for layer in model.layers:
        cls = type(layer).__name__
        if cls == "InputLayer":
            continue
        if cls not in SUPPORTED:
            raise CodesignError(f"layer '{layer.name}': unknown layer type {cls!r}; supported: {', '.join(SUPPORTED)}")
        xs = inbound_tensors(layer, tensors)
        x = xs if cls in ("Add", "Concatenate") else xs[0]
        if cls in DROPPED:
            y = x
        elif cls in MAC_CLASSES:
            y = _mac(layer, x, MAC_CLASSES[cls], lowered)
        elif cls in SEPARABLE:
            y = _separable(layer, x, lowered)
        elif cls == "QBatchNormalization":
            y = _qbatchnorm(layer, x)
            lowered.origin[layer.name] = layer.name
        elif cls == "QActivation":
            y = quantized_activation(layer.get_config()["activation"], layer.name, x, lowered, layer, keep=True)
        elif cls == "Softmax":  # hls4ml's Softmax; precision.derive allows it as the last layer only
            if not is_softmax_layer(layer):
                raise CodesignError(f"layer '{layer.name}' (Softmax): axis {layer.get_config().get('axis')}; "
                                    "allowed: the last axis")
            y = tf.keras.layers.Activation("softmax", name=layer.name)(x)
            lowered.origin[layer.name] = layer.name
        else:
            new = type(layer).from_config(layer.get_config())
            y = new(x)
            if layer.get_weights():
                new.set_weights(layer.get_weights())
            lowered.origin[new.name] = layer.name
        if cls in MAC_CLASSES or cls in SEPARABLE:
            y = _fused_activation(layer, y, lowered)
        out = layer.output
        tensors[out.ref()] = y
    lowered.model = tf.keras.Model(inp, tensors[model.outputs[0].ref()], name=model.name)
    return lowered
