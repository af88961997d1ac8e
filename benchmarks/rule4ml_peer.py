"""rule4ml 0.2.0 as a peer of codesign's cost model, on the calibration records it applies to (issue 11).

    .venv/bin/python benchmarks/rule4ml_peer.py          # makes .venv-rule4ml on first use (pip, ~3 GB, minutes)
    .venv/bin/python benchmarks/rule4ml_peer.py --reuse  # rule4ml's stored predictions, codesign's side refitted

rule4ml (IMPETUS, Université de Sherbrooke) predicts LUT/FF/DSP/BRAM/cycles of hls4ml designs from the Keras
model and one hls4ml configuration with its shipped graph networks, trained on its own generated designs; it
needs TensorFlow >= 2.15 (Keras 3), so it runs in a separate virtual environment (`.venv-rule4ml`, git-ignored)
through `rule4ml_worker.py`. It applies where its inputs can describe the design: one of its four boards
(pynq-z2 = xc7z020, zcu102 = xczu9eg, alveo-u200 = the VU9P die of xcu200/xcvu9p, alveo-u250 = the VU13P die of
xcu250/xcvu13p), Dense/Conv1D/Conv2D/Activation/BatchNormalization layers, one model precision (the record's
default; per-layer QKeras widths are not an input of rule4ml). On those records both are scored against the
HLS C-synthesis report: rule4ml as shipped (it never saw these repositories), codesign fitted as it ships (on both
corpus files) without the record's repository (leave-one-repository-out, shipped structure). The records scored
are those of the first file that rule4ml can describe (its stored predictions cover them).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from codesign.atomic import atomic_write_text  # noqa: E402
from hw_models.corpus import Unsupported, read_jsonl, to_record  # noqa: E402
from hw_models.coefficients import Coefficients  # noqa: E402
from hw_models.fit import Variant, ape, leave_one_repository_out  # noqa: E402

CORPUS = ROOT.parent / "shared" / "calibration" / "synthesis_corpus.jsonl"
MORE = CORPUS.with_name("synthesis_corpus_more.jsonl")  # fitted on, as the shipped coefficients are
VENV = ROOT / ".venv-rule4ml"
PACKAGE = "rule4ml==0.2.0"
BOARDS = {"xc7z020": "pynq-z2", "xczu9eg": "zcu102", "xcu200": "alveo-u200", "xcvu9p": "alveo-u200",
          "xcu250": "alveo-u250", "xcvu13p": "alveo-u250"}
LAYERS = {"Input", "Dense", "Conv1D", "Conv2D", "Activation", "BatchNormalization", "Dropout", "Flatten"}
VIVADO_VERSIONS = {f"{y}.{r}" for y in range(2019, 2025) for r in (1, 2)}  # what rule4ml was trained on
RESOURCES = {"lut": "LUT", "ff": "FF", "dsp": "DSP", "latency_cycles": "CYCLES"}


def setup() -> Path:
    """The rule4ml environment; made once. triton (a GPU compiler torch pulls in) crashes on import on this
    CPU-only machine and rule4ml does not use it, so it is removed."""
    python = VENV / "bin" / "python"
    if not python.is_file():
        print(f"making {VENV} with {PACKAGE} (downloads TensorFlow and torch; minutes)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", PACKAGE], check=True)
        subprocess.run([str(python), "-m", "pip", "uninstall", "-y", "-q", "triton"], check=False)
    return python


def board(part: str) -> str | None:
    p = part.lower()
    return next((b for prefix, b in BOARDS.items() if p.startswith(prefix)), None)


def applicable(raw: dict) -> str | None:
    """Why rule4ml cannot take the record, or None."""
    if board(raw.get("hls_part") or raw.get("part") or "") is None:
        return "part not one of rule4ml's boards"
    types = {L["type"] for L in raw.get("layers") or []}
    if not types <= LAYERS:
        return f"layers {sorted(types - LAYERS)}"
    if not str(raw.get("model_default_precision") or "").startswith(("ap_fixed", "fixed")):
        return "no fixed-point default precision"
    return None


def precision(text: str) -> str:
    """rule4ml reads 'ap_fixed<W, I>' only (no rounding or saturation modes, which it does not model)."""
    width, integer = re.search(r"fixed<\s*(\d+)\s*,\s*(-?\d+)", text).groups()
    return f"ap_fixed<{width}, {integer}>"


def request(raw: dict) -> dict:
    version = str(raw.get("tool_version") or "")
    hls4ml = str(raw.get("hls4ml_version") or "")
    rf = raw.get("reuse_factor") or 1
    return {"id": raw["id"], "board": board(raw.get("hls_part") or raw.get("part")),
            "strategy": "Resource" if str(raw.get("strategy") or "").lower().startswith("resource") else "Latency",
            "precision": precision(raw["model_default_precision"]),
            "reuse_factor": int(rf if isinstance(rf, int) else max(rf)),
            "hls4ml_version": "0.8.1" if hls4ml.startswith("0.") else "1.1.0",
            "vivado_version": version if version in VIVADO_VERSIONS else None, "layers": raw["layers"]}


def run_rule4ml(raw_of: dict) -> dict:
    python = setup()
    with tempfile.TemporaryDirectory(prefix="rule4ml_") as tmp:
        src, dst = Path(tmp) / "in.json", Path(tmp) / "out.json"
        src.write_text(json.dumps([request(r) for r in raw_of.values()]))
        print(f"rule4ml on {len(raw_of)} records", flush=True)
        subprocess.run([str(python), str(ROOT / "benchmarks" / "rule4ml_worker.py"), str(src), str(dst)],
                       check=True, cwd=tmp, stderr=subprocess.DEVNULL)
        return json.loads(dst.read_text())


def saved_predictions(raw_of: dict) -> dict:
    """rule4ml's predictions as the last full run stored them (its shipped networks are fixed, so they do not
    change when codesign's model does); for a codesign-only refresh without the 3 GB environment."""
    data = json.loads((ROOT / "reports" / "rule4ml_peer.json").read_text())
    theirs = {r["id"]: r["rule4ml"] for r in data["records"]} | {i: {"error": e} for i, e in data["failed"].items()}
    missing = set(raw_of) - set(theirs)
    if missing:
        raise SystemExit(f"reports/rule4ml_peer.json lacks {len(missing)} record(s); run without --reuse")
    return theirs


