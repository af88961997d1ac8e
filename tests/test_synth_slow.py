"""`codesign synth` end to end: da4ml RTL, Yosys synthesis, Verilator simulation equal to QKeras bit for bit."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from . import models, zoo

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not (shutil.which("yosys") and shutil.which("verilator")),
                                                   reason="yosys/verilator not installed (make setup installs them)")]
CLI = [sys.executable, "-m", "codesign.cli"]
KEYS = {"model": str, "part": str, "family": str, "lut": int, "ff": int, "carry": int, "dsp": int,
        "latency_cycles": int, "yosys_seconds": float, "rtl_dir": str, "top": str, "n_samples": int,
        "rtl_bit_exact_fraction": float, "input_precision": str, "inputs_changed": int}


def _synth(tmp_path, model, x, *args):
    model.save(tmp_path / "m.h5")
    np.save(tmp_path / "x.npy", x)
    run = subprocess.run(CLI + ["synth", str(tmp_path / "m.h5"), "--inputs", str(tmp_path / "x.npy"), "--out",
                                str(tmp_path / "rtl"), "--json", str(tmp_path / "synth.json"), *args],
                         capture_output=True, text=True)
    payload = json.loads((tmp_path / "synth.json").read_text()) if run.returncode in (0, 1) else None
    return run, payload


def test_mlp_combinational_is_bit_exact_with_exact_json(tmp_path):
    run, payload = _synth(tmp_path, models.mlp(), models.inputs((16,), n=300))
    assert run.returncode == 0, run.stderr[-2000:]
    assert {k: type(v) for k, v in payload.items()} == KEYS
    assert payload["rtl_bit_exact_fraction"] == 1.0 and payload["n_samples"] == 375
    assert (payload["ff"], payload["latency_cycles"], payload["dsp"], payload["family"]) == (0, 0, 0, "xcup")
    full = json.loads((tmp_path / "rtl" / "synth.json").read_text())
    # da4ml's own cost model was within 4% of Yosys on two MLPs (issue 12); allow 15% here
    assert abs(payload["lut"] - full["da4ml_lut_estimate"]) < 0.15 * payload["lut"]
    assert (tmp_path / "rtl" / "src" / "m.v").is_file() and (tmp_path / "rtl" / "yosys.log").is_file()
    assert "LUT" in run.stderr and "bit-exact on 375 samples" in run.stderr


def test_default_relative_out_folder_as_the_readme_writes_it(tmp_path):
    """`codesign synth MODEL.h5 --inputs X.npy` from the folder the files are in: the RTL goes to the relative
    reports/<name>/rtl, where Yosys (run inside the RTL folder) once could not find the relative sources."""
    models.mlp().save(tmp_path / "m.h5")
    np.save(tmp_path / "x.npy", models.inputs((16,), n=40))
    run = subprocess.run(CLI + ["synth", "m.h5", "--inputs", "x.npy"], capture_output=True, text=True, cwd=tmp_path,
                         env=dict(os.environ, PYTHONPATH=os.getcwd()))
    assert run.returncode == 0, run.stderr[-2000:]
    payload = json.loads((tmp_path / "reports" / "m" / "rtl" / "synth.json").read_text())
    assert payload["rtl_bit_exact_fraction"] == 1.0 and payload["rtl_dir"] == "reports/m/rtl"


def test_pipelined_on_a_7_series_part(tmp_path):
    run, payload = _synth(tmp_path, models.mlp(act="tanh"), models.inputs((16,), n=100), "--pipeline", "4",
                          "--part", "xc7z020-clg400-1")
    assert run.returncode == 0, run.stderr[-2000:]
    assert payload["family"] == "xc7" and payload["rtl_bit_exact_fraction"] == 1.0
    assert payload["latency_cycles"] >= 3 and payload["ff"] > 100
    assert "CARRY4" in json.loads((tmp_path / "rtl" / "synth.json").read_text())["cells"]


@pytest.mark.parametrize("case", ["binary_ternary", "conv1d_separable", "folded_batchnorm", "composite_activations",
                                  "bn_chain"])
def test_zoo_rtl_simulation_is_bit_exact(tmp_path, case):
    model = getattr(zoo, case)()
    run, payload = _synth(tmp_path, model, zoo.inputs(model.input_shape[1:], n=60, signed=True))
    assert run.returncode == 0, run.stderr[-2000:]
    assert payload["rtl_bit_exact_fraction"] == 1.0 and payload["lut"] > 0


def test_missing_tools_exit_2_with_the_install_line(tmp_path):
    model = models.mlp()
    model.save(tmp_path / "m.h5")
    np.save(tmp_path / "x.npy", models.inputs((16,), n=10))
    env = dict(os.environ, PATH=os.path.dirname(sys.executable))
    run = subprocess.run(CLI + ["synth", str(tmp_path / "m.h5"), "--inputs", str(tmp_path / "x.npy"), "--out",
                                str(tmp_path / "rtl")], capture_output=True, text=True, env=env)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines()[-1].endswith("not found on PATH: install them with "
                                                        "`apt-get install -y yosys verilator` "
                                                        "(Debian/Ubuntu; `make setup` does it)")
    assert not (tmp_path / "rtl").exists()


def test_bad_input_exit_2(tmp_path):
    model = models.mlp()
    model.save(tmp_path / "m.h5")
    run = subprocess.run(CLI + ["synth", str(tmp_path / "m.h5")], capture_output=True, text=True)
    assert run.returncode == 2 and "--inputs is required for a model file" in run.stderr
    np.save(tmp_path / "x.npy", np.zeros((4, 7)))
    run = subprocess.run(CLI + ["synth", str(tmp_path / "m.h5"), "--inputs", str(tmp_path / "x.npy"), "--out",
                                str(tmp_path / "rtl")], capture_output=True, text=True)
    assert run.returncode == 2 and f"{tmp_path / 'x.npy'}: shape (4, 7); the model takes (samples, 16)" in run.stderr
    assert not (tmp_path / "rtl").exists()


def test_python_api_synth(tmp_path):
    import codesign

    result = codesign.synth(models.mlp(act="bits"), models.inputs((16,), n=40), tmp_path / "rtl",
                            part="xc7z020-clg400-1")
    assert result.rtl_bit_exact_fraction == 1.0 and result.family == "xc7" and result.lut > 1000
    assert set(result.public()) == set(KEYS) and (tmp_path / "rtl" / "src").is_dir()


def test_shared_jet_tagger_rtl_is_bit_exact(tmp_path, jet_files):
    """The third-party QKeras jet tagger (16-64-32-32-5): RTL equal to QKeras on 300 standardized inputs."""
    arch, weights = jet_files
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(0, 1, (300, 16)).astype(np.float32))
    run = subprocess.run(CLI + ["synth", arch, "--weights", weights, "--inputs", str(tmp_path / "x.npy"), "--out",
                                str(tmp_path / "rtl"), "--json", str(tmp_path / "synth.json")],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    payload = json.loads((tmp_path / "synth.json").read_text())
    assert payload["rtl_bit_exact_fraction"] == 1.0 and payload["n_samples"] == 300
    assert 25_000 < payload["lut"] < 36_000  # 30,445 with Yosys 0.23 (README); da4ml estimates 32,454


def test_stream_architecture_is_bit_exact_and_smaller_than_parallel(tmp_path):
    """io_stream's RTL: one kernel per layer, Verilator-simulated over every window; it costs a fraction of the
    fully parallel network, which unrolls the convolution over all 36 output pixels."""
    model, x = models.cnn(), models.inputs((8, 8, 1), n=80)
    run, stream = _synth(tmp_path, model, x, "--architecture", "stream")
    assert run.returncode == 0, run.stderr[-2000:]
    full = json.loads((tmp_path / "rtl" / "synth.json").read_text())
    assert stream["rtl_bit_exact_fraction"] == 1.0 and full["architecture"] == "stream"
    assert [(k["layers"], k["calls_per_sample"]) for k in full["kernels"]] == [
        (["conv1", "relu1"], 36), (["pool1"], 9), (["out"], 1)]
    assert stream["lut"] == sum(k["lut"] for k in full["kernels"])
    assert stream["latency_cycles"] == 64  # combinational kernels: one 8x8 frame at a pixel per cycle
    for kernel in full["kernels"]:
        assert (tmp_path / "rtl" / kernel["layers"][0] / "src" / f"m_{kernel['layers'][0]}.v").is_file()
    assert "kernel conv1 + relu1 (x36 per sample)" in run.stderr

    parallel_dir = tmp_path / "parallel"
    parallel_dir.mkdir()
    run, parallel = _synth(parallel_dir, model, x)
    assert run.returncode == 0 and parallel["rtl_bit_exact_fraction"] == 1.0
    assert stream["lut"] < 0.6 * parallel["lut"]


def test_shipped_io_stream_design_is_streamed_and_bit_exact(tmp_path):
    """designs/mnist_cnn.yaml (io_stream, 28x28 MNIST): its fully parallel RTL (~691k LUT) is beyond Yosys
    here, so `synth` builds it as io_stream does by default, and proves it on the design's test digits."""
    run = subprocess.run(CLI + ["synth", "designs/mnist_cnn.yaml", "--reports", str(tmp_path), "--n-samples", "200",
                                "--json", str(tmp_path / "synth.json")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    payload = json.loads((tmp_path / "synth.json").read_text())
    assert payload["rtl_bit_exact_fraction"] == 1.0 and payload["n_samples"] == 200
    assert payload["latency_cycles"] >= 28 * 28 and 5_000 < payload["lut"] < 100_000
    full = json.loads((tmp_path / "mnist_cnn" / "rtl" / "synth.json").read_text())
    assert full["architecture"] == "stream" and len(full["kernels"]) == 6


def test_unknown_architecture_exit_2(tmp_path):
    run, _ = _synth(tmp_path, models.mlp(), models.inputs((16,), n=10), "--architecture", "systolic")
    assert run.returncode == 2
    assert run.stderr.strip().splitlines()[-1] == "error: --architecture 'systolic'; allowed: parallel, stream"
    assert not (tmp_path / "rtl").exists()


def test_hgq_proxy_synthesized_and_proven(tmp_path):
    """`codesign synth` of an HGQ proxy .h5: Verilator equals the proxy bit for bit; Yosys measures it."""
    pytest.importorskip("HGQ")
    proxy, x = models.hgq_proxy()
    run, payload = _synth(tmp_path, proxy, x[:200])
    assert run.returncode == 0, run.stderr[-2000:]
    assert payload["rtl_bit_exact_fraction"] == 1.0 and payload["n_samples"] == 200 and payload["lut"] > 100
    assert "RTL vs the HGQ proxy" in run.stderr and "measured by Yosys only" in run.stderr


def test_hgq_cnn_proxy_streamed_and_proven(tmp_path):
    """An HGQ CNN trained for io_stream, built one kernel per layer: Verilator equals the proxy on every window;
    the stream needs fewer LUTs than the same proxy unrolled over every pixel."""
    pytest.importorskip("HGQ")
    proxy, x = models.hgq_proxy(conv=True, stream=True)
    (tmp_path / "s").mkdir()
    (tmp_path / "p").mkdir()
    run, streamed = _synth(tmp_path / "s", proxy, x[:100], "--architecture", "stream")
    assert run.returncode == 0, run.stderr[-2000:]
    assert streamed["rtl_bit_exact_fraction"] == 1.0 and streamed["latency_cycles"] >= 64
    full = json.loads((tmp_path / "s" / "rtl" / "synth.json").read_text())
    assert full["architecture"] == "stream" and [k["calls_per_sample"] for k in full["kernels"]] == [36, 9, 1]
    run, parallel = _synth(tmp_path / "p", proxy, x[:100])
    assert run.returncode == 0 and parallel["rtl_bit_exact_fraction"] == 1.0
    assert streamed["lut"] < parallel["lut"]


def test_sigterm_leaves_no_temp_folder(tmp_path):
    """SIGTERM (timeout, kill, Slurm, docker stop) unwinds like Ctrl-C: exit 143, no hidden .rtl.tmp-* left."""
    import signal
    import time

    model = zoo.bn_chain()
    model.save(tmp_path / "m.h5")
    np.save(tmp_path / "x.npy", zoo.inputs(model.input_shape[1:], n=40, signed=True))
    proc = subprocess.Popen(CLI + ["synth", str(tmp_path / "m.h5"), "--inputs", str(tmp_path / "x.npy"), "--out",
                                   str(tmp_path / "rtl")], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while time.time() < deadline and not list(tmp_path.glob(".rtl.tmp-*/*")) and proc.poll() is None:
        time.sleep(0.2)  # Yosys is running inside the temp folder
    assert proc.poll() is None, "synth ended before it could be interrupted"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 128 + signal.SIGTERM
    assert not list(tmp_path.glob(".rtl.tmp-*")) and not (tmp_path / "rtl").exists()
