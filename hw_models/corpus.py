"""Calibration records (../shared/calibration/synthesis_corpus.jsonl schema) -> LayerIR lists + targets."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from .fixed import QuantSpec, mac_accum, parse_type
from .kinds import RESHAPING, WIRING, global_pooling, kind_of, pool_kind, rounds_or_saturates, table_passes_input
from .layers import (ELEMENTWISE_KINDS, LayerIR, WeightStats, bn_shape, dense_stream_buffer_bits, line_buffer_bits,
                     unknown_weight_stats)
from .targets import IO_TYPES, mult_impl, strategy_key, tool_generation

CSYNTH_KINDS = ("hls_csynth", "hls_csynth (table)")
SYNTH_KINDS = ("vivado_synth",)  # Vivado synth_design + report_utilization: post logic synthesis
TABLE_SIZE, TABLE_BITS = 1024, 18   # hls4ml default activation table: 1024 entries of ap_fixed<18,8>
TERNARY_ZERO_FRACTION = 1 / 3       # assumption when a ternary layer's weights are not known


class Unsupported(ValueError):
    """The record (or a layer of it) is outside what the cost model describes."""


@dataclass
class Record:
    id: str
    group: str          # design family, for grouped cross-validation
    source_group: str
    tool: str
    part: str
    clock_ns: float
    io_type: str
    layers: list[LayerIR]
    target: dict[str, float]
    repo: str = ""      # the repository it came from, for leave-one-repository-out validation
    per_layer: dict = field(default_factory=dict)  # layer name -> its row of the csynth instance table

    @property
    def generation(self) -> str:
        """The HLS tool generation (targets.TOOLS) that wrote the report."""
        return tool_generation(self.tool)


def read_jsonl(path: str | Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def family(rec: dict) -> str:
    name = rec.get("model_name") or rec.get("architecture") or rec["id"]
    name = re.sub(r",?\s*(seed|training profile)\s*\S+", "", name)
    return f"{rec['source_group']}|{name}"


def _shape(value) -> list[int]:
    if value is None:
        raise Unsupported("shape not recorded")
    if not all(isinstance(v, int) for v in value):
        raise Unsupported("symbolic shape (C++ constant names, not numbers)")
    return list(value)


def _weight_type(text: str | None, default: QuantSpec) -> tuple[QuantSpec, str]:
    low = (text or "").lower()
    if "hgq" in low or "patched" in low or "bitnet" in low:
        raise Unsupported(f"weights not reconstructable: {text}")
    if low.startswith("binary"):
        return QuantSpec(2, 2), "binary"
    if low.startswith("ternary"):
        return QuantSpec(2, 2), "ternary"
    t = parse_type(text)
    return (t or default), "fixed"


def _result_type(text: str | None, fallback: QuantSpec, default: QuantSpec) -> QuantSpec:
    low = (text or "").lower()
    if not text or low.startswith("auto") or "derived" in low:
        return fallback
    if low.startswith("default"):
        return default
    t = parse_type(text)
    if t is None:
        raise Unsupported(f"precision not recorded: {text}")
    return t


def _layer_rf(layer: dict, rec: dict) -> int:
    rf = layer.get("reuse_factor") or rec.get("reuse_factor") or 1
    return int(rf if isinstance(rf, int) else max(rf))


def _strategy(layer: dict, rec: dict) -> str:
    return strategy_key(layer.get("strategy") or rec.get("strategy"))


# a pruning target the record's notes state where its zero counts are unknown (the hls4ml tutorial's SVHN CNNs:
# "PolynomialDecay to 50% sparsity on all Conv2D and hidden Dense layers (not output_dense)"); tfmot's magnitude
# pruning leaves each pruned layer at exactly the target
_STATED_SPARSITY = re.compile(r"(\d+(?:\.\d+)?)% (?:target )?sparsity on (?:all )?conv\w* and hidden dense", re.I)


def _sparsity(rec: dict, layer: dict) -> float:
    """The zero fraction of `layer`'s weights: the record's measured one, else a target its notes state for
    the convolutions and hidden Dense layers (every MAC layer but the last)."""
    if rec.get("pruning_sparsity") is not None:
        return rec["pruning_sparsity"]
    stated = _STATED_SPARSITY.search(" ".join(rec.get("notes") or []))
    macs = [L for L in rec.get("layers") or [] if L.get("weight_precision")]
    return float(stated.group(1)) / 100 if stated and macs and layer is not macs[-1] else 0.0


def record_layers(rec: dict) -> list[LayerIR]:
    default = parse_type(rec.get("model_default_precision")) or QuantSpec(16, 6)
    io = rec.get("io_type") or ""
    if io not in IO_TYPES:
        raise Unsupported(f"io_type {io!r}")
    target = dict(io_type=io, tool=tool_generation(rec.get("tool")), mult_impl=mult_impl(rec.get("synth_variant")))
    out: list[LayerIR] = []
    current = default
    layers = rec.get("layers") or []
    for i, L in enumerate(layers):
        kind_t = L["type"]
        inp = parse_type(L.get("input_precision")) or current
        common = dict(name=L["name"], class_name=kind_t, rf=_layer_rf(L, rec), strategy=_strategy(L, rec),
                      in_bits=inp.width, **target)
        if kind_t == "Input":
            current = _result_type(L.get("result_precision"), default, default)
            continue
        act = str(L.get("activation") or "").lower() if kind_t == "Activation" else ""
        kind = kind_of(kind_t, io, act, L.get("result_precision"))
        if kind is None:
            raise Unsupported(f"activation {act!r}" if act else f"layer type {kind_t}")
        prev = next((q for q in reversed(out) if q.kind != "free"), None)  # the last layer with a shape
        if kind in ("dense", "conv", "depthwise"):
            ins, outs = _shape(L.get("in_shape")), _shape(L.get("out_shape"))
            wt, wkind = _weight_type(L.get("weight_precision"), default)
            k = 1 if kind == "dense" else math.prod(L.get("kernel_size") or [1])
            n_out, n_pos = outs[-1], 1 if kind == "dense" else math.prod(outs[:-1])
            n_terms = ins[-1] if kind == "dense" else k if kind == "depthwise" else k * ins[-1]
            n_w = n_out * n_terms
            # the committed weights cast to the layer's type (what hls4ml synthesizes) where recorded
            st = L.get("weight_stats_quantized") or L.get("weight_stats")
            if st and st.get("n_weights") == n_w:
                ws = unknown_weight_stats(n_w, wt.width, st["n_zero"], st["n_pow2_nonzero"])
            elif wkind == "binary":
                ws = WeightStats(n_w, 0, n_w, 0.0)
            elif wkind == "ternary":
                zero = round(n_w * TERNARY_ZERO_FRACTION)
                ws = WeightStats(n_w, zero, n_w - zero, 0.0)
            else:  # per-layer counts unknown: spread the record's pruning sparsity evenly
                ws = unknown_weight_stats(n_w, wt.width, round(n_w * _sparsity(rec, L)))
            acc = _result_type(L.get("accum_precision"), mac_accum(inp, wt, n_terms), default)
            res = _result_type(L.get("result_precision"), acc, default)
            buffer = 0
            if io == "io_stream" and kind == "dense" and prev is not None:  # a flattened map: a pixel per word
                buffer = dense_stream_buffer_bits(n_terms, prev.n_pos, inp.width)
            elif io == "io_stream" and kind != "dense" and len(ins) == 3:
                buffer = line_buffer_bits((L.get("kernel_size") or [1])[0], ins[1], ins[2], inp.width)
            steps = n_pos if io == "io_parallel" else (math.prod(ins[:-1]) if kind != "dense" else 1)
            out.append(LayerIR(kind=kind, n_out=n_out, n_terms=n_terms, n_pos=n_pos, n_in_elems=math.prod(ins),
                               w_bits=wt.width, acc_bits=acc.width, res_bits=res.width, weights=ws,
                               n_steps=steps, buffer_bits=buffer, binary=wkind == "binary", **common))
            current = res
            continue
        if kind == "free" and (kind_t in WIRING or kind_t.startswith(RESHAPING)):
            out.append(LayerIR(kind="free", **common))  # wiring: the type passes through unchanged
            continue
        whole = global_pooling(kind_t, L.get("hls_func"))
        if whole:  # one output position: the window is the whole input (out_shape [None, C] in records)
            shp = _shape(L.get("in_shape"))[-1:]
        elif kind_t.startswith(RESHAPING) and not (L.get("out_shape") or L.get("in_shape")) and i + 1 < len(layers):
            shp = _shape(layers[i + 1].get("in_shape"))  # a padding whose shape only its consumer records
        else:
            shp = _shape(L.get("out_shape") or L.get("in_shape"))
        res = _result_type(L.get("result_precision"), inp, default)
        current = res
        if kind_t.startswith(RESHAPING):  # io_stream: a pixel loop that copies (or pads, or repeats) each pixel
            out.append(LayerIR(kind=kind, n_out=shp[-1], n_pos=math.prod(shp[:-1]), n_in_elems=math.prod(shp),
                               res_bits=res.width, n_steps=math.prod(shp[:-1]), **common))
            continue
        chans, pos = shp[-1], math.prod(shp[:-1])
        if prev is not None and len(shp) == 1 and prev.n_pos > 1 and chans == prev.n_out * prev.n_pos:
            chans, pos = prev.n_out, prev.n_pos  # activation recorded flat after a convolution
        base = dict(n_out=chans, n_pos=pos, n_in_elems=chans * pos, res_bits=res.width,
                    n_steps=pos if io == "io_stream" else 1)
        if kind in ELEMENTWISE_KINDS + ("free",):  # an element-wise comparison, cast or merge, or wiring of a cast
            out.append(LayerIR(kind=kind, res_rounds=rounds_or_saturates(L.get("result_precision")), **base, **common))
        elif kind in ("softmax", "table"):
            out.append(LayerIR(kind=kind, table_size=TABLE_SIZE, table_bits=TABLE_BITS,
                               table_passes=table_passes_input(act, kind_t), **base, **common))
        elif kind == "bn":
            out.append(LayerIR(kind="bn", w_bits=default.width, acc_bits=res.width, res_bits=res.width,
                               n_in_elems=chans * pos, **bn_shape(chans, pos, io), **common))
        else:  # pooling
            ins = _shape(L.get("in_shape"))
            pool = math.prod(L.get("pool_size") or [0]) if None not in (L.get("pool_size") or [None]) else 0
            if whole:
                pool = math.prod(ins[:-1])
            if not pool:
                raise Unsupported("global pooling")
            buffer = line_buffer_bits(L["pool_size"][0], ins[1], ins[2], inp.width) \
                if io == "io_stream" and len(ins) == 3 else 0
            out.append(LayerIR(kind=pool_kind(kind_t + L["name"]), n_out=chans, n_pos=pos, n_in_elems=math.prod(ins),
                               res_bits=res.width, pool=pool, n_steps=math.prod(ins[:-1]) if io == "io_stream" else 1,
                               buffer_bits=buffer, **common))
    if not out:
        raise Unsupported("no layers")
    return out


def to_record(rec: dict, kinds: tuple[str, ...] = CSYNTH_KINDS) -> Record:
    """Raises Unsupported with the reason when the record cannot serve calibration (kinds: the report kinds
    accepted; C-synthesis by default, SYNTH_KINDS for post-synthesis validation)."""
    if rec.get("source_group") == "hls4ml_rf_exploration_2019":
        raise Unsupported("hls4ml rf-exploration 2019 (keras-to-hls before hls4ml 0.2, Vivado HLS 2018.2): "
                          "older kernels, left out of the fit")
    if any("_large" in str(L.get("strategy")) for L in rec.get("layers") or []):
        raise Unsupported("hls4ml's early Resource kernels (dense_large / conv_2d_large_cl, before "
                          "nnet_dense_resource.h): older kernels, left out of the fit")
    if rec.get("kind") not in kinds:
        raise Unsupported(f"kind {rec.get('kind')} (only {' / '.join(kinds)} here)")
    if rec.get("hls4ml_modified"):
        raise Unsupported("a lab's modified hls4ml kernels (hls4ml_modified): not stock hls4ml")
    res = rec.get("results") or {}
    if any(res.get(k) is None for k in ("LUT", "FF", "DSP")):
        raise Unsupported("LUT/FF/DSP missing")
    layers = record_layers(rec)
    target = {"lut": float(res["LUT"]), "ff": float(res["FF"]), "dsp": float(res["DSP"]),
              "bram_18k": float(res.get("BRAM_18K") or 0.0)}
    if res.get("latency_max_cycles") is not None:
        target["latency_cycles"] = float(res["latency_max_cycles"])
        first = next((L for L in layers if L.kind != "free"), None)
        if rec["io_type"] == "io_stream" and first is not None and target["latency_cycles"] < first.n_steps:
            # an io_stream layer takes its frame a pixel per cycle at most (DNNonSilicon's 34 x 34 x 3 CNN at 4
            # cycles, 6,495 LUT for 152 DSPs: a top whose layers HLS removed, not this network)
            raise Unsupported("io_stream latency shorter than the first layer's pixels: not a report of this network")
    if res.get("ii_max") is not None:
        target["ii"] = float(res["ii_max"])
    return Record(rec["id"], family(rec), rec["source_group"], f"{rec.get('tool')} {rec.get('tool_version')}",
                  rec.get("hls_part") or rec.get("part") or "", float(rec.get("clock_period_ns") or 5.0),
                  rec["io_type"], layers, target, (rec.get("source") or {}).get("repo", ""), per_layer(rec, layers))


def per_layer(rec: dict, layers: list[LayerIR]) -> dict[str, dict[str, float]]:
    """The csynth instance table's row of each layer (matched by the corpus through hls4ml's config-struct
    name): layer name -> {lut, ff, dsp, bram_18k, latency_cycles}."""
    names = {L.name for L in layers}
    out = {}
    for row in rec.get("per_layer_results") or []:
        if row.get("layer") in names and row.get("LUT") is not None:
            out[row["layer"]] = {"lut": float(row["LUT"]), "ff": float(row["FF"]), "dsp": float(row["DSP"]),
                                 "bram_18k": float(row.get("BRAM_18K") or 0),
                                 "latency_cycles": float(row.get("latency_max") or 0)}
    return out


def load_records(path: str | Path, kinds: tuple[str, ...] = CSYNTH_KINDS) -> tuple[list[Record], dict[str, int]]:
    """Usable records and a count of skip reasons."""
    good, skipped = [], {}
    for rec in read_jsonl(path):
        try:
            good.append(to_record(rec, kinds))
        except Unsupported as exc:
            reason = str(exc)
            skipped[reason] = skipped.get(reason, 0) + 1
    return good, skipped


@dataclass
class SynthPair:
    """One hls4ml project with both reports: its HLS C-synthesis and its Vivado post-synthesis numbers."""
    repo: str
    project: str
    csynth: dict[str, float]
    synth: dict[str, float]


REPORT_KEYS = {"lut": "LUT", "ff": "FF", "dsp": "DSP", "bram_18k": "BRAM_18K"}  # resource -> corpus results key


def _totals(results: dict) -> dict[str, float]:
    return {k: float(results[key]) for k, key in REPORT_KEYS.items() if results.get(key) is not None}


def synth_pairs(path: str | Path) -> list[SynthPair]:
    """vivado_synth records matched to the one hls_csynth record of the same project (same repository and
    commit, the csynth report under the folder of the synth report). The 2019 reuse-factor exploration is
    left out: its folders hold many csynth reports, so the match is ambiguous."""
    recs = read_jsonl(path)
    csynth = [r for r in recs if r.get("kind") == "hls_csynth"]
    out = []
    for v in recs:
        if v.get("kind") not in SYNTH_KINDS or v.get("source_group") == "hls4ml_rf_exploration_2019":
            continue
        folder = str(Path(v["source"]["paths"][-1]).parent)
        same = [c for c in csynth if c["source"]["repo"] == v["source"]["repo"]
                and c["source"].get("commit") == v["source"].get("commit")]
        match = [c for c in same if set(c["source"]["paths"]) & set(v["source"]["paths"])] or \
            [c for c in same if any(p.startswith(folder + "/") or str(Path(p).parent) == folder
                                    for p in c["source"]["paths"])]
        if len(match) != 1:
            continue
        out.append(SynthPair(v["source"]["repo"], folder, _totals(match[0]["results"]), _totals(v["results"])))
    return out
