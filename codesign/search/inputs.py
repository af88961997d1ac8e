"""A candidate's inputs: the type the FPGA receives them in, and the inputs its first layer may leave out.

`search.space.input_bits` narrows the type the data reaches the FPGA in (`Split.input_spec`) by dropping
its least significant bits: truncation, as ap_fixed's default AP_TRN casts, so the narrower input costs no
logic (the wires are left off) and every candidate trains, is scored, costed, exported and proven on the
inputs its FPGA receives. HGQ learns such widths per input (its input quantizer); here the width is one
knob of the design, and with it an input that is 0 in every training sample at that width is left out: its
row of the first layer's kernel (a Dense reached from the input through Flatten/Reshape/Dropout only) is
set to exact zeros, which the fine-tuning keeps (its gradient is 0 on the training data) and da4ml drops
from the adder graph. A zero weight is exact in every representation codesign proves (codesign/prune.py),
so the bit-exact proof is unchanged; on an input that is not 0 the design ignores it (the model's choice,
as a pruned weight is).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from hw_models.fixed import QuantSpec

from ..data import Split
from ..modelio import consumers
from .space import INPUT_BITS

PASS_THROUGH = ("Flatten", "Reshape", "Dropout")  # layers that keep each input value as it is (row-major)


@dataclass(frozen=True)
class CandidateInputs:
    spec: QuantSpec              # the type the FPGA receives the inputs in
    split: Split                 # the fine-tuning split on that grid
    x_val: np.ndarray            # the validation inputs on that grid
    dead: np.ndarray | None      # per input of `layer`: 0 in every training sample on that grid (None: none left out)
    layer: str | None            # the first layer, whose kernel rows of dead inputs are zeroed


def narrowed(spec: QuantSpec, bits: int | None) -> QuantSpec:
    """`spec` with its least significant bits dropped down to `bits` (truncating: the wires left off)."""
    if bits is None or bits >= spec.width:
        return spec
    return replace(spec, width=int(bits), rounding="TRN")


def input_bits(ctx, params: dict) -> int | None:
    """The candidate's input width: its input_bits, the one width a space of one choice fixes, or None (the
    data's type, input_bits not in the design's space)."""
    if INPUT_BITS in params:
        return int(params[INPUT_BITS])
    return max(ctx.space.input_bits) if ctx.space.input_bits else None


def first_dense(model, searched: tuple[str, ...]) -> str | None:
    """The searched Dense layer the model's input reaches through pass-through layers only, each with one
    consumer (its kernel has one row per input value); None when there is none."""
    layer = model.layers[0]
    while True:
        after = consumers(layer)
        if len(after) != 1:
            return None
        layer = after[0]
        kind = type(layer).__name__
        if kind in ("QDense", "Dense"):
            return layer.name if layer.name in searched else None
        if kind not in PASS_THROUGH:
            return None


def candidate_inputs(ctx, params: dict) -> CandidateInputs:
    """The candidate's inputs (computed once per width and kept on the context)."""
    bits = input_bits(ctx, params)
    if bits in ctx.inputs:
        return ctx.inputs[bits]
    spec = narrowed(ctx.split.input_spec, bits)
    split, x_val = ctx.split, ctx.x_val
    if spec != ctx.split.input_spec:
        split = replace(ctx.split)
        split.quantize_inputs(spec)
        x_val = spec.quantize(ctx.x_val).astype(np.float32)
    layer = first_dense(ctx.base_model, ctx.space.layers) if bits is not None else None
    dead = None
    if layer is not None:
        flat = split.x_train.reshape(len(split.x_train), -1)
        dead = np.all(flat == 0, axis=0)
        dead = dead if dead.any() else None
    ctx.inputs[bits] = CandidateInputs(spec, split, x_val, dead, layer)
    return ctx.inputs[bits]


def without_dead(inputs: CandidateInputs, name: str, kernel: np.ndarray) -> np.ndarray:
    """Layer `name`'s kernel with the rows of dead inputs zeroed (as it is for any other layer)."""
    if inputs.dead is None or name != inputs.layer:
        return kernel
    return np.where(inputs.dead[:, None], 0.0, kernel).astype(kernel.dtype)


def zero_dead(inputs: CandidateInputs, model) -> None:
    """Zero the first layer's kernel rows of dead inputs in `model` (a candidate's QKeras model), in place."""
    if inputs.dead is None:
        return
    kernel = model.get_layer(inputs.layer).kernel
    kernel.assign(without_dead(inputs, inputs.layer, kernel.numpy()))
