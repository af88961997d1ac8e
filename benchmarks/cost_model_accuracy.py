"""Cross-validated accuracy of the cost model vs the EBOPs proxy on the calibration corpus; throughput.

    .venv/bin/python benchmarks/cost_model_accuracy.py [CORPUS.jsonl] [--out reports/cost_model_accuracy.md]

Grouped 5-fold cross-validation: every record is scored by coefficients fitted without its design family
(all seeds/epochs of one model fall in the same fold), so no point is fitted and scored at once.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hw_models import load_part  # noqa: E402
from hw_models.corpus import load_records  # noqa: E402
from hw_models.costmodel import CostModel  # noqa: E402
from hw_models.fit import cross_validate, group_folds  # noqa: E402
from hw_models.layers import ebops  # noqa: E402

RESOURCES = ("lut", "ff", "dsp", "bram_18k", "latency_cycles")
DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "calibration" / "synthesis_corpus.jsonl"


def ape(pred, y):
    return np.abs(pred - y) / np.maximum(y, 1.0) * 100


def ebops_cv(recs, target: np.ndarray, k=5) -> np.ndarray:
    """EBOPs x a scale fitted (median ratio) on the other folds: the fairest use of the proxy."""
    e = np.array([ebops(r.layers) for r in recs])
    pred = np.zeros(len(recs))
    for test in group_folds(recs, k):
        train = np.setdiff1d(np.arange(len(recs)), test)
        ok = train[(e[train] > 0) & (target[train] > 0)]
        pred[test] = e[test] * float(np.median(target[ok] / e[ok]))
    return pred


def stats(err: np.ndarray) -> str:
    return f"{np.median(err):.1f} / {np.percentile(err, 90):.1f}" if len(err) else "n/a"


def throughput(recs) -> tuple[float, int]:
    """Seconds per candidate for CostModel.estimate with changed widths (the search's inner loop)."""
    rec = max(recs, key=lambda r: len(r.layers))
    model = CostModel(rec.layers, load_part("xcvu13p-flga2577-2-e"), rec.clock_ns)
    macs = [L.name for L in rec.layers if L.weights]
    rng = np.random.default_rng(0)
    cands = [{n: {"w_bits": int(rng.integers(2, 9)), "res_bits": int(rng.integers(3, 9))} for n in macs}
             for _ in range(2000)]
    for c in cands[:100]:
        model.estimate(c)
    start = time.perf_counter()
    for c in cands:
        model.estimate(c)
    return (time.perf_counter() - start) / len(cands), len(rec.layers)


def plot(recs, pred, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(16, 4))
    for ax, res in zip(axes, ("lut", "ff", "dsp", "latency_cycles")):
        y = np.array([r.target.get(res, np.nan) for r in recs])
        for group, marker in (("result_tables", "o"), ("committed_reports", "s"), ("hls4ml_pytest_baselines", "^")):
            m = np.array([r.source_group == group for r in recs]) & ~np.isnan(y)
            ax.scatter(y[m] + 1, pred[res][m] + 1, s=12, marker=marker, label=group, alpha=0.7)
        lo, hi = 1, np.nanmax(y) * 2 + 2
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set_xscale("log"), ax.set_yscale("log")
        ax.set_title(f"{res} (cross-validated)")
        ax.set_xlabel("report + 1"), ax.set_ylabel("estimate + 1")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--out", type=Path, default=Path("reports/cost_model_accuracy.md"))
    args = ap.parse_args()
    recs, skipped = load_records(args.corpus)
    start = time.perf_counter()
    pred = cross_validate(recs, k=5)
    cv_s = time.perf_counter() - start
    y = {res: np.array([r.target.get(res, np.nan) for r in recs]) for res in RESOURCES}
    lut_eq = y["lut"] + 55 * y["dsp"]
    subsets = {"all": np.ones(len(recs), bool)}
    for g in ("result_tables", "committed_reports", "hls4ml_pytest_baselines"):
        subsets[g] = np.array([r.source_group == g for r in recs])
    for io in ("io_parallel", "io_stream"):
        subsets[io] = np.array([r.io_type == io for r in recs])
    eb = {"lut": ebops_cv(recs, y["lut"]), "ff": ebops_cv(recs, y["ff"]), "lut_eq": ebops_cv(recs, lut_eq)}
    lines = ["# Cost model accuracy (HLS C-synthesis level)", "",
             f"Corpus: `{args.corpus.name}`, {len(recs)} usable C-synthesis records of {len(recs) + sum(skipped.values())}"
             f" (skipped records listed below). Grouped 5-fold cross-validation by design family: every figure "
             f"is an out-of-fold prediction. Absolute percentage error (APE) = |estimate - report| / max(report, 1).",
             "", "## Error per resource: median / 90th-percentile APE (%)", "",
             "| subset | n | LUT ours | LUT EBOPs | FF ours | FF EBOPs | DSP ours | BRAM ours | latency ours | "
             "LUT+55·DSP ours | LUT+55·DSP EBOPs |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, m in subsets.items():
        cells = [name, str(int(m.sum()))]
        for res in RESOURCES:
            ok = m & ~np.isnan(y[res])
            cells.append(stats(ape(pred[res][ok], y[res][ok])))
            if res in eb:
                cells.append(stats(ape(eb[res][ok], y[res][ok])))
        ours_eq = pred["lut"] + 55 * pred["dsp"]
        cells += [stats(ape(ours_eq[m], lut_eq[m])), stats(ape(eb["lut_eq"][m], lut_eq[m]))]
        lines.append("| " + " | ".join(cells) + " |")
    par = subsets["io_parallel"] & ~np.isnan(y["latency_cycles"])
    within1 = np.mean(np.abs(pred["latency_cycles"][par] - y["latency_cycles"][par]) <= 1)
    n_mac = np.array([sum(1 for L in r.layers if L.weights) for r in recs])
    dsp_ok = np.mean(np.abs(pred["dsp"] - y["dsp"]) <= n_mac)
    dsp_exact_known = [i for i, r in enumerate(recs) if r.source_group == "committed_reports"]
    per_s, n_layers = throughput(recs)
    lines += ["", "## Targets (issue 3)", "",
              "| target | measured (cross-validated) | met |", "|---|---|---|",
              f"| median LUT APE <= 15% | {np.median(ape(pred['lut'], y['lut'])):.1f}% | "
              f"{'yes' if np.median(ape(pred['lut'], y['lut'])) <= 15 else 'no'} |",
              f"| median FF APE <= 20% | {np.median(ape(pred['ff'], y['ff'])):.1f}% | "
              f"{'yes' if np.median(ape(pred['ff'], y['ff'])) <= 20 else 'no'} |",
              f"| DSP within +-1 per layer | {dsp_ok:.0%} of records (total DSP within +- number of MAC layers) | "
              f"{'yes' if dsp_ok >= 0.95 else 'no'} |",
              f"| io_parallel latency within +-1 cycle | {within1:.0%} of {int(par.sum())} records | "
              f"{'yes' if within1 >= 0.95 else 'no'} |",
              f"| one candidate well under 1 ms | {per_s * 1e3:.3f} ms ({n_layers}-layer model, "
              f"{1 / per_s:,.0f} candidates/s, 1 core) | {'yes' if per_s < 1e-3 else 'no'} |",
              "", f"Cross-validation took {cv_s:.1f} s. DSP on the {len(dsp_exact_known)} committed-report records "
              f"(weight statistics from the firmware): median APE "
              f"{np.median(ape(pred['dsp'][dsp_exact_known], y['dsp'][dsp_exact_known])):.1f}%.",
              "", "![estimate vs report](cost_model_accuracy.png)", "", "## Skipped records", ""]
    lines += [f"- {n}: {reason}" for reason, n in sorted(skipped.items(), key=lambda kv: -kv[1])]
    lines += ["", "Regenerate: `.venv/bin/python benchmarks/cost_model_accuracy.py`."]
    da = args.out.with_name("da_estimator.md")
    if da.is_file():  # the distributed_arithmetic template is measured by Yosys (benchmarks/da_corpus.py --fit)
        lines += ["", "## distributed_arithmetic template (against Yosys)", ""] + da.read_text().splitlines()[1:]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    plot(recs, pred, args.out.with_suffix(".png"))
    tmp = args.out.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(args.out)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
