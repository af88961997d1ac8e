"""`codesign estimate` / `calibrate` end to end (hls4ml conversion: marked slow)."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codesign.cli import app

pytestmark = pytest.mark.slow
DATA = Path(__file__).parent / "data"
runner = CliRunner()


def test_estimate_jet_model_json(tmp_path, jet_files):
    arch, weights = jet_files
    out = tmp_path / "est.json"
    res = runner.invoke(app, ["estimate", arch, "--weights", weights, "--json", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert data["part"] == "xcvu13p-flga2577-2-e"
    assert [row["name"] for row in data["layers"]] == ["fc1_input", "fc1", "relu1", "fc2", "relu2", "fc3", "relu3",
                                                      "output", "softmax"]
    assert set(data["layers"][1]) == {"name", "class", "template", "lut", "ff", "dsp", "bram_18k", "latency_cycles", "ii"}
    assert [row["template"] for row in data["layers"][:3]] == ["input_port", "dense_latency",
                                                               "elementwise_activation"]
    assert data["layers"][0]["ff"] > 0
    assert data["total"]["ff"] == pytest.approx(sum(r["ff"] for r in data["layers"]), abs=1)
    assert data["total"]["lut"] == pytest.approx(sum(r["lut"] for r in data["layers"]), abs=1)
    assert data["utilization"]["lut"] == pytest.approx(data["total"]["lut"] / 1728000)
    assert data["total"]["lut"] > 10_000 and data["total"]["ii"] == 1
    assert "Post-synthesis (Vivado) estimate" in res.output and data["level"] == "synth"
    low, high = data["interval"]["lut"]
    assert low < data["total"]["lut"] < high and "p10 - p90" in res.output
    res = runner.invoke(app, ["estimate", arch, "--weights", weights, "--json", str(out), "--level", "csynth"])
    csynth = json.loads(out.read_text())
    assert "HLS C-synthesis estimate" in res.output and csynth["level"] == "csynth"
    assert csynth["total"]["lut"] > 1.5 * data["total"]["lut"]  # HLS overstates LUT about 2x
    res = runner.invoke(app, ["estimate", arch, "--weights", weights, "--level", "post"])
    assert res.exit_code == 2 and "--level 'post'; allowed: synth, csynth" in res.output


def test_estimate_uses_the_exported_precisions():
    """The IR is read from hls4ml's resolved graph: its widths are those our export writes."""
    from codesign.estimate import cost_model_for
    from codesign.export import ExportOptions
    from codesign.precision import derive_precisions
    from codesign.spec import QuantSpec
    from tests.models import mlp

    model = mlp()
    spec = QuantSpec(8, 1, False)
    precs = {p.name: p for p in derive_precisions(model, spec)}
    layers = {L.name: L for L in cost_model_for(model, ExportOptions(), spec).layers}
    assert layers["fc1"].w_bits == precs["fc1"].weight.width
    assert layers["fc1"].acc_bits == precs["fc1"].accum.width
    assert layers["fc1"].in_bits == 8 and layers["out"].in_bits == precs["act1"].result.width
    assert layers["fc1"].weights.n_weights == 16 * 24


