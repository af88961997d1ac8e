"""Accuracy of every PTQ calibration method and correction at 8/6/4 bits, vs QAT, on the shipped designs.

    .venv/bin/python benchmarks/ptq_methods.py [--out reports/ptq_methods.md]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
logging.getLogger("tensorflow").setLevel(logging.ERROR)

from codesign.design import load_design  # noqa: E402
from codesign.pipeline import train_design  # noqa: E402
from codesign.ptq.calibration import METHODS  # noqa: E402
from codesign.ptq.quantize import PTQOptions, ptq  # noqa: E402
from codesign.train import accuracy  # noqa: E402
from codesign.validate import verify  # noqa: E402

DESIGNS = ("digits_mlp", "mnist_cnn")
CORRECTIONS = {"mse + bias correction": dict(method="mse", bias_correction=True),
               "mse + CLE": dict(method="mse", cle=True),
               "mse + CLE + bias absorption + bias correction": dict(method="mse", cle=True, absorb_bias=True,
                                                                    bias_correction=True)}
BITS = (8, 6, 4)
CALIB = 512


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("reports/ptq_methods.md"))
    args = ap.parse_args()
    root = Path(__file__).resolve().parents[1] / "designs"
    lines = ["# Post-training quantization: calibration methods and corrections", "",
             f"Float model trained as the design says; PTQ with {CALIB} calibration inputs from the training split; "
             "weights per tensor with a power-of-two range (QKeras quantized_bits, exported bit-exact), biases "
             "16 bits, ReLU outputs at the same bits as the weights with integer bits from the calibrated clip. "
             "QAT = the design's own QKeras training at its own bits (reference). Test accuracy.", ""]
    for name in DESIGNS:
        design = load_design(root / f"{name}.yaml")
        start = time.perf_counter()
        split, float_model, qat, acc, _, _ = train_design(design)
        calib = split.x_train[:CALIB]
        rows = {}
        for bits in BITS:
            for method in METHODS:
                q, _, _ = ptq(float_model, calib, PTQOptions(bits, bits, method=method))
                rows.setdefault(method, {})[bits] = accuracy(q, split.x_test, split.y_test)
            for label, kw in CORRECTIONS.items():
                q, _, _ = ptq(float_model, calib, PTQOptions(bits, bits, **kw))
                rows.setdefault(label, {})[bits] = accuracy(q, split.x_test, split.y_test)
        q, _, _ = ptq(float_model, calib, PTQOptions(6, 6, method="mse", bias_correction=True))
        with tempfile.TemporaryDirectory() as tmp:
            res, _ = verify(q, split.x_test, design.export, Path(tmp) / "prj", input_spec=split.input_spec,
                            testbench=False)
        lines += [f"## {name} (float {acc['float']:.4f}, QAT {acc['qat']:.4f})", "",
                  "| method | " + " | ".join(f"{b}-bit" for b in BITS) + " |", "|---|" + "---|" * len(BITS)]
        lines += [f"| {m} | " + " | ".join(f"{v[b]:.4f}" for b in BITS) + " |" for m, v in rows.items()]
        lines += ["", f"6-bit mse + bias correction model exported through hls4ml: bit-exact fraction "
                      f"{res.bit_exact_fraction} on {len(split.x_test)} test inputs. "
                      f"({time.perf_counter() - start:.0f} s for this design.)", ""]
        print("\n".join(lines[-(len(rows) + 6):]), flush=True)
    lines += ["## Notes", "",
              "- ap_fixed has no zero point: every range is symmetric around 0 (signed) or starts at 0 "
              "(unsigned, after ReLU). An asymmetric range [a, b] is covered by the power-of-two range that holds "
              "max(|a|, |b|); the unused part costs resolution, which is why ReLU outputs use unsigned types.",
              "- Per-channel weight scales: QKeras expresses them as alpha='auto_po2' (a power of two per channel); "
              "the bit-exact slice does not export alpha != 1, so PTQ here is per tensor.",
              "", "Regenerate: `.venv/bin/python benchmarks/ptq_methods.py`."]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(args.out)


if __name__ == "__main__":
    main()
