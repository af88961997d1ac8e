"""Precision derivation from QKeras quantizers, against hand-computed types."""

import pytest

from codesign.errors import CodesignError
from codesign.precision import derive_precisions
from codesign.spec import QuantSpec

from .models import cnn, mlp


def by_name(precisions):
    return {lp.name: lp.to_json() for lp in precisions}


def test_mlp_types_follow_quantizers_and_exact_accumulators():
    p = by_name(derive_precisions(mlp(), QuantSpec(8, 1, False)))
    # fc1: ufixed<8,1> x fixed<6,1> -> fixed<14,2>; 16 terms -> fixed<18,6>; bias fixed<8,3> + carry -> fixed<19,7>
    assert p["fc1"] == {"name": "fc1", "class": "QDense", "result": "fixed<19,7>", "accum": "fixed<19,7>",
                        "weight": "fixed<6,1>", "bias": "fixed<8,3>", "n_terms": 16}
    assert p["fc1_linear"]["result"] == "fixed<19,7>"
    assert p["act1"]["result"] == "ufixed<6,2,RND_CONV,SAT>"
    # out: ufixed<6,2> x fixed<6,1> -> fixed<12,3>; 24 terms -> fixed<17,8>; bias -> fixed<18,9>
    assert p["out"]["accum"] == "fixed<18,9>"
    assert p["softmax"]["class"] == "Softmax"


def test_activation_quantizer_mapping():
    assert by_name(derive_precisions(mlp(act="tanh"), QuantSpec(8, 1, False)))["act1"]["result"] == \
        "fixed<6,1,RND_CONV,SAT>"
    assert by_name(derive_precisions(mlp(act="bits"), QuantSpec(8, 1, False)))["act1"]["result"] == \
        "fixed<6,2,RND_CONV,SAT>"


def test_po2_weights_sized_from_their_exponents():
    model = mlp(weight="po2")
    import numpy as np

    w = model.get_layer("fc1").kernel_quantizer_internal(model.get_layer("fc1").get_weights()[0]).numpy()
    lp = by_name(derive_precisions(model, QuantSpec(8, 1, False)))["fc1"]
    spec = lp["weight"]
    assert spec.startswith("fixed<")
    exps = np.log2(np.abs(w[w != 0]))
    assert np.all(exps == np.round(exps))  # truly powers of two
    assert int(spec[6:-1].split(",")[0]) - int(spec[6:-1].split(",")[1]) == -int(exps.min())


def test_conv_and_pooling():
    p = by_name(derive_precisions(cnn(pool="avg"), QuantSpec(8, 0, False)))
    # conv1: ufixed<8,0> x fixed<6,1> -> fixed<14,1>; 3*3*1 = 9 terms (+4) -> fixed<18,5>; bias -> fixed<19,6>
    assert p["conv1"]["accum"] == "fixed<19,6>" and p["conv1"]["n_terms"] == 9
    # 2x2 average of ufixed<6,2>: sum needs +2 integer bits, the /4 two more fraction bits
    assert p["pool1"]["accum"] == "ufixed<10,4>" and p["pool1"]["result"] == "ufixed<8,2>"


def test_batchnorm_parameters_held_exactly():
    p = by_name(derive_precisions(mlp(batchnorm=True), QuantSpec(8, 1, False)))
    assert set(p["bn1"]) >= {"scale", "bias", "result"}


def test_unknown_layer_is_named():
    import tensorflow as tf

    inp = tf.keras.Input((4,), name="x")
    model = tf.keras.Model(inp, tf.keras.layers.GaussianNoise(0.1, name="noise")(inp))
    with pytest.raises(CodesignError, match=r"layer 'noise': unknown layer type 'GaussianNoise'; supported: "):
        derive_precisions(model, QuantSpec(8, 1, False))


def test_alpha_auto_rejected():
    import tensorflow as tf
    from qkeras import QDense, quantized_bits

    inp = tf.keras.Input((4,), name="x")
    model = tf.keras.Model(inp, QDense(2, kernel_quantizer=quantized_bits(4, 0, alpha="auto"), name="d")(inp))
    with pytest.raises(CodesignError, match=r"layer 'd' \(QDense\): quantized_bits with alpha='auto'.*allowed: alpha=1"):
        derive_precisions(model, QuantSpec(8, 1, False))


def test_float_dense_rejected():
    import tensorflow as tf

    inp = tf.keras.Input((4,), name="x")
    model = tf.keras.Model(inp, tf.keras.layers.Dense(2, name="d")(inp))
    with pytest.raises(CodesignError, match="unknown layer type 'Dense'"):
        derive_precisions(model, QuantSpec(8, 1, False))


def test_relu_drops_only_the_sign_bit():
    from codesign.precision import relu_spec

    assert relu_spec(QuantSpec(18, 9)) == QuantSpec(17, 8, False)
    assert relu_spec(QuantSpec(6, 2, False)) == QuantSpec(6, 2, False)
