"""Fuzz sweep of `codesign validate`: random QKeras models -> reports/fuzz.md (exact / refused / wrong).

    .venv/bin/python benchmarks/fuzz_validate.py --draws 2000 --workers 2
    .venv/bin/python benchmarks/fuzz_validate.py --draws 500 --seed 21 --resume   # adds to the previous rows
    .venv/bin/python benchmarks/fuzz_validate.py --rerun "binary_tanh|ternary"   # refused rows, with today's code
    .venv/bin/python benchmarks/fuzz_validate.py --replay 150   # stored specs again: is the behaviour unchanged?

Each worker runs hypothesis with its own seed; every `wrong` draw is written with its reproducer. Every draw is
appended to reports/fuzz_rows.jsonl (with the seed and git commit), so a sweep can be continued with a new seed
(`--resume`) and the report counts all rows.
"""

from __future__ import annotations

import argparse
import collections
import json
import multiprocessing as mp
import queue as queue_module
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from codesign.atomic import atomic_write_text  # noqa: E402


def worker(k: int, seed: int, draws: int, queue, rtl_every: int = 0) -> None:
    """Runs `draws` hypothesis draws; messages: {"k", "start": spec}, {"k", "row": {...}}, {"k", "done"}.
    rtl_every N > 0: every Nth draw that validate proves exact is also built as RTL and synthesized (Yosys,
    Verilator: `codesign synth`), its outcome in the row's "rtl"."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hseed

    from codesign import fuzz

    @hseed(seed)
    @settings(max_examples=draws, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(spec=fuzz.model_specs())
    def sweep(spec):
        queue.put({"k": k, "start": spec})  # if the C model aborts the process, this draw is the culprit
        o = fuzz.run(spec)
        row = {"outcome": o.outcome, "detail": o.detail, "spec": o.spec, "kinds": o.kinds()}
        count[0] += 1
        if rtl_every and o.outcome == "exact" and count[0] % rtl_every == 0:
            r = fuzz.run_rtl(spec, synthesize=True)
            row["rtl"] = {"outcome": r.outcome, "detail": r.detail}
        queue.put({"k": k, "row": row})

    count = [0]

    sweep()
    queue.put({"k": k, "done": True})


def report(rows: list[dict], seconds: float, args) -> str:
    sweeps = collections.Counter((r.get("seed"), r.get("commit")) for r in rows)
    counts = collections.Counter(r["outcome"] for r in rows)
    by_kind: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for r in rows:
        for kind in set(r["kinds"]):
            by_kind[kind][r["outcome"]] += 1
    refusals = collections.Counter(r["detail"].split(":")[1].strip()[:90] if r["detail"].startswith("layer")
                                   else r["detail"][:90] for r in rows if r["outcome"] == "refused")
    lines = [
        "# Fuzzing `codesign validate`", "",
        (f"{len(rows)} draws; this report was rewritten from the rows (`--report-only`) after the runs below "
         "were stopped." if args.report_only else
         f"`.venv/bin/python benchmarks/fuzz_validate.py --draws {args.draws} --workers {args.workers} "
         f"--seed {args.seed}{' --resume' if args.resume else ''}`: {len(rows)} draws, the last run took "
         f"{seconds / 60:.0f} min"
         f"{'' if len(rows) >= args.total else ' (running or stopped early: the counts are of the draws done)'}."),
        "", "Rows (reports/fuzz_rows.jsonl) by worker seed and commit: "
        + ", ".join(f"seed {sd} at {c}: {n}" for (sd, c), n in sorted(sweeps.items(), key=str)) + ".", "",
        *_rerun_note(rows),
        "Each draw is a random QKeras model (1-3 Dense or Conv2D/DepthwiseConv2D blocks, optional BatchNormalization "
        "(power-of-two parameters, or trained-like floats since 2026-12-04),"
        " a drawn kernel quantizer and activation, for convolutions optional Add/Concatenate skips, max/average "
        "pooling and a Flatten or GlobalAveragePooling head; io_parallel/io_stream, Latency/Resource RF 2) validated on inputs "
        "of which a quarter are 8x larger than the rest (every quantizer saturates). `exact`: bit-exact both ways "
        "(hls4ml compile()+predict() and the g++ test bench); `refused`: one error line before anything is "
        "written; `wrong`: anything else.", "",
        "| outcome | draws |", "|---|---|",
        *[f"| {k} | {counts.get(k, 0)} |" for k in ("exact", "refused", "wrong")], "",
        "## By quantizer and layer kind (a draw counts once per kind it uses)", "",
        "| kind | exact | refused | wrong |", "|---|---|---|---|",
        *[f"| {k} | {c['exact']} | {c['refused']} | {c['wrong']} |" for k, c in sorted(by_kind.items())], "",
        "## Refusals", "", "| reason | draws |", "|---|---|",
        *[f"| {reason} | {n} |" for reason, n in refusals.most_common()], "",
        "## Wrong draws (reproducers)", "",
    ]
    wrong = [r for r in rows if r["outcome"] == "wrong"]
    lines += [f"- `codesign.fuzz.run({json.dumps(r['spec'])})`: {r['detail']}" for r in wrong] or ["none"]
    lines += _rtl_section(rows)
    lines += ["", "What this does not show: models outside the drawn space (separable convolutions, "
              "QConv2DBatchnorm, QBatchNormalization, padding and upsampling are covered by "
              "tests/test_coverage_slow.py, not drawn here; recurrent layers are refused), and exactness on "
              "inputs other than the drawn ones.", ""]
    return "\n".join(lines)


def _rtl_section(rows: list[dict]) -> list[str]:
    """The sampled draws also built as RTL (`--rtl-every`): Yosys synthesis, Verilator simulation against the
    exact reference."""
    sampled = [r for r in rows if "rtl" in r]
    if not sampled:
        return []
    counts = collections.Counter(r["rtl"]["outcome"] for r in sampled)
    float_bn = sum(1 for r in sampled if "float batchnorm" in " ".join(r["kinds"]))
    wrong = [r for r in sampled if r["rtl"]["outcome"] == "wrong"]
    return ["", "## RTL of a sample of the exact draws (`codesign synth`: da4ml RTL, Yosys, Verilator)", "",
            f"{len(sampled)} draws ({float_bn} with a float BatchNormalization): "
            + ", ".join(f"{counts.get(k, 0)} {k}" for k in ("exact", "refused", "wrong")) + ".", "",
            *([f"- `codesign.fuzz.run_rtl({json.dumps(r['spec'])}, synthesize=True)`: {r['rtl']['detail']}"
               for r in wrong] or ["No wrong RTL."]),
            *sorted({f"- refused: {r['rtl']['detail'][:120]}" for r in sampled if r["rtl"]["outcome"] == "refused"})]


def _rerun_note(rows: list[dict]) -> list[str]:
    reran = [r for r in rows if r.get("rerun_of")]
    if not reran:
        return []
    commits = ", ".join(sorted({r["commit"] for r in reran}))
    counts = collections.Counter(r["outcome"] for r in reran)
    return [f"{len(reran)} draws first refused for forms supported since (`--rerun`) were run again, same model "
            f"and inputs, at {commits}: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) + ".", ""]


def write_report(rows: list[dict], seconds: float, args) -> None:
    atomic_write_text(args.out, report(rows, seconds, args))


def _run_spec(spec: dict) -> dict:
    from codesign import fuzz

    o = fuzz.run(spec)
    return {"outcome": o.outcome, "detail": o.detail, "spec": o.spec, "kinds": o.kinds()}


def run_rows(rows: list[dict], todo: list[int], workers: int, label: str):
    """(index, fresh row) of each stored spec in `todo`, run again in `workers` processes as they finish; a worker
    that died (the C model aborted) gives a wrong row."""
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from rich.console import Console

    from codesign.progress import plain_or_rich

    spawn = mp.get_context("spawn")
    with plain_or_rich(Console()) as progress, ProcessPoolExecutor(workers, mp_context=spawn) as pool:
        task = progress.add_task(label, total=len(todo))
        futures = {pool.submit(_run_spec, rows[i]["spec"]): i for i in todo}
        for fut in as_completed(futures):
            i = futures[fut]
            try:
                row = fut.result()
            except Exception as exc:  # noqa: BLE001
                row = {"outcome": "wrong", "detail": f"worker died: {exc}", "spec": rows[i]["spec"],
                       "kinds": rows[i]["kinds"]}
            yield i, row
            progress.advance(task)


def rerun(args, commit: str) -> None:
    """Replace each refused row whose reason matches args.rerun by a fresh run of its spec (same model,
    same inputs: the spec carries its seed); the rows file is rewritten after every row (temp, rename)."""
    import re

    rows = [json.loads(ln) for ln in args.rows.read_text().splitlines() if ln.strip()]
    todo = [i for i, r in enumerate(rows) if r["outcome"] == "refused" and re.search(args.rerun, r["detail"])]
    start = time.time()

    def save() -> None:
        atomic_write_text(args.rows, "".join(json.dumps(r) + "\n" for r in rows))

    for i, row in run_rows(rows, todo, args.workers, f"re-running {len(todo)} refused rows"):
        row.update(seed=rows[i].get("seed"), commit=commit, rerun_of=rows[i].get("commit"))
        rows[i] = row
        save()
    print(f"re-ran {len(todo)} rows in {(time.time() - start) / 60:.0f} min")
    args.report_only = True
    write_report(rows, time.time() - start, args)


def replay_sample(rows: list[dict], n: int, seed: int = 0) -> list[int]:
    """Indices of `n` stored rows covering every kind seen (each row picked for the kinds not yet covered, rarest
    first), the rest drawn at random: a refactoring's check that validate still answers as it did."""
    import random

    rng = random.Random(seed)
    order = list(range(len(rows)))
    rng.shuffle(order)
    freq = collections.Counter(k for r in rows for k in r["kinds"])
    chosen, covered = [], set()
    for kind in sorted(freq, key=lambda k: (freq[k], k)):
        if kind in covered or len(chosen) >= n:
            continue
        i = next(i for i in order if kind in rows[i]["kinds"] and i not in chosen)
        chosen.append(i)
        covered.update(rows[i]["kinds"])
    chosen += [i for i in order if i not in chosen][:max(0, n - len(chosen))]
    return chosen


