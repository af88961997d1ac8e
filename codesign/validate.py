"""Bit-exact proof: QKeras model vs hls4ml C model (compile+predict) vs generated test bench."""

from __future__ import annotations

import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .csim import testbench_csim
from .errors import CodesignError
from .export import ExportOptions, compile_model, convert, quiet
from .modelio import final_softmax, logits_model, rename_for_cpp
from .lower import Lowered, lower
from .precision import LayerKind, TypedGraph, derive
from .reference import (FLOAT64_EXACT_BITS, Distance, ExactReference, FloatLayerDistance, distance,
                        float_layer_distance, float_layer_line, wide_nodes)
from .spec import QuantSpec, spec_for_values

INPUT_BITS_MAX = 16


@dataclass
class ValidationResult:
    model: str
    n_samples: int
    bit_exact_fraction: float
    testbench_bit_exact_fraction: float | None
    argmax_agreement: float
    max_abs_diff: float
    first_mismatch_layer: str | None
    outputs_compared: str
    input_precision: str = ""
    renamed_layers: dict = field(default_factory=dict)
    softmax_argmax_agreement: float | None = None
    inexact_reference_layers: list = field(default_factory=list)  # sums over float64's 53 bits (wide_nodes)
    inputs_changed: int = 0  # input values the input type rounded
    input_note: str | None = None  # ExactCore.input_note
    float32_distance: dict = field(default_factory=dict)  # QKeras's float32 outputs vs the exact reference
    float_layers: dict | None = None  # reference.FloatLayerDistance: layers proven against hls4ml's arithmetic
    trace_error: str | None = None  # why the layer trace could not name the first mismatch
    timings_s: dict = field(default_factory=dict)
    layers: list = field(default_factory=list)
    csim_labels: np.ndarray | None = field(default=None, repr=False)  # argmax of the deliverable C model
    csim_outputs: np.ndarray | None = field(default=None, repr=False)  # the deliverable C model's outputs

    def public(self) -> dict:
        """The `codesign validate --json` shape."""
        keys = ("model", "n_samples", "bit_exact_fraction", "testbench_bit_exact_fraction", "argmax_agreement",
                "max_abs_diff", "first_mismatch_layer", "outputs_compared", "input_precision", "inputs_changed",
                "float_layers")
        return {k: getattr(self, k) for k in keys}

    def float_layer_line(self) -> str | None:
        """The line validate prints when a float layer was proven against hls4ml's arithmetic."""
        return float_layer_line(self.float_layers)

    def to_json(self) -> dict:
        d = asdict(self)
        d.pop("csim_labels")
        d.pop("csim_outputs")
        return d


def derive_input_spec(x: np.ndarray, model) -> QuantSpec:
    """The narrowest type that holds the inputs exactly, if one of at most 16 bits does (hls4ml's default input
    is 16 bits wide); else a 16-bit type covering their range, rounding (`ExactCore.inputs_changed` counts
    the values that moved; pass an input type to decide otherwise).

    The width is also capped so that every sum stays within float64's 53 bits, where the exact reference
    (`reference.py`) holds it; `inexact_reference_layers` names the layers that stay wider.
    """
    model = model if isinstance(model, Lowered) else lower(model)  # lowered once for every width tried
    exact = spec_for_values(x, max_width=INPUT_BITS_MAX)
    if exact.width <= INPUT_BITS_MAX and np.array_equal(exact.quantize(x), np.asarray(x, np.float64)) \
            and not wide_nodes(derive(model, exact)):
        return exact
    width = min(INPUT_BITS_MAX, exact.width)
    while width > 8 and wide_nodes(derive(model, QuantSpec(width, exact.integer, exact.signed))):
        width -= 1
    return QuantSpec(width, exact.integer, exact.signed, "RND_CONV", "SAT")


def _fraction_equal(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a.reshape(b.shape) == b))


def eager(model, x: np.ndarray, batch: int = 1024) -> list[np.ndarray]:
    """The model's outputs (a list, one per output), op by op. Not model.predict: its compiled graph lets
    TensorFlow's optimizer re-associate QKeras's straight-through x + stop_gradient(q - x) with the adds
    around it, leaving float32 rounding (1 in 2^24) in values that are exact layer by layer. BatchNormalization
    layers compute x * scale + bias with hls4ml's scale (`exact_batchnorm`)."""
    chunks = []
    with exact_batchnorm(model):
        for i in range(0, len(x), batch):
            out = model(x[i:i + batch].astype(np.float32), training=False)
            chunks.append([np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])])
    return [np.concatenate(parts) for parts in zip(*chunks)]


