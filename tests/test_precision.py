"""The typed graph: types derived from QKeras quantizers, against hand-computed types."""

import numpy as np
import pytest

from codesign.errors import CodesignError
from codesign.precision import LayerKind, derive, derive_precisions
from codesign.spec import QuantSpec

from . import zoo
from .models import cnn, mlp


def by_name(precisions):
    return {lp.name: lp.to_json() for lp in precisions}


def test_mlp_types_follow_quantizers_and_exact_accumulators():
    p = by_name(derive_precisions(mlp(), QuantSpec(8, 1, False)))
    # fc1: ufixed<8,1> x fixed<6,1> -> fixed<14,2>; 16 terms -> fixed<18,6>; bias fixed<8,3> + carry -> fixed<19,7>
    assert p["fc1"] == {"name": "fc1", "class": "Dense", "result": "fixed<19,7>", "accum": "fixed<19,7>",
                        "weight": "fixed<6,1>", "bias": "fixed<8,3>", "n_terms": 16}
    assert "fc1_linear" not in p  # hls4ml eliminates it: same type as the Dense result
    assert p["act1"]["result"] == "ufixed<6,2,RND_CONV,SAT>"
    # out: ufixed<6,2> x fixed<6,1> -> fixed<12,3>; 24 terms -> fixed<17,8>; bias -> fixed<18,9>
    assert p["out"]["accum"] == "fixed<18,9>"
    assert p["softmax"]["class"] == "Softmax"


def test_every_tensor_of_a_mac_node_is_typed():
    graph = derive(mlp(), QuantSpec(8, 1, False))
    fc1 = graph["fc1"]
    assert fc1.kind is LayerKind.DENSE and fc1.inputs == ["x"]
    assert fc1.input.to_hls() == "ufixed<8,1>" and fc1.product.to_hls() == "fixed<14,2>"
    assert [n.kind for n in graph.nodes] == [LayerKind.INPUT, LayerKind.DENSE, LayerKind.QUANTIZE, LayerKind.DENSE,
                                            LayerKind.SOFTMAX]


def test_activation_quantizer_mapping():
    assert by_name(derive_precisions(mlp(act="tanh"), QuantSpec(8, 1, False)))["act1"]["result"] == \
        "fixed<6,1,RND_CONV,SAT>"
    assert by_name(derive_precisions(mlp(act="bits"), QuantSpec(8, 1, False)))["act1"]["result"] == \
        "fixed<6,2,RND_CONV,SAT>"


def test_odd_quantized_bits_grids():
    p = by_name(derive_precisions(zoo.odd_grids(), QuantSpec(8, 2)))
    # keep_negative=False, 3 bits, integer 1: 0 .. 1.75 in steps of 0.25 -> ufixed<3,1> (hls4ml would say fixed<3,2>)
    assert p["unsigned"]["weight"] == "ufixed<3,1>"
    # quantized_bits(1,0) is a sign: values -1 and +1 need fixed<2,2>, not fixed<1,1> (+1 would wrap to -1)
    assert p["sign"]["weight"] == "fixed<2,2>"
    # quantized_bits(4,4): step 2^(4-3) = 2, range [-16, 14] -> fixed<4,5> (hls4ml would say int<4>)
    assert p["coarse"]["result"] == "fixed<4,5,RND_CONV,SAT>"
    assert p["sym"]["result"] == "fixed<5,4,RND_CONV,SAT_SYM>"
    assert p["step16"]["result"] == "fixed<2,6,RND_CONV,SAT>"


def test_po2_weights_typed_from_their_values_zero_included():
    graph = derive(zoo.public_po2(), QuantSpec(8, 2))
    w = graph.lowered.weights["fc1"].kernel
    # quantized_po2(4, max_value=1) maps 0 to +2^-8 and keeps |w| <= 1: fixed<10,2> holds -1 .. 2^-8 exactly
    assert 2.0**-8 in w and np.abs(w).max() == 1.0
    assert graph["fc1"].weight.to_hls() == "fixed<10,2>"
    assert graph["fc1"].bias.to_hls() == "fixed<2,1>"


def test_binary_ternary_and_auto_po2_kernels():
    graph = derive(zoo.binary_ternary(), QuantSpec(8, 2))
    assert graph["bin"].weight.to_hls() == "fixed<2,2>"  # -1, +1
    assert set(np.unique(graph.lowered.weights["ter"].kernel)) <= {-1.0, 0.0, 1.0}
    scales = np.asarray(graph.lowered.weights["apo2"].kernel_quantizer.scale).ravel()
    assert len(set(scales)) > 1 and np.all(np.log2(scales) == np.round(np.log2(scales)))  # per-channel po2 scales
    assert graph["apo2"].notes == []


