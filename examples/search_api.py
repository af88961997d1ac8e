"""Step 2, from Python: search a user's model.h5 on data.npz (made by make_user_model.py) through the API.

    .venv/bin/python examples/search_api.py examples/keras_user_model [--trials 6]
    .venv/bin/python examples/search_api.py examples/autoencoder_user_model --task autoencoder
"""
import argparse
from pathlib import Path

import codesign

ap = argparse.ArgumentParser()
ap.add_argument("dir", type=Path)  # where model.h5 and data.npz are
ap.add_argument("--task", default="classification", choices=["classification", "regression", "autoencoder"])
ap.add_argument("--trials", type=int, default=6)
args = ap.parse_args()

study = codesign.search(args.dir / "model.h5", args.dir / "data.npz", codesign.Target(io_type="io_parallel"),
                        task=args.task, budget="lut=0.05", trials=args.trials, finetune_epochs=1, bits=6,
                        out=args.dir / "out_api")
best = study.best
print(f"best {best['params']}: test {best['test_metrics_csim']} (C simulation), "
      f"bit-exact {best['validation']['bit_exact_fraction']}, LUT-eq {best['estimate_lut_equivalent']:,.0f}")
print(f"Pareto front (validation {study.metric}, LUT-eq):", study.front_points())
print(f"HLS project: {study.project}\nreport: {study.report.with_suffix('.html')}")
