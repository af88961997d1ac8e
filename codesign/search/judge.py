"""`codesign search --judge yosys`: re-measure the Pareto front by synthesis (da4ml RTL + Yosys) and plot
the estimated and the measured fronts side by side, so a user sees how far the estimate can be trusted.

The estimate prices the hls4ml design of the chosen strategy; Yosys measures the fully parallel adder-graph
RTL of the same quantized network (what hls4ml's distributed_arithmetic strategy builds). Both fronts rank
the same trials, so the plot shows whether the estimate orders candidates as synthesis does.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..atomic import atomic_write_text
from ..errors import CodesignError
from . import results as R
from .context import Context
from .inputs import candidate_inputs

JUDGES = ("estimate", "yosys")
JUDGE_SAMPLES = 200  # validation inputs simulated per front point (the RTL proof, not a score)


def judge_front(ctx: Context, front: list[dict], log=print) -> list[dict]:
    """Yosys LUT/FF/CARRY and the RTL proof of every trial on the LUT-equivalent front."""
    from ..rtl.synth import synth
    from .evaluate import trial_model

    x = ctx.split.x_val if ctx.split.x_val is not None else ctx.split.x_test
    rows = []
    for row in front:
        _, model = trial_model(ctx, row)
        spec = candidate_inputs(ctx, json.loads(row["params"])).spec
        log(f"- judge yosys: trial {row['number']} (estimate LUT-eq {float(row['lut_equivalent']):,.0f})")
        judged = {"number": row["number"], "val_score": row["val_score"],
                  "estimate_lut_equivalent": float(row["lut_equivalent"]), "yosys_lut": "", "yosys_ff": "",
                  "yosys_carry": "", "rtl_bit_exact_fraction": "", "note": ""}
        try:
            result = synth(model, x[:JUDGE_SAMPLES], ctx.folder / "judge" / f"trial_{row['number']}",
                           name=f"trial_{row['number']}", part=ctx.design.export.part,
                           input_spec=spec,
                           architecture="stream" if ctx.design.export.io_type == "io_stream" else "parallel")
            judged |= {"yosys_lut": result.lut, "yosys_ff": result.ff, "yosys_carry": result.carry,
                       "rtl_bit_exact_fraction": result.rtl_bit_exact_fraction}
        except CodesignError as exc:  # e.g. over --max-lut: say so in the table, keep judging the rest
            log(f"  not measured: {exc}")
            judged["note"] = str(exc)
        rows.append(judged)
    R.write_csv(ctx.folder / "judge_yosys.csv", rows)
    plot_fronts(rows, ctx.folder / "pareto_yosys.png", ctx.design.name, ctx.design.task)
    return rows


def plot_fronts(rows: list[dict], path: Path, name: str, task) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measured = [r for r in rows if r["yosys_lut"] != ""]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for ax, key, label in ((axes[0], "estimate_lut_equivalent", "LUT + 55 x DSP (codesign estimate)"),
                           (axes[1], "yosys_lut", "LUT (Yosys synth_xilinx of the da4ml RTL)")):
        pts = sorted(measured, key=lambda r: float(r[key]))
        ax.plot([float(r[key]) for r in pts], [task.shown(r["val_score"]) for r in pts], "o-", color="C3")
        for r in pts:
            ax.annotate(str(r["number"]), (float(r[key]), task.shown(r["val_score"])), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
        ax.set_xlabel(label)
        ax.set_ylabel(f"validation {task.metric}")
    fig.suptitle(f"{name}: the estimated Pareto front, re-measured by synthesis (trial numbers)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def rank_agreement(rows: list[dict]) -> float | None:
    """Spearman correlation of estimate and Yosys LUT over the measured front points."""
    import numpy as np
    from scipy.stats import spearmanr

    pts = [(float(r["estimate_lut_equivalent"]), float(r["yosys_lut"])) for r in rows if r["yosys_lut"] != ""]
    if len(pts) < 3:
        return None
    rho = spearmanr(*np.array(pts).T).statistic
    return float(rho)


def write_summary(ctx: Context, rows: list[dict]) -> dict:
    out = {"points": rows, "spearman_estimate_vs_yosys": rank_agreement(rows)}
    atomic_write_text(ctx.folder / "judge_yosys.json", json.dumps(out, indent=2, default=float))
    return out
