"""codesign search vs uniform QKeras, AutoQKeras and HGQ on the same data, model and budget, in one run.

    .venv/bin/pip install -e '.[bench]'      # HGQ 0.2.6 (Keras 2); AutoQKeras ships with QKeras
    .venv/bin/python benchmarks/search_vs_peers.py [--trials 40] [--out reports/search_vs_peers.md]

Every final model of every method is costed the same way: converted by hls4ml, estimated by our cost
model (LUT + 55 x DSP), and its EBOPs counted from its own weights (per-weight effective bits x input
bits, HGQ's definition). Accuracy is on the test split, never seen in training or selection.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import logging  # noqa: E402

logging.getLogger("tensorflow").setLevel(logging.ERROR)

from codesign.design import load_design  # noqa: E402
from codesign.estimate import cost_model_for  # noqa: E402
from codesign.export import quiet  # noqa: E402
from codesign.hw_graph import graph_layers  # noqa: E402
from codesign.pipeline import train_design  # noqa: E402
from codesign.search.context import _splits  # noqa: E402
from codesign.train import accuracy  # noqa: E402
from hw_models import load_part  # noqa: E402
from hw_models.cost import estimate  # noqa: E402
from hw_models.layers import ebops  # noqa: E402

DESIGNS = Path(__file__).resolve().parents[1] / "designs"
TARGETS = {"digits_mlp": (0.94, 0.95, 0.96, 0.97), "mnist_cnn": (0.90, 0.92, 0.94, 0.95)}
AQ_CONFIG = {  # AutoQKeras quantizers restricted to what hls4ml exports bit-exactly through our slice
    "kernel": {"quantized_bits(2,0,1,alpha=1.0)": 2, "quantized_bits(3,0,1,alpha=1.0)": 3,
               "quantized_bits(4,0,1,alpha=1.0)": 4, "quantized_bits(6,0,1,alpha=1.0)": 6,
               "quantized_bits(8,0,1,alpha=1.0)": 8},
    "bias": {"quantized_bits(8,2,1,alpha=1.0)": 8},
    "activation": {"quantized_relu(3,2)": 3, "quantized_relu(4,2)": 4, "quantized_relu(6,2)": 6,
                   "quantized_relu(8,2)": 8},
    "linear": {"quantized_bits(8,2,1,alpha=1.0)": 8},
}


def cost_of(model, design, spec) -> dict:
    """Cost of the network up to the logits: the final softmax is the same function for every method and
    its table configuration is a toolflow default, not a result of the quantization method."""
    from codesign.modelio import logits_model

    cm = cost_model_for(logits_model(model), design.export, spec)
    est = cm.estimate()
    return {"lut": est.total["lut"], "dsp": est.total["dsp"], "lut_eq": est.lut_equivalent,
            "latency": est.total["latency_cycles"], "ebops": ebops(cm.layers)}


def uniform(design, split, bits: int) -> dict:
    q = dataclasses.replace(design.default_quant, weight_bits=bits, activation_bits=bits)
    variant = dataclasses.replace(design, default_quant=q, layer_quant={})
    _, _, model, _, _, _ = train_design(variant, split=split)
    return {"model": model, "design": variant, "label": f"{bits}-bit"}


def _patch_keras_lookup(objs: dict) -> None:
    """QKeras 0.9.0's model_quantize rewrites Dense -> QDense in the JSON but leaves module 'keras.layers'
    and no registered name; Keras 2.14 then cannot find QDense. Fall back to the class name."""
    from keras.src.saving import serialization_lib

    original = serialization_lib._retrieve_class_or_fn
    if getattr(original, "_codesign_patched", False):
        return

    def retrieve(name, registered_name, module, obj_type, full_config, custom_objects=None):
        if registered_name is None and name in objs:
            return objs[name]
        return original(name, registered_name, module, obj_type, full_config, custom_objects)

    retrieve._codesign_patched = True
    serialization_lib._retrieve_class_or_fn = retrieve


def autoqkeras(design, split, x_val, y_val, float_model, trials: int, epochs: int) -> list[dict]:
    import tensorflow as tf
    from qkeras.autoqkeras import AutoQKeras

    goal = {"type": "bits", "params": {"delta_p": 8.0, "delta_n": 8.0, "rate": 2.0, "stress": 1.0,
                                       "input_bits": 5, "output_bits": 8, "ref_bits": 8,
                                       "config": {"default": ["parameters", "activations"]}}}
    out = tempfile.mkdtemp(prefix="autoqk_")
    body = tf.keras.Model(float_model.input, float_model.get_layer("logits").output)  # softmax added below
    body.compile(tf.keras.optimizers.legacy.Adam(design.training.learning_rate),
                 tf.keras.losses.CategoricalCrossentropy(from_logits=True), metrics=["acc"])
    from codesign.modelio import custom_objects

    objs = custom_objects()
    _patch_keras_lookup(objs)
    with quiet(), tf.keras.utils.custom_object_scope(objs):
        aq = AutoQKeras(body, metrics=["acc"], custom_objects=objs, goal=goal, output_dir=out, mode="random", max_trials=trials,
                        transfer_weights=True, quantization_config=AQ_CONFIG,
                        limit={"Dense": [8, 8, 8], "Conv2D": [8, 8, 8], "Activation": [8]},
                        tune_filters="none", tune_filters_exceptions="^$",  # QKeras 0.9.0 fails on None
                        overwrite=True, seed=design.training.seed)
        aq.fit(split.x_train, tf.keras.utils.to_categorical(split.y_train, 10), batch_size=design.training.batch_size,
               epochs=epochs, validation_data=(x_val, tf.keras.utils.to_categorical(y_val, 10)), verbose=0)
    models = []
    for trial in aq.tuner.oracle.get_best_trials(trials):
        try:
            with tf.keras.utils.custom_object_scope(objs):
                m = aq.tuner.load_model(trial)
        except Exception as exc:  # noqa: BLE001 - a trial that failed to build
            print(f"AutoQKeras trial {trial.trial_id}: not loadable ({type(exc).__name__})")
            continue
        x = tf.keras.layers.Activation("softmax", name="softmax")(m.output)
        models.append({"model": tf.keras.Model(m.input, x), "label": f"trial {trial.trial_id}"})
    return models


def hgq(design, split, beta: float, epochs: int) -> dict:
    import tensorflow as tf
    from HGQ import FreeBOPs, ResetMinMax
    from HGQ.bops import trace_minmax
    from HGQ.layers import HDense, HQuantize
    from HGQ.proxy import to_proxy_model

    from HGQ.layers import HConv2D, PFlatten, PMaxPooling2D
    from HGQ.utils.utils import get_default_paq_conf, set_default_paq_conf

    paq = get_default_paq_conf()
    # hls4ml exports HGQ's per-element activation widths for io_parallel only: one width per tensor otherwise
    paq["skip_dims"] = "all" if design.export.io_type == "io_stream" else (0,)
    set_default_paq_conf(paq)
    tf.keras.utils.set_random_seed(design.training.seed)
    inp = tf.keras.Input(split.x_train.shape[1:], name="pixels")
    x = HQuantize(beta=beta, name="inq")(inp)
    if design.builder == "cnn":
        for i, filters in enumerate(design.model.get("filters", [8, 16]), 1):
            x = HConv2D(filters, design.model.get("kernel", 3), beta=beta, activation="relu", name=f"conv{i}")(x)
            x = PMaxPooling2D(2, name=f"pool{i}")(x)
        x = PFlatten(name="flatten")(x)
    for i, units in enumerate(design.model.get("dense" if design.builder == "cnn" else "hidden", [32]), 1):
        x = HDense(units, beta=beta, activation="relu", name=f"fc{i}")(x)
    x = HDense(split.n_classes, beta=beta, name="logits")(x)
    model = tf.keras.Model(inp, x)
    model.compile(tf.keras.optimizers.Adam(design.training.learning_rate),
                  tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(split.x_train, split.y_train, epochs=epochs, batch_size=design.training.batch_size, verbose=0,
              callbacks=[ResetMinMax(), FreeBOPs()])
    hgq_bops = trace_minmax(model, split.x_train, verbose=0)
    return {"proxy": to_proxy_model(model), "label": f"beta={beta:g}", "hgq_ebops": float(hgq_bops)}


def hgq_cost(proxy, design) -> dict:
    """HGQ's proxy model ends at the logits, like the others' costed networks."""
    import hls4ml

    from codesign.export import convert_config

    cfg = hls4ml.utils.config_from_keras_model(proxy, granularity="name")
    with tempfile.TemporaryDirectory() as tmp:
        layers = graph_layers(convert_config(proxy, cfg, design.export, Path(tmp)))
    est = estimate(layers, load_part(design.export.part), design.export.clock_ns)
    return {"lut": est.total["lut"], "dsp": est.total["dsp"], "lut_eq": est.lut_equivalent,
            "latency": est.total["latency_cycles"], "ebops": ebops(layers)}


def codesign_search(design_path: Path, trials: int, out: Path, design, split) -> tuple[list[dict], float]:
    """Our search with the design's own search settings and the same trial count."""
    from codesign.search.evaluate import trial_model
    from codesign.search.run import run_search
    from codesign.search.context import prepare

    start = time.perf_counter()
    run_search(design_path, out, {"trials": trials}, None, 1, None, log=lambda m: None)
    wall = time.perf_counter() - start
    ctx = prepare(design_path, out, {}, train_base=False, log=lambda m: None)
    import csv

    rows = [r for r in csv.DictReader((ctx.folder / "trials.csv").open()) if r["state"] == "COMPLETE"]
    models = []
    for r in rows:
        r = dict(r, number=int(r["number"]), val_score=float(r["val_score"]))
        variant, model = trial_model(ctx, r)
        models.append({"model": model, "design": variant, "label": f"trial {r['number']}"})
    return models, wall


