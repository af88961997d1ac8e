"""Search building blocks without training: budget/space parsing, greedy path, ILP plans, Pareto."""

import itertools

import pytest

from codesign.errors import CodesignError
from codesign.search.results import pareto
from codesign.search.space import Budget, SearchSpace, parse_budget, search_settings
from codesign.search.strategies import greedy_path, ilp_plans, lut_equivalent
from hw_models import load_part

PART = load_part("xcvu13p-flga2577-2-e")


def test_budget_fractions_counts_and_time():
    b = parse_budget("lut=0.3,dsp=100,latency=250ns", PART, 5.0, "--budget")
    assert b == Budget(lut=0.3 * 1728000, dsp=100.0, latency_cycles=50.0)
    assert parse_budget({"bram": 0.5, "latency": 12}, PART, 5.0, "x").limits() == {"bram_18k": 2688.0,
                                                                                  "latency_cycles": 12.0}
    assert b.violations({"lut": 1, "dsp": 101, "latency_cycles": 50, "ff": 0, "bram_18k": 0}) == {"dsp": (101, 100.0)}


@pytest.mark.parametrize("spec,message", [
    ("luts=0.3", "--budget.luts: unknown budget key; allowed: lut, ff, dsp, bram, latency"),
    ("lut=lots", "--budget.lut: 'lots'; allowed: a fraction <= 1 of the part, a count > 1"),
    ("dsp=5ns", "--budget.dsp: '5ns'; allowed: a fraction <= 1 of the part, a count > 1"),
    ("lut", "--budget: 'lut': expected key=value"),
])
def test_bad_budget(spec, message):
    with pytest.raises(CodesignError, match=message.replace(".", r"\.").replace("(", r"\(")):
        parse_budget(spec, PART, 5.0, "--budget")


def test_bad_search_settings():
    with pytest.raises(CodesignError, match=r"d.yaml: search.algorithm: 'anneal'; allowed: greedy, ilp, nsga2, random"):
        search_settings("d.yaml", {"algorithm": "anneal"}, {})
    with pytest.raises(CodesignError, match=r"^--algorithm: 'anneal'; allowed: greedy, ilp, nsga2, random, descent$"):
        search_settings("d.yaml", {}, {"algorithm": "anneal"})
    with pytest.raises(CodesignError, match=r"^d.yaml: search.strategy: renamed d.yaml: search.algorithm \(greedy, ilp, "
                                            r"nsga2, random, descent\); the hls4ml strategy is target.strategy$"):
        search_settings("d.yaml", {"strategy": "nsga2"}, {})
    with pytest.raises(CodesignError, match=r"search: unknown field\(s\) \['trails'\]"):
        search_settings("d.yaml", {"trails": 3}, {})
    with pytest.raises(CodesignError, match=r"search.trials: 0; allowed: an integer >= 1"):
        search_settings("d.yaml", {}, {"trials": 0})
    assert search_settings("d.yaml", {"algorithm": "ilp"}, {"algorithm": "greedy"}).algorithm == "greedy"
    with pytest.raises(CodesignError, match=r"^--budget-on: 'p95'; allowed: upper, estimate"):
        search_settings("d.yaml", {}, {"budget_on": "p95"})
    with pytest.raises(CodesignError, match=r"d.yaml: search.budget_on: 'p95'; allowed: upper, estimate"):
        search_settings("d.yaml", {"budget_on": "p95"}, {})
    assert search_settings("d.yaml", {}, {}).budget_on == "upper"


SPACE = SearchSpace(layers=("a", "b"), weight_bits=(2, 4, 8), activation_bits=(4, 8), activation_layers=("a",))
WEIGHT = {"a.w": 10.0, "b.w": 1.0, "a.a": 3.0}           # LUT per bit of each knob
SENS = {("a.w", 2): 0.5, ("a.w", 4): 0.1, ("b.w", 2): 0.05, ("b.w", 4): 0.01, ("a.a", 4): 0.2}


