"""Cross-validated accuracy of the cost model vs the EBOPs proxy on the calibration corpus; throughput.

    .venv/bin/python benchmarks/cost_model_accuracy.py [CORPUS.jsonl ...] [--out reports/cost_model_accuracy.md]

Both corpus files by default (`synthesis_corpus.jsonl` and the 20 repositories of `synthesis_corpus_more.jsonl`).

Grouped 5-fold cross-validation: every record is scored by coefficients fitted without its design family
(all seeds/epochs of one model fall in the same fold), so no point is fitted and scored at once.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

# one BLAS thread per process (set before numpy loads; the spawned workers inherit it): the nested selection runs
# --jobs processes, and their small least-squares fits ran ~8x slower with BLAS threads competing for the cores
for _threads in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_threads, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codesign.atomic import atomic_write_text  # noqa: E402
from hw_models import load_part  # noqa: E402
from hw_models.corpus import SYNTH_KINDS, load_records, synth_pairs  # noqa: E402
from hw_models.cost import lut_equivalent  # noqa: E402
from hw_models.costmodel import CostModel  # noqa: E402
from hw_models.coefficients import Coefficients  # noqa: E402
from hw_models.fit import (MIN_TEMPLATE_RECORDS, SYNTH_RESOURCES, Variant, cross_validate,  # noqa: E402
                           dominant_template, nested_leave_one_repository_out, ratio_intervals, synth_held_out,
                           synth_ratios)
from hw_models.layers import ebops  # noqa: E402

RESOURCES = ("lut", "ff", "dsp", "bram_18k", "latency_cycles")
CALIBRATION = Path(__file__).resolve().parents[2] / "shared" / "calibration"
DEFAULT_CORPORA = [CALIBRATION / "synthesis_corpus.jsonl", CALIBRATION / "synthesis_corpus_more.jsonl"]
GENERATION_NAMES = {"vivado_hls": "Vivado HLS (2018-2020)", "vitis": "Vitis HLS (2020.1-2025)"}


def ape(pred, y):
    return np.abs(pred - y) / np.maximum(y, 1.0) * 100


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


def target_rows(pred: dict, y: dict, columns: dict) -> list[tuple[str, list[str]]]:
    """Issue 23's targets per column (a subset of records): (label, cells), each cell 'value (met|missed)'."""
    def cell(value: str, met: bool) -> str:
        return f"{value} ({'met' if met else 'missed'})"

    rows = {"median LUT APE <= 15%": [], "median FF APE <= 20%": [], "median DSP APE <= 10% (or 4 DSPs)": [],
            "p90 LUT APE <= 50%": [], "latency within 2 cycles on most records": [],
            "designs off by more than 2x on LUT or FF: none": []}
    for m in columns.values():
        err = {res: ape(pred[res][m], y[res][m]) for res in ("lut", "ff", "dsp")}
        dsp_abs = float(np.median(np.abs(pred["dsp"][m] - y["dsp"][m])))
        lat = m & ~np.isnan(y["latency_cycles"])
        within = float(np.mean(np.abs(pred["latency_cycles"][lat] - y["latency_cycles"][lat]) <= 2))
        ratio = {res: np.maximum(pred[res][m], 1) / np.maximum(y[res][m], 1) for res in ("lut", "ff")}
        off = int(np.sum((np.abs(np.log2(ratio["lut"])) > 1) | (np.abs(np.log2(ratio["ff"])) > 1)))
        cells = (cell(f"{np.median(err['lut']):.1f}%", np.median(err["lut"]) <= 15),
                 cell(f"{np.median(err['ff']):.1f}%", np.median(err["ff"]) <= 20),
                 cell(f"{np.median(err['dsp']):.1f}% / {dsp_abs:.0f} DSP", np.median(err["dsp"]) <= 10 or dsp_abs <= 4),
                 cell(f"{np.percentile(err['lut'], 90):.1f}%", np.percentile(err["lut"], 90) <= 50),
                 cell(f"{within:.0%} of {int(lat.sum())}", within > 0.5),
                 cell(f"{off} of {int(m.sum())}", off == 0))
        for row, c in zip(rows.values(), cells):
            row.append(c)
    return list(rows.items())


