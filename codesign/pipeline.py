"""`codesign run DESIGN`: train float + QAT, export through hls4ml, C-simulate, prove bit-exact, report."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .atomic import atomic_dir
from .builders import build_model
from .data import load_split
from .design import Design, load_design
from .report import write_report
from .train import accuracy, fit, seed_everything, transfer_weights
from .validate import verify


def train_design(design: Design, progress=None, epochs: int | None = None, split=None):
    """Returns (split, float_model, qat_model, accuracies, seconds); trains on `split` when given."""
    seed_everything(design.training.seed)
    if split is None:
        split = load_split(design.dataset, design.builder == "cnn", design.test_fraction, design.training.seed)
    shape = split.x_train.shape[1:]
    start = time.perf_counter()
    float_model = fit(build_model(design, shape, split.n_classes, quantized=False), split, design.training,
                      "float baseline", progress, epochs)
    qat = build_model(design, shape, split.n_classes, quantized=True)
    transfer_weights(float_model, qat)
    qat = fit(qat, split, design.training, "QAT (QKeras)", progress, epochs)
    acc = {"float": accuracy(float_model, split.x_test, split.y_test), "qat": accuracy(qat, split.x_test, split.y_test)}
    return split, float_model, qat, acc, time.perf_counter() - start


def run_design(path: str | Path, out_root: str | Path = "reports", epochs: int | None = None, progress=None,
               log=print) -> dict:
    design = load_design(path)
    split, _, qat, acc, train_s = train_design(design, progress, epochs)
    log(f"accuracy: float {acc['float']:.4f}, QAT {acc['qat']:.4f}")
    final = Path(out_root) / design.name
    with atomic_dir(final) as tmp:
        result, _ = verify(qat, split.x_test, design.export, tmp / "hls_project", name=design.name,
                           input_spec=split.input_spec, progress=lambda m: log(f"- {m}"))
        acc["csim"] = float(np.mean(result.csim_labels == split.y_test))
        results = {
            "design": design.name,
            "design_file": str(design.path),
            "dataset": {"name": design.dataset, "n_train": len(split.x_train), "n_test": len(split.x_test)},
            "target": asdict(design.export),
            "accuracy": acc,
            "validation": result.to_json(),
            "timings_s": {"train_s": round(train_s, 1), **result.timings_s},
        }
        qat.save(tmp / "model_qat.h5")
        np.save(tmp / "test_inputs.npy", split.x_test)
        write_report(tmp, results)
    log(f"report: {final / 'report.md'}")
    return results