def cost(p):
    lut = sum(WEIGHT[k] * v for k, v in p.items())
    return {"lut": lut, "ff": 0.0, "dsp": 0.0, "bram_18k": 0.0, "latency_cycles": 5.0}


def test_greedy_lowers_best_ratio_first():
    path = greedy_path(SPACE, SENS, cost)
    assert path[0] == {"a.w": 8, "b.w": 8, "a.a": 8} and path[-1] == {"a.w": 2, "b.w": 2, "a.a": 4}
    assert len(path) == 1 + 2 + 2 + 1
    # first step: a.w 8->4 saves 40 LUT for 0.1 loss (0.0025/LUT); b.w saves 4 for 0.01; a.a saves 12 for 0.2
    assert path[1] == {"a.w": 4, "b.w": 8, "a.a": 8}
    for before, after in zip(path, path[1:]):
        assert sum(before[k] != after[k] for k in before) == 1


def test_the_greedy_path_lowers_widths_and_leaves_integer_cuts_at_zero():
    """A cut saves no cost alone: on a path ranked by loss per cost saved it would be taken first (a free step)
    and every narrow seed would carry every cut; the cuts ride with widths in the descent only."""
    space = SearchSpace(layers=("a", "b"), weight_bits=(2, 4, 8), activation_bits=(4, 8), activation_layers=("a",),
                        integer_cuts=(0, 1))
    assert space.widths() == ["a.w", "b.w", "a.a"]
    assert set(space.params()) - set(space.widths()) == {"a.wc", "b.wc", "a.ac"}
    path = greedy_path(space, SENS, lambda p: cost({k: v for k, v in p.items() if k in WEIGHT}))
    assert [{k: v for k, v in p.items() if k in WEIGHT} for p in path] == greedy_path(SPACE, SENS, cost)
    assert all(p["a.wc"] == p["b.wc"] == p["a.ac"] == 0 for p in path)


def test_ilp_plans_fit_the_budget_and_minimise_sensitivity():
    budget = Budget(lut=80.0)
    plans = ilp_plans(SPACE, SENS, cost, budget, 4)
    assert plans and len(plans) == len({tuple(sorted(p.items())) for p in plans})
    assert all(cost(p)["lut"] <= 80.0 for p in plans)
    feasible = [dict(zip(("a.w", "b.w", "a.a"), c)) for c in itertools.product((2, 4, 8), (2, 4, 8), (4, 8))
                if cost(dict(zip(("a.w", "b.w", "a.a"), c)))["lut"] <= 80.0]
    best = min(sum(SENS.get((k, v), 0.0) for k, v in p.items()) for p in feasible)
    assert sum(SENS.get((k, v), 0.0) for k, v in plans[0].items()) == pytest.approx(best)


def test_pareto_front_and_lut_equivalent():
    rows = [{"state": "COMPLETE", "val_score": a, "lut_equivalent": c, "number": i}
            for i, (a, c) in enumerate([(0.9, 100), (0.95, 200), (0.93, 300), (0.97, 400), (0.99, 50)])]
    rows.append({"state": "PRUNED", "val_score": "", "lut_equivalent": 10, "number": 9})
    assert [r["number"] for r in pareto(rows, "lut_equivalent")] == [4]
    rows[4]["val_score"] = 0.5
    assert [r["number"] for r in pareto(rows, "lut_equivalent")] == [4, 0, 1, 3]
    assert lut_equivalent({"lut": 1000, "dsp": 2}) == 1110


