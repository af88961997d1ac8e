"""`codesign synth`: the network as RTL (da4ml), synthesized (Yosys) and simulated (Verilator) against QKeras.

The RTL is built from the typed graph (`network.py`), so it has the types hls4ml is given; the
Verilator simulation is compared bit for bit with the QKeras model's own outputs (logits when the
model ends in a softmax), never with da4ml's evaluation of itself.
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from hw_models import load_part

from ..atomic import atomic_dir
from ..errors import CodesignError
from ..spec import QuantSpec
from ..validate import exact_core, keras_outputs
from . import verilator, yosys
from .network import build
from .tools import require_synthesis_tools

# Yosys 0.23 synth_xilinx took 76 s for a 35k-LUT MLP here; a fully parallel CNN of 691k LUTs (mnist_cnn)
# still ran after 40 min at 14.5 GB. Above this, synthesis is refused unless asked for.
MAX_LUT_DEFAULT = 150_000
PUBLIC_KEYS = ("model", "part", "family", "lut", "ff", "carry", "dsp", "latency_cycles", "yosys_seconds", "rtl_dir",
               "top", "n_samples", "rtl_bit_exact_fraction")


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
    timings_s: dict = field(default_factory=dict)
    cells: dict = field(default_factory=dict)

    def public(self) -> dict:
        """The `codesign synth --json` shape (exactly these keys)."""
        return {k: getattr(self, k) for k in PUBLIC_KEYS}

    def to_json(self) -> dict:
        return asdict(self)


def top_name(name: str) -> str:
    """A Verilog module name from a model name."""
    safe = re.sub(r"\W", "_", name)
    return safe if re.match(r"[A-Za-z_]", safe) else f"m_{safe}"


def synth(model, x: np.ndarray, rtl_dir: Path, *, name: str = "model", part: str = "xcvu13p-flga2577-2-e",
          pipeline: float = 0, input_spec: QuantSpec | None = None, progress=None,
          max_lut: float = MAX_LUT_DEFAULT) -> SynthResult:
    """Build, synthesize and simulate `model` on inputs x; the RTL project goes to `rtl_dir`.

    pipeline: 0 builds combinational logic; N > 0 registers the logic every N units of da4ml's delay
    model (one adder level ~ 1), so latency_cycles is the number of register stages.
    """
    step = progress or (lambda msg: None)
    require_synthesis_tools()
    target = load_part(part)
    if pipeline < 0:
        raise CodesignError(f"--pipeline {pipeline}: allowed: 0 (combinational) or a positive delay per stage")
    exact = exact_core(model, x, input_spec)
    xq, graph = exact.xq, exact.graph
    timings: dict[str, float] = {}

    step("tracing the network with da4ml")
    from da4ml.codegen import VerilogModel
    from da4ml.trace import comb_trace

    start = time.perf_counter()
    inp, out = build(graph)
    comb = comb_trace(inp, out)
    timings["trace_s"] = round(time.perf_counter() - start, 2)
    verilator.check_io_widths(comb)
    if comb.cost > max_lut:
        raise CodesignError(f"{name}: its fully parallel RTL needs about {comb.cost:,.0f} LUTs (da4ml's estimate), "
                            f"above --max-lut {max_lut:,.0f}: Yosys would take hours and tens of GB; synthesize a "
                            "smaller design or raise --max-lut")
    top = top_name(name)
    ref = keras_outputs(exact.core, xq).reshape(len(xq), -1)
    with atomic_dir(rtl_dir) as tmp:
        rtl = VerilogModel(comb, top, tmp, latency_cutoff=pipeline if pipeline > 0 else -1, part_name=target.part,
                           print_latency=False)
        rtl.write()
        for mem in (tmp / "src" / "memfiles").glob("*.mem"):  # da4ml ends the file without a newline, and
            mem.write_text(mem.read_text().rstrip("\n") + "\n")  # Verilator 5.006's $readmemh drops that entry
        solution = rtl._pipe if rtl._pipe is not None else comb
        latency = len(rtl._pipe.solutions) if rtl._pipe is not None else 0
        step(f"Yosys synth_xilinx -family {target.yosys_family}")
        mapped = yosys.synthesize(tmp / "src", top, target.yosys_family, tmp / "yosys.log")
        step("Verilator: building the simulator")
        lib, timings["verilator_build_s"] = verilator.build(tmp, top)
        step(f"Verilator: simulating {len(xq)} samples")
        start = time.perf_counter()
        got = verilator.simulate(lib, solution, xq, yosys.mem_dir(tmp / "src"))
        timings["simulate_s"] = round(time.perf_counter() - start, 3)
        shutil.rmtree(tmp / "sim" / "obj_dir", ignore_errors=True)
    timings["verilator_build_s"] = round(timings["verilator_build_s"], 1)
    return SynthResult(
        model=name, part=target.part, family=target.yosys_family, lut=mapped.lut, ff=mapped.ff, carry=mapped.carry,
        dsp=mapped.dsp, latency_cycles=latency, yosys_seconds=mapped.seconds, rtl_dir=str(rtl_dir), top=top,
        n_samples=len(xq), rtl_bit_exact_fraction=float(np.mean(got == ref)),
        outputs_compared="logits" if exact.softmax else "outputs", input_precision=exact.input_spec.to_hls(),
        da4ml_lut_estimate=round(float(comb.cost), 1),
        max_abs_diff=float(np.max(np.abs(got - ref))) if got.size else 0.0,
        argmax_agreement=float(np.mean(np.argmax(got, 1) == np.argmax(ref, 1))),
        inexact_reference_layers=exact.inexact_reference_layers(),
        timings_s=timings, cells=mapped.cells)
