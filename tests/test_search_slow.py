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
        res = runner.invoke(app, ["search", str(DESIGN), "--out", str(out), "--strategy", strategy,
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
