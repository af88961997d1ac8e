"""Per-layer sensitivity: measured loss/accuracy drop when only one layer is lowered, and the HAWQ-style
Hessian trace (Hutchinson's estimator) of the loss with respect to each layer's weights."""

from __future__ import annotations

import numpy as np

from .context import Context
from .evaluate import val_metrics, variant_model


def measured(ctx: Context, progress=None) -> list[dict]:
    """One row per (layer, knob, bits): the others stay at their widest choice, no fine-tuning."""
    import tensorflow as tf

    top = ctx.space.top()
    ref_acc, ref_loss = val_metrics(variant_model(ctx, top)[1], ctx.x_val, ctx.y_val)
    rows = []
    keys = [(k, v) for k, v in ctx.space.params().items() if k.endswith((".w", ".a"))]
    task = progress.add_task("sensitivity (measured)", total=sum(len(v) for _, v in keys)) if progress else None
    for key, choices in keys:
        for bits in choices:
            params = dict(top, **{key: bits})
            tf.keras.backend.clear_session()
            acc, loss = (ref_acc, ref_loss) if bits == top[key] else val_metrics(variant_model(ctx, params)[1],
                                                                                  ctx.x_val, ctx.y_val)
            rows.append({"layer": key.rsplit(".", 1)[0], "knob": "weights" if key.endswith(".w") else "activations",
                         "param": key, "bits": int(bits), "val_loss": loss, "val_accuracy": acc,
                         "delta_loss": max(0.0, loss - ref_loss), "delta_accuracy": ref_acc - acc})
            if progress:
                progress.advance(task)
    return rows


def hutchinson_traces(ctx: Context, probes: int = 16, batch: int = 256, seed: int = 0) -> dict[str, float]:
    """Tr(H_l) = E[v^T H_l v], v Rademacher (Hutchinson 1989; HAWQ-v2, Dong et al. 2020), per layer kernel,
    on the base QAT model (QKeras straight-through gradients)."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    idx = rng.choice(len(ctx.split.x_train), size=min(batch, len(ctx.split.x_train)), replace=False)
    x = tf.constant(ctx.split.x_train[idx])
    y = tf.constant(ctx.split.y_train[idx])
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy()
    out = {}
    for name in ctx.space.layers:
        kernel = ctx.base_model.get_layer(name).kernel
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
    rows = []
    for name in ctx.space.layers:
        w = ctx.base_model.get_layer(name).get_weights()[0]
        integer = ctx.design.quant_for(name).weight_integer
        for bits in ctx.space.weight_bits:
            frac = bits - 1 - integer
            lim = 2.0 ** integer
            q = np.clip(np.round(w * 2.0 ** frac) / 2.0 ** frac, -lim, lim - 2.0 ** -frac)
            rows.append({"layer": name, "bits": int(bits), "trace": traces[name],
                         "omega": traces[name] / w.size * float(np.sum((q - w) ** 2))})
    return rows


def additive_table(rows: list[dict]) -> dict[tuple[str, int], float]:
    """(param, bits) -> measured loss increase, the additive sensitivity the greedy and ILP minimise."""
    return {(r["param"], r["bits"]): r["delta_loss"] for r in rows}