def test_feasibility_tries_every_reuse_factor(monkeypatch):
    """A DSP budget only a larger reuse factor meets is feasible; limits no single candidate meets together are
    not, and the message says so."""
    from types import SimpleNamespace

    from codesign.search import run

    def cost(ctx, params):  # a stand-in cost model: DSPs shared over the reuse factor, latency grows with it
        rf = params["reuse_factor"]
        return SimpleNamespace(total={"lut": 10.0, "ff": 0.0, "dsp": 100.0 / rf, "bram_18k": 0.0,
                                      "latency_cycles": float(rf), "ii": float(rf)})

    monkeypatch.setattr(run, "candidate_cost", cost)
    space = SearchSpace(layers=("fc1",), weight_bits=(2, 4), activation_bits=(3,), reuse_factors=(1, 2, 4))
    run.check_feasible(SimpleNamespace(space=space, budget=parse_budget("dsp=30", PART, 5.0, "b")))
    with pytest.raises(CodesignError, match="need at least no single candidate meets every limit at once"):
        run.check_feasible(SimpleNamespace(space=space, budget=parse_budget("dsp=30,latency=2", PART, 5.0, "b")))
    with pytest.raises(CodesignError, match=r"every reuse factor and strategy\) need at least dsp 25 \(budget 20\)"):
        run.check_feasible(SimpleNamespace(space=space, budget=parse_budget("dsp=20", PART, 5.0, "b")))


def test_unreachable_storage_is_one_line(tmp_path):
    from codesign.search.runner import storage_for

    with pytest.raises(CodesignError, match=r"^--storage postgresql://nobody@127\.0\.0\.1:1/none: cannot open the "
                                            r"study storage \(.*\)$"):
        storage_for("postgresql://nobody@127.0.0.1:1/none", tmp_path)


def test_seeds_are_the_uniform_corners_and_a_spread_of_the_greedy_path():
    from codesign.search.strategies import population_for, spread, uniform_corners

    space = SearchSpace(layers=("a", "b"), weight_bits=(2, 3, 4, 8), activation_bits=(3, 6, 8), activation_layers=("a",))
    assert uniform_corners(space) == [{"a.w": 8, "b.w": 8, "a.a": 8}, {"a.w": 4, "b.w": 4, "a.a": 6},
                                      {"a.w": 3, "b.w": 3, "a.a": 3}]
    path = [{"i": i} for i in range(10)]
    assert spread(path, 4) == [{"i": 0}, {"i": 3}, {"i": 6}, {"i": 9}]
    assert spread(path, 20) == path and spread(path, 0) == []
    # NSGA-II learns within small budgets: 15 trials -> 4 per generation (about 4 generations), 40 -> 8
    assert [population_for(t) for t in (6, 15, 24, 40, 200)] == [4, 4, 6, 8, 8]


def test_a_depthwise_convolution_is_searched_and_pruned_like_the_others():
    """quantize.py turns DepthwiseConv2D into QDepthwiseConv2D (its kernel: `depthwise_kernel`); the search once
    listed only QDense/QConv1D/QConv2D and never varied it, and pruning looked for `kernel`."""
    import numpy as np
    import tensorflow as tf

    from codesign import prune
    from codesign.keras_layers import quantized_kernel
    from codesign.quantize import quantize
    from codesign.search.context import searched_layers

    inp = tf.keras.Input((6, 6, 2))
    h = tf.keras.layers.Conv2D(3, 3, activation="relu", name="conv")(inp)
    h = tf.keras.layers.DepthwiseConv2D(3, name="dw")(h)
    h = tf.keras.layers.Activation("relu", name="dw_relu")(h)
    out = tf.keras.layers.Dense(2, name="fc")(tf.keras.layers.Flatten()(h))
    q = quantize(tf.keras.Model(inp, out)).model
    macs, activations = searched_layers(q)
    assert macs == ["conv", "dw", "fc"] and "dw" in activations
    dw = q.get_layer("dw")
    prune.apply(q, {"dw": 0.5})
    assert np.count_nonzero(dw.depthwise_kernel.numpy() == 0) == 14  # round(0.5 x 3 x 3 x 3)
    step = 2.0 ** -(dw.depthwise_quantizer_internal.bits - 1 - dw.depthwise_quantizer_internal.integer)
    values = quantized_kernel(dw)
    assert values.shape == (3, 3, 3, 1) and np.all(np.mod(values / step, 1) == 0)


