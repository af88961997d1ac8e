"""`codesign estimate`: resolve the hls4ml graph exactly as export would, then run the cost model on it."""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml

from hw_models import load_part
from hw_models.coefficients import Coefficients
from hw_models.cost import LEVELS, Estimate
from hw_models.costmodel import CostModel
from hw_models.reuse import closest_reuse_factor, is_valid_reuse_factor
from hw_models.targets import MULT_IMPLS, strategy_key, tool_generation

from .errors import CodesignError
from .export import ExportOptions, convert, convert_config
from .hw_graph import graph_layers
from .policy import HLS4ML_DEFAULT_TYPE
from .precision import MAC_KINDS, TypedGraph, derive
from .spec import QuantSpec

CONFIG_KEYS = ("Model", "LayerName", "LayerType")


def load_hls_config(path: Path, opts: ExportOptions) -> dict:
    """hls4ml-style config (Model / LayerName / LayerType); Model defaults from the command line."""
    if not path.is_file():
        raise CodesignError(f"{path}: hls config not found")
    try:
        cfg = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise CodesignError(f"{path}: malformed YAML ({getattr(exc, 'problem', exc)})") from None
    if isinstance(cfg, dict) and "HLSConfig" in cfg:  # a project's hls4ml_config.yml
        cfg = cfg["HLSConfig"]
    if not isinstance(cfg, dict) or not set(cfg) & set(CONFIG_KEYS):
        raise CodesignError(f"{path}: expected a mapping with keys {', '.join(CONFIG_KEYS)}")
    extra = set(cfg) - set(CONFIG_KEYS)
    if extra:
        raise CodesignError(f"{path}: unknown top-level key(s) {sorted(extra)}; allowed: {', '.join(CONFIG_KEYS)}")
    model = {"Precision": "fixed<16,6>", "ReuseFactor": opts.reuse_factor, "Strategy": opts.strategy}
    model.update(cfg.get("Model") or {})
    return {**cfg, "Model": model}


def kernels_of(graph: TypedGraph) -> dict:
    """name -> (kernel, bias, weight type) of every MAC node: what a distributed_arithmetic estimate solves."""
    return {n.name: (graph.lowered.weights[n.name].kernel, graph.lowered.weights[n.name].bias, n.weight)
            for n in graph.mac_nodes()}


def is_float_model(keras_model) -> bool:
    """No QKeras layer and no quantizer anywhere: a plain Keras model, which hls4ml types with its default."""
    return not any(type(layer).__name__.startswith("Q") for layer in keras_model.layers)


def hls_graph(keras_model, opts: ExportOptions, input_spec: QuantSpec, hls_config: Path | None, out_dir: Path):
    """(the ModelGraph hls4ml resolves, optimizers applied: the types and reuse factors export would use;
    the kernels of the typed graph, or {} for a user's hls config; notes). A float Keras model without a config
    is typed as hls4ml types it by default (its float weights have no exact fixed-point type)."""
    if hls_config is None and not is_float_model(keras_model):
        typed = derive(keras_model, input_spec)
        return convert(typed, opts, out_dir, codegen=False), kernels_of(typed), []
    if hls_config is None:
        cfg = {"Model": {"Precision": HLS4ML_DEFAULT_TYPE, "ReuseFactor": opts.reuse_factor,
                         "Strategy": opts.strategy}}
        note = (f"float model: every type is hls4ml's default {HLS4ML_DEFAULT_TYPE} (as "
                "config_from_keras_model gives); quantize it (codesign ptq) or pass --hls-config for other types")
        return convert_config(keras_model, cfg, opts, out_dir), {}, [note]
    cfg = load_hls_config(hls_config, opts)
    try:
        return convert_config(keras_model, cfg, opts, out_dir), {}, []
    except Exception as exc:  # noqa: BLE001 - hls4ml raises bare exceptions for config errors
        raise CodesignError(f"{hls_config}: hls4ml rejected the config: {str(exc).splitlines()[0]}") from None


def reuse_notes(hls_model, requested: dict[str, int]) -> list[str]:
    """Say where hls4ml snapped an impossible reuse factor (Resource strategy), as its rule demands."""
    notes = []
    for layer in hls_model.get_layers():
        want = requested.get(layer.name)
        got = layer.get_attr("reuse_factor")
        if want is None or got is None or want == got:
            continue
        if layer.class_name == "Dense":
            n_in, n_out = layer.get_attr("n_in"), layer.get_attr("n_out")
        else:
            n_in = layer.get_attr("n_chan", 1) * layer.get_attr("filt_height", 1) * layer.get_attr("filt_width", 1)
            n_out = layer.get_attr("n_filt", 1)
        if not is_valid_reuse_factor(n_in, n_out, want):
            notes.append(f"{layer.name}: ReuseFactor {want} is not valid for n_in={n_in}, n_out={n_out} "
                         f"(hls4ml rule); hls4ml uses {closest_reuse_factor(n_in, n_out, want)}")
    return notes


