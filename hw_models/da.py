"""Estimator of hls4ml's `distributed_arithmetic` template: da4ml adder graphs, fitted on Yosys.

hls4ml 1.3.0 (backends/vivado/passes/distributed_arithmetic.py) solves each Dense/Conv kernel as a
constant-matrix-vector multiplication with da4ml (`inp @ kernel + bias`, hard_dc=2,
search_all_decompose_dc=True) and emits the resulting adder graph: no multipliers, no DSPs, no
stored weights. `solve` reproduces that call; da4ml's cost (its LUT count of the adders) is the one
feature, scaled by coefficients fitted on Yosys `synth_xilinx` of generated layers
(`benchmarks/da_corpus.py` -> data/da_yosys.jsonl, data/da_coefficients.json). A convolution in
io_parallel instantiates its kernel once per output position; in io_stream once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data"
COEFFICIENTS = DATA / "da_coefficients.json"
# hls4ml's DistributedArithmeticCodegen.transform solver options (DA_HARD_DC defaults to 2)
SOLVER_OPTIONS = {"hard_dc": 2, "search_all_decompose_dc": True}


@dataclass(frozen=True)
class DAEstimate:
    lut: float
    lut_low: float    # p10 of the cross-validated Yosys/estimate ratio
    lut_high: float   # p90
    adder_depth: float
    da4ml_cost: float


def solve(kernel: np.ndarray, k, i, f, bias: np.ndarray | None = None):
    """da4ml's adder graph of x @ kernel (+ bias) for inputs of (k, i, f) bits, as hls4ml builds it."""
    from da4ml.trace import FixedVariableArray, HWConfig, comb_trace

    kernel = np.asarray(kernel, np.float64).reshape(-1, np.shape(kernel)[-1])
    n_in = kernel.shape[0]
    k, i, f = (np.broadcast_to(np.asarray(a), (n_in,)) for a in (k, i, f))
    inp = FixedVariableArray.from_kif(k, i, f, HWConfig(1, -1, -1), solver_options=SOLVER_OPTIONS)
    out = inp @ kernel
    if bias is not None:
        out = out + np.asarray(bias, np.float64).ravel()
    return comb_trace(inp, out)


@lru_cache(maxsize=1)
def coefficients() -> dict:
    return json.loads(COEFFICIENTS.read_text())


_SOLVED: dict[bytes, tuple[float, float]] = {}


def cost_and_depth(kernel: np.ndarray, k, i, f, bias: np.ndarray | None = None) -> tuple[float, float]:
    """(da4ml LUT cost, adder depth) of one kernel, cached on its exact values and input type."""
    kernel = np.ascontiguousarray(kernel, np.float64)
    key = b"".join([kernel.tobytes(), str(kernel.shape).encode(), np.asarray([k, i, f], np.int64).tobytes(),
                    b"" if bias is None else np.ascontiguousarray(bias, np.float64).tobytes()])
    if key not in _SOLVED:
        sol = solve(kernel, k, i, f, bias)
        _SOLVED[key] = float(sol.cost), float(np.max(sol.latency))
    return _SOLVED[key]


def estimate(kernel: np.ndarray, k, i, f, bias: np.ndarray | None = None, instances: int = 1) -> DAEstimate:
    """LUT of `instances` copies of one kernel's adder graph, with its interval."""
    cost, depth = cost_and_depth(kernel, k, i, f, bias)
    c = coefficients()
    lut = (c["scale"] * cost + c["offset"]) * instances
    return DAEstimate(lut=lut, lut_low=lut * c["ratio_p10"], lut_high=lut * c["ratio_p90"], adder_depth=depth,
                      da4ml_cost=cost * instances)