@contextmanager
def exact_batchnorm(model):
    """While inside, the BatchNormalization layers the lowering made for x * scale + bias (epsilon 0, variance 1:
    `lower._affine`) compute exactly that, not through TensorFlow's rsqrt: that one is approximate on AVX-512
    CPUs (rsqrt(1.0) = 0.99999988), which moves values sitting on a threshold (a sign, a rounding tie) across
    it, while hls4ml's scale gamma / np.sqrt(1.0) is exact. Other BatchNormalizations keep TensorFlow's float32."""
    import tensorflow as tf

    from .precision import bn_scale_bias

    originals = {}
    for layer in model.layers:
        if not isinstance(layer, tf.keras.layers.BatchNormalization):
            continue
        last_axis = list(layer.axis) in ([-1], [len(layer.input_shape) - 1])
        if layer.epsilon == 0 and last_axis and np.all(layer.get_weights()[-1] == 1.0):
            originals[layer] = layer.call
            scale, bias = bn_scale_bias(layer)  # hls4ml's fold: gamma / sqrt(var + eps), beta - mean * scale
            layer.call = lambda inputs, training=None, s=scale, b=bias, **kw: (
                inputs * tf.constant(s, inputs.dtype) + tf.constant(b, inputs.dtype))
    try:
        yield
    finally:
        for layer, call in originals.items():
            layer.call = call


def keras_outputs(model, x: np.ndarray) -> np.ndarray:
    return np.asarray(eager(model, x)[0], dtype=np.float64)


def first_mismatch(graph: TypedGraph, opts: ExportOptions, x: np.ndarray) -> str | None:
    """Trace every node in hls4ml and evaluate it exactly (`reference.py`); name the first whose outputs differ.

    Every node is compared (Dense outputs included); a node hls4ml did not trace is an error.
    """
    named = [n for n in graph.nodes if n.kind not in (LayerKind.INPUT, LayerKind.SOFTMAX)]
    exact = ExactReference(graph).values(x, [n.name for n in named])
    with tempfile.TemporaryDirectory(prefix="codesign_trace_") as tmp:
        hls_model = convert(graph, opts, Path(tmp) / "prj", trace=True)
        with quiet():
            _, trace = hls_model.trace(np.ascontiguousarray(x))
    present = {layer.name for layer in hls_model.get_layers()}
    for node in named:
        ref = exact[node.name]
        got = trace.get(node.name)
        identity = node.kind is LayerKind.RESHAPE and node.result == node.input
        if got is None and identity and (node.name not in present or node.class_name in ("Flatten", "Reshape")):
            continue  # a linear activation hls4ml removed, or a reshape it does in place: the values are its input's
        if got is None:
            raise CodesignError(f"layer '{node.name}': hls4ml did not trace it; cannot tell whether it is exact")
        if not _same(np.asarray(got, np.float64).reshape(ref.shape), ref, node.result):
            return node.name
    return None


def _same(got: np.ndarray, ref: np.ndarray, spec: QuantSpec) -> bool:
    """Equal to the exact reference taken onto the node's grid (a node's type may be narrower than the Keras
    layer's float result, e.g. a search's override). For a type wider than float64's mantissa the reference
    itself rounds: equal up to a few float64 steps of the tensor's largest value."""
    if spec.width <= FLOAT64_EXACT_BITS:
        return np.array_equal(got, np.round(ref / spec.lsb) * spec.lsb)
    return bool(np.all(np.abs(got - ref) <= 2.0**-49 * max(float(np.abs(ref).max(initial=0.0)), spec.lsb)))


@dataclass
class ExactCore:
    """The part of a model that must be bit-exact (without its final softmax), its inputs on their grid, its
    typed graph, and how many input values the input type changed (0 when it holds them all)."""
    core: object
    softmax: bool
    input_spec: QuantSpec
    xq: np.ndarray
    graph: TypedGraph
    inputs_changed: int = 0
    inputs_max_change: float = 0.0
    _keras: np.ndarray | None = field(default=None, repr=False)  # outputs with QKeras's float layers, exactly

    def inexact_reference_layers(self) -> list[str]:
        """Sums over float64's 53 bits: there the exact reference itself may round."""
        return wide_nodes(self.graph)

    def reference(self) -> tuple[np.ndarray, Distance]:
        """The exact outputs (the judge) and the distance of QKeras's float32 outputs from QKeras's function
        computed exactly (the judge itself, unless the model has float layers: `float_layers`)."""
        exact = ExactReference(self.graph).outputs(self.xq)
        return exact, distance(keras_outputs(self.core, self.xq), self._keras_exact(exact))

    def float_layers(self, exact: np.ndarray) -> FloatLayerDistance | None:
        """How far the judge (hls4ml's arithmetic at the float layers) is from QKeras's function; None without."""
        return float_layer_distance(self.graph, self._keras_exact(exact), exact)

    def _keras_exact(self, exact: np.ndarray) -> np.ndarray:
        if not any(n.float_layer for n in self.graph.nodes):
            return exact
        if self._keras is None:
            self._keras = ExactReference(self.graph, keras_float=True).outputs(self.xq)
        return self._keras

    def input_note(self) -> str | None:
        """One line when the input type changed the user's inputs (the proof is about the changed ones)."""
        if not self.inputs_changed:
            return None
        return (f"inputs rounded to {self.input_spec.to_hls()}: {self.inputs_changed} of {self.xq.size} values "
                f"changed (by up to {self.inputs_max_change:g}); the proof covers the rounded inputs; "
                "--input-type sets the type")


