"""How da4ml's cost scales to real layer sizes, split into blocks as `hw_models.da.matmul` builds them.

    .venv/bin/python benchmarks/da_scaling.py [--whole] [--yosys]

Each case is a random Dense kernel (normal weights, sd 0.35 of full scale, quantized to the given bits;
8-bit unsigned inputs as MNIST pixels), solved in a fresh process on one core (NUMBA_NUM_THREADS=1) so its
time and peak memory are its own. `--whole` also solves the kernels small enough to finish unsplit, with
hls4ml's own options (what the split costs in LUTs); `--yosys` maps split builds by Yosys `synth_xilinx`
(the estimate's error where the kernel is split). Writes reports/da_scaling.md and reports/da_scaling.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hw_models.da import BLOCK_DIGITS  # noqa: E402

REPORT = ROOT / "reports" / "da_scaling.md"
TIMED = [(784, 128, 8), (784, 128, 6), (784, 128, 4), (784, 128, 3), (512, 32, 8), (256, 64, 4), (256, 32, 8),
         (128, 32, 8), (64, 32, 8)]
WHOLE = [(64, 32, 8), (128, 32, 8), (256, 32, 8), (256, 64, 4)]  # unsplit solves that finish (<= ~6 min)
YOSYS = [(64, 32, 8), (128, 32, 4), (96, 48, 6), (128, 32, 8)]


def kernel(n_in: int, n_out: int, bits: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    scale = 2.0 ** (bits - 1)
    return np.clip(np.round(rng.normal(0, 0.35, (n_in, n_out)) * scale), -scale, scale - 1) / scale


def one_case(n_in: int, n_out: int, bits: int, mode: str) -> dict:
    """Solve one kernel here; mode 'split' (hw_models.da.solve), 'whole' (hls4ml's call, no blocks) or
    'yosys' (split, then Yosys)."""
    import resource

    from da4ml.trace import FixedVariableArray, HWConfig, comb_trace

    from hw_models import da

    w = kernel(n_in, n_out, bits)
    da.solve(w[:4, :4], 0, 1, 7)  # numba compiled before the clock starts
    start = time.perf_counter()
    if mode == "whole":
        inp = FixedVariableArray.from_kif(np.zeros(n_in, int), np.ones(n_in, int), np.full(n_in, 7),
                                          HWConfig(1, -1, -1), solver_options=da.SOLVER_OPTIONS)
        sol = comb_trace(inp, inp @ w)
    else:
        sol = da.solve(w, 0, 1, 7)
    row = {"n_in": n_in, "n_out": n_out, "bits": bits, "mode": mode, "blocks": 1 if mode == "whole" else
           len(da.blocks(w)), "csd_digits": int(da.kernel_digits(w).sum()), "da4ml_cost": float(sol.cost),
           "adder_depth": float(np.max(sol.latency)), "seconds": round(time.perf_counter() - start, 1),
           "peak_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2)}
    if mode == "yosys":
        import tempfile

        from da4ml.codegen import VerilogModel

        from codesign.rtl.yosys import synthesize

        with tempfile.TemporaryDirectory(prefix="da_scaling_") as tmp:
            VerilogModel(sol, "layer", tmp, print_latency=False).write()
            mapped = synthesize(Path(tmp) / "src", "layer", "xcup", Path(tmp) / "yosys.log")
        row |= {"yosys_lut": mapped.lut, "yosys_seconds": mapped.seconds,
                "error_pct": round(100 * (sol.cost - mapped.lut) / mapped.lut, 2)}
    return row


def run_case(case: tuple[int, int, int], mode: str) -> dict:
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, __file__, "--case", *map(str, case), mode], env=env, capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def write_report(rows: list[dict]) -> None:
    split = {(r["n_in"], r["n_out"], r["bits"]): r for r in rows if r["mode"] == "split"}
    lines = ["# da4ml cost at real layer sizes (issue 22)", "",
             "`.venv/bin/python benchmarks/da_scaling.py --whole --yosys`: random Dense kernels (normal weights, "
             "sd 0.35 of full scale), 8-bit unsigned inputs, one core, each case in a fresh process. A kernel "
             f"with more than {BLOCK_DIGITS} nonzero CSD digits is split (`hw_models.da.blocks`); the RTL "
             "builder splits it the same way, so the cost is that of what `codesign synth` builds.", "",
             "## Time and memory (split as built)", "",
             "| kernel | weight bits | CSD digits | blocks | da4ml cost (LUT) | adder depth | seconds | peak GB |",
             "|---|---|---|---|---|---|---|---|"]
    for r in (r for r in rows if r["mode"] == "split"):
        lines.append(f"| {r['n_in']}x{r['n_out']} | {r['bits']} | {r['csd_digits']:,} | {r['blocks']} | "
                     f"{r['da4ml_cost']:,.0f} | {r['adder_depth']:.0f} | {r['seconds']} | {r['peak_gb']} |")
    whole = [r for r in rows if r["mode"] == "whole"]
    if whole:
        lines += ["", "## What splitting costs (against hls4ml's whole solve, where that finishes)", "",
                  "| kernel | weight bits | whole: cost, seconds, GB | split: blocks, cost, seconds | split / whole |",
                  "|---|---|---|---|---|"]
        for r in whole:
            s = split.get((r["n_in"], r["n_out"], r["bits"]))
            if s:
                lines.append(f"| {r['n_in']}x{r['n_out']} | {r['bits']} | {r['da4ml_cost']:,.0f}, {r['seconds']} s, "
                             f"{r['peak_gb']} | {s['blocks']}, {s['da4ml_cost']:,.0f}, {s['seconds']} s | "
                             f"{s['da4ml_cost'] / r['da4ml_cost']:.3f} |")
    judged = [r for r in rows if r["mode"] == "yosys"]
    if judged:
        lines += ["", "## The split build against Yosys (synth_xilinx -family xcup)", "",
                  "| kernel | weight bits | blocks | da4ml cost | Yosys LUT | error | Yosys seconds |",
                  "|---|---|---|---|---|---|---|"]
        for r in judged:
            lines.append(f"| {r['n_in']}x{r['n_out']} | {r['bits']} | {r['blocks']} | {r['da4ml_cost']:,.0f} | "
                         f"{r['yosys_lut']:,} | {r['error_pct']:+.1f}% | {r['yosys_seconds']:.0f} |")
    lines += ["", "What this does not show: trained kernels (their digit statistics differ from normal draws), "
              "Vivado's mapping, and Yosys on the largest kernels (a 784x128 8-bit layer is ~1.5 M LUT, more "
              "than any part holds; Yosys was run on split kernels up to ~60 k LUT).", ""]
    REPORT.write_text("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--whole", action="store_true", help="also solve the small kernels unsplit (minutes)")
    ap.add_argument("--yosys", action="store_true", help="also map split builds with Yosys (minutes)")
    ap.add_argument("--case", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        print(json.dumps(one_case(*map(int, args.case[:3]), args.case[3])))
        return
    cases = [(c, "split") for c in TIMED] + [(c, "whole") for c in WHOLE if args.whole] + \
        [(c, "yosys") for c in YOSYS if args.yosys]
    rows = []
    for case, mode in cases:
        row = run_case(case, mode)
        print(f"{case[0]}x{case[1]} {case[2]}-bit {mode}: cost {row['da4ml_cost']:,.0f}, {row['blocks']} block(s), "
              f"{row['seconds']} s, {row['peak_gb']} GB" + (f", Yosys {row['yosys_lut']:,} LUT ({row['error_pct']:+.1f}%)"
                                                             if mode == "yosys" else ""), flush=True)
        rows.append(row)
    (REPORT.with_suffix(".json")).write_text(json.dumps(rows, indent=1))
    write_report(rows)


if __name__ == "__main__":
    main()
