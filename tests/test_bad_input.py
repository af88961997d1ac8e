"""Every bad input ends in one clear line naming the file/field and what is allowed, exit code 2."""

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from codesign.cli import app
from codesign.design import load_design
from codesign.errors import CodesignError

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()


def design_text(**over):
    base = (REPO / "designs" / "digits_mlp.yaml").read_text()
    for old, new in over.items():
        base = base.replace(old, new)
    return base


def error_line(result) -> str:
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.mark.parametrize(
    "replace,message",
    [
        ({"part: xcvu13p-flga2577-2-e": "part: xc7foo"},
         "target.part: unknown FPGA part 'xc7foo'; known parts: xc7z020-clg400-1"),
        ({"io_type: io_parallel": "io_type: io_serial"},
         "target.io_type: 'io_serial'; allowed: io_parallel, io_stream"),
        ({"builder: mlp": "builder: transformer"}, "model.builder: 'transformer'; allowed: mlp, cnn"),
        ({"name: digits ": "name: cifar "}, "data.name: 'cifar'; allowed: digits, mnist"),
        ({"epochs: 40": "epochs: forty"}, "training.epochs: must be int, got 'forty'"),
        ({"strategy: Latency ": "strategy: distributed_arithmetic ", "reuse_factor: 1": "reuse_factor: 2"},
         "target.reuse_factor: 2 with strategy distributed_arithmetic; allowed: 1 (hls4ml 1.3.0)"),
        ({"fc1: {weight_bits: 8}": "fc1: {weight_bitz: 8}"}, "quantization.layers.fc1: unknown field(s) ['weight_bitz']"),
        ({"fc1: {weight_bits: 8}": "fc1: {weight_bits: 99}"}, "quantization.layers.fc1.weight_bits: 99 out of range"),
        ({"strategy: Latency": "strategy: Fast"}, "target.strategy: 'Fast'; allowed: Latency, Resource, distributed_arithmetic"),
        # a typo in a key must not silently run the default (issue 25: `trainig:` trained 40 epochs, not 1)
        ({"training:": "trainig:"}, "trainig: unknown key (did you mean 'training'?); allowed: name, task, data"),
        ({"hidden: [32, 32]": "hiden: [32, 32]"}, "model.hiden: unknown key (did you mean 'hidden'?); allowed: "
                                                  "builder, hidden"),
        ({"test_fraction: 0.2": "test_fracton: 0.2"}, "data.test_fracton: unknown key (did you mean "
                                                      "'test_fraction'?)"),
        ({"  layers:": "  layer:"}, "quantization.layer: unknown key (did you mean 'layers'?); allowed: default, "
                                    "layers"),
        ({"epochs: 40": "epochs: 0"}, "training.epochs: 0; allowed: 1 or more"),
        ({"learning_rate: 0.003": "learning_rate: -0.1"}, "training.learning_rate: -0.1; allowed: a positive number"),
        ({"schedule: cosine": "schedule: onecycle"}, "training.schedule: 'onecycle'; allowed: constant, cosine"),
    ],
)
def test_design_field_errors(tmp_path, replace, message):
    path = tmp_path / "d.yaml"
    path.write_text(design_text(**replace))
    with pytest.raises(CodesignError) as err:
        load_design(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)