def test_resource_reuse_factor_is_snapped_and_said(tmp_path, jet_files):
    arch, weights = jet_files
    cfg = tmp_path / "cfg.yml"
    cfg.write_text("Model:\n  Precision: fixed<16,6>\n  ReuseFactor: 1\n  Strategy: Resource\n"
                   "LayerName:\n  fc2:\n    ReuseFactor: 7\n")
    out = tmp_path / "est.json"
    res = runner.invoke(app, ["estimate", arch, "--weights", weights, "--hls-config", str(cfg), "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert "fc2: ReuseFactor 7 is not valid for n_in=64, n_out=32 (hls4ml rule); hls4ml uses 8" in \
        " ".join(res.output.split())
    fc2 = next(r for r in json.loads(out.read_text())["layers"] if r["name"] == "fc2")
    assert fc2["ii"] == 8


def test_estimate_bad_inputs(tmp_path, jet_files):
    arch, weights = jet_files
    cfg = tmp_path / "cfg.yml"
    cfg.write_text("Modle:\n  ReuseFactor: 2\n")
    res = runner.invoke(app, ["estimate", arch, "--weights", weights, "--hls-config", str(cfg)])
    assert res.exit_code == 2 and "expected a mapping with keys Model, LayerName, LayerType" in res.output
    res = runner.invoke(app, ["estimate", arch, "--weights", weights, "--part", "xc7foo"])
    assert res.exit_code == 2 and "unknown FPGA part 'xc7foo'" in res.output
    res = runner.invoke(app, ["estimate", arch, "--weights", weights, "--input-type", "float32"])
    assert res.exit_code == 2 and "--input-type: not a fixed-point type" in res.output


def test_unsupported_layer_is_named(tmp_path):
    import tensorflow as tf

    from codesign.errors import CodesignError
    from codesign.estimate import cost_model_for
    from codesign.export import ExportOptions
    from codesign.spec import QuantSpec

    inp = tf.keras.Input((6, 4), name="seq")
    out = tf.keras.layers.Dense(3, name="head")(tf.keras.layers.SimpleRNN(5, name="rnn")(inp))
    model = tf.keras.Model(inp, out)
    # a float model is typed as hls4ml types it by default; the cost model names what it cannot estimate
    with pytest.raises(CodesignError, match=r"cannot estimate layer 'rnn' \(hls4ml class SimpleRNN"):
        cost_model_for(model, ExportOptions(), QuantSpec(16, 6))
    cfg = tmp_path / "cfg.yml"
    cfg.write_text("Model:\n  Precision: fixed<16,6>\n")
    with pytest.raises(CodesignError, match=r"cannot estimate layer 'rnn' \(hls4ml class SimpleRNN"):
        cost_model_for(model, ExportOptions(), QuantSpec(16, 6), hls_config=cfg)


def test_skip_connections_are_estimated_in_both_io_types():
    """Add costs an adder per element; Concatenate, io_stream's ZeroPadding and Clone are wiring or copies."""
    from codesign.estimate import estimate_model
    from codesign.export import ExportOptions
    from codesign.spec import QuantSpec

    from . import zoo

    model = zoo.resnet()
    for io_type in ("io_parallel", "io_stream"):
        est, _ = estimate_model(model, ExportOptions(io_type=io_type), QuantSpec(8, 2))
        rows = {row["name"]: row for row in est.layers}
        assert rows["add"]["class"] == "Merge" and rows["add"]["lut"] > 0
        assert rows["cat"]["class"] == "Concatenate" and est.total["lut"] > rows["add"]["lut"]
        # io_parallel: the inputs side by side (wiring); io_stream: a stream copy with its FIFO interface
        assert (rows["cat"]["lut"] > 0) == (io_type == "io_stream")
        # ZeroPadding: wiring in io_parallel; in io_stream a copy loop over every output pixel (as the corpus
        # reader counts it: one estimator for what is fitted and what is served)
        # (hls4ml folds it into the convolution in io_parallel)
        pads = [row for row in est.layers if row["class"] == "ZeroPadding2D"]
        assert all((row["lut"] > 0) == (io_type == "io_stream") for row in pads)
        assert pads or io_type == "io_parallel"


def test_calibrate_cli_refits_and_reports(tmp_path):
    out = tmp_path / "coef.json"
    res = runner.invoke(app, ["calibrate", str(DATA / "corpus_subset.jsonl"), "--out", str(out), "--folds", "3"])
    assert res.exit_code == 0, res.output
    coef = json.loads(out.read_text())
    assert set(coef["weights"]) == {"lut", "ff", "latency_cycles"} and coef["meta"]["records"] >= 20
    assert "before: median / p90 APE %" in res.output and "after (leave one repository out)" in res.output
    assert coef["intervals"]["lut"][0] < 1 < coef["intervals"]["lut"][1] and coef["meta"]["variant"]
    res = runner.invoke(app, ["calibrate", str(tmp_path / "missing.jsonl")])
    assert res.exit_code == 2 and "missing.jsonl: not found" in res.output


def test_po2_weights_read_from_hls4ml_are_not_free():
    """hls4ml types po2 weights with an ExponentPrecisionType (no integer bits): read as fixed point with 0
    fraction bits, 371 of 384 weights of a po2 layer became zeros and cost nothing (issue 11)."""
    import hls4ml
    import numpy as np

    from codesign.export import quiet
    from codesign.hw_graph import graph_layers
    from tests import zoo

    model = zoo.public_po2()
    with quiet():
        hls = hls4ml.converters.convert_from_keras_model(
            model, hls_config=hls4ml.utils.config_from_keras_model(model, granularity="name"), backend="Vitis")
    fc1 = next(layer for layer in graph_layers(hls) if layer.name == "fc1")
    values = hls.graph["fc1"].weights["weight"].data
    assert np.count_nonzero(values) == 512  # quantized_po2 has no zero
    assert fc1.weights.n_zero == 0 and fc1.weights.n_pow2 == 512


def test_io_stream_line_buffers_read_from_hls4ml():
    """In io_stream a 3x3 convolution and a 2x2 pooling each read kernel_height - 1 line buffers of their input
    rows (nnet_conv2d_stream.h, nnet_pooling_stream.h), and the Dense after the flattened 3 x 3 x 4 map holds all
    36 values (nnet_dense_stream.h, a pixel's channels per stream word); io_parallel has none."""
    import hls4ml

    from codesign.export import quiet
    from codesign.hw_graph import graph_layers
    from tests import models

    model = models.cnn()
    bits = {}
    for io in ("io_stream", "io_parallel"):
        config = hls4ml.utils.config_from_keras_model(model, granularity="name")
        with quiet():
            hls = hls4ml.converters.convert_from_keras_model(model, hls_config=config, io_type=io, backend="Vitis")
        bits[io] = {L.name: (L.buffer_bits, L.in_bits) for L in graph_layers(hls)
                    if L.name in ("conv1", "pool1", "out")}
    conv_bits, pool_bits = bits["io_stream"]["conv1"][1], bits["io_stream"]["pool1"][1]
    assert pool_bits == 6  # quantized_relu(6, 2)
    assert bits["io_stream"] == {"conv1": ((3 - 1) * 8 * 1 * conv_bits, conv_bits), "pool1": ((2 - 1) * 6 * 4 * 6, 6),
                                 "out": (3 * 3 * 4 * 6, 6)}
    assert {name: b for name, (b, _) in bits["io_parallel"].items()} == {"conv1": 0, "pool1": 0, "out": 0}


def test_batchnorm_read_from_hls4ml_is_per_pixel_in_io_stream():
    """hls4ml's io_stream BatchNormalization (nnet_batchnorm_stream.h) handles one pixel's channels per step;
    io_parallel's (nnet_batchnorm.h) every element at once."""
    import hls4ml
    import tensorflow as tf
    from qkeras import QActivation, QConv2D, quantized_bits, quantized_relu

    from codesign.export import quiet
    from codesign.hw_graph import graph_layers

    inp = tf.keras.Input((8, 8, 1), name="img")
    h = QConv2D(4, 3, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 2, alpha=1),
                name="conv")(inp)
    h = tf.keras.layers.BatchNormalization(name="bn")(h)
    model = tf.keras.Model(inp, QActivation(quantized_relu(6, 2), name="relu")(h))
    shapes = {}
    for io in ("io_stream", "io_parallel"):
        config = hls4ml.utils.config_from_keras_model(model, granularity="name")
        with quiet():
            hls = hls4ml.converters.convert_from_keras_model(model, hls_config=config, io_type=io, backend="Vitis")
        shapes[io] = next((L.n_out, L.n_pos, L.n_steps) for L in graph_layers(hls) if L.kind == "bn")
    assert shapes == {"io_stream": (4, 36, 36), "io_parallel": (144, 1, 1)}


def test_a_float_model_is_estimated_with_hls4mls_default_precision(tmp_path):
    """A plain Keras model's trained weights have no exact fixed-point type (here one needs 2^-30 steps); hls4ml
    would build it with fixed<16,6> everywhere, so estimate does that and says so."""
    import tensorflow as tf

    inp = tf.keras.Input((16,), name="x")
    fc = tf.keras.layers.Dense(8, activation="relu", name="fc")
    model = tf.keras.Model(inp, tf.keras.layers.Dense(3, name="out")(fc(inp)))
    kernel, bias = fc.get_weights()
    kernel[0, 0] = 1.2345e-9
    fc.set_weights([kernel, bias])
    model.save(tmp_path / "float.h5")
    result = CliRunner().invoke(app, ["estimate", str(tmp_path / "float.h5"), "--json", str(tmp_path / "e.json")])
    assert result.exit_code == 0, result.output
    assert "float model: every type is hls4ml's default fixed<16,6>" in " ".join(result.output.split())
    layers = {row["name"]: row for row in json.loads((tmp_path / "e.json").read_text())["layers"]}
    assert layers["fc"]["lut"] > 0 and layers["out"]["lut"] > 0


def test_validate_refuses_an_io_parallel_design_far_beyond_any_part(tmp_path):
    """Before g++ spends tens of minutes on hls4ml's unrolled C++: one line, and --io-type io_stream or --force."""
    import numpy as np
    import tensorflow as tf
    from qkeras import QDense, quantized_bits

    inp = tf.keras.Input((1024,), name="x")
    out = QDense(1024, kernel_quantizer=quantized_bits(8, 0, alpha=1), bias_quantizer=quantized_bits(8, 2, alpha=1),
                 name="fc")(inp)
    tf.keras.Model(inp, out).save(tmp_path / "big.h5")
    np.save(tmp_path / "x.npy", np.zeros((2, 1024)))
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "big.h5"), "--inputs", str(tmp_path / "x.npy")])
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert "io_parallel: the estimate is" in lines[0] and "use --io-type io_stream, or --force" in lines[0]


