"""Learned bit widths: the hardware term lowers them; the snapped QKeras model exports bit-exact."""

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from codesign.cli import app

pytestmark = pytest.mark.slow
DESIGN = Path(__file__).parent / "data" / "search_tiny.yaml"


def test_snap_keeps_the_step_and_qkeras_integer_bits():
    import tensorflow as tf

    from codesign.design import load_design
    from codesign.learned.layers import LearnedDense, LearnedReLU
    from codesign.learned.train import snap

    d = LearnedDense(4, name="fc1")
    d(tf.zeros((1, 3)))
    d.set_weights([np.zeros((3, 4)), np.zeros(4), np.float32(4.4), np.float32(-5.2), np.float32(1)])
    a = LearnedReLU(name="fc1_relu")
    a(tf.zeros((1, 4)))
    a.set_weights([np.float32(3.0), np.float32(-1.0)])
    q = snap([(d, a)], load_design(DESIGN)).quant_for("fc1")
    # weights: 4 bits of step 2^-5 -> integer -2 < 0, so 6 bits, integer 0 (same step, QKeras needs i >= 0)
    assert (q.weight_bits, q.weight_integer) == (6, 0)
    assert (q.activation_bits, q.activation_integer) == (3, 2)  # 8 levels of 0.5: [0, 4)
    x = tf.constant([[1.3, 0.2, -2.0, 9.0]])
    np.testing.assert_array_equal(a(x).numpy(), [[1.5, 0.0, 0.0, 3.5]])


def test_learn_cli_hardware_term_and_bit_exact_export(tmp_path):
    runner = CliRunner()
    bits = {}
    for beta in ("0", "1e-3"):
        res = runner.invoke(app, ["learn", str(DESIGN), "--beta", beta, "--epochs", "6", "--out", str(tmp_path / beta)])
        assert res.exit_code == 0, res.output
        out = json.loads((tmp_path / beta / "search_tiny" / "learned" / "results.json").read_text())
        assert out["validation"]["bit_exact_fraction"] == 1.0 and out["validation"]["testbench_bit_exact_fraction"] == 1.0
        bits[beta] = sum(v["weight_bits"] + v["activation_bits"] for v in out["layers"].values())
    assert bits["1e-3"] < bits["0"]
    res = runner.invoke(app, ["learn", str(DESIGN), "--schedule", "cosine"])
    assert res.exit_code == 2 and "--schedule: 'cosine'; allowed: linear, constant" in res.output
