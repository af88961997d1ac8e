"""End-to-end bit-exactness: hls4ml compile()+predict() and the g++-built test bench vs QKeras."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from codesign.cli import app
from codesign.export import ExportOptions
from codesign.spec import QuantSpec, parse_hls
from codesign.validate import verify

from . import models

pytestmark = pytest.mark.slow
PUBLIC_KEYS = ["model", "n_samples", "bit_exact_fraction", "testbench_bit_exact_fraction", "argmax_agreement",
               "max_abs_diff", "first_mismatch_layer", "outputs_compared", "input_precision", "inputs_changed",
               "float_layers"]


def test_validate_shared_jet_model_cli(tmp_path, jet_files):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=(300, 16)), 8 * rng.normal(size=(100, 16))]).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "r.json"
    result = CliRunner().invoke(app, ["validate", jet_files[0], "--weights", jet_files[1], "--inputs",
                                      str(tmp_path / "x.npy"), "--json", str(out)])
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    assert list(payload) == PUBLIC_KEYS
    assert {k: payload[k] for k in PUBLIC_KEYS[:8]} == {
        "model": "qkeras_3layer", "n_samples": 400, "bit_exact_fraction": 1.0, "testbench_bit_exact_fraction": 1.0,
        "argmax_agreement": 1.0, "max_abs_diff": 0.0, "first_mismatch_layer": None, "outputs_compared": "logits"}
    assert payload["input_precision"] == "fixed<16,6,RND_CONV,SAT>" and payload["inputs_changed"] > 0
    assert payload["max_abs_diff"] == 0.0


CASES = {
    "mlp_relu_input_named_in": (lambda: models.mlp(input_name="in"), "io_parallel"),
    "mlp_po2_weights": (lambda: models.mlp(weight="po2"), "io_parallel"),
    "mlp_tanh_batchnorm": (lambda: models.mlp(act="tanh", batchnorm=True), "io_parallel"),
    "mlp_bits_activation_stream": (lambda: models.mlp(act="bits"), "io_stream"),
    "cnn_maxpool_stream": (lambda: models.cnn(pool="max"), "io_stream"),
    "cnn_avgpool_parallel": (lambda: models.cnn(pool="avg"), "io_parallel"),
    "conv1d_maxpool_parallel": (lambda: models.cnn(conv1d=True), "io_parallel"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_own_models_bit_exact(tmp_path, case):
    build, io_type = CASES[case]
    model = build()
    x = models.inputs(model.input_shape[1:])
    result, _ = verify(model, x, ExportOptions(io_type=io_type), tmp_path / "prj", name=case)
    assert result.bit_exact_fraction == 1.0 and result.testbench_bit_exact_fraction == 1.0
    assert result.max_abs_diff == 0.0 and result.first_mismatch_layer is None
    assert result.n_samples == 250
    if case == "mlp_relu_input_named_in":
        assert result.renamed_layers == {"in": "in_layer"}
        assert result.outputs_compared == "logits" and result.softmax_argmax_agreement > 0.9  # untrained: near-tied logits


def test_saturation_really_happens():
    """The 8x block drives the relu into its clip at 4 - 2^-4: the exactness above covers saturation."""
    model = models.mlp()
    x = models.inputs((16,))
    import tensorflow as tf

    act = tf.keras.Model(model.inputs, model.get_layer("act1").output).predict(x[200:], verbose=0)
    assert np.mean(act == 4 - 2**-4) > 0.1


def test_too_narrow_layer_is_found(tmp_path):
    """Force fc1's result to fixed<8,3>: outputs differ and the trace names fc1 as the first mismatch."""
    model = models.mlp()
    x = models.inputs((16,))
    result, _ = verify(model, x, ExportOptions(), tmp_path / "prj", overrides={"fc1": QuantSpec(8, 3)})
    assert result.bit_exact_fraction < 0.9 and result.testbench_bit_exact_fraction < 0.9
    assert result.first_mismatch_layer == "fc1"
    assert result.max_abs_diff > 0


def test_validate_cli_float_weights_resource_says_how_it_typed_them(tmp_path):
    from . import zoo

    zoo.float_weights().save(tmp_path / "m.h5")
    np.save(tmp_path / "x.npy", zoo.inputs((10,), signed=True))
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "m.h5"), "--inputs", str(tmp_path / "x.npy"),
                                      "--strategy", "Resource", "--reuse-factor", "2"])
    assert result.exit_code == 0, result.output
    assert "note: layer 'float_q': float weights: exact type chosen from the values" in result.output
    assert "note: layer 'plain': float weights: exact type chosen from the values" in result.output


