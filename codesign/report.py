"""results.json + report.md (+ a per-layer bit-width plot) for one design run."""

from __future__ import annotations

import json
from pathlib import Path

from .folders import ReportLayout
from .html import write_html
from .reference import float_layer_line

COLUMNS = ("name", "class", "weight", "bias", "accum", "result", "n_terms")


def _fmt(v) -> str:
    if v is None:
        return "n/a"
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def layer_table(layers: list[dict]) -> str:
    rows = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    rows += ["| " + " | ".join(str(layer.get(c, "")) for c in COLUMNS) + " |" for layer in layers]
    return "\n".join(rows)


METRIC_LABELS = {"accuracy": "accuracy", "mse": "mean squared error", "roc_auc": "ROC AUC (anomaly score: MSE)"}


def metric_rows(results: dict) -> list[str]:
    rows = []
    for key, label in METRIC_LABELS.items():
        if key in results:
            m = results[key]
            rows += [f"| {label}, float baseline | {_fmt(m['float'])} |",
                     f"| {label}, QAT (QKeras) | {_fmt(m['qat'])} |",
                     f"| {label}, C simulation (hls4ml{', with softmax' if key == 'accuracy' else ''}) | "
                     f"{_fmt(m['csim'])} |"]
    return rows


HW_COLUMNS = ("lut", "ff", "dsp", "bram_18k", "latency_cycles", "ii")
HW_TITLES = ("LUT", "FF", "DSP", "BRAM_18K", "latency (cycles)", "II")


def hardware_section(est: dict | None) -> list[str]:
    """The design's estimated resources and latency (codesign's cost model, no Vivado): per layer, total, the
    held-out p10 - p90 interval and the part's utilisation."""
    if not est:
        return []
    level = "after Vivado synthesis" if est["level"] == "synth" else "as the HLS C-synthesis report says"
    rows = ["## Hardware estimate", "", f"codesign's cost model ({level}; `codesign estimate` prints the same), "
            f"part `{est['part']}`. The interval is where 80% of held-out real reports fall (p10 - p90).", "",
            "| layer | class | template | " + " | ".join(HW_TITLES) + " |", "|---|---|---|" + "---|" * len(HW_TITLES)]
    for layer in est["layers"]:
        rows.append(f"| {layer['name']} | {layer['class']} | {layer['template']} | "
                    + " | ".join(f"{layer.get(k, 0):,.0f}" for k in HW_COLUMNS) + " |")
    total, interval = est["total"], est.get("interval", {})
    rows.append("| **total** | | | " + " | ".join(f"**{total.get(k, 0):,.0f}**" for k in HW_COLUMNS) + " |")
    rows.append("| p10 - p90 | | | " + " | ".join(
        f"{interval[k][0]:,.0f} - {interval[k][1]:,.0f}" if k in interval else "" for k in HW_COLUMNS) + " |")
    use = est.get("utilization", {})
    rows += ["", "Utilisation of the part: " + ", ".join(f"{k.upper().replace('_18K', '')} {use[k]:.2%}"
                                                         for k in ("lut", "ff", "dsp", "bram_18k") if k in use) + ".",
             ""]
    return rows


def sibling_sections(folder: Path) -> list[str]:
    """What other commands left beside the run (synth, search, analyze, learn), with links: read each time the
    report is written, so no command's section is lost when another one runs."""
    rows = []
    synth = ReportLayout(folder.parent, folder.name).rtl / "synth.json"
    if synth.is_file():
        s = json.loads(synth.read_text())
        rows += ["## RTL measured by Yosys (`codesign synth`)", "",
                 f"{s['architecture']} RTL on `{s['part']}`: **{s['lut']:,} LUT**, {s['ff']:,} FF, {s['carry']:,} "
                 f"CARRY, {s['dsp']} DSP, {s['latency_cycles']} cycles; RTL vs the exact arithmetic "
                 f"{s['rtl_bit_exact_fraction']:.4f} bit-exact on {s['n_samples']} samples "
                 f"([rtl/synth.json](rtl/synth.json)).", ""]
    links = [(("search/search.html", "search/search.md"), "search: the Pareto front and every trial"),
             (("analysis/analysis.md",), "analysis: per-layer quantization error and histograms"),
             (("learned/report.html", "learned/report.md", "learned/results.json"),
              "learned: per-layer bits learned with a LUT penalty")]
    present = [(found[0], what) for names, what in links
               for found in [[folder / n for n in names if (folder / n).is_file()]] if found]
    if present:
        rows += ["## Other results for this design", ""]
        rows += [f"- [{p.relative_to(folder)}]({p.relative_to(folder)}): {what}" for p, what in present]
        rows.append("")
    return rows


