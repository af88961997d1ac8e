"""results.json + report.md (+ a per-layer bit-width plot) for one design run."""

from __future__ import annotations

import json
from pathlib import Path

from .html import write_html

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


def write_report(folder: Path, results: dict) -> None:
    (folder / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (folder / "report.md").write_text(render_markdown(results))
    plot_bit_widths(results["validation"]["layers"], folder / "bit_widths.png")
    write_html(folder / "report.md", f"codesign: {results['design']}")
