"""The exact reference of a proof: the QKeras model's function computed without float32 rounding.

Keras computes in float32, whose 24-bit mantissa cannot hold a sum of 30 bits: a C model that is exact can
then differ from QKeras's own output (`../shared/repro/float32_reference`: 0.4 "bit-exact"). Here each node of
the lowered model (one per hls4ml layer) is evaluated in float64, which holds every sum of up to 53 bits
exactly, whatever the order of the additions:

- Dense/Conv/Depthwise, pooling, Add, Concatenate, reshapes, relu and LeakyReLU: the same Keras layer,
  cloned with dtype float64 and the same (exact) weights;
- BatchNormalization: x * scale + bias with hls4ml's own float32 scale and bias (`bn_scale_bias`), the
  arithmetic the C model does exactly (Keras's rsqrt-based float32 result is within a few ulps of it);
- QActivation: the QKeras layer itself where its input is exact in float32 (its quantizer is then exact),
  else the quantizer's own type (`quantizers.activation_spec`) applied in float64;
- a real sigmoid/tanh: hls4ml's lookup table as its C++ fills it (`tables.py`), equal to QKeras's wherever
  `precision.function_table` found no rounding tie;
- a float layer (`LayerPrecision.float_layer`: a mean over a window that is not a power of two, or a real
  sigmoid/tanh that QKeras's float32 rounds apart from the table): hls4ml's own arithmetic (`hls_mean`, the
  table), the one the C model must match; `ExactReference(graph, keras_float=True)` computes QKeras's float
  function there instead, and `float_layer_distance` says how far the two models' outputs are apart.

Sums wider than 53 bits are still rounded by float64 (`wide_nodes` names them). The QKeras float32
result is not the judge; `Distance` reports how far it is from this reference.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .precision import TABLES, LayerKind, TypedGraph, bn_scale_bias
from .quantizers import activation_spec, is_sign, quantizer_name, quantizer_object
from .tables import table_values

FLOAT64_EXACT_BITS = 53  # float64 mantissa: sums up to this width are exact in any order
BATCH = 1024


def wide_nodes(graph: TypedGraph) -> list[str]:
    """Nodes whose sums are wider than float64's 53 bits: the reference itself may round there."""
    out = []
    for n in graph.nodes:
        width = n.accum.width if n.accum is not None and n.kind is not LayerKind.MAX_POOL else n.result.width
        if n.kind in (LayerKind.DENSE, LayerKind.CONV, LayerKind.DEPTHWISE, LayerKind.AVG_POOL, LayerKind.ADD,
                      LayerKind.LEAKY_RELU, LayerKind.BATCHNORM) and width > FLOAT64_EXACT_BITS:
            out.append(n.name)
    return out


def _float64_twin(layer):
    """The Keras layer rebuilt with dtype float64 and the same weights (exact values, float32 -> float64)."""
    twin = type(layer).from_config(layer.get_config() | {"dtype": "float64"})
    shape = layer.input_shape
    twin.build(shape)
    if layer.weights:
        twin.set_weights([np.asarray(w, np.float64) for w in layer.get_weights()])
    return twin


def _quantize_float64(layer, x: np.ndarray, kind: LayerKind) -> np.ndarray:
    """A QActivation's quantizer on float64 inputs, as QKeras computes it on exact ones."""
    q = quantizer_object(layer.get_config()["activation"])
    where = f"layer '{layer.name}'"
    if kind is LayerKind.SIGN or is_sign(q):
        return np.where(x >= 0, 1.0, -1.0)
    spec = activation_spec(q, where)
    if kind is LayerKind.FUNCTION_TABLE:
        fn = TABLES["sigmoid" if quantizer_name(q) == "quantized_sigmoid" else "tanh"][1]
        return spec.quantize(fn(x))
    if quantizer_name(q) == "quantized_sigmoid":  # hard sigmoid: clip(x / 2 + 1 / 2), the cast saturates
        x = x * 0.5 + 0.5
    return spec.quantize(x)