def test_estimate_for_a_tool_generation(tmp_path):
    """`--tool vivado_hls|vitis`: the estimate is for the HLS tool that will build it (default: the export's
    backend, Vitis). Coefficients fitted per tool generation price the same model differently for each."""
    import tensorflow as tf

    from hw_models.corpus import load_records
    from hw_models.fit import Variant, fit

    inp = tf.keras.Input((16,), name="x")
    model = tf.keras.Model(inp, tf.keras.layers.Dense(3, name="out")(
        tf.keras.layers.Dense(8, activation="relu", name="fc")(inp)))
    model.save(tmp_path / "float.h5")
    recs = load_records(DATA / "corpus_subset.jsonl")[0] + load_records(DATA / "corpus_more_subset.jsonl")[0]
    coefs = tmp_path / "by_tool.json"
    coefs.write_text(fit(recs, variant=Variant(True, 0.0, True, by_tool=True)).to_json())
    totals = {}
    for tool in (None, "vitis", "vivado_hls"):
        out = tmp_path / f"{tool}.json"
        args = ["estimate", str(tmp_path / "float.h5"), "--level", "csynth", "--coefficients", str(coefs),
                "--json", str(out)] + (["--tool", tool] if tool else [])
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
        data = json.loads(out.read_text())
        assert data["tool"] == (tool or "vitis")
        assert ("Vivado HLS" if tool == "vivado_hls" else "Vitis HLS") in " ".join(res.output.split())
        totals[tool] = data["total"]
    assert totals[None] == totals["vitis"] and totals["vivado_hls"]["ff"] != totals["vitis"]["ff"]
    res = runner.invoke(app, ["estimate", str(tmp_path / "float.h5"), "--tool", "quartus"])
    assert res.exit_code == 2
    assert res.output.strip() == "error: --tool: tool 'quartus'; allowed: vivado_hls, vitis (or a Vivado HLS / " \
                                 "Vitis HLS version string)"