def test_float_weights_get_a_type_from_their_values_and_say_so():
    p = by_name(derive_precisions(zoo.float_weights(), QuantSpec(8, 2)))
    assert p["float_q"]["notes"] == ["float weights: exact type chosen from the values"]
    assert p["float_q"]["weight"] == "fixed<6,1>"  # -0.5 .. 0.46875 on a 2^-5 grid
    assert p["plain_relu"]["class"] == "Activation"


def test_float_weights_too_fine_are_refused():
    import tensorflow as tf

    inp = tf.keras.Input((2,), name="x")
    dense = tf.keras.layers.Dense(1, name="d")
    model = tf.keras.Model(inp, dense(inp))
    dense.set_weights([np.array([[1e-12], [0.5]], np.float32), np.zeros(1, np.float32)])
    with pytest.raises(CodesignError, match=r"layer 'd' \(Dense\): float weights need more than 32 fraction bits"):
        derive(model, QuantSpec(8, 1))


def test_conv_and_pooling():
    p = by_name(derive_precisions(cnn(pool="avg"), QuantSpec(8, 0, False)))
    # conv1: ufixed<8,0> x fixed<6,1> -> fixed<14,1>; 3*3*1 = 9 terms (+4) -> fixed<18,5>; bias -> fixed<19,6>
    assert p["conv1"]["accum"] == "fixed<19,6>" and p["conv1"]["n_terms"] == 9
    # 2x2 average of ufixed<6,2>: sum needs +2 integer bits, the /4 two more fraction bits
    assert p["pool1"]["accum"] == "ufixed<10,4>" and p["pool1"]["result"] == "ufixed<8,2>"


def test_skip_connections_add_and_concatenate():
    graph = derive(zoo.resnet(), QuantSpec(8, 2))
    add, cat = graph["add"], graph["cat"]
    assert add.inputs == ["relu0", "q2"] and cat.inputs == ["relu2", "relu3"]
    # ufixed<5,2> + fixed<6,3,...>: aligned on 3 fraction bits, 2 integer bits + sign, one carry -> fixed<7,4>
    assert add.result.to_hls() == "fixed<7,4>"
    # ufixed<5,2> and ufixed<4,1>: union ufixed<5,2>
    assert cat.result.to_hls() == "ufixed<5,2>"
    # global average of 64 values: 6 more fraction bits
    assert graph["gap"].result.to_hls() == "ufixed<11,2>"


def test_separable_conv_is_depthwise_then_pointwise():
    graph = derive(zoo.depthwise_separable(), QuantSpec(8, 2))
    assert graph["sep_dw"].kind is LayerKind.DEPTHWISE and graph["sep_dw"].n_terms == 9
    assert graph["sep"].kind is LayerKind.CONV and graph["sep"].n_terms == 2 and graph["sep"].inputs == ["sep_dw"]
    assert graph["pw_quantized_relu"].result.to_hls() == "ufixed<4,1,RND_CONV,SAT>"


def test_batchnorm_parameters_held_exactly():
    p = by_name(derive_precisions(mlp(batchnorm=True), QuantSpec(8, 1, False)))
    assert set(p["bn1"]) >= {"scale", "bias", "result"}


def test_unknown_layer_is_named():
    import tensorflow as tf

    inp = tf.keras.Input((4,), name="x")
    model = tf.keras.Model(inp, tf.keras.layers.GaussianNoise(0.1, name="noise")(inp))
    with pytest.raises(CodesignError, match=r"layer 'noise': unknown layer type 'GaussianNoise'; supported: "):
        derive_precisions(model, QuantSpec(8, 1, False))


def test_recurrent_layer_refused():
    import tensorflow as tf

    inp = tf.keras.Input((5, 3), name="x")
    model = tf.keras.Model(inp, tf.keras.layers.SimpleRNN(2, name="rnn")(inp))
    with pytest.raises(CodesignError, match=r"layer 'rnn': unknown layer type 'SimpleRNN'"):
        derive(model, QuantSpec(8, 1))


