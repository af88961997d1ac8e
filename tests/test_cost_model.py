"""Cost-model formulas against hand-computed cases, the reuse rule, report parsing, corpus reading."""

import json
from pathlib import Path

import numpy as np
import pytest

from hw_models import load_part
from hw_models.corpus import Unsupported, load_records, read_jsonl, to_record
from hw_models.cost import Coefficients, bram_18k, dsp, dsp_per_mult, estimate, estimate_layer
from hw_models.costmodel import CostModel
from hw_models.fixed import FixedType, mac_accum, parse_type
from hw_models.layers import LayerIR, WeightStats, csd_digits, weight_stats
from hw_models.reports import ReportError, parse_csynth_rpt, parse_csynth_xml, parse_vivado_synth, read_report
from hw_models.reuse import closest_reuse_factor, valid_reuse_factors

DATA = Path(__file__).parent / "data"
HAND = Coefficients(dsp_min_bits=10, dsp_min_sum=20, bram_min_bits=2048,
                    weights={"lut": {"const_mult": 1.0, "var_mult": 1.0, "adder": 1.0, "layer": 10.0},
                             "ff": {"out": 1.0}, "latency_cycles": {"lat_mac": 1.0, "lat_iter": 1.0}})


def dense(**kw):
    base = dict(name="fc", kind="dense", n_out=2, n_terms=4, in_bits=8, w_bits=8, acc_bits=18, res_bits=10,
                weights=WeightStats(8, n_zero=2, n_pow2=2, mean_digits=3.0))
    return LayerIR(**(base | kw))


def test_csd_digits_and_weight_stats():
    assert csd_digits(np.array([0, 1, 2, 3, 5, 7, 11, -3, 255])).tolist() == [0, 1, 1, 2, 2, 2, 3, 2, 2]
    ws = weight_stats(np.array([0.0, 0.5, -0.25, 0.75, 0.375]), frac_bits=3)  # ints 0, 4, -2, 6, 3
    assert ws == WeightStats(5, n_zero=1, n_pow2=2, mean_digits=2.0, mean_bits=3.0)  # 6 = 110b, 3 = 11b: 2 + sign
    assert ws.n_mult == 2


def test_dsp_per_mult_doubles_past_the_port():
    ports = (27, 18)  # DSP48E2
    assert [dsp_per_mult(a, b, ports) for a, b in [(16, 16), (27, 18), (18, 27), (28, 18), (30, 20), (36, 36)]] \
        == [1, 1, 1, 2, 2, 4]
    assert dsp_per_mult(26, 18, (25, 18)) == 2  # DSP48E1 25x18


def test_hand_computed_dense_layer():
    # 8 weights: 2 zero, 2 power-of-two -> 4 real multipliers of 3 CSD digits, all in LUTs (8 < 10 bits)
    r = estimate_layer(dense(), HAND, (27, 18), 5.0)
    assert r["lut"] == 4 * (3 - 1) * (8 + 8) + (8 - 2) * 18 + 10  # const_mult + adder + layer = 246
    assert (r["dsp"], r["ff"], r["ii"]) == (0.0, 2 * 10, 1.0)
    wide = dense(in_bits=16, w_bits=16)
    assert dsp(wide, HAND, (27, 18)) == 4.0
    assert dsp(wide.with_(rf=2), HAND, (27, 18)) == 2.0       # hls4ml multiplier_limit = ceil(4 / 2)
    assert dsp(wide.with_(w_bits=30), HAND, (27, 18)) == 8.0  # 30 x 16 needs two DSP48E2
    assert estimate_layer(wide.with_(rf=2), HAND, (27, 18), 5.0)["ii"] == 2.0


def test_resource_strategy_bram_matches_real_report():
    # DNNonSilicon model_03 dense 32->10, RF 4, Resource, 16-bit weights: csynth reports 36 BRAM_18K
    layer = dense(n_terms=32, n_out=10, w_bits=16, rf=4, strategy="resource",
                  weights=WeightStats(320, 0, 0, 6.0))
    assert bram_18k(layer, HAND) == 36.0
    # conv 3x3x4 -> 8 filters, RF 4 (288 weights): 32 BRAM_18K reported
    assert bram_18k(layer.with_(kind="conv", n_terms=36, n_out=8, weights=WeightStats(288)), HAND) == 32.0