def test_malformed_yaml_via_cli(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\ndata: {name: digits\nmodel: [\n")
    out = tmp_path / "reports"
    line = error_line(runner.invoke(app, ["run", str(path), "--out", str(out)]))
    assert line.startswith("error: ") and str(path) in line and "malformed YAML" in line
    assert not out.exists()


def test_missing_design_via_cli(tmp_path):
    assert "design file not found" in error_line(runner.invoke(app, ["run", str(tmp_path / "nope.yaml")]))


def test_unknown_part_via_cli(tmp_path):
    path = tmp_path / "d.yaml"
    path.write_text(design_text(**{"part: xcvu13p-flga2577-2-e": "part: xc7foo"}))
    out = tmp_path / "reports"
    line = error_line(runner.invoke(app, ["run", str(path), "--out", str(out)]))
    assert "target.part: unknown FPGA part 'xc7foo'" in line
    assert not out.exists()


def test_validate_missing_model(tmp_path):
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((2, 16)))
    line = error_line(runner.invoke(app, ["validate", str(tmp_path / "m.h5"), "--inputs", str(x)]))
    assert line == f"error: {tmp_path / 'm.h5'}: model file not found"


def test_validate_json_needs_weights(tmp_path, jet_files):
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((2, 16)))
    line = error_line(runner.invoke(app, ["validate", jet_files[0], "--inputs", str(x)]))
    assert "an architecture JSON needs --weights WEIGHTS.h5" in line


def test_validate_bad_inputs(tmp_path, jet_files):
    x = tmp_path / "x.npy"
    x.write_text("not numpy")
    args = ["validate", jet_files[0], "--weights", jet_files[1], "--inputs", str(x), "--json", str(tmp_path / "r.json")]
    assert "not a .npy array" in error_line(runner.invoke(app, args))
    np.save(x, np.zeros((2, 7)))
    assert f"{x}: shape (2, 7); the model takes (samples, 16)" in error_line(runner.invoke(app, args))
    assert not (tmp_path / "r.json").exists()


def test_validate_unknown_model_format(tmp_path):
    m = tmp_path / "m.onnx"
    m.write_text("x")
    np.save(tmp_path / "x.npy", np.zeros((1, 2)))
    line = error_line(runner.invoke(app, ["validate", str(m), "--inputs", str(tmp_path / "x.npy")]))
    assert "unknown model format '.onnx'; allowed: .h5, .keras, .json" in line


def test_validate_unsupported_quantizer(tmp_path):
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    inp = tf.keras.Input((4,), name="x")
    h = QDense(2, kernel_quantizer=quantized_bits(4, 0, alpha=1), name="d")(inp)
    tf.keras.Model(inp, QActivation(quantized_relu(3, 1, negative_slope=0.125), name="leaky")(h)).save(
        tmp_path / "m.h5")
    np.save(tmp_path / "x.npy", np.zeros((3, 4)))
    line = error_line(runner.invoke(app, ["validate", str(tmp_path / "m.h5"), "--inputs", str(tmp_path / "x.npy")]))
    assert line.startswith("error: layer 'leaky' (QActivation) quantized_relu(3,1,0.125): "
                           "negative_slope 0.125 with 3 bits puts its floor")
    assert line.endswith("allowed: negative_slope 2^-k with 0 <= k <= bits - 1")
    assert not (tmp_path / "m_hls").exists()


def test_gpp_missing(monkeypatch, tmp_path):
    from codesign.export import require_gpp

    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CodesignError, match=r"g\+\+ not found on PATH"):
        require_gpp()


def test_parts_command_lists_parts():
    result = runner.invoke(app, ["parts"])
    assert result.exit_code == 0 and "xc7z020-clg400-1" in result.output and "DSP48E1" in result.output


def test_cpp_colliding_names_renamed():
    from codesign.modelio import rename_for_cpp

    from .models import mlp

    model = mlp(input_name="in")
    x = np.random.default_rng(0).uniform(size=(4, 16)).astype(np.float32)
    before = model.predict(x, verbose=0)
    renamed, mapping = rename_for_cpp(model)
    assert mapping == {"in": "in_layer"}
    assert renamed.get_config()["input_layers"][0][0] == "in_layer"
    np.testing.assert_array_equal(renamed.predict(x, verbose=0), before)


def test_validate_bad_strategy(tmp_path, jet_files):
    np.save(tmp_path / "x.npy", np.zeros((2, 16)))
    line = error_line(runner.invoke(app, ["validate", jet_files[0], "--weights", jet_files[1], "--inputs",
                                          str(tmp_path / "x.npy"), "--strategy", "Fast"]))
    assert line == "error: --strategy: 'Fast'; allowed: Latency, Resource, distributed_arithmetic"


