"""The vocabulary of an hls4ml target, one place for every module: parts, io types, strategies.

hls4ml spells strategies `Latency` / `Resource` (config) and `latency` / `resource` (layer attributes, some
reports, `Resource_Unrolled` in newer versions); the cost model keys its templates by the lower-case name.
"""

from __future__ import annotations

DEFAULT_PART = "xcvu13p-flga2577-2-e"  # hls4ml's default Vivado/Vitis part
IO_TYPES = ("io_parallel", "io_stream")
DA = "distributed_arithmetic"  # hls4ml 1.3.0: da4ml's adder graphs, ReuseFactor 1
STRATEGIES = ("Latency", "Resource", DA)  # as an hls4ml config writes them
STRATEGY_KEYS = ("latency", "resource", DA)  # as the cost model's templates are keyed


def strategy_key(name: object) -> str:
    """The cost model's key of any spelling of a strategy (None or unknown: latency, hls4ml's default)."""
    s = str(name or "latency").lower()
    return s if s in STRATEGY_KEYS else "resource" if s.startswith("resource") else "latency"


# HLS tool generations: the same layer's report differs up to 20x between Vivado HLS (2018-2020, hls4ml's
# `Vivado` backend) and Vitis HLS (2020.1 on, the `Vitis` backend), which registers and schedules otherwise.
TOOLS = ("vivado_hls", "vitis")
DEFAULT_TOOL = "vitis"  # what codesign's export uses (hls4ml backend `Vitis`)
BACKEND_TOOL = {"vivado": "vivado_hls", "vitis": "vitis"}  # hls4ml backend -> tool generation


def tool_generation(text: object) -> str:
    """The generation of any spelling of an HLS tool: `Vitis HLS 2023.1`, `Vivado HLS 2019.2`, a backend name
    (`Vivado`, `Vitis`, `VivadoAccelerator`) or a key of TOOLS."""
    s = str(text or "").lower().replace(" ", "_")
    if s in TOOLS:
        return s
    if s.startswith("vitis"):
        return "vitis"
    if s.startswith("vivado"):
        return "vivado_hls"
    raise ValueError(f"tool {text!r}; allowed: {', '.join(TOOLS)} (or a Vivado HLS / Vitis HLS version string)")


# How HLS implements the products (a synthesis directive in build_prj.tcl, `config_op mul -impl fabric|dsp`):
# auto: HLS decides (the width rule the fit learns); fabric: every product in LUTs, no DSP by construction;
# dsp: every multiply operation on DSPs, whatever its width (constant products it folds to shift-adds stay in
# LUTs). The directive is no evidence of the width rule: read as HLS's own choice, the MLP study's 8 x 8 designs
# asked for DSPs pulled the rule to 16 bits summed, and uw-acme's 8 x 8 Resource designs (0 DSPs) were priced 174.
MULT_IMPLS = ("auto", "fabric", "dsp")  # also what `codesign estimate --mult-impl` takes


def mult_impl(synth_variant: object) -> str:
    """The product implementation a `synth_variant` directive forces (`config_op mul -impl fabric`)."""
    s = str(synth_variant or "").lower()
    if "mul" in s and "-impl" in s:
        for impl in ("fabric", "dsp"):
            if s.rstrip().endswith(impl) or f"-impl {impl}" in s:
                return impl
    return "auto"
