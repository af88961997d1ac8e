"""hls4ml export: our exact precisions -> hls4ml config -> HLS project (Vitis backend)."""

from __future__ import annotations

import contextlib
import io
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from hw_models.targets import DA, DEFAULT_PART, IO_TYPES, STRATEGIES  # noqa: F401 - re-exported

from .errors import CodesignError
from .precision import MAC_KINDS, LayerKind, LayerPrecision, TypedGraph
from .spec import QuantSpec, parse_hls


@dataclass(frozen=True)
class ExportOptions:
    part: str = DEFAULT_PART
    clock_ns: float = 5.0
    io_type: str = "io_parallel"
    strategy: str = "Latency"
    reuse_factor: int = 1
    backend: str = "Vitis"

    def __post_init__(self):
        """Checked on construction (a design's target, codesign.Target, every dataclasses.replace): the part is
        checked where a known part is needed (design.export_options, the API), not here."""
        for key, kind, what in (("part", str, "a part name"), ("clock_ns", (int, float), "a number (ns)"),
                                ("io_type", str, "io_parallel or io_stream"), ("strategy", str, "a strategy name"),
                                ("reuse_factor", int, "an integer"), ("backend", str, "a backend name")):
            value = getattr(self, key)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise CodesignError(f"target.{key}: {value!r}; allowed: {what}")
        if self.io_type not in IO_TYPES:
            raise CodesignError(f"target.io_type: {self.io_type!r}; allowed: {', '.join(IO_TYPES)}")
        if self.strategy not in STRATEGIES:
            raise CodesignError(f"target.strategy: {self.strategy!r}; allowed: {', '.join(STRATEGIES)}")
        if self.reuse_factor < 1 or self.clock_ns <= 0:
            raise CodesignError("target: reuse_factor must be >= 1 and clock_ns > 0")
        if self.strategy == DA and self.reuse_factor != 1:
            raise CodesignError(f"target.reuse_factor: {self.reuse_factor} with strategy {DA}; allowed: 1 "
                                "(hls4ml 1.3.0)")


# hls4ml 1.3.0 nnet_sepconv2d.h / nnet_sepconv1d.h: io_parallel depthwise + Resource builds, then asserts at run time
DEPTHWISE_LATENCY_NOTE = ("Latency strategy: hls4ml's io_parallel depthwise convolution has no Resource strategy "
                          "(nnet_sepconv2d.h asserts)")
# hls4ml 1.3.0 backends/vivado/passes/distributed_arithmetic.py: Dense and Conv1D/2D only, ReuseFactor 1; set per
# layer (on the model it raises on the input layer). Weights become constants of da4ml's adder graph.
DA_LAYERS = ("Dense", "Conv1D", "Conv2D")
DA_LATENCY_NOTE = "Latency strategy: hls4ml's distributed arithmetic covers Dense and Conv1D/2D only"


def layer_strategy(lp: LayerPrecision, opts: ExportOptions) -> str | None:
    """The hls4ml Strategy of one MAC layer where it differs from the model's (None: the model's)."""
    if lp.kind is LayerKind.DEPTHWISE and opts.strategy == "Resource" and opts.io_type == "io_parallel":
        note = DEPTHWISE_LATENCY_NOTE
    elif opts.strategy == DA and lp.kind in MAC_KINDS:
        if lp.class_name in DA_LAYERS:
            return DA
        note = DA_LATENCY_NOTE
    else:
        return None
    if note not in lp.notes:
        lp.notes.append(note)
    return "Latency"


def reuse_for(strategy: str | None, reuse_factor):
    """The reuse factor a strategy runs at: hls4ml's DA pass raises for any but 1."""
    return 1 if strategy == DA else reuse_factor


def check_strategy(opts: ExportOptions) -> None:
    if opts.strategy == DA and (opts.reuse_factor != 1 or opts.backend != "Vitis"):
        raise CodesignError(f"strategy {DA}: needs ReuseFactor 1 and the Vitis backend (hls4ml 1.3.0), got "
                            f"ReuseFactor {opts.reuse_factor}, backend {opts.backend}")


