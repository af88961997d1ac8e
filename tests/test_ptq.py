"""PTQ calibration methods clip where theory says they should (the end-to-end PTQ tests: test_ptq_slow.py)."""

import numpy as np
import pytest

from codesign.ptq.calibration import clip_value, integer_bits, kl, mean_ksigma, minmax, mse, percentile


def test_minmax_percentile_ksigma_on_constructed_data():
    rng = np.random.default_rng(0)
    u = rng.uniform(0, 4, 100_000)
    assert minmax(u) == pytest.approx(4.0, abs=1e-3) and integer_bits(minmax(u)) == 2
    g = np.abs(rng.normal(0, 1, 200_000))
    assert percentile(g, 99.0) == pytest.approx(2.576, abs=0.03)    # |N(0,1)| 99th percentile
    assert mean_ksigma(g, 3.0) == pytest.approx(np.sqrt(2 / np.pi) + 3 * np.sqrt(1 - 2 / np.pi), abs=0.02)


def test_mse_and_kl_clip_heavy_tails():
    rng = np.random.default_rng(1)
    x = np.abs(rng.laplace(0, 1, 100_000))     # heavy tail: max about 12
    top = minmax(x)
    # ACIQ (Banner et al. 2019): the MSE-optimal clip of a Laplace(b=1) with 32 levels on [-a, a] is about 6.2
    assert 4.5 < mse(x, bits=4) < 7.5 < top
    assert kl(x, bits=4) < 0.8 * top
    bulk = rng.uniform(0, 1, 50_000)
    assert mse(bulk, bits=8) == pytest.approx(1.0, abs=0.02)        # nothing to clip: range kept
    with pytest.raises(ValueError, match="unknown calibration method 'foo'"):
        clip_value(x, "foo", 8)