@pytest.mark.parametrize("task, floor, here, step, trained, left, taken", [
    ("classification", None, (0.97, 0.100), (0.969, 0.102), 0.97, 8, True),  # loss up 2%: free, floor or not
    ("classification", None, (0.97, 0.100), (0.95, 0.150), 0.97, 1, False),  # no floor: a lossy step is fine-tuned
    ("classification", 0.90, (0.97, 0.100), (0.9525, 0.200), 0.97, 4, True),  # 4 steps left: keeps 3/4 of 0.07
    ("classification", 0.90, (0.97, 0.100), (0.952, 0.200), 0.97, 4, False),  # keeps less than 3/4 of it
    ("classification", 0.90, (0.97, 0.100), (0.9525, 0.200), 0.97, 10, False),  # 10 left: must keep 9/10
    ("classification", 0.90, (0.97, 0.100), (0.9635, 0.200), 0.97, 10, True),
    ("classification", 0.90, (0.97, 0.100), (0.935, 0.200), 0.97, 2, True),  # 2 left: half the margin
    ("classification", 0.90, (0.97, 0.100), (0.90, 0.400), 0.97, 1, True),  # last step: the floor alone
    ("classification", 0.90, (0.97, 0.100), (0.90, 0.400), 0.97, -0.5, True),  # budget spent: the floor alone
    ("classification", 0.90, (0.97, 0.100), (0.899, 0.400), 0.97, 1, False),  # below the floor: fine-tuned
    ("classification", 0.90, (0.96, 0.100), (0.962, 0.200), 0.98, 4, True),  # the margin of the last trained step
    ("classification", 0.90, (0.96, 0.100), (0.962, 0.200), 0.99, 4, False),  # ... after free steps lost some
    ("classification", 0.90, (0.89, 0.300), (0.89, 0.400), 0.89, 1, False),  # trained below the floor: fine-tuned
    ("regression", 0.5, (-0.1, 0.1), (-0.19, 0.19), -0.1, 4, True),  # MSE 0.1 -> 0.19 keeps 3/4 of 0.4 below 0.5
    ("regression", 0.5, (-0.1, 0.1), (-0.21, 0.21), -0.1, 4, False),
])
def test_a_descent_step_is_free_when_it_costs_no_loss_or_keeps_its_share_of_the_margin_above_the_floor(
        task, floor, here, step, trained, left, taken):
    """descent: a step is taken untrained when its loss rises by at most 2% of the current loss, or, with a floor
    and n fine-tuned steps left in the epoch budget, when its validation score keeps at least 1 - 1/n of the
    margin between the floor and the score of the last fine-tuned step (so a chain far above its floor reaches
    it within its epochs, and a chain with many steps left trains a step that loses much)."""
    from types import SimpleNamespace

    from codesign.search.descent import free
    from codesign.tasks import task_of

    ctx = SimpleNamespace(settings=SimpleNamespace(floor=floor, targets=None), design=SimpleNamespace(task=task_of(task)))
    assert free(ctx, here, step, trained, left) is taken


