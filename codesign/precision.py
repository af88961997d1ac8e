"""The precision authority: one typed graph, derived once from a (Q)Keras model.

Every fixed-point type codesign uses is decided here and nowhere else: each layer's input, weight,
bias, product, accumulator and result types. Weights/biases/results follow the QKeras quantizers
(`quantizers.py` holds QKeras's conventions); accumulators and un-quantized results are sized by
`spec.mac` so that nothing can overflow or lose a bit (width = w + in + ceil(log2 n_terms), integer
bits likewise, bias aligned with one carry bit). The graph is built on the lowered model
(`lower.py`): one node per hls4ml layer, with the exact weight values hls4ml will store. Export
writes every type into the hls4ml config and checks that hls4ml resolved each one unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from .errors import CodesignError
from .lower import Lowered, lower
from .quantizers import activation_spec, is_sign, quantizer_name, quantizer_object, weight_spec
from .spec import QuantSpec, accumulate, add, mac, product, spec_for_values, union
from .tables import RANGES, TABLE_INPUT_FRAC, table_type, table_values

# Float parameters (BatchNorm scale/bias computed by hls4ml in float32) are held up to this many
# fraction bits; a float32 value of magnitude >= 2^-24 never needs more than 48.
PARAM_FRAC_BITS = 48


ZERO_BIAS = QuantSpec(1, 1, False)
# softmax (nnet_activation.h softmax_stable): sums of exp_table values in (0, 1] with 10 fraction bits;
# 12 integer bits hold the sum of up to 2048 classes exactly
SOFTMAX_ACCUM = QuantSpec(24, 12)
# softmax_stable looks exp(x - x_max) up by the top log2(table size) bits of inp_norm_t. hls4ml's default
# inp_norm_t is the input type unsigned: for wide logits (e.g. 14 integer bits) a 4096 table then steps by
# 2 in x - x_max and near-tied classes get equal probabilities. exp(-8) is below the table's 2^-10, so
# [0, 8) saturating, 16 bits (steps of 1/512); exp and 1/x tables as hls4ml's docs advise (RND, SAT).
SOFTMAX_TABLES = {"inp_norm": QuantSpec(16, 3, False, "RND", "SAT"), "exp_table": QuantSpec(18, 8, True, "RND", "SAT"),
                  "inv_table": QuantSpec(18, 8, True, "RND", "SAT")}


class LayerKind(str, Enum):
    """What a node computes (hls4ml class in brackets)."""
    INPUT = "input"                # InputLayer
    DENSE = "dense"                # Dense
    CONV = "conv"                  # Conv1D/Conv2D (incl. the pointwise half of a separable conv)
    DEPTHWISE = "depthwise"        # DepthwiseConv1D/2D
    QUANTIZE = "quantize"          # Activation linear/relu/hard_tanh with a rounding+saturating result type
    RELU = "relu"                  # Activation relu with an exact result (no quantizer)
    SIGN = "sign"                  # Activation binary_tanh: x >= 0 ? 1 : -1
    FUNCTION_TABLE = "function_table"  # Activation sigmoid/tanh: a table entry per input value, then a cast
    LEAKY_RELU = "leaky_relu"      # LeakyReLU: x > 0 ? x : alpha * x, alpha a power of two, exact result
    BATCHNORM = "batchnorm"        # BatchNormalization: x*scale + bias
    MAX_POOL = "max_pool"          # Pooling1D/2D, GlobalPooling1D/2D (Max)
    AVG_POOL = "avg_pool"          # Pooling1D/2D, GlobalPooling1D/2D (Average)
    RESHAPE = "reshape"            # Flatten/Reshape/ZeroPadding/UpSampling: values move, types stay
    ADD = "add"                    # Merge (add)
    CONCATENATE = "concatenate"    # Concatenate1D/2D/3D
    SOFTMAX = "softmax"            # Softmax (lookup tables: approximate, judged by argmax)


MAC_KINDS = (LayerKind.DENSE, LayerKind.CONV, LayerKind.DEPTHWISE)
MAC_LAYERS = {"Dense", "Conv1D", "Conv2D", "DepthwiseConv1D", "DepthwiseConv2D"}
RESHAPING = {"Flatten", "Reshape", "ZeroPadding1D", "ZeroPadding2D", "UpSampling1D", "UpSampling2D"}
POOLING = {"MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D", "GlobalAveragePooling1D",
           "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D"}


@dataclass
class LayerPrecision:
    """One node of the typed graph: every tensor type of one hls4ml layer."""
    name: str
    class_name: str
    result: QuantSpec
    accum: QuantSpec | None = None
    weight: QuantSpec | None = None
    bias: QuantSpec | None = None
    params: dict[str, QuantSpec] = field(default_factory=dict)  # e.g. BatchNorm scale/bias
    n_terms: int | None = None
    approximate: bool = False  # a softmax lookup table
    table_size: int | None = None  # hls4ml TableSize of a sigmoid/tanh table
    table_function: str | None = None  # its function: a key of TABLES
    source: str | None = None  # the original Keras layer this node belongs to
    kind: LayerKind = LayerKind.RESHAPE
    inputs: list[str] = field(default_factory=list)
    input: QuantSpec | None = None
    product: QuantSpec | None = None
    notes: list[str] = field(default_factory=list)
    # QKeras computes this layer in float where hls4ml's fixed-point result differs (a mean over a window that is
    # not a power of two, a real sigmoid/tanh that rounds apart from hls4ml's table): the proof is against
    # hls4ml's own arithmetic, and validate reports the distance
    float_layer: bool = False

    def hls_precision(self) -> dict[str, str]:
        """The hls4ml config `Precision` entry: every type of this layer, weights and biases included."""
        out = {"result": self.result.to_hls()}
        for key in ("accum", "weight", "bias"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key).to_hls()
        out.update({k: v.to_hls() for k, v in self.params.items()})
        return out

    def to_json(self) -> dict:
        d = {"name": self.name, "class": self.class_name} | self.hls_precision()
        if self.n_terms:
            d["n_terms"] = self.n_terms
        if self.notes:
            d["notes"] = list(self.notes)
        return d


@dataclass
class TypedGraph:
    """The typed graph of one model: nodes in hls4ml order, and the lowered Keras model they describe."""
    nodes: list[LayerPrecision]
    lowered: Lowered
    input_spec: QuantSpec

    @property
    def keras_model(self):
        return self.lowered.model

    def __iter__(self):
        return iter(self.nodes)

    def __contains__(self, name: str) -> bool:
        return any(node.name == name for node in self.nodes)

    def __getitem__(self, name: str) -> LayerPrecision:
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    def mac_nodes(self) -> list[LayerPrecision]:
        return [n for n in self.nodes if n.kind in MAC_KINDS]


def relu_spec(in_spec: QuantSpec) -> QuantSpec:
    """Exact type of relu(x): the sign bit is dropped, every other bit kept."""
    return QuantSpec(in_spec.width - int(in_spec.signed), in_spec.integer - int(in_spec.signed), False)


def _where(layer) -> str:
    return f"layer '{layer.name}' ({type(layer).__name__})"


def _mac_node(layer, in_spec: QuantSpec, lowered: Lowered) -> LayerPrecision:
    cls = type(layer).__name__
    src = lowered.weights[layer.name]
    where = f"layer '{lowered.origin.get(layer.name, layer.name)}' ({cls})"
    w, note = weight_spec(src.kernel_quantizer, src.kernel, where)
    b = None
    notes = [note] if note else []
    if src.bias is not None:
        b, bias_note = weight_spec(src.bias_quantizer, src.bias, where + " bias")
        if bias_note:
            notes.append(bias_note.replace("weights", "bias"))
    kernel = src.kernel
    if cls.startswith("Depthwise"):
        n_terms = int(np.prod(kernel.shape[:-2]))
        kind = LayerKind.DEPTHWISE
    else:
        n_terms = int(np.prod(kernel.shape[:-1]))
        kind = LayerKind.DENSE if cls == "Dense" else LayerKind.CONV
    acc = mac(in_spec, w, n_terms, b)
    if b is None:  # hls4ml stores zeros for a layer without bias, in ufixed<1,1>
        b = ZERO_BIAS
    return LayerPrecision(layer.name, cls, acc, acc, w, b, n_terms=n_terms, kind=kind,
                          product=product(in_spec, w), notes=notes)


def bn_scale_bias(layer) -> tuple[np.ndarray, np.ndarray]:
    """scale and bias as hls4ml computes them (hls4ml model/layers.py BatchNormalization.initialize)."""
    cfg = layer.get_config()
    weights = iter(layer.get_weights())
    n = layer.get_weights()[-1].shape[0]
    gamma = next(weights) if cfg.get("scale", True) else np.ones(n, np.float32)
    beta = next(weights) if cfg.get("center", True) else np.zeros(n, np.float32)
    mean, var = next(weights), next(weights)
    scale = gamma / np.sqrt(var + layer.epsilon)
    return scale, beta - mean * scale


def _batchnorm(layer, in_spec: QuantSpec, user: bool = True) -> LayerPrecision:
    scale, bias = bn_scale_bias(layer)
    s, b = spec_for_values(scale, PARAM_FRAC_BITS), spec_for_values(bias, PARAM_FRAC_BITS)
    notes = ["float BatchNormalization: hls4ml's float32 scale/bias, applied exactly (the proof's reference too; "
             "Keras's float32 result may differ by an ulp)"] if user else []
    if not (np.array_equal(s.quantize(scale), scale.astype(np.float64))
            and np.array_equal(b.quantize(bias), bias.astype(np.float64))):
        raise CodesignError(f"layer '{layer.name}' (BatchNormalization): scale/bias need more than {PARAM_FRAC_BITS} "
                            "fraction bits; allowed: BatchNormalization whose folded scale/bias fit that grid")
    return LayerPrecision(layer.name, "BatchNormalization", add(product(in_spec, s), b), params={"scale": s, "bias": b},
                          kind=LayerKind.BATCHNORM, notes=notes)


def _pool(layer, in_spec: QuantSpec) -> LayerPrecision:
    cls = type(layer).__name__
    if "Max" in cls:  # nnet_pooling.h max() returns accum_t: it must hold the input type
        return LayerPrecision(layer.name, cls, in_spec, in_spec, kind=LayerKind.MAX_POOL)
    if cls.startswith("Global"):
        size = int(np.prod(layer.input_shape[1:-1]))
    else:
        size = int(np.prod(layer.pool_size))
        if layer.get_config().get("padding") == "same" and any(
                d % s for d, s in zip(layer.input_shape[1:-1], layer.strides)):
            raise CodesignError(f"layer '{layer.name}' ({cls}): padding='same' averages edge windows over fewer "
                                "values; allowed: padding='valid' or sizes the stride divides")
    # hls4ml nnet_pooling.h avg(): sum in accum_t, then `/= N` still in accum_t -> needs both growths. For a
    # power of two the mean is exact; else its fraction bits grow as for the next power of two and the quotient
    # is truncated toward zero there (ap_fixed `/` is an integer sdiv at accum_t's LSB): deterministic, but not
    # QKeras's float mean (a float layer: the proof is against hls4ml's arithmetic, `reference.hls_mean`)
    shift = math.ceil(math.log2(size)) if size > 1 else 0
    float_mean = 2**shift != size
    notes = [f"averages {size} values, not a power of two: hls4ml truncates the mean toward zero at "
             f"2^{-(in_spec.frac + shift)}, QKeras keeps a float mean"] if float_mean else []
    acc = accumulate(in_spec, size)
    acc = QuantSpec(acc.width + shift, acc.integer, acc.signed)
    mean = QuantSpec(in_spec.width + shift, in_spec.integer, in_spec.signed)
    return LayerPrecision(layer.name, cls, mean, acc, n_terms=size, kind=LayerKind.AVG_POOL, float_layer=float_mean,
                          notes=notes)


def softmax_precision(name: str) -> LayerPrecision:
    """Probabilities in [0, 1): all 18 bits fractional, so near-tied classes stay distinguishable.
    Tables: SOFTMAX_TABLES (hls4ml's stable softmax, nnet_activation.h)."""
    return LayerPrecision(name, "Softmax", QuantSpec(18, 0, False, "RND_CONV", "SAT"), SOFTMAX_ACCUM, approximate=True,
                          source=name, kind=LayerKind.SOFTMAX, params=dict(SOFTMAX_TABLES))


def _activation(layer, in_spec: QuantSpec, is_last: bool) -> LayerPrecision:
    act = layer.get_config()["activation"]
    if act == "linear":
        return LayerPrecision(layer.name, "Activation", in_spec, kind=LayerKind.RESHAPE)
    if act == "relu":
        return LayerPrecision(layer.name, "Activation", relu_spec(in_spec), kind=LayerKind.RELU)
    if act == "softmax" and is_last:
        return softmax_precision(layer.name)
    raise CodesignError(f"layer '{layer.name}': activation {act!r} is not bit-exact in hls4ml; "
                        "allowed: linear, relu, a final softmax, or a QActivation")


# nnet_activation.h sigmoid / tanh: (table range R, the function) for the near-tie check
TABLES = {"sigmoid": (RANGES["sigmoid"], lambda x: 1.0 / (1.0 + np.exp(-x))), "tanh": (RANGES["tanh"], np.tanh)}


def function_table(name: str, q, in_spec: QuantSpec) -> LayerPrecision:
    """quantized_sigmoid(use_real_sigmoid=True) / quantized_tanh(use_real_tanh=True) as hls4ml's lookup table
    (nnet_activation.h sigmoid/tanh): x looks up index x * N / (2R) + N/2, clamped to [0, N). With
    N = 2R * 2^f for inputs of f fraction bits every x in [-R, R) has its own entry, at exactly x.

    QKeras rounds TensorFlow's float32 function onto the result grid, hls4ml the C++ one (`tables.py`): both are
    within a few float32 steps of the true value, so they agree unless it is that close to a rounding tie, and
    beyond +-R the table repeats its end entries. Where they may round apart (a tie within 2^-20 of a step, or
    a different value at any input), the layer is a float layer: proven against hls4ml's table, and the
    distance from QKeras reported (`reference.float_layer_distance`).
    """
    fn_name = "sigmoid" if quantizer_name(q) == "quantized_sigmoid" else "tanh"
    half, fn = TABLES[fn_name]
    result = activation_spec(q, f"layer '{name}'")
    where = f"layer '{name}' ({quantizer_name(q)}(use_real_{fn_name}=True))"
    f = in_spec.frac
    if not TABLE_INPUT_FRAC[0] <= f <= TABLE_INPUT_FRAC[1]:
        raise CodesignError(f"{where}: its input {in_spec.to_hls()} has {f} fraction bits; hls4ml's {fn_name} table "
                            f"holds one entry per input value only for {TABLE_INPUT_FRAC[0]} to "
                            f"{TABLE_INPUT_FRAC[1]}; allowed: quantize the input to at most "
                            f"{TABLE_INPUT_FRAC[1]} fraction bits first")
    ulp = in_spec.lsb
    lo, hi = max(in_spec.min_value, -half), min(in_spec.max_value, half - ulp)
    xs = np.arange(round(lo / ulp), round(hi / ulp) + 1) * ulp
    ends = [e for e in (in_spec.min_value, in_spec.max_value) if abs(e) > half - ulp]  # where the table clamps
    scaled = fn(xs) / result.lsb
    near_tie = np.abs(scaled - np.floor(scaled) - 0.5) <= 2.0**-20 / result.lsb
    grid = np.concatenate([xs, ends])
    apart = _qkeras_values(q, grid) != table_values(fn_name, grid, ulp, result)
    apart[:len(xs)] |= near_tie
    notes = [f"{int(apart.sum())} of {len(grid)} input values: QKeras's float32 {fn_name} and hls4ml's table may "
             "round apart (a rounding tie, or inputs beyond the table's range)"] if apart.any() else []
    return LayerPrecision(name, "QActivation", result, params={"table": table_type(result)},
                          kind=LayerKind.FUNCTION_TABLE, table_size=int(2 * half * 2**f), table_function=fn_name,
                          float_layer=bool(apart.any()), notes=notes)


def _qkeras_values(q, xs: np.ndarray) -> np.ndarray:
    """QKeras's quantizer itself on (float32-exact) inputs."""
    import tensorflow as tf

    return np.asarray(q(tf.constant(xs, tf.float32)), np.float64)


def _leaky_relu(layer, in_spec: QuantSpec) -> LayerPrecision:
    """nnet_activation.h leaky_relu: x > 0 ? x : alpha * x, with alpha = 2^-k (quantizers.leaky_parameters)."""
    alpha = float(layer.get_config()["alpha"])
    k = int(round(-math.log2(alpha)))
    result = QuantSpec(in_spec.width + k, in_spec.integer, True) if in_spec.signed else in_spec
    return LayerPrecision(layer.name, "LeakyReLU", result, params={"param": spec_for_values(np.array([alpha]))},
                          kind=LayerKind.LEAKY_RELU)


def _merge(layer, specs: list[QuantSpec]) -> LayerPrecision:
    cls = type(layer).__name__
    if len(specs) != 2:
        raise CodesignError(f"layer '{layer.name}' ({cls}): {len(specs)} inputs; allowed: 2 (hls4ml merges pairs)")
    if cls == "Add":  # nnet_merge.h add(): res = data1 + data2, full precision, then cast
        return LayerPrecision(layer.name, cls, add(*specs), kind=LayerKind.ADD)
    return LayerPrecision(layer.name, cls, union(*specs), kind=LayerKind.CONCATENATE)


def _node(layer, specs: list[QuantSpec], lowered: Lowered, is_last: bool) -> LayerPrecision:
    cls = type(layer).__name__
    spec = specs[0]
    if cls in MAC_LAYERS:
        return _mac_node(layer, spec, lowered)
    if cls == "QActivation":
        q = quantizer_object(layer.get_config()["activation"])
        if getattr(q, "use_real_sigmoid", False) or getattr(q, "use_real_tanh", False):
            return function_table(layer.name, q, spec)
        return LayerPrecision(layer.name, cls, activation_spec(q, _where(layer)),
                              kind=LayerKind.SIGN if is_sign(q) else LayerKind.QUANTIZE)
    if cls == "Activation":
        return _activation(layer, spec, is_last)
    if cls == "BatchNormalization":
        return _batchnorm(layer, spec, user=layer.name not in lowered.affine)
    if cls == "LeakyReLU":
        return _leaky_relu(layer, spec)
    if cls in POOLING:
        return _pool(layer, spec)
    if cls in RESHAPING:
        return LayerPrecision(layer.name, cls, spec, kind=LayerKind.RESHAPE)
    if cls in ("Add", "Concatenate"):
        return _merge(layer, specs)
    raise CodesignError(f"layer '{layer.name}': unknown layer type {cls!r}")


def _inbound_names(layer) -> list[str]:
    inbound = layer._inbound_nodes[0].inbound_layers
    return [lyr.name for lyr in (inbound if isinstance(inbound, (list, tuple)) else [inbound])]


def derive(model, input_spec: QuantSpec, overrides: dict[str, QuantSpec] | None = None) -> TypedGraph:
    """The typed graph of `model` (any supported (Q)Keras model, or one `lower()` already made) for inputs
    of type `input_spec`.

    `overrides` forces a node's result (and accumulator) type, e.g. to explore narrower designs.
    """
    overrides = overrides or {}
    lowered = model if isinstance(model, Lowered) else lower(model)
    keras = lowered.model
    in_name = keras.layers[0].name
    nodes = [LayerPrecision(in_name, "InputLayer", input_spec, source=lowered.origin.get(in_name, in_name),
                            kind=LayerKind.INPUT)]
    types = {in_name: input_spec}
    last = keras.layers[-1].name
    for layer in keras.layers[1:]:
        names = _inbound_names(layer)
        node = _node(layer, [types[n] for n in names], lowered, layer.name == last)
        node.inputs, node.input = names, types[names[0]]
        node.source = lowered.origin.get(layer.name, layer.name)
        if node.name in lowered.output_values:  # a composite activation's last layer: the values it takes
            node.result = spec_for_values(lowered.output_values[node.name])
        if node.name in overrides:
            node.result = overrides[node.name]
            node.accum = overrides[node.name] if node.accum is not None else None
        types[node.name] = node.result
        nodes.append(node)
    return TypedGraph(nodes, lowered, input_spec)


def derive_precisions(model, input_spec: QuantSpec, overrides: dict[str, QuantSpec] | None = None
                      ) -> list[LayerPrecision]:
    """The nodes of `derive(...)`, in hls4ml layer order."""
    return derive(model, input_spec, overrides).nodes

