"""`codesign search` / `codesign worker` end to end on a small design (training: marked slow)."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codesign.cli import app

pytestmark = pytest.mark.slow
DESIGN = Path(__file__).parent / "data" / "search_tiny.yaml"
REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    out = tmp_path_factory.mktemp("search")
    res = runner.invoke(app, ["search", str(DESIGN), "--out", str(out)])
    assert res.exit_code == 0, res.output
    LOG.append(res.output)
    return out, json.loads(res.output[res.output.index("{"):])


LOG: list[str] = []


def study(out: Path, strategy: str = "random"):
    import optuna

    return optuna.load_study(study_name=f"search_tiny-{strategy}",
                             storage=f"sqlite:///{out / 'search_tiny' / 'search' / 'study.db'}")


def worker(out: Path, trials: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "codesign.cli", "worker", str(DESIGN), "--out", str(out),
                             "--trials", str(trials)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def test_search_end_to_end(searched):
    out, summary = searched
    folder = out / "search_tiny" / "search"
    for name in ("trials.csv", "pareto_lut_equivalent.csv", "pareto_latency.csv", "pareto.png", "study.db",
                 "sensitivity.csv", "search.md", "best/results.json", "best/hls_project/firmware/myproject.cpp"):
        assert (folder / name).exists(), name
    assert summary["trials_completed"] == 3
    assert summary["bit_exact_fraction"] == 1.0 and summary["testbench_bit_exact_fraction"] == 1.0
    assert set(summary["best_params"]) == {"fc1.w", "fc1.a", "logits.w"}
    rows = (folder / "trials.csv").read_text().splitlines()
    assert rows[0].startswith("number,state,params,val_score,lut_equivalent,lut,ff,dsp")
    assert sum(",COMPLETE," in r for r in rows) == 3
    sens = json.loads((folder / "sensitivity.json").read_text())
    assert {r["param"] for r in sens["measured"]} == {"fc1.w", "fc1.a", "logits.w"}
    assert all(r["trace"] > 0 for r in sens["hessian"])
    # piped (not a terminal): every trial is one plain line saying what it was and what it scored
    trials = [ln for ln in LOG[0].splitlines() if re.match(r"- trial \d+ fc1:\d/\d logits:\d/-: ", ln)]
    assert len(trials) == 3, LOG[0]
    assert all(re.search(r": validation accuracy 0\.\d+, LUT \+ 55 DSP [\d,]+, latency \d+ cycles \(\d+ s\)$", ln)
               for ln in trials), trials
    assert re.search(r"^trials \(random\) accuracy=[\d.]+: 3/3 \(", LOG[0], re.MULTILINE), LOG[0]
    # the search says what prices its candidates, and starts from a uniform corner, not a random draw
    assert "- cost model: Latency: the hls4ml Latency template fitted on Vivado/Vitis reports" in LOG[0]
    assert "- seeded: 1 uniform corner(s) and 0 point(s) of the greedy path, then random" in LOG[0]
    assert "- trial 0 fc1:6/6 logits:6/-: " in LOG[0]
    # the report names each candidate as the log does, and what priced it
    md = (folder / "search.md").read_text()
    best = summary["best_params"]
    assert f"- candidate: `fc1:{best['fc1.w']}/{best['fc1.a']} logits:{best['logits.w']}/-`" in md
    assert "Candidates priced by Latency: the hls4ml Latency template fitted on Vivado/Vitis reports" in md


def test_two_workers_share_one_study(searched):
    out, _ = searched
    procs = [worker(out, 9), worker(out, 9)]
    logs = [p.communicate(timeout=600)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), logs
    from optuna.trial import TrialState

    trials = study(out).get_trials()
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    assert 9 <= len(done) <= 10                                  # one extra at most from the final race
    assert len({t.number for t in trials}) == len(trials)         # none duplicated
    assert not [t for t in trials if t.state == TrialState.RUNNING]  # none lost mid-way
    pids = {t.user_attrs["worker"] for t in done[3:]}
    assert pids == {p.pid for p in procs}                        # both workers took trials


def test_killed_worker_resumes_without_losing_a_trial(searched, monkeypatch):
    """Heartbeats: a live worker's running trial is left alone by a search started beside it; once the worker
    is killed (SIGKILL) and its heartbeat is older than the grace period, the trial is retried, none lost."""
    from optuna.trial import TrialState

    from codesign.search import runner as R

    monkeypatch.setenv("CODESIGN_HEARTBEAT_S", "1")  # the worker process
    monkeypatch.setenv("CODESIGN_GRACE_S", "4")
    monkeypatch.setattr(R, "HEARTBEAT_S", 1)  # this process
    monkeypatch.setattr(R, "GRACE_S", 4)
    out, _ = searched
    before = len(study(out).get_trials(states=(TrialState.COMPLETE,)))
    proc = worker(out, before + 6)
    deadline = time.time() + 300
    victim = None
    while time.time() < deadline and victim is None:
        time.sleep(0.2)
        running = study(out).get_trials(states=(TrialState.RUNNING,))
        if not running or len(study(out).get_trials(states=(TrialState.COMPLETE,))) == before:
            continue
        time.sleep(0.3)  # its heartbeat thread has started
        os.kill(proc.pid, signal.SIGSTOP)  # frozen mid-trial, heartbeat still fresh
        if study(out).trials[running[0].number].state == TrialState.RUNNING:
            victim = running[0].number
        else:
            os.kill(proc.pid, signal.SIGCONT)
    assert victim is not None, "worker never had a trial running"
    shared = optuna_study_with_heartbeats(out)
    assert R.recover_interrupted(shared) == 0  # a search started beside a live worker leaves its trial alone
    assert shared.trials[victim].state == TrialState.RUNNING
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(5)  # past the grace period
    res = runner.invoke(app, ["search", str(DESIGN), "--out", str(out), "--trials", str(before + 6)])
    assert res.exit_code == 0, res.output
    assert "resumed: 1 interrupted trial(s) enqueued again" in res.output
    trials = study(out).get_trials()
    retry = [t for t in trials if t.user_attrs.get("retry_of") == victim]
    assert len(retry) == 1 and retry[0].state == TrialState.COMPLETE
    assert trials[victim].state == TrialState.FAIL
    assert len([t for t in trials if t.state == TrialState.COMPLETE]) == before + 6


def optuna_study_with_heartbeats(out: Path):
    import optuna

    from codesign.search.runner import storage_for

    return optuna.load_study(study_name="search_tiny-random", storage=storage_for(None, out / "search_tiny" / "search"))


def test_infeasible_budget_names_the_minimum(searched):
    out, _ = searched
    res = runner.invoke(app, ["search", str(DESIGN), "--out", str(out), "--budget", "lut=10"])
    assert res.exit_code == 2
    line = " ".join(res.output.split())
    assert "infeasible budget: even the narrowest candidates (weights 2 bits, activations 3 bits, every reuse " \
           "factor and strategy) need at least lut" in line
    assert "(budget 10)" in line


def test_planned_strategies_run(searched):
    """The budget is met by the estimate's upper bound (its held-out p90), not by the estimate alone."""
    out, _ = searched
    for strategy in ("greedy", "ilp"):
        res = runner.invoke(app, ["search", str(DESIGN), "--out", str(out), "--algorithm", strategy,
                                  "--trials", "2", "--budget", "lut=0.02"])
        assert res.exit_code == 0, res.output
        summary = json.loads(res.output[res.output.index("{"):])
        best = json.loads((out / "search_tiny" / "search" / "best" / "results.json").read_text())
        upper = best["estimate_interval"]["lut"][1]
        assert summary["within_budget"] and summary["estimate"]["lut"] * 1.2 < upper <= 0.02 * 1728000
        assert summary["bit_exact_fraction"] == 1.0


