"""`codesign analyze`: per-layer quantization error (float vs QKeras vs C simulation), histograms with the
quantization grid and clipping range, and the layers ranked by sensitivity."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from .errors import CodesignError
from .export import ExportOptions, convert, quiet
from .keras_layers import FLOAT_OF, QKERAS_MACS, quantized_kernel
from .modelio import clone_layer


def float_twin(qmodel):
    """The same network computing with the unquantized kernels and plain ReLUs (the float reference)."""
    import tensorflow as tf

    x = inp = tf.keras.Input(qmodel.input_shape[1:], name=qmodel.layers[0].name)
    for layer in qmodel.layers[1:]:
        kind = type(layer).__name__
        cfg = layer.get_config()
        if kind in QKERAS_MACS:
            base = getattr(tf.keras.layers, FLOAT_OF[kind])
            keep = {k: cfg[k] for k in ("units", "filters", "kernel_size", "strides", "padding", "use_bias",
                                        "depth_multiplier") if k in cfg}
            new = base(name=layer.name, **keep)
            x = new(x)
            new.set_weights(layer.get_weights())
        elif kind == "QActivation":
            x = tf.keras.layers.Activation("relu" if "relu" in str(cfg["activation"]) else "linear",
                                           name=layer.name)(x)
        else:
            x = clone_layer(layer, x)
    return tf.keras.Model(inp, x, name=qmodel.name + "_float")


def _outputs(model, names: list[str], x: np.ndarray) -> dict[str, np.ndarray]:
    import tensorflow as tf

    probe = tf.keras.Model(model.inputs, [model.get_layer(n).output for n in names])
    outs = probe.predict(x, verbose=0, batch_size=1024)
    return dict(zip(names, outs if isinstance(outs, list) else [outs]))


def sqnr_db(ref: np.ndarray, test: np.ndarray) -> float:
    noise = float(np.sum((np.asarray(test, np.float64) - ref) ** 2))
    signal = float(np.sum(np.asarray(ref, np.float64) ** 2))
    return float("inf") if noise == 0 else 10 * np.log10(max(signal, 1e-30) / noise)


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(a, np.float64) - b) ** 2)))


def layer_errors(qmodel, x: np.ndarray, opts: ExportOptions, input_spec) -> list[dict]:
    from .modelio import logits_model
    from .precision import derive

    core = logits_model(qmodel)
    names = [layer.name for layer in core.layers[1:] if type(layer).__name__ in QKERAS_MACS + ("QActivation",)]
    ref = _outputs(float_twin(core), names, x)
    qout = _outputs(core, names, x)
    graph = derive(core, input_spec)
    traced = {node.source: node.name for node in graph.nodes}  # a layer's last node holds its output
    with tempfile.TemporaryDirectory(prefix="codesign_analyze_") as tmp:
        hls_model = convert(graph, opts, Path(tmp) / "prj", trace=True)
        with quiet():
            _, trace = hls_model.trace(np.ascontiguousarray(x))
    rows = []
    for n in names:
        csim = trace.get(traced.get(n, n))
        csim = None if csim is None else np.asarray(csim, np.float64).reshape(qout[n].shape)
        rows.append({"layer": n, "class": type(core.get_layer(n)).__name__,
                     "rmse_float_vs_quant": rmse(ref[n], qout[n]), "sqnr_db_float_vs_quant": sqnr_db(ref[n], qout[n]),
                     "rmse_quant_vs_csim": None if csim is None else rmse(qout[n], csim),
                     "csim_bit_exact": None if csim is None else bool(np.array_equal(csim, qout[n]))})
    return rows


def sensitivity_ranking(qmodel, x: np.ndarray) -> list[dict]:
    """Quantize one layer at a time (the rest float); rank by the output SQNR it alone costs."""
    from .modelio import logits_model

    core = logits_model(qmodel)
    twin = float_twin(core)
    ref = twin.predict(x, verbose=0, batch_size=1024)
    rows = []
    for layer in core.layers[1:]:
        if type(layer).__name__ not in QKERAS_MACS:
            continue
        one = float_twin(core)
        w = layer.get_weights()
        w[0] = quantized_kernel(layer)
        if layer.bias_quantizer_internal is not None and len(w) > 1:
            w[1] = np.asarray(layer.bias_quantizer_internal(w[1]))
        one.get_layer(layer.name).set_weights(w)
        rows.append({"layer": layer.name, "output_sqnr_db": sqnr_db(ref, one.predict(x, verbose=0, batch_size=1024))})
    return sorted(rows, key=lambda r: r["output_sqnr_db"])


def histograms(qmodel, x: np.ndarray, folder: Path) -> list[str]:
    """Weights and activations of every quantized layer with the quantization grid and clipping range."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .modelio import logits_model
    from .precision import derive
    from .spec import QuantSpec

    core = logits_model(qmodel)
    twin = float_twin(core)
    graph = derive(core, QuantSpec(16, 6))  # weight and quantizer types do not depend on the input type
    files = []
    for layer in core.layers[1:]:
        kind = type(layer).__name__
        if kind in QKERAS_MACS:
            values = layer.get_weights()[0].ravel()
            spec = graph[layer.name].weight
            label = "weights"
        elif kind == "QActivation":
            values = _outputs(twin, [layer.name], x)[layer.name].ravel()
            spec = graph[layer.name].result
            label = "activations (float reference)"
        else:
            continue
        fig, ax = plt.subplots(figsize=(6, 3.2))
        ax.hist(values, bins=80, color="C0", alpha=0.8)
        lo, hi = spec.min_value, spec.max_value
        if 2 ** spec.width <= 64:
            for g in np.arange(lo, hi + spec.lsb / 2, spec.lsb):
                ax.axvline(g, color="0.6", lw=0.4)
        ax.axvline(lo, color="C3", ls="--", lw=1, label=f"clip [{lo:g}, {hi:g}]")
        ax.axvline(hi, color="C3", ls="--", lw=1)
        ax.set_title(f"{layer.name}: {label}, {spec.to_hls()}", fontsize=9)
        ax.set_xlabel("value (grey lines: the type's grid, when it has at most 64 steps)", fontsize=8)
        ax.set_ylabel(f"count ({label.split(' ')[0]})", fontsize=8)
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = folder / f"hist_{layer.name}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        files.append(path.name)
    return files


