"""codesign command line: run, validate, estimate, calibrate, search, worker, ptq, analyze, learn, parts."""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Optional

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")
logging.getLogger("tensorflow").setLevel(logging.ERROR)

import typer  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from hw_models import UnknownPartError, list_parts  # noqa: E402
from hw_models.targets import DEFAULT_PART  # noqa: E402

from .errors import CodesignError  # noqa: E402
from .folders import REPORTS_ROOT, ReportLayout  # noqa: E402

app = typer.Typer(add_completion=False, help="FPGA NN co-design: QAT, hls4ml export, bit-exact C simulation.")
console = Console(stderr=True, soft_wrap=True)  # a log line stays one line (grep-able), wrapped by the terminal
EXIT_BAD_INPUT = 2


def _version(value: bool) -> None:
    if value:
        from . import __version__

        print(f"codesign {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="print the version and exit")) -> None:
    """FPGA NN co-design: QAT, hls4ml export, bit-exact C simulation."""


def _fail(msg: str) -> None:
    console.print(f"[red]error:[/red] {msg}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def command(*args, **kwargs):
    """`app.command()` with the CLI's one error path: bad input (CodesignError, an unknown part) is one
    line on stderr and exit 2, never a traceback."""
    def register(fn):
        @functools.wraps(fn)
        def checked(*a, **k):
            try:
                return fn(*a, **k)
            except (CodesignError, UnknownPartError) as exc:
                _fail(str(exc))
        return app.command(*args, **kwargs)(checked)
    return register


def _proven(validation: dict, accept_float_layers: bool = False) -> bool:
    """Exit 0 only when both C simulations (compile()+predict() and the g++ test bench) are bit-exact, to QKeras
    or, where the model has float layers and the user accepts them, to hls4ml's arithmetic there."""
    exact = validation["bit_exact_fraction"] == 1.0 and validation.get("testbench_bit_exact_fraction") == 1.0
    return exact and (accept_float_layers or not _float_layers_differ(validation))


def _float_layers_differ(validation: dict) -> bool:
    """Some output of these inputs differs between hls4ml's arithmetic and QKeras's float layers."""
    return bool((validation.get("float_layers") or {}).get("outputs_differ"))


ACCEPT_FLOAT_HELP = ("exit 0 when layers QKeras computes in float (a mean over a window that is not a power of two, "
                     "a real sigmoid/tanh near a rounding tie) are exact to hls4ml's fixed-point arithmetic, though "
                     "some outputs differ from QKeras's")


def _say_float_layers(validation: dict, accept: bool) -> None:
    """The float layers' line: what was proven there and how far QKeras's float result is; and how to accept it."""
    from .reference import float_layer_line

    line = float_layer_line(validation.get("float_layers"))
    if line:
        refused = _float_layers_differ(validation) and not accept
        console.print(("not accepted: " if refused else "note: ") + line
                      + ("; --accept-float-layers accepts that" if refused else ""), highlight=False)


def _progress():
    """Bars on a terminal, one plain line per step in a log (progress.py)."""
    from .progress import plain_or_rich

    return plain_or_rich(console)


@command()
def run(design: Path = typer.Argument(..., help="design file, e.g. designs/digits_mlp.yaml"),
        out: Path = typer.Option(REPORTS_ROOT, help="report root; writes OUT/<design>/"),
        epochs: Optional[int] = typer.Option(None, help="override the design's training epochs"),
        accept_float_layers: bool = typer.Option(False, "--accept-float-layers", help=ACCEPT_FLOAT_HELP)) -> None:
    """Train float + QAT, export through hls4ml, C-simulate two ways, prove bit-exact, write the report."""
    from .pipeline import run_design

    if epochs is not None and epochs < 1:
        raise CodesignError(f"--epochs {epochs}: allowed: 1 or more")
    with _progress() as progress:
        results = run_design(design, out, epochs, progress, log=lambda m: console.print(m, highlight=False))
    v = results["validation"]
    from .report import METRIC_LABELS

    metrics = {k: results[k] for k in METRIC_LABELS if k in results}
    print(json.dumps({"design": results["design"], **metrics,
                      "bit_exact_fraction": v["bit_exact_fraction"],
                      "testbench_bit_exact_fraction": v["testbench_bit_exact_fraction"],
                      "softmax_argmax_agreement": v["softmax_argmax_agreement"]}, indent=2))
    _say_float_layers(v, accept_float_layers)
    if not _proven(v, accept_float_layers):
        raise typer.Exit(1)


TARGET_FLAGS = {"part": "--part", "io_type": "--io-type", "strategy": "--strategy", "reuse_factor": "--reuse-factor",
                "clock_ns": "--clock"}


def _target_from_flags(values: dict):
    """The hls4ml target of a command's flags; an error names the flag the user typed, not a design field."""
    from .design import export_options

    try:
        return export_options(Path("--options"), values)
    except CodesignError as exc:
        message = str(exc).removeprefix("--options: ")
        for field_name, flag in TARGET_FLAGS.items():
            message = message.replace(f"target.{field_name}", flag)
        raise CodesignError(message) from None


INPUT_TYPE_HELP = ("input type, e.g. 'fixed<11,3>' (default: the narrowest that holds the inputs exactly, "
                   "else 16 bits rounding, said in a note)")


def _input_type(text: Optional[str]):
    """The --input-type of validate/synth as a QuantSpec (None: derived from the inputs)."""
    from .spec import parse_hls

    if text is None:
        return None
    try:
        return parse_hls(text)
    except ValueError as exc:
        raise CodesignError(f"--input-type {text!r}: {exc}") from None


@command()
def validate(model: Path = typer.Argument(..., help="Keras/QKeras .h5/.keras, or architecture .json"),
             inputs: Path = typer.Option(..., "--inputs", help="test inputs, .npy or .npz (x_test, x or one array)"),
             weights: Optional[Path] = typer.Option(None, help="weights .h5 for an architecture JSON"),
             json_out: Optional[Path] = typer.Option(None, "--json", help="write the result as JSON here"),
             io_type: str = typer.Option("io_parallel", help="io_parallel or io_stream"),
             strategy: str = typer.Option("Latency", help="Latency or Resource"),
             reuse_factor: int = typer.Option(1, "--reuse-factor", help="hls4ml ReuseFactor"),
             part: str = typer.Option(DEFAULT_PART, help="FPGA part"),
             project: Optional[Path] = typer.Option(None, help="keep the HLS project here"),
             input_type: Optional[str] = typer.Option(None, "--input-type", help=INPUT_TYPE_HELP),
             force: bool = typer.Option(False, "--force", help="compile even an io_parallel design the estimate "
                                                              "puts far beyond the largest part"),
             accept_float_layers: bool = typer.Option(False, "--accept-float-layers", help=ACCEPT_FLOAT_HELP)) -> None:
    """Prove any QKeras model bit-exact against its hls4ml C simulation. Exit 0 exact, 1 not, 2 bad input."""
    from . import api
    from .atomic import atomic_write_text
    from .modelio import load_model

    opts = _target_from_flags({"io_type": io_type, "part": part, "strategy": strategy,
                               "reuse_factor": reuse_factor})
    x = _load_array(inputs, "inputs")
    keras_model = load_model(model, weights)
    x = api.checked_inputs(keras_model, x, str(inputs))
    spec = _input_type(input_type)
    if opts.io_type == "io_parallel" and not force:  # derives the input type validate would: given to it
        spec = _refuse_far_beyond_any_part(keras_model, x, opts, spec, model)
    result = api.validate(keras_model, x, opts, project_dir=project, input_type=spec, name=model.stem,
                          progress=lambda m: console.print(f"- {m}", highlight=False))
    payload = result.public()
    if json_out:
        atomic_write_text(json_out, json.dumps(payload, indent=2) + "\n")
    print(json.dumps(payload, indent=2))
    if result.renamed_layers:
        console.print(f"renamed layers for C++: {result.renamed_layers}", highlight=False)
    for layer in result.layers:
        for note in layer.get("notes", []):
            console.print(f"note: layer '{layer['name']}': {note}", highlight=False)
    _reference_notes(result, lambda m: console.print(m, highlight=False))
    _say_float_layers(payload, accept_float_layers)
    raise typer.Exit(0 if _proven(payload, accept_float_layers) else 1)


FAR_BEYOND = 2.0  # x the largest part's LUTs: refused without --force
SLOW_COMPILE_LUT = 200_000  # an io_parallel CNN estimated at 618k LUT compiled for 15 minutes here: said first


def _refuse_far_beyond_any_part(keras_model, x, opts, input_spec, where: Path):
    """Before g++ compiles hls4ml's fully unrolled C++: refuse a design far beyond any part, warn of a big one.
    Returns the input type it estimated with (derived from x unless given), for the proof to use."""
    from .estimate import estimate_model
    from .validate import exact_core

    exact = exact_core(keras_model, x, input_spec)  # the input type validate will use (cheap: no hls4ml)
    try:
        estimate, _ = estimate_model(exact.core, opts, exact.input_spec)
    except CodesignError:  # nothing to estimate with: validate says what is wrong itself
        return exact.input_spec
    biggest = max(list_parts(), key=lambda p: p.lut)
    lut = estimate.total["lut"]
    if lut > FAR_BEYOND * biggest.lut:
        raise CodesignError(f"{where}: io_parallel: the estimate is {lut:,.0f} LUT, {lut / biggest.lut:.1f}x the "
                            f"largest part ({biggest.part}, {biggest.lut:,}); its C++ would compile for a long time: "
                            "use --io-type io_stream, or --force")
    if lut > SLOW_COMPILE_LUT:
        console.print(f"note: io_parallel, estimated at {lut:,.0f} LUT: hls4ml's fully unrolled C++ of a design this "
                      "size compiles for many minutes (--io-type io_stream compiles far faster)", highlight=False)
    return exact.input_spec


def _refresh_design_report(folder: Path) -> None:
    """A design's run report lists what other commands left beside it: written again, and its path said."""
    if (folder / "results.json").is_file():
        from .report import refresh_report

        console.print(f"design report: {refresh_report(folder)}", highlight=False)


def _reference_notes(result, log) -> None:
    """What a proof's reference is: the inputs it covers, sums it cannot hold, QKeras's float32 distance."""
    if result.input_note:
        log(f"note: {result.input_note}")
    if result.inexact_reference_layers:
        log(f"note: sums wider than float64's 53 bits in {result.inexact_reference_layers}: the exact reference "
            "itself rounds there")
    d = result.float32_distance
    if d and d["outputs_differ"]:
        log(f"note: the judge is the exact arithmetic; QKeras's float32 outputs differ from it in "
            f"{d['outputs_differ']:.1%} of values (max {d['max_abs_diff']:.3g}, argmax agreement "
            f"{d['argmax_agreement']:.3f}): float32 cannot hold these sums")


LEVEL_TITLES = {"synth": "Post-synthesis (Vivado)", "csynth": "HLS C-synthesis"}
TOOL_TITLES = {"vivado_hls": "Vivado HLS", "vitis": "Vitis HLS"}  # hw_models.targets.TOOLS
MULT_IMPL_TITLES = {"fabric": ", products in LUTs (-impl fabric)", "dsp": ", multiplies on DSPs (-impl dsp)"}
REPORTS_HELP = "report root where `codesign run` wrote <design>/ (for a design file)"


def _model_and_design(model: Path, weights: Optional[Path], log, reports: Path = REPORTS_ROOT):
    """(keras model, design or None, the design's split or None) for a model file or a design file.

    For a design, the weights are those `codesign run` trained (reports/<design>/model_qat.h5) when they exist.
    """
    from .modelio import load_model

    if model.suffix not in (".yaml", ".yml"):
        return load_model(model, weights), None, None
    from .design import load_design
    from .pipeline import design_split, float_model, qkeras_model

    design = load_design(model)
    split = design_split(design)
    keras_model, _ = qkeras_model(design, float_model(design, split), split)  # also fixes the input grid
    trained = ReportLayout(reports, design.name).qat_model
    if trained.is_file():
        log(f"- weights: {trained}")
        keras_model = load_model(trained)
    elif design.model_file is not None:
        log(f"- weights: {design.model_file}, quantized, not fine-tuned (`codesign run {model}` fine-tunes)")
    else:
        log(f"- weights: untrained (no {trained}; run `codesign run {model}` for the trained weights)")
    return keras_model, design, split


def _estimate_inputs(model: Path, weights: Optional[Path], input_type: str, log, reports: Path = REPORTS_ROOT):
    """(keras model, input spec, design export options or None) for a model file or a design file."""
    from .policy import HLS4ML_DEFAULT_TYPE, input_spec

    keras_model, design, split = _model_and_design(model, weights, log, reports)
    if design is not None:
        return keras_model, split.input_spec, design.export
    return keras_model, input_spec(keras_model, None, input_type, "--input-type", HLS4ML_DEFAULT_TYPE), None


@command()
def estimate(model: Path = typer.Argument(..., help="Keras/QKeras .h5/.keras, architecture .json, or a design .yaml"),
             weights: Optional[Path] = typer.Option(None, help="weights .h5 for an architecture JSON"),
             hls_config: Optional[Path] = typer.Option(None, help="hls4ml-style config YAML (Model/LayerName)"),
             part: Optional[str] = typer.Option(None, help=f"FPGA part (default {DEFAULT_PART})"),
             io_type: Optional[str] = typer.Option(None, help="io_parallel or io_stream"),
             strategy: Optional[str] = typer.Option(None, help="Latency or Resource"),
             reuse: Optional[int] = typer.Option(None, "--reuse-factor", "--reuse",
                                                 help="hls4ml ReuseFactor for every layer"),
             clock: Optional[float] = typer.Option(None, help="clock period in ns"),
             input_type: Optional[str] = typer.Option(None, help="input precision (model files only; default "
                                                                 "hls4ml's fixed<16,6>)"),
             coefficients: Optional[Path] = typer.Option(None, help="coefficients JSON from `codesign calibrate`"),
             tool: Optional[str] = typer.Option(None, help="HLS tool generation: vivado_hls (Vivado HLS 2018-2020) "
                                                           "or vitis (Vitis HLS; default: the export's backend, Vitis)"),
             level: str = typer.Option("synth", help="synth: after Vivado synthesis (does it fit the chip); csynth: "
                                                     "what the HLS C-synthesis report says (about 2x the LUTs)"),
             mult_impl: Optional[str] = typer.Option(None, help="fabric / dsp: build_prj.tcl forces every multiply "
                                                                "into LUTs / onto DSPs (config_op mul -impl); "
                                                                "default auto"),
             json_out: Optional[Path] = typer.Option(None, "--json", help="write the estimate as JSON here"),
             reports: Path = typer.Option(REPORTS_ROOT, help=REPORTS_HELP)) -> None:
    """Estimate LUT/FF/DSP/BRAM/latency/II per layer, after Vivado synthesis or at HLS C-synthesis, without
    Vivado."""
    from . import api
    from .atomic import atomic_write_text

    log = lambda m: console.print(m, highlight=False)  # noqa: E731
    keras_model, spec, design_opts = _estimate_inputs(model, weights, input_type, log, reports)
    given = {k: v for k, v in {"part": part, "io_type": io_type, "strategy": strategy, "reuse_factor": reuse,
                               "clock_ns": clock}.items() if v is not None}
    base = asdict(design_opts) if design_opts else {}
    opts = _target_from_flags({**base, **given})
    result = api.estimate(keras_model, opts, input_type=spec, tool=tool, level=level, hls_config=hls_config,
                          coefficients=coefficients, mult_impl=mult_impl)
    for note in result.notes:
        log(f"[yellow]note:[/yellow] {note}")
    payload = {k: v for k, v in result.to_json().items() if k != "notes"}
    if json_out:
        atomic_write_text(json_out, json.dumps(payload, indent=2) + "\n")
    table = Table("layer", "class", "template", "LUT", "FF", "DSP", "BRAM_18K", "latency", "II",
                  title=f"{LEVEL_TITLES[result.level]} estimate, {result.part}, {opts.io_type}, "
                        f"{opts.strategy}, clock {opts.clock_ns} ns, {TOOL_TITLES[payload['tool']]}"
                        + MULT_IMPL_TITLES.get(payload["mult_impl"], ""))
    for row in payload["layers"] + [{"name": "total", "class": "", "template": "", **payload["total"]}]:
        table.add_row(row["name"], row["class"], row["template"], f"{row['lut']:,.0f}", f"{row['ff']:,.0f}", f"{row['dsp']:,.0f}",
                      f"{row['bram_18k']:,.1f}", f"{row['latency_cycles']:,.0f}", f"{row['ii']:,.0f}")
    band = payload["interval"]
    if any(band[k][0] != band[k][1] for k in band):  # the fit's held-out p10 - p90 of the real value
        span = {k: f"{band[k][0]:,.0f} - {band[k][1]:,.0f}" for k in band}
        table.add_row("p10 - p90", "(held out)", "", span["lut"], span["ff"], span["dsp"], "", span["latency_cycles"], "")
    u = payload["utilization"]
    table.caption = (f"utilization: LUT {u['lut']:.2%}, FF {u['ff']:.2%}, DSP {u['dsp']:.2%}, "
                     f"BRAM {u['bram_18k']:.2%}; LUT-equivalent (LUT + 55 DSP) {result.lut_equivalent:,.0f}")
    Console(width=max(Console().width, 110)).print(table)


@command()
def calibrate(reports: list[Path] = typer.Argument(..., help="calibration .jsonl files and/or hls4ml project "
                                                           "folders with reports + hls4ml_config.yml"),
              out: Path = typer.Option(Path("cost_coefficients.json"), help="where to write the refitted coefficients"),
              coefficients: Optional[Path] = typer.Option(None, help="coefficients to compare against "
                                                                     "(default: the shipped ones)"),
              folds: int = typer.Option(5, help="k for the grouped k-fold cross-validation")) -> None:
    """Refit the cost-model coefficients on real Vivado/Vitis reports; print the error before and after."""
    from hw_models.coefficients import DEFAULT_COEFFICIENTS, Coefficients

    from .atomic import atomic_write_text
    from .calibrate import calibrate as run_calibration

    current = Coefficients.load(coefficients or DEFAULT_COEFFICIENTS) \
        if (coefficients or DEFAULT_COEFFICIENTS).is_file() else Coefficients()
    result = run_calibration(reports, current, folds)
    atomic_write_text(out, result["coefficients"].to_json() + "\n")
    table = Table("resource", "n", "before: median / p90 APE %", "after (in-sample)",
                  f"after ({result['cross_validation'] or 'not cross-validated'})",
                  title=f"cost model error on {result['records']} record(s); {result['variant']}")
    for res, b in result["before"].items():
        a = result["after_in_sample"][res]
        cv = (result["after_cross_validated"] or {}).get(res)
        table.add_row(res, str(b["n"]), f"{b['median_ape']:.1f} / {b['p90_ape']:.1f}",
                      f"{a['median_ape']:.1f} / {a['p90_ape']:.1f}",
                      f"{cv['median_ape']:.1f} / {cv['p90_ape']:.1f}" if cv else "too few families")
    if result["coefficients"].intervals:
        table.caption = "report / estimate, p10 - p90 held out: " + ", ".join(
            f"{res} {lo:.2f} - {hi:.2f}" for res, (lo, hi) in result["coefficients"].intervals.items())
    if result["coefficients"].synth_ratio:
        table.caption = (table.caption or "") + "; post-synthesis / C-synthesis: " + ", ".join(
            f"{res} {v:.2f}" for res, v in result["coefficients"].synth_ratio.items())
    Console(width=max(Console().width, 110)).print(table)
    for reason, n in sorted(result["skipped"].items(), key=lambda kv: -kv[1]):
        console.print(f"skipped {n}: {reason}", highlight=False)
    console.print(f"wrote {out}", highlight=False)


def _search_overrides(algorithm, trials, budget, finetune_epochs=None, budget_on=None, hls_strategy=None) -> dict:
    return {"algorithm": algorithm, "hls_strategy": hls_strategy, "trials": trials, "budget": budget,
            "finetune_epochs": finetune_epochs, "budget_on": budget_on}


BUDGET_ON_HELP = ("upper: the estimate's upper bound (p90 of report / estimate on held-out repositories) must fit "
                  "(default); estimate: the estimate itself")


@command()
def search(design: Path = typer.Argument(..., help="design file with an optional search: section"),
           budget: Optional[str] = typer.Option(None, help="e.g. lut=0.3,dsp=0.1,bram=0.5,latency=50 "
                                                          "(fractions <= 1 of the part, counts > 1, latency in "
                                                          "cycles or e.g. 250ns)"),
           budget_on: Optional[str] = typer.Option(None, "--budget-on", help=BUDGET_ON_HELP),
           algorithm: Optional[str] = typer.Option(None, help="greedy | ilp | nsga2 | random | descent (the "
                                                             "design's search.algorithm)"),
           strategy: Optional[str] = typer.Option(None, help="hls4ml strategy of every candidate: Latency, "
                                                            "Resource or distributed_arithmetic (the design's "
                                                            "target.strategy)"),
           trials: Optional[int] = typer.Option(None, help="completed trials to reach"),
           finetune_epochs: Optional[int] = typer.Option(None, help="QAT fine-tuning epochs per candidate"),
           storage: Optional[str] = typer.Option(None, help="optuna storage URL (default: SQLite file in the "
                                                           "report folder; journal:PATH for a journal file)"),
           workers: int = typer.Option(1, help="local worker processes (this one included)"),
           judge: str = typer.Option("estimate", help="estimate | yosys: re-measure the Pareto front by "
                                                      "synthesis (da4ml RTL, Yosys) and plot both fronts"),
           out: Path = typer.Option(REPORTS_ROOT, help="report root; writes OUT/<design>/search/"),
           accept_float_layers: bool = typer.Option(False, "--accept-float-layers", help=ACCEPT_FLOAT_HELP)) -> None:
    """Hardware-aware per-layer mixed-precision search; exports the best point within budget, bit-exact."""
    from .search.run import run_search

    if workers < 1:
        _fail("--workers: must be >= 1")
    with _progress() as progress:
        overrides = _search_overrides(algorithm, trials, budget, finetune_epochs, budget_on, strategy)
        summary = run_search(design, out, overrides, storage, workers, progress,
                             log=lambda m: console.print(m, highlight=False), judge=judge)
    console.print(f"report: {out / summary['design'] / 'search' / 'search.html'}", highlight=False)
    _refresh_design_report(out / summary["design"])
    best = summary["best"]
    print(json.dumps({"design": summary["design"], "algorithm": summary["algorithm"],
                      "trials_completed": summary["trials_completed"], "best_params": best["params"],
                      f"best_val_{summary['metric']}": best[f"val_{summary['metric']}"],
                      f"best_test_{summary['metric']}_csim": best[f"test_{summary['metric']}_csim"],
                      "bit_exact_fraction": best["validation"]["bit_exact_fraction"],
                      "testbench_bit_exact_fraction": best["validation"]["testbench_bit_exact_fraction"],
                      "estimate": best["estimate_exported_graph"], "within_budget": best["within_budget"],
                      "wall_seconds": summary["wall_seconds"]}
                     | ({"judge_spearman": summary["judge_yosys"]["spearman_estimate_vs_yosys"]}
                        if "judge_yosys" in summary else {}), indent=2))
    _say_float_layers(best["validation"], accept_float_layers)
    if not _proven(best["validation"], accept_float_layers):
        raise typer.Exit(1)


@command()
def worker(design: Path = typer.Argument(..., help="the design file the study was started with"),
           storage: Optional[str] = typer.Option(None, help="optuna storage URL of the study"),
           algorithm: Optional[str] = typer.Option(None, help="as given to `codesign search`"),
           strategy: Optional[str] = typer.Option(None, help="as given to `codesign search`"),
           trials: Optional[int] = typer.Option(None, help="as given to `codesign search`"),
           budget: Optional[str] = typer.Option(None, help="as given to `codesign search`"),
           budget_on: Optional[str] = typer.Option(None, "--budget-on", help="as given to `codesign search`"),
           out: Path = typer.Option(REPORTS_ROOT, help="report root of the study")) -> None:
    """Join a running search: take trials from its storage until the study is complete."""
    import os

    from .search.run import run_worker

    n = run_worker(design, out, storage, _search_overrides(algorithm, trials, budget, budget_on=budget_on,
                                                           hls_strategy=strategy),
                   log=lambda m: console.print(m, highlight=False))
    console.print(f"worker {os.getpid()}: evaluated {n} trial(s)", highlight=False)


def _load_array(path: Path, what: str):
    import numpy as np

    if not path.is_file():
        raise CodesignError(f"{path}: {what} file not found")
    if path.suffix == ".npz":  # the array named x_test or x, or the only one
        from .data import read_arrays

        arrays = read_arrays(path, ".npz")
        key = next((k for k in ("x_test", "x") if k in arrays), next(iter(arrays)) if len(arrays) == 1 else None)
        if key is None:
            raise CodesignError(f"{path}: arrays {sorted(arrays)}; allowed: a .npz with x_test, x or one array")
        x = arrays[key]
    else:
        try:
            x = np.load(path, allow_pickle=False)
        except Exception as exc:  # noqa: BLE001
            raise CodesignError(f"{path}: not a .npy array ({type(exc).__name__})") from None
    if not np.issubdtype(x.dtype, np.number) or not np.all(np.isfinite(x)):
        raise CodesignError(f"{path}: {what} must be finite numbers")
    if x.ndim < 2 or not len(x):
        raise CodesignError(f"{path}: {what} of shape {x.shape}; allowed: (samples, features...) with at least "
                            "one sample")
    return x


@command()
def ptq(model: Path = typer.Argument(..., help="float Keras model (.h5/.keras, or .json with --weights)"),
        calib: Path = typer.Option(..., "--calib", help="calibration inputs, .npy"),
        weights: Optional[Path] = typer.Option(None, help="weights .h5 for an architecture JSON"),
        bits: int = typer.Option(8, help="weight bits (per tensor, power-of-two range)"),
        activation_bits: Optional[int] = typer.Option(None, help="activation bits (default: --bits)"),
        bias_bits: int = typer.Option(16, help="bias bits"),
        method: str = typer.Option("mse", help="range calibration: minmax, ema_minmax, percentile, "
                                               "mean_ksigma, mse, kl"),
        bias_correction: bool = typer.Option(False, help="empirical bias correction"),
        cle: bool = typer.Option(False, help="cross-layer equalization (Dense-ReLU-Dense)"),
        absorb_bias: bool = typer.Option(False, help="high-bias absorption (after --cle)"),
        out: Path = typer.Option(Path("model_ptq.h5"), help="the QKeras model written here"),
        json_out: Optional[Path] = typer.Option(None, "--json", help="write the report as JSON here")) -> None:
    """Post-training quantization: float Keras -> QKeras (exports bit-exact through `codesign validate`)."""
    from .atomic import atomic_write_text
    from .modelio import load_model
    from .ptq.quantize import PTQOptions
    from .ptq.quantize import ptq as run_ptq

    x = _load_array(calib, "calibration").astype("float32")
    for flag, value in (("--bits", bits), ("--activation-bits", activation_bits), ("--bias-bits", bias_bits)):
        if value is not None and not 2 <= value <= 32:
            raise CodesignError(f"{flag} {value}: allowed: 2..32")
    opts = PTQOptions(bits, activation_bits or bits, bias_bits, method, bias_correction, cle, absorb_bias)
    qmodel, _, report = run_ptq(load_model(model, weights), x, opts)
    tmp = out.with_name(out.stem + ".tmp" + out.suffix)
    qmodel.save(tmp)
    tmp.replace(out)
    report["out"] = str(out)
    if json_out:
        atomic_write_text(json_out, json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


@command()
def analyze(model: Path = typer.Argument(..., help="QKeras model (.h5/.keras, .json with --weights) or a design "
                                                   ".yaml that `codesign run` has reported"),
            data: Optional[Path] = typer.Option(None, "--data", help="inputs, .npy or .npz (default for a design: its "
                                                                     "test inputs)"),
            weights: Optional[Path] = typer.Option(None, help="weights .h5 for an architecture JSON"),
            out: Optional[Path] = typer.Option(None, help="report folder (default reports/analysis/<model>, or "
                                                          "reports/<design>/analysis)"),
            io_type: str = typer.Option("io_parallel", help="io_parallel or io_stream"),
            reports: Path = typer.Option(REPORTS_ROOT, help=REPORTS_HELP)) -> None:
    """Per-layer quantization error (float vs QKeras vs C-sim), histograms, sensitivity ranking."""
    from .analyze import analyze as run_analysis
    from .analyze import link_into_design_report
    from .modelio import load_model
    from .validate import derive_input_spec

    report_dir = None
    if model.suffix in (".yaml", ".yml"):
        from .design import load_design

        design = load_design(model)
        report_dir = reports / design.name
        model, data = report_dir / "model_qat.h5", data or report_dir / "test_inputs.npy"
        if not model.is_file():
            raise CodesignError(f"{model}: not found; run `codesign run {design.path}` first")
        io_type = design.export.io_type
    if data is None:
        raise CodesignError("--data: required for a model file")
    x = _load_array(data, "data")
    opts = _target_from_flags({"io_type": io_type})
    qmodel = load_model(model, weights)
    spec = derive_input_spec(x, qmodel)
    x = spec.quantize(x).astype("float32")  # inputs cast to the input type, as validate does
    folder = out or (report_dir / "analysis" if report_dir else reports / "analysis" / model.stem)
    result = run_analysis(qmodel, x, folder, opts, spec)
    console.print(f"report: {folder / 'analysis.md'}", highlight=False)
    if report_dir is not None:
        html = link_into_design_report(report_dir / "report.md", result)
        if html:
            console.print(f"design report: {html}", highlight=False)
    print(json.dumps(result, indent=2, default=float))


@command()
def learn(design: Path = typer.Argument(..., help="an mlp design file"),
          beta: float = typer.Option(2e-6, help="weight of the LUT surrogate at the end of the schedule"),
          schedule: str = typer.Option("linear", help="linear (0 -> beta) or constant"),
          epochs: int = typer.Option(30, help="training epochs with learned bit widths"),
          blend: bool = typer.Option(False, help="alpha-blending instead of the straight-through estimator"),
          out: Path = typer.Option(REPORTS_ROOT, help="writes OUT/<design>/learned/")) -> None:
    """Learn per-layer bit widths with an FPGA cost term; snap to QKeras; export and prove bit-exact."""
    from .design import load_design
    from .learned.train import LearnOptions
    from .learned.train import learn as run_learn

    if schedule not in ("linear", "constant"):
        _fail(f"--schedule: {schedule!r}; allowed: linear, constant")
    with _progress() as progress:
        result = run_learn(load_design(design), LearnOptions(beta=beta, schedule=schedule, epochs=epochs,
                                                              blend=blend), out, progress,
                           log=lambda m: console.print(m, highlight=False))
    print(json.dumps({k: result[k] for k in ("layers", "accuracy", "estimate", "lut_equivalent")}, indent=2,
                     default=float))
    if not _proven(result["validation"]):
        raise typer.Exit(1)


@command()
def synth(model: Path = typer.Argument(..., help="QKeras .h5/.keras, architecture .json, or a design .yaml"),
          inputs: Optional[Path] = typer.Option(None, "--inputs", help="inputs, .npy or .npz (default for a design: its "
                                                "test inputs)"),
          weights: Optional[Path] = typer.Option(None, help="weights .h5 for an architecture JSON"),
          part: Optional[str] = typer.Option(None, help=f"FPGA part (default: the design's, else {DEFAULT_PART})"),
          pipeline: float = typer.Option(0, help="0: combinational; N > 0: a register stage every N adder delays"),
          n_samples: int = typer.Option(1000, "--n-samples", help="simulate at most this many inputs"),
          max_lut: float = typer.Option(150_000, "--max-lut", help="refuse RTL larger than this (da4ml's estimate)"),
          architecture: Optional[str] = typer.Option(None, help="parallel (one module, as io_parallel) or stream "
                                                     "(one kernel per layer, as io_stream); default: the design's "
                                                     "io_type, else parallel"),
          json_out: Optional[Path] = typer.Option(None, "--json", help="write the result as JSON here"),
          out: Optional[Path] = typer.Option(None, "--out", help="RTL project folder (default reports/<name>/rtl)"),
          input_type: Optional[str] = typer.Option(None, "--input-type", help=INPUT_TYPE_HELP),
          reports: Path = typer.Option(REPORTS_ROOT, help=REPORTS_HELP)) -> None:
    """RTL of the network (da4ml), Yosys synthesis and Verilator simulation against QKeras.
    Exit 0 bit-exact, 1 not, 2 bad input or missing tools."""
    from . import api
    from .atomic import atomic_write_text
    from .rtl.hgq import is_proxy

    log = lambda m: console.print(m, highlight=False)  # noqa: E731
    if n_samples < 1:
        raise CodesignError(f"--n-samples {n_samples}: allowed: 1 or more")
    keras_model, design, split = _model_and_design(model, weights, log, reports)
    if inputs is not None:
        x, spec = _load_array(inputs, "inputs"), _input_type(input_type)
    elif split is not None:
        x, spec = split.x_test, split.input_spec
    else:
        raise CodesignError(f"{model}: --inputs is required for a model file (a design file brings its own data)")
    part = part or (design.export.part if design else DEFAULT_PART)
    architecture = architecture or ("stream" if design and design.export.io_type == "io_stream" else "parallel")
    name = design.name if design else model.stem
    rtl_dir = out or ReportLayout(reports, name).rtl
    result = api.synth(keras_model, api.checked_inputs(keras_model, x[:n_samples], str(inputs or model)), rtl_dir,
                       name=name, part=part, pipeline=pipeline, input_type=spec, progress=lambda m: log(f"- {m}"),
                       max_lut=max_lut, architecture=architecture)
    payload = result.public()
    atomic_write_text(rtl_dir / "synth.json", json.dumps(result.to_json(), indent=2) + "\n")
    if json_out:
        atomic_write_text(json_out, json.dumps(payload, indent=2) + "\n")
    print(json.dumps(payload, indent=2))
    base = asdict(design.export) if design else {}
    opts = _target_from_flags(base | {"part": part})
    table = Table("measure", "LUT", "FF", "CARRY", "DSP", "latency (cycles)", title=f"{name} on {part}")
    for kernel in result.kernels:  # a streamed RTL: one row per kernel, then their sum
        table.add_row(f"  kernel {' + '.join(kernel['layers'])} (x{kernel['calls_per_sample']} per sample)",
                      f"{kernel['lut']:,}", f"{kernel['ff']:,}", f"{kernel['carry']:,}", f"{kernel['dsp']:,}",
                      f"{kernel['latency_cycles']}")
    built = "da4ml RTL" if result.architecture == "parallel" else "da4ml RTL, one kernel per layer"
    table.add_row(f"Yosys synth_xilinx -family {result.family} ({built})", f"{result.lut:,}", f"{result.ff:,}",
                  f"{result.carry:,}", f"{result.dsp:,}", f"{result.latency_cycles}")
    table.add_row("da4ml's own estimate of that RTL", f"{result.da4ml_lut_estimate:,.0f}", "", "", "", "")
    try:
        if is_proxy(keras_model):
            raise CodesignError("the cost model reads QKeras models; an HGQ proxy is measured by Yosys only")
        estimate = api.estimate(keras_model, opts, input_type=result.input_precision)
        total = estimate.total
        table.add_row(f"codesign estimate, {LEVEL_TITLES[estimate.level].lower()} (hls4ml {opts.strategy}, "
                      f"{opts.io_type}, RF {opts.reuse_factor})",
                      f"{total['lut']:,.0f}", f"{total['ff']:,.0f}", "", f"{total['dsp']:,.0f}",
                      f"{total['latency_cycles']:,.0f}")
    except CodesignError as exc:  # the RTL is measured; only the comparison row is missing
        log(f"note: no codesign estimate to compare: {exc}")
    reference = "the HGQ proxy" if is_proxy(keras_model) else "QKeras (its exact arithmetic)"
    table.caption = (f"RTL vs {reference} ({result.outputs_compared}): {result.rtl_bit_exact_fraction:.4f} "
                     f"bit-exact on {result.n_samples} samples; RTL in {rtl_dir}")
    if result.architecture == "stream":
        table.caption += (f"; line buffers ({result.line_buffer_bits:,} bits) and FIFOs are memory, not counted; "
                          "latency: one input pixel per cycle plus the kernels' register stages")
    Console(width=max(Console().width, 110), stderr=True).print(table)
    _reference_notes(result, log)
    if design is not None and out is None:
        _refresh_design_report(reports / name)
    raise typer.Exit(0 if result.rtl_bit_exact_fraction == 1.0 else 1)


@command()
def parts() -> None:
    """List the FPGA parts the cost models know."""
    table = Table("part", "family", "LUT", "FF", "DSP", "DSP type", "BRAM_18K", "URAM")
    for p in list_parts():
        table.add_row(p.part, p.family, f"{p.lut:,}", f"{p.ff:,}", f"{p.dsp:,}", p.dsp_type, f"{p.bram_18k:,}",
                      f"{p.uram:,}")
    Console(width=max(Console().width, 120)).print(table)


_TERMINATED: list[int] = []


def _terminated(signum, frame) -> None:
    """SIGTERM (timeout, kill, Slurm, docker stop) unwinds like Ctrl-C: temp folders removed, a running search
    trial failed (so a resume runs it again); the exit code is 143."""
    _TERMINATED.append(signum)
    raise KeyboardInterrupt


def main() -> None:
    import signal

    signal.signal(signal.SIGTERM, _terminated)
    try:
        app()
    except (KeyboardInterrupt, SystemExit) as exc:
        if _TERMINATED:  # click may have turned the KeyboardInterrupt into its own exit
            sys.exit(128 + _TERMINATED[0])
        if isinstance(exc, SystemExit):
            raise
        sys.exit(130)


if __name__ == "__main__":
    main()
