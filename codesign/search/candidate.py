"""A candidate (optuna params) -> the design variant it describes, its typed graph, and its cost."""

from __future__ import annotations

import dataclasses

from hw_models.cost import Estimate

from ..builders import layer_quantizers
from ..design import Design
from ..estimate import graph_assignment
from ..export import DA, reuse_for
from ..lower import WeightSource, quantized_values
from ..precision import TypedGraph, derive
from ..prune import pruned
from ..quantizers import activation_spec
from .context import Context
from .inputs import candidate_inputs, without_dead
from .space import CUTS, INPUT_BITS, KNOBS, split_param


def design_variant(design: Design, params: dict) -> Design:
    """Per-layer weight/activation bits, integer bits (the design's, less a cut: at least 0) and sparsity, and
    the global reuse factor/strategy of one candidate."""
    layer_quant = dict(design.layer_quant)
    changes: dict[str, dict] = {}
    for key, value in params.items():
        if split_param(key):
            name, knob = split_param(key)
            if knob in CUTS:
                field = CUTS[knob]
                changes.setdefault(name, {})[field] = max(0, getattr(design.quant_for(name), field) - int(value))
                continue
            field = KNOBS[knob]
            changes.setdefault(name, {})[field] = float(value) if field == "sparsity" else int(value)
    for name, change in changes.items():
        layer_quant[name] = dataclasses.replace(design.quant_for(name), **change)
    strategy = str(params.get("strategy", design.export.strategy))
    reuse = int(reuse_for(strategy, params.get("reuse_factor", design.export.reuse_factor)))
    export = dataclasses.replace(design.export, reuse_factor=reuse, strategy=strategy)
    return dataclasses.replace(design, layer_quant=layer_quant, export=export)


def candidate_graph(ctx: Context, params: dict, kernels: dict | None = None) -> TypedGraph:
    """The typed graph of the candidate's QKeras model without building it: the base model's float weights
    under the variant's quantizers (or `kernels`, already quantized, e.g. after fine-tuning)."""
    variant = design_variant(ctx.design, params)
    inputs = candidate_inputs(ctx, params)
    weights, overrides = dict(ctx.lowered.weights), {}
    for name in ctx.space.layers:
        kq, bq, aq = layer_quantizers(variant.quant_for(name))
        kernel, bias = ctx.base_model.get_layer(name).get_weights()[:2]
        kernel = kernels[name] if kernels and name in kernels else \
            quantized_values(kq, pruned(without_dead(inputs, name, kernel), variant.quant_for(name).sparsity))
        weights[name] = WeightSource(kernel, kq, quantized_values(bq, bias), bq)
        if name in ctx.space.activation_layers:
            act = ctx.activation_of[name]
            overrides[act] = activation_spec(aq, f"layer '{act}'")
    return derive(dataclasses.replace(ctx.lowered, weights=weights), inputs.spec, overrides)


def cost_assignment(ctx: Context, params: dict, kernels: dict | None = None) -> dict[str, dict]:
    strategy = params.get("strategy")
    return graph_assignment(ctx.cost_model, candidate_graph(ctx, params, kernels),
                            reuse_for(strategy, params.get("reuse_factor")), strategy)


def candidate_cost(ctx: Context, params: dict, kernels: dict | None = None) -> Estimate:
    return ctx.cost_model.estimate(cost_assignment(ctx, params, kernels))


def cost_model_text(ctx: Context) -> str:
    """Which model prices the candidates: that of the architecture each one exports."""
    strategies = ctx.space.strategies if len(ctx.space.strategies) > 1 else (ctx.design.export.strategy,)
    parts = []
    for s in strategies:
        if s == DA:
            from hw_models.da import coefficients

            c = coefficients()
            parts.append(f"{DA}: da4ml's adder-graph cost of each candidate's exact weights, as `codesign synth` "
                         f"builds it (Yosys / cost {c['ratio_p10']:.2f}-{c['ratio_p90']:.2f})")
        else:
            parts.append(f"{s}: the hls4ml {s} template fitted on Vivado/Vitis reports (synthesis level)")
    return "; ".join(parts)


def base_params(ctx: Context) -> dict | None:
    """The design's own settings as a candidate (the trained base QAT model), None when one is not a choice of
    the space."""
    params = {}
    for key, choices in ctx.space.params().items():
        if split_param(key):
            layer, knob = split_param(key)
            value = 0 if knob in CUTS else getattr(ctx.design.quant_for(layer), KNOBS[knob])
        elif key == INPUT_BITS:
            value = ctx.split.input_spec.width
        else:
            value = {"reuse_factor": ctx.design.export.reuse_factor, "strategy": ctx.design.export.strategy}[key]
        if value not in choices:
            return None
        params[key] = value
    return params