def at_accuracy(points: list[dict], target: float) -> float | None:
    ok = [p["lut_eq"] for p in points if p["acc"] >= target]
    return min(ok) if ok else None


def front(points: list[dict]) -> list[dict]:
    out, best = [], -1.0
    for p in sorted(points, key=lambda p: (p["lut_eq"], -p["acc"])):
        if p["acc"] > best:
            out.append(p)
            best = p["acc"]
    return out


def plot(results: dict, path: Path, name: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    for i, (name, res) in enumerate(results.items()):
        pts = res["points"]
        for ax, key in zip(axes, ("lut_eq", "ebops")):
            ax.scatter([p[key] for p in pts], [p["acc"] for p in pts], s=14, alpha=0.5, color=f"C{i}")
            f = sorted(front([dict(p, lut_eq=p[key]) for p in pts]), key=lambda p: p["lut_eq"])
            ax.step([p["lut_eq"] for p in f], [p["acc"] for p in f], where="post", color=f"C{i}", label=name)
    axes[0].set_xlabel("LUT + 55 x DSP (codesign cost model, HLS csynth level)")
    axes[1].set_xlabel("EBOPs (per-weight effective bits x input bits)")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_ylabel("test accuracy")
        ax.set_ylim(0.8, 1.0)
        ax.legend(fontsize=8)
    fig.suptitle(f"{name}: accuracy vs hardware cost, every method's final models")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_design(name: str, trials: int, betas: list[float]) -> tuple[dict, dict]:
    """All four methods on one design; returns (results, facts for the report)."""
    design_path = DESIGNS / f"{name}.yaml"
    design = load_design(design_path)
    split, x_val, y_val = _splits(design)
    spec = split.input_spec
    results = {}

    def score(label, entries, wall, costing):
        pts = []
        for e in entries:
            model = e.get("model") or e.get("proxy")
            acc = accuracy(model, split.x_test, split.y_test)
            pts.append({"label": e["label"], "acc": acc, **costing(e),
                        **({"hgq_ebops": e["hgq_ebops"]} if "hgq_ebops" in e else {})})
        results[label] = {"points": pts, "wall_s": round(wall, 1)}
        best = max(pts, key=lambda p: p["acc"])
        print(f"{name} / {label}: {len(pts)} models, best acc {best['acc']:.4f} at LUT-eq {best['lut_eq']:,.0f}, "
              f"{wall:.0f} s", flush=True)

    finetune = design.extra["search"].get("finetune_epochs", 3)
    t = time.perf_counter()
    entries = [uniform(design, split, b) for b in (8, 6, 4)]
    score("uniform QKeras 8/6/4", entries, time.perf_counter() - t, lambda e: cost_of(e["model"], e["design"], spec))
    t = time.perf_counter()
    _, float_model, _, _, _, _ = train_design(design, split=split)
    aq = autoqkeras(design, split, x_val, y_val, float_model, trials, finetune)
    score("AutoQKeras (goal bits)", aq, time.perf_counter() - t, lambda e: cost_of(e["model"], design, spec))
    t = time.perf_counter()
    hq = [hgq(design, split, b, design.training.epochs) for b in betas]
    score("HGQ 0.2.6 (beta sweep)", hq, time.perf_counter() - t, lambda e: hgq_cost(e["proxy"], design))
    with tempfile.TemporaryDirectory(prefix="cs_search_") as tmp:
        cs, wall = codesign_search(design_path, trials, Path(tmp), design, split)
        score(f"codesign ({design.extra['search'].get('algorithm', 'nsga2')})", cs, wall,
              lambda e: cost_of(e["model"], e["design"], spec))
    facts = {"split": (len(split.x_train), len(x_val), len(split.x_test)), "epochs": design.training.epochs,
             "finetune": finetune, "target": design.export}
    return results, facts


def section(name: str, results: dict, facts: dict, trials: int) -> list[str]:
    tr, va, te = facts["split"]
    tgt = facts["target"]
    lines = [f"## {name} ({tgt.part}, {tgt.io_type}, {tgt.clock_ns} ns)", "",
             f"Train / validation / test {tr}/{va}/{te}; {trials} trials for AutoQKeras and codesign, "
             f"{facts['epochs']} training epochs, {facts['finetune']} fine-tuning epochs per search trial.", "",
             "| method | models | best test acc | min LUT-eq | " +
             " | ".join(f"LUT-eq at acc >= {t}" for t in TARGETS[name]) + " | wall s |",
             "|---|---|---|---|" + "---|" * len(TARGETS[name]) + "---|"]
    for label, res in results.items():
        pts = res["points"]
        cells = [label, str(len(pts)), f"{max(p['acc'] for p in pts):.4f}", f"{min(p['lut_eq'] for p in pts):,.0f}"]
        for tgt_acc in TARGETS[name]:
            v = at_accuracy(pts, tgt_acc)
            cells.append(f"{v:,.0f}" if v is not None else "not reached")
        cells.append(f"{res['wall_s']:.0f}")
        lines.append("| " + " | ".join(cells) + " |")
    ours = next(v for k, v in results.items() if k.startswith("codesign"))["points"]
    lines += ["", "LUT-eq needed at equal accuracy, peer / codesign (> 1: codesign is cheaper):", "",
              "| peer | " + " | ".join(f"acc >= {t}" for t in TARGETS[name]) + " |",
              "|---|" + "---|" * len(TARGETS[name])]
    for label, res in results.items():
        if label.startswith("codesign"):
            continue
        cells = [label]
        for tgt_acc in TARGETS[name]:
            a, b = at_accuracy(res["points"], tgt_acc), at_accuracy(ours, tgt_acc)
            cells.append(f"{a / b:.2f}" if a and b else "n/a")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"![fronts](search_vs_peers_{name}.png)", "", "<details><summary>every model</summary>", "",
              "| method | model | test acc | LUT | DSP | LUT-eq | latency | EBOPs |", "|---|---|---|---|---|---|---|---|"]
    for label, res in results.items():
        for p in sorted(res["points"], key=lambda p: p["lut_eq"]):
            lines.append(f"| {label} | {p['label']} | {p['acc']:.4f} | {p['lut']:,.0f} | {p['dsp']:,.0f} | "
                         f"{p['lut_eq']:,.0f} | {p['latency']:.0f} | {p['ebops']:,.0f} |")
    return lines + ["", "</details>", ""]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--designs", default="digits_mlp,mnist_cnn")
    ap.add_argument("--trials", type=int, default=None, help="default: the design's search.trials")
    ap.add_argument("--out", type=Path, default=Path("reports/search_vs_peers.md"))
    ap.add_argument("--betas", default="3e-7,1e-6,3e-6,1e-5,3e-5,1e-4")
    args = ap.parse_args()
    lines = ["# Search vs peers: same data, same model, same budget, one run", "",
             "Every final model of every method is converted by hls4ml and costed by the same cost model "
             "(LUT-eq = LUT + 55 x DSP at HLS C-synthesis level; no Vivado here) up to the logits (the final "
             "softmax, the same function everywhere, is left out of every cost) and its EBOPs counted from its "
             "own weights. Test accuracy of the Keras/QKeras models (codesign's exports are bit-exact to the C "
             "simulation). AutoQKeras: random mode, goal 'bits', quantizers restricted to those hls4ml exports "
             "bit-exactly. HGQ v1 0.2.6: beta sweep, trained from scratch for the design's epochs.", ""]
    all_results = {}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for name in args.designs.split(","):
        design = load_design(DESIGNS / f"{name}.yaml")
        trials = args.trials or design.extra["search"].get("trials", 40)
        results, facts = run_design(name, trials, [float(b) for b in args.betas.split(",")])
        all_results[name] = results
        lines += section(name, results, facts, trials)
        plot(results, args.out.with_name(f"search_vs_peers_{name}.png"), name)
    lines += ["Regenerate: `.venv/bin/pip install -e '.[bench]' && .venv/bin/python benchmarks/search_vs_peers.py`."]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(args.out)
    args.out.with_suffix(".json").write_text(json.dumps(all_results, indent=1, default=float))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