def hls_config(precisions: list[LayerPrecision], opts: ExportOptions, trace: bool = False) -> dict:
    """hls4ml config at name granularity; every layer's types set explicitly (no fixed<16,6> default)."""
    layers = {}
    for lp in precisions:
        entry = {"Precision": lp.hls_precision(), "Trace": trace}
        if lp.class_name == "Softmax":  # table types: precision.SOFTMAX_TABLES
            entry.update(Strategy="stable", TableSize=4096)
            # hls4ml takes inp_norm_t as a layer attribute, not from Precision (model/layers.py: keys ending _t)
            entry["inp_norm_t"] = entry["Precision"].pop("inp_norm")
        if lp.table_size is not None:  # precision.function_table; table_t as for inp_norm_t
            entry.update(TableSize=lp.table_size, table_t=entry["Precision"].pop("table"))
        strategy = layer_strategy(lp, opts) if lp.kind in MAC_KINDS else None
        if strategy is not None:
            entry["Strategy"] = strategy
        layers[lp.name] = entry
        if lp.kind in MAC_KINDS:  # hls4ml's parser appends `<name>_linear`; same type -> it is eliminated
            layers[f"{lp.name}_linear"] = {"Precision": {"result": lp.result.to_hls()}, "Trace": False}
    return {
        "Model": {"Precision": "fixed<16,6>", "ReuseFactor": opts.reuse_factor,
                  "Strategy": "Latency" if opts.strategy == DA else opts.strategy,
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


# hls4ml passes that would override decided types: BatchNormalization + binary/ternary activation fused into
# BatchNormalizationQuantizedTanh, whose thresholds are floored onto the input grid (bn_quant.py set_thresholds:
# x >= floor(t) differs from QKeras's BN(x) >= 0 between grid points) and whose 0/1 output re-types the next
# Dense. hls4ml's `SkipOptimizers` config is ignored by its flows (graph.py: "effectively broken").
TYPE_OVERRIDING_PASSES = ("merge_batch_norm_quantized_tanh", "quantize_dense_output")
# hls4ml's distributed_arithmetic code generation: da4ml's solve of each whole kernel, unsplit (a 784x64 layer
# runs for many minutes). An estimate needs the graph, not the code: hw_models.da costs the kernels itself.
DA_CODEGEN_PASSES = ("distributed_arithmetic_codegen", "distributed_arithmetic_einsum_codegen")


@contextlib.contextmanager
def without_type_overriding_passes(backend: str, also: tuple[str, ...] = ()):
    """hls4ml's passes that would override decided types switched off (and the passes `also` names)."""
    from hls4ml.model.optimizer import get_optimizer

    patched = []
    for name in TYPE_OVERRIDING_PASSES + also:
        for prefix in dict.fromkeys((backend.lower(), "vivado")):
            try:
                opt = get_optimizer(f"{prefix}:{name}")
            except Exception:  # noqa: BLE001 - a backend without this pass
                continue
            patched.append(opt)
            opt.match = lambda node: False
    try:
        yield
    finally:
        for opt in patched:
            opt.__dict__.pop("match", None)  # back to the class's method


def _split_da_codegen(self, model, node):
    """hls4ml 1.3.0's DistributedArithmeticCodegen.transform (backends/vivado/passes/distributed_arithmetic.py)
    with one change: the kernel's product is `hw_models.da.matmul`, which solves a kernel of more than
    BLOCK_DIGITS CSD digits in blocks (hls4ml's whole solve of a 784x64 kernel ran past 20 minutes and 18 GB).
    Smaller kernels are solved whole with hls4ml's options, as hls4ml does. Any adder graph of x @ kernel is
    the same exact integer sum, so the C model's outputs do not change (the bit-exact proof checks them)."""
    from da4ml.codegen.hls import hls_logic_and_bridge_gen
    from da4ml.trace import FixedVariableArray, HWConfig, comb_trace
    from hls4ml.backends.vivado.passes.distributed_arithmetic import add_kernel_wrapper, get_kernel_inp_kif
    from hls4ml.model.types import Source

    from hw_models.da import matmul

    kernel = node.attributes["weight"].data
    kernel = kernel.reshape(-1, kernel.shape[-1])
    n_in, n_out = kernel.shape
    fn_name = f"dense_da_{node.index}"
    k, i, f = get_kernel_inp_kif(node)
    inp = FixedVariableArray.from_kif(k, i, f, HWConfig(1, -1, -1))
    out = matmul(inp, kernel)
    if node.attributes["bias"] is not None:
        out += node.attributes["bias"].data.ravel()
    sol = comb_trace(inp, out)
    node.attributes["da_kernel_cost"] = sol.cost
    fn_str, _ = hls_logic_and_bridge_gen(sol, fn_name, "vitis", pragmas=["#pragma HLS INLINE"], print_latency=True)
    if node.model.config.get_config_value("IOType") != "io_parallel":
        fn_str += "\n\n" + add_kernel_wrapper(node.index, n_in, n_out)
    node.set_attr("da_codegen", Source(fn_str))


@contextlib.contextmanager
def split_da_kernels():
    """hls4ml's distributed_arithmetic code generation with large kernels solved in blocks (`_split_da_codegen`)."""
    from hls4ml.backends.vivado.passes.distributed_arithmetic import DistributedArithmeticCodegen

    original = DistributedArithmeticCodegen.transform
    DistributedArithmeticCodegen.transform = _split_da_codegen
    try:
        yield
    finally:
        DistributedArithmeticCodegen.transform = original


def convert_config(model, cfg: dict, opts: ExportOptions, out_dir: Path):
    """hls4ml conversion with a given hls4ml config; returns the ModelGraph (not yet compiled)."""
    import hls4ml

    with quiet():
        return hls4ml.converters.convert_from_keras_model(
            model, hls_config=cfg, output_dir=str(out_dir), project_name="myproject", backend=opts.backend,
            io_type=opts.io_type, part=opts.part, clock_period=opts.clock_ns,
        )


def convert(graph: TypedGraph, opts: ExportOptions, out_dir: Path, trace: bool = False, codegen: bool = True):
    """Convert the lowered model with every type of the typed graph; check hls4ml kept each one.
    codegen=False: without hls4ml's distributed_arithmetic code generation (a graph to estimate, not to write)."""
    check_strategy(opts)
    with without_type_overriding_passes(opts.backend, () if codegen else DA_CODEGEN_PASSES), split_da_kernels():
        hls_model = convert_config(graph.keras_model, hls_config(graph.nodes, opts, trace), opts, out_dir)
    check_resolved_types(hls_model, graph.nodes)
    return hls_model


# hls4ml layers that only move data (inserted for io_stream branches, padding, ...): result = input type
HLS_PASS_THROUGH = ("Clone", "Repack", "ZeroPadding1D", "ZeroPadding2D", "Transpose", "Reshape")


def _hls_spec(precision) -> QuantSpec | str:
    try:
        return parse_hls(str(precision))
    except ValueError:
        return str(precision)


def _text(spec: QuantSpec | str | None) -> str:
    return spec.to_hls() if isinstance(spec, QuantSpec) else str(spec)


TABLE_TYPES = ("inp_norm", "exp_table", "inv_table")  # softmax (precision.SOFTMAX_TABLES)


def resolved_types(layer) -> dict[str, QuantSpec | str]:
    """The types hls4ml resolved for one layer (result, accumulator, weights, biases, BN scale/bias)."""
    out = {"result": _hls_spec(layer.get_output_variable().type.precision)}
    accum = layer.get_attr("accum_t")
    if accum is not None:
        out["accum"] = _hls_spec(accum.precision)
    for key, var in layer.weights.items():
        if key in ("weight", "bias", "scale"):
            out[key] = _hls_spec(var.type.precision)
    for key in (*TABLE_TYPES, "table", "param"):  # lookup tables; LeakyReLU alpha
        table = layer.get_attr(f"{key}_t")
        if table is not None:
            out[key] = _hls_spec(table.precision)
    return out


def check_resolved_types(hls_model, nodes: list[LayerPrecision]) -> None:
    """Every type hls4ml resolved must equal the derived one; every hls4ml layer must have a node."""
    by_name = {n.name: n for n in nodes}
    for layer in hls_model.get_layers():
        got = resolved_types(layer)
        node = by_name.get(layer.name)
        if node is None:
            inp = layer.get_input_variable()
            if layer.class_name in HLS_PASS_THROUGH and inp is not None and \
                    _hls_spec(inp.type.precision) == got["result"]:
                continue
            raise CodesignError(f"hls4ml layer '{layer.name}' ({layer.class_name}) has no node in codesign's typed "
                                "graph; its types would be hls4ml's defaults")
        if node.kind is LayerKind.INPUT:
            want = {"result": node.result}
        else:
            want = {"result": node.result, "accum": node.accum, "weight": node.weight, "bias": node.bias} | node.params
        if layer.get_attr("strategy") == DA:  # weights are constants of da4ml's exact adder graph, cast to result
            want = {"result": node.result}
        for key in got.keys() - {k for k, v in want.items() if v is not None}:
            if key in want:  # a type hls4ml uses that codesign did not decide
                raise CodesignError(f"layer '{layer.name}': hls4ml uses the {key} type {_text(got[key])}, which "
                                    "codesign's typed graph does not decide")
        for key, spec in want.items():
            if spec is None:
                continue
            have = got.get(key)
            if have != spec and not (isinstance(have, QuantSpec) and have.exact() == spec.exact()
                                     and node.approximate):
                raise CodesignError(f"layer '{layer.name}': hls4ml resolved its {key} type as "
                                    f"{_text(have)}, codesign derived "
                                    f"{spec.to_hls()}; the export would not be what was proven")


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
