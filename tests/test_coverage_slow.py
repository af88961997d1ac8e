"""Every supported quantizer and layer kind, bit-exact both ways (compile()+predict() and the g++ test bench)."""

import numpy as np
import pytest

from codesign.errors import CodesignError
from codesign.export import ExportOptions, check_resolved_types, convert
from codesign.precision import derive
from codesign.spec import QuantSpec
from codesign.validate import verify

from . import zoo

pytestmark = pytest.mark.slow

CASES = [  # (builder, io_type, strategy, reuse factor)
    ("public_po2", "io_parallel", "Latency", 1),
    ("public_po2", "io_parallel", "Resource", 2),
    ("odd_grids", "io_parallel", "Latency", 1),
    ("binary_ternary", "io_parallel", "Resource", 4),
    ("binary_ternary", "io_parallel", "Latency", 1),
    ("float_weights", "io_parallel", "Latency", 1),
    ("depthwise_separable", "io_parallel", "Latency", 1),
    ("depthwise_separable", "io_parallel", "Resource", 2),
    ("depthwise_separable", "io_stream", "Latency", 1),
    ("resnet", "io_parallel", "Latency", 1),
    ("resnet", "io_stream", "Latency", 1),
    ("reshaping", "io_parallel", "Latency", 1),
    ("reshaping", "io_stream", "Resource", 2),
    ("conv1d_separable", "io_parallel", "Latency", 1),
    ("conv1d_separable", "io_stream", "Latency", 1),
    ("sign_sigmoid", "io_parallel", "Latency", 1),
    ("sign_sigmoid", "io_stream", "Resource", 2),
    ("folded_batchnorm", "io_parallel", "Latency", 1),
    ("folded_batchnorm", "io_stream", "Latency", 1),
    ("composite_activations", "io_parallel", "Latency", 1),
    ("composite_activations", "io_parallel", "Resource", 2),
    ("composite_activations", "io_stream", "Latency", 1),
    ("bn_chain", "io_parallel", "Latency", 1),
    ("bn_chain", "io_parallel", "Resource", 2),
]


@pytest.mark.parametrize("case, io_type, strategy, rf", CASES, ids=[f"{c}-{i}-{s}-rf{r}" for c, i, s, r in CASES])
def test_bit_exact(tmp_path, case, io_type, strategy, rf):
    model = getattr(zoo, case)()
    x = zoo.inputs(model.input_shape[1:], signed=True)
    opts = ExportOptions(io_type=io_type, strategy=strategy, reuse_factor=rf)
    result, _ = verify(model, x, opts, tmp_path / "prj", name=case)
    assert (result.bit_exact_fraction, result.testbench_bit_exact_fraction) == (1.0, 1.0)
    assert result.max_abs_diff == 0.0 and result.first_mismatch_layer is None
    assert result.inexact_reference_layers == []
    if case == "depthwise_separable" and strategy == "Resource" and io_type == "io_parallel":
        notes = {layer["name"]: layer.get("notes", []) for layer in result.layers}
        assert any(n.startswith("Latency strategy: hls4ml's io_parallel depthwise") for n in notes["dw"])


def test_public_po2_saturates_and_hits_zero_weights():
    """The case hls4ml's own po2 product truncates: 2-bit inputs times the 2^-8 that po2 makes of 0.0."""
    import tensorflow as tf

    model = zoo.public_po2()
    x = zoo.inputs((16,), signed=True)
    relu = tf.keras.Model(model.inputs, model.get_layer("in_relu").output).predict(x, verbose=0)
    assert set(np.unique(relu)) == {0.0, 0.25, 0.5, 0.75}  # 2-bit inputs, saturating at 0.75
    w = derive(model, QuantSpec(16, 4)).lowered.weights["fc1"].kernel
    assert np.sum(w == 2.0**-8) > 0


def test_resolved_type_mismatch_is_named(tmp_path):
    graph = derive(zoo.public_po2(), QuantSpec(12, 4))
    hls_model = convert(graph, ExportOptions(), tmp_path / "prj")
    check_resolved_types(hls_model, graph.nodes)
    derived_bias, graph["fc1"].bias = graph["fc1"].bias, QuantSpec(8, 3)
    with pytest.raises(CodesignError, match=r"layer 'fc1': hls4ml resolved its bias type as fixed<2,1>, codesign "
                                            r"derived fixed<8,3>"):
        check_resolved_types(hls_model, graph.nodes)
    graph["fc1"].bias = derived_bias
    graph["softmax"].accum = None
    with pytest.raises(CodesignError, match=r"layer 'softmax': hls4ml uses the accum type fixed<24,12>, which "
                                            r"codesign's typed graph does not decide"):
        check_resolved_types(hls_model, graph.nodes)
    with pytest.raises(CodesignError, match=r"hls4ml layer 'relu1' \(Activation\) has no node in codesign's typed"):
        check_resolved_types(hls_model, [n for n in graph.nodes if n.name != "relu1"])


def test_sign_of_exact_zero_is_plus_one():
    """fc1's first six units see exactly 0 on the zero input rows: QKeras and hls4ml both give +1."""
    import tensorflow as tf

    model = zoo.sign_sigmoid()
    x = zoo.inputs((10,), signed=True)[-4:]
    pre = tf.keras.Model(model.inputs, model.get_layer("fc1").output).predict(x, verbose=0)
    sign = tf.keras.Model(model.inputs, model.get_layer("sign1").output).predict(x, verbose=0)
    assert np.all(pre[:, :6] == 0) and np.all(sign[:, :6] == 1)


def test_folded_batchnorm_lowers_to_the_inference_function():
    model = zoo.folded_batchnorm()
    x = zoo.inputs((6, 6, 2), n=40, signed=True)
    graph = derive(model, QuantSpec(12, 4))
    np.testing.assert_array_equal(graph.keras_model.predict(x, verbose=0), model.predict(x, verbose=0))
    assert graph["convbn"].class_name == "Conv2D" and graph["qbn"].class_name == "BatchNormalization"
