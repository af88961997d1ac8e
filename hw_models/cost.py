"""Per-layer LUT/FF/DSP/BRAM/latency/II of hls4ml firmware, from layer shapes, precisions and weights.

The structure is analytic (what hls4ml's templates instantiate); the per-feature coefficients are
fitted on real synthesis reports by `codesign calibrate` and live in a JSON data file.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from .layers import DA, MAC_KINDS, LayerIR, ceil_div, unknown_weight_stats
from .parts import Part

RESOURCES = ("lut", "ff", "dsp", "bram_18k", "latency_cycles", "ii")
LEVELS = ("synth", "csynth")  # Vivado post-synthesis (does it fit the chip) | HLS C-synthesis report
FITTED = ("lut", "ff", "latency_cycles")
DEFAULT_COEFFICIENTS = Path(__file__).parent / "data" / "coefficients.json"
BRAM18_BITS = 18 * 1024      # UG573: one BRAM_18K holds 18 Kib
BRAM18_WIDTH = 36            # widest BRAM_18K port in simple dual port mode (UG573 table 1-5)
BRAM18_DEPTH = 512           # depth at that width


FEATURE_DOC = {  # what each fitted feature counts, in the hls4ml template that instantiates it
    "layer": "one per non-trivial layer: control logic (every nnet:: function)",
    "const_mult": "LUT multipliers by constant weights: (CSD digits - 1) x (in bits + the weight's own "
                  "MSB-to-LSB width) adders "
                  "(nnet_mult.h 'mult' with constant-folded weights, Latency strategy)",
    "var_mult": "LUT multipliers by stored weights: w x in bits (Resource strategy, nnet_dense_resource.h)",
    "dsp_mult": "multipliers mapped to DSP: glue logic per DSP",
    "adder": "accumulated terms per cycle x accumulator bits (the adder tree of nnet_dense_latency.h)",
    "out": "outputs x result bits (cast to result_t)",
    "rf_mux": "multipliers x input bits when ReuseFactor > 1 (operand multiplexers)",
    "buffer": "io_stream convolution line buffers, bits (nnet_conv2d_stream.h)",
    "prod_bits": "registered products: multipliers x (in + w bits)",
    "pipe_bits": "registered adder-tree levels: outputs x accumulator bits x levels x (5 ns / clock)",
    "binary": "QKeras binary weights (hls4ml weight_binary product): terms x accumulator bits",
    "elem": "element-wise ReLU-type compare/select: parallel elements x bits",
    "table": "table lookups (sigmoid/tanh/softmax): parallel elements x table bits",
    "softmax": "softmax sum, inverse and products: elements x bits",
    "compare": "pooling comparators/adders: outputs x (window - 1) x bits",
    "stream": "io_stream FIFO interface per layer: channels x bits",
    "s_*": "the same features for io_stream layers (nnet_*_stream.h), fitted separately",
    "lat_*": "latency cycles: per MAC layer, DSP stage, adder-tree depth x clock, sequential iterations "
             "(positions x RF), tables, softmax, pooling, stream layers",
}


@dataclass
class Coefficients:
    """Fitted numbers; see hw_models/data/coefficients.json for their provenance."""

    dsp_min_bits: int = 10        # both operands at least this wide -> DSP (fitted by grid search)
    dsp_min_sum: int = 20         # and the two widths add up to at least this
    bram_min_bits: int = 2048     # Resource-strategy weight arrays smaller than this stay in LUTRAM/FF
    fifo_min_depth: int = 10**9   # io_stream FIFOs at least this deep go to BRAM (shallower: SRLs); fitted
    weights: dict = field(default_factory=dict)   # resource -> {feature: coefficient}
    meta: dict = field(default_factory=dict)
    shared_stream: bool = False   # io_stream layers use the io_parallel coefficients (no 's_' features)
    feature_set: list | None = None  # the fitted LUT/FF features (None: all of FEATURE_DOC)
    intervals: dict = field(default_factory=dict)  # resource -> [p10, p90] of report / estimate, out of sample
    synth_ratio: dict = field(default_factory=dict)  # resource -> Vivado post-synthesis / HLS C-synthesis
    synth_intervals: dict = field(default_factory=dict)  # resource -> [p10, p90] of synth report / estimate

    KEYS = ("dsp_min_bits", "dsp_min_sum", "bram_min_bits", "fifo_min_depth", "weights", "meta", "shared_stream",
            "feature_set", "intervals", "synth_ratio", "synth_intervals")

    @classmethod
    def load(cls, path: str | Path | None = None) -> "Coefficients":
        data = json.loads(Path(path or DEFAULT_COEFFICIENTS).read_text())
        return cls(**{k: data[k] for k in cls.KEYS if k in data})

    def to_json(self) -> str:
        return json.dumps({k: getattr(self, k) for k in self.KEYS}, indent=1, sort_keys=True)

    def bounds(self, level: str) -> dict:
        """resource -> [p10, p90] of report / estimate at `level` (synth: the post-synthesis ones where fitted,
        latency from the C-synthesis fit)."""
        return self.intervals | self.synth_intervals if level == "synth" else self.intervals


def dsp_per_mult(a_bits: int, b_bits: int, ports: tuple[int, int]) -> int:
    """DSP slices of one a x b product: each operand wider than its port doubles the count (UG579 ch. 2,
    wide multipliers cascade DSPs); the better of the two operand-to-port assignments."""
    pa, pb = ports
    return min(ceil_div(a_bits, pa) * ceil_div(b_bits, pb), ceil_div(b_bits, pa) * ceil_div(a_bits, pb))


def uses_dsp(layer: LayerIR, c: Coefficients) -> bool:
    w, a = layer.w_bits, layer.in_bits
    return min(w, a) >= c.dsp_min_bits and w + a >= c.dsp_min_sum


def _mac_counts(layer: LayerIR, on_dsp: bool) -> tuple[int, int, float, float]:
    """(multipliers instantiated, summed terms, mean CSD digits or 0 for variable weights, mean constant width).

    Latency strategy (nnet_dense_latency.h): the loops stay fully unrolled at any ReuseFactor; `ALLOCATION
    operation instances=mul limit=multiplier_limit` (ceil(n_in*n_out/RF) - n_zeros/RF) caps only real
    multipliers, i.e. DSP products; constant products folded into shift-adds and the adder tree are all
    kept, and `PIPELINE II=RF` sets the interval. Resource strategy (nnet_dense_resource.h) at RF > 1:
    block_factor = ceil(n_in*n_out/RF) multipliers by stored weights, no constant folding.
    """
    ws = layer.weights or unknown_weight_stats(layer.n_out * layer.n_terms, layer.w_bits)
    # Resource at RF 1: block_factor = n_in*n_out, the weight array is fully partitioned and its constants
    # fold into the products exactly as in the Latency template
    if layer.strategy == "latency" or layer.rf == 1:
        mult = ceil_div(ws.n_mult, layer.rf) if on_dsp else ws.n_mult
        return mult, ws.n_weights - ws.n_zero, ws.mean_digits, ws.mean_bits or layer.w_bits
    n = ceil_div(ws.n_weights, layer.rf)
    return n, n, 0.0, layer.w_bits


def features(layer: LayerIR, c: Coefficients, clock_ns: float) -> dict[str, float]:
    """Features shared by the LUT and FF fits plus the latency features ('lat_*')."""
    f: dict[str, float] = {"layer": 0.0 if layer.kind == "free" else 1.0}
    par = layer.n_out * (layer.n_pos if layer.io_type == "io_parallel" and layer.kind not in MAC_KINDS else 1)
    clk = 5.0 / clock_ns  # combinational depth in cycles scales with the clock frequency
    if layer.kind in MAC_KINDS or layer.kind == "bn":
        dsp = uses_dsp(layer, c)
        mult, terms, digits, w_eff = _mac_counts(layer, dsp)
        if layer.kind == "bn":
            mult, terms, digits, w_eff = ceil_div(par, layer.rf), ceil_div(par, layer.rf), max(2.0, layer.w_bits / 3), \
                layer.w_bits
        lut_mult = 0 if dsp else mult
        if digits:
            f["const_mult"] = lut_mult * (digits - 1) * (layer.in_bits + w_eff)
        else:
            f["var_mult"] = lut_mult * layer.w_bits * layer.in_bits
        f["dsp_mult"] = mult if dsp else 0
        f["adder"] = terms * layer.acc_bits
        f["out"] = layer.n_out * layer.res_bits
        # operand multiplexers of shared multipliers: Latency shares only DSPs (weights and inputs both
        # multiplexed), Resource every multiplier (inputs multiplexed; weights come from memory)
        shared = layer.rf > 1 and (dsp or layer.strategy != "latency")
        f["rf_mux"] = mult * (layer.in_bits + (layer.w_bits if layer.strategy == "latency" else 0)) if shared else 0.0
        f["buffer"] = layer.buffer_bits
        levels = math.ceil(math.log2(max(layer.n_terms, 2)))
        f["prod_bits"] = mult * (layer.in_bits + layer.w_bits)       # registered products
        f["pipe_bits"] = layer.n_out * layer.acc_bits * levels * clk  # registered adder-tree levels
        f["lat_mac"] = 1.0
        f["lat_dsp"] = 1.0 if dsp else 0.0
        f["lat_tree"] = levels * clk
        f["lat_tree_lut"] = 0.0 if dsp else levels * clk
        f["lat_tree_bits"] = 0.0 if dsp else levels * clk * layer.acc_bits / 16
        if layer.binary:
            f["binary"] = terms * layer.acc_bits
            f["lat_binary"] = levels * clk
        f["lat_iter"] = frame_steps(layer) - 1
    elif layer.kind == "relu":
        f["elem"] = par * layer.res_bits
        f["lat_elem"] = 1.0
        f["lat_iter"] = frame_steps(layer) - 1
    elif layer.kind in ("table", "softmax"):
        f["table"] = par * max(layer.table_bits, layer.res_bits)
        if layer.kind == "softmax":
            f["softmax"] = par * layer.res_bits
        f["lat_table"] = 1.0 if layer.kind == "table" else 0.0
        f["lat_softmax"] = 1.0 if layer.kind == "softmax" else 0.0
        f["lat_iter"] = frame_steps(layer) - 1
    elif layer.kind in ("max_pool", "avg_pool"):
        f["compare"] = par * (layer.pool - 1) * layer.res_bits
        f["lat_pool"] = 1.0
        f["lat_iter"] = frame_steps(layer) - 1
    if layer.io_type == "io_stream" and layer.kind != "free":
        f["stream"] = layer.n_out * layer.res_bits
        f["lat_stream"] = 1.0
    if c.feature_set is not None:
        f = {k: v for k, v in f.items() if k.startswith("lat_") or k in c.feature_set}
    if layer.io_type == "io_stream" and layer.kind != "free" and not c.shared_stream:
        # io_stream layers are other C++ (nnet_*_stream.h): their own coefficients
        return {(k if k.startswith("lat_") else "s_" + k): v for k, v in f.items()}
    return f


def frame_steps(layer: LayerIR) -> int:
    """Cycles a layer takes per input frame: its steps (positions in io_stream) x RF for the layers that
    share multipliers over RF cycles (PIPELINE II=RF); its II, and its iteration latency + 1."""
    return layer.n_steps * (layer.rf if layer.kind in MAC_KINDS + ("bn",) else 1)


def overlapped_iterations(layer: LayerIR) -> bool:
    """io_stream layers run as one HLS dataflow region (hls4ml's io_stream top): each layer iterates over the
    frame while the others do, so the frame's iterations count once, for the longest layer, not per layer."""
    return layer.io_type == "io_stream" and layer.kind != "free"


def bram_18k(layer: LayerIR, c: Coefficients) -> float:
    """Weight memories of Resource strategy (hls4ml reshapes the weights into block_factor words of depth
    RF) and activation lookup tables (one dual-port BRAM serves two lookups per cycle)."""
    total = 0.0
    if layer.kind in MAC_KINDS and layer.strategy == "resource" and layer.rf > 1:
        if layer.n_weights * layer.w_bits >= c.bram_min_bits:
            block = ceil_div(layer.n_weights, layer.rf)
            total += ceil_div(block * layer.w_bits, BRAM18_WIDTH) * ceil_div(layer.rf, BRAM18_DEPTH)
    if layer.kind in ("table", "softmax") and layer.table_size:
        per_table = ceil_div(layer.table_size * layer.table_bits, BRAM18_BITS)
        lookups = layer.n_out * (layer.n_pos if layer.io_type == "io_parallel" else 1)
        if layer.kind == "table":
            total += per_table * ceil_div(lookups, 2)
        else:  # exp table + one inverse table; 3 BRAM for 10 and 12 classes in the DNNonSilicon csynth reports
            total += per_table * (1 + ceil_div(lookups, 8))
    if layer.io_type == "io_stream" and layer.kind != "free" and layer.n_pos >= c.fifo_min_depth:
        total += fifo_bram(layer.n_pos, layer.n_out * layer.res_bits)
    return float(total)


# BRAM_18K aspect ratios (UG573 table 1-5, simple dual port): depth x width
BRAM18_SHAPES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))


