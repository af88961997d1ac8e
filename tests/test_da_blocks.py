"""Large kernels split into blocks (hw_models.da): the same exact product, and the cost of what is built."""

import numpy as np
import pytest

da4ml = pytest.importorskip("da4ml")

from hw_models import da  # noqa: E402


def _kernel(rows: int, cols: int, bits: int = 8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scale = 2.0 ** (bits - 1)
    return np.clip(np.round(rng.normal(0, 0.35, (rows, cols)) * scale), -scale, scale - 1) / scale


def test_csd_digits_of_weights_at_any_scale():
    # 3 = 4 - 1, 7 = 8 - 1, 0.75 = 1 - 1/4, -0.375 = -(1/2 - 1/8), 11 = 8 + 4 - 1 (NAF 10(-1)0(-1)... = 16-4-1)
    values = [0.0, 1.0, 3.0, 7.0, 0.75, -0.375, 2.0 ** -9, 11.0, 85.0]
    assert da.kernel_digits(np.array(values)).tolist() == [0, 1, 2, 2, 2, 2, 1, 3, 4]


def test_a_small_kernel_is_solved_whole():
    w = _kernel(32, 16, bits=4)
    assert da.blocks(w) == [(slice(0, 32), slice(0, 16))]


def test_blocks_cover_the_kernel_once(monkeypatch):
    monkeypatch.setattr(da, "BLOCK_DIGITS", 300)
    monkeypatch.setattr(da, "BLOCK_COLS", 10)
    w = _kernel(50, 24)
    parts = da.blocks(w)
    hits = np.zeros(w.shape, int)
    for r, c in parts:
        hits[r, c] += 1
        assert c.stop - c.start <= 10
    assert (hits == 1).all() and len(parts) > 3
    assert max(da.kernel_digits(w[r, c]).sum() for r, c in parts) < 2 * 300


def test_split_product_is_exact_and_costs_what_is_built(monkeypatch):
    """The split adder graph computes x @ W exactly (da4ml's own evaluation), and `solve` (the estimator)
    costs the very graph the RTL builder's `matmul` makes."""
    from da4ml.trace import FixedVariableArrayInput, comb_trace

    monkeypatch.setattr(da, "BLOCK_DIGITS", 300)
    monkeypatch.setattr(da, "BLOCK_COLS", 10)
    w = _kernel(40, 24)
    assert len(da.blocks(w)) > 3
    inp = FixedVariableArrayInput((40,), solver_options=da.SOLVER_OPTIONS)
    x = inp.quantize(np.zeros(40, int), np.full(40, 2), np.full(40, 4))  # unsigned fixed<6,2>
    logic = comb_trace(inp, da.matmul(x, w))
    xs = np.random.default_rng(1).integers(0, 64, (50, 40)) / 16.0
    assert np.array_equal(np.asarray(logic.predict(xs), np.float64), xs @ w)
    assert da.solve(w, 0, 2, 4).cost == pytest.approx(logic.cost)
    whole = da.solve(w, 0, 2, 4)
    monkeypatch.setattr(da, "BLOCK_DIGITS", 10 ** 9)
    assert da.solve(w, 0, 2, 4).cost < whole.cost  # what splitting gives up: shared subexpressions
