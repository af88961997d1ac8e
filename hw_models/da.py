"""Estimator of hls4ml's `distributed_arithmetic` template: da4ml adder graphs, fitted on Yosys.

hls4ml 1.3.0 (backends/vivado/passes/distributed_arithmetic.py) solves each Dense/Conv kernel as a
constant-matrix-vector multiplication with da4ml (`inp @ kernel + bias`, hard_dc=2,
search_all_decompose_dc=True) and emits the resulting adder graph: no multipliers, no DSPs, no
stored weights. `solve` reproduces that call; da4ml's cost (its LUT count of the adders) is the one
feature, scaled by coefficients fitted on Yosys `synth_xilinx` of generated layers
(`benchmarks/da_corpus.py` -> data/da_yosys.jsonl, data/da_coefficients.json). A convolution in
io_parallel instantiates its kernel once per output position; in io_stream once.

da4ml's solver does not scale to real layer sizes (its greedy common-subexpression search grows about with
the square of the kernel's nonzero digits: a 128x32 8-bit kernel takes ~50 s, 256x32 ~330 s and 7 GB, a
784x128 one does not finish). `matmul` therefore splits a kernel with more than BLOCK_DIGITS nonzero
canonical-signed-digit (CSD) digits into blocks of at most BLOCK_COLS columns and row ranges of about
BLOCK_DIGITS digits, solves each block alone and sums the partial products in a balanced adder tree. The
RTL builder (codesign/rtl) and this estimator both call it, so the cost is the cost of what is built. A
split kernel loses the subexpressions shared across blocks: measured on random 8-bit kernels, +6% LUT at
128x32 and +21% at 256x32 against the whole solve (benchmarks/da_scaling.py, reports/da_scaling.md);
kernels within one block (every kernel of the Yosys corpus) are solved whole, as hls4ml does.

da4ml 0.5's solver keeps memory that only a process exit returns (measured: 24 MB per solve of a 32x16
kernel, 350 MB of a 784x64 one; a search that costs a few dozen MNIST-sized candidates grew past 24 GB), so
`cost_and_depth` solves in a child process that is replaced every CHILD_SOLVES solves.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import da4ml_fixes  # noqa: F401  (da4ml's constants made exact before anything is traced)
from .layers import csd_digits

DATA = Path(__file__).parent / "data"
COEFFICIENTS = DATA / "da_coefficients.json"
# hls4ml's DistributedArithmeticCodegen.transform solver options (DA_HARD_DC defaults to 2)
SOLVER_OPTIONS = {"hard_dc": 2, "search_all_decompose_dc": True}
# a block of a split kernel: one decomposition depth instead of hls4ml's search over all (4-5x faster; the
# same cost on the kernels measured, benchmarks/da_scaling.py)
BLOCK_OPTIONS = {"hard_dc": 2, "search_all_decompose_dc": False, "decompose_dc": 1}
BLOCK_DIGITS = 2560  # nonzero CSD digits solved at once (a 32x32 block of dense 8-bit weights)
BLOCK_COLS = 32


@dataclass(frozen=True)
class DAEstimate:
    lut: float
    lut_low: float    # p10 of the cross-validated Yosys/estimate ratio
    lut_high: float   # p90
    adder_depth: float
    da4ml_cost: float


def kernel_digits(kernel: np.ndarray) -> np.ndarray:
    """Nonzero CSD digits of each weight (layers.csd_digits of its mantissa: any power-of-two scale)."""
    mantissa, _ = np.frexp(np.abs(np.asarray(kernel, np.float64)))
    return csd_digits((mantissa * 2.0 ** 53).astype(np.int64))


def blocks(kernel: np.ndarray) -> list[tuple[slice, slice]]:
    """(row range, column range) of each block `matmul` solves alone: the whole kernel when it has at most
    BLOCK_DIGITS nonzero CSD digits, else column groups of <= BLOCK_COLS, each cut into row ranges of about
    BLOCK_DIGITS digits (equal row counts)."""
    kernel = np.asarray(kernel, np.float64)
    rows, cols = kernel.shape
    digits = kernel_digits(kernel)
    if digits.sum() <= BLOCK_DIGITS:
        return [(slice(0, rows), slice(0, cols))]
    out = []
    for col_edges in np.array_split(np.arange(cols), -(-cols // BLOCK_COLS)):
        c = slice(int(col_edges[0]), int(col_edges[-1]) + 1)
        n_row = max(1, min(rows, -(-int(digits[:, c].sum()) // BLOCK_DIGITS)))
        for row_edges in np.array_split(np.arange(rows), n_row):
            out.append((slice(int(row_edges[0]), int(row_edges[-1]) + 1), c))
    return out


def matmul(x, kernel: np.ndarray):
    """x @ kernel for a da4ml FixedVariableArray x (..., rows): whole, with hls4ml's solver options, or split
    into `blocks` whose partial sums are added in a balanced tree. The one constant-matrix product of the RTL
    builders and of this estimator."""
    from da4ml.trace import FixedVariableArray

    kernel = np.asarray(kernel, np.float64)
    parts = blocks(kernel)
    if len(parts) == 1:
        return FixedVariableArray(x._vars, SOLVER_OPTIONS) @ kernel
    columns = []
    for c, group in itertools.groupby(parts, key=lambda p: p[1]):  # blocks come column group by column group
        sums = [FixedVariableArray(x._vars[..., r], BLOCK_OPTIONS) @ kernel[r, c] for r, _ in group]
        while len(sums) > 1:  # balanced: depth log2(blocks), not blocks - 1
            sums = [sums[j] + sums[j + 1] if j + 1 < len(sums) else sums[j] for j in range(0, len(sums), 2)]
        columns.append(sums[0]._vars)
    return FixedVariableArray(np.concatenate(columns, axis=-1), SOLVER_OPTIONS)


def solve(kernel: np.ndarray, k, i, f, bias: np.ndarray | None = None):
    """da4ml's adder graph of x @ kernel (+ bias) for inputs of (k, i, f) bits, as hls4ml builds it (a large
    kernel as `matmul` splits it)."""
    from da4ml.trace import FixedVariableArray, HWConfig, comb_trace

    kernel = np.asarray(kernel, np.float64).reshape(-1, np.shape(kernel)[-1])
    n_in = kernel.shape[0]
    k, i, f = (np.broadcast_to(np.asarray(a), (n_in,)) for a in (k, i, f))
    inp = FixedVariableArray.from_kif(k, i, f, HWConfig(1, -1, -1))  # matmul sets the solver options
    out = matmul(inp, kernel)
    if bias is not None:
        out = out + np.asarray(bias, np.float64).ravel()
    return comb_trace(inp, out)


@lru_cache(maxsize=1)
def coefficients() -> dict:
    return json.loads(COEFFICIENTS.read_text())


_SOLVED: dict[bytes, tuple[float, float]] = {}
CHILD_SOLVES = 16  # solves per child process before a fresh one replaces it (the memory it kept goes with it)
_CHILD: list = []  # the one executor of this process, started on first use


def _solved_cost(kernel: np.ndarray, k, i, f, bias: np.ndarray | None) -> tuple[float, float]:
    sol = solve(kernel, k, i, f, bias)
    return float(sol.cost), float(np.max(sol.latency))


def _child():
    if not _CHILD:
        import atexit
        from multiprocessing.util import Finalize

        from .child import worker_pool

        _CHILD.append(worker_pool(1, max_tasks_per_child=CHILD_SOLVES))
        atexit.register(_stop_child)  # before interpreter teardown, which would collect it half-way
        # a multiprocessing worker (a ProcessPoolExecutor's) joins its children before atexit: without this the
        # idle child waits for work and the worker for it (the MNIST MLP's judge hung); finalizers run first
        Finalize(None, _stop_child, exitpriority=100)
    return _CHILD[0]


def _stop_child() -> None:
    """End the solver's child process (at exit: atexit, or a multiprocessing worker's finalizers)."""
    while _CHILD:
        _CHILD.pop().shutdown(wait=True)


def cost_and_depth(kernel: np.ndarray, k, i, f, bias: np.ndarray | None = None) -> tuple[float, float]:
    """(da4ml LUT cost, adder depth) of one kernel, cached on its exact values and input type; solved in the
    child process (module docstring)."""
    kernel = np.ascontiguousarray(kernel, np.float64)
    key = b"".join([kernel.tobytes(), str(kernel.shape).encode(), np.asarray([k, i, f], np.int64).tobytes(),
                    b"" if bias is None else np.ascontiguousarray(bias, np.float64).tobytes()])
    if key not in _SOLVED:
        _SOLVED[key] = _child().submit(_solved_cost, kernel, k, i, f, bias).result()
    return _SOLVED[key]


def estimate(kernel: np.ndarray, k, i, f, bias: np.ndarray | None = None, instances: int = 1) -> DAEstimate:
    """LUT of `instances` copies of one kernel's adder graph, with its interval."""
    cost, depth = cost_and_depth(kernel, k, i, f, bias)
    c = coefficients()
    lut = (c["scale"] * cost + c["offset"]) * instances
    return DAEstimate(lut=lut, lut_low=lut * c["ratio_p10"], lut_high=lut * c["ratio_p90"], adder_depth=depth,
                      da4ml_cost=cost * instances)