def loro_ebops(recs, target: np.ndarray) -> np.ndarray:
    """EBOPs x a scale fitted (median ratio) on the other repositories."""
    e = np.array([ebops(r.layers) for r in recs])
    pred = np.zeros(len(recs))
    for repo in sorted({r.repo for r in recs}):
        test = np.array([r.repo == repo for r in recs])
        ok = ~test & (e > 0) & (target > 0)
        pred[test] = e[test] * float(np.median(target[ok] / e[ok]))
    return pred


def coverage(recs, pred: dict, res: str) -> float:
    """Fraction of records whose report lies in [p10, p90] x estimate, the ratios taken from the held-out
    predictions of the other repositories only."""
    inside = []
    for repo in sorted({r.repo for r in recs}):
        others = [i for i, r in enumerate(recs) if r.repo != repo]
        band = ratio_intervals([recs[i] for i in others], {k: v[others] for k, v in pred.items()}).get(res)
        for i, r in enumerate(recs):
            if r.repo == repo and band and res in r.target:
                inside.append(band[0] * pred[res][i] <= r.target[res] <= band[1] * pred[res][i])
    return float(np.mean(inside))


def synth_section(corpora: list[Path], recs, variant) -> list[str]:
    """The synth level: HLS C-synthesis x (Vivado post-synthesis / C-synthesis), both validated with the
    repository held out."""
    pairs = [p for corpus in corpora for p in synth_pairs(corpus)]
    synth_recs = [r for corpus in corpora for r in load_records(corpus, SYNTH_KINDS)[0]]
    ratio_err = {res: [] for res in SYNTH_RESOURCES}
    for repo in sorted({p.repo for p in pairs}):
        ratio = synth_ratios(pairs, without=repo)
        for p in pairs:
            for res in SYNTH_RESOURCES:
                if p.repo == repo and res in p.synth and res in p.csynth:
                    ratio_err[res].append(float(ape(np.array(p.csynth[res] * ratio.get(res, 1.0)),
                                                    np.array(p.synth[res]))))
    pred = synth_held_out(recs, synth_recs, pairs, variant)
    y = {res: np.array([r.target[res] for r in synth_recs]) for res in SYNTH_RESOURCES}
    shipped = synth_ratios(pairs)
    lines = ["## Synth level (Vivado post-synthesis)", "",
             f"`--level synth` (the default) multiplies the C-synthesis estimate by the post-synthesis / C-synthesis "
             f"ratio, the median over {len(pairs)} hls4ml projects of {len({p.repo for p in pairs})} repositories "
             f"that have both reports (`hw_models.corpus.synth_pairs`): "
             + ", ".join(f"{k} {v:.2f}" for k, v in shipped.items()) + ". HLS overstates LUT about 2x.", "",
             "| check (repository held out) | n | LUT | FF | DSP | BRAM |", "|---|---|---|---|---|---|",
             f"| the ratio applied to the real C-synthesis report | {len(pairs)} | "
             + " | ".join(stats(np.array(ratio_err[res])) for res in SYNTH_RESOURCES) + " |",
             f"| our estimate, end to end, on the {len(synth_recs)} reconstructable post-synthesis records | "
             f"{len(synth_recs)} | " + " | ".join(stats(ape(pred[res], y[res])) for res in SYNTH_RESOURCES) + " |", "",
             "Its interval (p10 - p90 of report / estimate on those records, each from a fit and ratios without "
             "its repository; what `--level synth` and the search's budget check use): " + ", ".join(
                 f"{k} {lo:.2f} - {hi:.2f}" for k, (lo, hi) in Coefficients.load().synth_intervals.items()) + ".", "",
             "Median / p90 APE (%). The end-to-end row has few records (" + ", ".join(
                 f"{repo.split(' (')[0]}: {sum(r.repo == repo for r in synth_recs)}"
                 for repo in sorted({r.repo for r in synth_recs})) + "); target: median LUT APE <= 20%: "
             + ("met" if np.median(ape(pred["lut"], y["lut"])) <= 20 else "not met") + ".", ""]
    return lines