def test_depth_multiplier_is_refused_before_hls4ml_aborts(tmp_path):
    """hls4ml's depthwise C++ asserts depth_multiplier == 1: the C model would kill the process."""
    import tensorflow as tf
    from qkeras import QDepthwiseConv2D, quantized_bits

    inp = tf.keras.Input((6, 6, 2), name="img")
    out = QDepthwiseConv2D(3, depth_multiplier=2, depthwise_quantizer=quantized_bits(4, 0, alpha=1), name="dw")(inp)
    tf.keras.Model(inp, tf.keras.layers.Flatten(name="f")(out)).save(tmp_path / "m.h5")
    np.save(tmp_path / "x.npy", np.zeros((3, 6, 6, 2)))
    res = runner.invoke(app, ["validate", str(tmp_path / "m.h5"), "--inputs", str(tmp_path / "x.npy")])
    assert res.exit_code == 2
    assert error_line(res) == ("error: layer 'dw' (QDepthwiseConv2D): depth_multiplier 2; allowed: 1 (hls4ml's "
                               "depthwise convolution supports no other)")


def test_inputs_npz_takes_x_test_x_or_its_only_array(tmp_path):
    from codesign.cli import _load_array

    np.savez(tmp_path / "one.npz", anything=np.ones((2, 3)))
    np.savez(tmp_path / "named.npz", x_train=np.zeros((5, 3)), x_test=np.full((2, 3), 2.0))
    assert _load_array(tmp_path / "one.npz", "inputs").tolist() == [[1.0] * 3] * 2
    assert _load_array(tmp_path / "named.npz", "inputs").tolist() == [[2.0] * 3] * 2
    np.savez(tmp_path / "two.npz", a=np.zeros(2), b=np.zeros(2))
    (tmp_path / "m.h5").write_text("x")
    line = error_line(runner.invoke(app, ["validate", str(tmp_path / "m.h5"), "--inputs", str(tmp_path / "two.npz")]))
    assert line == f"error: {tmp_path / 'two.npz'}: arrays ['a', 'b']; allowed: a .npz with x_test, x or one array"


@pytest.mark.parametrize("command", ["validate", "synth", "analyze"])
@pytest.mark.parametrize("bad, message", [
    (np.zeros((0, 16)), "of shape (0, 16); allowed: (samples, features...) with at least one sample"),
    (np.zeros(16), "of shape (16,); allowed: (samples, features...) with at least one sample"),
    (np.full((2, 16), np.nan), "must be finite numbers"),
])
def test_empty_or_nan_inputs_are_one_line_before_any_work(tmp_path, command, bad, message):
    """Before g++, Yosys or Verilator run: an empty input once cost 23 s (validate) or 280 s (synth) and a
    traceback."""
    from .models import mlp

    mlp().save(tmp_path / "m.h5")
    np.save(tmp_path / "x.npy", bad)
    flag = "--data" if command == "analyze" else "--inputs"
    line = error_line(runner.invoke(app, [command, str(tmp_path / "m.h5"), flag, str(tmp_path / "x.npy"), "--out"
                                          if command != "validate" else "--json", str(tmp_path / "out")]))
    assert message in line
    assert not (tmp_path / "out").exists()


def test_layer_names_and_epochs_are_checked_before_training(tmp_path):
    path = tmp_path / "d.yaml"
    path.write_text(design_text(**{"fc1: {weight_bits: 8}": "fc_1: {weight_bits: 8}"}))
    line = error_line(runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "reports")]))
    assert line == (f"error: {path}: quantization.layers.fc_1: no such layer in the model (did you mean 'fc1'?); "
                    "its layers: pixels, fc1, fc1_relu, fc2, fc2_relu, logits, softmax")
    line = error_line(runner.invoke(app, ["run", "designs/digits_mlp.yaml", "--epochs", "-1", "--out",
                                          str(tmp_path / "reports")]))
    assert line == "error: --epochs -1: allowed: 1 or more"
    assert not (tmp_path / "reports").exists()


