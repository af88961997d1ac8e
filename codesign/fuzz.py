"""Property-based fuzzing of `validate`: random small QKeras models over the quantizer and layer space.

A draw is a plain dict (`ModelSpec`), printed as JSON when it fails: `build(spec)` rebuilds the exact
model. Every draw must end bit-exact both ways or refused with one CodesignError line; anything
else is `wrong`. Used by tests/test_fuzz_slow.py (fixed-seed slice) and benchmarks/fuzz_validate.py.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import CodesignError

def _st():
    from hypothesis import strategies as st

    return st


def kernel_quantizers():
    st = _st()
    return st.one_of(
        # (QKeras's string parser cannot read `=None`: a default is left out instead)
        st.builds(lambda b, i, k, s, a: f"quantized_bits({b},{i},keep_negative={k},symmetric={s}{a})",
                  st.integers(1, 16), st.integers(0, 4), st.booleans(), st.booleans(),
                  st.sampled_from(["", ",alpha=1", ",alpha='auto_po2'"])),
        st.builds(lambda b, m: f"quantized_po2({b}{m})", st.integers(2, 8), st.sampled_from(["", ",max_value=1",
                                                                                            ",max_value=2"])),
        st.just("binary(alpha=1)"),
        st.builds(lambda t: f"ternary(alpha=1{t})", st.sampled_from(["", ",threshold=0.3", ",threshold=0.5"])),
        st.just("float"),  # no quantizer: weights on a 2^-4 grid
    )


def activations():
    st = _st()
    return st.one_of(
        st.builds(lambda b, i: f"quantized_relu({b},{i})", st.integers(1, 10), st.integers(0, 4)),
        st.builds(lambda b, i, k: f"quantized_relu({b},{i},negative_slope={2.0 ** -k})", st.integers(2, 8),
                  st.integers(0, 3), st.integers(0, 3)),
        st.builds(lambda b, i, s: f"quantized_bits({b},{i},symmetric={s},alpha=1)", st.integers(1, 12),
                  st.integers(0, 5), st.booleans()),
        st.builds(lambda b, s, r: f"quantized_tanh({b},symmetric={s},use_real_tanh={r})", st.integers(2, 8),
                  st.booleans(), st.booleans()),
        st.builds(lambda b, s, r: f"quantized_sigmoid({b},symmetric={s},use_real_sigmoid={r})", st.integers(1, 8),
                  st.booleans(), st.booleans()),
        st.builds(lambda a, t: f"ternary({a}threshold={t})", st.sampled_from(["", "alpha=1,", "alpha=0.5,"]),
                  st.sampled_from([0.1, 0.33, 0.5, 1.0])),
        st.sampled_from(["relu", "linear", "binary(alpha=1)", "binary_tanh", "ternary()"]),
    )


def model_specs():
    """A hypothesis strategy of ModelSpec dicts."""
    st = _st()

    @st.composite
    def draw_spec(draw):
        conv = draw(st.booleans())
        blocks = []
        for _ in range(draw(st.integers(1, 3))):
            kind = draw(st.sampled_from(["conv", "depthwise"] if conv else ["dense"]))
            blocks.append({"kind": kind, "units": draw(st.integers(2, 6)), "kernel": draw(kernel_quantizers()),
                           "bias": draw(st.builds(lambda b, i: f"quantized_bits({b},{i},alpha=1)", st.integers(2, 10),
                                                  st.integers(0, 4))),
                           "batchnorm": draw(st.sampled_from(BATCHNORMS)), "activation": draw(activations()),
                           "merge": draw(st.sampled_from(["none", "add", "concat"])) if conv else "none",
                           "pool": draw(st.sampled_from(["none", "max", "avg"])) if conv else "none"})
        return {"input": [draw(st.sampled_from([4, 6])), draw(st.sampled_from([4, 6])), draw(st.integers(1, 3))]
                if conv else [draw(st.integers(3, 10))],
                "blocks": blocks, "input_scale": draw(st.sampled_from([1.0, 4.0, 16.0])),
                "io_type": draw(st.sampled_from(["io_parallel", "io_stream"])) if conv else "io_parallel",
                "head": draw(st.sampled_from(["flatten", "global_avg"])) if conv else "none",
                "strategy": draw(st.sampled_from(["Latency", "Resource"])), "seed": draw(st.integers(0, 2**16))}

    return draw_spec()


BATCHNORMS = ("none", "grid", "float")  # no BatchNormalization, power-of-two parameters, trained-like floats


def _batchnorm(block: dict) -> str:
    """A block's BatchNormalization kind (older rows stored True/False for grid/none)."""
    bn = block["batchnorm"]
    return {True: "grid", False: "none"}.get(bn, bn)


