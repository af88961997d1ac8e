"""`codesign run DESIGN`: train float + QAT, export through hls4ml, C-simulate, prove bit-exact, report."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from . import prune
from .atomic import atomic_dir
from .builders import build_model
from .data import Split, load_npy_files, load_npz, load_split
from .design import Design, load_design
from .errors import CodesignError, did_you_mean
from .folders import REPORTS_ROOT, SIBLINGS, ReportLayout
from .modelio import load_model
from .quantize import quantize
from .report import write_report
from .spec import parse_hls
from .tasks import evaluate
from .train import fit, seed_everything, transfer_weights
from .validate import derive_input_spec, verify


def design_split(design: Design) -> Split:
    """The design's data: a built-in set (inputs on their grid) or the user's .npz (grid set by `qkeras_model`
    unless data.input_type names it)."""
    if design.data_file is not None:
        split = load_npz(design.data_file, design.task)
    elif design.data_arrays is not None:
        split = load_npy_files(design.data_arrays, design.task)
    else:
        return load_split(design.dataset, design.builder == "cnn", design.test_fraction, design.training.seed)
    if design.input_type:
        split.quantize_inputs(parse_hls(design.input_type))
    return split


def _check_fits(design: Design, model, split: Split) -> None:
    want, got = tuple(model.input_shape[1:]), tuple(split.x_train.shape[1:])
    if want != got:
        raise CodesignError(f"{design.model_file}: the model takes inputs of shape {want}; {design.data_source} "
                            f"x_train has {got}")
    problem = design.task.output_error(tuple(model.output_shape[1:]), split, design.data_source)
    if problem:
        raise CodesignError(f"{design.model_file}: {problem}")


def float_model(design: Design, split: Split):
    """The float model: the builder's (untrained), or the user's model file (trained, or QKeras)."""
    if design.model_file is None:
        model = build_model(design, split.x_train.shape[1:], split.n_classes, quantized=False)
    else:
        model = load_model(design.model_file, design.model_weights)
        _check_fits(design, model, split)
    _check_layer_names(design, model)
    return model


def _check_layer_names(design: Design, model) -> None:
    """quantization.layers names layers of the model (a typo must not leave a layer at the default bits)."""
    names = [layer.name for layer in model.layers]
    for name in design.layer_quant:
        if name not in names:
            raise CodesignError(f"{design.path}: quantization.layers.{name}: no such layer in the model"
                                f"{did_you_mean(name, names)}; its layers: {', '.join(names)}")


def qkeras_model(design: Design, float_net, split: Split):
    """(QKeras twin with the float weights, the design with every layer's bits resolved). A user model's
    quantization also fixes the input grid when the design does not (derived like `validate`)."""
    if design.model_file is None:
        qat = build_model(design, split.x_train.shape[1:], split.n_classes, quantized=True)
        transfer_weights(float_net, qat)
        return qat, design
    quantized = quantize(float_net, design.default_quant, design.layer_quant, x=split.x_train)
    if split.input_spec is None:
        split.quantize_inputs(derive_input_spec(split.x_train, quantized.model))
    return quantized.model, dataclasses.replace(design, layer_quant={**design.layer_quant, **quantized.layer_quant})


def train_design(design: Design, progress=None, epochs: int | None = None, split=None):
    """Returns (split, float_model, qat_model, {float, qat: the task's metric on the test split}, seconds,
    resolved design); trains on `split` when given.
    Builder designs train the float model, then QAT; a user's model is taken as trained: QAT only."""
    seed_everything(design.training.seed)
    split = split if split is not None else design_split(design)
    start = time.perf_counter()
    net = float_model(design, split)
    if design.model_file is None:
        net = fit(net, split, design.training, "float baseline", progress, epochs, design.task)
    qat, design = qkeras_model(design, net, split)
    qat = fit(qat, split, design.training, "QAT (QKeras)", progress, epochs, design.task,
              prune.layer_sparsity(design, qat))
    metric = design.task.metric
    scores = {"float": evaluate(net, split.x_test, split.y_test, design.task)[metric],
              "qat": evaluate(qat, split.x_test, split.y_test, design.task)[metric]}
    return split, net, qat, scores, time.perf_counter() - start, design


def run_design(path: str | Path, out_root: str | Path = REPORTS_ROOT, epochs: int | None = None, progress=None,
               log=print) -> dict:
    design = load_design(path)
    split, net, qat, scores, train_s, design = train_design(design, progress, epochs)
    task = design.task
    log(f"{task.metric}: float {scores['float']:.4g}, QAT {scores['qat']:.4g}")
    final = ReportLayout(out_root, design.name).design
    with atomic_dir(final, keep=SIBLINGS) as tmp:  # what search, learn, analyze and synth left stays
        result, _ = verify(qat, split.x_test, design.export, tmp / "hls_project", name=design.name,
                           input_spec=split.input_spec, progress=lambda m: log(f"- {m}"))
        measured = {"float": evaluate(net, split.x_test, split.y_test, task),
                    "qat": evaluate(qat, split.x_test, split.y_test, task),
                    "csim": task.metrics(result.csim_outputs, split.x_test, split.y_test)}
        estimate = _estimate(qat, design, split, log)
        results = {
            "design": design.name,
            "design_file": str(design.path),
            "task": task.name,
            "dataset": {"name": design.dataset, "n_train": len(split.x_train), "n_test": len(split.x_test)},
            "target": asdict(design.export),
            **{m: {k: v[m] for k, v in measured.items()} for m in measured["csim"]},  # accuracy | mse (+ roc_auc)
            "validation": result.to_json(),
            "timings_s": {"train_s": round(train_s, 1), **result.timings_s},
            **({"estimate": estimate} if estimate else {}),
        }
        qat.save(tmp / "model_qat.h5")
        np.save(tmp / "test_inputs.npy", split.x_test)
        write_report(tmp, results)
    log(f"report: {final / 'report.md'}, {final / 'report.html'}")
    return results


def _estimate(qat, design: Design, split: Split, log) -> dict | None:
    """The exported design's estimated hardware for the report (None, said, when the cost model cannot)."""
    from .estimate import estimate_model

    try:
        est, _ = estimate_model(qat, design.export, split.input_spec)
    except CodesignError as exc:
        log(f"- no hardware estimate in the report: {exc}")
        return None
    return est.as_json()