def hls_mean(mean: np.ndarray, n: int, in_lsb: float, out_lsb: float) -> np.ndarray:
    """hls4ml's mean of n values given their exact float64 mean: nnet_pooling.h avg() sums in accum_t, then
    `y /= n`, an integer division of the sum's raw bits at accum_t's LSB (`out_lsb`) that truncates toward
    zero (ap_fixed_base.h operator/: sdiv). The sum is recovered exactly from the float64 mean (both roundings
    are far below its LSB `in_lsb` for sums of up to 50 bits)."""
    total = np.round(mean * n / in_lsb).astype(np.int64)  # the sum in input LSBs
    raw = total * round(in_lsb / out_lsb)  # the same sum in accum_t LSBs (out_lsb = in_lsb / 2^k)
    return np.sign(raw) * (np.abs(raw) // n) * out_lsb


def _exact_in_float32(x: np.ndarray) -> bool:
    return bool(np.array_equal(x.astype(np.float32).astype(np.float64), x))


class ExactReference:
    """Evaluates a typed graph's Keras model exactly (see the module docstring); twins are built once."""

    def __init__(self, graph: TypedGraph, keras_float: bool = False):
        self.graph = graph
        self.keras_float = keras_float  # float layers as QKeras computes them, not as hls4ml does
        self._twins: dict[str, object] = {}

    def _twin(self, layer):
        if layer.name not in self._twins:
            self._twins[layer.name] = _float64_twin(layer)
        return self._twins[layer.name]

    def _node(self, node, inputs: list[np.ndarray]) -> np.ndarray:
        import tensorflow as tf

        layer = self.graph.keras_model.get_layer(node.name)
        x = inputs[0]
        if node.kind is LayerKind.BATCHNORM:
            scale, bias = (np.asarray(a, np.float64) for a in bn_scale_bias(layer))
            return x * scale + bias
        if node.kind is LayerKind.FUNCTION_TABLE and not self.keras_float:  # hls4ml's table, as its C++ fills it
            return table_values(node.table_function, x, node.input.lsb, node.result)
        if node.class_name == "QActivation":
            if _exact_in_float32(x):
                return np.asarray(layer(tf.constant(x, tf.float32), training=False), np.float64)
            return _quantize_float64(layer, x, node.kind)
        args = [tf.constant(v, tf.float64) for v in inputs]
        out = np.asarray(self._twin(layer)(args if len(args) > 1 else args[0], training=False), np.float64)
        if node.float_layer and not self.keras_float:
            return hls_mean(out, node.n_terms, node.input.lsb, node.accum.lsb)
        return out

    def values(self, xq: np.ndarray, names: list[str] | None = None) -> dict[str, np.ndarray]:
        """Every node's exact output on inputs xq (already on the input type's grid); `names`: keep only those."""
        xq = np.asarray(xq, np.float64)
        keep = set(names) if names is not None else None
        chunks: dict[str, list[np.ndarray]] = {}
        for start in range(0, len(xq), BATCH):
            first = self.graph.nodes[0].name
            vals = {first: xq[start:start + BATCH]}
            for node in self.graph.nodes[1:]:
                if node.kind is LayerKind.SOFTMAX:
                    continue
                vals[node.name] = self._node(node, [vals[n] for n in node.inputs])
            for name, v in vals.items():
                if keep is None or name in keep:
                    chunks.setdefault(name, []).append(v)
        return {name: np.concatenate(parts) for name, parts in chunks.items()}

    def outputs(self, xq: np.ndarray) -> np.ndarray:
        """The model's output (its last layer's), exactly."""
        last = self.graph.keras_model.layers[-1].name
        return self.values(xq, [last])[last]


@dataclass
class Distance:
    """How far QKeras's float32 outputs are from the exact reference (reported, never the judge)."""
    outputs_differ: float  # share of output values that differ
    max_abs_diff: float
    argmax_agreement: float

    def to_json(self) -> dict:
        return {"outputs_differ": self.outputs_differ, "max_abs_diff": self.max_abs_diff,
                "argmax_agreement": self.argmax_agreement}


def distance(float32: np.ndarray, exact: np.ndarray) -> Distance:
    a, b = float32.reshape(len(exact), -1), exact.reshape(len(exact), -1)
    return Distance(outputs_differ=float(np.mean(a != b)) if a.size else 0.0,
                    max_abs_diff=float(np.max(np.abs(a - b))) if a.size else 0.0,
                    argmax_agreement=float(np.mean(np.argmax(a, 1) == np.argmax(b, 1))) if a.size else 1.0)


@dataclass
class FloatLayerDistance:
    """How far the model with QKeras's float layers is from the one with hls4ml's arithmetic there (both exact
    elsewhere): the price of a float layer, reported by validate and accepted only when asked."""
    layers: list[str]
    outputs_differ: int  # output values that differ
    outputs: int
    max_abs_diff: float
    output_type: str
    max_lsb: float  # the largest difference, in LSBs of the output type
    argmax_agreement: float

    def line(self) -> str:
        where = ", ".join(f"'{n}'" for n in self.layers)
        return (f"exact to hls4ml's arithmetic at float layer(s) {where}; {self.outputs_differ} of {self.outputs} "
                f"outputs differ from QKeras's float result, by <= {self.max_abs_diff:.3g} ({self.max_lsb:.3g} LSB of "
                f"{self.output_type}); argmax agreement {self.argmax_agreement:.4f}")

    def to_json(self) -> dict:
        return asdict(self)


def float_layer_line(distance_json: dict | None) -> str | None:
    """The line of a stored FloatLayerDistance (`float_layers` of a validation), None without float layers."""
    return FloatLayerDistance(**distance_json).line() if distance_json else None


def float_layer_distance(graph: TypedGraph, keras: np.ndarray, hls: np.ndarray) -> FloatLayerDistance | None:
    """None without float layers; else the distance of the outputs with QKeras's float function there
    (`ExactReference(graph, keras_float=True)`) from those with hls4ml's arithmetic (the judge), both exact."""
    layers = [n.name for n in graph.nodes if n.float_layer]
    if not layers:
        return None
    keras, hls = keras.reshape(len(hls), -1), hls.reshape(len(hls), -1)
    diff = np.abs(keras - hls)
    out = graph.nodes[-1].result
    return FloatLayerDistance(layers, int(np.count_nonzero(diff)), int(diff.size), float(diff.max(initial=0.0)),
                              out.to_hls(), float(diff.max(initial=0.0) / out.lsb),
                              float(np.mean(np.argmax(keras, 1) == np.argmax(hls, 1))) if hls.size else 1.0)