def render_markdown(results: dict) -> str:
    v = results["validation"]
    lines = [
        f"# {results['design']}: QAT, hls4ml export, C simulation",
        "",
        f"Part `{results['target']['part']}`, clock {results['target']['clock_ns']} ns, "
        f"{results['target']['io_type']}, strategy {results['target']['strategy']}, "
        f"reuse factor {results['target']['reuse_factor']}; {v['n_samples']} test samples; "
        f"task {results.get('task', 'classification')}.",
        "",
        "| metric | value |",
        "|---|---|",
        *metric_rows(results),
        f"| bit-exact fraction, compile()+predict() ({v['outputs_compared']}) | {_fmt(v['bit_exact_fraction'])} |",
        f"| bit-exact fraction, myproject_test.cpp with g++ | {_fmt(v['testbench_bit_exact_fraction'])} |",
        f"| argmax agreement of the final softmax | {_fmt(v['softmax_argmax_agreement'])} |",
        f"| max abs difference | {_fmt(v['max_abs_diff'])} |",
        f"| first mismatching layer | {v['first_mismatch_layer'] or 'none'} |",
        f"| input precision | `{v['input_precision']}` |",
        *([f"| float layers (proven against hls4ml's arithmetic) | {float_layer_line(v['float_layers'])} |"]
          if v.get("float_layers") else []),
        "",
        "Times (s): " + ", ".join(f"{k} {val}" for k, val in results["timings_s"].items()),
        "",
        "## Per-layer precisions (hls4ml types; integer bits include the sign)",
        "",
        "Accumulators are sized so nothing overflows or is rounded: width = w + in + ceil(log2 n_terms), "
        "bias aligned with one carry bit. The final softmax uses lookup tables and is judged by argmax.",
        "",
        layer_table(v["layers"]),
        "",
        "![bit widths](bit_widths.png)",
        "",
        *hardware_section(results.get("estimate")),
    ]
    return "\n".join(lines)


def plot_bit_widths(layers: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .spec import parse_hls

    names = [layer["name"] for layer in layers]
    fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(names)), 3.5))
    for offset, key in ((-0.25, "weight"), (0.0, "accum"), (0.25, "result")):
        widths = [parse_hls(layer[key]).width if key in layer else 0 for layer in layers]
        ax.bar([i + offset for i in range(len(names))], widths, width=0.25, label=key)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_ylabel("bits")
    ax.set_title("Per-layer widths of the exported design")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(folder: Path, results: dict) -> Path:
    """results.json, report.md and report.html (returned) of a run in `folder`."""
    (folder / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    plot_bit_widths(results["validation"]["layers"], folder / "bit_widths.png")
    return refresh_report(folder)


def refresh_report(folder: Path, extra: list[str] | None = None) -> Path:
    """report.md + report.html of a design folder from its results.json and what other commands left beside it;
    `extra` (e.g. analyze's section) is kept in results.json so the next refresh keeps it too."""
    from .atomic import atomic_write_text

    results = json.loads((folder / "results.json").read_text())
    if extra is not None:
        results["extra_sections"] = extra
        atomic_write_text(folder / "results.json", json.dumps(results, indent=2) + "\n")
    text = render_markdown(results) + "\n" + "\n".join(sibling_sections(folder) + results.get("extra_sections", []))
    atomic_write_text(folder / "report.md", text.rstrip() + "\n")
    return write_html(folder / "report.md", f"codesign: {results['design']}")
