"""Per-layer sensitivity: measured loss/accuracy drop when only one layer is lowered, and the HAWQ-style
Hessian trace (Hutchinson's estimator) of the loss with respect to each layer's weights."""

from __future__ import annotations

import numpy as np

from ..keras_layers import kernel as layer_kernel
from .context import Context
from .evaluate import candidate_metrics, pruned_model, variant_model
from .space import knob_label


def measured(ctx: Context, progress=None) -> list[dict]:
    """One row per (layer, width knob, choice): the others stay at their widest choice, no fine-tuning."""
    import tensorflow as tf

    top = ctx.space.top()
    ref_score, ref_loss = candidate_metrics(ctx, top, variant_model(ctx, top)[1])
    rows = []
    keys = [(k, ctx.space.ordered(k)) for k in ctx.space.widths()]  # integer cuts ride with widths: not measured
    task = progress.add_task("sensitivity (measured)", total=sum(len(v) for _, v in keys)) if progress else None
    for key, choices in keys:
        layer, knob = knob_label(key)
        for choice in choices:
            params = dict(top, **{key: choice})
            tf.keras.backend.clear_session()
            score, loss = (ref_score, ref_loss) if choice == top[key] else candidate_metrics(
                ctx, params, pruned_model(ctx, params))
            rows.append({"layer": layer, "knob": knob, "param": key, "choice": choice,
                         "val_loss": loss, "val_score": score,
                         "delta_loss": max(0.0, loss - ref_loss), "delta_score": ref_score - score})
            if progress:
                progress.advance(task)
    return rows


def hutchinson_traces(ctx: Context, probes: int = 16, batch: int = 256, seed: int = 0) -> dict[str, float]:
    """Tr(H_l) = E[v^T H_l v], v Rademacher (Hutchinson 1989; HAWQ-v2, Dong et al. 2020), per layer kernel,
    on the base QAT model (QKeras straight-through gradients)."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    idx = rng.choice(len(ctx.split.x_train), size=min(batch, len(ctx.split.x_train)), replace=False)
    from ..modelio import final_softmax

    task = ctx.design.task
    x = ctx.split.x_train[idx]
    y = tf.constant(task.targets(x, None if ctx.split.y_train is None else ctx.split.y_train[idx]))
    x = tf.constant(x)
    loss_fn = task.loss(logits=not final_softmax(ctx.base_model))
    out = {}
    for name in ctx.space.layers:
        kernel = layer_kernel(ctx.base_model.get_layer(name))
        total = 0.0
        for _ in range(probes):
            v = tf.constant(rng.choice([-1.0, 1.0], size=kernel.shape).astype(np.float32))
            with tf.GradientTape() as outer:
                with tf.GradientTape() as inner:
                    loss = loss_fn(y, ctx.base_model(x, training=False))
                grad = inner.gradient(loss, kernel)
                gv = tf.reduce_sum(grad * v)
            hv = outer.gradient(gv, kernel)
            total += float(tf.reduce_sum(hv * v)) if hv is not None else 0.0
        out[name] = total / probes
    return out


def hawq_omega(ctx: Context, traces: dict[str, float]) -> list[dict]:
    """HAWQ-v2 sensitivity Omega_l(b) = Tr(H_l)/n_l * ||Q_b(W_l) - W_l||^2 for each weight-bit choice."""
    import dataclasses

    from ..builders import layer_quantizers
    from ..lower import quantized_values

    rows = []
    for name in ctx.space.layers:
        w = ctx.base_model.get_layer(name).get_weights()[0]
        for bits in ctx.space.weight_bits:
            kq = layer_quantizers(dataclasses.replace(ctx.design.quant_for(name), weight_bits=int(bits)))[0]
            q = quantized_values(kq, w)  # what QKeras computes at this width
            rows.append({"layer": name, "bits": int(bits), "trace": traces[name],
                         "omega": traces[name] / w.size * float(np.sum((q - w) ** 2))})
    return rows


def additive_table(rows: list[dict]) -> dict[tuple[str, float], float]:
    """(param, choice) -> measured loss increase, the additive sensitivity the greedy and ILP minimise."""
    return {(r["param"], r["choice"]): r["delta_loss"] for r in rows}
