"""hls4ml's distributed_arithmetic strategy: exported bit-exact (both C simulations), estimated per layer."""

import numpy as np
import pytest

from codesign.export import ExportOptions
from codesign.validate import verify

from . import models, zoo

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
def test_da_mlp_is_bit_exact_and_uses_the_da_template(tmp_path, io_type):
    opts = ExportOptions(strategy="distributed_arithmetic", io_type=io_type)
    result, _ = verify(models.mlp(), models.inputs((16,), n=200), opts, tmp_path / "prj")
    assert (result.bit_exact_fraction, result.testbench_bit_exact_fraction) == (1.0, 1.0)
    code = "".join(p.read_text() for p in (tmp_path / "prj_logits" / "firmware").rglob("*.h"))
    assert "dense_da_" in code  # hls4ml generated da4ml's adder graph, not nnet::dense


def test_da_conv_and_depthwise_fallback(tmp_path):
    model = zoo.depthwise_separable()
    opts = ExportOptions(strategy="distributed_arithmetic")
    result, _ = verify(model, zoo.inputs(model.input_shape[1:], signed=True), opts, tmp_path / "prj")
    assert (result.bit_exact_fraction, result.testbench_bit_exact_fraction) == (1.0, 1.0)
    notes = {layer["name"]: layer.get("notes", []) for layer in result.layers}
    assert notes["dw"] == ["Latency strategy: hls4ml's distributed arithmetic covers Dense and Conv1D/2D only"]


def test_da_estimate_has_no_dsp_and_solves_the_kernel():
    """Same weights at fewer bits: a cheaper adder graph; zero kernel: (almost) nothing."""
    from hw_models.da import estimate

    rng = np.random.default_rng(0)
    w6 = np.round(rng.normal(0, 0.4, (32, 16)) * 32) / 32
    w3 = np.round(w6 * 4) / 4
    six, three = estimate(w6, 1, 2, 5), estimate(w3, 1, 2, 5)
    assert three.lut < 0.7 * six.lut and six.lut_low < six.lut < six.lut_high
    assert estimate(np.zeros((32, 16)), 1, 2, 5).lut < 50
    # io_parallel conv: one adder graph per output position
    assert estimate(w6, 1, 2, 5, instances=9).lut == pytest.approx(9 * six.lut)


def test_a_kernel_larger_than_one_block_exports_split_and_bit_exact(tmp_path):
    """A 64 x 24 layer of 8-bit weights has more CSD digits than da4ml solves at once (hw_models.da.BLOCK_DIGITS):
    the export solves it in blocks, as `codesign synth` and the estimate do (hls4ml's own whole solve of such
    kernels runs for minutes; of a 784 x 64 one past 20 minutes and 18 GB). Any adder graph of the product is
    the same integer sum: both C simulations stay bit-exact."""
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    from hw_models.da import blocks

    models.seeded()
    inp = tf.keras.Input((64,), name="x")
    h = QDense(24, kernel_quantizer=quantized_bits(8, 0, alpha=1), bias_quantizer=quantized_bits(8, 2, alpha=1),
               name="fc1")(inp)
    h = QActivation(quantized_relu(6, 2), name="act1")(h)
    out = QDense(10, kernel_quantizer=quantized_bits(6, 0, alpha=1), name="fc2")(h)
    model = tf.keras.Model(inp, out)
    kernel = quantized_bits(8, 0, alpha=1)(model.get_layer("fc1").kernel).numpy()
    assert len(blocks(kernel)) > 1
    opts = ExportOptions(strategy="distributed_arithmetic")
    result, _ = verify(model, models.inputs((64,), n=200), opts, tmp_path / "prj")
    assert (result.bit_exact_fraction, result.testbench_bit_exact_fraction) == (1.0, 1.0)
