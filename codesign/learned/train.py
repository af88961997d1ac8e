"""`codesign learn DESIGN`: train per-layer bit widths with an FPGA cost term, snap to QKeras, export bit-exact.

Loss = cross-entropy + beta(epoch) x LUT surrogate (our fitted cost model's multiplier and adder-tree terms,
differentiable in the bit widths: an FPGA-aware counterpart of HGQ's EBOPs) + the regularizers of learned
quantization: inverse scale-factor magnitude, number of quantization bins, distance between quantized and
float weights."""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hw_models.coefficients import Coefficients

from ..design import Design
from ..errors import CodesignError
from ..folders import ReportLayout
from .layers import LearnedDense, LearnedReLU


@dataclass(frozen=True)
class LearnOptions:
    beta: float = 2e-6            # weight of the LUT surrogate (per LUT) at the end of the schedule
    schedule: str = "linear"      # beta ramps linearly from 0 over the epochs ("constant": from the start)
    epochs: int = 30
    blend: bool = False           # alpha-blending (1 - a) w + a q(w), a: 0 -> 1, instead of pure STE
    inv_scale: float = 1e-4       # penalty on 2^-t (inverse scale-factor magnitude)
    max_bins: int = 256           # penalty when 2^b exceeds this many bins
    bins: float = 1e-3
    deviation: float = 1e-3       # ||q(w) - w||^2
    finetune_epochs: int = 3      # QKeras QAT after snapping


def surrogate_lut(layers: list, in_bits: float, coef: Coefficients):
    """Differentiable LUT estimate of a Dense chain (io_parallel, Latency): per layer
    const_mult * n * (b_w/3) * (b_in + b_w) + adder * n * acc + prod_bits * n * (b_in + b_w), acc = b_in + b_w +
    log2 n_in (hw_models/cost.py features with mean CSD digits ~ b/3; coefficients from coefficients.json)."""
    import tensorflow as tf

    w = coef.weights.get("lut", {})
    total = tf.constant(0.0)
    b_in = tf.constant(float(in_bits))
    for dense, act in layers:
        n = float(dense.kernel.shape[0] * dense.kernel.shape[1])
        bw = tf.clip_by_value(dense.bits, dense.min_bits, dense.max_bits)
        acc = b_in + bw + math.log2(dense.kernel.shape[0])
        total += (w.get("const_mult", 0.6) * n * (bw / 3.0) * (b_in + bw) + w.get("adder", 0.5) * n * acc
                  + w.get("prod_bits", 0.7) * n * (b_in + bw))
        if act is not None:
            b_in = tf.clip_by_value(act.bits, act.min_bits, act.max_bits)
    return total


def build(design: Design, float_model, in_bits: int, x_calib: np.ndarray):
    """The learned twin of a builder MLP, initialised from the float model: 8 bits, ranges from the data."""
    import tensorflow as tf

    if design.builder != "mlp":
        raise CodesignError(f"{design.path}: model.builder: learned quantization supports mlp designs")
    x = inp = tf.keras.Input(float_model.input_shape[1:], name="pixels")
    pairs = []
    probe = {}
    for layer in float_model.layers:
        if isinstance(layer, tf.keras.layers.Dense):
            w, b = layer.get_weights()
            t = math.ceil(math.log2(max(float(np.abs(w).max()), 1e-6))) - 7
            dense = LearnedDense(layer.units, bits=8.0, log2_step=float(t), name=layer.name)
            x = dense(x)
            dense.set_weights([w, b, np.float32(8.0), np.float32(t), np.float32(1.0)])
            pairs.append([dense, None])
        elif isinstance(layer, tf.keras.layers.Activation) and layer.get_config()["activation"] == "relu":
            probe[layer.name] = layer.output
            act = LearnedReLU(name=layer.name)
            x = act(x)
            pairs[-1][1] = act
    out = tf.keras.layers.Activation("softmax", name="softmax")(x)
    model = tf.keras.Model(inp, out)
    acts = tf.keras.Model(float_model.input, list(probe.values())).predict(x_calib, verbose=0)
    acts = acts if isinstance(acts, list) else [acts]
    for (dense, act), a in zip(pairs, acts + [None] * len(pairs)):
        if act is not None and a is not None:
            top = float(np.percentile(a, 99.9))
            t = math.ceil(math.log2(max(top, 1e-6))) - 8
            act.set_weights([np.float32(8.0), np.float32(t)])
    return model, [tuple(p) for p in pairs]


