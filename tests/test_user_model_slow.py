"""A user's float Keras model (.h5) and data (.npz), end to end: the design file and the Python API."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import codesign

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def user_files(tmp_path_factory):
    """A float MLP with BatchNormalization trained on scikit-learn's digits, saved as a user would."""
    import tensorflow as tf
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    folder = tmp_path_factory.mktemp("user")
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    tf.keras.utils.set_random_seed(0)
    inp = tf.keras.Input((64,), name="pixels")
    h = tf.keras.layers.Dense(24, name="fc1")(inp)
    h = tf.keras.layers.BatchNormalization(name="bn1")(h)
    h = tf.keras.layers.Activation("relu", name="act1")(h)
    model = tf.keras.Model(inp, tf.keras.layers.Dense(10, activation="softmax", name="out")(h), name="user_mlp")
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=15, batch_size=32, verbose=0)
    model.save(folder / "model.h5")
    np.savez(folder / "data.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    (folder / "design.yaml").write_text(
        "name: user_mlp\ndata: {file: data.npz}\nmodel: {file: model.h5}\n"
        "quantization: {default: {weight_bits: 6, bias_bits: 8, activation_bits: 6}}\n"
        "target: {part: xcvu13p-flga2577-2-e, io_type: io_parallel, strategy: Latency, reuse_factor: 1}\n"
        "training: {epochs: 3, batch_size: 32, learning_rate: 0.001, seed: 0}\n")
    return folder, model, (x_train, y_train, x_test, y_test)


