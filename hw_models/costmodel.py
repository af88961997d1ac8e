"""The search-facing API: parse a model once, then score candidate precision/reuse assignments fast."""

from __future__ import annotations

import numpy as np

from .coefficients import Coefficients, default_coefficients
from .cost import Estimate, estimate
from .fixed import QuantSpec
from .layers import MAC_KINDS, LayerIR, weight_stats
from .parts import Part
from .reuse import closest_reuse_factor

KNOBS = ("w_bits", "w_integer", "in_bits", "in_integer", "in_signed", "acc_bits", "res_bits", "rf", "strategy",
         "weight_values", "bias_values")


class CostModel:
    """`CostModel(layers, part).estimate({"fc1": {"w_bits": 4, "res_bits": 6, "rf": 2}})`.

    A layer's input width follows the result width of the layer before it (a chain, as hls4ml wires it);
    weight statistics are recomputed from the layer's float weights for each new weight width and cached.
    """

    def __init__(self, layers: list[LayerIR], part: Part, clock_ns: float = 5.0,
                 coefficients: Coefficients | None = None, level: str = "synth"):
        self.layers, self.part, self.clock_ns, self.level = list(layers), part, clock_ns, level
        self.coefficients = coefficients or default_coefficients()
        self._stats: dict[tuple[str, int], object] = {}
        self.notes: list[str] = []

    def layer_names(self) -> list[str]:
        return [layer.name for layer in self.layers]

    def _stats_for(self, layer: LayerIR, w_bits: int):
        """(weight statistics, re-quantized values or None) of the layer's weights at w_bits."""
        key = (layer.name, w_bits)
        if key not in self._stats:
            data = layer.extra.get("weights")
            if data is None:
                self._stats[key] = layer.weights, None
            else:  # re-quantized with the layer's integer bits kept, as QKeras quantized_bits rounds (to nearest)
                spec = QuantSpec(w_bits, int(layer.extra.get("w_integer", 1)), True, "RND_CONV", "SAT")
                q = spec.quantize(np.asarray(data))
                self._stats[key] = weight_stats(q, spec.frac), q
        return self._stats[key]

    def resolve(self, assignment: dict[str, dict] | None = None) -> list[LayerIR]:
        assignment = assignment or {}
        unknown = set(assignment) - set(self.layer_names())
        if unknown:
            raise KeyError(f"unknown layer(s) {sorted(unknown)}; layers: {self.layer_names()}")
        out, prev_res = [], None
        for layer in self.layers:
            change = dict(assignment.get(layer.name, {}))
            bad = set(change) - set(KNOBS)
            if bad:
                raise KeyError(f"layer {layer.name}: unknown knob(s) {sorted(bad)}; allowed: {', '.join(KNOBS)}")
            if prev_res is not None and "in_bits" not in change and layer.kind != "free":
                change["in_bits"] = prev_res
            w_integer = change.pop("w_integer", layer.extra.get("w_integer", 1))
            extra = {}
            if "weight_values" in change:  # the candidate's own (e.g. fine-tuned) quantized weights
                frac = int(change.get("w_bits", layer.w_bits)) - int(w_integer)
                extra["weights"] = np.asarray(change.pop("weight_values"), np.float64)
                change["weights"] = weight_stats(extra["weights"], frac)
            elif layer.kind in MAC_KINDS and "w_bits" in change and change["w_bits"] != layer.w_bits:
                change["weights"], values = self._stats_for(layer, int(change["w_bits"]))
                if values is not None:
                    extra["weights"] = values
            if "bias_values" in change:
                extra["bias"] = change.pop("bias_values")
            if extra:  # the distributed-arithmetic estimate solves the actual kernel (da.py)
                change["extra"] = {**layer.extra, **extra, "w_integer": w_integer}
            if layer.kind in MAC_KINDS and change.get("strategy", layer.strategy) == "resource" and "rf" in change:
                change["rf"] = closest_reuse_factor(layer.n_terms, layer.n_out, int(change["rf"]))
            new = layer.with_(**change) if change else layer
            if new.kind != "free":
                prev_res = new.res_bits
            out.append(new)
        return out

    def estimate(self, assignment: dict[str, dict] | None = None) -> Estimate:
        return estimate(self.resolve(assignment), self.part, self.clock_ns, self.coefficients, self.level)
