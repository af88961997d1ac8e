"""Per-layer LUT/FF/DSP/BRAM/latency/II of hls4ml firmware, from layer shapes, precisions and weights.

The structure is analytic (what hls4ml's templates instantiate); the per-feature coefficients are
fitted on real synthesis reports by `codesign calibrate` and live in a JSON data file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from .coefficients import Coefficients, default_coefficients
from .kinds import INPUT_CLASSES
from .layers import LayerIR
from .parts import Part
from .templates import CLOCKED_LATENCY, DistributedArithmetic, Fifo, Template, dsp_per_mult, template_of

RESOURCES = ("lut", "ff", "dsp", "bram_18k", "latency_cycles", "ii")
LEVELS = ("synth", "csynth")  # Vivado post-synthesis (does it fit the chip) | HLS C-synthesis report
FITTED = ("lut", "ff", "latency_cycles")


FEATURE_DOC = {  # what each fitted feature counts, in the hls4ml template that instantiates it
    "layer": "one per non-trivial layer: control logic (every nnet:: function)",
    "const_mult": "LUT multipliers by constant weights: (CSD digits - 1) x (in bits + the weight's own "
                  "MSB-to-LSB width) adders "
                  "(nnet_mult.h 'mult' with constant-folded weights, Latency strategy)",
    "var_mult": "LUT multipliers by stored weights: w x in bits (Resource strategy, nnet_dense_resource.h)",
    "dsp_mult": "multipliers mapped to DSP: glue logic per DSP; LUT only (a DSP48's registers are inside it)",
    "adder": "adder-tree bits: per output a balanced tree of its products and bias, each adder as wide as its "
             "operands plus one bit, at most the accumulator (nnet_dense_latency.h Accum loops); LUT only",
    "adder_acc": "summed terms x accumulator bits x (5 ns / clock): registers of the adder tree, cut once per "
                 "clock period, so more of them at a faster clock (or, with `pressure`, a slower fabric); none "
                 "where each output sums one term (no tree); FF only",
    "out": "outputs x result bits: the registered cast to result_t (truncation: wiring); FF only",
    "rf_mux": "operand multiplexers of shared multipliers: Resource at ReuseFactor > 1, multipliers x input bits",
    "rf_regs": "Resource strategy at ReuseFactor > 1 (and Latency layers whose multipliers Vivado HLS shares): the "
               "registered input array and accumulators, inputs x input bits + outputs x accumulator bits "
               "(nnet_dense_resource.h); FF only",
    "share_mux": "Latency at ReuseFactor > 1 where the multiply operations outnumber hls4ml's multiplier_limit: the "
                 "instances that serve a second multiply x (input + weight bits); LUT at rf_mux's cost, no FF",
    "buffer": "io_stream line buffers of 2D convolutions and pooling, bits (nnet_conv2d_stream.h, "
              "nnet_pooling_stream.h), and a Dense's input array where a flattened map arrives a pixel per "
              "word (nnet_dense_stream.h)",
    "prod_bits": "registered products: multipliers x (in + w bits)",
    "pipe_bits": "registered adder-tree levels: outputs x accumulator bits x levels x (5 ns / clock)",
    "binary": "QKeras binary weights (hls4ml weight_binary product): terms x accumulator bits",
    "elem": "element-wise ReLU-type compare/select: parallel elements x bits",
    "elem_round": "where that result narrows the input and rounds or saturates (AP_RND*, AP_SAT*): parallel "
                  "elements x input bits, the rounding adder and the overflow compare",
    "table": "table lookups (sigmoid/tanh/softmax): parallel elements x table bits",
    "table_hold": "ELU/SELU: the input held beside its lookup, parallel elements x input bits, one register per "
                  "bit (counted, not fitted: fit.EXACT); FF only",
    "softmax": "softmax sum, inverse and products: elements x bits",
    "reduce": "io_parallel global pooling: a pipelined reduction tree over the whole input, outputs x (window - 1) "
              "x bits (a window's comparators or adders where it covers one output position of the input)",
    "compare": "max pooling comparators and selects: outputs x (window - 1) x bits",
    "pool_add": "average pooling adders: outputs x (window - 1) x bits",
    "compare_comb": "max pooling in io_parallel: combinational comparators, LUT at compare's cost, no FF",
    "pool_add_comb": "average pooling in io_parallel: combinational adders, LUT at pool_add's cost, no FF",
    "stream": "io_stream FIFO interface per layer: channels x bits (Vivado HLS)",
    "stream_vitis": "the same in Vitis HLS, which builds it in registers where Vivado HLS uses LUTs (Fifo)",
    "stream_layer": "one per io_stream layer: its pixel loop, stream handshakes and control",
    "s_*": "the same features for io_stream layers (nnet_*_stream.h), fitted separately",
    "lat_*": "latency cycles: per MAC layer, DSP stage (layers with products on DSPs), adder-tree depth x "
             "clock, sequential iterations (positions x RF), io_stream Resource calls (a pipeline fill per input "
             "pixel), tables, softmax, pooling, stream layers; a layer's "
             "fixed stages bounded by its template's (fit.STAGES_AT_MOST)",
}


def features(layer: LayerIR, c: Coefficients, clock_ns: float, select: bool = True,
             latency_clock_ns: float | None = None) -> dict[str, float]:
    """The fitted LUT/FF features ('lat_*': latency) of a layer: its template's, plus its output FIFO's in
    io_stream; `select=False` keeps features outside the fitted set (they have no coefficient: the same sum).
    `latency_clock_ns`: the clock the latency features see, where it differs (`Coefficients.latency_fabric`)."""
    template = template_of(layer)
    f = template.features(layer, c, clock_ns)
    if latency_clock_ns and latency_clock_ns != clock_ns:
        for k in CLOCKED_LATENCY:
            if k in f:
                f[k] *= clock_ns / latency_clock_ns
    if Fifo.applies(layer):
        f |= Fifo.features(layer)
    if select and c.feature_set is not None:
        f = {k: v for k, v in f.items() if k.startswith("lat_") or k in c.feature_set}
    if Fifo.applies(layer) and not c.shared_stream:
        # io_stream layers are other C++ (nnet_*_stream.h): their own coefficients
        f = {(k if k.startswith("lat_") else "s_" + k): v for k, v in f.items()}
    if c.by_tool:  # Vivado HLS and Vitis HLS build the same C++ differently: a coefficient set each
        f = {feature_key(layer, c, k): v for k, v in f.items()}
    return f


def feature_key(layer: LayerIR, c: Coefficients, name: str) -> str:
    """The name under which `features` reports feature `name` of `layer` (its tool's set when `by_tool`)."""
    return f"{layer.tool}:{name}" if c.by_tool else name


@lru_cache(maxsize=None)  # called per feature of every layer of every candidate the search estimates
def base_feature(key: str) -> str:
    """A feature's name without its tool generation and io_stream prefixes ('vitis:s_adder' -> 'adder')."""
    key = key.split(":", 1)[-1]
    return key[2:] if key.startswith("s_") else key


# a layer's cycles over its frame: its loop's steps (`lat_iter`) and, where each step calls a pipelined function
# anew, that pipeline's fill per call (`lat_call`); in a dataflow only the longest layer's count
ITERATION = ("lat_iter", "lat_call")


def overlapped_iterations(layer: LayerIR) -> bool:
    """io_stream layers run as one HLS dataflow region (hls4ml's io_stream top): each layer iterates over the
    frame while the others do, so the frame's iterations count once, for the longest layer, not per layer."""
    return layer.io_type == "io_stream" and layer.kind != "free"


def frame_iterations(layer: LayerIR, f: dict[str, float]) -> dict[str, float]:
    """The features (`features`' output `f`) of `layer`'s iterations that overlap in a dataflow: ITERATION's,
    where the layer runs in one (`overlapped_iterations`), else none."""
    return {k: v for k, v in f.items() if base_feature(k) in ITERATION} if overlapped_iterations(layer) else {}


def longest_iterations(iterations: list[dict[str, float]]) -> int | None:
    """The index of the dataflow's longest layer among its layers' `frame_iterations` (the most iteration
    features, counted unweighted: the fit chooses it before it has coefficients), None where none iterates.
    The estimate and the fit both count that layer's iterations alone."""
    sums = [sum(f.values()) for f in iterations]
    return max(range(len(sums)), key=sums.__getitem__) if any(sums) else None


def bram_18k(layer: LayerIR, c: Coefficients, template: Template | None = None) -> float:
    """Weight memories (Resource strategy), activation tables and, in io_stream, the output FIFO; `template`:
    the layer's, when the caller has already looked it up."""
    own = (template or template_of(layer)).bram(layer, c)
    return own + (Fifo.bram(layer, c) if Fifo.applies(layer) else 0.0)


def fifo_bram(depth: int, width: int) -> int:
    return Fifo.blocks(depth, width)


def dsp(layer: LayerIR, c: Coefficients, ports: tuple[int, int]) -> float:
    return template_of(layer).dsp(layer, c, ports)


def linear(coefs: dict[str, float], feats: dict[str, float]) -> float:
    return sum(coefs.get(k, 0.0) * v for k, v in feats.items())


def estimate_layer(layer: LayerIR, c: Coefficients, ports: tuple[int, int], clock_ns: float,
                   latency_clock_ns: float | None = None) -> dict[str, float]:
    return _estimate_layer(layer, c, ports, clock_ns, latency_clock_ns)[0]


def _estimate_layer(layer: LayerIR, c: Coefficients, ports: tuple[int, int], clock_ns: float,
                    latency_clock_ns: float | None) -> tuple[dict[str, float], dict[str, float]]:
    """The layer's resources, and its `frame_iterations` (none for the DA template: its own latency rule)."""
    template = template_of(layer)
    if isinstance(template, DistributedArithmetic):
        return template.resources(layer, clock_ns), {}
    if layer.kind == "free":
        return dict.fromkeys(RESOURCES, 0.0) | {"ii": 1.0}, {}
    feats = features(layer, c, clock_ns, select=False, latency_clock_ns=latency_clock_ns)
    latency = c.weights.get("latency_cycles", {})
    calls = sum(latency.get(k, 0.0) * v for k, v in feats.items() if base_feature(k) == "lat_call")
    return {
        "lut": max(0.0, linear(c.weights.get("lut", {}), feats)),
        "ff": max(0.0, linear(c.weights.get("ff", {}), feats)),
        "dsp": template.dsp(layer, c, ports),
        "bram_18k": bram_18k(layer, c, template),
        "latency_cycles": max(0.0, linear(latency, feats)),
        "ii": float(max(1, round(template.steps(layer) + calls))),
    }, frame_iterations(layer, feats)


BOUNDED = ("lut", "ff", "dsp", "latency_cycles")  # resources whose estimates carry an interval


@dataclass
class Estimate:
    part: str
    layers: list[dict]
    total: dict[str, float]
    utilization: dict[str, float]
    interval: dict[str, list[float]] = field(default_factory=dict)  # resource -> [p10, p90] of the real value
    level: str = "synth"

    def as_json(self) -> dict:
        return {"part": self.part, "level": self.level, "layers": self.layers, "total": self.total,
                "utilization": self.utilization, "interval": self.interval}

    @property
    def lut_equivalent(self) -> float:
        return lut_equivalent(self.total)


def lut_equivalent(total: dict):
    """LUT + 55 x DSP of a design's totals (numbers, or arrays of them), the LUT-equivalent HGQ uses to compare
    designs (Sun et al. 2024)."""
    return total["lut"] + 55.0 * total["dsp"]


INPUT_PORT = "input port"  # the estimate's row for the top function's input registers (`input_port_ff`) ...
INPUT_PORT_TEMPLATE = "input_port"  # ... or the input layer's row, under this template


def input_port_ff(layers: list[LayerIR]) -> float:
    """FF of the top function's input registers: hls4ml's io_parallel top function takes its input array through
    registered ports (`INTERFACE ap_vld`), every input bit once plus 2 handshake registers. Designs of 0 cycles
    report exactly that (hls4ml's pytest baselines, Vivado HLS 2020.1, Vitis HLS 2023.1 and 2024.1: a Dense on
    1 x 16 bits 18 FF, pooling on 363 x 16 bits 5,810 FF and on 810 x 16 bits 12,962). io_stream reads a FIFO."""
    first = next((layer for layer in layers if layer.kind != "free"), None)
    if first is None or first.io_type != "io_parallel":
        return 0.0
    return float((first.n_in_elems or first.n_terms * first.n_pos) * first.in_bits + 2)


def estimate(layers: list[LayerIR], part: Part, clock_ns: float = 5.0, coefficients: Coefficients | None = None,
             level: str = "synth") -> Estimate:
    """Per-layer and total resources at `level`: "csynth" is what the HLS C-synthesis report says; "synth"
    (default) what Vivado synthesis leaves of it, csynth x the measured post-synthesis / C-synthesis ratio.
    The distributed_arithmetic template is fitted on Yosys netlists: already at synthesis level."""
    if level not in LEVELS:
        raise ValueError(f"level {level!r}; allowed: {', '.join(LEVELS)}")
    c = coefficients or default_coefficients()
    rows, total = [], dict.fromkeys(RESOURCES, 0.0)
    low, high = dict.fromkeys(BOUNDED, 0.0), dict.fromkeys(BOUNDED, 0.0)
    iterations = []  # each layer's `frame_iterations`: in a dataflow (io_stream) only the longest one's count
    bounds: dict[str, dict] = {}  # template -> its interval at this level
    # the clock the FF/LUT and the latency features see on this part (DA layers: the target's, their own rule)
    clock, latency_clock = c.clock(clock_ns, part.part), c.clock(clock_ns, part.part, latency=True)
    for layer in layers:
        template = template_of(layer)
        da_layer = isinstance(template, DistributedArithmetic)  # fitted on Yosys netlists: its own clock rule
        r, own = _estimate_layer(layer, c, part.dsp_ports, clock_ns if da_layer else clock,
                                 None if da_layer else latency_clock)
        iterations.append(own)
        if level == "synth" and not da_layer:
            r = r | {k: r[k] * c.synth_ratio.get(k, 1.0) for k in ("lut", "ff", "dsp", "bram_18k")}
        total["latency_cycles"] += r["latency_cycles"]  # rounded once, in total, as the fit scores it
        r = {k: round(v, 1) for k, v in r.items()} | {"latency_cycles": float(round(r["latency_cycles"]))}
        rows.append({"name": layer.name, "class": layer.class_name or layer.kind, "template": template.name} | r)
        for k in ("lut", "ff", "dsp", "bram_18k"):
            total[k] += r[k]
        total["ii"] = max(total["ii"], r["ii"])
        # the DA template's own error (Yosys), else the fit's for this template
        if template.name not in bounds:
            bounds[template.name] = _da_bounds() if da_layer else c.bounds(level, template.name)
        own = bounds[template.name]
        for k in BOUNDED:
            lo, hi = own.get(k, (1.0, 1.0))
            low[k] += r[k] * lo
            high[k] += r[k] * hi
    port = input_port_ff(layers) * (c.synth_ratio.get("ff", 1.0) if level == "synth" else 1.0)
    if port:  # exact, not fitted: no interval of its own; on the model's input layer's row where it has one
        if not (layers and layers[0].kind == "free" and layers[0].class_name in INPUT_CLASSES):
            rows.insert(0, {"name": INPUT_PORT, "class": "port"} | dict.fromkeys(RESOURCES, 0.0) | {"ii": 1.0})
        rows[0] |= {"template": INPUT_PORT_TEMPLATE, "ff": round(port, 1)}
        total["ff"] += round(port, 1)
        low["ff"] += port
        high["ff"] += port
    longest = longest_iterations(iterations)
    if longest is not None:  # the frame's iterations overlap: only the longest layer's count
        cycles = [linear(c.weights.get("latency_cycles", {}), f) for f in iterations]
        overlap = sum(cycles) - cycles[longest]
        lo, hi = c.bounds(level).get("latency_cycles", (1.0, 1.0))
        total["latency_cycles"] -= overlap
        low["latency_cycles"] -= overlap * lo
        high["latency_cycles"] -= overlap * hi
    total = {k: round(v, 1) for k, v in total.items()} | {"latency_cycles": float(round(total["latency_cycles"]))}
    util = {"lut": total["lut"] / part.lut, "ff": total["ff"] / part.ff, "dsp": total["dsp"] / part.dsp,
            "bram_18k": total["bram_18k"] / part.bram_18k}
    interval = {k: [round(low[k], 1), round(high[k], 1)] for k in BOUNDED}
    return Estimate(part.part, rows, total, util, interval, level)


def _da_bounds() -> dict[str, tuple[float, float]]:
    from .da import coefficients as da_coefficients

    d = da_coefficients()
    return {"lut": (d["ratio_p10"], d["ratio_p90"])}


__all__ = ["Estimate", "estimate", "input_port_ff", "INPUT_PORT", "INPUT_PORT_TEMPLATE", "lut_equivalent",
           "estimate_layer", "features", "feature_key", "base_feature", "dsp",
           "dsp_per_mult", "bram_18k", "fifo_bram", "frame_iterations", "longest_iterations", "ITERATION", "RESOURCES",
           "LEVELS", "FITTED", "FEATURE_DOC"]