def test_estimate_with_products_forced_into_luts_or_onto_dsps(tmp_path):
    """`--mult-impl fabric` (build_prj.tcl's `config_op mul -impl fabric`): every product in LUTs, no DSP, as the
    MLP estimator study's 17 such reports say (0 DSPs each, Vitis HLS 2021.1); the LUTs take the products over.
    `--mult-impl dsp`: every multiply on DSPs, however narrow (6-bit weights x 4-bit ReLU outputs, which HLS alone
    keeps in LUTs; weights of one or two CSD digits stay shifts and shift-adds). A directive that does not exist is
    refused in one line."""
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    inp = tf.keras.Input((16,), name="x")
    h = QActivation(quantized_relu(4), name="relu")(
        QDense(8, kernel_quantizer=quantized_bits(8, 0, alpha=1), bias_quantizer=quantized_bits(8, 0, alpha=1),
               kernel_initializer=tf.keras.initializers.RandomUniform(-1, 1, seed=1), name="fc")(inp))
    out_layer = QDense(3, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 0, alpha=1),
                       kernel_initializer=tf.keras.initializers.RandomUniform(-1, 1, seed=2), name="out")
    tf.keras.Model(inp, out_layer(h)).save(tmp_path / "q.h5")
    got = {}
    for impl in (None, "fabric", "dsp"):
        out = tmp_path / f"{impl}.json"
        res = runner.invoke(app, ["estimate", str(tmp_path / "q.h5"), "--level", "csynth", "--json", str(out)]
                            + (["--mult-impl", impl] if impl else []))
        assert res.exit_code == 0, res.output
        got[impl] = json.loads(out.read_text())
        assert got[impl]["mult_impl"] == (impl or "auto")
        if impl:
            assert {"fabric": "products in LUTs", "dsp": "multiplies on DSPs"}[impl] in " ".join(res.output.split())
    dsps = {impl: {row["name"]: row["dsp"] for row in got[impl]["layers"]} for impl in got}
    assert dsps[None]["fc"] > 0 and dsps[None]["out"] == 0      # 16-bit inputs x 8 bits on DSPs, 4 x 6 in LUTs
    assert got["fabric"]["total"]["dsp"] == 0 and got["fabric"]["total"]["lut"] > got[None]["total"]["lut"]
    assert dsps["dsp"]["fc"] == dsps[None]["fc"] and dsps["dsp"]["out"] > 0
    assert got["dsp"]["total"]["lut"] < got[None]["total"]["lut"]
    res = runner.invoke(app, ["estimate", str(tmp_path / "q.h5"), "--mult-impl", "bram"])
    assert res.exit_code == 2
    assert res.output.strip() == "error: --mult-impl 'bram'; allowed: auto, fabric, dsp (build_prj.tcl's " \
                                 "config_op mul -impl)"


