"""Bring your own model and data: float Keras -> QKeras (codesign.quantize), .npz data, design-file checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import codesign
from codesign.errors import CodesignError


def float_cnn(seed: int = 0):
    """Conv -> BN -> ReLU, a Conv with fused relu, Add, a standalone relu, Dropout, softmax Dense."""
    import tensorflow as tf

    layers = tf.keras.layers
    rng = np.random.default_rng(seed)
    inp = tf.keras.Input((6, 6, 1), name="img")
    h = layers.Conv2D(3, 3, padding="same", use_bias=False, name="c1")(inp)
    h = layers.BatchNormalization(name="bn1")(h)
    h = layers.ReLU(name="r1")(h)
    r = layers.Conv2D(3, 3, padding="same", activation="relu", name="c2")(h)
    h = layers.Add(name="add")([h, r])
    h = layers.Activation("relu", name="r2")(h)
    h = layers.Flatten(name="flat")(h)
    h = layers.Dropout(0.5, name="drop")(h)
    model = tf.keras.Model(inp, layers.Dense(4, activation="softmax", name="out")(h))
    for layer in model.layers:  # weights from numpy: TF initializers depend on the process's op count
        if layer.get_weights():
            layer.set_weights([rng.normal(0, 0.4, w.shape).astype(np.float32) for w in layer.get_weights()])
    model.get_layer("c1").set_weights([np.full((3, 3, 1, 3), 0.1, np.float32) * np.array([1, -2, 3], np.float32)])
    model.get_layer("bn1").set_weights([np.array([1.0, 0.5, 2.0]), np.array([0.1, -0.2, 0.3]),
                                        np.array([0.0, 0.1, -0.1]), np.array([1.0, 4.0, 0.25])])
    return model


def test_quantize_folds_batchnorm_names_relus_and_picks_integer_bits():
    model = float_cnn()
    x = np.random.default_rng(1).uniform(0, 1, (64, 6, 6, 1)).astype(np.float32)
    q = codesign.quantize(model, bits=8, x=x)
    assert [(lyr.name, type(lyr).__name__) for lyr in q.model.layers] == [
        ("img", "InputLayer"), ("c1", "QConv2D"), ("c1_relu", "QActivation"), ("c2", "QConv2D"),
        ("c2_relu", "QActivation"), ("add", "Add"), ("r2", "QActivation"), ("flat", "Flatten"), ("out", "QDense"),
        ("out_softmax", "Activation")]
    assert q.folded == {"bn1": "c1"}
    # folded c1 kernel: 0.1 * [1, -2, 3] * gamma / sqrt(var + 1e-3) = [0.1, -0.05, 1.2]: |w| <= 1.2 -> 1 integer bit
    assert q.layer_quant["c1"].weight_integer == 1
    folded = q.model.get_layer("c1").get_weights()[0][0, 0, 0]
    np.testing.assert_allclose(folded, [0.1 / np.sqrt(1.001), -0.1 / np.sqrt(4.001), 0.6 / np.sqrt(0.251)], rtol=1e-6)
    # 8 bits everywhere: the QKeras twin computes nearly the float function
    pq, pf = q.model.predict(x, verbose=0), model.predict(x, verbose=0)
    assert np.abs(pq - pf).max() < 0.05 and np.mean(pq.argmax(1) == pf.argmax(1)) >= 0.95


def test_quantize_activation_integer_bits_follow_the_data():
    model = float_cnn()
    x = np.random.default_rng(1).uniform(0, 1, (64, 6, 6, 1)).astype(np.float32)
    small, large = codesign.quantize(model, bits=8, x=x), codesign.quantize(model, bits=8, x=x * 4)
    assert small.layer_quant["c1"].activation_integer == 4  # 99.99th percentile of c1's relu in [8, 16)
    assert large.layer_quant["c1"].activation_integer == 6  # 4x the inputs: c1 is linear up to its small bias
    assert codesign.quantize(model, bits=8).layer_quant["c1"].activation_integer == 2  # no data: QKeras's default


def test_quantize_refuses_what_is_not_exact():
    import tensorflow as tf

    inp = tf.keras.Input((4,))
    tanh = tf.keras.Model(inp, tf.keras.layers.Dense(3, activation="tanh", name="d")(inp))
    with pytest.raises(CodesignError, match=r"^layer 'd' \(Dense\): activation 'tanh'; allowed: relu, linear"):
        codesign.quantize(tanh)
    leaky = tf.keras.Model(inp, tf.keras.layers.LeakyReLU(name="lk")(inp))
    with pytest.raises(CodesignError, match=r"^layer 'lk': LeakyReLU cannot be quantized; allowed: "):
        codesign.quantize(leaky)
    with pytest.raises(CodesignError, match=r"layers\['d'\]: .*unexpected keyword argument 'weight_bit'"):
        codesign.quantize(tanh, layers={"d": {"weight_bit": 3}})


def _design(tmp_path: Path, data: dict | None, model_file: str = "model.h5", extra: str = "") -> Path:
    import tensorflow as tf

    if data is not None:
        np.savez(tmp_path / "data.npz", **data)
    inp = tf.keras.Input((5,))
    tf.keras.Model(inp, tf.keras.layers.Dense(3, activation="softmax")(inp)).save(tmp_path / "model.h5")
    path = tmp_path / "d.yaml"
    path.write_text(f"name: user\ndata: {{file: data.npz}}\nmodel: {{file: {model_file}}}\n"
                    f"target: {{part: xcvu13p-flga2577-2-e}}\n{extra}")
    return path


def _arrays(n_features: int = 5, classes: int = 3) -> dict:
    rng = np.random.default_rng(0)
    return {"x_train": rng.normal(size=(30, n_features)), "y_train": rng.integers(0, classes, 30),
            "x_test": rng.normal(size=(10, n_features)), "y_test": rng.integers(0, classes, 10)}


def test_user_design_bad_files_name_file_and_array(tmp_path):
    from codesign.design import load_design
    from codesign.pipeline import design_split, float_model

    with pytest.raises(CodesignError, match=r"d.yaml: model.file: .*nothere.h5: file not found"):
        load_design(_design(tmp_path, _arrays(), model_file="nothere.h5"))
    arrays = _arrays()
    del arrays["y_test"]
    design = load_design(_design(tmp_path, arrays))
    with pytest.raises(CodesignError, match=r"data.npz: missing array\(s\) \['y_test'\]; a classification task needs "
                                            r"x_train, y_train, x_test, y_test"):
        design_split(design)
    design = load_design(_design(tmp_path, _arrays(n_features=7)))
    with pytest.raises(CodesignError, match=r"model.h5: the model takes inputs of shape \(5,\); .*data.npz x_train "
                                            r"has \(7,\)"):
        float_model(design, design_split(design))
    design = load_design(_design(tmp_path, _arrays(classes=5)))
    with pytest.raises(CodesignError, match=r"model.h5: the model outputs \(3,\); .*data.npz has 5 classes"):
        float_model(design, design_split(design))
    bad = _arrays()
    bad["y_train"] = bad["y_train"] - 1
    with pytest.raises(CodesignError, match=r"data.npz: y_train: class labels must be integers >= 0"):
        design_split(load_design(_design(tmp_path, bad)))


def test_whether_a_design_reads_user_data_is_known_without_its_files(tmp_path):
    """The peer protocol's report of a user design's stored runs is written where its git-ignored data is not."""
    from codesign.design import load_design, reads_user_data

    design = tmp_path / "d.yaml"
    design.write_text("name: d\ndata: {file: gone.npz}\nmodel: {file: gone.h5}\n")
    with pytest.raises(CodesignError, match=r"d.yaml: data.file: .*gone.npz: file not found"):
        load_design(design)
    assert reads_user_data(design) is True
    assert reads_user_data(Path(__file__).parents[1] / "designs" / "digits_mlp.yaml") is False


def test_user_design_cli_exits_2_and_writes_nothing(tmp_path):
    from typer.testing import CliRunner

    from codesign.cli import app

    arrays = _arrays()
    del arrays["x_train"]
    design = _design(tmp_path, arrays)
    res = CliRunner().invoke(app, ["run", str(design), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2
    assert "missing array(s) ['x_train']" in res.output
    assert not (tmp_path / "out" / "user").exists()


def test_one_hot_labels_and_auto_integer_bits_in_design(tmp_path):
    from codesign.design import load_design
    from codesign.pipeline import design_split

    arrays = _arrays()
    arrays["y_train"] = np.eye(3)[arrays["y_train"]]
    design = load_design(_design(tmp_path, arrays, extra="quantization: {default: {weight_bits: 5}}\n"))
    split = design_split(design)
    np.testing.assert_array_equal(split.y_train, _arrays()["y_train"])
    assert design.default_quant.weight_bits == 5 and design.default_quant.weight_integer is None


def test_api_names_survive_importing_their_modules():
    import importlib
    import importlib.util

    for name in codesign.API_FUNCTIONS:
        if importlib.util.find_spec(f"codesign.{name}") is not None:  # synth lives in codesign.rtl.synth
            importlib.import_module(f"codesign.{name}")
        assert callable(getattr(codesign, name)) and getattr(codesign, name).__module__ == "codesign.api", name


def _autoencoder_design(tmp_path: Path, arrays: dict, task: str = "autoencoder", out_units: int = 5) -> Path:
    import tensorflow as tf

    np.savez(tmp_path / "data.npz", **arrays)
    inp = tf.keras.Input((5,))
    h = tf.keras.layers.Dense(2, activation="relu")(inp)
    tf.keras.Model(inp, tf.keras.layers.Dense(out_units)(h)).save(tmp_path / "model.h5")
    path = tmp_path / "d.yaml"
    path.write_text(f"name: ae\ntask: {task}\ndata: {{file: data.npz}}\nmodel: {{file: model.h5}}\n"
                    "target: {part: xcvu13p-flga2577-2-e}\n")
    return path


def test_regression_and_autoencoder_data(tmp_path):
    from codesign.design import load_design
    from codesign.pipeline import design_split, float_model

    rng = np.random.default_rng(0)
    x_train, x_test = rng.normal(size=(20, 5)), rng.normal(size=(8, 5))
    design = load_design(_autoencoder_design(tmp_path, {"x_train": x_train, "x_test": x_test}))
    split = design_split(design)  # no labels at all: fine for an autoencoder
    assert split.y_train is None and float_model(design, split).output_shape == (None, 5)
    bad = {"x_train": x_train, "x_test": x_test, "y_test": np.arange(8)}
    with pytest.raises(CodesignError, match=r"data.npz: y_test: shape \(8,\); an autoencoder's labels are optional, "
                                            r"\(8,\) with 1 marking an anomaly"):
        design_split(load_design(_autoencoder_design(tmp_path, bad)))
    design = load_design(_autoencoder_design(tmp_path, {"x_train": x_train, "x_test": x_test}, out_units=4))
    with pytest.raises(CodesignError, match=r"model.h5: the model outputs \(4,\); an autoencoder task trains it on "
                                            r".*data.npz x_train, of shape \(5,\)"):
        float_model(design, design_split(design))
    targets = {"x_train": x_train, "y_train": rng.normal(size=(20, 3)), "x_test": x_test, "y_test": rng.normal(size=(8, 3))}
    design = load_design(_autoencoder_design(tmp_path, targets, task="regression", out_units=2))
    with pytest.raises(CodesignError, match=r"the model outputs \(2,\); a regression task trains it on .*y_train, "
                                            r"of shape \(3,\)"):
        float_model(design, design_split(design))
    with pytest.raises(CodesignError, match=r"d.yaml: task: 'ranking'; allowed: classification, regression, autoencoder"):
        load_design(_autoencoder_design(tmp_path, targets, task="ranking"))


def test_task_metrics():
    from codesign.tasks import task_of

    x = np.zeros((4, 2))
    out = np.array([[0, 0], [1, 1], [0, 2], [3, 0]], float)  # per-sample MSE 0, 1, 2, 4.5
    ae = task_of("autoencoder").metrics(out, x, np.array([0, 0, 1, 1]))
    assert ae == {"mse": 1.875, "roc_auc": 1.0}
    assert task_of("autoencoder").score(ae) == -1.875 and task_of("autoencoder").shown(-1.875) == 1.875
    assert task_of("regression").metrics(out, x, np.ones((4, 2))) == {"mse": 1.125}  # per sample 1, 0, 1, 2.5
    classes = task_of("classification")
    assert classes.metrics(np.array([[0.1, 0.9], [0.8, 0.2]]), x[:2], np.array([1, 1])) == {"accuracy": 0.5}
    logits = np.log(np.array([[0.25, 0.75], [0.5, 0.5]]))
    assert classes.validation(logits, x[:2], np.array([1, 0]), logits=True) == pytest.approx((1.0, np.log(8 / 3) / 2))  # -(ln .75 + ln .5) / 2
    with pytest.raises(ValueError, match=r"^'ranking'; allowed: classification, regression, autoencoder$"):
        task_of("ranking")


def test_data_as_npy_files(tmp_path):
    from codesign.design import load_design
    from codesign.pipeline import design_split, float_model

    arrays = _arrays()
    _design(tmp_path, None)
    for name, a in arrays.items():
        np.save(tmp_path / f"{name}.npy", a)
    path = tmp_path / "npy.yaml"
    path.write_text("name: user\ndata: {x_train: x_train.npy, y_train: y_train.npy, x_test: x_test.npy, "
                    "y_test: y_test.npy}\nmodel: {file: model.h5}\ntarget: {part: xcvu13p-flga2577-2-e}\n")
    design = load_design(path)
    split = design_split(design)
    np.testing.assert_array_equal(split.y_test, arrays["y_test"])
    assert split.n_classes == 3 and float_model(design, split).output_shape == (None, 3)
    path.write_text("name: user\ndata: {x_train: x_train.csv}\nmodel: {file: model.h5}\n"
                    "target: {part: xcvu13p-flga2577-2-e}\n")
    with pytest.raises(CodesignError, match=r"npy.yaml: data.x_train: .*x_train.csv: allowed: an existing .npy file"):
        load_design(path)


def test_search_of_a_qkeras_model_asks_for_the_float_one(tmp_path):
    import tensorflow as tf
    from qkeras import QDense, quantized_bits

    from codesign.search.context import prepare

    path = _design(tmp_path, _arrays())
    inp = tf.keras.Input((5,))
    tf.keras.Model(inp, QDense(3, kernel_quantizer=quantized_bits(4, 0, alpha=1))(inp)).save(tmp_path / "model.h5")
    with pytest.raises(CodesignError, match=r"model.h5: a QKeras model; `codesign search` chooses every layer's bits"):
        prepare(path, tmp_path / "out", {}, train_base=True, log=lambda m: None)


@pytest.mark.parametrize("call, message", [
    (lambda m, x: codesign.quantize(m, bits=0, x=x), "bits: 0; allowed: an integer 2..32"),
    (lambda m, x: codesign.quantize(m, bits=6, x=x[:, :3]), "x: shape (16, 3, 6, 1); the model takes (samples, 6, 6, 1)"),
    (lambda m, x: codesign.quantize(m, bits=6, x=x[:0]), "x: shape (0, 6, 6, 1); the model takes"),
    (lambda m, x: codesign.validate(codesign.quantize(m, x=x).model, np.full_like(x, np.nan)),
     "x: 576 values are NaN or infinite; allowed: finite numbers"),
    (lambda m, x: codesign.Target(io_type="io_serial"), "target.io_type: 'io_serial'; allowed: io_parallel, io_stream"),
    (lambda m, x: codesign.quantize(m, bits=6, x=x, layers={"c_1": {"weight_bits": 8}}),
     "layers['c_1']: no such layer in the model (did you mean 'c1'?); its layers: img, c1"),
    (lambda m, x: codesign.Target(reuse_factor="2"), "target.reuse_factor: '2'; allowed: an integer"),
    (lambda m, x: codesign.export(codesign.quantize(m, x=x).model, "/tmp/none", codesign.Target(part="xc7foo"), x=x),
     "target.part: unknown FPGA part 'xc7foo'"),
    (lambda m, x: codesign.synth(codesign.quantize(m, x=x).model, x, "/tmp/none", part="xc7foo"),
     "part: unknown FPGA part 'xc7foo'"),
    (lambda m, x: codesign.search(m, {"x_train": x, "y_train": np.arange(16) % 3, "x_test": x,
                                      "y_test": np.arange(16) % 3}, floor=0.9, out="/tmp/none", progress=False),
     "search.floor: 0.9; allowed with algorithm descent only (its chain turns back at the floor)"),
])
def test_the_api_raises_codesign_error_for_what_the_caller_passed(call, message):
    """One CodesignError line naming the argument, never a TensorFlow/hls4ml exception (issue 25)."""
    from codesign.errors import CodesignError

    x = np.random.default_rng(0).uniform(0, 1, (16, 6, 6, 1)).astype(np.float32)
    with pytest.raises(CodesignError) as err:
        call(float_cnn(), x)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_sequential_model_is_quantized_and_loaded_with_its_input_layer(tmp_path):
    """Keras leaves a Sequential model's InputLayer out of `model.layers`; quantize, ptq and load_model walk
    from it (the input was named after the first Dense: 'The name "dense" is used 2 times')."""
    import tensorflow as tf

    from codesign.modelio import load_model
    from codesign.ptq.quantize import PTQOptions, ptq

    rng = np.random.default_rng(0)
    model = tf.keras.Sequential([tf.keras.Input((5,)), tf.keras.layers.Dense(4, activation="relu", name="fc1"),
                                 tf.keras.layers.Dense(3, activation="softmax", name="fc2")], name="seq")
    for layer in model.layers:
        layer.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in layer.get_weights()])
    x = rng.uniform(0, 1, (32, 5)).astype(np.float32)
    q = codesign.quantize(model, bits=8, x=x)
    assert [(lyr.name, type(lyr).__name__) for lyr in q.model.layers][1:] == [
        ("fc1", "QDense"), ("fc1_relu", "QActivation"), ("fc2", "QDense"), ("fc2_softmax", "Activation")]
    assert np.abs(q.model.predict(x, verbose=0) - model.predict(x, verbose=0)).max() < 0.05
    qmodel, _, _ = ptq(model, x, PTQOptions(weight_bits=8, activation_bits=8))
    assert [lyr.name for lyr in qmodel.layers][1:] == ["fc1", "fc1_relu", "fc2", "fc2_softmax"]
    model.save(tmp_path / "seq.h5")
    loaded = load_model(tmp_path / "seq.h5")
    assert type(loaded.layers[0]).__name__ == "InputLayer" and [lyr.name for lyr in loaded.layers][1:] == ["fc1", "fc2"]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    unbuilt = tf.keras.Sequential([tf.keras.layers.Dense(2)])
    with pytest.raises(CodesignError, match="a Sequential model without an input shape"):
        codesign.quantize(unbuilt, bits=8)


def test_a_nested_model_is_inlined_with_its_weights_and_quantized(tmp_path):
    """A model used as a layer (a backbone in a Sequential, a block called twice) is inlined into one flat graph
    with the same outputs, as hls4ml's parser flattens it; ptq refused it ("Sequential cannot be quantized")."""
    import tensorflow as tf

    from codesign.modelio import functional, load_model
    from codesign.ptq.quantize import PTQOptions, ptq

    rng = np.random.default_rng(1)
    backbone = tf.keras.Sequential([tf.keras.Input((5,)), tf.keras.layers.Dense(4, activation="relu", name="fc1")],
                                   name="backbone")
    model = tf.keras.Sequential([backbone, tf.keras.layers.Dense(3, activation="softmax", name="head")])
    x = rng.uniform(0, 1, (32, 5)).astype(np.float32)
    flat = functional(model)
    assert [type(lyr).__name__ for lyr in flat.layers] == ["InputLayer", "Dense", "Dense"]
    assert [lyr.name for lyr in flat.layers][1:] == ["fc1", "head"]
    np.testing.assert_array_equal(flat.predict(x, verbose=0), model.predict(x, verbose=0))
    qmodel, _, _ = ptq(model, x, PTQOptions(weight_bits=8, activation_bits=8))
    assert [lyr.name for lyr in qmodel.layers][1:] == ["fc1", "fc1_relu", "head", "head_softmax"]
    model.save(tmp_path / "nested.h5")
    np.testing.assert_array_equal(load_model(tmp_path / "nested.h5").predict(x, verbose=0), model.predict(x, verbose=0))

    inp = tf.keras.Input((5,))
    block = tf.keras.Model(inp, tf.keras.layers.Add(name="skip")([tf.keras.layers.Dense(5, name="fc")(inp), inp]),
                           name="block")
    top_in = tf.keras.Input((5,), name="x")
    twice = tf.keras.Model(top_in, tf.keras.layers.Dense(2, name="out")(block(block(top_in))))
    flat = functional(twice)
    assert [lyr.name for lyr in flat.layers] == ["x", "fc", "skip", "block_fc", "block_skip", "out"]
    np.testing.assert_array_equal(flat.predict(x, verbose=0), twice.predict(x, verbose=0))


def test_a_saved_nested_qkeras_model_is_refused_with_its_layer_named(tmp_path):
    """Keras 2.14 cannot rebuild QKeras layers inside a nested model from a file; the error named 'Sequential'
    as 'not a Keras or QKeras 0.9.0 layer'."""
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    from codesign.modelio import load_model

    q = quantized_bits(6, 0, alpha=1)
    inner = tf.keras.Sequential([tf.keras.Input((8,)), QDense(4, kernel_quantizer=q, bias_quantizer=q),
                                 QActivation(quantized_relu(6, 2))], name="backbone")
    outer = tf.keras.Sequential([inner, QDense(3, kernel_quantizer=q, bias_quantizer=q)])
    outer.build((None, 8))
    outer.save(tmp_path / "q.h5")
    with pytest.raises(CodesignError, match=r"q.h5: layer 'backbone' is a nested Sequential model, which Keras 2.14 "
                                            r"cannot load with QKeras layers inside; save the model flat"):
        load_model(tmp_path / "q.h5")
