"""codesign command line: run, validate, parts."""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path
from typing import Optional

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")

import typer  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from hw_models import UnknownPartError, list_parts  # noqa: E402

from .errors import CodesignError  # noqa: E402

app = typer.Typer(add_completion=False, help="FPGA NN co-design: QAT, hls4ml export, bit-exact C simulation.")
console = Console(stderr=True)
EXIT_BAD_INPUT = 2


def _fail(msg: str) -> None:
    console.print(f"[red]error:[/red] {msg}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def _progress():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=False)


@app.command()
def run(design: Path = typer.Argument(..., help="design file, e.g. designs/digits_mlp.yaml"),
        out: Path = typer.Option(Path("reports"), help="report root; writes OUT/<design>/"),
        epochs: Optional[int] = typer.Option(None, help="override the design's training epochs")) -> None:
    """Train float + QAT, export through hls4ml, C-simulate two ways, prove bit-exact, write the report."""
    from .pipeline import run_design

    try:
        with _progress() as progress:
            results = run_design(design, out, epochs, progress, log=lambda m: console.print(m, highlight=False))
    except (CodesignError, UnknownPartError) as exc:
        _fail(str(exc))
    v = results["validation"]
    print(json.dumps({"design": results["design"], "accuracy": results["accuracy"],
                      "bit_exact_fraction": v["bit_exact_fraction"],
                      "testbench_bit_exact_fraction": v["testbench_bit_exact_fraction"],
                      "softmax_argmax_agreement": v["softmax_argmax_agreement"]}, indent=2))
    if v["bit_exact_fraction"] < 1.0 or (v["testbench_bit_exact_fraction"] or 0) < 1.0:
        raise typer.Exit(1)


@app.command()
def validate(model: Path = typer.Argument(..., help="Keras/QKeras .h5/.keras, or architecture .json"),
             inputs: Path = typer.Option(..., "--inputs", help="test inputs, .npy"),
             weights: Optional[Path] = typer.Option(None, help="weights .h5 for an architecture JSON"),
             json_out: Optional[Path] = typer.Option(None, "--json", help="write the result as JSON here"),
             io_type: str = typer.Option("io_parallel", help="io_parallel or io_stream"),
             part: str = typer.Option("xcvu13p-flga2577-2-e", help="FPGA part"),
             project: Optional[Path] = typer.Option(None, help="keep the HLS project here")) -> None:
    """Prove any QKeras model bit-exact against its hls4ml C simulation. Exit 0 exact, 1 not, 2 bad input."""
    import tempfile

    import numpy as np

    from .atomic import atomic_write_text
    from .design import export_options
    from .modelio import load_model
    from .validate import verify

    try:
        opts = export_options(Path("--options"), {"io_type": io_type, "part": part})
        if not inputs.is_file():
            raise CodesignError(f"{inputs}: inputs file not found")
        try:
            x = np.load(inputs, allow_pickle=False)
        except Exception as exc:  # noqa: BLE001
            raise CodesignError(f"{inputs}: not a .npy array ({type(exc).__name__})") from None
        if not np.issubdtype(x.dtype, np.number) or not np.all(np.isfinite(x)):
            raise CodesignError(f"{inputs}: inputs must be finite numbers")
        keras_model = load_model(model, weights)
        with tempfile.TemporaryDirectory(prefix="codesign_validate_") as tmp:
            where = project or Path(tmp) / "hls_project"
            result, _ = verify(keras_model, x, opts, where, name=model.stem,
                               progress=lambda m: console.print(f"- {m}", highlight=False))
    except (CodesignError, UnknownPartError) as exc:
        _fail(str(exc))
    payload = result.public()
    if json_out:
        atomic_write_text(json_out, json.dumps(payload, indent=2) + "\n")
    print(json.dumps(payload, indent=2))
    if result.renamed_layers:
        console.print(f"renamed layers for C++: {result.renamed_layers}", highlight=False)
    exact = payload["bit_exact_fraction"] == 1.0 and payload["testbench_bit_exact_fraction"] == 1.0
    raise typer.Exit(0 if exact else 1)


@app.command()
def parts() -> None:
    """List the FPGA parts the cost models know."""
    table = Table("part", "family", "LUT", "FF", "DSP", "DSP type", "BRAM_18K", "URAM")
    for p in list_parts():
        table.add_row(p.part, p.family, f"{p.lut:,}", f"{p.ff:,}", f"{p.dsp:,}", p.dsp_type, f"{p.bram_18k:,}",
                      f"{p.uram:,}")
    Console(width=max(Console().width, 120)).print(table)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
