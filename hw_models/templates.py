"""One estimator per hls4ml template: what each `nnet_utils/*.h` template instantiates, counted analytically.

Every class answers for the layers its template implements (`Template.applies`): the features the fitted
LUT/FF/latency coefficients multiply (`features`), its DSP and BRAM_18K (analytic, `dsp`, `bram`) and the
cycles it spends per input frame (`steps`: its II). io_stream layers add the FIFO of their output stream
(`Fifo`, hls4ml's `StreamVariable`). `template_of(layer)` picks the one estimator of a layer; `cost.py`
sums them and applies the fitted coefficients. Template paths are those of hls4ml 1.3.0's Vivado/Vitis
backend (`hls4ml/templates/vivado/nnet_utils/`).
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

from .layers import DA, LayerIR, ceil_div, unknown_weight_stats

if TYPE_CHECKING:
    from .coefficients import Coefficients

BRAM18_BITS = 18 * 1024      # UG573: one BRAM_18K holds 18 Kib
BRAM18_WIDTH = 36            # widest BRAM_18K port in simple dual port mode (UG573 table 1-5)
BRAM18_DEPTH = 512           # depth at that width
# BRAM_18K aspect ratios (UG573 table 1-5, simple dual port): depth x width
BRAM18_SHAPES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))


# the latency features that count combinational depth in clock periods (levels x 5 ns / clock): what a clock
# the latency fit sees differently rescales (`cost.features`)
CLOCKED_LATENCY = ("lat_tree", "lat_tree_lut", "lat_tree_bits", "lat_binary")


def dsp_per_mult(a_bits: int, b_bits: int, ports: tuple[int, int]) -> int:
    """DSP slices of one a x b product: each operand wider than its port doubles the count (UG579 ch. 2,
    wide multipliers cascade DSPs); the better of the two operand-to-port assignments."""
    pa, pb = ports
    return min(ceil_div(a_bits, pa) * ceil_div(b_bits, pb), ceil_div(b_bits, pa) * ceil_div(a_bits, pb))


def uses_dsp(layer: LayerIR, c: "Coefficients") -> bool:
    """HLS maps a product to a DSP when both operands are wide enough (thresholds fitted on reports), unless a
    directive (`config_op mul -impl fabric|dsp`) puts every multiply operation in LUTs or on DSPs; the constant
    products it folds to shifts and shift-adds stay in LUTs either way (`WeightStats.n_mul_ops`)."""
    if layer.mult_impl in ("fabric", "dsp"):
        return layer.mult_impl == "dsp"
    w, a = layer.w_bits, layer.in_bits
    return min(w, a) >= c.dsp_min_bits and w + a >= c.dsp_min_sum


def parallel_elements(layer: LayerIR) -> int:
    """Elements a non-MAC layer computes at once: every position in io_parallel, one pixel's channels in
    io_stream (the `*_stream.h` kernels loop over pixels)."""
    return layer.n_out * (layer.n_pos if layer.io_type == "io_parallel" else 1)


def adder_tree_bits(terms: float, n_out: int, prod_bits: float, acc_bits: int) -> float:
    """Adder bits of n_out balanced trees, each summing terms / n_out products (rounded) of prod_bits and the
    bias: level l has floor(n / 2) adders of min(acc_bits, prod_bits + l) bits, as HLS narrows an adder whose
    operands are sign-extended narrower values and the accumulator type (accum_t) caps it. The adder chain of
    nnet_dense_latency.h's Accum2 loop (acc initialised with the bias) becomes such a tree under HLS
    expression balancing."""
    if not n_out:
        return 0.0
    return _tree_bits(round(terms / n_out) + 1, prod_bits, acc_bits) * n_out


@functools.lru_cache(maxsize=4096)
def _tree_bits(n: int, prod_bits: float, acc_bits: int) -> float:
    bits, level = 0.0, 1
    while n > 1:
        bits += (n // 2) * min(acc_bits, prod_bits + level)
        n -= n // 2
        level += 1
    return bits


class Template:
    """A layer's estimator. Subclasses name their hls4ml template (`source`) and count what it builds."""

    name = "free"
    source = "wiring: Flatten/Reshape/Dropout/ZeroPadding, Input (no logic)"

    def applies(self, layer: LayerIR) -> bool:
        return layer.kind == "free"

    def features(self, layer: LayerIR, c: "Coefficients", clock_ns: float) -> dict[str, float]:
        return {"layer": 0.0}

    def dsp(self, layer: LayerIR, c: "Coefficients", ports: tuple[int, int]) -> float:
        return 0.0

    def bram(self, layer: LayerIR, c: "Coefficients") -> float:
        return 0.0

    def steps(self, layer: LayerIR) -> int:
        """Cycles per input frame: its II; its iteration latency is steps - 1 more than one step's."""
        return layer.n_steps