def test_mismatch_after_an_eliminated_linear_activation_is_named(tmp_path):
    """hls4ml removes an identity Activation('linear'); the trace skips it and names the wrong Dense."""
    from codesign import fuzz

    spec = {"input": [6], "seed": 5, "input_scale": 4.0, "io_type": "io_parallel", "strategy": "Latency",
            "head": "none", "blocks": [
                {"kind": "dense", "units": 4, "kernel": "quantized_bits(4,0,alpha=1)", "bias": "quantized_bits(5,1,alpha=1)",
                 "batchnorm": False, "activation": "linear", "merge": "none", "pool": "none"},
                {"kind": "dense", "units": 3, "kernel": "quantized_bits(4,0,alpha=1)", "bias": "quantized_bits(5,1,alpha=1)",
                 "batchnorm": False, "activation": "quantized_relu(4,1)", "merge": "none", "pool": "none"}]}
    result, _ = verify(fuzz.build(spec), fuzz.inputs(spec), ExportOptions(), tmp_path / "prj",
                       overrides={"d1": QuantSpec(6, 2)}, testbench=False)
    assert result.bit_exact_fraction < 1.0
    assert (result.first_mismatch_layer, result.trace_error) == ("d1", None)


def test_mismatch_after_an_in_place_reshape_is_named(tmp_path):
    """hls4ml does not trace a Reshape it does in place (io_parallel); the trace passes it and names the wrong
    Conv1D after it."""
    import tensorflow as tf
    from qkeras import QActivation, QConv1D, QDense, quantized_bits, quantized_relu

    rng = np.random.default_rng(2)
    inp = tf.keras.Input((12,), name="x")
    h = QDense(8, kernel_quantizer=quantized_bits(4, 0, alpha=1), bias_quantizer=quantized_bits(4, 0, alpha=1),
               name="d")(inp)
    h = QActivation(quantized_relu(4, 1), name="r")(h)
    h = tf.keras.layers.Reshape((4, 2), name="rs")(h)
    h = QConv1D(2, 2, kernel_quantizer=quantized_bits(4, 0, alpha=1), bias_quantizer=quantized_bits(4, 0, alpha=1),
                name="c")(h)
    model = tf.keras.Model(inp, tf.keras.layers.Flatten(name="f")(h))
    for layer in model.layers:
        if layer.get_weights():
            layer.set_weights([rng.normal(0, 0.5, w.shape) for w in layer.get_weights()])
    x = np.round(rng.uniform(-2, 2, (40, 12)) * 4) / 4
    result, _ = verify(model, x, ExportOptions(), tmp_path / "prj", overrides={"c": QuantSpec(4, 1)},
                       testbench=False)
    assert result.bit_exact_fraction < 1.0
    assert (result.first_mismatch_layer, result.trace_error) == ("c", None)


def test_softmax_of_wide_logits_keeps_the_argmax(tmp_path):
    """Logits with many integer bits: hls4ml's default inp_norm_t (the logits type, unsigned) steps the exp
    table by 2 and near-tied classes get equal probabilities; codesign's inp_norm_t steps by 1/512."""
    import tensorflow as tf
    from qkeras import QDense, quantized_bits

    rng = np.random.default_rng(5)
    inp = tf.keras.Input((16,), name="x")
    dense = QDense(10, kernel_quantizer=quantized_bits(8, 4, alpha=1), bias_quantizer=quantized_bits(8, 4, alpha=1),
                   name="wide")
    model = tf.keras.Model(inp, tf.keras.layers.Activation("softmax", name="probs")(dense(inp)))
    dense.set_weights([rng.normal(0, 4, (16, 10)), rng.normal(0, 4, 10)])
    x = np.round(rng.uniform(0, 4, (300, 16)) * 4) / 4
    result, _ = verify(model, x, ExportOptions(), tmp_path / "prj", name="wide")
    assert result.bit_exact_fraction == 1.0
    assert result.softmax_argmax_agreement == 1.0
    assert "typedef ap_ufixed<16,3,AP_RND,AP_SAT,0> probs_inp_norm_t;" in \
        (tmp_path / "prj" / "firmware" / "defines.h").read_text()


def _wide_mlp(n_in=48):
    """A QDense of 12-bit weights over 48 terms: on 16-bit inputs 35-bit sums, beyond float32's 24-bit mantissa."""
    import tensorflow as tf
    from qkeras import QDense, quantized_bits

    models.seeded(3)
    inp = tf.keras.Input((n_in,), name="x")
    fc = QDense(6, kernel_quantizer=quantized_bits(12, 1, alpha=1), bias_quantizer=quantized_bits(12, 2, alpha=1),
                name="fc")
    model = tf.keras.Model(inp, fc(inp))
    rng = np.random.default_rng(3)
    fc.set_weights([rng.uniform(-2, 2, (n_in, 6)), rng.uniform(-4, 4, 6)])
    return model


