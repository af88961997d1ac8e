"""search.md: the human summary beside trials.csv, the Pareto CSVs and pareto.png."""

from __future__ import annotations

import json

from ..atomic import atomic_write_text
from ..html import write_html
from .context import Context
from .space import DESCRIBE_LEGEND, describe


def _params(p) -> dict:
    """A trial's params: a dict, or the JSON of one (trials.csv rows)."""
    return json.loads(p) if isinstance(p, str) else p


def write_search_report(ctx: Context, s: dict, sens: dict) -> None:
    b = s["best"]
    v = b["validation"]
    task = ctx.design.task
    metric = task.metric
    lines = [f"# Search: {s['design']} ({s['algorithm']})", "",
             f"Part {ctx.part.part}, clock {ctx.design.export.clock_ns} ns, {ctx.design.export.io_type}. "
             f"Budget: {ctx.budget.describe()}. {s['trials_completed']} trials completed, "
             f"{s['trials_total'] - s['trials_completed']} rejected by the cost model or interrupted; "
             f"{s['workers']} worker(s); wall time {s['wall_seconds']:.0f} s.", "",
             f"Candidates priced by {s['cost_model']}. Candidates read {DESCRIBE_LEGEND}.", "",
             "## Best point within budget (exported, C-simulated)", "",
             f"- candidate: `{describe(_params(b['params']))}`",
             f"- validation {metric} {b['val_' + metric]:.4g}; test {metric} of the C simulation "
             f"{b['test_' + metric + '_csim']:.4g}",
             f"- bit-exact fraction {v['bit_exact_fraction']}, test bench {v['testbench_bit_exact_fraction']}",
             "- estimate on the exported graph: " + ", ".join(f"{k} {x:,.0f}" for k, x in
                                                            b["estimate_exported_graph"].items()) +
             f"; LUT-equivalent {b['estimate_lut_equivalent']:,.0f}; within budget: {b['within_budget']}", "",
             f"## Pareto front (validation {metric} vs LUT + 55 DSP)", "",
             f"| trial | {metric} | LUT-eq | LUT | DSP | latency | candidate |", "|---|---|---|---|---|---|---|"]
    for r in s["pareto_lut_equivalent"]:
        lines.append(f"| {r['number']} | {task.shown(r['val_score']):.4g} | {float(r['lut_equivalent']):,.0f} | "
                     f"{float(r['lut']):,.0f} | {float(r['dsp']):,.0f} | {float(r['latency_cycles']):,.0f} | "
                     f"`{describe(_params(r['params']))}` |")
    lines += ["", "![Pareto fronts](pareto.png)", "", "## Sensitivity", "",
              "Measured: validation loss increase when only that knob is lowered (bits) or raised (sparsity; the rest at the widest choice, "
              "no fine-tuning). Hessian: Hutchinson trace of the loss w.r.t. the layer's kernel and HAWQ-v2 "
              "Omega = Tr(H)/n x ||Q(W) - W||^2.", "",
              f"| param | choice | delta loss | delta {metric} |", "|---|---|---|---|"]
    for r in sens["measured"]:
        lines.append(f"| {r['param']} | {r['choice']} | {r['delta_loss']:.4f} | {r['delta_score']:.4f} |")
    lines += ["", "| layer | weight bits | Hessian trace | Omega |", "|---|---|---|---|"]
    for r in sens["hessian"]:
        lines.append(f"| {r['layer']} | {r['bits']} | {r['trace']:.4g} | {r['omega']:.3g} |")
    lines += ["", "Files: `trials.csv` (every trial), `pareto_lut_equivalent.csv`, `pareto_latency.csv`, "
                  "`sensitivity.csv`, `study.db` (optuna storage), `best/` (HLS project, model, results.json)."]
    atomic_write_text(ctx.folder / "search.md", "\n".join(lines) + "\n")
    write_html(ctx.folder / "search.md", f"codesign search: {s['design']}")
