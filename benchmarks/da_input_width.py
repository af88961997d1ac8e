"""What the input's precision costs in an MNIST MLP's first layer, as da4ml builds it.

    .venv/bin/python benchmarks/da_input_width.py

One 784x64 kernel (3-bit weights, half of them zero, seed 0), solved by `hw_models.da.solve` (the
builder `codesign synth` and the protocol's judge use) for inputs of 8, 6 and 4 bits (ufixed<b,0>: MNIST
pixels with their low bits dropped), and with the pixels that are 0 in every one of the 15,000 MNIST
digits (`mnist15k`) given no bits, as HGQ's per-input quantizer learns them. codesign's search keeps the
input at the data's 8 bits; HGQ learns a width per pixel (reports/peer_protocol.md, MNIST MLP: HGQ's picks
need 0.4-0.65x codesign's LUTs). Writes reports/da_input_width.md.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from codesign.atomic import atomic_write_text  # noqa: E402
from codesign.data import load_split  # noqa: E402
from hw_models.da import solve  # noqa: E402

REPORT = ROOT / "reports" / "da_input_width.md"


def main() -> None:
    rng = np.random.default_rng(0)
    kernel = rng.integers(-3, 4, size=(784, 64)) / 4.0  # 3-bit weights
    kernel[rng.random(kernel.shape) < 0.5] = 0.0
    split = load_split("mnist15k", image=False, test_fraction=0.2, seed=0)
    dead = np.concatenate([split.x_train, split.x_test]).max(axis=0) == 0  # 0 in all 15,000 digits
    cases = [("8 bits (the data's grid)", np.full(784, 8)), ("6 bits", np.full(784, 6)), ("4 bits", np.full(784, 4)),
             (f"8 bits, the {dead.sum()} always-zero pixels 0 bits", np.where(dead, 0, 8)),
             (f"4 bits, the {dead.sum()} always-zero pixels 0 bits", np.where(dead, 0, 4))]
    rows, base = [], None
    for label, frac in cases:
        start = time.perf_counter()
        cost = float(solve(kernel, np.zeros(784, int), np.zeros(784, int), frac).cost)
        base = base or cost
        rows.append(f"| {label} | {cost:,.0f} | {cost / base:.2f} | {time.perf_counter() - start:.0f} |")
        print(rows[-1], flush=True)
    atomic_write_text(REPORT, "\n".join([
        "# Input precision and the cost of an MNIST MLP's first layer (da4ml)", "", __doc__.split("\n\n")[2].strip(),
        "", "| inputs | da4ml cost (LUT) | / 8 bits | seconds |", "|---|---|---|---|", *rows, "",
        "Regenerate: `.venv/bin/python benchmarks/da_input_width.py`.", ""]))


if __name__ == "__main__":
    main()
