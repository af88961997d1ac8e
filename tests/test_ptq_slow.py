"""PTQ end to end: transforms keep the float function, the QKeras model exports bit-exact, the CLI."""

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def test_batchnorm_folding_and_equalization_keep_outputs():
    import tensorflow as tf

    from codesign.ptq.transforms import absorb_high_bias, equalize, fold_batchnorm

    tf.keras.utils.set_random_seed(0)
    inp = tf.keras.Input((12,), name="x")
    h = tf.keras.layers.Dense(16, name="d1")(inp)
    bn = tf.keras.layers.BatchNormalization(name="bn")
    h = tf.keras.layers.Activation("relu", name="r1")(bn(h))
    h = tf.keras.layers.Dense(8, name="d2")(h)
    h = tf.keras.layers.Activation("relu", name="r2")(h)
    out = tf.keras.layers.Dense(4, name="d3")(h)
    model = tf.keras.Model(inp, out)
    rng = np.random.default_rng(0)
    bn.set_weights([rng.uniform(0.5, 2, 16), rng.normal(0, 0.5, 16), rng.normal(0, 0.5, 16), rng.uniform(0.3, 2, 16)])
    w1, b1 = model.get_layer("d1").get_weights()
    model.get_layer("d1").set_weights([w1 * rng.uniform(0.1, 10, 16), b1])  # badly scaled channels
    x = rng.normal(0, 1, (500, 12)).astype(np.float32)
    ref = model.predict(x, verbose=0)
    folded = fold_batchnorm(model)
    assert "bn" not in [layer.name for layer in folded.layers]
    np.testing.assert_allclose(folded.predict(x, verbose=0), ref, rtol=1e-5, atol=1e-5)
    r1_before = np.max(np.abs(folded.get_layer("d1").get_weights()[0]), axis=0)
    assert equalize(folded) == ["d1->d2", "d2->d3"]
    np.testing.assert_allclose(folded.predict(x, verbose=0), ref, rtol=1e-5, atol=1e-5)
    r1_after = np.max(np.abs(folded.get_layer("d1").get_weights()[0]), axis=0)
    assert r1_after.max() / r1_after.min() < r1_before.max() / r1_before.min()  # ranges equalized
    absorb_high_bias(folded, x)
    np.testing.assert_allclose(folded.predict(x, verbose=0), ref, rtol=1e-5, atol=1e-5)


