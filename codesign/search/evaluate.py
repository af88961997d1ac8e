"""Candidate evaluation: QKeras model of the variant, base weights transferred, short QAT fine-tuning."""

from __future__ import annotations

import json

import numpy as np

from .. import prune
from ..keras_layers import quantized_kernel
from ..pipeline import qkeras_model
from ..tasks import Task
from ..train import fit, seed_everything, transfer_weights
from .candidate import design_variant
from .context import Context
from .inputs import candidate_inputs, zero_dead


def variant_model(ctx: Context, params: dict, weights=None):
    """The candidate's QKeras model, with the base model's weights (or those of a weights file), the kernel
    rows of inputs it leaves out zeroed (search/inputs.py)."""
    variant = design_variant(ctx.design, params)
    model, _ = qkeras_model(variant, ctx.float_model, ctx.split)
    transfer_weights(ctx.base_model, model)
    if weights is not None:
        model.load_weights(str(weights))
    zero_dead(candidate_inputs(ctx, params), model)
    return variant, model


def trial_model(ctx: Context, row: dict):
    """The fine-tuned model of a trial, rebuilt from its saved weights."""
    import tensorflow as tf

    tf.keras.backend.clear_session()
    return variant_model(ctx, json.loads(row["params"]), ctx.folder / "trials" / f"trial_{row['number']}.weights.h5")


def pruned_model(ctx: Context, params: dict, weights=None):
    """The candidate's model (base weights, or a weights file), its sparsity applied at once: no training."""
    variant, model = variant_model(ctx, params, weights)
    prune.apply(model, prune.layer_sparsity(variant, model))
    return model


def val_metrics(model, x: np.ndarray, y: np.ndarray | None, task: Task) -> tuple[float, float]:
    """(score the search maximizes, loss) on the validation split: accuracy and mean cross-entropy, or
    minus the MSE and the MSE (codesign/tasks.py)."""
    from ..modelio import final_softmax

    return task.validation(model.predict(x, verbose=0, batch_size=1024), x, y, logits=not final_softmax(model))


def candidate_metrics(ctx: Context, params: dict, model) -> tuple[float, float]:
    """val_metrics of a candidate's model on the validation inputs as its FPGA receives them."""
    return val_metrics(model, candidate_inputs(ctx, params).x_val, ctx.y_val, ctx.design.task)


def evaluate(ctx: Context, params: dict, seed: int, weights_path=None, rungs: list[int] | None = None,
             promote=None, start_from=None) -> dict:
    """Fine-tune the candidate and score it on the validation split after each rung (cumulative epochs; default
    the search's rungs, [0]: the base weights as they are, pruned at once). After every rung but the last,
    `promote(rung_index, score)` decides whether it trains on (successive halving); else it stops there.
    `start_from`: a weights file to start from instead of the base model's (a descent step's parent)."""
    import tensorflow as tf

    seed_everything(seed)
    tf.keras.backend.clear_session()
    variant, model = variant_model(ctx, params, start_from)
    inputs = candidate_inputs(ctx, params)
    sparsity = prune.layer_sparsity(variant, model)
    rungs = ctx.settings.rungs() if rungs is None else rungs
    done = 0
    for i, epochs in enumerate(rungs):
        if epochs > done:  # the first rung ramps the sparsity up; later ones hold it
            fit(model, inputs.split, variant.training, "fine-tune", None, epochs - done, ctx.design.task, sparsity,
                ramp_epochs=None if done == 0 else 0)
        elif done == 0:
            prune.apply(model, sparsity)
        done = epochs
        score, loss = candidate_metrics(ctx, params, model)
        if i + 1 < len(rungs) and promote is not None and not promote(i, score):
            break
    if weights_path is not None:
        model.save_weights(str(weights_path))
    kernels = {name: quantized_kernel(model.get_layer(name)) for name in ctx.space.layers}
    return {"val_score": score, "val_loss": loss, "kernels": kernels, "epochs": done}
