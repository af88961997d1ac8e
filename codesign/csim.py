"""C simulation as Vivado/Vitis csim does it: hls4ml's myproject_test.cpp built with plain g++."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import numpy as np

from .errors import CodesignError
from .export import require_gpp

RESULTS_LOG = "tb_data/csim_results.log"
FOUT_LINE = "std::ofstream fout(RESULTS_LOG);"


def write_tb_data(project: Path, inputs: np.ndarray, predictions: np.ndarray) -> None:
    """Inputs/reference predictions, one sample per line, printed exactly (repr round-trips)."""
    tb = project / "tb_data"
    tb.mkdir(exist_ok=True)
    for name, arr in (("tb_input_features.dat", inputs), ("tb_output_predictions.dat", predictions)):
        rows = np.asarray(arr, dtype=np.float64).reshape(len(arr), -1)
        (tb / name).write_text("\n".join(" ".join(repr(float(v)) for v in row) for row in rows) + "\n")


# ap_fixed's operator<< goes through to_string(), which rounds to the stream precision and prints 0 for
# types with more integer than total bits (e.g. ap_fixed<2,6>, a step of 16); to_double() is exact up to
# 53 bits. Only the printing of the results changes; the firmware is untouched.
EXACT_PRINT = """
template <class T> void codesign_put(std::ostream &out, const T &v) {
    if (T::width <= 53) out << v.to_double() << " "; else out << v << " ";
}
template <class res_T, size_t SIZE> void codesign_print(res_T result[SIZE], std::ostream &out) {
    for (int i = 0; i < SIZE; i++) codesign_put(out, result[i]);
    out << std::endl;
}
template <class res_T, size_t SIZE> void codesign_print(hls::stream<res_T> &result, std::ostream &out) {
    for (int i = 0; i < SIZE / res_T::size; i++) {
        res_T pack = result.read();
        for (int j = 0; j < res_T::size; j++) codesign_put(out, pack[j]);
    }
    out << std::endl;
}
"""


def patch_full_precision(project: Path) -> None:
    """Print every result exactly (see EXACT_PRINT) to the results log."""
    import re

    tb = project / "myproject_test.cpp"
    src = tb.read_text()
    if "codesign_print" in src:
        return
    if FOUT_LINE not in src or "int main(" not in src:
        raise CodesignError(f"{tb}: unexpected test bench layout (no '{FOUT_LINE}')")
    src = src.replace(FOUT_LINE, FOUT_LINE + "\n    fout.precision(80);")
    src = re.sub(r"nnet::print_result<([^>]+)>\((\w+), fout\)", r"codesign_print<\1>(\2, fout)", src)
    src = src.replace("int main(", EXACT_PRINT + "\nint main(", 1)
    tb.write_text(src)


def build_testbench(project: Path) -> float:
    require_gpp()
    cmd = ["g++", "-O2", "-std=c++14", "-Ifirmware/ap_types", "-Ifirmware", "-DWEIGHTS_DIR=\"firmware/weights\"",
           "myproject_test.cpp", "firmware/myproject.cpp", "-o", "csim_tb"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=project, capture_output=True, text=True)
    if proc.returncode != 0:
        first = next((ln for ln in proc.stderr.splitlines() if "error" in ln), proc.stderr[:200])
        raise CodesignError(f"{project}/myproject_test.cpp: g++ failed: {first.strip()}")
    return time.perf_counter() - start


def run_testbench(project: Path, n_samples: int, n_out: int) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    proc = subprocess.run(["./csim_tb"], cwd=project, capture_output=True, text=True)
    if proc.returncode != 0:
        raise CodesignError(f"{project}/csim_tb exited with {proc.returncode}: {proc.stderr.strip()[:200]}")
    lines = [ln.split() for ln in (project / RESULTS_LOG).read_text().splitlines() if ln.strip()]
    out = np.array([[float(v) for v in ln] for ln in lines], dtype=np.float64)
    if out.shape != (n_samples, n_out):
        raise CodesignError(f"{project}/{RESULTS_LOG}: expected {n_samples}x{n_out} results, got {out.shape}")
    return out, time.perf_counter() - start


def testbench_csim(project: Path, inputs: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, dict]:
    """Write tb data, build and run the generated test bench; returns outputs and timings (s)."""
    project = Path(project)
    write_tb_data(project, inputs, reference)
    patch_full_precision(project)
    build_s = build_testbench(project)
    out, run_s = run_testbench(project, len(inputs), int(np.prod(reference.shape[1:])))
    return out, {"testbench_build_s": round(build_s, 2), "testbench_run_s": round(run_s, 2)}