def main() -> None:
    recs, raw_of, skipped = [], {}, {}
    for path in (CORPUS, MORE):
        for raw in read_jsonl(path):
            try:
                rec = to_record(raw)
            except Unsupported:
                continue
            recs.append(rec)
            if path == CORPUS:
                why = applicable(raw)
                if why:
                    skipped[why] = skipped.get(why, 0) + 1
                else:
                    raw_of[rec.id] = raw
    theirs = saved_predictions(raw_of) if "--reuse" in sys.argv[1:] else run_rule4ml(raw_of)
    failed = {i: v["error"] for i, v in theirs.items() if "error" in v}
    shipped = Coefficients.load()
    ours = leave_one_repository_out(recs, Variant(**shipped.meta["variant"]))
    idx = [i for i, r in enumerate(recs) if r.id in raw_of and r.id not in failed]
    rows = []
    for res, key in RESOURCES.items():
        use = [i for i in idx if res in recs[i].target]
        y = np.array([recs[i].target[res] for i in use])
        their = np.array([theirs[recs[i].id][key] for i in use])
        our = ours[res][use]
        rows.append((res, len(use), ape(their, y), ape(our, y), their, our, y))
    repos = sorted({recs[i].repo for i in idx})
    lines = ["# rule4ml 0.2.0 against codesign's cost model (issue 11)", "", __doc__.split("\n\n", 2)[2].strip(), "",
             f"{len(idx)} records from {len(repos)} repositories ({', '.join(repos)}); "
             f"{len(failed)} more rule4ml could not take.", "",
             "| resource | records | rule4ml median / p90 APE % | codesign (LORO) median / p90 APE % | "
             "rule4ml median abs. error | codesign median abs. error |", "|---|---|---|---|---|---|"]
    for res, n, a_their, a_our, their, our, y in rows:
        lines.append(f"| {res} | {n} | {np.median(a_their):.1f} / {np.percentile(a_their, 90):.1f} | "
                     f"{np.median(a_our):.1f} / {np.percentile(a_our, 90):.1f} | "
                     f"{np.median(np.abs(their - y)):,.0f} | {np.median(np.abs(our - y)):,.0f} |")
    lat = rows[-1]
    lines += ["", f"Latency within 2 cycles of the report: rule4ml {np.mean(np.abs(lat[4] - lat[6]) <= 2):.0%}, "
              f"codesign {np.mean(np.abs(np.round(lat[5]) - lat[6]) <= 2):.0%}. DSP APE counts a report of 0 DSP as "
              "1, so a few DSPs predicted for a LUT-only design read as thousands of %: the absolute error says more."]
    lines += ["", "Per repository (median APE % LUT, rule4ml / codesign):", ""]
    lut = rows[0]
    for repo in repos:
        sel = [k for k, i in enumerate([i for i in idx if "lut" in recs[i].target]) if recs[i].repo == repo]
        lines.append(f"- {repo} ({len(sel)} records): {np.median(lut[2][sel]):.1f} / {np.median(lut[3][sel]):.1f}")
    lines += ["", "**What this does not show.** rule4ml is given one precision per model (the record's default), so "
              "QKeras designs with narrower per-layer widths are described to it as wider than they are; "
              "codesign reads every layer's widths and, where recorded, weight statistics. codesign's structure "
              "(the LORO-chosen variant) was selected on all repositories, a mild advantage the nested figures in "
              "cost_model_accuracy.md remove. The records are those both tools can describe, not a random sample of "
              "designs.", "", "Skipped records (codesign-usable but outside rule4ml): "
              + "; ".join(f"{n} {why}" for why, n in sorted(skipped.items(), key=lambda kv: -kv[1])),
              "", "Regenerate: `.venv/bin/python benchmarks/rule4ml_peer.py` (`--reuse`: rule4ml's stored predictions, "
              "codesign refitted)."]
    data = {"records": [{"id": recs[i].id, "repo": recs[i].repo, "report": recs[i].target, "rule4ml": theirs[recs[i].id],
                         "codesign_loro": {res: float(ours[res][i]) for res in RESOURCES}} for i in idx],
            "failed": failed}
    atomic_write_text(ROOT / "reports" / "rule4ml_peer.json", json.dumps(data, indent=1))
    atomic_write_text(ROOT / "reports" / "rule4ml_peer.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