def test_sign_activations_are_binary_tanh_and_other_steps_refused():
    import tensorflow as tf
    from qkeras import QActivation, binary, quantized_bits, quantized_relu, quantized_sigmoid, ternary

    inp = tf.keras.Input((4,), name="x")
    h = QActivation(quantized_bits(1, 0, alpha=1), name="sgn")(inp)
    h = QActivation(binary(alpha=1), name="bin")(h)
    graph = derive(tf.keras.Model(inp, QActivation(quantized_sigmoid(3), name="sig")(h)), QuantSpec(8, 1))
    assert [(n.kind, n.result.to_hls()) for n in graph.nodes[1:]] == [
        (LayerKind.SIGN, "fixed<2,2>"), (LayerKind.SIGN, "fixed<2,2>"), (LayerKind.QUANTIZE, "ufixed<3,0,RND_CONV,SAT>")]
    real = tf.keras.Model(inp, QActivation(quantized_sigmoid(4, use_real_sigmoid=True), name="a")(inp))
    with pytest.raises(CodesignError, match=r"layer 'a' \(quantized_sigmoid\(use_real_sigmoid=True\)\): its input "
                                            r"fixed<16,1> has 15 fraction bits; hls4ml's sigmoid table holds one entry "
                                            r"per input value only for -2 to 12"):
        derive(real, QuantSpec(16, 1))
    for act, message in [(ternary(alpha="auto_po2"), r"a ternary activation with alpha='auto_po2'"),
                         (quantized_relu(3, 1, negative_slope=0.125), r"negative_slope 0.125 with 3 bits puts its "
                          r"floor -negative_slope\*2\^integer off the 3-bit grid; allowed: negative_slope 2\^-k with "
                          r"0 <= k <= bits - 1"),
                         (quantized_relu(2, 0, negative_slope=0.25), r"negative_slope 0.25 with 2 bits")]:
        model = tf.keras.Model(inp, QActivation(act, name="a")(inp))
        with pytest.raises(CodesignError, match=r"layer 'a' \(QActivation\) .*" + message):
            derive(model, QuantSpec(8, 1))


def test_composite_activations_are_built_from_exact_layers():
    """binary_tanh, ternary, leaky quantized_relu and symmetric quantized_sigmoid become plain layers whose
    types derive exactly; the last layer of each keeps the QKeras layer's name."""
    graph = derive(zoo.composite_activations(), QuantSpec(8, 1))
    by_source = {}
    for node in graph.nodes[1:]:
        by_source.setdefault(node.source, {})[node.name] = (node.kind.value, node.result.to_hls())
    assert by_source["btanh"] == {"btanh_neg": ("batchnorm", "fixed<23,11>"), "btanh_sign": ("sign", "fixed<2,2>"),
                                  "btanh": ("batchnorm", "fixed<2,2>")}  # -1, +1
    assert sorted(kind for kind, _ in by_source["tern"].values()) == ["add"] + ["batchnorm"] * 4 + ["sign"] * 2
    assert by_source["tern"]["tern"] == ("batchnorm", "fixed<2,2>")  # alpha 1: (upper - lower) / 2
    assert by_source["leaky"] == {"leaky_lift": ("batchnorm", "fixed<19,8>"), "leaky_floor": ("relu", "ufixed<18,7>"),
                                  "leaky_drop": ("batchnorm", "fixed<21,10>"),
                                  "leaky_leaky": ("leaky_relu", "fixed<23,10>"),
                                  "leaky": ("quantize", "fixed<4,2,RND_CONV,SAT>")}  # grid 2^-2, -2 .. 1.75
    assert graph["leaky_leaky"].params["param"].to_hls() == "ufixed<2,0>"  # 0.25
    assert by_source["sig"]["sig"] == ("batchnorm", "ufixed<3,0>")
    assert by_source["rsig"]["rsig"] == ("function_table", "ufixed<4,0,RND_CONV,SAT>")
    assert by_source["rtanh"]["rtanh"] == ("function_table", "fixed<5,1,RND_CONV,SAT_SYM>")
    assert graph["rtanh"].table_size == 8 * 2**3
    assert graph["rsig"].table_size == 16 * 2**3  # one entry per input value of fixed<8,5>
    assert by_source["fc2"]["fc2_ternary"] == ("batchnorm", "fixed<2,1>")  # alpha 0.5: -0.5, 0, 0.5


def test_relu_drops_only_the_sign_bit():
    from codesign.precision import relu_spec

    assert relu_spec(QuantSpec(18, 9)) == QuantSpec(17, 8, False)
    assert relu_spec(QuantSpec(6, 2, False)) == QuantSpec(6, 2, False)


def test_lowered_model_computes_the_same_function():
    for build in (zoo.public_po2, zoo.binary_ternary, zoo.depthwise_separable, zoo.resnet):
        model = build()
        x = zoo.inputs(model.input_shape[1:], n=40, signed=True)
        lowered = derive(model, QuantSpec(16, 4)).keras_model
        np.testing.assert_array_equal(lowered.predict(x, verbose=0), model.predict(x, verbose=0))