def test_an_exact_design_is_exact_whatever_float32_does(tmp_path):
    """../shared/repro/float32_reference: the C model equals the exact sums, QKeras's float32 does not; the
    proof is judged by the exact arithmetic and the float32 distance is reported beside it (exit 0)."""
    model = _wide_mlp()
    rng = np.random.default_rng(4)
    x = np.round(rng.uniform(-4, 4, (200, 48)) * 2**12) / 2**12  # exact in fixed<16,4> (4.0 included)
    result, _ = verify(model, x, ExportOptions(), tmp_path / "prj", name="wide")
    assert parse_hls(result.layers[1]["accum"]).width >= 33  # 15-16 + 12 bits + ceil(log2 48) + the bias carry
    assert (result.bit_exact_fraction, result.testbench_bit_exact_fraction) == (1.0, 1.0)
    assert result.input_precision in ("fixed<15,3>", "fixed<16,4>") and result.inputs_changed == 0
    assert result.inexact_reference_layers == []
    assert result.float32_distance["outputs_differ"] > 0.3  # float32 rounds most of these sums
    assert 0 < result.float32_distance["max_abs_diff"] < 2.0**-10


def test_inputs_are_the_users_unless_an_input_type_says_otherwise(tmp_path):
    """Inputs on a 2^-8 grid in [-3, 3) fit fixed<11,3>: the proof covers them unchanged. A narrower
    --input-type rounds them, and validate says how many values changed, in one line and in the JSON."""
    model = models.mlp(n_in=16)
    rng = np.random.default_rng(5)
    x = np.round(rng.uniform(-3, 3, (120, 16)) * 2**8) / 2**8
    model.save(tmp_path / "m.h5")
    np.save(tmp_path / "x.npy", x)
    runner = CliRunner()
    result = runner.invoke(app, ["validate", str(tmp_path / "m.h5"), "--inputs", str(tmp_path / "x.npy"),
                                 "--json", str(tmp_path / "a.json")])
    assert result.exit_code == 0, result.output
    payload = json.loads((tmp_path / "a.json").read_text())
    assert (payload["input_precision"], payload["inputs_changed"]) == ("fixed<11,3>", 0)
    assert "inputs rounded" not in result.output
    result = runner.invoke(app, ["validate", str(tmp_path / "m.h5"), "--inputs", str(tmp_path / "x.npy"),
                                 "--json", str(tmp_path / "b.json"), "--input-type", "fixed<8,3,RND_CONV,SAT>"])
    assert result.exit_code == 0, result.output
    payload = json.loads((tmp_path / "b.json").read_text())
    changed = int(np.count_nonzero(np.round(x * 2**5) / 2**5 != x))
    assert (payload["input_precision"], payload["inputs_changed"]) == ("fixed<8,3,RND_CONV,SAT>", changed)
    assert f"inputs rounded to fixed<8,3,RND_CONV,SAT>: {changed} of 1920 values changed" in \
        " ".join(result.output.split())
    result = runner.invoke(app, ["validate", str(tmp_path / "m.h5"), "--inputs", str(tmp_path / "x.npy"),
                                 "--input-type", "fixed<8,3"])
    assert result.exit_code == 2 and "--input-type 'fixed<8,3'" in result.output


@pytest.mark.parametrize("spelling", ["Activation", "Softmax", "Dense"])
def test_every_softmax_spelling_is_a_final_softmax(tmp_path, spelling):
    """Activation('softmax'), tf.keras.layers.Softmax() and Dense(activation='softmax') end a float model alike:
    `quantize` and `ptq` both convert it, and validate proves the logits and judges the softmax by argmax."""
    import tensorflow as tf

    import codesign
    from codesign.ptq.quantize import PTQOptions, ptq

    models.seeded(7)
    inp = tf.keras.Input((10,), name="x")
    h = tf.keras.layers.Dense(12, activation="relu", name="fc")(inp)
    if spelling == "Dense":
        out = tf.keras.layers.Dense(4, activation="softmax", name="out")(h)
    else:
        h = tf.keras.layers.Dense(4, name="out")(h)
        out = (tf.keras.layers.Activation("softmax", name="sm") if spelling == "Activation"
               else tf.keras.layers.Softmax(name="sm"))(h)
    model = tf.keras.Model(inp, out)
    x = np.round(np.random.default_rng(7).uniform(-2, 2, (60, 10)) * 64) / 64
    converted = [codesign.quantize(model, bits=8, x=x).model, ptq(model, x, PTQOptions())[0]]
    for i, qmodel in enumerate(converted):
        result, _ = verify(qmodel, x, ExportOptions(), tmp_path / f"prj{i}", name=spelling)
        assert (result.bit_exact_fraction, result.testbench_bit_exact_fraction) == (1.0, 1.0)
        assert result.outputs_compared == "logits" and result.softmax_argmax_agreement >= 0.9