def template_section(recs, pred, y, shipped: Coefficients) -> list[str]:
    """Errors per template: each record under the template that makes most of its estimated LUT."""
    from hw_models.templates import TEMPLATES, template_of

    dom = np.array([dominant_template(r, shipped) for r in recs])
    present = {template_of(L).name for r in recs for L in r.layers}
    lines = ["## Per template (nested leave-one-repository-out, C-synthesis level)", "",
             "Each record is counted under the template that makes most of its estimated LUT "
             "(`hw_models.fit.dominant_template`; the estimators are `hw_models/templates.py`, one per hls4ml "
             "template). Its interval is the p10 - p90 of report / estimate over the held-out predictions of the "
             f"designs it dominates (at least {MIN_TEMPLATE_RECORDS}; else the interval of all designs).", "",
             "| template | hls4ml source | designs it dominates | LUT | FF | DSP | latency | latency within 2 cycles | "
             "its LUT interval |", "|---|---|---|---|---|---|---|---|---|"]
    for t in TEMPLATES:
        m = dom == t.name
        if not m.any():
            note = "in designs, never dominant" if t.name in present else "no record uses it"
            if t.name == "distributed_arithmetic":
                note = "no HLS report uses it; measured against Yosys at the end of this report"
            lines.append(f"| {t.name} | {t.source} | 0 ({note}) | | | | | | |")
            continue
        cells = []
        for res in ("lut", "ff", "dsp", "latency_cycles"):
            ok = m & ~np.isnan(y[res])
            cells.append(stats(ape(pred[res][ok], y[res][ok])) if ok.any() else "")
        lat = m & ~np.isnan(y["latency_cycles"])
        within = f"{np.mean(np.abs(pred['latency_cycles'][lat] - y['latency_cycles'][lat]) <= 2):.0%}" \
            if lat.any() else ""
        band = shipped.template_intervals.get(t.name, {}).get("lut")
        lines.append(f"| {t.name} | {t.source} | {int(m.sum())} | " + " | ".join(cells) + f" | {within} | "
                     + (f"{band[0]:.2f} - {band[1]:.2f}" if band else "all designs'") + " |")
    lines += ["", "Median / p90 APE (%). Weak where the rows say so; templates with no dominant record are estimated "
              "but not validated here.", ""]
    return lines


