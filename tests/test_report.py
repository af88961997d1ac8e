"""A design's run report: the hardware estimate, and what other commands left beside it, kept across rewrites."""

import json

from codesign.report import refresh_report

RESULTS = {
    "design": "d", "task": "classification", "target": {"part": "xc7z020-clg400-1", "clock_ns": 5.0,
                                                        "io_type": "io_parallel", "strategy": "Latency",
                                                        "reuse_factor": 1},
    "accuracy": {"float": 0.9, "qat": 0.91, "csim": 0.91},
    "validation": {"n_samples": 10, "bit_exact_fraction": 1.0, "testbench_bit_exact_fraction": 1.0,
                   "softmax_argmax_agreement": 1.0, "max_abs_diff": 0.0, "first_mismatch_layer": None,
                   "input_precision": "ufixed<5,1>", "outputs_compared": "logits", "layers": []},
    "timings_s": {"train_s": 1.0},
    "estimate": {"part": "xc7z020-clg400-1", "level": "synth",
                 "layers": [{"name": "fc1", "class": "Dense", "template": "dense_latency", "lut": 1200.4, "ff": 300,
                             "dsp": 2, "bram_18k": 0, "latency_cycles": 3, "ii": 1}],
                 "total": {"lut": 1200.4, "ff": 300, "dsp": 2, "bram_18k": 0, "latency_cycles": 3, "ii": 1},
                 "utilization": {"lut": 0.0226, "ff": 0.0028, "dsp": 0.0091, "bram_18k": 0.0},
                 "interval": {"lut": [800, 2100], "ff": [150, 700], "dsp": [2, 2], "latency_cycles": [2, 6]}},
}


def test_report_shows_the_hardware_and_keeps_every_commands_section(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps(RESULTS))
    html = refresh_report(tmp_path)
    text = (tmp_path / "report.md").read_text()
    assert "| **total** | | | **1,200** | **300** | **2** | **0** | **3** | **1** |" in text
    assert "| p10 - p90 | | | 800 - 2,100 | 150 - 700 | 2 - 2 |  | 2 - 6 |  |" in text
    assert "Utilisation of the part: LUT 2.26%, FF 0.28%, DSP 0.91%, BRAM 0.00%." in text
    assert html.name == "report.html" and "Hardware estimate" in html.read_text()
    # analyze adds its section; synth and search leave their results beside the report: a later rewrite
    # (e.g. `codesign run` again) keeps all of them
    refresh_report(tmp_path, ["## Quantization error analysis", "", "fc1: 30 dB"])
    (tmp_path / "rtl").mkdir()
    (tmp_path / "rtl" / "synth.json").write_text(json.dumps({
        "architecture": "parallel", "part": "xc7z020-clg400-1", "lut": 1100, "ff": 0, "carry": 250, "dsp": 0,
        "latency_cycles": 0, "rtl_bit_exact_fraction": 1.0, "n_samples": 10}))
    (tmp_path / "search").mkdir()
    (tmp_path / "search" / "search.html").write_text("<html></html>")
    refresh_report(tmp_path)
    text = (tmp_path / "report.md").read_text()
    assert "parallel RTL on `xc7z020-clg400-1`: **1,100 LUT**, 0 FF, 250 CARRY" in text
    assert "- [search/search.html](search/search.html): search: the Pareto front and every trial" in text
    assert text.index("## Other results") < text.index("## Quantization error analysis")
    assert "fc1: 30 dB" in text
