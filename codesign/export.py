"""hls4ml export: our exact precisions -> hls4ml config -> HLS project (Vitis backend)."""

from __future__ import annotations

import contextlib
import io
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import CodesignError
from .precision import LayerPrecision

IO_TYPES = ("io_parallel", "io_stream")
STRATEGIES = ("Latency", "Resource")


@dataclass(frozen=True)
class ExportOptions:
    part: str = "xcvu13p-flga2577-2-e"
    clock_ns: float = 5.0
    io_type: str = "io_parallel"
    strategy: str = "Latency"
    reuse_factor: int = 1
    backend: str = "Vitis"


def hls_config(precisions: list[LayerPrecision], opts: ExportOptions, trace: bool = False) -> dict:
    """hls4ml config at name granularity; every layer's types set explicitly (no fixed<16,6> default)."""
    layers = {}
    for lp in precisions:
        entry = {"Precision": lp.hls_precision(), "Trace": trace}
        if lp.class_name == "Softmax":  # hls4ml docs: rounding + saturating tables keep softmax accurate
            entry.update(Strategy="stable", TableSize=4096)
            entry["Precision"].update(exp_table="fixed<18,8,RND,SAT>", inv_table="fixed<18,8,RND,SAT>")
        layers[lp.name] = entry
    return {
        "Model": {"Precision": "fixed<16,6>", "ReuseFactor": opts.reuse_factor, "Strategy": opts.strategy,
                  "BramFactor": 1_000_000_000, "TraceOutput": trace},
        "LayerName": layers,
    }


def require_gpp() -> None:
    if shutil.which("g++") is None:
        raise CodesignError("g++ not found on PATH; C simulation needs a C++ compiler (apt-get install g++)")


@contextlib.contextmanager
def quiet():
    """hls4ml prints per-layer chatter; keep the user's terminal for our progress and results."""
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink):
        yield sink


def convert_config(model, cfg: dict, opts: ExportOptions, out_dir: Path):
    """hls4ml conversion with a given hls4ml config; returns the ModelGraph (not yet compiled)."""
    import hls4ml

    with quiet():
        return hls4ml.converters.convert_from_keras_model(
            model, hls_config=cfg, output_dir=str(out_dir), project_name="myproject", backend=opts.backend,
            io_type=opts.io_type, part=opts.part, clock_period=opts.clock_ns,
        )


def convert(model, precisions: list[LayerPrecision], opts: ExportOptions, out_dir: Path, trace: bool = False):
    """Convert and write the HLS project with our exact precisions."""
    return convert_config(model, hls_config(precisions, opts, trace), opts, out_dir)


def compile_model(hls_model) -> float:
    """Build the bit-accurate C model with g++ (hls4ml compile); returns seconds taken."""
    require_gpp()
    start = time.perf_counter()
    with quiet():
        try:
            hls_model.compile()
        except Exception as exc:  # hls4ml raises a bare Exception with the g++ log
            raise CodesignError(f"g++ failed to build the HLS project in {hls_model.config.get_output_dir()}: "
                                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
    return time.perf_counter() - start
