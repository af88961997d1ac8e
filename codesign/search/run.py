"""`codesign search` (coordinator) and `codesign worker`: plan, evaluate, collect, export the best point."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from ..atomic import atomic_dir, atomic_write_text
from ..errors import CodesignError
from . import results as R
from . import sensitivity as S
from .candidate import base_params, candidate_cost, cost_model_text
from .context import BASE_SECTIONS, Context, design_key, prepare
from .evaluate import trial_model
from .inputs import candidate_inputs
from .judge import JUDGES, judge_front, write_summary
from .results import completed
from .runner import open_study, recover_interrupted, storage_for, work
from .strategies import greedy_path, lut_equivalent, ilp_plans, pick_feasible, population_for, spread, uniform_corners


def check_feasible(ctx: Context) -> None:
    """Some candidate at the narrowest bits must fit: every reuse factor and strategy is tried (a larger reuse
    factor meets a DSP budget a smaller one cannot; a smaller one meets a latency budget)."""
    import itertools

    bottom = ctx.space.bottom()
    axes = {k: v for k, v in ctx.space.params().items() if k in ("reuse_factor", "strategy")}
    checked = []
    for combo in itertools.product(*axes.values()):
        est = candidate_cost(ctx, bottom | dict(zip(axes, combo)))
        if not ctx.budget.violations(est):
            return
        checked.append(ctx.budget.checked(est))
    least = {k: min(t[k] for t in checked) for k in checked[0]}
    over = ctx.budget.violations(least)
    need = ", ".join(f"{k} {a:,.0f} (budget {b:,.0f})" for k, (a, b) in over.items()) or \
        "no single candidate meets every limit at once"
    raise CodesignError(f"infeasible budget: even the narrowest candidates (weights {min(ctx.space.weight_bits)} "
                        f"bits, activations {min(ctx.space.activation_bits)} bits, "
                        + (f"sparsity {max(ctx.space.sparsity):.0%}, " if len(ctx.space.sparsity) > 1 else "")
                        + "every reuse factor and strategy) "
                        f"need at least {need}")


def sensitivity(ctx: Context, progress=None, log=print) -> dict:
    path = ctx.folder / "sensitivity.json"
    # the space and base model it was measured on; v2: rows name their "choice" (bits or sparsity)
    key = design_key(ctx.design, BASE_SECTIONS + ("search",)) + ":v2"
    if path.is_file():
        cached = json.loads(path.read_text())
        if cached.get("key") == key:
            return cached
        log("- sensitivity: the design changed since it was measured; measuring again")
    start = time.perf_counter()
    rows = S.measured(ctx, progress)
    traces = S.hutchinson_traces(ctx)
    data = {"measured": rows, "hessian": S.hawq_omega(ctx, traces), "seconds": round(time.perf_counter() - start, 1),
            "key": key}
    atomic_write_text(path, json.dumps(data, indent=1))
    R.write_csv(ctx.folder / "sensitivity.csv", rows)
    log(f"- sensitivity: {len(rows)} measured points, Hessian traces {', '.join(f'{k} {v:.3g}' for k, v in traces.items())}")
    return data


def plan(ctx: Context, study, sens: dict, log=print) -> None:
    """Greedy and ILP candidates go into the study once, as enqueued trials any worker can take."""
    if ctx.settings.algorithm not in ("greedy", "ilp") or "planned" in study.user_attrs:
        return
    table = S.additive_table(sens["measured"])
    cost = lambda p: candidate_cost(ctx, p)  # noqa: E731
    n = ctx.settings.trials
    if ctx.settings.algorithm == "greedy":
        plans = pick_feasible(greedy_path(ctx.space, table, cost), ctx.budget, cost, n)
    else:
        plans = ilp_plans(ctx.space, table, cost, ctx.budget, n)
    for p in plans:
        study.enqueue_trial(p, skip_if_exists=True)
    study.set_user_attr("planned", len(plans))
    log(f"- {ctx.settings.algorithm}: {len(plans)} planned candidates")


def seed(ctx: Context, study, sens: dict, log=print) -> None:
    """Sampling strategies start from informed candidates, not random draws: the uniform corners (what a
    plain QKeras user builds) and points spread along the greedy sensitivity-per-cost path, under the cost
    model that prices the built design; at most half the trial budget, enqueued once."""
    if ctx.settings.algorithm not in ("nsga2", "random") or "seeded" in study.user_attrs:
        return
    cost = lambda p: candidate_cost(ctx, p)  # noqa: E731
    budget_ok = lambda p: not ctx.budget.violations(cost(p))  # noqa: E731
    half = max(1, ctx.settings.trials // 2)
    # corners (every width x sparsity) spread along their cost, cheapest to widest
    corners = sorted((c for c in uniform_corners(ctx.space) if budget_ok(c)), key=lambda c: -lut_equivalent(cost(c)))
    corners = spread(corners, max(1, half // 2))
    path = [p for p in greedy_path(ctx.space, S.additive_table(sens["measured"]), cost) if budget_ok(p)]
    # the path's interior: its ends are the widest and the narrowest candidates
    seeds = corners + [p for p in spread(path[1:-1], half - len(corners)) if p not in corners]
    for p in seeds[:half]:
        study.enqueue_trial(p, skip_if_exists=True)
    study.set_user_attr("seeded", len(seeds[:half]))
    n_corners = len([p for p in seeds[:half] if p in corners])
    log(f"- seeded: {n_corners} uniform corner(s) and {len(seeds[:half]) - n_corners} point(s) of the greedy path, "
        f"then {ctx.settings.algorithm}" + (f" (population {population_for(ctx.settings.trials)})"
                                           if ctx.settings.algorithm == "nsga2" else ""))


def add_base(ctx: Context, study, log=print) -> None:
    """The base QAT model, trained before the search, is a candidate as it is (no fine-tuning, no epochs):
    enqueued once, after the planned and seeded candidates."""
    if "base_added" in study.user_attrs:
        return
    params = base_params(ctx)
    study.set_user_attr("base_added", params is not None)
    if params is None:
        log("- base model: its bits are not all choices of the space, so it is not a candidate")
        return
    study.enqueue_trial(params, user_attrs={"base": True})
    log("- base model: a candidate as trained (no fine-tuning)")


def _worker_command(design: Path, out_root: Path, storage: str | None, overrides: dict) -> list[str]:
    cmd = [sys.executable, "-m", "codesign.cli", "worker", str(design), "--out", str(out_root)]
    if storage:
        cmd += ["--storage", storage]
    for key, flag in (("algorithm", "--algorithm"), ("hls_strategy", "--strategy"), ("trials", "--trials"),
                      ("budget", "--budget"), ("budget_on", "--budget-on")):
        if overrides.get(key) is not None:
            cmd += [flag, str(overrides[key])]
    return cmd


def one_chain(design: Path, overrides: dict, workers: int) -> None:
    """Before any training: a descent is one chain and takes no workers."""
    from ..design import load_design
    from .space import search_settings

    loaded = load_design(design)
    if workers > 1 and search_settings(loaded.path, loaded.extra.get("search") or {}, overrides).algorithm == "descent":
        raise CodesignError("algorithm descent is one chain of candidates, each trained from the one before: "
                            "run it without workers (--workers 1, no `codesign worker`)")


def run_worker(design: Path, out_root: Path, storage: str | None, overrides: dict, progress=None, log=print) -> int:
    one_chain(design, overrides, 2)
    ctx = prepare(design, out_root, overrides, train_base=False, log=log)
    study = open_study(ctx, storage, create=False)
    return work(ctx, study, ctx.settings.trials, progress, log)


def choose_best(ctx: Context, rows: list[dict], log=print, tries: int = 5):
    """Most accurate trial whose estimate on its own exported graph (fine-tuned weights, exact types) still
    fits the budget; the search-time estimate re-quantized the base weights and can differ slightly."""
    from ..estimate import cost_model_for

    done = sorted((r for r in rows if r["state"] == "COMPLETE" and r["within_budget"] is not False),
                  key=lambda r: (-round(r["val_score"], 6), float(r["lut_equivalent"])))
    for row in done[:tries]:
        variant, model = trial_model(ctx, row)
        exact = cost_model_for(model, variant.export, candidate_inputs(ctx, json.loads(row["params"])).spec).estimate()
        if not ctx.budget.violations(exact):
            return row, variant, model, exact
        log(f"- trial {row['number']}: over budget on its exported graph ({ctx.budget.violations(exact)})")
    return None


def export_best(ctx: Context, chosen, log=print) -> dict:
    """Export the chosen trial, C-simulate it two ways, prove it bit-exact."""
    from ..validate import verify

    row, variant, model, exact = chosen
    params = json.loads(row["params"])
    inputs = candidate_inputs(ctx, params)
    with atomic_dir(ctx.folder / "best") as tmp:
        result, _ = verify(model, inputs.split.x_test, variant.export, tmp / "hls_project",
                           name=f"{ctx.design.name}_best", input_spec=inputs.spec, progress=lambda m: log(f"  {m}"))
        task = ctx.design.task
        test = task.metrics(result.csim_outputs, inputs.split.x_test, ctx.split.y_test)
        out = {"trial": row["number"], "params": params, "input_type": inputs.spec.to_hls(),
               "val_score": row["val_score"],
               f"val_{task.metric}": task.shown(row["val_score"]), f"test_{task.metric}_csim": test[task.metric],
               "test_metrics_csim": test,
               "validation": result.to_json(), "estimate_exported_graph": exact.total,
               "estimate_interval": exact.interval,
               "estimate_lut_equivalent": exact.lut_equivalent,
               "within_budget": not ctx.budget.violations(exact)}
        model.save(tmp / "model_qat.h5")
        atomic_write_text(tmp / "results.json", json.dumps(out, indent=2, default=float))
    return out


def run_search(design: Path, out_root: Path, overrides: dict, storage: str | None, workers: int,
               progress=None, log=print, judge: str = "estimate", export: bool = True) -> dict:
    """The search; `export=False` stops once every trial is stored (trials.csv, the fronts), before the best is
    exported and proven (a benchmark that judges the trials itself)."""
    start = time.perf_counter()
    if judge not in JUDGES:
        raise CodesignError(f"--judge {judge!r}; allowed: {', '.join(JUDGES)}")
    if judge == "yosys":  # before hours of training, not after
        from ..rtl.tools import require_synthesis_tools

        require_synthesis_tools()
    if storage is not None:  # reachable before hours of training, not after
        storage_for(storage, Path(out_root))
    one_chain(design, overrides, workers)
    ctx = prepare(design, out_root, overrides, train_base=True, log=log, progress=progress)
    log(f"- cost model: {cost_model_text(ctx)}")
    check_feasible(ctx)
    study = open_study(ctx, storage, create=True)
    retried = recover_interrupted(study)
    if retried:
        log(f"- resumed: {retried} interrupted trial(s) enqueued again")
    sens = sensitivity(ctx, progress, log)
    plan(ctx, study, sens, log)
    seed(ctx, study, sens, log)
    add_base(ctx, study, log)
    procs = [subprocess.Popen(_worker_command(design, out_root, storage, overrides), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for _ in range(max(0, workers - 1))]
    here = work(ctx, study, ctx.settings.trials, progress, log)
    for p in procs:
        p.wait()
    rows = R.trial_rows(study)
    R.write_csv(ctx.folder / "trials.csv", rows)
    fronts = {k: R.pareto(rows, k) for k in ("lut_equivalent", "latency_cycles")}
    R.write_csv(ctx.folder / "pareto_lut_equivalent.csv", fronts["lut_equivalent"])
    R.write_csv(ctx.folder / "pareto_latency.csv", fronts["latency_cycles"])
    if not export:
        return {"design": ctx.design.name, "trials_completed": completed(study), "trials_total": len(rows),
                "wall_seconds": round(time.perf_counter() - start, 1)}
    chosen = choose_best(ctx, rows, log)
    R.plot(rows, fronts, ctx.budget.limits(), ctx.folder / "pareto.png",
           f"{ctx.design.name}: {ctx.settings.algorithm}, {completed(study)} trials", ctx.design.task,
           chosen=chosen[0] if chosen else None)
    if chosen is None:
        raise CodesignError("no completed trial fits the budget on its exported graph; widen the budget or the "
                            "search space, or run more trials")
    log(f"- best trial {chosen[0]['number']}: validation {ctx.design.task.metric} "
        f"{ctx.design.task.shown(chosen[0]['val_score']):.4g}, "
        f"LUT-eq {chosen[3].lut_equivalent:,.0f}; exporting")
    best = export_best(ctx, chosen, log)
    summary = {"design": ctx.design.name, "task": ctx.design.task.name, "metric": ctx.design.task.metric,
               "algorithm": ctx.settings.algorithm, "cost_model": cost_model_text(ctx), "budget": ctx.budget.limits(),
               "trials_completed": completed(study), "trials_total": len(rows), "evaluated_by_this_process": here,
               "workers": workers, "retried_after_interrupt": retried, "sensitivity_seconds": sens["seconds"],
               "best": best, "pareto_lut_equivalent": fronts["lut_equivalent"],
               "wall_seconds": round(time.perf_counter() - start, 1)}
    if judge == "yosys":
        judged = judge_front(ctx, fronts["lut_equivalent"], log)
        summary["judge_yosys"] = write_summary(ctx, judged)
    atomic_write_text(ctx.folder / "search.json", json.dumps(summary, indent=2, default=float))
    from .report import write_search_report

    write_search_report(ctx, summary, sens)
    return summary
