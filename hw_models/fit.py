"""Fit the cost-model coefficients on synthesis records; grouped k-fold cross-validation."""

from __future__ import annotations

import itertools
from datetime import date

import numpy as np
from scipy.optimize import least_squares, nnls

from .corpus import Record
from .cost import FEATURE_DOC, FITTED, Coefficients, bram_18k, dsp, dsp_per_mult, features
from .parts import DSP_PORTS

DSP_GRID = {"dsp_min_bits": range(2, 13), "dsp_min_sum": range(10, 31, 1)}
BRAM_GRID = (0, 1024, 2048, 4096, 8192)
LOSS = ("soft_l1", 0.1)  # robust loss and its scale in log units; chosen by grouped CV (fit.py docs)


def _ports(rec: Record) -> tuple[int, int]:
    """DSP ports from the record's part string (7-series: DSP48E1; Versal: DSP58; else DSP48E2)."""
    p = rec.part.lower()
    if p.startswith(("xc7", "7")):
        return DSP_PORTS["DSP48E1"]
    if p.startswith(("xcvc", "xcve", "xcvp")):
        return DSP_PORTS["DSP58"]
    return DSP_PORTS["DSP48E2"]


def record_features(rec: Record, c: Coefficients) -> dict[str, float]:
    total: dict[str, float] = {}
    for layer in rec.layers:
        for k, v in features(layer, c, rec.clock_ns).items():
            total[k] = total.get(k, 0.0) + v
    return total


def _is_latency_feature(name: str) -> bool:
    return name.startswith("lat_")


def _matrix(recs: list[Record], c: Coefficients, resource: str) -> tuple[np.ndarray, list[str]]:
    feats = [record_features(r, c) for r in recs]
    lat = resource == "latency_cycles"
    names = sorted({k for f in feats for k in f if _is_latency_feature(k) == lat})
    return np.array([[f.get(n, 0.0) for n in names] for f in feats]), names


def analytic_totals(rec: Record, c: Coefficients) -> dict[str, float]:
    ports = _ports(rec)
    return {"dsp": sum(dsp(L, c, ports) for L in rec.layers), "bram_18k": sum(bram_18k(L, c) for L in rec.layers)}


def _log_err(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.abs(np.log1p(pred) - np.log1p(y))))


def _fit_log(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Non-negative coefficients minimising a robust (soft-L1) loss on log(1 + prediction) - log(1 + y):
    errors count relative to the size of the design, and a few odd reports cannot dominate the fit."""
    used = np.abs(X).max(axis=0) > 0
    coef = np.zeros(X.shape[1])
    X = X[:, used]
    w = 1.0 / np.maximum(y, 1.0)
    start, _ = nnls(X * w[:, None], y * w)
    scale = np.abs(X).max(axis=0)
    Xs = X / scale

    def resid(theta):
        return np.log1p(np.maximum(Xs @ theta, 0.0)) - np.log1p(y)

    sol = least_squares(resid, np.maximum(start * scale, 1e-3), bounds=(0.0, np.inf), loss=LOSS[0], f_scale=LOSS[1])
    coef[used] = sol.x / scale
    return coef


def fit(recs: list[Record], note: str = "") -> Coefficients:
    """Grid-search the DSP/BRAM thresholds, then relative-error non-negative least squares per resource."""
    y_dsp = np.array([r.target["dsp"] for r in recs])
    best = None
    for mb, ms in itertools.product(DSP_GRID["dsp_min_bits"], DSP_GRID["dsp_min_sum"]):
        c = Coefficients(dsp_min_bits=mb, dsp_min_sum=ms)
        err = _log_err(np.array([analytic_totals(r, c)["dsp"] for r in recs]), y_dsp)
        if best is None or err < best[0]:
            best = (err, mb, ms)
    c = Coefficients(dsp_min_bits=best[1], dsp_min_sum=best[2])
    y_bram = np.array([r.target["bram_18k"] for r in recs])
    c.bram_min_bits = min(BRAM_GRID, key=lambda b: _log_err(np.array(
        [analytic_totals(r, Coefficients(c.dsp_min_bits, c.dsp_min_sum, b))["bram_18k"] for r in recs]), y_bram))
    for resource in FITTED:
        sub = [r for r in recs if resource in r.target]
        X, names = _matrix(sub, c, resource)
        y = np.array([r.target[resource] for r in sub])
        coef = _fit_log(X, y)
        c.weights[resource] = {n: round(float(v), 6) for n, v in zip(names, coef)}
    c.meta = {"fitted": str(date.today()), "records": len(recs), "level": "HLS C-synthesis (csynth) estimate",
              "method": "DSP/BRAM thresholds by grid search on log error; LUT/FF/latency coefficients >= 0 by "
                        "robust (soft-L1) least squares on log(1+estimate) - log(1+report) (hw_models/fit.py)",
              "features": FEATURE_DOC, "note": note}
    return c


def predict(recs: list[Record], c: Coefficients) -> dict[str, np.ndarray]:
    out = {k: [] for k in ("lut", "ff", "dsp", "bram_18k", "latency_cycles")}
    for r in recs:
        f = record_features(r, c)
        for res in FITTED:
            out[res].append(max(0.0, sum(c.weights.get(res, {}).get(k, 0.0) * v for k, v in f.items())))
        a = analytic_totals(r, c)
        out["dsp"].append(a["dsp"])
        out["bram_18k"].append(a["bram_18k"])
    out["latency_cycles"] = np.round(out["latency_cycles"])
    return {k: np.asarray(v, dtype=float) for k, v in out.items()}


def group_folds(recs: list[Record], k: int, seed: int = 0) -> list[np.ndarray]:
    """Indices of k folds; all records of one design family fall in the same fold."""
    groups = sorted({r.group for r in recs})
    rng = np.random.default_rng(seed)
    rng.shuffle(groups)
    fold_of = {g: i % k for i, g in enumerate(groups)}
    return [np.array([i for i, r in enumerate(recs) if fold_of[r.group] == f]) for f in range(k)]


def cross_validate(recs: list[Record], k: int = 5, seed: int = 0) -> dict[str, np.ndarray]:
    """Out-of-fold predictions: every record is scored by a model fitted without its design family."""
    pred = {res: np.zeros(len(recs)) for res in ("lut", "ff", "dsp", "bram_18k", "latency_cycles")}
    for test in group_folds(recs, k, seed):
        if not len(test):
            continue
        train = [r for i, r in enumerate(recs) if i not in set(test)]
        c = fit(train)
        p = predict([recs[i] for i in test], c)
        for res in pred:
            pred[res][test] = p[res]
    return pred


__all__ = ["fit", "predict", "cross_validate", "group_folds", "dsp_per_mult"]