@pytest.mark.parametrize("task, targets, step, trained, taken", [
    ("classification", [0.95, 0.96], (0.9555, 0.2), 0.9613, False),  # would cross 0.96 untrained: fine-tuned
    ("classification", [0.95, 0.96], (0.9555, 0.101), 0.9613, False),  # ... even with the loss up 1% only
    ("classification", None, (0.9555, 0.101), 0.9613, True),
    ("classification", None, (0.9555, 0.2), 0.9613, True),  # without targets: 5/6 of the 0.0613 margin kept
    ("classification", [0.95, 0.96], (0.9612, 0.2), 0.9613, True),  # keeps 5/6 of the 0.0013 above 0.96
    ("classification", [0.95, 0.96], (0.9580, 0.2), 0.9590, True),  # trained under 0.96: 5/6 of 0.009 above 0.95
    ("classification", [0.95, 0.96], (0.9490, 0.2), 0.9590, False),  # would cross 0.95
    ("classification", [0.85, 0.97], (0.9520, 0.2), 0.9613, True),  # targets outside (floor, trained] change nothing
    ("regression", [0.2], (-0.21, 0.21), -0.1, False),  # MSE target 0.2 between 0.1 and the floor 0.5
    ("regression", [0.2], (-0.11, 0.11), -0.1, True),  # keeps 5/6 of the 0.1 below the target
])
def test_a_free_step_crosses_no_target_above_the_floor(task, targets, step, trained, taken):
    """descent with search.targets: the margin a free step keeps its share of (1 - 1/6 here) is that above the
    highest target at or below the last trained score, so a step that would cross a target is fine-tuned."""
    from types import SimpleNamespace

    from codesign.search.descent import free
    from codesign.tasks import task_of

    floor = 0.90 if task == "classification" else 0.5
    ctx = SimpleNamespace(settings=SimpleNamespace(floor=floor, targets=targets),
                          design=SimpleNamespace(task=task_of(task)))
    assert free(ctx, (trained, 0.1), step, trained, 6) is taken


def test_the_steps_left_are_the_epoch_budget_left_in_fine_tuned_steps():
    """descent: 5 trials of 4 epochs; the base model (no epochs), a free step (none) and two fine-tuned steps of
    4 and 2 epochs leave 14 epochs: 3.5 steps."""
    from types import SimpleNamespace

    from optuna.trial import TrialState

    from codesign.search.descent import steps_left

    done = [SimpleNamespace(user_attrs=a) for a in ({}, {"free": True}, {"epochs": 4}, {"epochs": 2})]
    study = SimpleNamespace(get_trials=lambda deepcopy=False, states=None:
                            done if states == (TrialState.COMPLETE,) else [])
    ctx = SimpleNamespace(settings=SimpleNamespace(trials=5, finetune_epochs=4, halving=None, algorithm="descent"))
    assert steps_left(ctx, study) == 3.5


def test_a_free_steps_margin_is_that_of_the_last_trained_step_on_its_chain():
    """descent: the margin a free step keeps is measured from the newest trained step among its ancestors (the
    base model or a fine-tuned step), not from the free steps between, whose losses would otherwise compound."""
    from types import SimpleNamespace

    from codesign.search.descent import _trained_score

    def step(number, score, parent=None, free=False):
        return SimpleNamespace(number=number, values=[score], user_attrs={
            **({"parent": parent} if parent is not None else {}), **({"free": True} if free else {})})

    chain = [step(0, 0.97), step(1, 0.96, 0, free=True), step(2, 0.955, 1, free=True), step(3, 0.965, 2),
             step(4, 0.95, 3, free=True), step(5, 0.94, 1, free=True)]
    study = SimpleNamespace(get_trials=lambda deepcopy=False: chain)
    assert [_trained_score(study, t) for t in chain] == [0.97, 0.97, 0.97, 0.965, 0.965, 0.97]


