"""codesign synth parts that need no Yosys/Verilator: RND_CONV in RTL, the typed graph as da4ml logic, Yosys logs."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, seed, settings

from codesign import fuzz
from codesign.spec import QuantSpec

da4ml = pytest.importorskip("da4ml")

YOSYS_STAT = """
7. Printing statistics.

=== net ===

   Number of wires:               5642
   Number of cells:               9601
     CARRY4                       1733
     FDRE                          120
     IBUF                          208
     INV                           718
     LUT2                         4681
     LUT3                          844
     LUT6                          606
     MUXF7                          47
     OBUF                           72

"""


def _evaluate(spec_in: QuantSpec, spec_out: QuantSpec) -> tuple[np.ndarray, np.ndarray]:
    """Every value of spec_in cast to spec_out by the RTL cast (da4ml's own evaluation of the logic)."""
    from da4ml.trace import FixedVariableArrayInput, comb_trace

    from codesign.rtl.network import cast

    values = np.arange(-2 ** (spec_in.width - 1), 2 ** (spec_in.width - 1)) * spec_in.lsb
    inp = FixedVariableArrayInput((1,))
    out = cast(cast(inp, spec_in, "input"), spec_out, "test")
    logic = comb_trace(inp, out)
    return values, np.array([logic([v])[0] for v in values], dtype=np.float64)


@pytest.mark.parametrize("bits, integer, symmetric", [(6, 2, False), (4, 0, False), (5, 1, True), (3, 2, False)])
def test_rtl_cast_rounds_and_saturates_as_qkeras_quantized_bits(bits, integer, symmetric):
    """Ties to even (tf.round), clipping (symmetric too): judged by QKeras itself, on every 10-bit input."""
    import tensorflow as tf
    from qkeras import quantized_bits

    from codesign.quantizers import activation_spec

    q = quantized_bits(bits, integer, alpha=1, symmetric=symmetric)
    values, got = _evaluate(QuantSpec(10, 4), activation_spec(q, "test"))
    want = np.asarray(q(tf.constant(values, tf.float32)), np.float64)
    assert np.array_equal(got, want)


def test_rtl_cast_of_quantized_relu_matches_qkeras():
    import tensorflow as tf
    from qkeras import quantized_relu

    from codesign.quantizers import activation_spec

    q = quantized_relu(4, 1)
    values, got = _evaluate(QuantSpec(9, 3), activation_spec(q, "test"))
    assert np.array_equal(got, np.asarray(q(tf.constant(values, tf.float32)), np.float64))
    assert got.min() == 0.0 and got.max() == 2 - 2 ** -3


def test_rnd_conv_ties_go_to_even():
    values, got = _evaluate(QuantSpec(6, 4), QuantSpec(4, 4, True, "RND_CONV", "WRAP"))
    ties = {-2.5: -2.0, -1.5: -2.0, -0.5: 0.0, 0.5: 0.0, 1.5: 2.0, 2.5: 2.0, 3.5: 4.0}
    assert {v: got[list(values).index(v)] for v in ties} == ties


def test_constants_round_half_to_even_too():
    """A zero kernel column makes a constant; da4ml 0.5.2 folds the unsigned bit extraction of a negative
    constant wrongly (-0.125 -> -0.25), which made leaky quantized_relu outputs 0.25 off."""
    from da4ml.trace import FixedVariable, FixedVariableArray, FixedVariableArrayInput, comb_trace

    from codesign.rtl.network import cast

    inp = FixedVariableArrayInput((1,))
    consts = [FixedVariable.from_const(v, hwconf=inp._vars[0].hwconf, _factor=1) for v in (-0.125, -0.375, 0.125)]
    arr = FixedVariableArray(np.array(consts, dtype=object), inp.solver_options)
    out = cast(arr, QuantSpec(4, 2, True, "RND_CONV", "SAT"), "test")
    got = np.asarray(comb_trace(inp, out).predict(np.zeros((1, 1))), np.float64).ravel()
    assert got.tolist() == [0.0, -0.5, 0.0]  # ties on the 0.25 grid go to the even neighbour


def test_unsupported_rounding_is_refused_in_one_line():
    from da4ml.trace import FixedVariableArrayInput

    from codesign.errors import CodesignError
    from codesign.rtl.network import cast

    with pytest.raises(CodesignError, match=r"^layer 'x': type fixed<4,2,RND_ZERO,SAT>: RTL is built for rounding"):
        cast(FixedVariableArrayInput((2,)), QuantSpec(4, 2, True, "RND_ZERO", "SAT"), "layer 'x'")


def test_da4ml_constants_take_as_many_fraction_bits_as_they_need():
    """da4ml 0.5.2 searched f in (-32, 32] only; the tracer's constants are unscaled (value / _factor) and reach
    2^45 after two float BatchNormalizations, or need more than 32 fraction bits."""
    from hw_models.da4ml_fixes import exact_const_f

    assert [exact_const_f(v) for v in (0.0, 1.0, 0.75, -3.0, 12.0)] == [0, 0, 2, 0, -2]
    assert exact_const_f(-127 * 2.0**34) == -34 and exact_const_f(2.0**-40) == 40 and exact_const_f(0.1) == 55


@seed(20261204)
@settings(max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(spec=fuzz.bn_chain_specs())
def test_float_batchnorm_chains_are_exact_in_the_compiled_logic(spec):
    """QDense -> float BatchNormalization -> quantized activation, 2-3 times (../shared/repro/rtl_bn_chain): the
    saturating cast after the second product compared a constant on a finer grid than its mux, and the
    generated Verilog (like da4ml's C++ interpreter) wrapped; every draw of this property was wrong before."""
    outcome = fuzz.run_rtl(spec)
    assert outcome.outcome == "exact", fuzz.reproducer(outcome)


def test_da4ml_ranges_keep_every_digit_of_tiny_factors():
    """After three float BatchNormalizations the tracer's _factor is 2^-73, 52 decimal digits: in Decimal's
    default 28-digit context it was rounded, the saturation bound of quantized_sigmoid fell off its grid, and
    0.6% of this model's outputs were 63/64 where QKeras gives 62/64 (a draw of tests/zoo.py bn_chain)."""
    from pathlib import Path

    from da4ml.trace import comb_trace

    from codesign.lower import lower
    from codesign.modelio import load_model
    from codesign.precision import derive
    from codesign.reference import ExactReference
    from codesign.rtl.network import build
    from codesign.validate import derive_input_spec

    data = Path(__file__).parent / "data"
    model = load_model(data / "bn_chain_decimal.h5")
    x = np.load(data / "bn_chain_decimal_x.npy")
    lowered = lower(model)
    spec = derive_input_spec(x, lowered)
    graph = derive(lowered, spec)
    xq = spec.quantize(x)
    want = ExactReference(graph).outputs(xq)
    got = np.asarray(comb_trace(*build(graph)).predict(xq), np.float64).reshape(want.shape)
    assert np.array_equal(got, want)


def test_yosys_statistics_are_read_from_the_log():
    from codesign.rtl.yosys import parse_stat

    cells = parse_stat(YOSYS_STAT)
    assert cells["CARRY4"] == 1733 and cells["LUT2"] == 4681 and cells["OBUF"] == 72 and len(cells) == 9


def test_yosys_family_of_each_part():
    from hw_models import load_part

    assert load_part("xc7z020-clg400-1").yosys_family == "xc7"
    assert load_part("xcku115-flvb2104-2-i").yosys_family == "xcu"
    assert load_part("xcvu13p-flga2577-2-e").yosys_family == "xcup"
    assert load_part("xczu9eg-ffvb1156-2-e").yosys_family == "xcup"


def test_stream_plan_of_a_cnn():
    """io_stream as hls4ml builds it: one kernel per layer with its fused activation, called once per output
    pixel; Flatten is wiring; the line buffers hold kernel_h - 1 rows of the layer's input."""
    from codesign.lower import lower
    from codesign.precision import derive
    from codesign.rtl.stream import plan

    from . import models

    stages = plan(derive(lower(models.cnn()), QuantSpec(9, 1, False)))  # 8x8x1 image -> conv 3x3 -> pool 2
    assert [(s.layers, s.calls, s.wiring) for s in stages] == [
        (["conv1", "relu1"], 36, False), (["pool1"], 9, False), (["flat"], 1, True), (["out"], 1, False)]
    assert [s.inputs for s in stages] == [[("img", (3, 3, 1))], [("relu1", (2, 2, 4))], [("pool1", (3, 3, 4))],
                                          [("flat", (36,))]]
    # conv1: 2 rows x 8 pixels x 1 channel x 9 bits; pool1: 1 row x 6 pixels x 4 channels x 6 bits (relu1)
    assert [s.line_buffer_bits for s in stages] == [144, 144, 0, 0]


def test_a_float_mean_is_refused_before_tracing(tmp_path):
    """The RTL builder has no division: a mean of 9 values is refused in one line, before da4ml or Yosys run."""
    from codesign.errors import CodesignError
    from codesign.rtl.synth import synth

    from .models import float_mean_cnn, inputs

    model = float_mean_cnn()
    with pytest.raises(CodesignError, match=r"^layer 'pool' \(AveragePooling2D\): averages 9 values, not a power of "
                                            r"two; the RTL builder averages 2, 4, 8, ... values; its hls4ml C model "
                                            r"is proven by `codesign validate --accept-float-layers`$"):
        synth(model, inputs(model.input_shape[1:]), tmp_path / "rtl")
    assert not (tmp_path / "rtl").exists()