def test_table_activation_bram_matches_real_report():
    # hls4ml pytest baseline: Dense(1->64) + sigmoid, io_parallel: 32 BRAM_18K (1024 x 18-bit table)
    sig = LayerIR(name="s", kind="table", n_out=64, table_size=1024, table_bits=18)
    assert bram_18k(sig, HAND) == 32.0


def test_fixed_types_and_auto_accumulator():
    assert parse_type("ap_fixed<16,6,AP_RND,AP_SAT> (default)") == FixedType(16, 6, True)
    assert parse_type("ap_ufixed<7,0>") == FixedType(7, 0, False)
    assert parse_type("ap_int<8>") == FixedType(8, 8, True)
    assert parse_type("auto") is None
    assert mac_accum(FixedType(16, 6), FixedType(7, 1), 64) == FixedType(29, 13, True)


def test_reuse_factor_rule_matches_hls4ml():
    from hls4ml.backends import get_backend

    backend = get_backend("Vitis")
    for n_in, n_out in [(16, 10), (64, 32), (36, 8), (7, 3)]:
        assert list(valid_reuse_factors(n_in, n_out)) == backend.get_valid_reuse_factors(n_in, n_out)
        for rf in (3, 7, 9, 50):
            want = backend.get_closest_reuse_factor(backend.get_valid_reuse_factors(n_in, n_out), rf)
            assert closest_reuse_factor(n_in, n_out, rf) == want
    assert closest_reuse_factor(16, 10, 7) == 8


def test_parse_recorded_csynth_reports():
    r = parse_csynth_rpt(DATA / "reports" / "vivado_hls_2020_myproject_csynth.rpt")
    assert {k: r[k] for k in ("lut", "ff", "dsp", "bram_18k", "latency_cycles", "ii")} == \
        {"lut": 2532, "ff": 7969, "dsp": 73, "bram_18k": 0, "latency_cycles": 10, "ii": 8}
    assert (r["part"], r["clock_target_ns"], r["clock_estimated_ns"]) == ("xc7z020-clg400-1", 5.0, 4.049)
    v = parse_csynth_rpt(DATA / "reports" / "vitis_2024_myproject_csynth.rpt")
    assert (v["lut"], v["ff"], v["dsp"], v["bram_18k"], v["latency_cycles"], v["ii"]) == (17966, 7123, 467, 29, 395, 390)


def test_parse_recorded_vivado_synth_reports():
    s7 = parse_vivado_synth(DATA / "reports" / "series7_vivado_synth.rpt")  # 'Slice LUTs' (7-series)
    assert (s7["lut"], s7["ff"], s7["dsp"], s7["bram_18k"]) == (1526, 2428, 66, 0)
    us = parse_vivado_synth(DATA / "reports" / "ultrascale_vivado_synth.rpt")  # 'CLB LUTs' (UltraScale+)
    assert (us["lut"], us["ff"], us["dsp"], us["bram_18k"]) == (14056, 4329, 565, 12)  # 6 tiles = 12 x 18K
    assert read_report(DATA / "reports" / "series7_vivado_synth.rpt")[0] == "synth"


def test_parse_csynth_xml(tmp_path):
    xml = tmp_path / "csynth.xml"
    xml.write_text("<profile><UserAssignments><Part>xcvu13p-flga2577-2-e</Part></UserAssignments>"
                   "<PerformanceEstimates><SummaryOfOverallLatency><Best-caseLatency>9</Best-caseLatency>"
                   "<Worst-caseLatency>11</Worst-caseLatency><Interval-min>1</Interval-min><Interval-max>1"
                   "</Interval-max></SummaryOfOverallLatency></PerformanceEstimates><AreaEstimates><Resources>"
                   "<BRAM_18K>2</BRAM_18K><DSP>12</DSP><FF>3456</FF><LUT>12345</LUT><URAM>0</URAM></Resources>"
                   "</AreaEstimates></profile>")
    assert parse_csynth_xml(xml) == {"lut": 12345, "ff": 3456, "dsp": 12, "bram_18k": 2, "uram": 0,
                                     "latency_cycles": 11, "ii": 1, "part": "xcvu13p-flga2577-2-e"}