def test_run_a_user_design(user_files, tmp_path):
    from typer.testing import CliRunner

    from codesign.cli import app

    folder, _, _ = user_files
    res = CliRunner().invoke(app, ["run", str(folder / "design.yaml"), "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    results = json.loads((tmp_path / "user_mlp" / "results.json").read_text())
    assert results["validation"]["bit_exact_fraction"] == 1.0
    assert results["validation"]["testbench_bit_exact_fraction"] == 1.0
    assert results["accuracy"]["float"] > 0.9 and results["accuracy"]["qat"] > 0.9
    # BN folded into fc1; act1 became fc1's quantized relu; the digits' k/16 grid is the input type
    names = [layer["name"] for layer in results["validation"]["layers"]]
    assert names == ["pixels", "fc1", "fc1_relu", "out", "out_softmax"]
    assert results["validation"]["input_precision"] == "ufixed<5,1>"
    tables, images = parse_html(tmp_path / "user_mlp" / "report.html")
    metrics = dict(row for row in tables[0] if len(row) == 2)
    assert metrics["bit-exact fraction, myproject_test.cpp with g++"] == "1.0000"
    assert [row[0] for row in tables[1][1:]] == names  # the per-layer precision table
    assert len(images) == 1 and images[0][:8] == b"\x89PNG\r\n\x1a\n"


def parse_html(path: Path) -> tuple[list[list[list[str]]], list[bytes]]:
    """(tables as rows of cell texts, inlined PNG images) of a report.html."""
    import base64
    from html.parser import HTMLParser

    class Parser(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tables, self.images, self.cell = [], [], None

        def handle_starttag(self, tag, attrs):
            if tag == "table":
                self.tables.append([])
            elif tag == "tr":
                self.tables[-1].append([])
            elif tag in ("td", "th"):
                self.cell = ""
            elif tag == "img":
                src = dict(attrs)["src"]
                assert src.startswith("data:image/png;base64,"), src[:40]
                self.images.append(base64.b64decode(src.split(",", 1)[1]))

        def handle_endtag(self, tag):
            if tag in ("td", "th"):
                self.tables[-1][-1].append(self.cell.strip())
                self.cell = None

        def handle_data(self, data):
            if self.cell is not None:
                self.cell += data

    parser = Parser()
    parser.feed(path.read_text())
    return parser.tables, parser.images


def test_api_quantize_validate_export_estimate(user_files, tmp_path):
    _, model, (x_train, _, x_test, _) = user_files
    q = codesign.quantize(model, bits=6, x=x_train)
    assert q.folded == {"bn1": "fc1"}
    result = codesign.validate(q.model, x_test[:100])
    assert result.bit_exact_fraction == 1.0 and result.testbench_bit_exact_fraction == 1.0
    project = codesign.export(q.model, tmp_path / "prj", codesign.Target(io_type="io_stream"), x=x_train)
    assert (tmp_path / "prj" / "firmware" / "myproject.cpp").is_file()
    assert project.input_type == "ufixed<5,1>"
    project.compile()
    probs = project.predict(x_test[:50])
    assert probs.shape == (50, 10)
    assert np.mean(probs.argmax(1) == q.model.predict(x_test[:50], verbose=0).argmax(1)) >= 0.95
    from_project, from_model = codesign.estimate(project), codesign.estimate(q.model, project.target, x=x_train)
    assert from_project.total == from_model.total and from_project.total["lut"] > 0
    json.dumps(project.to_json()), json.dumps(from_project.to_json())


def test_api_search_on_arrays(user_files, tmp_path):
    _, model, arrays = user_files
    study = codesign.search(model, arrays, budget="lut=0.05", trials=2, finetune_epochs=1, qat_epochs=1,
                            out=tmp_path, progress=False, log=lambda m: None)
    assert study.best["validation"]["bit_exact_fraction"] == 1.0
    assert study.best["within_budget"] and study.front
    assert (study.project / "firmware" / "myproject.cpp").is_file() and study.report.is_file()
    tables, images = parse_html(study.report.with_suffix(".html"))
    assert len(images) == 1 and tables[0][0][:3] == ["trial", "accuracy", "LUT-eq"]
    assert json.loads(json.dumps(study.to_json()))["best"]["trial"] == study.best["trial"]
    from codesign.design import load_design

    written = study.folder.parent / "inputs" / "design.yaml"  # a design file `codesign search` can rerun
    assert written.read_text().startswith("name: ")
    assert load_design(written).extra["search"]["trials"] == 2


@pytest.mark.parametrize("arch, folder, name", [("cnn", "keras_user_model", "user_cnn"),
                                                ("resnet", "resnet_user_model", "user_resnet")])
def test_run_the_classifier_examples(tmp_path, arch, folder, name):
    """examples/make_user_model.py + the example's design file, as the README runs them (fewer epochs)."""
    import subprocess
    import sys

    from typer.testing import CliRunner

    from codesign.cli import app

    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, str(root / "examples" / "make_user_model.py"), arch, "--out", str(tmp_path),
                    "--epochs", "2"], check=True, capture_output=True)
    data = np.load(tmp_path / "data.npz")  # the float model never sees the validation arrays codesign selects on
    assert (len(data["x_train"]), len(data["x_val"]), len(data["x_test"])) == (3200, 800, 1000)
    design = (root / "examples" / folder / "design.yaml").read_text()
    (tmp_path / "design.yaml").write_text(design.replace("epochs: 3 ", "epochs: 1 "))
    res = CliRunner().invoke(app, ["run", str(tmp_path / "design.yaml"), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    results = json.loads((tmp_path / "out" / name / "results.json").read_text())
    v = results["validation"]
    assert v["bit_exact_fraction"] == 1.0 and v["testbench_bit_exact_fraction"] == 1.0
    assert v["softmax_argmax_agreement"] >= 0.99 and results["accuracy"]["csim"] > 0.85
    kinds = {layer["class"] for layer in v["layers"]}
    assert "Conv2D" in kinds and (arch != "resnet" or "Add" in kinds)


def test_run_an_autoencoder_design(tmp_path):
    """The anomaly-detection example's path: a float Dense autoencoder, reconstruction MSE, ROC AUC."""
    import subprocess
    import sys

    from typer.testing import CliRunner

    from codesign.cli import app

    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, str(root / "examples" / "make_user_model.py"), "autoencoder", "--out",
                    str(tmp_path), "--epochs", "3"], check=True, capture_output=True)
    design = (root / "examples" / "autoencoder_user_model" / "design.yaml").read_text()
    (tmp_path / "design.yaml").write_text(design.replace("epochs: 5", "epochs: 2"))
    res = CliRunner().invoke(app, ["run", str(tmp_path / "design.yaml"), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    results = json.loads((tmp_path / "out" / "user_autoencoder" / "results.json").read_text())
    assert results["task"] == "autoencoder" and "accuracy" not in results
    assert results["validation"]["bit_exact_fraction"] == 1.0
    # bit-exact outputs: the C simulation's metrics are the QKeras model's
    assert results["mse"]["csim"] == results["mse"]["qat"] and results["roc_auc"]["csim"] == results["roc_auc"]["qat"]
    assert results["roc_auc"]["csim"] > 0.8  # the 7s, never seen in training, reconstruct worse
    tables, _ = parse_html(tmp_path / "out" / "user_autoencoder" / "report.html")
    assert any(row[0] == "ROC AUC (anomaly score: MSE), C simulation (hls4ml)" for row in tables[0])


def test_quantize_depthwise_and_conv1d_then_validate():
    """DepthwiseConv2D + BN (folded per channel), Conv1D, GlobalAveragePooling1D: quantized, then bit-exact."""
    import tensorflow as tf

    layers = tf.keras.layers
    rng = np.random.default_rng(0)
    inp = tf.keras.Input((8, 8, 2), name="img")
    h = layers.DepthwiseConv2D(3, use_bias=False, name="dw")(inp)
    h = layers.BatchNormalization(name="bn")(h)
    h = layers.ReLU(name="r")(h)
    h = layers.Reshape((36, 2), name="rs")(h)
    h = layers.Conv1D(3, 5, activation="relu", name="c1d")(h)  # 32 positions: a power-of-two mean
    model = tf.keras.Model(inp, layers.Dense(2, name="o")(layers.GlobalAveragePooling1D(name="gap")(h)))
    for layer in model.layers:
        if layer.get_weights():
            layer.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in layer.get_weights()])
    model.get_layer("bn").set_weights([rng.uniform(.5, 2, 2), rng.normal(0, .2, 2), rng.normal(0, .2, 2),
                                       rng.uniform(.5, 2, 2)])
    x = np.round(rng.uniform(0, 1, (64, 8, 8, 2)) * 16) / 16
    q = codesign.quantize(model, bits=6, x=x)
    assert q.folded == {"bn": "dw"}
    assert [type(lyr).__name__ for lyr in q.model.layers][1:6] == ["QDepthwiseConv2D", "QActivation", "Reshape",
                                                                   "QConv1D", "QActivation"]
    assert np.abs(q.model.predict(x, verbose=0) - model.predict(x, verbose=0)).max() < 0.05
    result = codesign.validate(q.model, x[:32])
    assert result.inexact_reference_layers == []  # 6 bits: every accumulator within float32's 24 bits
    assert result.bit_exact_fraction == 1.0 and result.testbench_bit_exact_fraction == 1.0