def per_layer_section(recs, variant) -> list[str]:
    """Per-layer errors against the csynth instance tables: which template's share is off. Each layer is
    estimated by a fit without its repository (neither its totals nor its instance rows)."""
    from hw_models.cost import estimate_layer
    from hw_models.fit import _ports, fit
    from hw_models.templates import TEMPLATES, template_of

    rows = []  # (template, estimate, report)
    with_rows = [r for r in recs if r.per_layer]
    for repo in sorted({r.repo for r in with_rows}):
        c = fit([r for r in recs if r.repo != repo], variant=variant)
        for r in (r for r in with_rows if r.repo == repo):
            for layer in r.layers:
                if layer.name in r.per_layer:
                    rows.append((template_of(layer).name, estimate_layer(layer, c, _ports(r), c.clock(r.clock_ns, r.part)),
                                 r.per_layer[layer.name]))
    lines = ["## Per layer, against the C-synthesis instance tables", "",
             f"{len(rows)} layers of {len(with_rows)} designs ({len({r.repo for r in with_rows})} repositories) have "
             "their own row in the report's instance table (`per_layer_results`). Each is estimated by coefficients "
             "fitted on the other repositories (their design totals and, where the variant uses them, their instance rows). "
             "Median / p90 APE (%); io_stream FIFOs sit outside "
             "the instances, so io_stream layers are compared without them in the report but with their stream "
             "interface in the estimate.", "",
             "| template | layers | LUT | FF | DSP | latency within 2 cycles |", "|---|---|---|---|---|---|"]
    for t in TEMPLATES:
        got = [(e, y) for name, e, y in rows if name == t.name]
        if not got:
            continue
        cells = [stats(ape(np.array([e[k] for e, _ in got]), np.array([y[k] for _, y in got])))
                 for k in ("lut", "ff", "dsp")]
        within = np.mean([abs(e["latency_cycles"] - y["latency_cycles"]) <= 2 for e, y in got])
        lines.append(f"| {t.name} | {len(got)} | " + " | ".join(cells) + f" | {within:.0%} |")
    return lines + ["", "io_stream linear activations are a copy-and-cast loop over every pixel with an instance of their "
                        "own (about 250 LUT each), so the estimator counts them as element-wise layers.", ""]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", nargs="*", type=Path, default=DEFAULT_CORPORA)
    ap.add_argument("--out", type=Path, default=Path("reports/cost_model_accuracy.md"))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes for the nested selection")
    args = ap.parse_args()
    recs, skipped, source = [], {}, []
    for corpus in args.corpus:
        got, why = load_records(corpus)
        recs += got
        source += [corpus.name] * len(got)
        for reason, n in why.items():
            skipped[f"{corpus.name}: {reason}"] = n
    repos = sorted({r.repo for r in recs})
    start = time.perf_counter()
    pred, chosen = nested_leave_one_repository_out(
        recs, progress=lambda repo, v: print(f"held out {repo}: {v.label()}", flush=True), jobs=args.jobs)
    cv_s = time.perf_counter() - start
    shipped = Coefficients.load()
    family = cross_validate(recs, k=5, variant=Variant(**shipped.meta["variant"]))
    y = {res: np.array([r.target.get(res, np.nan) for r in recs]) for res in RESOURCES}
    lut_eq = lut_equivalent(y)
    subsets = {"all": np.ones(len(recs), bool)}
    for io in ("io_parallel", "io_stream"):
        subsets[io] = np.array([r.io_type == io for r in recs])
    generations = {GENERATION_NAMES[g]: np.array([r.generation == g for r in recs]) for g in GENERATION_NAMES}
    subsets |= generations
    if len(args.corpus) > 1:
        subsets |= {corpus.name: np.array([s == corpus.name for s in source]) for corpus in args.corpus}
    for repo in repos:
        subsets[repo] = np.array([r.repo == repo for r in recs])
    eb = {"lut": loro_ebops(recs, y["lut"]), "ff": loro_ebops(recs, y["ff"]), "lut_eq": loro_ebops(recs, lut_eq)}
    hgq_stated = np.array([ebops(r.layers) for r in recs])  # HGQ: LUT + 55 DSP ~ EBOPs, no scale
    lines = ["# Cost model accuracy", "",
             f"Corpus: {', '.join(f'`{c.name}`' for c in args.corpus)}, {len(recs)} usable C-synthesis records of "
             f"{len(recs) + sum(skipped.values())} (skipped records listed below), from {len(repos)} repositories.",
             "", "**Validation: nested leave-one-repository-out.** Every record is scored by coefficients fitted "
             "without its whole repository, and the model structure (the `Variant`: repository weighting, feature "
             "set, whether the csynth instance rows of single layers join the design totals in the fit, clock "
             "pressure and the 7 series fabric delay) is chosen by leave-one-repository-out on the other "
             "repositories only (score: the mean over repositories of their median LUT and FF APE; the latency "
             "fit's own repository weighting and fabric delay by the share of records within 2 cycles). A "
             "repository held out is what a user's own design is to the corpus: other tool versions, precisions "
             "and habits. Absolute percentage error (APE) = |estimate - report| / max(report, 1).", "",
             "Structure chosen per held-out repository: " + "; ".join(
                 f"{repo.split(' (')[0]}: {v.label()}" for repo, v in chosen.items()) + ".", "",
             "## Error per resource: median / 90th-percentile APE (%)", "",
             "| subset | n | LUT ours | LUT EBOPs | FF ours | FF EBOPs | DSP ours | BRAM ours | latency ours | "
             "LUT+55·DSP ours | LUT+55·DSP EBOPs (scaled) | LUT+55·DSP = EBOPs (HGQ) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, m in subsets.items():
        cells = [name.split(" (")[0], str(int(m.sum()))]
        for res in RESOURCES:
            ok = m & ~np.isnan(y[res])
            cells.append(stats(ape(pred[res][ok], y[res][ok])))
            if res in eb:
                cells.append(stats(ape(eb[res][ok], y[res][ok])))
        ours_eq = lut_equivalent(pred)
        cells += [stats(ape(ours_eq[m], lut_eq[m])), stats(ape(eb["lut_eq"][m], lut_eq[m])),
                  stats(ape(hgq_stated[m], lut_eq[m]))]
        lines.append("| " + " | ".join(cells) + " |")
    per_s, n_layers = throughput(recs)
    fam = {res: float(np.median(ape(family[res], y[res]))) for res in ("lut", "ff")}
    columns = {"all": subsets["all"]} | generations
    lines += ["", "## Targets (issue 23, C-synthesis level, nested leave-one-repository-out, per tool generation)", "",
              "| target | " + " | ".join(f"{name} ({int(m.sum())})" for name, m in columns.items()) + " |",
              "|---|" + "---|" * len(columns)]
    for label, row in target_rows(pred, y, columns):
        lines.append(f"| {label} | " + " | ".join(row) + " |")
    lines += [f"| one candidate under 1 ms | {per_s * 1e3:.3f} ms ({n_layers}-layer model, {1 / per_s:,.0f} "
              f"candidates/s, 1 core){' (met)' if per_s < 1e-3 else ' (missed)'} |" + " |" * (len(columns) - 1), "",
              "## Intervals", "",
              "Every estimate carries [p10, p90] x estimate, the ratios report / estimate of held-out predictions "
              f"(shipped: {', '.join(f'{k} {lo:.2f} - {hi:.2f}' for k, (lo, hi) in shipped.intervals.items())}). "
              "Share of records whose report fell inside the interval computed without their repository: "
              + ", ".join(f"{res} {coverage(recs, pred, res):.0%}" for res in ("lut", "ff", "dsp")) + " (80% is the "
              "aim). `codesign search` treats a budget as met only when the upper bound fits (`--budget-on upper`, "
              "the default).", "",
              "## The old measure, for comparison", "",
              f"Grouped 5-fold by design family (what this report used to show; one repository supplies "
              f"{max(int(subsets[r].sum()) for r in repos)} of {len(recs)} records, so its designs are seen in "
              f"training): median LUT APE {fam['lut']:.1f}%, FF {fam['ff']:.1f}%. Leave-one-repository-out is the "
              "honest one.", "",
              f"Nested validation took {cv_s:.0f} s.", "", "![estimate vs report](cost_model_accuracy.png)", ""]
    lines += template_section(recs, pred, y, shipped)
    lines += per_layer_section(recs, Variant(**shipped.meta["variant"]))
    lines += synth_section(args.corpus, recs, Variant(**shipped.meta["variant"]))
    lines += ["## Skipped records", ""]
    lines += [f"- {n}: {reason}" for reason, n in sorted(skipped.items(), key=lambda kv: -kv[1])]
    lines += ["", "Regenerate: `.venv/bin/python benchmarks/cost_model_accuracy.py` (shipped coefficients: "
              "`codesign calibrate ../shared/calibration/synthesis_corpus.jsonl "
              "../shared/calibration/synthesis_corpus_more.jsonl --out hw_models/data/coefficients.json`)."]
    peer = args.out.with_name("rule4ml_peer.md")
    if peer.is_file():  # rule4ml needs its own environment (benchmarks/rule4ml_peer.py)
        lines += ["", "## rule4ml 0.2.0 as a peer", ""] + peer.read_text().splitlines()[1:]
    da = args.out.with_name("da_estimator.md")
    if da.is_file():  # the distributed_arithmetic template is measured by Yosys (benchmarks/da_corpus.py --fit)
        lines += ["", "## distributed_arithmetic template (against Yosys)", ""] + da.read_text().splitlines()[1:]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    plot(recs, pred, args.out.with_suffix(".png"))
    atomic_write_text(args.out, "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