def fifo_bram(depth: int, width: int) -> int:
    """BRAM_18K of one io_stream FIFO: hls4ml gives each layer's output stream depth H x W (fpga_types.py
    StreamVariable: prod(shape) // channels) and one word of channels x bits (a packed nnet::array)."""
    return min(ceil_div(width, w) * ceil_div(depth, d) for d, w in BRAM18_SHAPES)


def dsp(layer: LayerIR, c: Coefficients, ports: tuple[int, int]) -> float:
    if layer.kind in MAC_KINDS or layer.kind == "bn":
        if not uses_dsp(layer, c):
            return 0.0
        mult = _mac_counts(layer, True)[0] if layer.kind != "bn" else ceil_div(layer.n_out, layer.rf)
        return float(mult * dsp_per_mult(layer.w_bits, layer.in_bits, ports))
    return 0.0


def linear(coefs: dict[str, float], feats: dict[str, float]) -> float:
    return sum(coefs.get(k, 0.0) * v for k, v in feats.items())


# a carry-chain adder level of da4ml's delay model, in ns (UltraScale+ CARRY8: ~1 ns for 16 bits; an
# assumption, not fitted: no timing reports of DA designs here)
DA_NS_PER_ADDER_LEVEL = 1.0


def estimate_da_layer(layer: LayerIR, clock_ns: float) -> dict[str, float]:
    """hls4ml's distributed_arithmetic template: the da4ml adder graph of the kernel, no DSP, no BRAM; a conv
    in io_parallel has one graph per output position (da.py). Registers HLS adds are not estimated."""
    from .da import estimate as da_estimate

    kernel = layer.extra.get("weights")
    if kernel is None:
        raise ValueError(f"layer {layer.name}: distributed_arithmetic needs the kernel values")
    signed = int(layer.in_signed)
    integer = layer.in_integer if layer.in_integer is not None else layer.in_bits // 2
    instances = layer.n_pos if layer.io_type == "io_parallel" else 1
    est = da_estimate(kernel, signed, integer - signed, layer.in_bits - integer, layer.extra.get("bias"), instances)
    return {"lut": est.lut, "ff": 0.0, "dsp": 0.0, "bram_18k": 0.0,
            "latency_cycles": float(math.ceil(est.adder_depth * DA_NS_PER_ADDER_LEVEL / clock_ns)),
            "ii": float(layer.n_steps)}