def replay(args, commit: str) -> None:
    """Run `args.replay` stored specs again with today's code (same model, same inputs) and compare each outcome
    with the stored one; the rows file is left as it is, the comparison goes to reports/fuzz_replay.md."""
    rows = [json.loads(ln) for ln in args.rows.read_text().splitlines() if ln.strip()]
    todo = replay_sample(rows, args.replay)
    start, changes = time.time(), collections.Counter()
    changed = []
    for i, row in run_rows(rows, todo, args.workers, f"replaying {len(todo)} stored specs"):
        new = row["outcome"]
        changes[(rows[i]["outcome"], new)] += 1
        if new != rows[i]["outcome"]:
            changed.append((rows[i], new))
    minutes = (time.time() - start) / 60
    kinds = len({k for i in todo for k in rows[i]["kinds"]})
    lines = ["# Fuzz replay: stored specs run again", "",
             f"`.venv/bin/python benchmarks/fuzz_validate.py --replay {args.replay}` at {commit}: {len(todo)} of the "
             f"{len(rows)} stored draws of `{args.rows.name}` (covering {kinds} of the "
             f"{len({k for r in rows for k in r['kinds']})} kinds seen), same model and inputs, {minutes:.0f} min "
             f"with {args.workers} workers.", "", "| stored | today | draws |", "|---|---|---|",
             *[f"| {a} | {b} | {n} |" for (a, b), n in sorted(changes.items())], "",
             *([f"- stored {r['outcome']} ({r.get('commit')}), today {new}: `{json.dumps(r['spec'])}`"
                for r, new in changed] or ["Every replayed draw answers as it did."])]
    out = args.out.with_name("fuzz_replay.md")
    atomic_write_text(out, "\n".join(lines) + "\n")
    print(f"replayed {len(todo)} draws in {minutes:.0f} min: {len(changed)} changed, "
          f"{sum(n for (a, b), n in changes.items() if b == 'wrong')} wrong -> {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "fuzz.md")
    ap.add_argument("--rows", type=Path, default=ROOT / "reports" / "fuzz_rows.jsonl")
    ap.add_argument("--rtl-every", type=int, default=0, metavar="N", help="also synthesize (Yosys + Verilator) "
                    "every Nth exact draw of each worker and check its RTL against the exact reference")
    ap.add_argument("--resume", action="store_true", help="add to the rows already in --rows (use a new --seed)")
    ap.add_argument("--report-only", action="store_true", help="rewrite --out from the rows in --rows, run nothing")
    ap.add_argument("--rerun", metavar="REGEX", help="run again the refused rows whose reason matches REGEX (forms "
                    "supported since) and replace them in --rows, marked with this commit and rerun_of")
    ap.add_argument("--replay", type=int, metavar="N", help="run N stored specs again (every kind covered) and "
                    "compare each outcome with the stored one (reports/fuzz_replay.md; the rows stay as they are)")
    args = ap.parse_args()
    if args.report_only:
        rows = [json.loads(ln) for ln in args.rows.read_text().splitlines() if ln.strip()]
        write_report(rows, 0.0, args)
        print(f"{len(rows)} draws -> {args.out}")
        return
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip() or "unknown"
    if args.rerun:
        rerun(args, commit)
        return
    if args.replay:
        replay(args, commit)
        return
    previous = [json.loads(ln) for ln in args.rows.read_text().splitlines() if ln.strip()] \
        if args.resume and args.rows.exists() else []
    if not args.resume:
        args.rows.write_text("")
    args.total = len(previous) + args.draws
    from rich.console import Console

    from codesign import fuzz
    from codesign.progress import plain_or_rich

    queue = mp.get_context("spawn").Queue()
    per = -(-args.draws // args.workers)
    procs = [mp.get_context("spawn").Process(target=worker, args=(k, args.seed + k, per, queue, args.rtl_every))
             for k in range(args.workers)]
    for p in procs:
        p.start()
    rows, done, start, running = list(previous), set(), time.time(), {}

    def add(row: dict, k: int) -> None:
        row.update(seed=args.seed + k, commit=commit)
        rows.append(row)
        with args.rows.open("a") as f:
            f.write(json.dumps(row) + "\n")

    with plain_or_rich(Console()) as progress:
        task = progress.add_task("fuzzing validate", total=len(previous) + per * args.workers,
                                 completed=len(previous))
        while len(done) < len(procs):
            try:
                msg = queue.get(timeout=30)
            except queue_module.Empty:
                for k, p in enumerate(procs):  # a worker killed by an abort in C++: its last draw is wrong
                    if k not in done and p.exitcode not in (None, 0):
                        done.add(k)
                        spec = running.pop(k, None)
                        if spec is not None:
                            add({"outcome": "wrong", "detail": f"the process died (exit {p.exitcode})",
                                 "spec": spec, "kinds": fuzz.Outcome("wrong", "", spec).kinds()}, k)
                continue
            if "done" in msg:
                done.add(msg["k"])
            elif "start" in msg:
                running[msg["k"]] = msg["start"]
            else:
                running.pop(msg["k"], None)
                add(msg["row"], msg["k"])
                progress.update(task, advance=1, description=f"fuzzing validate ({msg['row']['outcome']})")
                if len(rows) % 10 == 0:  # a long sweep leaves a usable report at any time
                    write_report(rows, time.time() - start, args)
    for p in procs:
        p.join()
    write_report(rows, time.time() - start, args)
    counts = collections.Counter(r["outcome"] for r in rows)
    print(f"{len(rows)} draws: {counts.get('exact', 0)} exact, {counts.get('refused', 0)} refused, "
          f"{counts.get('wrong', 0)} wrong -> {args.out}")


if __name__ == "__main__":
    main()
