"""The RTL front-ends behind one protocol: what `synth` builds, simulates and compares, for a QKeras model (its
typed graph: `network.py`, `stream.py`) or an HGQ proxy (its per-element quantizers: `hgq.py`).

`synth` asks a front-end for the inputs on the grid the RTL reads, the whole network or one kernel per stream
stage as da4ml logic, the stream simulated stage by stage, and the reference its outputs must equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

from ..errors import CodesignError
from ..precision import LayerKind
from ..spec import QuantSpec
from ..validate import ExactCore, exact_core
from . import hgq, stream
from .network import build, build_kernel


class Frontend(Protocol):
    xq: np.ndarray  # the inputs on the grid the RTL reads

    def build(self) -> tuple: ...  # (inputs, outputs) of the whole network as da4ml variables
    def plan(self) -> list[stream.Stage]: ...  # the io_stream stages
    def build_kernel(self, stage: stream.Stage) -> tuple: ...  # (inputs, outputs) of one stage's kernel
    def simulate(self, stages: list[stream.Stage], run: Callable) -> np.ndarray: ...  # the stream, stage by stage
    def reference(self) -> tuple[np.ndarray, dict]: ...  # (outputs to equal, QKeras float32 distance or {})
    def facts(self) -> dict: ...  # SynthResult fields: input_precision, outputs_compared, ...


@dataclass
class QKerasFrontend:
    """A QKeras model through its typed graph; judged by its exact arithmetic (`reference.py`)."""
    exact: ExactCore

    def __post_init__(self):
        self.xq, self.graph = self.exact.xq, self.exact.graph
        for node in self.graph:
            if node.float_layer:  # hls4ml's `/= N` is an integer division: no constant-matrix product builds it
                what = (f"averages {node.n_terms} values, not a power of two; the RTL builder averages 2, 4, 8, "
                        "... values" if node.kind is LayerKind.AVG_POOL else "QKeras's float32 function and "
                        "hls4ml's table round some inputs apart (a float layer); the RTL is built only where "
                        "they agree")
                raise CodesignError(f"layer '{node.name}' ({node.class_name}): {what}; its hls4ml C model is "
                                    "proven by `codesign validate --accept-float-layers`")

    def build(self):
        return build(self.graph)

    def plan(self):
        return stream.plan(self.graph)

    def build_kernel(self, stage):
        return build_kernel(self.graph, stage.nodes, stage.inputs, stage.window is not None)

    def simulate(self, stages, run):
        return stream.simulate(stages, self.graph, self.xq, run)

    def reference(self):
        ref, float32 = self.exact.reference()
        return ref, float32.to_json()

    def facts(self) -> dict:
        e = self.exact
        return {"outputs_compared": "logits" if e.softmax else "outputs", "input_precision": e.input_spec.to_hls(),
                "inexact_reference_layers": e.inexact_reference_layers(), "inputs_changed": e.inputs_changed,
                "input_note": e.input_note()}


@dataclass
class HGQFrontend:
    """An HGQ proxy through its own quantizers; judged by the proxy itself on the user's inputs."""
    model: object
    x: np.ndarray

    def __post_init__(self):
        self.xq = hgq.input_grid(self.model, self.x)

    def build(self):
        return hgq.build(self.model)

    def plan(self):
        return hgq.stream_plan(self.model)

    def build_kernel(self, stage):
        return hgq.build_kernel(self.model, stage)

    def simulate(self, stages, run):
        return hgq.simulate_stream(stages, self.model, self.xq, run)

    def reference(self):
        return np.asarray(self.model(np.asarray(self.x, np.float32)), np.float64), {}

    def facts(self) -> dict:
        return {"outputs_compared": "outputs", "input_precision": "HGQ per-element (the proxy's input quantizer)"}


def frontend(model, x: np.ndarray, input_spec: QuantSpec | None = None) -> Frontend:
    """The front-end of a model: an HGQ proxy's own, else the QKeras typed graph's."""
    return HGQFrontend(model, x) if hgq.is_proxy(model) else QKerasFrontend(exact_core(model, x, input_spec))