class DenseLatency(Template):
    """nnet_dense_latency.h dense_latency: the loops stay fully unrolled at any ReuseFactor; `#pragma HLS
    ALLOCATION operation instances=mul limit=multiplier_limit` (ceil(n_in*n_out/RF) - n_zeros/RF) caps the
    multiply operations HLS keeps (constant products in LUTs or on DSPs; zero and power-of-two weights need
    none). The cap binds only when the layer has more such products than the limit: at RF 2 a layer whose
    products are mostly folded away is built as at RF 1 (MLP estimator study, Vitis HLS 2021.1: 413 DSPs at
    RF 1 and RF 2, 72 at RF 100); when it binds, the products share the instances one after another, so a step
    takes ceil(products / limit) cycles, at most RF (`PIPELINE II=RF`). Weights are constants (nnet_mult.h
    `mult`)."""

    name = "dense_latency"
    source = "nnet_dense_latency.h"
    kinds = ("dense",)
    # one product per output plus its bias is one DSP48 (P = A x B + C: the post-adder), no adder in LUTs:
    # hls4ml's pytest Dense(64) on one input with 64 products on DSPs and an identity activation reports 381-602
    # LUT (the adders priced 1,100 more)
    bias_in_dsp = True

    def applies(self, layer):
        return layer.kind in self.kinds and layer.strategy != DA and not self._stored(layer)

    @staticmethod
    def _stored(layer) -> bool:
        """Resource strategy at RF > 1 streams its weights from a memory; at RF 1 the weight array is fully
        partitioned and its constants fold into the products exactly as in the Latency template."""
        return layer.strategy == "resource" and layer.rf > 1

    def mac_counts(self, layer: LayerIR, on_dsp: bool) -> tuple[int, int, float, float]:
        """(multiplier instances of the multiply operations, summed terms, mean CSD digits of those operations'
        constants or 0 for variable weights, mean width)."""
        ws = self._stats(layer)
        ops, two = ws.n_mul_ops, self.two_digit(layer)
        # constants only of one or two digits: 1 (no multiply adders; 0 would mean stored weights)
        digits = (ws.mean_digits * ws.n_mult - 2 * two) / ops if ops else (1.0 if ws.mean_digits else 0.0)
        return min(ops, multiplier_limit(layer, ws)), ws.n_weights - ws.n_zero, digits, ws.mean_bits or layer.w_bits

    @staticmethod
    def _stats(layer: LayerIR):
        return layer.weights or unknown_weight_stats(layer.n_out * layer.n_terms, layer.w_bits)

    def two_digit(self, layer: LayerIR) -> int:
        """Products by a two-digit constant (2^a +- 2^b): one shift-add each in LUTs, never a multiply."""
        ws = self._stats(layer)
        return ws.n_mult - ws.n_mul_ops

    def step_cycles(self, layer: LayerIR) -> int:
        """Cycles per step: the multiply operations one after another on the instances the allocation limit
        leaves, at most RF."""
        ws = self._stats(layer)
        return min(layer.rf, max(1, ceil_div(ws.n_mul_ops, multiplier_limit(layer, ws))))

    def features(self, layer, c, clock_ns):
        f: dict[str, float] = {"layer": 1.0}
        clk = 5.0 / clock_ns  # combinational depth in cycles scales with the clock frequency
        on_dsp = uses_dsp(layer, c)
        mult, terms, digits, w_eff = self.mac_counts(layer, on_dsp)
        lut_mult = 0 if on_dsp else mult
        if digits:  # a constant times a variable: (CSD digits - 1) adders of the product's width
            f["const_mult"] = (lut_mult * (digits - 1) + self.two_digit(layer)) * (layer.in_bits + w_eff)
        else:       # a stored weight times a variable: a w x in array multiplier in LUTs
            f["var_mult"] = lut_mult * layer.w_bits * layer.in_bits
        f["dsp_mult"] = mult if on_dsp else 0
        prod = layer.in_bits + (1 if layer.binary else w_eff)
        single_mac = on_dsp and layer.n_terms == 1 and self.bias_in_dsp
        f["adder"] = 0.0 if single_mac else adder_tree_bits(terms, layer.n_out, prod, layer.acc_bits)
        # the tree's registers: a cut through the summed terms every clock period, so as many more cuts as the
        # clock is faster (and, with `pressure`, the fabric slower); one term per output is a product and its
        # bias, no tree (hls4ml's Dense(64) pytest baselines on one input: 18 FF, 0 cycles)
        f["adder_acc"] = terms * layer.acc_bits * clk if layer.n_terms > 1 else 0.0
        f["out"] = layer.n_out * layer.res_bits                  # cast to result_t
        # operand multiplexers of shared multipliers: Resource shares every multiplier (inputs multiplexed,
        # weights from memory); Latency only the instances that the multiplies beyond the allocation limit
        # share (weights and inputs multiplexed): the MLP estimator study's RF 2 builds (Vitis HLS 2021.1, 31
        # multiplies on 25 instances) cost the LUTs of RF 1 (2,108 for 2,098)
        if layer.rf > 1 and layer.strategy != "latency":
            f["rf_mux"] = mult * layer.in_bits
            held = True
        else:
            shared = min(mult, max(0, self._stats(layer).n_mul_ops - mult)) if layer.rf > 1 else 0
            f["share_mux" if layer.tool == "vitis" else "rf_mux"] = shared * (layer.in_bits + layer.w_bits)
            # Vivado HLS registers a shared Latency layer as Resource's where it reads its input from a stream
            # (DNNonSilicon's MNIST CNN at RF 16: 15,591 FF); an io_parallel one holds no copy: its input is
            # the previous layer's output array (DNNonSilicon's pruned 4-128-3 MLP at RF 8 and 16, 25 ns:
            # 976-1,376 FF in the output layer's row, where its input array and sums would be 5,000)
            held = bool(shared) and layer.tool != "vitis" and layer.io_type == "io_stream"
        if held:
            # nnet_dense_resource.h keeps its input array and the n_out accumulators (`acc`, ARRAY_PARTITION
            # complete) in registers across the RF cycles, whatever the products map to. The csynth instance
            # rows of Resource layers in Vivado HLS (69 layers, 8 repositories) follow 280 + 2.3 x input bits +
            # 3.0 x accumulator bits + 1.1 x rf_mux bits FF within 24% (median); the products' width adds none.
            # Counted beside an io_stream Dense's input array (`buffer`): the rows report 1-4 FF per input bit
            # (live demo RF 20480: 16,936 for 16,384; PokerML's output Dense, RF 196-784: 38-51k for 12,544),
            # as the selection of an input per cycle is pipelined too (pricing it once: FF median 19.2% vs 18.5%)
            f["rf_regs"] = layer.n_terms * layer.in_bits + layer.n_out * layer.acc_bits
        f["buffer"] = layer.buffer_bits
        levels = math.ceil(math.log2(max(layer.n_terms, 2)))
        f["prod_bits"] = mult * (layer.in_bits + layer.w_bits)        # registered products
        f["pipe_bits"] = layer.n_out * layer.acc_bits * levels * clk  # registered adder-tree levels
        f["lat_mac"] = 1.0
        dsp_stage = on_dsp and mult > 0  # a DSP's pipeline stages only where products are on DSPs
        f["lat_dsp"] = 1.0 if dsp_stage else 0.0
        f["lat_tree"] = levels * clk
        f["lat_tree_lut"] = 0.0 if dsp_stage else levels * clk
        f["lat_tree_bits"] = 0.0 if dsp_stage else levels * clk * layer.acc_bits / 16
        if layer.binary:  # hls4ml weight_binary: an XNOR-type sign flip per term instead of a product
            f["binary"] = terms * layer.acc_bits
            f["lat_binary"] = levels * clk
        f["lat_iter"] = self.iteration_cycles(layer)
        if layer.pf > 1:  # every step computes pf positions: pf copies of the kernel's hardware
            f = {k: v if k == "layer" or k.startswith("lat_") else v * layer.pf for k, v in f.items()}
        return f

    def iteration_cycles(self, layer) -> int:
        """Cycles a frame takes beyond one step's pipeline: the steps before the last one each start an
        interval later, and the last one's serialised multiplies add step_cycles - 1. The interval's idle
        cycle (a step starts again at most its latency + 1 later, `steps`) is no latency: the MLP estimator
        study's Latency builds at RF 2, whose allocation limit does not bind, are 2-4 cycles shorter than at
        RF 1, not a cycle per layer longer (Vitis HLS 2021.1: jet tagger 54 vs 58, breast cancer 20 vs 22).
        At RF 1 a step takes one cycle: steps - 1."""
        interval = self.steps(layer) // max(1, layer.n_steps)
        return (layer.n_steps - 1) * interval + self.step_cycles(layer) - 1

    def dsp(self, layer, c, ports):
        if not uses_dsp(layer, c):
            return 0.0
        return float(self.mac_counts(layer, True)[0] * dsp_per_mult(layer.w_bits, layer.in_bits, ports) * layer.pf)

    def steps(self, layer):
        """`PIPELINE II=RF` per step, but a step that finishes sooner starts again sooner: HLS reports a
        pipelined function's interval as at most its latency + 1 (MLP estimator study, RF 100: fc1 II 31, fc2
        12, output 2; PokerML io_stream convolution at RF 128: 14 cycles per pixel)."""
        return layer.n_steps * (1 if layer.rf == 1 else min(layer.rf, self.step_cycles(layer) + 1))