def requested_reuse(hls_model, opts: ExportOptions, hls_config: Path | None) -> dict[str, int]:
    per_layer = {}
    cfg = load_hls_config(hls_config, opts) if hls_config else {"Model": {"ReuseFactor": opts.reuse_factor}}
    default = int(cfg["Model"].get("ReuseFactor", 1))
    for layer in hls_model.get_layers():
        entry = (cfg.get("LayerName") or {}).get(layer.name) or {}
        per_layer[layer.name] = int(entry.get("ReuseFactor", default))
    return per_layer


def tool_of(opts: ExportOptions, tool: str | None = None) -> str:
    """The HLS tool generation an estimate is for: `tool` (`--tool`) if given, else that of the export's hls4ml
    backend (Vitis -> Vitis HLS, Vivado -> Vivado HLS)."""
    try:
        return tool_generation(tool if tool is not None else opts.backend)
    except ValueError as exc:
        raise CodesignError(f"--tool: {exc}") from None


def mult_impl_of(mult_impl: str | None) -> str:
    """The product implementation an estimate assumes (`--mult-impl`): "auto" (HLS decides; the default),
    "fabric" or "dsp" (`config_op mul -impl fabric|dsp` in build_prj.tcl: every multiply in LUTs, or on DSPs)."""
    impl = (mult_impl or "auto").lower()
    if impl not in MULT_IMPLS:
        raise CodesignError(f"--mult-impl {mult_impl!r}; allowed: {', '.join(MULT_IMPLS)} (build_prj.tcl's "
                            f"config_op mul -impl)")
    return impl


def cost_model_for(keras_model, opts: ExportOptions, input_spec: QuantSpec, hls_config: Path | None = None,
                   coefficients: Path | None = None, level: str = "synth", tool: str | None = None,
                   mult_impl: str | None = None) -> CostModel:
    """level: "synth" (Vivado post-synthesis, the default) or "csynth" (the HLS C-synthesis report); tool: the
    HLS tool generation (`tool_of`); mult_impl: a directive forcing the products' implementation
    (`mult_impl_of`)."""
    if level not in LEVELS:
        raise CodesignError(f"--level {level!r}; allowed: {', '.join(LEVELS)}")
    generation, impl = tool_of(opts, tool), mult_impl_of(mult_impl)
    part = load_part(opts.part)
    coefs = Coefficients.load(coefficients) if coefficients else None
    with tempfile.TemporaryDirectory(prefix="codesign_estimate_") as tmp:
        graph, kernels, notes = hls_graph(keras_model, opts, input_spec, hls_config, Path(tmp) / "prj")
        layers = [layer.with_(tool=generation, mult_impl=impl) for layer in graph_layers(graph, kernels)]
        model = CostModel(layers, part, opts.clock_ns, coefs, level)
        model.notes = notes + reuse_notes(graph, requested_reuse(graph, opts, hls_config))
    return model


def estimate_model(keras_model, opts: ExportOptions, input_spec: QuantSpec, hls_config: Path | None = None,
                   coefficients: Path | None = None, level: str = "synth", tool: str | None = None,
                   mult_impl: str | None = None) -> tuple[Estimate, list[str]]:
    model = cost_model_for(keras_model, opts, input_spec, hls_config, coefficients, level, tool, mult_impl)
    return model.estimate(), model.notes


def graph_assignment(cost_model: CostModel, graph: TypedGraph, reuse_factor: int | None = None,
                     strategy: str | None = None) -> dict[str, dict]:
    """Cost-model knobs of every layer of `graph` (a variant of the model the cost model was parsed from):
    widths and weight values straight from the typed graph, the precision authority."""
    out = {}
    for layer in cost_model.layers:
        if layer.kind == "free" or layer.name not in graph:  # hls4ml-inserted layers keep their parse
            continue
        node = graph[layer.name]
        change = {"res_bits": node.result.width}
        if node.input is not None:
            change |= {"in_bits": node.input.width, "in_integer": node.input.integer, "in_signed": node.input.signed}
        if node.kind in MAC_KINDS:
            src = graph.lowered.weights[node.name]
            change |= {"w_bits": node.weight.width, "w_integer": node.weight.integer, "acc_bits": node.accum.width,
                       "weight_values": src.kernel, "bias_values": src.bias}
            if reuse_factor is not None:
                change["rf"] = int(reuse_factor)
            if strategy is not None:
                change["strategy"] = strategy_key(strategy)
        out[layer.name] = change
    return out