def exact_core(model, x: np.ndarray, input_spec: QuantSpec | None = None,
               overrides: dict[str, QuantSpec] | None = None) -> ExactCore:
    softmax = final_softmax(model)
    core = logits_model(model) if softmax else model
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 2 or not len(x) or not np.all(np.isfinite(x)):
        raise CodesignError(f"inputs of shape {x.shape}: allowed: at least one sample of finite numbers")
    if x.shape[1:] != tuple(core.input_shape[1:]):
        raise CodesignError(f"inputs have shape {x.shape[1:]}, the model expects {tuple(core.input_shape[1:])}")
    lowered = lower(core)
    input_spec = input_spec or derive_input_spec(x, lowered)
    xq = np.ascontiguousarray(input_spec.quantize(x))
    moved = np.abs(xq - x)
    return ExactCore(core, softmax, input_spec, xq, derive(lowered, input_spec, overrides),
                     inputs_changed=int(np.count_nonzero(moved)), inputs_max_change=float(moved.max(initial=0.0)))


def verify(model, x: np.ndarray, opts: ExportOptions, project_dir: Path, *, name: str = "model",
           input_spec: QuantSpec | None = None, overrides: dict[str, QuantSpec] | None = None,
           testbench: bool = True, progress=None) -> tuple[ValidationResult, list]:
    """Export `model` to `project_dir` and prove it bit-exact on inputs x (both C-sim ways)."""
    step = progress or (lambda msg: None)
    model, renamed = rename_for_cpp(model)
    exact = exact_core(model, x, input_spec, overrides)
    softmax, input_spec, xq, graph = exact.softmax, exact.input_spec, exact.xq, exact.graph
    timings: dict[str, float] = {}

    step("export + g++ compile (hls4ml)")
    exact_dir = project_dir.with_name(project_dir.name + "_logits") if softmax else project_dir
    hls_core = convert(graph, opts, exact_dir)
    timings["compile_s"] = round(compile_model(hls_core), 2)
    ref, float32 = exact.reference()
    start = time.perf_counter()
    with quiet():
        out = np.asarray(hls_core.predict(xq), dtype=np.float64).reshape(ref.shape)
    timings["predict_s"] = round(time.perf_counter() - start, 3)

    tb_frac = None
    if testbench:
        step("C simulation: myproject_test.cpp with g++")
        tb_out, tb_times = testbench_csim(exact_dir, xq, ref.reshape(len(ref), -1))
        timings.update(tb_times)
        tb_frac = _fraction_equal(tb_out, ref.reshape(len(ref), -1))

    exact_frac = _fraction_equal(out, ref)
    mismatch, trace_error = None, None
    if exact_frac < 1.0 or (tb_frac is not None and tb_frac < 1.0):
        step("tracing layers to find the first mismatch")
        try:
            mismatch = first_mismatch(graph, opts, xq)
        except CodesignError as exc:  # the outputs already differ: a failed trace must not turn that into exit 2
            trace_error = str(exc)
    result = ValidationResult(
        model=name, n_samples=len(x), bit_exact_fraction=exact_frac, testbench_bit_exact_fraction=tb_frac,
        argmax_agreement=float(np.mean(np.argmax(out.reshape(len(x), -1), 1) == np.argmax(ref.reshape(len(x), -1), 1))),
        max_abs_diff=float(np.max(np.abs(out - ref))) if out.size else 0.0,
        first_mismatch_layer=mismatch, outputs_compared="logits" if softmax else "outputs",
        input_precision=input_spec.to_hls(), renamed_layers=renamed, timings_s=timings, trace_error=trace_error,
        layers=[lp.to_json() for lp in graph.nodes], csim_labels=np.argmax(out.reshape(len(x), -1), 1),
        csim_outputs=out,
    )
    if softmax:
        step("export + g++ compile with the final softmax")
        full = derive(model, input_spec, overrides)
        hls_full = convert(full, opts, project_dir)
        timings["compile_softmax_s"] = round(compile_model(hls_full), 2)
        with quiet():
            probs = np.asarray(hls_full.predict(xq), dtype=np.float64).reshape(len(x), -1)
        keras_probs = keras_outputs(model, xq).reshape(len(x), -1)
        result.softmax_argmax_agreement = float(np.mean(np.argmax(probs, 1) == np.argmax(keras_probs, 1)))
        result.csim_labels, result.csim_outputs = np.argmax(probs, 1), probs
        result.layers.append(full.nodes[-1].to_json())
    result.inexact_reference_layers = exact.inexact_reference_layers()
    result.inputs_changed, result.input_note = exact.inputs_changed, exact.input_note()
    result.float32_distance = float32.to_json()
    floats = exact.float_layers(ref)
    result.float_layers = floats.to_json() if floats else None
    return result, graph.nodes