def test_ptq_model_exports_bit_exact_and_cli(tmp_path):
    import tensorflow as tf
    from typer.testing import CliRunner

    from codesign.cli import app
    from codesign.data import load_split
    from codesign.export import ExportOptions
    from codesign.ptq.quantize import PTQOptions, ptq
    from codesign.train import accuracy
    from codesign.validate import verify

    tf.keras.utils.set_random_seed(0)
    s = load_split("digits", False, 0.2, 0)
    inp = tf.keras.Input((64,), name="pixels")
    h = tf.keras.layers.Dense(24, activation="relu", name="fc1")(inp)
    h = tf.keras.layers.BatchNormalization(name="bn1")(h)
    out = tf.keras.layers.Dense(10, activation="softmax", name="logits")(tf.keras.layers.Dense(16, name="fc2")(h))
    model = tf.keras.Model(inp, out)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(s.x_train, s.y_train, epochs=15, verbose=0)
    # a softmax fused into the last Dense is split off (any Keras spelling of a final softmax is one)
    fused, _, _ = ptq(model, s.x_train[:300], PTQOptions(8, 8))
    assert [type(layer).__name__ for layer in fused.layers][-2:] == ["QDense", "Activation"]
    assert fused.layers[-1].get_config()["activation"] == "softmax"
    with pytest.raises(Exception, match=r"layer 't' \(Dense\): activation 'tanh'; allowed: relu, linear, softmax on "
                                        "the last layer"):
        ptq(tf.keras.Model(inp, tf.keras.layers.Dense(10, activation="tanh", name="t")(h)), s.x_train[:300])
    inp = tf.keras.Input((64,), name="pixels")
    h = tf.keras.layers.Dense(24, name="fc1")(inp)
    h = tf.keras.layers.BatchNormalization(name="bn1")(h)
    h = tf.keras.layers.ReLU(name="relu1")(h)
    out = tf.keras.layers.Activation("softmax", name="softmax")(tf.keras.layers.Dense(10, name="logits")(h))
    model = tf.keras.Model(inp, out)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(s.x_train, s.y_train, epochs=15, verbose=0)
    q, _, report = ptq(model, s.x_train[:300], PTQOptions(6, 6, method="mse", bias_correction=True))
    assert report["transforms"] == ["batchnorm folding", "empirical bias correction"]
    assert report["layers"]["fc1"]["weight"].startswith("quantized_bits(6,")
    assert accuracy(q, s.x_test, s.y_test) > accuracy(model, s.x_test, s.y_test) - 0.05
    res, _ = verify(q, s.x_test, ExportOptions(), tmp_path / "prj", input_spec=s.input_spec, testbench=False)
    assert res.bit_exact_fraction == 1.0
    model.save(tmp_path / "float.h5")
    np.save(tmp_path / "calib.npy", s.x_train[:200])
    runner = CliRunner()
    r = runner.invoke(app, ["ptq", str(tmp_path / "float.h5"), "--calib", str(tmp_path / "calib.npy"), "--bits", "4",
                            "--method", "kl", "--cle", "--out", str(tmp_path / "q.h5")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "q.h5").is_file() and '"cross-layer equalization"' in r.output
    r = runner.invoke(app, ["ptq", str(tmp_path / "float.h5"), "--calib", str(tmp_path / "calib.npy"),
                            "--method", "magic"])
    assert r.exit_code == 2 and "--method: 'magic'; allowed: minmax, ema_minmax, percentile" in r.output
    r = runner.invoke(app, ["analyze", str(tmp_path / "q.h5"), "--data", str(tmp_path / "calib.npy"),
                            "--out", str(tmp_path / "anl")])
    assert r.exit_code == 0, r.output
    md = (tmp_path / "anl" / "analysis.md").read_text()
    assert "| fc1 | QDense |" in md and "| True |" in md and (tmp_path / "anl" / "hist_fc1.png").is_file()


def test_ptq_is_the_one_converter_for_branches_and_keeps_bn_after_relu(tmp_path):
    """PTQ builds its QKeras model with `codesign.quantize` (issue 25): a skip connection (Add) converts as in
    `run`, and a BatchNormalization after a relu-fused Dense is kept, not folded through the relu (the chain
    transforms folded it: BN(relu(Wx)) became relu(BN-folded Wx), a different function)."""
    import tensorflow as tf

    from codesign.export import ExportOptions
    from codesign.ptq.quantize import PTQOptions, ptq
    from codesign.validate import verify

    tf.keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    inp = tf.keras.Input((12,), name="x")
    h = tf.keras.layers.Dense(16, activation="relu", name="d1")(inp)
    bn = tf.keras.layers.BatchNormalization(name="bn")
    h = bn(h)
    model = tf.keras.Model(inp, tf.keras.layers.Dense(4, name="d2")(h))
    bn.set_weights([rng.uniform(-2, -0.5, 16), rng.normal(0, 0.5, 16), rng.normal(0, 0.5, 16), rng.uniform(0.3, 2, 16)])
    x = rng.normal(0, 1, (400, 12)).astype(np.float32)
    for opts in (PTQOptions(16, 16, 24, method="minmax"), PTQOptions(16, 16, 24, method="minmax", cle=True)):
        q, float_model, _ = ptq(model, x, opts)
        np.testing.assert_allclose(float_model.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
        np.testing.assert_allclose(q.predict(x, verbose=0), model.predict(x, verbose=0), atol=0.01)
    skip_in = tf.keras.Input((12,), name="x")
    a = tf.keras.layers.Dense(8, activation="relu", name="a")(skip_in)
    b = tf.keras.layers.Dense(8, name="b")(a)
    out = tf.keras.layers.Dense(3, name="out")(tf.keras.layers.Add(name="add")([a, b]))
    q, _, report = ptq(tf.keras.Model(skip_in, out), x, PTQOptions(8, 8))
    assert sorted(report["layers"]) == ["a", "a_relu", "b", "out"] and "add" in [lyr.name for lyr in q.layers]
    res, _ = verify(q, x, ExportOptions(), tmp_path / "prj", testbench=False)
    assert res.bit_exact_fraction == 1.0