def test_integer_cuts_are_a_knob_riding_with_each_width():
    """A width is lowered by its LSB or, with integer_cuts, by its MSB (one more integer bit cut), while the
    layer keeps an integer bit to cut; the cut knobs are not steps of their own."""
    from types import SimpleNamespace

    from codesign.design import LayerQuant
    from codesign.search.descent import _options

    space = SearchSpace(layers=("c1", "fc"), activation_layers=("c1",), weight_bits=(4, 6), activation_bits=(3, 4, 6),
                        integer_cuts=(0, 1, 2))
    assert space.ordered("c1.ac") == [0, 1, 2] and space.top()["c1.wc"] == 0 and "fc.ac" not in space.params()
    quant = {"c1": LayerQuant(weight_integer=2, activation_integer=1), "fc": LayerQuant(weight_integer=0)}
    ctx = SimpleNamespace(space=space, design=SimpleNamespace(quant_for=quant.__getitem__))
    state = {"c1.w": 6, "c1.a": 4, "c1.wc": 0, "c1.ac": 1, "fc.w": 6, "fc.wc": 0}
    got = [(knob, {k: v for k, v in option.items() if option[k] != state[k]}) for knob, option in
           _options(ctx, state, tried=set())]
    assert got == [("c1.w", {"c1.w": 4}), ("c1.wc", {"c1.w": 4, "c1.wc": 1}),  # c1's weights: integer 2 -> 1
                   ("fc.w", {"fc.w": 4}),  # fc's weights have integer 0: no cut
                   ("c1.a", {"c1.a": 3})]  # c1's activations are at integer 1 - 1 = 0 already: no cut left
    assert [k for k, _ in _options(ctx, dict(state, **{"c1.ac": 0}), tried={"c1.wc", "fc.w"})] == [
        "c1.w", "c1.a", "c1.ac"]


def test_a_cut_takes_integer_bits_off_the_designs_own():
    from codesign.design import LayerQuant
    from codesign.search.candidate import design_variant
    from codesign.search.space import describe

    design = design_with({"c1": LayerQuant(weight_bits=6, weight_integer=2, activation_integer=3)})
    variant = design_variant(design, {"c1.w": 4, "c1.wc": 1, "c1.a": 5, "c1.ac": 2})
    q = variant.quant_for("c1")
    assert (q.weight_bits, q.weight_integer, q.activation_bits, q.activation_integer) == (4, 1, 5, 1)
    assert design_variant(design, {"c1.wc": 5}).quant_for("c1").weight_integer == 0  # never below 0
    assert describe({"c1.w": 4, "c1.wc": 1, "c1.a": 5, "c1.ac": 0}) == "c1:4(-1)/5"


def design_with(layer_quant):
    """A minimal Design with these layers' quantization (the digits MLP's file for the rest)."""
    import dataclasses
    from pathlib import Path

    from codesign.design import load_design

    design = load_design(Path(__file__).resolve().parents[1] / "designs" / "digits_mlp.yaml")
    return dataclasses.replace(design, layer_quant=layer_quant)


@pytest.mark.parametrize("space, algorithm, message", [
    ({"integer_cuts": [1, 2]}, "descent", "search.space.integer_cuts: [1, 2]; allowed: a list of integers in 0..8 "
                                          "with 0 (the design's own integer bits), e.g. [0, 1]"),
    ({"integer_cuts": [0, 9]}, "descent", "search.space.integer_cuts: [0, 9]; allowed: a non-empty list of integers "
                                          "in 0..8"),
    ({"integer_cuts": [0, 1]}, "greedy", "search.space.integer_cuts: with algorithm descent, nsga2 or random"),
])
def test_bad_integer_cuts(space, algorithm, message):
    from codesign.search.space import build_space

    settings = search_settings("d.yaml", {"algorithm": algorithm, "space": space}, {})
    with pytest.raises(CodesignError) as err:
        build_space(settings, "d.yaml", ["fc"], ["fc"])
    assert message in str(err.value)