def test_reshaping_layers_are_served_as_the_corpus_reader_fits_them():
    """ZeroPadding2D and UpSampling2D (hls4ml's Resize): wiring in io_parallel, a loop over the output pixels in
    io_stream; codesign.hw_graph reading the hls4ml graph and hw_models.corpus reading a synthesis record of the
    same network give the same layers (one class -> kind table: a fit/serve skew otherwise)."""
    import hls4ml
    import tensorflow as tf
    from qkeras import QActivation, QConv2D, quantized_bits, quantized_relu

    from codesign.export import quiet
    from codesign.hw_graph import graph_layers
    from hw_models.corpus import record_layers

    inp = tf.keras.Input((6, 6, 1), name="img")
    h = tf.keras.layers.ZeroPadding2D(1, name="pad")(inp)
    h = QConv2D(2, 3, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 2, alpha=1),
                name="conv")(h)
    h = QActivation(quantized_relu(6, 2), name="relu")(h)
    model = tf.keras.Model(inp, tf.keras.layers.UpSampling2D(2, name="up")(h))
    record = [{"type": "Input", "name": "img", "out_shape": [6, 6, 1]},
              {"type": "ZeroPadding", "name": "pad", "in_shape": [6, 6, 1], "out_shape": [8, 8, 1]},
              {"type": "Conv2D", "name": "conv", "in_shape": [8, 8, 1], "out_shape": [6, 6, 2], "kernel_size": [3, 3],
               "weight_precision": "ap_fixed<6,1>"},
              {"type": "Activation", "name": "relu", "activation": "relu", "out_shape": [6, 6, 2],
               "result_precision": "ap_ufixed<6,2>"},
              {"type": "UpSampling", "name": "up", "in_shape": [6, 6, 2], "out_shape": [12, 12, 2]}]
    for io in ("io_stream", "io_parallel"):
        config = hls4ml.utils.config_from_keras_model(model, granularity="name")
        with quiet():
            hls = hls4ml.converters.convert_from_keras_model(model, hls_config=config, io_type=io, backend="Vitis")
        served = {L.name: (L.kind, L.n_out, L.n_pos, L.n_steps) for L in graph_layers(hls) if L.name in ("pad", "up")}
        fitted = {L.name: (L.kind, L.n_out, L.n_pos, L.n_steps)
                  for L in record_layers({"io_type": io, "tool": "vitis", "layers": record}) if L.name in ("pad", "up")}
        assert served == fitted
        if io == "io_stream":
            assert served == {"pad": ("copy", 1, 64, 64), "up": ("copy", 2, 144, 144)}
        else:
            assert {kind for kind, *_ in served.values()} == {"free"}