def _quantizer(text: str):
    from qkeras.quantizers import get_quantizer

    return None if text == "float" else get_quantizer(text)


def build(spec: dict):
    """The QKeras model a ModelSpec describes (weights from spec['seed'])."""
    import tensorflow as tf
    from qkeras import QActivation, QConv2D, QDense, QDepthwiseConv2D

    rng = np.random.default_rng(spec["seed"])
    inp = tf.keras.Input(tuple(spec["input"]), name="x")
    h = inp
    for i, b in enumerate(spec["blocks"]):
        block_in = h
        kq, bq = _quantizer(b["kernel"]), _quantizer(b["bias"])
        if b["kind"] == "dense":
            layer = QDense(b["units"], kernel_quantizer=kq, bias_quantizer=bq, name=f"d{i}")
        elif b["kind"] == "conv":
            layer = QConv2D(b["units"], 3, padding="same", kernel_quantizer=kq, bias_quantizer=bq, name=f"c{i}")
        else:
            layer = QDepthwiseConv2D(3, padding="same", depthwise_quantizer=kq, bias_quantizer=bq, name=f"dw{i}")
        h = layer(h)
        weights = [rng.normal(0, 0.6, w.shape) for w in layer.get_weights()]
        if b["kernel"] == "float":
            weights[0] = np.round(weights[0] * 16) / 16
        layer.set_weights(weights)
        if _batchnorm(b) != "none":
            bn = tf.keras.layers.BatchNormalization(name=f"bn{i}")
            h = bn(h)
            n = h.shape[-1]
            if _batchnorm(b) == "grid":  # parameters on power-of-two grids: hls4ml's scale/bias equal Keras's
                bn.set_weights([2.0 ** rng.integers(-2, 2, n), np.round(rng.normal(0, 1, n) * 4) / 4,
                                np.round(rng.normal(0, 1, n) * 4) / 4, 4.0 ** rng.integers(-1, 2, n) - 1e-3])
            else:  # as training leaves them: any float32, so x * scale + bias is a wide product
                bn.set_weights([rng.uniform(0.3, 3, n) * rng.choice([-1, 1], n), rng.normal(0, 1, n),
                                rng.normal(0, 1, n), rng.uniform(0.05, 4, n)])
        act = b["activation"]
        if act in ("relu", "linear"):
            h = tf.keras.layers.Activation(act, name=f"a{i}")(h)
        else:
            h = QActivation(act, name=f"a{i}")(h)
        if b.get("merge") == "add" and block_in.shape[1:] == h.shape[1:]:
            h = tf.keras.layers.Add(name=f"add{i}")([block_in, h])
        elif b.get("merge") == "concat":
            h = tf.keras.layers.Concatenate(name=f"cat{i}")([block_in, h])
        if b.get("pool", "none") != "none" and h.shape[1] >= 4:
            pool = tf.keras.layers.MaxPooling2D if b["pool"] == "max" else tf.keras.layers.AveragePooling2D
            h = pool(2, name=f"pool{i}")(h)
    if spec.get("head") == "global_avg":
        h = tf.keras.layers.GlobalAveragePooling2D(name="gap")(h)
    elif len(spec["input"]) == 3:
        h = tf.keras.layers.Flatten(name="flat")(h)
    return tf.keras.Model(inp, h)


