"""Search outputs: trials.csv, Pareto fronts (CSV + PNG), the best point within budget."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from ..tasks import CLASSIFICATION, Task

RESOURCE_COLUMNS = ("lut", "ff", "dsp", "bram_18k", "latency_cycles", "ii")


def trial_rows(study) -> list[dict]:
    rows = []
    for t in study.get_trials(deepcopy=False):
        est = t.user_attrs.get("estimate", {})
        rows.append({
            "number": t.number, "state": t.state.name, "params": t.user_attrs.get("params_json", json.dumps(t.params)),
            "val_score": t.values[0] if t.values else "", "lut_equivalent": t.user_attrs.get("lut_equivalent", ""),
            **{k: est.get(k, "") for k in RESOURCE_COLUMNS},
            "within_budget": t.user_attrs.get("within_budget", ""),
            "rejected_by_cost_model": json.dumps(t.user_attrs["rejected"]) if "rejected" in t.user_attrs else "",
            "seconds": t.user_attrs.get("seconds", ""), "worker": t.user_attrs.get("worker", ""),
            "retry_of": t.user_attrs.get("retry_of", ""),
        })
    return rows


def write_csv(path: Path, rows: list[dict]) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as fh:
        if rows:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    tmp.replace(path)


def pareto(rows: list[dict], cost_key: str) -> list[dict]:
    """Non-dominated completed trials: higher score (accuracy, or minus the MSE) and lower cost."""
    pts = sorted((r for r in rows if r["state"] == "COMPLETE"), key=lambda r: (float(r[cost_key]), -r["val_score"]))
    front, best = [], -float("inf")
    for r in pts:
        if r["val_score"] > best:
            front.append(r)
            best = r["val_score"]
    return front


def plot(rows: list[dict], fronts: dict[str, list[dict]], limits: dict[str, float], path: Path, title: str,
         task: Task = CLASSIFICATION, chosen: dict | None = None) -> None:
    """Trials and Pareto fronts against cost and latency; the chosen design marked. Costs are the estimates of
    each trial after fine-tuning (its weights moved), so a trial the budget let in may land beyond it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in rows if r["state"] == "COMPLETE"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, (key, label, limit_key) in zip(axes, (("lut_equivalent", "LUT + 55 x DSP (estimate)", "lut"),
                                                  ("latency_cycles", "latency, cycles (estimate)",
                                                   "latency_cycles"))):
        ax.scatter([float(r[key]) for r in done], [task.shown(r["val_score"]) for r in done], s=14, alpha=0.5,
                   label="trials")
        f = fronts[key]
        ax.step([float(r[key]) for r in f], [task.shown(r["val_score"]) for r in f], where="post", color="C3",
                marker="o", ms=4, label="Pareto front")
        if chosen is not None:
            ax.scatter([float(chosen[key])], [task.shown(chosen["val_score"])], s=140, facecolors="none",
                       edgecolors="k", lw=1.5, zorder=5, label=f"chosen: trial {chosen['number']}")
        if limit_key and limit_key in limits:
            ax.axvline(limits[limit_key], color="k", ls="--", lw=0.8,
                       label="budget (trials are costed after fine-tuning)")
        values = {float(r[key]) for r in done}
        if len(values) == 1:  # every trial has the same latency: say so instead of a one-column plot
            ax.text(0.5, 0.06, f"all {len(done)} trials have {label.split(',')[0].split(' (')[0]} {values.pop():g}",
                    transform=ax.transAxes, ha="center", fontsize=8)
        ax.set_xlabel(label)
        ax.set_ylabel(f"validation {task.metric}")
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def spent_epochs(study) -> int:
    """Fine-tuning epochs the completed trials trained."""
    from optuna.trial import TrialState

    return sum(t.user_attrs.get("epochs", 0) for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))


def completed(study) -> int:
    """Completed trials."""
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))


def used(ctx, study) -> float:
    """Trials spent: completed trials; with successive halving or a descent, their fine-tuning epochs in units
    of a fully trained candidate (the base model and candidates scored as they are cost none)."""
    if not ctx.settings.halving and ctx.settings.algorithm != "descent":
        return completed(study)
    return spent_epochs(study) / ctx.settings.finetune_epochs