def test_lowered_composite_activations_compute_the_same_function():
    """Up to float32 rounding: the sign layers' straight-through x + stop_gradient(q - x) rounds when x has
    fine bits (here raw float inputs), which the exact hls4ml types do not. Evaluated as verification evaluates
    (`eager`: BatchNormalization with hls4ml's exact scale; TensorFlow's rsqrt is approximate on AVX-512 and put
    the lowered ternary's threshold ties on the wrong side)."""
    from codesign.validate import eager

    model = zoo.composite_activations()
    x = zoo.inputs(model.input_shape[1:], n=40, signed=True)
    lowered = derive(model, QuantSpec(16, 4)).keras_model
    np.testing.assert_allclose(eager(lowered, x)[0], eager(model, x)[0], rtol=0, atol=2.0**-22)


def test_softmax_fused_into_the_last_dense_is_split_off():
    import tensorflow as tf
    from qkeras import QDense, quantized_bits

    from codesign.modelio import final_softmax, logits_model

    inp = tf.keras.Input((6,), name="x")
    model = tf.keras.Model(inp, QDense(3, kernel_quantizer=quantized_bits(4, 0, alpha=1), activation="softmax",
                                       name="head")(inp))
    assert final_softmax(model)
    core = logits_model(model)
    x = np.random.default_rng(0).uniform(-1, 1, (8, 6)).astype(np.float32)
    np.testing.assert_allclose(tf.nn.softmax(core.predict(x, verbose=0)), model.predict(x, verbose=0), rtol=1e-6)
    assert [n.kind for n in derive(model, QuantSpec(8, 1)).nodes][-2:] == [LayerKind.DENSE, LayerKind.SOFTMAX]
    assert [n.kind for n in derive(core, QuantSpec(8, 1)).nodes][-1] is LayerKind.DENSE


def test_mean_over_nine_values_is_a_float_layer_truncated_toward_zero():
    from codesign.reference import hls_mean

    from .models import float_mean_cnn

    p = derive(float_mean_cnn(), QuantSpec(8, 0, False))["pool"]
    # act1 is fixed<6,3> (3 fraction bits); 9 values: 4 more integer bits for the sum, 4 more fraction bits
    assert (p.accum.to_hls(), p.result.to_hls(), p.float_layer) == ("fixed<14,7>", "fixed<10,3>", True)
    assert not derive(cnn(pool="avg"), QuantSpec(8, 0, False))["pool1"].float_layer
    # sums -10, -9, -8, 8, 10 (in LSBs of 1) over 9 values, at 2^-4: -17.8 -> -17, -16, -14.2 -> -14, 14, 17
    means = np.array([-10, -9, -8, 8, 10]) / 9
    assert hls_mean(means, 9, 1.0, 1 / 16).tolist() == [-17 / 16, -1.0, -14 / 16, 14 / 16, 17 / 16]


def test_tables_are_filled_as_hls4ml_cpp_fills_them(tmp_path):
    """codesign/tables.py against hls4ml's own init_sigmoid_table / init_tanh_table, compiled with g++: every
    entry of a 2^14-entry table, held in double so that a double tanh or sigmoid would show (it differs from
    the float one on almost every entry)."""
    import subprocess
    from pathlib import Path

    import hls4ml

    from codesign.tables import c_function

    templates = Path(hls4ml.__file__).parent / "templates" / "vivado"
    n = 2**14
    (tmp_path / "t.cpp").write_text(f"""
#include "ap_fixed.h"
#include "nnet_utils/nnet_activation.h"
#include <cstdio>
struct cfg {{ typedef double table_t; }};
int main() {{
  static double t[{n}], s[{n}];
  nnet::init_tanh_table<cfg, {n}>(t);
  nnet::init_sigmoid_table<cfg, {n}>(s);
  fwrite(t, sizeof(double), {n}, stdout);
  fwrite(s, sizeof(double), {n}, stdout);
}}
""")
    subprocess.run(["g++", "-O2", f"-I{templates / 'ap_types'}", f"-I{templates}", "t.cpp", "-o", "t"], cwd=tmp_path,
                   check=True)
    out = np.frombuffer(subprocess.run([str(tmp_path / "t")], capture_output=True, check=True).stdout, np.float64)
    i = np.arange(n)
    assert np.array_equal(out[:n], c_function("tanh", 8.0 * (i - n / 2) / n))
    assert np.array_equal(out[n:], c_function("sigmoid", 16.0 * (i - n / 2) / n))
    assert np.mean(out[:n] == np.tanh(8.0 * (i - n / 2) / n)) < 0.01