def snap(pairs, design: Design) -> Design:
    """Learned (b, t) -> QKeras quantized_bits(b, i) / quantized_relu(b, i) with the same step 2^t;
    QKeras needs i >= 0, so a negative i is raised to 0 with as many extra bits (same step, wider range)."""
    layer_quant = {}
    for dense, act in pairs:
        bw = int(round(float(np.clip(dense.bits.numpy(), dense.min_bits, dense.max_bits))))
        tw = int(round(float(dense.log2_step.numpy())))
        iw = tw + bw - 1
        if iw < 0:
            bw, iw = bw - iw, 0
        q = dict(weight_bits=bw, weight_integer=iw)
        if act is not None:
            ba = int(round(float(np.clip(act.bits.numpy(), act.min_bits, act.max_bits))))
            ia = int(round(float(act.log2_step.numpy()))) + ba
            if ia < 0:
                ba, ia = ba - ia, 0
            q |= dict(activation_bits=ba, activation_integer=ia)
        layer_quant[dense.name] = dataclasses.replace(design.quant_for(dense.name), bias_bits=16, bias_integer=4, **q)
    return dataclasses.replace(design, layer_quant=layer_quant)


def learn(design: Design, opts: LearnOptions, out_root: Path, progress=None, log=print) -> dict:
    import tensorflow as tf

    from ..atomic import atomic_dir, atomic_write_text
    from ..builders import build_model
    from ..estimate import cost_model_for
    from ..pipeline import train_design
    from ..train import accuracy, fit
    from ..validate import verify

    if design.builder != "mlp":  # before training, not after
        raise CodesignError(f"{design.path}: model.builder: learned quantization supports mlp designs")
    start = time.perf_counter()
    split, float_model, _, acc, _, _ = train_design(design, progress)
    model, pairs = build(design, float_model, split.input_spec.width, split.x_train[:512])
    coef = Coefficients.load()
    beta = tf.Variable(0.0 if opts.schedule == "linear" else opts.beta, trainable=False)
    dense_layers = [d for d, _ in pairs]
    learned = [q for pair in pairs for q in pair if q is not None]
    model.add_loss(lambda: beta * surrogate_lut(pairs, split.input_spec.width, coef))
    model.add_loss(lambda: opts.inv_scale * tf.add_n([tf.pow(2.0, -q.log2_step) for q in learned]))
    model.add_loss(lambda: opts.bins * tf.add_n([tf.nn.relu(tf.pow(2.0, q.bits) - opts.max_bins) for q in learned]))
    model.add_loss(lambda: opts.deviation * tf.add_n([tf.reduce_sum((d.quantized_kernel() - d.kernel) ** 2)
                                                      for d in dense_layers]))

    class Schedule(tf.keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            frac = (epoch + 1) / opts.epochs
            if opts.schedule == "linear":
                beta.assign(opts.beta * frac)
            if opts.blend:
                for d in dense_layers:
                    d.blend.assign(min(1.0, frac * 1.25))

    if opts.blend:
        for d in dense_layers:
            d.blend.assign(0.0)
    model.compile(tf.keras.optimizers.Adam(design.training.learning_rate),
                  tf.keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
    model.fit(split.x_train, split.y_train, epochs=opts.epochs, batch_size=design.training.batch_size, verbose=0,
              callbacks=[Schedule()])
    learned_acc = accuracy(model, split.x_test, split.y_test)
    snapped = snap(pairs, design)
    qmodel = build_model(snapped, split.x_train.shape[1:], split.n_classes, quantized=True)
    for layer in qmodel.layers:  # kernel and bias (the learned layers also hold bits, log2_step, blend)
        if layer.get_weights():
            layer.set_weights(model.get_layer(layer.name).get_weights()[:2])
    if opts.finetune_epochs:
        fit(qmodel, split, design.training, "QAT after snapping", progress, opts.finetune_epochs)
    q = {name: dataclasses.asdict(snapped.quant_for(name)) for name in snapped.layer_quant}
    log("- learned bits: " + ", ".join(f"{n} w{v['weight_bits']}/a{v['activation_bits']}" for n, v in q.items()))
    final = ReportLayout(out_root, design.name).learned
    with atomic_dir(final) as tmp:
        result, _ = verify(qmodel, split.x_test, snapped.export, tmp / "hls_project", name=f"{design.name}_learned",
                           input_spec=split.input_spec, progress=lambda m: log(f"  {m}"))
        est = cost_model_for(qmodel, snapped.export, split.input_spec).estimate()
        out = {"design": design.name, "options": dataclasses.asdict(opts), "layers": q,
               "accuracy": {"float": acc["float"], "qat_design_bits": acc["qat"], "learned_before_snap": learned_acc,
                            "snapped_qkeras": accuracy(qmodel, split.x_test, split.y_test),
                            "csim": float((result.csim_labels == split.y_test).mean())},
               "validation": result.to_json(), "estimate": est.total, "lut_equivalent": est.lut_equivalent,
               "seconds": round(time.perf_counter() - start, 1)}
        qmodel.save(tmp / "model_learned.h5")
        import json

        atomic_write_text(tmp / "results.json", json.dumps(out, indent=2, default=float))
    return out
