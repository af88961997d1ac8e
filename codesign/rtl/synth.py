"""`codesign synth`: the network as RTL (da4ml), synthesized (Yosys) and simulated (Verilator) against QKeras.

The RTL is built by a front-end (`frontend.py`: the typed graph of `network.py`, or an HGQ proxy), so it has
the types hls4ml is given; the Verilator simulation is compared bit for bit with the QKeras model's own
outputs (logits when the model ends in a softmax), never with da4ml's evaluation of itself.
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from hw_models import load_part
from hw_models.targets import DEFAULT_PART

from ..atomic import atomic_dir
from ..errors import CodesignError
from ..spec import QuantSpec
from . import stream, verilator, yosys
from .frontend import Frontend, frontend
from .tools import require_synthesis_tools

# Yosys 0.23 synth_xilinx took 76 s for a 35k-LUT MLP here; a fully parallel CNN of 691k LUTs (mnist_cnn)
# still ran after 40 min at 14.5 GB. Above this, synthesis is refused unless asked for.
MAX_LUT_DEFAULT = 150_000
PUBLIC_KEYS = ("model", "part", "family", "lut", "ff", "carry", "dsp", "latency_cycles", "yosys_seconds", "rtl_dir",
               "top", "n_samples", "rtl_bit_exact_fraction", "input_precision", "inputs_changed")


@dataclass
class SynthResult:
    model: str
    part: str
    family: str
    lut: int
    ff: int
    carry: int
    dsp: int
    latency_cycles: int
    yosys_seconds: float
    rtl_dir: str
    top: str
    n_samples: int
    rtl_bit_exact_fraction: float
    outputs_compared: str = "outputs"
    input_precision: str = ""
    da4ml_lut_estimate: float = 0.0
    max_abs_diff: float = 0.0
    argmax_agreement: float = 1.0
    inexact_reference_layers: list = field(default_factory=list)
    inputs_changed: int = 0  # input values the input type rounded (validate.ExactCore.input_note)
    input_note: str | None = None
    float32_distance: dict = field(default_factory=dict)  # QKeras's float32 outputs vs the exact reference
    timings_s: dict = field(default_factory=dict)
    cells: dict = field(default_factory=dict)
    architecture: str = "parallel"  # or "stream": one kernel per layer (stream.py); totals are their sums
    kernels: list = field(default_factory=list)  # stream: each kernel's numbers
    line_buffer_bits: int = 0  # stream: memory of the convolution/pooling line buffers (not in LUT/FF)

    def public(self) -> dict:
        """The `codesign synth --json` shape (exactly these keys)."""
        return {k: getattr(self, k) for k in PUBLIC_KEYS}

    def to_json(self) -> dict:
        return asdict(self)


def top_name(name: str) -> str:
    """A Verilog module name from a model name."""
    safe = re.sub(r"\W", "_", name)
    return safe if re.match(r"[A-Za-z_]", safe) else f"m_{safe}"


ARCHITECTURES = ("parallel", "stream")


@dataclass
class Kernel:
    """One RTL module written, synthesized and compiled for simulation."""
    top: str
    folder: Path
    mapped: yosys.YosysResult
    solution: object
    latency: int
    lib: Path
    build_s: float

    def run(self, rows: np.ndarray) -> np.ndarray:
        return verilator.simulate(self.lib, self.solution, rows, yosys.mem_dir(self.folder / "src"))


def _kernel(comb, top: str, folder: Path, target, pipeline: float, step) -> Kernel:
    from da4ml.codegen import VerilogModel

    verilator.check_io_widths(comb)
    rtl = VerilogModel(comb, top, folder, latency_cutoff=pipeline if pipeline > 0 else -1, part_name=target.part,
                       print_latency=False)
    rtl.write()
    for mem in (folder / "src" / "memfiles").glob("*.mem"):  # da4ml ends the file without a newline, and
        mem.write_text(mem.read_text().rstrip("\n") + "\n")  # Verilator 5.006's $readmemh drops that entry
    step(f"Yosys synth_xilinx -family {target.yosys_family}: {top}")
    mapped = yosys.synthesize(folder / "src", top, target.yosys_family, folder / "yosys.log")
    step(f"Verilator: building the simulator of {top}")
    lib, seconds = verilator.build(folder, top)
    solution = rtl._pipe if rtl._pipe is not None else comb
    latency = len(rtl._pipe.solutions) if rtl._pipe is not None else 0
    return Kernel(top, folder, mapped, solution, latency, lib, seconds)


def trace(front: Frontend, architecture: str) -> tuple[list, list[tuple[str, object]]]:
    """(stream stages, [(stage name, da4ml combinational logic)]) of a front-end: the whole network as one module
    named "" (parallel), or one kernel per stream stage."""
    from da4ml.trace import comb_trace

    if architecture == "parallel":
        return [], [("", comb_trace(*front.build()))]
    stages = front.plan()
    return stages, [(s.name, comb_trace(*front.build_kernel(s))) for s in stages if not s.wiring]


def synth(model, x: np.ndarray, rtl_dir: Path, *, name: str = "model", part: str = DEFAULT_PART,
          pipeline: float = 0, input_spec: QuantSpec | None = None, progress=None,
          max_lut: float = MAX_LUT_DEFAULT, architecture: str = "parallel") -> SynthResult:
    """Build, synthesize and simulate `model` on inputs x; the RTL project goes to `rtl_dir`.

    pipeline: 0 builds combinational logic; N > 0 registers the logic every N units of da4ml's delay
    model (one adder level ~ 1), so latency_cycles is the number of register stages.
    architecture: "parallel" builds the whole network as one module (hls4ml io_parallel, every layer
    unrolled); "stream" one kernel per layer, reused over every window (hls4ml io_stream, `stream.py`).
    """
    step = progress or (lambda msg: None)
    if architecture not in ARCHITECTURES:
        raise CodesignError(f"--architecture {architecture!r}; allowed: {', '.join(ARCHITECTURES)}")
    require_synthesis_tools()
    target = load_part(part)
    if pipeline < 0:
        raise CodesignError(f"--pipeline {pipeline}: allowed: 0 (combinational) or a positive delay per stage")
    front = frontend(model, x, input_spec)
    xq = front.xq
    timings: dict[str, float] = {"verilator_build_s": 0.0, "simulate_s": 0.0}
    top = top_name(name)

    step("tracing the network with da4ml")
    start = time.perf_counter()
    stages, traced = trace(front, architecture)
    jobs = [(top if not stage else top_name(f"{name}_{stage}"), stage, comb) for stage, comb in traced]
    timings["trace_s"] = round(time.perf_counter() - start, 2)
    costs = {folder: round(float(comb.cost), 1) for _, folder, comb in jobs}
    cost = sum(costs.values())
    if cost > max_lut:
        hint = "; an io_stream design can be built with --architecture stream" if architecture == "parallel" else ""
        raise CodesignError(f"{name}: its {architecture} RTL needs about {cost:,.0f} LUTs (da4ml's estimate), above "
                            f"--max-lut {max_lut:,.0f}: Yosys would take hours and tens of GB; synthesize a smaller "
                            f"design or raise --max-lut{hint}")
    ref, float32 = front.reference()  # the exact arithmetic of a QKeras model, or the HGQ proxy itself
    ref = ref.reshape(len(xq), -1)
    with atomic_dir(rtl_dir) as tmp:
        kernels = {}
        for kernel_top, folder, comb in jobs:
            kernel = _kernel(comb, kernel_top, tmp / folder, target, pipeline, step)
            kernels[folder] = kernel
            timings["verilator_build_s"] += kernel.build_s
        step(f"Verilator: simulating {len(xq)} samples")
        start = time.perf_counter()
        if architecture == "parallel":
            got = kernels[""].run(xq)
        else:
            got = front.simulate(stages, lambda stage, rows: kernels[stage.name].run(rows))
        timings["simulate_s"] = round(time.perf_counter() - start, 3)
        for kernel in kernels.values():
            shutil.rmtree(kernel.folder / "sim" / "obj_dir", ignore_errors=True)
    timings["verilator_build_s"] = round(timings["verilator_build_s"], 1)
    total = lambda key: sum(getattr(k.mapped, key) for k in kernels.values())  # noqa: E731
    per_kernel = [{"top": k.top, "layers": s.layers, "calls_per_sample": s.calls, "lut": k.mapped.lut,
                   "ff": k.mapped.ff, "carry": k.mapped.carry, "dsp": k.mapped.dsp, "latency_cycles": k.latency,
                   "yosys_seconds": k.mapped.seconds, "line_buffer_bits": s.line_buffer_bits,
                   "da4ml_lut_estimate": costs[s.name]}
                  for s in stages if not s.wiring for k in (kernels[s.name],)]
    cells: dict[str, int] = {}
    for kernel in kernels.values():
        for cell, count in kernel.mapped.cells.items():
            cells[cell] = cells.get(cell, 0) + count
    latency = kernels[""].latency if architecture == "parallel" else \
        stream.stream_latency(tuple(model.input_shape[1:]), [k["latency_cycles"] for k in per_kernel])
    return SynthResult(
        model=name, part=target.part, family=target.yosys_family, lut=total("lut"), ff=total("ff"),
        carry=total("carry"), dsp=total("dsp"), latency_cycles=latency,
        yosys_seconds=round(total("seconds"), 1), rtl_dir=str(rtl_dir),
        top=top, n_samples=len(xq), rtl_bit_exact_fraction=float(np.mean(got == ref)),
        da4ml_lut_estimate=round(cost, 1),
        max_abs_diff=float(np.max(np.abs(got - ref))) if got.size else 0.0,
        argmax_agreement=float(np.mean(np.argmax(got, 1) == np.argmax(ref, 1))),
        float32_distance=float32, timings_s=timings, cells=cells, architecture=architecture,
        kernels=per_kernel,
        line_buffer_bits=sum(s.line_buffer_bits for s in stages), **front.facts())