def analyze(qmodel, x: np.ndarray, folder: Path, opts: ExportOptions, input_spec) -> dict:
    from .atomic import atomic_dir, atomic_write_text

    if not any(type(layer).__name__ in QKERAS_MACS for layer in qmodel.layers):
        raise CodesignError("the model has no QDense/QConv layers to analyze (run `codesign ptq` first)")
    with atomic_dir(folder) as tmp:
        errors = layer_errors(qmodel, x, opts, input_spec)
        ranking = sensitivity_ranking(qmodel, x)
        plots = histograms(qmodel, x, tmp)
        lines = ["# Quantization error analysis", "", f"{len(x)} inputs, input type {input_spec.to_hls()}.", "",
                 "| layer | class | RMSE float vs QKeras | SQNR dB float vs QKeras | RMSE QKeras vs C-sim | "
                 "C-sim bit-exact |", "|---|---|---|---|---|---|"]
        for r in errors:
            lines.append(f"| {r['layer']} | {r['class']} | {r['rmse_float_vs_quant']:.4g} | "
                         f"{r['sqnr_db_float_vs_quant']:.1f} | {r['rmse_quant_vs_csim']} | {r['csim_bit_exact']} |")
        lines += ["", "Layers ranked by sensitivity (output SQNR when only that layer is quantized; lowest first):",
                  "", "| rank | layer | output SQNR dB |", "|---|---|---|"]
        lines += [f"| {i} | {r['layer']} | {r['output_sqnr_db']:.1f} |" for i, r in enumerate(ranking, 1)]
        lines += ["", "Histograms (quantization grid in grey when at most 64 levels, clipping range dashed):", ""]
        lines += [f"![{p}]({p})" for p in plots]
        atomic_write_text(tmp / "analysis.md", "\n".join(lines) + "\n")
    return {"layers": errors, "sensitivity_ranking": ranking, "plots": plots, "report": str(folder / "analysis.md")}


def link_into_design_report(report: Path, result: dict) -> Path | None:
    """A 'Quantization error analysis' section in a design's report (kept when the report is written again);
    returns report.html, or None when the design has no run report yet."""
    from .report import refresh_report

    marker = "## Quantization error analysis"
    worst = result["sensitivity_ranking"][0] if result["sensitivity_ranking"] else None
    lines = [marker, "", "| layer | SQNR dB float vs QKeras | C-sim bit-exact |", "|---|---|---|"]
    lines += [f"| {r['layer']} | {r['sqnr_db_float_vs_quant']:.1f} | {r['csim_bit_exact']} |" for r in result["layers"]]
    if worst:
        lines += ["", f"Most sensitive layer: {worst['layer']} (output SQNR {worst['output_sqnr_db']:.1f} dB when "
                      f"quantized alone). Details and histograms: [analysis/analysis.md](analysis/analysis.md)."]
    if not (report.parent / "results.json").is_file():
        return None
    return refresh_report(report.parent, lines + [""])