def test_candidate_graph_equals_the_built_variant(searched):
    """A candidate's typed graph (base weights re-quantized, no model built) equals the graph of the QKeras
    model the trial trains, and the cost model is charged exactly those widths and weights."""
    import numpy as np

    from codesign.precision import derive
    from codesign.search.candidate import candidate_graph, cost_assignment
    from codesign.search.context import prepare
    from codesign.search.evaluate import variant_model

    out, _ = searched
    ctx = prepare(DESIGN, out, {}, train_base=False, log=lambda m: None)
    params = {"fc1.w": 2, "fc1.a": 3, "logits.w": 4}
    _, model = variant_model(ctx, params)
    built = derive(model, ctx.split.input_spec)
    fast = candidate_graph(ctx, params)
    assert [n.hls_precision() for n in fast] == [n.hls_precision() for n in built]
    assert fast["fc1_relu"].result.width == 3
    assert fast["fc1"].weight.width == 2 and fast["logits"].weight.width == 4
    for name in ("fc1", "logits"):
        np.testing.assert_array_equal(fast.lowered.weights[name].kernel, built.lowered.weights[name].kernel)
    widths = cost_assignment(ctx, params)
    assert widths["fc1"]["acc_bits"] == built["fc1"].accum.width
    assert widths["fc1_relu"]["res_bits"] == 3
    assert widths["logits"]["in_bits"] == built["logits"].input.width