def test_version():
    from codesign import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"codesign {__version__}"


@pytest.mark.parametrize("args, message", [
    (["search", "designs/digits_mlp.yaml", "--storage", "journal:/missing/dir/x.log"],
     "--storage journal:/missing/dir/x.log: folder /missing/dir does not exist"),
    (["learn", "designs/mnist_cnn.yaml"], "designs/mnist_cnn.yaml: model.builder: learned quantization supports mlp "
                                          "designs"),
    (["search", "designs/digits_mlp.yaml", "--algorithm", "descent", "--workers", "2"],
     "algorithm descent is one chain of candidates, each trained from the one before: run it without workers "
     "(--workers 1, no `codesign worker`)"),
    (["search", "designs/digits_mlp.yaml", "--strategy", "Fast"],
     "--strategy: 'Fast'; allowed: Latency, Resource, distributed_arithmetic"),
    (["search", "designs/digits_mlp.yaml", "--algorithm", "anneal"],
     "--algorithm: 'anneal'; allowed: greedy, ilp, nsga2, random, descent"),
])
def test_cheap_checks_come_before_training(tmp_path, args, message):
    """Refused before the base model is trained (issue 25): the output is that one line, no epoch progress."""
    line = error_line(runner.invoke(app, [*args, "--out", str(tmp_path / "reports")]))
    assert line == f"error: {message}"
    assert not (tmp_path / "reports").exists()


@pytest.mark.parametrize("args, message", [
    (["validate", "{m}", "--inputs", "{x}", "--part", "xc7foo"], "error: --part: unknown FPGA part 'xc7foo'"),
    (["validate", "{m}", "--inputs", "{x}", "--io-type", "io_serial"],
     "error: --io-type: 'io_serial'; allowed: io_parallel, io_stream"),
    (["estimate", "{m}", "--reuse-factor", "0"], "error: target: reuse_factor must be >= 1"),
    (["ptq", "{m}", "--calib", "{x}", "--bits", "1", "--out", "{q}"], "error: --bits 1: allowed: 2..32"),
])
def test_errors_name_the_flag_the_user_typed(tmp_path, args, message):
    from .models import mlp

    mlp().save(tmp_path / "m.h5")
    np.save(tmp_path / "x.npy", np.zeros((4, 16)))
    paths = {"m": tmp_path / "m.h5", "x": tmp_path / "x.npy", "q": tmp_path / "q.h5"}
    line = error_line(runner.invoke(app, [a.format(**paths) for a in args]))
    assert line.startswith(message), line


def test_a_qkeras_layer_newer_than_qkeras_0_9_is_named(tmp_path):
    """MLPerf Tiny's hls4ml submissions use QDenseBatchnorm (QKeras > 0.9.0): Keras's advice to use a
    custom_object_scope cannot help; the line names the class and what is allowed."""
    import json

    import h5py
    import tensorflow as tf

    inp = tf.keras.Input((4,), name="x")
    tf.keras.Model(inp, tf.keras.layers.Dense(2, name="fc")(inp)).save(tmp_path / "m.h5")
    with h5py.File(tmp_path / "m.h5", "r+") as f:
        config = json.loads(f.attrs["model_config"])
        config["config"]["layers"][1]["class_name"] = "QDenseBatchnorm"
        f.attrs["model_config"] = json.dumps(config)
    np.save(tmp_path / "x.npy", np.zeros((2, 4)))
    line = error_line(runner.invoke(app, ["validate", str(tmp_path / "m.h5"), "--inputs", str(tmp_path / "x.npy")]))
    assert line == (f"error: {tmp_path / 'm.h5'}: layer class 'QDenseBatchnorm' is a QKeras layer newer than the "
                    "QKeras codesign runs (qkeras 0.9.0); allowed: the layers of tf.keras 2.14 and QKeras 0.9.0 "
                    "(e.g. QDense + BatchNormalization for QDenseBatchnorm)")