def multiplier_limit(layer: LayerIR, ws) -> int:
    """hls4ml's `multiplier_limit` of a MAC layer (backends/fpga/passes and the dense config template):
    ceil(n_in * n_out / RF) - n_zeros / RF, the instances of `mul` that `#pragma HLS ALLOCATION` allows."""
    return max(1, ceil_div(ws.n_weights, layer.rf) - ws.n_zero // layer.rf)


class DenseResource(DenseLatency):
    """nnet_dense_resource.h dense_resource (RF > 1): block_factor = ceil(n_in*n_out/RF) multipliers by
    weights read from a memory reshaped to block_factor words of depth RF (no constant folding)."""

    name = "dense_resource"
    source = "nnet_dense_resource.h"

    def applies(self, layer):
        return layer.kind in self.kinds and layer.strategy != DA and self._stored(layer)

    def mac_counts(self, layer, on_dsp):
        n = ceil_div(self._stats(layer).n_weights, layer.rf)
        return n, n, 0.0, layer.w_bits

    def step_cycles(self, layer):
        return layer.rf  # one weight word read per cycle: RF cycles per step

    def features(self, layer, c, clock_ns):
        f = super().features(layer, c, clock_ns)
        # io_stream calls dense_resource once per input pixel, each call after the last one's end: its ReuseLoop's
        # pipeline (weight read, product, accumulation, cast) fills again per call. Vivado HLS's instance rows of
        # Resource convolutions report RF + 9 cycles per input pixel on 7 series parts (uw-acme's Conv1D at RF 12,
        # 40, 48; DNNonSilicon's Conv2D at RF 3, 9, 36), RF + 5-6 on UltraScale+ (PokerML RF 108, 144)
        f["lat_call"] = float(layer.n_steps - 1) if layer.io_type == "io_stream" else 0.0
        return f

    def two_digit(self, layer):
        return 0  # stored weights: every product a multiplier

    def bram(self, layer, c):
        if layer.n_weights * layer.w_bits < c.bram_min_bits:  # small arrays stay in LUTRAM/FF (fitted)
            return 0.0
        block = ceil_div(layer.n_weights, layer.rf)
        return float(ceil_div(block * layer.w_bits, BRAM18_WIDTH) * ceil_div(layer.rf, BRAM18_DEPTH))


class ConvParallel(DenseLatency):
    """io_parallel convolution (nnet_conv2d_latency.h / nnet_conv1d_latency.h): the kernel's dense product
    once per output position, `pf` positions at a time (hls4ml's ParallelizationFactor), the steps one after
    another (n_steps = output pixels / pf: calwilee's separable convolution at PF 4 reports an interval of 9 over
    its 36 positions)."""

    name = "conv_parallel"
    source = "nnet_conv2d_latency.h, nnet_conv1d_latency.h"
    kinds = ("conv",)
    io_type = "io_parallel"

    def applies(self, layer):
        return super().applies(layer) and layer.io_type == self.io_type and not _pointwise(layer)


class ConvStream(ConvParallel):
    """io_stream convolution (nnet_conv2d_stream.h compute_output_buffer_2d): a line buffer of kernel_h - 1
    input rows (`buffer_bits`) feeds one kernel instance per input pixel (n_steps = input pixels)."""

    name = "conv_stream"
    source = "nnet_conv2d_stream.h, nnet_conv1d_stream.h"
    io_type = "io_stream"


class Pointwise(DenseLatency):
    """1x1 convolution (nnet_pointwise.h / PointwiseConv in nnet_conv2d.h): a dense product per pixel, no
    line buffer."""

    name = "pointwise"
    source = "nnet_pointwise.h"
    kinds = ("conv",)

    def applies(self, layer):
        return super().applies(layer) and _pointwise(layer)


class Depthwise(DenseLatency):
    """Depthwise convolution (nnet_sepconv2d_latency.h / nnet_sepconv2d_stream.h depthwise_conv): per
    channel a k*k dot product (n_terms = k*k, n_out = channels); separable = this + pointwise."""

    name = "depthwise"
    source = "nnet_sepconv2d_latency.h, nnet_sepconv2d_stream.h"
    kinds = ("depthwise",)


class DenseResourceConv(DenseResource):
    """Resource strategy (RF > 1) of a convolution: the conv templates call dense_resource per position."""

    name = "conv_resource"
    source = "nnet_conv2d_resource.h -> nnet_dense_resource.h"
    kinds = ("conv", "depthwise")


def _pointwise(layer: LayerIR) -> bool:
    return layer.class_name.startswith("Pointwise")


class BatchNorm(DenseLatency):
    """nnet_batchnorm.h normalize: one scale product and one bias add per element (`n_out` holds all
    elements), unrolled over them / RF; the scales are not known to the estimate: b/3 CSD digits each."""

    name = "batchnorm"
    source = "nnet_batchnorm.h"
    kinds = ("bn",)
    # DNNonSilicon's io_stream BatchNormalization (Vivado HLS 2020.1) has 1,895 LUT beside its 32 DSPs in its
    # instance row: its bias add stays in LUTs
    bias_in_dsp = False

    def applies(self, layer):
        return layer.kind == "bn"

    def mac_counts(self, layer, on_dsp):
        n = ceil_div(parallel_elements(layer), layer.rf)
        return n, n, max(2.0, layer.w_bits / 3), layer.w_bits

    def two_digit(self, layer):
        return 0

    def step_cycles(self, layer):
        n = parallel_elements(layer)  # one scale product per element, multiplier_limit = DIV_ROUNDUP(n_in, RF)
        return min(layer.rf, ceil_div(n, ceil_div(n, layer.rf)))


class Elementwise(Template):
    """nnet_activation.h relu / leaky_relu / hard_sigmoid / ... and saturating casts: a compare and select per
    element."""

    name = "elementwise_activation"
    source = "nnet_activation.h, nnet_activation_stream.h"

    def applies(self, layer):
        return layer.kind == "relu"

    def features(self, layer, c, clock_ns):
        f = {"layer": 1.0, "elem": parallel_elements(layer) * layer.res_bits, "lat_elem": 1.0,
             "lat_iter": self.steps(layer) - 1}
        if layer.res_rounds and layer.res_bits < layer.in_bits:  # narrowed: a rounding adder and an overflow
            # compare on the input's bits, beside the select (decided here: a search changes either width)
            f["elem_round"] = parallel_elements(layer) * layer.in_bits
        return f


class StreamCopy(Template):
    """io_stream layers that only move words: nnet_activation_stream.h linear (and a LeakyReLU of slope 1), whose
    cast truncates (wiring), and nnet_padding_stream.h / nnet_image_stream.h ZeroPadding and UpSampling, whose
    loops write a zero word or the word read; a pixel loop, no compare or select per element. hls4ml's pytest
    Dense(64) + LeakyReLU(alpha=1.0) in io_stream: 1,502-1,539 LUT in Vitis HLS, 3,978 in Vivado HLS; with ReLU
    3,946-4,043 and 5,873-5,927."""

    name = "stream_copy"
    source = "nnet_activation_stream.h linear, nnet_padding_stream.h, nnet_image_stream.h"

    def applies(self, layer):
        return layer.kind == "copy"

    def features(self, layer, c, clock_ns):
        return {"layer": 1.0, "lat_elem": 1.0, "lat_iter": self.steps(layer) - 1}


class Merge(Elementwise):
    """nnet_merge.h add/subtract/multiply/average/maximum/minimum: one operation of the result width per element;
    concatenate only places its inputs side by side (wiring in io_parallel, a stream copy in io_stream)."""

    name = "merge"
    source = "nnet_merge.h, nnet_merge_stream.h"

    def applies(self, layer):
        return layer.kind == "merge"

    def features(self, layer, c, clock_ns):
        if layer.class_name == "Concatenate":
            return {"layer": 1.0 if layer.io_type == "io_stream" else 0.0, "lat_iter": self.steps(layer) - 1}
        return super().features(layer, c, clock_ns)


class TableActivation(Template):
    """nnet_activation.h sigmoid/tanh/elu/...: one lookup of a table_size x table_t ROM per element; a
    dual-port BRAM serves two lookups per cycle."""

    name = "table_activation"
    source = "nnet_activation.h (init_sigmoid_table, ...)"

    def applies(self, layer):
        return layer.kind == "table"

    def features(self, layer, c, clock_ns):
        # ELU/SELU select the input itself where it is non-negative: in io_parallel it waits in registers for the
        # lookup's result, one stage (hls4ml's pytest Dense(64) + ELU: 2,135 FF in Vivado HLS 2020.1 and Vitis HLS
        # 2023.1, 2 cycles, where the same design with a sigmoid reports 1,047-1,689); io_stream's pixel loop
        # registers its input word anyway (the ELU and sigmoid designs there: 1,415 and 968, 3,154 and 3,858 FF)
        passes = layer.table_passes and layer.io_type == "io_parallel"
        hold = parallel_elements(layer) * layer.in_bits if passes else 0.0
        return {"layer": 1.0, "table": parallel_elements(layer) * max(layer.table_bits, layer.res_bits),
                "table_hold": hold, "lat_table": 1.0, "lat_softmax": 0.0, "lat_iter": self.steps(layer) - 1}

    def _per_table(self, layer) -> int:
        return ceil_div(layer.table_size * layer.table_bits, BRAM18_BITS) if layer.table_size else 0

    def bram(self, layer, c):
        return float(self._per_table(layer) * ceil_div(parallel_elements(layer), 2))


class Softmax(TableActivation):
    """nnet_activation.h softmax_latency/_stable: an exp table lookup per element, their sum, one inverse table
    lookup and a product per element."""

    name = "softmax"
    source = "nnet_activation.h softmax_latency"

    def applies(self, layer):
        return layer.kind == "softmax"

    def features(self, layer, c, clock_ns):
        par = parallel_elements(layer)
        return {"layer": 1.0, "table": par * max(layer.table_bits, layer.res_bits), "softmax": par * layer.res_bits,
                "lat_table": 0.0, "lat_softmax": 1.0, "lat_iter": self.steps(layer) - 1}

    def bram(self, layer, c):
        # exp table + one inverse table; 3 BRAM for 10 and 12 classes in the DNNonSilicon csynth reports
        return float(self._per_table(layer) * (1 + ceil_div(parallel_elements(layer), 8)))


class Pooling(Template):
    """nnet_pooling.h pooling2d_cl / nnet_pooling_stream.h: window - 1 comparators (max) or adders (average)
    per output element; in io_stream a 2D window reads pool_height - 1 line buffers, as a convolution does."""

    name = "pooling"
    source = "nnet_pooling.h, nnet_pooling_stream.h"

    def applies(self, layer):
        return layer.kind in ("max_pool", "avg_pool")

    def features(self, layer, c, clock_ns):
        # max: a comparator and a select per bit; average: an adder (the divide is a constant product). In
        # io_parallel the windows are combinational logic ('_comb': LUTs at the same cost, no registers): hls4ml's
        # pytest baselines of Max/AveragePooling1D/2D report 0 cycles and exactly their input port's FF (5,810 and
        # 12,962) in Vivado HLS 2020.1 and Vitis HLS 2024.1; io_stream pools inside a pipelined pixel loop
        op = "compare" if layer.kind == "max_pool" else "pool_add"
        one_window = layer.n_pos == 1 and layer.pool > 1  # a window over the whole input (global pooling)
        if layer.io_type == "io_parallel":
            # a reduction tree HLS pipelines, priced apart: seanlipps' GlobalMaxPooling1D over 128 x 16 inputs
            # reports 136k LUT, 223k FF and 44 cycles (Vitis HLS 2024.1), Brainz22's global average over 10 x 10
            # 2,842 LUT and 3 cycles (Vivado HLS 2019.2)
            op = "reduce" if one_window else op + "_comb"
        # io_stream global pooling (nnet_pooling_stream.h global_pooling1d_cl / 2d_cl) reduces the frame one pixel
        # per step into a running max or sum per channel: one operator each, not a window's (seanlipps' Conv1D
        # model, Vitis HLS 2024.1: 894 LUT over 128 x 16 inputs, where 127 comparators per channel are 77k)
        running = layer.io_type == "io_stream" and one_window and layer.pool == layer.n_steps
        ops = 1 if running else layer.pool - 1
        return {"layer": 1.0, op: parallel_elements(layer) * ops * layer.res_bits,
                "buffer": layer.buffer_bits, "lat_pool": 1.0, "lat_iter": self.steps(layer) - 1}


class DistributedArithmetic(Template):
    """hls4ml 1.3.0's distributed_arithmetic strategy (backends/vivado/passes/distributed_arithmetic.py): the
    da4ml adder graph of the kernel, no DSP, no BRAM; a conv in io_parallel has one graph per output position.
    Fitted on Yosys netlists (da.py), so already at synthesis level; registers HLS adds are not estimated."""

    name = "distributed_arithmetic"
    source = "backends/vivado/passes/distributed_arithmetic.py (da4ml)"
    # a carry-chain adder level of da4ml's delay model, in ns (UltraScale+ CARRY8: ~1 ns for 16 bits; an
    # assumption, not fitted: no timing reports of DA designs here)
    NS_PER_ADDER_LEVEL = 1.0

    def applies(self, layer):
        return layer.kind in ("dense", "conv", "depthwise") and layer.strategy == DA

    def resources(self, layer: LayerIR, clock_ns: float) -> dict[str, float]:
        from .da import estimate as da_estimate

        kernel = layer.extra.get("weights")
        if kernel is None:
            raise ValueError(f"layer {layer.name}: distributed_arithmetic needs the kernel values")
        signed = int(layer.in_signed)
        integer = layer.in_integer if layer.in_integer is not None else layer.in_bits // 2
        instances = layer.n_pos if layer.io_type == "io_parallel" else 1
        est = da_estimate(kernel, signed, integer - signed, layer.in_bits - integer, layer.extra.get("bias"),
                          instances)
        return {"lut": est.lut, "ff": 0.0, "dsp": 0.0, "bram_18k": 0.0,
                "latency_cycles": float(math.ceil(est.adder_depth * self.NS_PER_ADDER_LEVEL / clock_ns)),
                "ii": float(layer.n_steps)}


class Fifo:
    """The output stream of an io_stream layer: hls4ml gives it depth H x W (fpga_types.py StreamVariable:
    prod(shape) // channels) and one word of channels x bits (a packed nnet::array); its interface logic is
    the 'stream' feature. A FIFO at least `fifo_min_depth` deep goes to BRAM_18K in its best aspect ratio
    (shallower ones become SRLs; the threshold is fitted). The two tool generations build that interface
    differently, so Vitis HLS's has its own coefficients ('stream_vitis'): hls4ml's pytest baseline of a
    Dense(64) + ReLU on one input in io_stream reports 2,064 FF / 3,955 LUT in Vitis HLS 2023.1 and 2024.1,
    326 FF / 5,873 LUT in Vivado HLS 2020.1 (registers in Vitis where Vivado HLS builds shift registers in
    LUTs); in io_parallel the same network is 18 FF in both."""

    name = "fifo"
    source = "fpga_types.py StreamVariable, nnet_*_stream.h hls::stream"

    @staticmethod
    def applies(layer: LayerIR) -> bool:
        return layer.io_type == "io_stream" and layer.kind != "free"

    @staticmethod
    def features(layer: LayerIR) -> dict[str, float]:
        interface = "stream_vitis" if layer.tool == "vitis" else "stream"
        return {interface: layer.n_out * layer.res_bits, "stream_layer": 1.0, "lat_stream": 1.0}

    @staticmethod
    @functools.lru_cache(maxsize=4096)  # the search prices thousands of candidates a second
    def blocks(depth: int, width: int) -> int:
        """BRAM_18K of one FIFO of depth x width bits."""
        return min(ceil_div(width, w) * ceil_div(depth, d) for d, w in BRAM18_SHAPES)

    @classmethod
    def bram(cls, layer: LayerIR, c: "Coefficients") -> float:
        return float(cls.blocks(layer.n_pos, layer.n_out * layer.res_bits)) if layer.n_pos >= c.fifo_min_depth \
            else 0.0


# the order decides nothing (each layer has exactly one template; test_cost_model checks it) but reads as
# hls4ml's template folder does
TEMPLATES: tuple[Template, ...] = (DenseLatency(), DenseResource(), ConvParallel(), ConvStream(), Pointwise(),
                                   Depthwise(), DenseResourceConv(), BatchNorm(), Elementwise(), StreamCopy(),
                                   Merge(), TableActivation(), Softmax(), Pooling(), DistributedArithmetic(),
                                   Template())
TEMPLATE_NAMES = tuple(t.name for t in TEMPLATES)


_CHOSEN: dict[tuple, Template] = {}


def template_of(layer: LayerIR) -> Template:
    # what every applies() reads; cached: the search estimates thousands of candidates a second
    key = (layer.kind, layer.strategy, layer.rf > 1, layer.io_type, _pointwise(layer))
    if key not in _CHOSEN:
        found = [t for t in TEMPLATES if t.applies(layer)]
        if len(found) != 1:
            raise ValueError(f"layer {layer.name} (kind {layer.kind}, {layer.strategy}, {layer.io_type}): "
                             f"{len(found)} templates apply ({', '.join(t.name for t in found)})")
        _CHOSEN[key] = found[0]
    return _CHOSEN[key]
