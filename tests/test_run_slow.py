"""`codesign run` on the shipped digits design (few epochs): files, numbers, bit-exactness."""

import json

import pytest

from codesign.pipeline import run_design

pytestmark = pytest.mark.slow


def test_run_digits_design(tmp_path):
    results = run_design("designs/digits_mlp.yaml", tmp_path, epochs=3, log=lambda m: None)
    folder = tmp_path / "digits_mlp"
    assert sorted(p.name for p in folder.iterdir()) == [
        "bit_widths.png", "hls_project", "hls_project_logits", "model_qat.h5", "report.html", "report.md",
        "results.json", "test_inputs.npy"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folder left behind
    saved = json.loads((folder / "results.json").read_text())
    assert saved == json.loads(json.dumps(results))
    v = saved["validation"]
    assert v["bit_exact_fraction"] == 1.0 and v["testbench_bit_exact_fraction"] == 1.0
    assert v["n_samples"] == 360 and saved["dataset"] == {"name": "digits", "n_train": 1437, "n_test": 360}
    assert v["input_precision"] == "ufixed<5,1>"
    layers = {layer["name"]: layer for layer in v["layers"]}
    assert layers["fc1"]["weight"] == "fixed<8,1>" and layers["fc2"]["weight"] == "fixed<6,1>"
    assert layers["fc1_relu"]["result"] == "ufixed<6,2,RND_CONV,SAT>"
    # csim accuracy equals QAT accuracy up to softmax-table argmax flips
    assert abs(saved["accuracy"]["csim"] - saved["accuracy"]["qat"]) <= 1 - v["softmax_argmax_agreement"] + 1e-9
    assert (folder / "hls_project" / "firmware" / "myproject.cpp").is_file()
    report = (folder / "report.md").read_text()
    assert "| fc1 | Dense | fixed<8,1> |" in report
    # the exported design's estimated hardware, per layer and in total (what `codesign estimate` prints)
    est = saved["estimate"]
    assert est["part"] == "xcvu13p-flga2577-2-e" and [r["name"] for r in est["layers"]][:2] == ["pixels", "fc1"]
    assert f"| **total** | | | **{est['total']['lut']:,.0f}** |" in report and "Utilisation of the part: LUT" in report


def test_run_prunes_a_layer_as_the_design_file_says(tmp_path):
    """`quantization.layers.fc1.sparsity: 0.75` (hls4ml tutorial style pruning): exact zeros in the trained QKeras
    kernel and in the HLS weights, the design still bit-exact."""
    import numpy as np
    import yaml

    from codesign.modelio import load_model

    raw = yaml.safe_load(open("designs/digits_mlp.yaml"))
    raw["quantization"]["layers"]["fc1"]["sparsity"] = 0.75
    raw.pop("search")
    design = tmp_path / "pruned.yaml"
    design.write_text(yaml.safe_dump(raw))
    results = run_design(design, tmp_path, epochs=2, log=lambda m: None)
    assert results["validation"]["bit_exact_fraction"] == 1.0
    model = load_model(tmp_path / "digits_mlp" / "model_qat.h5")
    fc1 = model.get_layer("fc1")
    assert int(np.sum(fc1.kernel.numpy() == 0)) == 1536  # 0.75 x 64 x 32
    assert int(np.sum(np.asarray(fc1.kernel_quantizer_internal(fc1.kernel)) == 0)) >= 1536
    assert float(np.mean(model.get_layer("fc2").kernel.numpy() == 0)) < 0.1  # only the named layer
    hls = np.array(open(tmp_path / "digits_mlp" / "hls_project" / "firmware" / "weights" / "w2.txt").read()
                   .split(","), float)
    assert hls.size == 2048 and int(np.sum(hls == 0)) >= 1536
