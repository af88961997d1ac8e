"""Pruning (codesign/prune.py) and the search's sparsity axis and successive halving, without a search run."""

from types import SimpleNamespace

import numpy as np
import pytest

from codesign.design import load_design
from codesign.errors import CodesignError
from codesign.prune import magnitude_mask, pruned, ramp
from codesign.search.runner import promote
from codesign.search.space import SearchSettings, SearchSpace, build_space, search_settings
from codesign.search.strategies import greedy_path, uniform_corners


def test_mask_zeroes_exactly_the_smallest_magnitudes():
    kernel = np.array([[0.5, -0.1, 0.3], [-0.7, 0.2, -0.05]], np.float32)
    assert magnitude_mask(kernel, 0.5).tolist() == [[1, 0, 1], [1, 0, 0]]
    assert np.array_equal(pruned(kernel, 0.5), np.array([[0.5, 0, 0.3], [-0.7, 0, 0]], np.float32))
    assert magnitude_mask(kernel, 0.0).sum() == 6 and magnitude_mask(kernel, 0.99).sum() == 0  # round(5.94) = 6
    ties = np.array([0.1, -0.1, 0.1, 0.2])  # equal magnitudes: the earlier ones go first
    assert magnitude_mask(ties, 0.5).tolist() == [0, 0, 1, 1]