def inputs(spec: dict, n: int = 48) -> np.ndarray:
    """Signed inputs, a quarter of them 8x larger: every quantizer sees saturation."""
    rng = np.random.default_rng(spec["seed"] + 1)
    x = rng.uniform(-1, 1, (n, *spec["input"])) * spec["input_scale"]
    x[: n // 4] *= 8
    return x.astype(np.float32)


@dataclass
class Outcome:
    outcome: str          # exact | refused | wrong
    detail: str           # the refusal line, or what went wrong
    spec: dict

    def kinds(self) -> list[str]:
        """Quantizer kinds this draw used (for the report's per-kind table)."""
        out = []
        for b in self.spec["blocks"]:
            for role, q in (("kernel", b["kernel"]), ("activation", b["activation"])):
                name = q.split("(")[0]
                if name == "quantized_bits" and "alpha='auto_po2'" in q:
                    name += "(auto_po2)"
                out.append(f"{role} {name}")
            bn = _batchnorm(b)
            out.append(f"layer {b['kind']}" + {"none": "", "grid": " + batchnorm", "float": " + float batchnorm"}[bn])
            out += [f"layer {b[k]}" for k in ("merge", "pool") if b.get(k, "none") != "none"]
        if self.spec.get("head") == "global_avg":
            out.append("layer global_avg")
        return out


def run(spec: dict) -> Outcome:
    """Validate one draw end to end (export, compile()+predict(), g++ test bench)."""
    from .export import ExportOptions
    from .validate import verify

    try:
        model = build(spec)
    except Exception as exc:  # noqa: BLE001 - QKeras rejects some parameter mixes itself
        return Outcome("refused", f"QKeras: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", spec)
    opts = ExportOptions(io_type=spec["io_type"], strategy=spec["strategy"],
                         reuse_factor=2 if spec["strategy"] == "Resource" else 1)
    try:
        with tempfile.TemporaryDirectory(prefix="codesign_fuzz_") as tmp:
            result, _ = verify(model, inputs(spec), opts, Path(tmp) / "prj", name="fuzz")
    except CodesignError as exc:
        line = str(exc)
        return Outcome("refused" if "\n" not in line else "wrong", line, spec)
    except Exception as exc:  # noqa: BLE001 - anything else is a bug to report
        return Outcome("wrong", f"{type(exc).__name__}: {exc}", spec)
    if result.bit_exact_fraction == 1.0 and result.testbench_bit_exact_fraction == 1.0:
        # a float layer: exact to hls4ml's arithmetic, its distance from QKeras said in the detail
        return Outcome("exact", result.float_layer_line() or "", spec)
    return Outcome("wrong", f"bit_exact={result.bit_exact_fraction} testbench={result.testbench_bit_exact_fraction} "
                            f"first_mismatch={result.first_mismatch_layer} "
                            f"inexact_reference={result.inexact_reference_layers} trace_error={result.trace_error}",
                   spec)


def reproducer(outcome: Outcome) -> str:
    return f"codesign.fuzz.run({json.dumps(outcome.spec)})  # {outcome.outcome}: {outcome.detail}"


def bn_chain_specs():
    """ModelSpecs of dense chains with trained-like float BatchNormalizations before each activation (wide
    products: fixed<40-60, ...>), the case of `../shared/repro/rtl_bn_chain`."""
    st = _st()
    chain_acts = st.one_of(
        st.builds(lambda b, s: f"quantized_tanh({b},0,{s})", st.integers(3, 8), st.sampled_from([0, 1])),
        st.builds(lambda b, i: f"quantized_relu({b},{i})", st.integers(3, 8), st.integers(0, 3)),
        st.builds(lambda b: f"quantized_sigmoid({b})", st.integers(3, 8)),
        st.builds(lambda b, i: f"quantized_bits({b},{i},alpha=1)", st.integers(4, 10), st.integers(0, 3)))

    @st.composite
    def draw_spec(draw):
        blocks = [{"kind": "dense", "units": draw(st.integers(2, 8)),
                   "kernel": f"quantized_bits({draw(st.integers(4, 10))},{draw(st.integers(0, 2))},alpha=1)",
                   "bias": f"quantized_bits({draw(st.integers(4, 10))},{draw(st.integers(0, 3))},alpha=1)",
                   "batchnorm": "float", "activation": draw(chain_acts), "merge": "none", "pool": "none"}
                  for _ in range(draw(st.integers(2, 3)))]
        return {"input": [draw(st.integers(3, 12))], "blocks": blocks, "input_scale": draw(st.sampled_from([1.0, 4.0])),
                "io_type": "io_parallel", "head": "none", "strategy": "Latency", "seed": draw(st.integers(0, 2**16))}

    return draw_spec()


def run_rtl(spec: dict, synthesize: bool = False) -> Outcome:
    """The draw's RTL against the exact reference: da4ml's compiled logic (its C++ interpreter computes what the
    generated Verilog does), or with `synthesize` the Verilog itself through Yosys and Verilator
    (`codesign synth`, which needs both tools)."""
    from .validate import exact_core

    try:
        model = build(spec)
    except Exception as exc:  # noqa: BLE001
        return Outcome("refused", f"QKeras: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", spec)
    x = inputs(spec)
    try:
        if synthesize:
            from .rtl.synth import synth

            with tempfile.TemporaryDirectory(prefix="codesign_fuzz_rtl_") as tmp:
                result = synth(model, x, Path(tmp) / "rtl", name="fuzz")
            frac = result.rtl_bit_exact_fraction
        else:
            from da4ml.trace import comb_trace

            from .rtl.network import build as build_rtl

            exact = exact_core(model, x)
            want, _ = exact.reference()
            logic = comb_trace(*build_rtl(exact.graph))
            got = np.asarray(logic.predict(exact.xq.reshape(len(x), -1)), np.float64)
            frac = float(np.mean(got == want.reshape(got.shape)))
    except CodesignError as exc:
        return Outcome("refused", str(exc), spec)
    except Exception as exc:  # noqa: BLE001
        return Outcome("wrong", f"{type(exc).__name__}: {exc}", spec)
    return Outcome("exact", "", spec) if frac == 1.0 else Outcome("wrong", f"rtl_bit_exact={frac}", spec)
