"""Wall time and peak memory of a search as a user runs it (issue 22: a 40-trial search of the digits MLP
finishes within 15 minutes on 2 cores).

    .venv/bin/python benchmarks/search_time.py [--design designs/digits_mlp.yaml] [--trials 40]

Runs `codesign search DESIGN --trials N` in a child process (base training, the search, the export of the best
trial and its C simulation: the whole command), into a temporary report folder, and writes
reports/search_time.md: its wall time, peak memory and the trials its log shows.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codesign.atomic import atomic_write_text  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 15 * 60


def load_average() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--design", default="designs/digits_mlp.yaml")
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--out", type=Path, default=Path("reports/search_time.md"))
    args = ap.parse_args()
    codesign = Path(sys.executable).parent / "codesign"
    with tempfile.TemporaryDirectory(prefix="search_time_") as tmp:
        cmd = [str(codesign), "search", args.design, "--trials", str(args.trials), "--out", tmp]
        load_before = load_average()
        start = time.perf_counter()
        run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=os.environ | {"CI": "true"})
        seconds = time.perf_counter() - start
    if run.returncode != 0:
        sys.exit(f"search_time: `{' '.join(cmd)}` failed (exit {run.returncode}): {run.stderr.strip()[-400:]}")
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6  # kB on Linux
    log = run.stdout + run.stderr
    trials = re.findall(r"^- trial (\d+) ", log, re.MULTILINE)
    best = re.search(r"^- best trial (\d+): validation accuracy ([0-9.]+), LUT-eq ([0-9,]+)", log, re.MULTILINE)
    lines = [
        "# Search time (issue 22)", "",
        f"`.venv/bin/python benchmarks/search_time.py --design {args.design} --trials {args.trials}`: runs "
        f"`codesign search {args.design} --trials {args.trials}` (base float + QAT training, the search, export "
        "and C simulation of the best trial), one process.", "",
        "| design | trials asked | trials stored | wall | peak RSS | target | met |",
        "|---|---|---|---|---|---|---|",
        f"| {args.design} | {args.trials} | {len(trials)} | {seconds / 60:.1f} min | {peak_gb:.2f} GB | "
        f"{TARGET_S // 60} min | {'yes' if seconds <= TARGET_S else 'no'} |", "",
        f"Best trial: {best.group(1)} (validation accuracy {best.group(2)}, LUT-eq {best.group(3)})." if best else
        "No best trial in the log.", "",
        "With `descent` (the design's algorithm) `trials` is an epoch budget, trials x finetune_epochs: a step "
        "that loses nothing is stored without fine-tuning, and the epochs are shared over the fine-tuned steps "
        "left to the narrowest design, so the trials stored differ from the trials asked.", "",
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}; load average before the run "
        f"{load_before}, after {load_average()} (a load above 0 means other work shared the cores: the time is "
        "then an upper bound).", "",
    ]
    atomic_write_text(args.out, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
