"""A candidate (optuna params) -> the design variant it describes, and -> its cost-model assignment."""

from __future__ import annotations

import dataclasses

from hw_models.cost import Estimate
from hw_models.costmodel import CostModel
from hw_models.layers import MAC_KINDS

from ..design import Design
from ..spec import QuantSpec, mac


def design_variant(design: Design, params: dict) -> Design:
    """Per-layer weight/activation bits and the global reuse factor/strategy of one candidate."""
    layer_quant = dict(design.layer_quant)
    names = {k.rsplit(".", 1)[0] for k in params if k.endswith((".w", ".a"))}
    for name in names:
        base = design.quant_for(name)
        layer_quant[name] = dataclasses.replace(base, weight_bits=int(params.get(f"{name}.w", base.weight_bits)),
                                                activation_bits=int(params.get(f"{name}.a", base.activation_bits)))
    export = dataclasses.replace(design.export, reuse_factor=int(params.get("reuse_factor", design.export.reuse_factor)),
                                 strategy=str(params.get("strategy", design.export.strategy)))
    return dataclasses.replace(design, layer_quant=layer_quant, export=export)


def _exact_accumulator(variant: Design, name: str, in_spec: QuantSpec | None, n_terms: int) -> QuantSpec | None:
    """The accumulator our export gives a quantized_bits layer (codesign/spec.py mac), or None if unknown."""
    q = variant.quant_for(name)
    if in_spec is None or q.weight_quantizer != "bits":
        return None
    return mac(in_spec, QuantSpec(q.weight_bits, q.weight_integer + 1), n_terms,
               QuantSpec(q.bias_bits, q.bias_integer + 1))


def cost_assignment(model: CostModel, params: dict, design: Design | None = None) -> dict[str, dict]:
    """Widths of every layer under the candidate. With the design, accumulators follow our exact precision
    rules (codesign/spec.py); otherwise they grow or shrink with the weight and input widths."""
    out, cur = {}, None
    spec = getattr(model, "input_spec", None) if design is not None else None
    variant = design_variant(design, params) if design is not None else None
    rf = params.get("reuse_factor")
    strategy = params.get("strategy")
    for layer in model.layers:
        if layer.kind == "free":
            continue
        inb = layer.in_bits if cur is None else cur
        change = {"in_bits": inb}
        if layer.kind in MAC_KINDS:
            w = int(params.get(f"{layer.name}.w", layer.w_bits))
            exact = _exact_accumulator(variant, layer.name, spec, layer.n_terms) if variant else None
            acc = exact.width if exact else layer.acc_bits + (w - layer.w_bits) + (inb - layer.in_bits)
            spec = exact
            change |= {"w_bits": w, "acc_bits": acc, "res_bits": acc}
            if rf is not None:
                change["rf"] = int(rf)
            if strategy is not None:
                change["strategy"] = str(strategy).lower()
            cur = acc
        elif layer.kind == "relu" and layer.name.endswith("_relu"):
            cur = int(params.get(f"{layer.name[:-5]}.a", layer.res_bits))
            change["res_bits"] = cur
            if variant is not None:
                q = variant.quant_for(layer.name[:-5])
                spec = QuantSpec(q.activation_bits, q.activation_integer, False, "RND_CONV", "SAT")
        elif layer.kind == "max_pool":
            change["res_bits"] = cur = inb
        elif layer.kind == "avg_pool":
            change["res_bits"] = cur = layer.res_bits + (inb - layer.in_bits)
            spec = None
        else:
            cur, spec = layer.res_bits, None
        out[layer.name] = change
    return out


def candidate_cost(model: CostModel, params: dict, design: Design | None = None) -> Estimate:
    return model.estimate(cost_assignment(model, params, design))