def test_edited_design_is_not_served_from_the_cache(searched, tmp_path):
    """The base model is cached under a hash of what it was trained from: a changed training section is refused
    (nothing reused silently); a changed search section reuses it."""
    from codesign.search.context import prepare

    out, _ = searched
    edited = tmp_path / "search_tiny.yaml"
    edited.write_text(DESIGN.read_text().replace("epochs: 6", "epochs: 5"))
    res = runner.invoke(app, ["search", str(edited), "--out", str(out)])
    assert res.exit_code == 2
    assert f"{out / 'search_tiny' / 'search'}: made from another version of {edited}" in " ".join(res.output.split())
    edited.write_text(DESIGN.read_text().replace("trials: 3", "trials: 5"))
    ctx = prepare(edited, out, {}, train_base=False, log=lambda m: None)
    assert ctx.settings.trials == 5


@pytest.mark.skipif(not __import__("shutil").which("yosys"), reason="yosys/verilator not installed")
def test_da_strategy_searched_and_front_judged_by_yosys(tmp_path):
    """`strategies: [Latency, distributed_arithmetic]` in the space; `--judge yosys` re-measures the front."""
    text = DESIGN.read_text().replace("name: search_tiny", "name: search_da").replace(
        "space: {weight_bits: [2, 4, 6], activation_bits: [3, 6]}",
        "space: {weight_bits: [2, 4, 6], activation_bits: [3, 6], strategies: [Latency, distributed_arithmetic]}")
    design = tmp_path / "search_da.yaml"
    design.write_text(text)
    res = runner.invoke(app, ["search", str(design), "--out", str(tmp_path), "--judge", "yosys"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output[res.output.index("{"):])
    assert summary["best_params"]["strategy"] in ("Latency", "distributed_arithmetic")
    folder = tmp_path / "search_da" / "search"
    judged = json.loads((folder / "judge_yosys.json").read_text())
    front = (folder / "pareto_lut_equivalent.csv").read_text().splitlines()[1:]
    assert len(judged["points"]) == len(front) >= 1
    assert all(p["rtl_bit_exact_fraction"] == 1.0 and p["yosys_lut"] > 0 for p in judged["points"])
    assert (folder / "pareto_yosys.png").stat().st_size > 10_000
    assert summary["judge_spearman"] == judged["spearman_estimate_vs_yosys"]
    cost_model = json.loads((folder / "search.json").read_text())["cost_model"]
    assert cost_model.startswith("Latency: the hls4ml Latency template") and \
        "distributed_arithmetic: da4ml's adder-graph cost of each candidate's exact weights" in cost_model


def test_pruned_candidates_by_successive_halving(tmp_path):
    """Every candidate pruned (sparsity 0.5 or 0.75 per layer), trained 1 epoch and then to 2 only when promoted:
    the trials spend the epochs of 3 full trials, the exported best holds exactly its zeros and is bit-exact."""
    import numpy as np
    import optuna

    from codesign.modelio import load_model

    design = REPO / "tests" / "data" / "search_prune.yaml"
    res = runner.invoke(app, ["search", str(design), "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output[res.output.index("{"):])
    assert summary["bit_exact_fraction"] == 1.0 and summary["testbench_bit_exact_fraction"] == 1.0
    params = summary["best_params"]
    assert set(params) == {"fc1.w", "fc1.a", "fc1.s", "logits.w", "logits.s"}
    model = load_model(tmp_path / "search_prune" / "search" / "best" / "model_qat.h5")
    for name, n in (("fc1", 64 * 16), ("logits", 16 * 10)):
        assert int(np.sum(model.get_layer(name).kernel.numpy() == 0)) == round(params[f"{name}.s"] * n), name
    study = optuna.load_study(study_name="search_prune-random",
                              storage=f"sqlite:///{tmp_path / 'search_prune' / 'search' / 'study.db'}")
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    epochs = [t.user_attrs["epochs"] for t in done]
    assert sum(epochs) >= 6 and set(epochs) <= {0, 1, 2}, epochs
    base = [t for t in done if t.user_attrs.get("base")]  # the design's own bits are not all choices (sparsity 0)
    assert not base and "- base model: its bits are not all choices of the space" in res.output
    lines = [ln for ln in res.output.splitlines() if ln.startswith("- trial ")]
    assert all(re.search(r"fc1:\d/6@(50|75)% logits:\d/-@(50|75)%: validation accuracy .*, [12] of 2 epochs\)$", ln)
               for ln in lines), lines


def test_descent_walks_one_notch_per_step_from_the_base_model(tmp_path):
    """strategy descent: trial 0 is the base model as trained; every later trial lowers one knob by one notch of
    the trial before it and starts from that trial's weights, down to the narrowest design; steps that cost
    no loss spend no epochs, and the chain spends the epochs of --trials fine-tuned trials at most."""
    import optuna

    res = runner.invoke(app, ["search", str(DESIGN), "--out", str(tmp_path), "--algorithm", "descent", "--trials", "20"])
    assert res.exit_code == 0, res.output
    study = optuna.load_study(study_name="search_tiny-descent",
                              storage=f"sqlite:///{tmp_path / 'search_tiny' / 'search' / 'study.db'}")
    done = sorted((t for t in study.trials if t.state.name == "COMPLETE"), key=lambda t: t.number)
    assert done[0].user_attrs["base"] and done[0].user_attrs["epochs"] == 0
    assert done[0].params == {"fc1.w": 6, "fc1.a": 6, "logits.w": 6}
    order = {"fc1.w": [6, 4, 2], "fc1.a": [6, 3], "logits.w": [6, 4, 2]}
    for before, after in zip(done, done[1:]):
        # a step that costs (almost) no validation loss is a candidate as it is: no epochs
        assert after.user_attrs["parent"] == before.number
        assert (after.user_attrs["epochs"] == 0) == bool(after.user_attrs.get("free"))
        moved = {k: (before.params[k], v) for k, v in after.params.items() if v != before.params[k]}
        assert len(moved) == 1, moved
        (key, (a, b)), = moved.items()
        assert order[key].index(b) == order[key].index(a) + 1
    assert done[-1].params == {"fc1.w": 2, "fc1.a": 3, "logits.w": 2} and len(done) == 1 + 2 + 1 + 2
    assert 20 - 2 <= sum(t.user_attrs["epochs"] for t in done) <= 20  # the epochs of 20 trials of 1 epoch
    assert "- trial 5 fc1:2/3 logits:2/-" in res.output


def test_descent_turns_back_at_the_floor(tmp_path):
    """search.floor: no step starts from a candidate below the floor; from a step that falls below it the chain
    goes on from the newest step that keeps it, lowering a knob not yet tried there; no candidate twice; each
    fine-tuned step trains finetune_epochs (without a floor they would share the epochs over the whole chain)."""
    import optuna

    floor = 0.9  # the base model (6 bits) keeps it by a wide margin; 2-bit activations and 90% zeros fall below it
    design = tmp_path / "search_tiny.yaml"
    design.write_text(DESIGN.read_text().replace("  algorithm: random\n", f"  algorithm: descent\n  floor: {floor}\n")
                      .replace("activation_bits: [3, 6]}", "activation_bits: [2, 6], sparsity: [0, 0.9]}"))
    res = runner.invoke(app, ["search", str(design), "--out", str(tmp_path), "--trials", "12", "--finetune-epochs", "2"])
    assert res.exit_code == 0, res.output
    study = optuna.load_study(study_name="search_tiny-descent",
                              storage=f"sqlite:///{tmp_path / 'search_tiny' / 'search' / 'study.db'}")
    done = sorted((t for t in study.trials if t.state.name == "COMPLETE"), key=lambda t: t.number)
    acc = {t.number: t.values[0] for t in done}
    assert acc[0] >= floor and min(acc.values()) < floor  # the base keeps it, some step falls below
    for t in done[1:]:
        assert acc[t.user_attrs["parent"]] >= floor, (t.number, t.user_attrs["parent"])
    turns = [t for t, before in zip(done[1:], done) if t.user_attrs["parent"] != before.number]
    assert turns
    assert f"- descent: on from trial {turns[0].user_attrs['parent']}, the newest step that keeps the floor" in \
        " ".join(res.output.split())
    assert len({t.user_attrs["params_json"] for t in done}) == len(done)
    assert {t.user_attrs["epochs"] for t in done[1:] if not t.user_attrs.get("free")} == {2}
    assert sum(t.user_attrs["epochs"] for t in done) <= 24  # 12 trials of 2 epochs


def test_descent_takes_no_step_across_a_target_untrained(tmp_path):
    """search.targets: between the floor and the base model, a step that falls below a target its last trained
    ancestor kept is fine-tuned, never taken as it is; steps between targets may still be free."""
    import optuna

    from codesign.search.descent import _trained_score

    targets = [0.93, 0.96]  # the base model scores 0.965; without targets its first step is free at 0.955
    design = tmp_path / "search_tiny.yaml"
    design.write_text(DESIGN.read_text().replace("  algorithm: random\n",
                                                 f"  algorithm: descent\n  floor: 0.9\n  targets: {targets}\n")
                      .replace("activation_bits: [3, 6]}", "activation_bits: [2, 4, 6], sparsity: [0, 0.5, 0.9]}"))
    res = runner.invoke(app, ["search", str(design), "--out", str(tmp_path), "--trials", "8", "--finetune-epochs", "2"])
    assert res.exit_code == 0, res.output
    study = optuna.load_study(study_name="search_tiny-descent",
                              storage=f"sqlite:///{tmp_path / 'search_tiny' / 'search' / 'study.db'}")
    steps = {t.number: t for t in study.trials if t.state.name == "COMPLETE"}
    free = [t for t in steps.values() if t.user_attrs.get("free")]
    assert free
    for t in free:
        kept = _trained_score(study, steps[t.user_attrs["parent"]])
        assert not any(kept >= target > t.values[0] for target in targets), (t.number, kept, t.values[0])


def test_descent_cuts_integer_bits_where_the_range_is_too_wide(tmp_path):
    """space.integer_cuts: a range of [0, 16) for the hidden ReLU wastes its bits (digits MLP activations are
    mostly below 2); lowering its width, the descent drops an MSB (one integer bit cut) rather than an LSB.
    Every step still moves one width by one notch, and at most that width's own cut by one."""
    import optuna

    from codesign.search.candidate import design_variant
    from codesign.search.context import prepare

    design = tmp_path / "search_tiny.yaml"
    design.write_text(DESIGN.read_text().replace("  algorithm: random\n", "  algorithm: descent\n")
                      .replace("activation_bits: 6, activation_integer: 2}", "activation_bits: 6, activation_integer: 4}")
                      .replace("activation_bits: [3, 6]}", "activation_bits: [3, 4, 6], integer_cuts: [0, 1, 2]}"))
    res = runner.invoke(app, ["search", str(design), "--out", str(tmp_path), "--trials", "12"])
    assert res.exit_code == 0, res.output
    study = optuna.load_study(study_name="search_tiny-descent",
                              storage=f"sqlite:///{tmp_path / 'search_tiny' / 'search' / 'study.db'}")
    done = sorted((t for t in study.trials if t.state.name == "COMPLETE"), key=lambda t: t.number)
    assert done[0].params == {"fc1.w": 6, "fc1.a": 6, "logits.w": 6, "fc1.wc": 0, "fc1.ac": 0, "logits.wc": 0}
    for before, after in zip(done, done[1:]):
        moved = {k: (before.params[k], v) for k, v in after.params.items() if v != before.params[k]}
        widths = [k for k in moved if not k.endswith("c")]
        assert len(widths) == 1, moved
        if len(moved) == 2:  # an MSB dropped: the knob is the cut, of the same layer and kind, one more bit
            assert after.user_attrs["knob"] == widths[0] + "c" and moved[widths[0] + "c"][1] == \
                moved[widths[0] + "c"][0] + 1
    assert done[-1].params["fc1.a"] == 3 and done[-1].params["fc1.ac"] >= 1
    assert all(t.params["fc1.wc"] == t.params["logits.wc"] == 0 for t in done)  # weights at integer 0: none to cut
    ctx = prepare(design, tmp_path, {}, train_base=False, log=lambda m: None)
    q = design_variant(ctx.design, done[-1].params).quant_for("fc1")
    assert (q.activation_bits, q.activation_integer) == (3, 4 - done[-1].params["fc1.ac"])
    assert f"fc1:{done[-1].params['fc1.w']}/3(-{done[-1].params['fc1.ac']})" in " ".join(res.output.split())


def test_descent_narrows_the_input_and_leaves_out_inputs_that_are_always_zero(tmp_path):
    """space.input_bits on the digits (ufixed<5,1> pixels, built as distributed arithmetic): the chain starts at
    the data's 5 bits and lowers them like any width; a candidate at k bits trains, is costed and exported on
    pixels truncated to ufixed<k,1>, its first layer's rows for pixels 0 in every training digit at that width
    are exact zeros after fine-tuning, and its export is bit-exact on those inputs."""
    import numpy as np
    import optuna

    from codesign.precision import derive
    from codesign.search.candidate import candidate_cost, candidate_graph
    from codesign.search.context import prepare
    from codesign.search.evaluate import trial_model, variant_model
    from codesign.search.inputs import candidate_inputs
    from codesign.search.run import choose_best, export_best

    design = tmp_path / "search_in.yaml"
    design.write_text(DESIGN.read_text().replace("name: search_tiny", "name: search_in")
                      .replace("  algorithm: random\n", "  algorithm: descent\n").replace("trials: 3", "trials: 6")
                      .replace("strategy: Latency", "strategy: distributed_arithmetic")
                      .replace("activation_bits: [3, 6]}", "activation_bits: [3, 6], input_bits: [2, 3, 4, 5]}"))
    res = runner.invoke(app, ["search", str(design), "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    study = optuna.load_study(study_name="search_in-descent",
                              storage=f"sqlite:///{tmp_path / 'search_in' / 'search' / 'study.db'}")
    done = sorted((t for t in study.trials if t.state.name == "COMPLETE"), key=lambda t: t.number)
    assert done[0].params["input_bits"] == 5 and min(t.params["input_bits"] for t in done) < 5
    for before, after in zip(done, done[1:]):
        assert sum(after.params[k] != before.params[k] for k in after.params) == 1
    ctx = prepare(design, tmp_path, {}, train_base=False, log=lambda m: None)
    # pixels that are 0 in all 1,149 fine-tuning digits: 5 at 5 bits (the digits' border), 11 at 2 bits
    assert [int(candidate_inputs(ctx, {"input_bits": b}).dead.sum()) for b in (5, 4, 3, 2)] == [5, 8, 9, 11]
    narrow = min(done, key=lambda t: (t.params["input_bits"], t.number))
    row = {"number": narrow.number, "params": __import__("json").dumps(narrow.params), "val_score": narrow.values[0]}
    inputs = candidate_inputs(ctx, narrow.params)
    assert inputs.spec.to_hls() == f"ufixed<{narrow.params['input_bits']},1>"
    variant, model = trial_model(ctx, row)
    kernel = model.get_layer("fc1").kernel.numpy()
    assert np.all(kernel[inputs.dead] == 0) and np.count_nonzero(kernel[~inputs.dead]) > 0
    built = derive(model, inputs.spec)
    assert [n.hls_precision() for n in candidate_graph(ctx, narrow.params)] == [n.hls_precision() for n in built]
    wide = dict(narrow.params, input_bits=5)
    assert candidate_cost(ctx, narrow.params).lut_equivalent < candidate_cost(ctx, wide).lut_equivalent
    base_kernel = variant_model(ctx, wide)[1].get_layer("fc1").kernel.numpy()
    assert np.all(base_kernel[candidate_inputs(ctx, wide).dead] == 0)
    chosen = choose_best(ctx, [dict(row, state="COMPLETE", within_budget=True, lut_equivalent=0)])
    out = export_best(ctx, chosen, log=lambda m: None)
    assert out["input_type"] == inputs.spec.to_hls() == out["validation"]["input_precision"]
    assert out["validation"]["bit_exact_fraction"] == 1.0 and out["validation"]["testbench_bit_exact_fraction"] == 1.0