def estimate_layer(layer: LayerIR, c: Coefficients, ports: tuple[int, int], clock_ns: float) -> dict[str, float]:
    if layer.kind in MAC_KINDS and layer.strategy == DA:
        return estimate_da_layer(layer, clock_ns)
    feats = features(layer, c, clock_ns)
    if layer.kind == "free":
        return dict.fromkeys(RESOURCES, 0.0) | {"ii": 1.0}
    return {
        "lut": max(0.0, linear(c.weights.get("lut", {}), feats)),
        "ff": max(0.0, linear(c.weights.get("ff", {}), feats)),
        "dsp": dsp(layer, c, ports),
        "bram_18k": bram_18k(layer, c),
        "latency_cycles": max(0.0, linear(c.weights.get("latency_cycles", {}), feats)),
        "ii": float(max(1, frame_steps(layer))),
    }


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
        """LUT + 55 x DSP, the LUT-equivalent used by HGQ (Sun et al. 2024) to compare designs."""
        return self.total["lut"] + 55.0 * self.total["dsp"]


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
    iterations = []  # cycles each dataflow (io_stream) layer spends iterating over the frame
    per_iteration = c.weights.get("latency_cycles", {}).get("lat_iter", 0.0)
    bounds = c.bounds(level)
    for layer in layers:
        r = estimate_layer(layer, c, part.dsp_ports, clock_ns)
        da_layer = layer.kind in MAC_KINDS and layer.strategy == DA
        if overlapped_iterations(layer) and not da_layer:
            iterations.append(per_iteration * (frame_steps(layer) - 1))
        if level == "synth" and not da_layer:
            r = r | {k: r[k] * c.synth_ratio.get(k, 1.0) for k in ("lut", "ff", "dsp", "bram_18k")}
        r = {k: round(v, 1) for k, v in r.items()} | {"latency_cycles": float(round(r["latency_cycles"]))}
        rows.append({"name": layer.name, "class": layer.class_name or layer.kind} | r)
        for k in ("lut", "ff", "dsp", "bram_18k", "latency_cycles"):
            total[k] += r[k]
        total["ii"] = max(total["ii"], r["ii"])
        template = _da_bounds() if da_layer else bounds  # the DA template's own error (Yosys), else the fit's
        for k in BOUNDED:
            lo, hi = template.get(k, (1.0, 1.0))
            low[k] += r[k] * lo
            high[k] += r[k] * hi
    if iterations:  # the frame's iterations overlap: only the longest layer's count
        overlap = sum(iterations) - max(iterations)
        lo, hi = bounds.get("latency_cycles", (1.0, 1.0))
        total["latency_cycles"] -= overlap
        low["latency_cycles"] -= overlap * lo
        high["latency_cycles"] -= overlap * hi
    total = {k: round(v, 1) for k, v in total.items()}
    util = {"lut": total["lut"] / part.lut, "ff": total["ff"] / part.ff, "dsp": total["dsp"] / part.dsp,
            "bram_18k": total["bram_18k"] / part.bram_18k}
    interval = {k: [round(low[k], 1), round(high[k], 1)] for k in BOUNDED}
    return Estimate(part.part, rows, total, util, interval, level)


def _da_bounds() -> dict[str, tuple[float, float]]:
    from .da import coefficients as da_coefficients

    d = da_coefficients()
    return {"lut": (d["ratio_p10"], d["ratio_p90"])}


_DEFAULT: list[Coefficients] = []


def default_coefficients() -> Coefficients:
    if not _DEFAULT:
        _DEFAULT.append(Coefficients.load())
    return _DEFAULT[0]