def test_the_inputs_width_is_a_knob_of_the_whole_design():
    """search.space.input_bits: one global knob, widest first, lowered by the descent like a width (no cut rides
    with it), shown in a candidate's description."""
    from types import SimpleNamespace

    from codesign.design import LayerQuant
    from codesign.search.descent import _options
    from codesign.search.space import build_space, describe, knob_label
    from hw_models.fixed import QuantSpec

    settings = search_settings("d.yaml", {"algorithm": "descent", "space": {
        "weight_bits": [4, 6], "activation_bits": [6], "input_bits": [8, 3, 5], "integer_cuts": [0, 1]}}, {})
    space = build_space(settings, "d.yaml", ["fc"], [], QuantSpec(8, 0, False))
    assert space.params()["input_bits"] == (3, 5, 8) and space.ordered("input_bits") == [8, 5, 3]
    assert space.widths() == ["fc.w", "input_bits"] and space.top()["input_bits"] == 8
    assert knob_label("input_bits") == ("input", "input bits") and knob_label("fc.w") == ("fc", "weights")
    ctx = SimpleNamespace(space=space, design=SimpleNamespace(quant_for={"fc": LayerQuant(weight_integer=1)}.get))
    state = {"fc.w": 6, "fc.wc": 0, "input_bits": 5}
    assert [(k, o["input_bits"]) for k, o in _options(ctx, state, tried=set())] == [
        ("fc.w", 5), ("fc.wc", 5), ("input_bits", 3)]
    assert describe({"fc.w": 4, "fc.a": 3, "input_bits": 5}) == "fc:4/3 input_bits=5"
    one = build_space(search_settings("d.yaml", {"space": {"input_bits": [4]}}, {}), "d.yaml", ["fc"], [],
                      QuantSpec(8, 0, False))
    assert "input_bits" not in one.params() and one.input_bits == (4,)  # one choice: fixed, not a knob


@pytest.mark.parametrize("space, algorithm, message", [
    ({"input_bits": [4, 9]}, "descent", "d.yaml: search.space.input_bits: [4, 9]; allowed: a non-empty list of "
                                        "integers in 1..8 (the data reaches the FPGA as ufixed<8,0>; input_bits keeps "
                                        "its most significant bits)"),
    ({"input_bits": [4, 8]}, "ilp", "search.space.input_bits: with algorithm descent, greedy, nsga2 or random"),
])
def test_bad_input_bits(space, algorithm, message):
    from codesign.search.space import build_space
    from hw_models.fixed import QuantSpec

    settings = search_settings("d.yaml", {"algorithm": algorithm, "space": space}, {})
    with pytest.raises(CodesignError) as err:
        build_space(settings, "d.yaml", ["fc"], ["fc"], QuantSpec(8, 0, False))
    assert message in str(err.value)


def test_a_narrower_input_drops_the_least_significant_bits():
    """ufixed<8,0> pixels at 3 bits: truncated (the wires left off), so 0.99 -> 0.875 and 0.12 -> 0.0."""
    import numpy as np

    from codesign.search.inputs import narrowed
    from hw_models.fixed import QuantSpec

    spec = narrowed(QuantSpec(8, 0, False), 3)
    assert spec.to_hls() == "ufixed<3,0>"
    np.testing.assert_array_equal(spec.quantize(np.array([0.99609375, 0.12109375, 0.125, 0.5])),
                                  [0.875, 0.0, 0.125, 0.5])
    assert narrowed(QuantSpec(5, 1, False), None) == QuantSpec(5, 1, False)
    assert narrowed(QuantSpec(16, 6, True, "RND_CONV", "SAT"), 10).to_hls() == "fixed<10,6,TRN,SAT>"


def test_the_first_dense_layer_is_found_through_pass_through_layers_only():
    import tensorflow as tf

    from codesign.search.inputs import first_dense

    inp = tf.keras.Input((8, 8), name="img")
    x = tf.keras.layers.Dropout(0.1)(tf.keras.layers.Flatten()(inp))
    mlp = tf.keras.Model(inp, tf.keras.layers.Dense(4, name="fc")(tf.keras.layers.Dense(6, name="fc1")(x)))
    assert first_dense(mlp, ("fc1", "fc")) == "fc1"
    assert first_dense(mlp, ("fc",)) is None  # not searched: its kernel is not the candidate's to zero
    inp = tf.keras.Input((8, 8, 1))
    cnn = tf.keras.Model(inp, tf.keras.layers.Dense(3, name="fc")(tf.keras.layers.Flatten()(
        tf.keras.layers.Conv2D(2, 3, name="c1")(inp))))
    assert first_dense(cnn, ("c1", "fc")) is None  # a convolution shares its kernel over every pixel
