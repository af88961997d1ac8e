"""`codesign calibrate`: refit the cost-model coefficients on the user's own synthesis reports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from hw_models.corpus import SYNTH_KINDS, Record, load_records, synth_pairs
from hw_models.coefficients import Coefficients
from hw_models.fit import (Variant, cross_validate, fit, predict, ratio_intervals, select_variant, synth_held_out,
                           synth_ratios, template_intervals)
from hw_models.reports import ReportError, find_reports, read_report
from hw_models.targets import DEFAULT_PART

from .errors import CodesignError
from .export import ExportOptions, convert_config

ERROR_RESOURCES = ("lut", "ff", "dsp", "bram_18k", "latency_cycles")
MIN_REPOSITORIES = 3  # below this, structure selection by held-out repositories has nothing to hold out


def project_record(project: Path) -> Record:
    """An hls4ml project folder: hls4ml_config.yml (with its KerasModel) + a csynth report."""
    from .hw_graph import graph_layers
    from .modelio import load_model

    cfg_path = project / "hls4ml_config.yml"
    if not cfg_path.is_file():
        raise CodesignError(f"{project}: no hls4ml_config.yml (not an hls4ml project folder)")
    cfg = yaml.load(cfg_path.read_text(), Loader=_ConfigLoader)
    reports = [r for r in find_reports(project) if read_report(r)[0] == "csynth"]
    if not reports:
        raise CodesignError(f"{project}: no csynth.xml or *_csynth.rpt (run C synthesis first)")
    target = read_report(reports[0])[1]
    model_file = _model_path(project, cfg)
    opts = ExportOptions(part=target.get("part") or cfg.get("Part", DEFAULT_PART),
                         clock_ns=float(cfg.get("ClockPeriod", 5.0)), io_type=cfg.get("IOType", "io_parallel"),
                         backend=cfg.get("Backend", "Vitis"))
    import tempfile

    keras_model = load_model(model_file)
    with tempfile.TemporaryDirectory(prefix="codesign_calibrate_") as tmp:
        layers = graph_layers(convert_config(keras_model, cfg.get("HLSConfig"), opts, Path(tmp)))
    target = {k: v for k, v in target.items() if k in ERROR_RESOURCES or k == "ii"}
    return Record(str(project), str(project), "user", str(reports[0]), opts.part, opts.clock_ns, opts.io_type,
                  layers, target)


class _ConfigLoader(yaml.SafeLoader):
    """hls4ml writes `KerasModel: !keras_model 'path'`; read the tag as the path string."""


_ConfigLoader.add_constructor("!keras_model", lambda loader, node: loader.construct_scalar(node))


def _model_path(project: Path, cfg: dict) -> Path:
    name = cfg.get("KerasModel") or cfg.get("KerasH5")
    candidates = [Path(str(name)), project / Path(str(name)).name, project / "keras_model.h5"] if name else \
        [project / "keras_model.h5"]
    for c in candidates:
        if c.is_file():
            return c
    raise CodesignError(f"{project}: the Keras model named in hls4ml_config.yml ({name}) was not found; "
                        f"copy it into the project folder")


def gather(paths: list[Path]) -> tuple[list[Record], dict[str, int]]:
    records, skipped = [], {}
    for p in paths:
        if not p.exists():
            raise CodesignError(f"{p}: not found")
        if p.suffix == ".jsonl":
            good, skip = load_records(p)
            records += good
            for k, v in skip.items():
                skipped[k] = skipped.get(k, 0) + v
        elif p.is_dir():
            try:
                records.append(project_record(p))
            except (CodesignError, ReportError) as exc:
                skipped[str(exc)] = skipped.get(str(exc), 0) + 1
        else:
            raise CodesignError(f"{p}: expected a calibration .jsonl or an hls4ml project folder")
    return records, skipped


def error_table(records: list[Record], pred: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Median / 90th-percentile absolute percentage error per resource (zero targets counted as 1)."""
    table = {}
    for res in ERROR_RESOURCES:
        idx = [i for i, r in enumerate(records) if res in r.target]
        if not idx:
            continue
        y = np.array([records[i].target[res] for i in idx])
        ape = np.abs(pred[res][idx] - y) / np.maximum(y, 1.0) * 100
        table[res] = {"n": len(idx), "median_ape": float(np.median(ape)), "p90_ape": float(np.percentile(ape, 90))}
    return table


def synth_level(paths: list[Path], records: list[Record], variant: Variant) -> dict:
    """Post-synthesis ratios from the projects of the .jsonl corpora with both a C-synthesis and a Vivado
    synthesis report, and the interval of the synth-level estimate on the post-synthesis records, each
    predicted by a fit and ratios that never saw its repository."""
    pairs, synth_records = [], []
    for p in paths:
        if p.suffix == ".jsonl":
            pairs += synth_pairs(p)
            synth_records += load_records(p, SYNTH_KINDS)[0]
    if not pairs:
        return {"ratio": {}, "intervals": {}, "pairs": 0, "records": 0}
    intervals = {}
    if len({r.repo for r in synth_records}) >= MIN_REPOSITORIES:
        intervals = ratio_intervals(synth_records, synth_held_out(records, synth_records, pairs, variant))
    return {"ratio": synth_ratios(pairs), "intervals": intervals, "pairs": len(pairs), "records": len(synth_records)}


def calibrate(paths: list[Path], current: Coefficients, folds: int = 5) -> dict:
    records, skipped = gather(paths)
    if len(records) < 3:
        raise CodesignError(f"only {len(records)} usable record(s); calibration needs at least 3 "
                            f"(skipped: {skipped or 'none'})")
    before = error_table(records, predict(records, current))
    variant, held_out, how = Variant(), None, None
    if len({r.repo for r in records}) >= MIN_REPOSITORIES:  # structure chosen on repositories held out
        variant, _, held_out = select_variant(records)
        how = "leave one repository out"
    elif len({r.group for r in records}) >= folds:
        held_out, how = cross_validate(records, folds), f"grouped {folds}-fold"
    refit = fit(records, note="codesign calibrate " + " ".join(str(p) for p in paths), variant=variant)
    if held_out is not None:
        refit.intervals = ratio_intervals(records, held_out)
        refit.template_intervals = template_intervals(records, held_out, refit)
    synth = synth_level(paths, records, variant)
    refit.synth_ratio, refit.synth_intervals = synth["ratio"], synth["intervals"]
    after = error_table(records, predict(records, refit))
    return {"records": len(records), "skipped": skipped, "before": before, "after_in_sample": after,
            "after_cross_validated": error_table(records, held_out) if held_out is not None else None,
            "cross_validation": how, "variant": variant.label(), "coefficients": refit}