def test_ramp_reaches_the_target_by_the_middle_epoch_and_only_grows():
    for epochs in (1, 2, 4, 7):
        values = [ramp(0.8, e, epochs) for e in range(epochs)]
        assert values == sorted(values) and values[-1] == pytest.approx(0.8)
        assert all(v == pytest.approx(0.8) for v in values[(epochs - 1) // 2:]), (epochs, values)
        assert all(0 < v < 0.8 for v in values[:(epochs - 1) // 2]), (epochs, values)
    assert ramp(0.8, 0, 0) == pytest.approx(0.8)  # no ramp: at the target from the start


def test_fit_keeps_exact_zeros_that_the_quantizer_keeps():
    import tensorflow as tf
    from qkeras import QDense, quantized_bits

    from codesign.data import Split
    from codesign.design import Training
    from codesign.train import fit

    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 12)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int)
    inp = tf.keras.Input((12,))
    out = QDense(2, name="d", kernel_quantizer=quantized_bits(4, 0, alpha=1), bias_quantizer=quantized_bits(8, 2))(inp)
    model = tf.keras.Model(inp, out)
    fit(model, Split(x, y, x, y, None, 2), Training(epochs=3, batch_size=32), "t", sparsity={"d": 0.75})
    layer = model.get_layer("d")
    kernel = layer.kernel.numpy()
    assert int(np.sum(kernel == 0)) == 18  # round(0.75 x 24), after every optimizer step of the last epoch
    q = np.asarray(layer.kernel_quantizer_internal(layer.kernel))
    assert np.all(q[kernel == 0] == 0)


def test_design_sparsity_is_read_and_checked(tmp_path):
    base = (tmp_path / "d.yaml")
    text = ("name: d\ndata: {name: digits}\nmodel: {builder: mlp, hidden: [8]}\n"
            "quantization: {layers: {fc1: {sparsity: %s}}}\ntarget: {part: xcvu13p-flga2577-2-e}\n")
    base.write_text(text % "0.75")
    assert load_design(base).quant_for("fc1").sparsity == 0.75 and load_design(base).quant_for("logits").sparsity == 0
    base.write_text(text % "1.0")
    with pytest.raises(CodesignError, match=r"d.yaml: quantization.layers.fc1.sparsity: 1.0 out of range; "
                                            r"allowed: 0.0..0.99"):
        load_design(base)


def test_sparsity_axis_orders_unpruned_first():
    s = search_settings("d.yaml", {"space": {"sparsity": [0.9, 0, 0.5]}}, {})
    space = build_space(s, "d.yaml", ["a", "b"], ["a"])
    assert space.params()["a.s"] == (0.0, 0.5, 0.9) and "b.s" in space.params()
    assert space.top()["a.s"] == 0.0 and space.bottom()["a.s"] == 0.9
    assert space.top()["a.w"] == 8 and space.bottom()["a.w"] == 2
    with pytest.raises(CodesignError, match=r"search.space.sparsity: \[0.5, 1\]; allowed: a non-empty list of "
                                            r"fractions in 0.0..0.99"):
        build_space(search_settings("d.yaml", {"space": {"sparsity": [0.5, 1]}}, {}), "d.yaml", ["a"], [])
    unpruned = build_space(search_settings("d.yaml", {}, {}), "d.yaml", ["a"], [])
    assert "a.s" not in unpruned.params()  # one choice: not a knob


def test_greedy_path_and_corners_walk_the_sparsity_axis():
    space = SearchSpace(layers=("a",), weight_bits=(4, 8), activation_bits=(8,), sparsity=(0.0, 0.5, 0.9))
    lut = lambda p: {"lut": p["a.w"] * 100 * (1 - p["a.s"]), "dsp": 0.0}  # noqa: E731
    path = greedy_path(space, {}, lut)
    assert path[0] == {"a.w": 8, "a.s": 0.0} and path[-1] == {"a.w": 4, "a.s": 0.9} and len(path) == 4
    assert uniform_corners(space) == [{"a.w": w, "a.s": s} for w in (8, 4) for s in (0.0, 0.5, 0.9)]


def test_halving_rungs_and_settings():
    rungs = lambda h, e: SearchSettings(finetune_epochs=e, halving=h).rungs()  # noqa: E731
    assert rungs(None, 4) == [4]
    assert rungs({"min_epochs": 1, "eta": 4}, 4) == [1, 4]
    assert rungs({"min_epochs": 1, "eta": 2}, 8) == [1, 2, 4, 8]
    assert rungs({"min_epochs": 2, "eta": 3}, 8) == [2, 6, 8]
    with pytest.raises(CodesignError, match=r"search.halving.min_epochs: 4; allowed: fewer than finetune_epochs \(4\)"):
        search_settings("d.yaml", {"finetune_epochs": 4, "halving": {"min_epochs": 4}}, {})
    with pytest.raises(CodesignError, match=r"search.halving.eta: 1; allowed: an integer >= 2"):
        search_settings("d.yaml", {"finetune_epochs": 4, "halving": {"eta": 1}}, {})
    with pytest.raises(CodesignError, match=r"search.halving: \{'rungs': 3\}; allowed: a mapping with min_epochs, eta"):
        search_settings("d.yaml", {"halving": {"rungs": 3}}, {})
    with pytest.raises(CodesignError, match=r"search.halving: not with algorithm descent"):
        search_settings("d.yaml", {"algorithm": "descent", "finetune_epochs": 4, "halving": {"min_epochs": 1}}, {})
    with pytest.raises(CodesignError, match=r"search.finetune_epochs: 0; allowed with algorithm descent: an integer >= 1"):
        search_settings("d.yaml", {"algorithm": "descent", "finetune_epochs": 0}, {})
    with pytest.raises(CodesignError, match=r"^d.yaml: search.floor: 0.9; allowed with algorithm descent only"):
        search_settings("d.yaml", {"algorithm": "nsga2", "floor": 0.9}, {})
    with pytest.raises(CodesignError, match=r"^d.yaml: search.floor: 'high'; allowed: a number >= 0, the validation "
                                            r"accuracy \(MSE for regression and autoencoders\) every step keeps$"):
        search_settings("d.yaml", {"algorithm": "descent", "floor": "high"}, {})
    assert search_settings("d.yaml", {"algorithm": "descent", "floor": 0.9}, {}).floor == 0.9
    with pytest.raises(CodesignError, match=r"^d.yaml: search.targets: \[0.95\]; allowed: with a floor only"):
        search_settings("d.yaml", {"algorithm": "descent", "targets": [0.95]}, {})
    with pytest.raises(CodesignError, match=r"^d.yaml: search.targets: 0.95; allowed: a list of numbers >= 0"):
        search_settings("d.yaml", {"algorithm": "descent", "floor": 0.9, "targets": 0.95}, {})
    assert search_settings("d.yaml", {"algorithm": "descent", "floor": 0.9, "targets": [0.95, 0.96]}, {}).targets == \
        [0.95, 0.96]


class _Trial(SimpleNamespace):
    def set_user_attr(self, key, value):
        self.user_attrs[key] = value


def test_halving_stops_a_trial_that_cheaper_trials_beat():
    """At a rung, a trial trains on only when it is among the best 1/eta of the trials that cost no more."""
    scored = [_Trial(number=i, user_attrs={"planned_lut_equivalent": c, "rung_0": s})
              for i, (c, s) in enumerate([(100, 0.90), (200, 0.95), (300, 0.80), (400, 0.70)])]
    study = SimpleNamespace(get_trials=lambda deepcopy=False: scored + [new])
    ctx = SimpleNamespace(settings=SearchSettings(finetune_epochs=4, halving={"min_epochs": 1, "eta": 2}))
    new = _Trial(number=9, user_attrs={"planned_lut_equivalent": 50})
    assert promote(ctx, study, new, 0, 0.10)               # the cheapest trains on, however it scores
    new = _Trial(number=9, user_attrs={"planned_lut_equivalent": 500})
    assert promote(ctx, study, new, 0, 0.91)               # 1 of the 4 no costlier beats it: 1 < 5 / 2
    new = _Trial(number=9, user_attrs={"planned_lut_equivalent": 500})
    assert not promote(ctx, study, new, 0, 0.75)           # 3 of 4 beat it
    assert new.user_attrs["rung_0"] == 0.75                # its score is kept for the trials after it
    new = _Trial(number=9, user_attrs={"planned_lut_equivalent": 250})
    assert not promote(ctx, study, new, 0, 0.85)           # 2 of the 2 no costlier beat it: not < 3 / 2