def test_bad_report_names_the_file(tmp_path):
    bad = tmp_path / "myproject_csynth.rpt"
    bad.write_text("nothing here")
    with pytest.raises(ReportError, match="myproject_csynth.rpt: no 'Utilization Estimates' section"):
        parse_csynth_rpt(bad)
    with pytest.raises(ReportError, match="unknown report"):
        read_report(tmp_path / "notes.txt")


def test_corpus_record_to_layers():
    recs = {r["id"]: r for r in read_jsonl(DATA / "corpus_subset.jsonl")}
    rec = to_record(recs["hls4ml-test_report__hls_csynth__8354501d"])
    fc, relu = rec.layers
    assert (fc.kind, fc.n_terms, fc.n_out, fc.w_bits, fc.in_bits, fc.acc_bits, fc.io_type) == \
        ("dense", 16, 5, 16, 16, 16, "io_stream")
    assert (relu.kind, relu.n_out) == ("relu", 5)
    assert rec.target == {"lut": 2532, "ff": 7969, "dsp": 73, "bram_18k": 0, "latency_cycles": 10, "ii": 8}
    b7 = to_record(recs["nairods-bitnet__20-epochs__qg_vs_wzt__qkeras_b7_64_32_32__seed42"])
    assert [L.acc_bits for L in b7.layers if L.kind == "dense"] == [27, 20, 19, 19]  # hls4ml 'auto' widths
    with pytest.raises(Unsupported, match="only HLS C-synthesis"):
        to_record({"kind": "vivado_synth", "source_group": "committed_reports"})
    good, skipped = load_records(DATA / "corpus_subset.jsonl")
    assert len(good) + sum(skipped.values()) == len(recs)


def test_shipped_coefficients_and_estimate_totals():
    c = Coefficients.load()
    assert c.meta["records"] > 100 and "features" in c.meta
    part = load_part("xcvu13p-flga2577-2-e")
    layers = [dense(name="a", in_bits=16, w_bits=16), LayerIR(name="r", kind="relu", n_out=2, res_bits=8)]
    est = estimate(layers, part, 5.0, c)
    for k in ("lut", "ff", "dsp", "bram_18k", "latency_cycles"):
        assert est.total[k] == pytest.approx(sum(row[k] for row in est.layers), abs=0.2)
    assert est.utilization["dsp"] == pytest.approx(est.total["dsp"] / part.dsp)
    assert est.lut_equivalent == est.total["lut"] + 55 * est.total["dsp"]
    json.dumps(est.as_json())


def test_cost_model_candidates():
    rng = np.random.default_rng(0)
    w = np.round(rng.normal(0, 0.3, (16, 8)) * 64) / 64
    fc1 = LayerIR(name="fc1", kind="dense", n_out=8, n_terms=16, in_bits=8, w_bits=7, acc_bits=20, res_bits=12,
                  weights=weight_stats(w, 6), extra={"weights": w, "w_integer": 1})
    act = LayerIR(name="act", kind="relu", n_out=8, res_bits=6)
    fc2 = LayerIR(name="fc2", kind="dense", n_out=4, n_terms=8, in_bits=6, w_bits=6, acc_bits=16, res_bits=16,
                  weights=WeightStats(32, 0, 0, 2.0))
    model = CostModel([fc1, act, fc2], load_part("xcvu13p-flga2577-2-e"), 5.0, HAND)
    resolved = model.resolve({"fc1": {"w_bits": 3}, "act": {"res_bits": 3}})
    assert resolved[0].weights == weight_stats(np.clip(np.round(w * 4) / 4, -1, 0.75), 2)
    assert resolved[2].in_bits == 3  # fc2 reads act's narrower output
    assert model.estimate({"fc1": {"w_bits": 3}}).total["lut"] < model.estimate().total["lut"]
    assert model.resolve({"fc2": {"strategy": "resource", "rf": 7}})[2].rf == 8  # snapped like hls4ml
    with pytest.raises(KeyError, match="unknown layer"):
        model.estimate({"nope": {"w_bits": 2}})
    with pytest.raises(KeyError, match="unknown knob"):
        model.estimate({"fc1": {"bits": 2}})