@pytest.mark.parametrize("global_pool, io_type", [(False, "io_parallel"), (True, "io_stream")])
def test_float_mean_is_proven_against_hls4ml_arithmetic(tmp_path, global_pool, io_type):
    """A mean of 9 or 36 signed values: hls4ml divides the sum in accum_t, truncating toward zero (a floor would
    differ on 99% of this model's outputs); QKeras's float mean is reported, accepted only when asked (issue 25)."""
    model = models.float_mean_cnn(global_pool)
    model.save(tmp_path / "m.h5")
    x = models.inputs(model.input_shape[1:]) - 0.5
    np.save(tmp_path / "x.npy", x)
    args = ["validate", str(tmp_path / "m.h5"), "--inputs", str(tmp_path / "x.npy"), "--io-type", io_type,
            "--json", str(tmp_path / "r.json")]
    refused = CliRunner().invoke(app, args)
    payload = json.loads((tmp_path / "r.json").read_text())
    assert (payload["bit_exact_fraction"], payload["testbench_bit_exact_fraction"]) == (1.0, 1.0)
    floats = payload["float_layers"]
    assert floats["layers"] == ["pool"] and floats["outputs"] == 250 * 5
    assert 0 < floats["outputs_differ"] <= floats["outputs"] and floats["max_lsb"] > 0
    line = next(ln for ln in refused.output.splitlines() if ln.startswith("not accepted:"))
    assert line.startswith("not accepted: exact to hls4ml's arithmetic at float layer(s) 'pool'; "
                           f"{floats['outputs_differ']} of {floats['outputs']} outputs differ from QKeras's float "
                           "result, by <= ")
    assert line.endswith("; --accept-float-layers accepts that") and refused.exit_code == 1, refused.output
    note = "averages 36 values" if global_pool else "averages 9 values"
    assert f"note: layer 'pool': {note}, not a power of two: hls4ml truncates the mean toward zero" in refused.output
    accepted = CliRunner().invoke(app, [*args, "--accept-float-layers"])
    assert accepted.exit_code == 0, accepted.output


def test_real_tanh_that_rounds_apart_from_qkeras_is_proven_against_hls4ml_table(tmp_path):
    """quantized_tanh(11, use_real_tanh) on a 2^-10 grid: TensorFlow's float32 tanh(+-2.4716796875) rounds to the
    other side of a step than the tanhf hls4ml's table is filled with. Was refused as a near tie; now the C model
    is proven equal to the table computed as its C++ does (codesign/tables.py), and the two outputs that differ
    from QKeras are reported."""
    import tensorflow as tf
    from qkeras import QActivation, quantized_tanh

    inp = tf.keras.Input((4,))
    tf.keras.Model(inp, QActivation(quantized_tanh(11, use_real_tanh=True), name="th")(inp)).save(tmp_path / "m.h5")
    x = np.round(np.random.default_rng(0).uniform(-4, 4, (300, 4)) * 1024) / 1024
    x[:2, 0] = [2.4716796875, -2.4716796875]
    np.save(tmp_path / "x.npy", x)
    args = ["validate", str(tmp_path / "m.h5"), "--inputs", str(tmp_path / "x.npy"), "--json", str(tmp_path / "r.json")]
    refused = CliRunner().invoke(app, args)
    payload = json.loads((tmp_path / "r.json").read_text())
    assert (payload["bit_exact_fraction"], payload["testbench_bit_exact_fraction"]) == (1.0, 1.0)
    assert refused.exit_code == 1 and (
        "not accepted: exact to hls4ml's arithmetic at float layer(s) 'th'; 2 of 1200 outputs differ from QKeras's "
        "float result, by <= 0.000977 (1 LSB of fixed<11,1,RND_CONV,SAT>); argmax agreement 1.0000; "
        "--accept-float-layers accepts that") in refused.output
    assert CliRunner().invoke(app, [*args, "--accept-float-layers"]).exit_code == 0