def test_pooling_is_served_as_the_corpus_reader_fits_it():
    """MaxPooling1D and GlobalAveragePooling1D after Conv1D layers: hls4ml's Pooling1D and GlobalPooling1D give a
    1D layer's length as `n_in`, and a global window covers all of it. codesign.hw_graph read the global window as
    n_in / channels (7 positions of 61) and a 1D layer in io_stream as one pixel per frame; the corpus reader, which
    fits the coefficients on records that spell a global pooling's output [None, channels], reads 61 and 126."""
    import hls4ml
    import tensorflow as tf
    from qkeras import QActivation, QConv1D, quantized_bits, quantized_relu

    from codesign.export import quiet
    from codesign.hw_graph import graph_layers
    from hw_models.corpus import record_layers

    q = dict(kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 2, alpha=1))
    inp = tf.keras.Input((128, 3), name="x")
    h = QActivation(quantized_relu(6, 2), name="r0")(QConv1D(4, 3, name="c0", **q)(inp))
    h = tf.keras.layers.MaxPooling1D(2, name="mp")(h)
    h = QActivation(quantized_relu(6, 2), name="r1")(QConv1D(8, 3, name="c1", **q)(h))
    model = tf.keras.Model(inp, tf.keras.layers.GlobalAveragePooling1D(name="global_average_pooling1d")(h))
    record = [{"type": "Input", "name": "x", "out_shape": [128, 3]},
              {"type": "Conv1D", "name": "c0", "in_shape": [128, 3], "out_shape": [126, 4], "kernel_size": [3],
               "weight_precision": "ap_fixed<6,1>"},
              {"type": "Activation", "name": "r0", "activation": "relu", "out_shape": [126, 4],
               "result_precision": "ap_ufixed<6,2>"},
              {"type": "Pooling1D", "name": "mp", "in_shape": [126, 4], "out_shape": [63, 4], "pool_size": [2],
               "hls_func": "pooling1d_cl"},
              {"type": "Conv1D", "name": "c1", "in_shape": [63, 4], "out_shape": [61, 8], "kernel_size": [3],
               "weight_precision": "ap_fixed<6,1>"},
              {"type": "Activation", "name": "r1", "activation": "relu", "out_shape": [61, 8],
               "result_precision": "ap_ufixed<6,2>"},
              {"type": "Pooling1D", "name": "global_average_pooling1d", "in_shape": [61, 8], "out_shape": [None, 8],
               "strides": [None], "hls_func": "global_pooling1d_cl"}]  # the op is read from the name, as recorded
    for io in ("io_stream", "io_parallel"):
        config = hls4ml.utils.config_from_keras_model(model, granularity="name")
        with quiet():
            hls = hls4ml.converters.convert_from_keras_model(model, hls_config=config, io_type=io, backend="Vitis")
        pools = ("mp", "global_average_pooling1d")
        served = {L.name: (L.kind, L.n_out, L.n_pos, L.pool, L.n_steps) for L in graph_layers(hls) if L.name in pools}
        fitted = {L.name: (L.kind, L.n_out, L.n_pos, L.pool, L.n_steps)
                  for L in record_layers({"io_type": io, "tool": "vitis", "layers": record}) if L.name in pools}
        assert served == fitted
        steps = (126, 61) if io == "io_stream" else (1, 1)
        assert served == {"mp": ("max_pool", 4, 63, 2, steps[0]),
                          "global_average_pooling1d": ("avg_pool", 8, 1, 61, steps[1])}


def test_parallelization_factor_computes_positions_at_once():
    """hls4ml's ParallelizationFactor (io_parallel convolutions): PF output positions per step, n_positions / PF
    steps. calwilee's separable convolution at PF 4 reports an interval of 9 over its 6 x 6 positions (Vivado HLS
    2020.1); the estimate ignored PF and priced every convolution one position per step."""
    import hls4ml
    import tensorflow as tf
    from qkeras import QConv2D, quantized_bits

    from codesign.export import quiet
    from codesign.hw_graph import graph_layers
    from hw_models import load_part
    from hw_models.cost import estimate

    inp = tf.keras.Input((8, 8, 2), name="img")
    model = tf.keras.Model(inp, QConv2D(5, 3, kernel_quantizer=quantized_bits(8, 0, alpha=1),
                                        bias_quantizer=quantized_bits(8, 2, alpha=1), name="conv")(inp))
    rows = {}
    for pf in (1, 4):
        config = hls4ml.utils.config_from_keras_model(model, granularity="name")
        config["LayerName"]["conv"]["ParallelizationFactor"] = pf
        with quiet():
            hls = hls4ml.converters.convert_from_keras_model(model, hls_config=config, io_type="io_parallel",
                                                             backend="Vitis")
        layers = graph_layers(hls)
        conv = next(L for L in layers if L.name == "conv")
        assert (conv.pf, conv.n_steps) == (pf, 36 // pf)
        rows[pf] = next(r for r in estimate(layers, load_part("xcvu9p-flga2577-2-e"), 5.0, level="csynth").layers
                        if r["name"] == "conv")
    assert (rows[1]["ii"], rows[4]["ii"]) == (36, 9)
    assert rows[4]["dsp"] == 4 * rows[1]["dsp"] > 0 and 3.5 < rows[4]["lut"] / rows[1]["lut"] <= 4
    assert rows[4]["latency_cycles"] < rows[1]["latency_cycles"] / 3
