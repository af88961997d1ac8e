"""The Python API (`import codesign`): quantize, export, validate, estimate, search, synth. The CLI calls the same
functions underneath (pipeline, validate, estimate, search.run); results are dataclasses with `to_json()`.

    import codesign
    q = codesign.quantize("model.h5", bits=6, x=x_train)          # float Keras -> QKeras (BN folded)
    result = codesign.validate(q.model, x_test)                     # bit-exact vs hls4ml C simulation
    study = codesign.search("model.h5", "data.npz", budget="lut=0.05", trials=20, out="out")
    study.best, study.front, study.project                          # best point, Pareto front, HLS project
    codesign.synth(q.model, x_test, "rtl").lut                      # Yosys LUTs of the RTL, proven vs QKeras

Errors in what the caller passed raise `CodesignError` with one line naming the argument or file.
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from .design import LayerQuant
from .errors import CodesignError, did_you_mean
from .folders import ReportLayout
from .policy import HLS4ML_DEFAULT_TYPE, input_spec
from .export import DEFAULT_PART, ExportOptions
from .quantize import Quantized
from .spec import QuantSpec, parse_hls
from .validate import ValidationResult

Target = ExportOptions  # part, clock_ns, io_type, strategy, reuse_factor, backend


def _model(model):
    """A Keras model object, or one loaded from a path (.h5, .keras)."""
    if isinstance(model, (str, Path)):
        from .modelio import load_model

        return load_model(model)
    if not hasattr(model, "layers"):
        raise CodesignError(f"model: expected a Keras model or a path to one, got {type(model).__name__}")
    from .modelio import functional

    return functional(model)


def checked_inputs(model, x, name: str) -> np.ndarray:
    """x as an array of samples the model takes: one line naming the argument (or file) otherwise."""
    try:
        x = np.asarray(x, np.float64)
    except (TypeError, ValueError):
        raise CodesignError(f"{name}: not an array of numbers") from None
    want = tuple(model.input_shape[1:])
    if x.ndim < 2 or not len(x) or tuple(x.shape[1:]) != want:
        raise CodesignError(f"{name}: shape {x.shape}; the model takes (samples, {', '.join(map(str, want))}) with "
                            "at least one sample")
    if not np.all(np.isfinite(x)):
        raise CodesignError(f"{name}: {int(np.sum(~np.isfinite(x)))} values are NaN or infinite; allowed: finite "
                            "numbers")
    return x


def _known_part(part: str, name: str) -> None:
    from hw_models import UnknownPartError, load_part

    try:
        load_part(part)
    except UnknownPartError as exc:
        raise CodesignError(f"{name}: {exc}") from None


def _target(target) -> ExportOptions:
    if target is None:
        return ExportOptions()
    if isinstance(target, ExportOptions):  # its values were checked when it was made; its part is checked here
        _known_part(target.part, "target.part")
        return target
    if isinstance(target, dict):
        from .design import export_options

        return export_options(Path("target"), target)
    raise CodesignError(f"target: expected codesign.Target or a dict, got {type(target).__name__}")


def _input_spec(model, x, input_type, fallback: str | None = None) -> QuantSpec:
    """policy.input_spec, with x checked as every API input is."""
    x = checked_inputs(model, x, "x") if x is not None and input_type is None else None
    return input_spec(model, x, input_type, fallback=fallback)


def quantize(model, bits: int = 8, *, x=None, weight_bits: int | None = None, activation_bits: int | None = None,
             bias_bits: int | None = None, layers: dict[str, dict] | None = None) -> Quantized:
    """QKeras twin of a float Keras model: every Dense/Conv `bits` wide (or weight_/activation_/bias_bits),
    integer bits from the weights and, given `x`, the activations; `layers` overrides per layer name,
    e.g. {"fc1": {"weight_bits": 8}}. A QKeras model comes back unchanged."""
    from .quantize import quantize as quantize_model

    for key, value in (("bits", bits), ("weight_bits", weight_bits), ("activation_bits", activation_bits),
                       ("bias_bits", bias_bits)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not 2 <= value <= 32):
            raise CodesignError(f"{key}: {value!r}; allowed: an integer 2..32")
    model = _model(model)
    if x is not None:
        x = checked_inputs(model, x, "x")
    default = LayerQuant(weight_bits=weight_bits or bits, weight_integer=None, bias_bits=bias_bits or max(bits, 8),
                         bias_integer=None, activation_bits=activation_bits or bits, activation_integer=None)
    per_layer = {}
    names = [layer.name for layer in model.layers]
    for name, values in (layers or {}).items():
        if name not in names:  # a typo must not leave the layer at the default bits
            raise CodesignError(f"layers[{name!r}]: no such layer in the model{did_you_mean(name, names)}; "
                                f"its layers: {', '.join(names)}")
        try:
            per_layer[name] = dataclasses.replace(default, **values)
        except TypeError as exc:
            raise CodesignError(f"layers['{name}']: {exc}; allowed keys: "
                                f"{', '.join(f.name for f in dataclasses.fields(LayerQuant))}") from None
    return quantize_model(model, default, per_layer, None if x is None else x.astype(np.float32))


@dataclass
class HLSProject:
    """An exported hls4ml project: its folder, the typed graph it was built from, and the hls4ml model."""
    path: Path
    target: ExportOptions
    input_type: str
    layers: list[dict]
    hls_model: object = field(repr=False, default=None)
    model: object = field(repr=False, default=None)  # the QKeras model it was exported from

    def compile(self) -> None:
        from .export import compile_model

        compile_model(self.hls_model)

    def predict(self, x) -> np.ndarray:
        """The bit-accurate C model on x (cast to the input type first, as the FPGA receives it)."""
        x = parse_hls(self.input_type).quantize(np.asarray(x, np.float64))
        return np.asarray(self.hls_model.predict(np.ascontiguousarray(x)))

    def to_json(self) -> dict:
        return {"path": str(self.path), "target": dataclasses.asdict(self.target), "input_type": self.input_type,
                "layers": self.layers}


def export(model, out_dir, target=None, *, x=None, input_type=None) -> HLSProject:
    """hls4ml project of a QKeras model with every type decided by codesign (`precision.py`)."""
    from .export import convert
    from .precision import derive

    model, opts = _model(model), _target(target)
    spec = _input_spec(model, x, input_type)
    graph = derive(model, spec)
    hls = convert(graph, opts, Path(out_dir))
    hls.write()
    return HLSProject(Path(out_dir), opts, spec.to_hls(), [n.to_json() for n in graph.nodes], hls, model)


def validate(model, x, target=None, *, project_dir=None, input_type=None, name: str | None = None,
             progress=None) -> ValidationResult:
    """Prove a QKeras model bit-exact on inputs x: hls4ml compile()+predict() and the g++ test bench.
    `progress`: called with a line per step."""
    from .validate import verify

    model, opts = _model(model), _target(target)
    spec = _input_spec(model, x, input_type) if input_type is not None else None
    with tempfile.TemporaryDirectory(prefix="codesign_validate_") as tmp:
        where = Path(project_dir) if project_dir else Path(tmp) / "hls_project"
        result, _ = verify(model, checked_inputs(model, x, "x"), opts, where,
                           name=name or getattr(model, "name", "model"), input_spec=spec, progress=progress)
    return result


def synth(model, x, out_dir, *, part: str = DEFAULT_PART, pipeline: float = 0, input_type=None,
          max_lut: float = 150_000, architecture: str = "parallel", name: str | None = None, progress=None):
    """RTL of a QKeras model (da4ml), Yosys synthesis and Verilator simulation compared with QKeras on inputs x.
    architecture: "parallel" (one module, as hls4ml io_parallel) or "stream" (one kernel per layer, as io_stream).
    Returns a SynthResult (lut, ff, carry, dsp, latency_cycles, rtl_bit_exact_fraction, ...; `public()` is the
    `codesign synth --json` shape). Needs Debian's yosys and verilator. `progress`: called with a line per step."""
    from .rtl.synth import synth as run_synth

    model = _model(model)
    _known_part(part, "part")
    spec = _input_spec(model, x, input_type) if input_type is not None else None
    return run_synth(model, checked_inputs(model, x, "x"), Path(out_dir),
                     name=name or getattr(model, "name", "model"), part=part, pipeline=pipeline, input_spec=spec,
                     max_lut=max_lut, architecture=architecture, progress=progress)


@dataclass
class Estimate:
    """Cost-model estimate of one design (FPGA resources, latency, II) per layer and in total."""
    part: str
    total: dict
    utilization: dict
    layers: list[dict]
    notes: list[str]
    interval: dict = field(default_factory=dict)  # resource -> [p10, p90]: where the real value fell for 80%
    # of held-out designs with this estimate (hw_models coefficients `intervals`)
    level: str = "synth"  # synth: after Vivado synthesis; csynth: the HLS C-synthesis report
    tool: str = "vitis"  # the HLS tool generation estimated (hw_models.targets.TOOLS)
    mult_impl: str = "auto"  # the products' implementation assumed (hw_models.targets.MULT_IMPLS)

    @property
    def lut_equivalent(self) -> float:
        """LUT + 55 x DSP (hw_models.cost.lut_equivalent)."""
        from hw_models.cost import lut_equivalent

        return lut_equivalent(self.total)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def estimate(model, target=None, *, x=None, input_type=None, tool=None, level: str = "synth", hls_config=None,
             coefficients=None, mult_impl=None) -> Estimate:
    """Resources and latency of a QKeras model (or an HLSProject) as codesign would export it; `tool`: the HLS
    tool generation, "vivado_hls" or "vitis" (default: that of the target's backend, Vitis); `level`: "synth"
    (after Vivado synthesis) or "csynth" (the HLS report); `hls_config`: an hls4ml-style config YAML whose
    precisions and reuse factors override codesign's; `coefficients`: a JSON from `codesign calibrate`;
    `mult_impl`: "fabric" / "dsp" where build_prj.tcl forces every multiply into LUTs / onto DSPs
    (`config_op mul -impl fabric|dsp`)."""
    from .estimate import estimate_model, mult_impl_of, tool_of

    if isinstance(model, HLSProject):
        target, input_type, model = target or model.target, input_type or model.input_type, model.model
    model, opts = _model(model), _target(target)
    est, notes = estimate_model(model, opts, _input_spec(model, x, input_type, fallback=HLS4ML_DEFAULT_TYPE),
                                _path(hls_config), _path(coefficients), level, tool, mult_impl)
    return Estimate(est.part, est.total, est.utilization, est.layers, notes, est.interval, est.level,
                    tool_of(opts, tool), mult_impl_of(mult_impl))


def _path(value) -> Path | None:
    return None if value is None else Path(value)


@dataclass
class Study:
    """A finished search: the Pareto front (accuracy vs LUT-equivalent), the best point within budget and its
    bit-exact HLS project."""
    folder: Path
    best: dict
    front: list[dict]
    summary: dict = field(repr=False, default_factory=dict)

    @property
    def metric(self) -> str:
        """accuracy, or mse (regression, autoencoder)."""
        return self.summary.get("metric", "accuracy")

    def front_points(self) -> list[tuple[float, float]]:
        """(validation metric, LUT-equivalent) of each Pareto point, cheapest first."""
        from .tasks import task_of

        task = task_of(self.summary.get("task", "classification"))
        return [(task.shown(float(r["val_score"])), float(r["lut_equivalent"])) for r in self.front]

    @property
    def project(self) -> Path:
        return self.folder / "best" / "hls_project"

    @property
    def report(self) -> Path:
        return self.folder / "search.md"

    def to_json(self) -> dict:
        return {"folder": str(self.folder), "best": self.best, "front": self.front}


def _data_file(data, folder: Path) -> Path:
    """An .npz path as is; arrays (a dict, or the tuple x_train, y_train, x_test, y_test) saved to one."""
    if isinstance(data, (str, Path)):
        if not Path(data).is_file():
            raise CodesignError(f"{data}: data file not found")
        return Path(data).resolve()
    if isinstance(data, (tuple, list)) and len(data) in (2, 4):  # (x_train, x_test) for an autoencoder
        keys = ("x_train", "y_train", "x_test", "y_test") if len(data) == 4 else ("x_train", "x_test")
        data = dict(zip(keys, data))
    if not isinstance(data, dict):
        raise CodesignError("data: expected an .npz path, a dict of arrays, (x_train, y_train, x_test, y_test) "
                            "or (x_train, x_test)")
    path = folder / "data.npz"
    np.savez(path, **{k: np.asarray(v) for k, v in data.items()})
    return path


def search(model, data, target=None, *, task: str = "classification", budget: str = "lut=0.05",
           algorithm: str = "nsga2", trials: int = 20,
           finetune_epochs: int = 2, qat_epochs: int = 3, bits: int = 6, space: dict | None = None,
           halving: dict | None = None, floor: float | None = None,
           targets: list | None = None, out="codesign_out", name: str | None = None,
           progress: bool = True, log=print) -> Study:
    """Hardware-aware mixed-precision search of a user model on user data; `task`: classification (accuracy),
    regression (MSE) or autoencoder (reconstruction MSE; data without y, or y marking anomalies with 1).
    `space`: {weight_bits, activation_bits, sparsity, integer_cuts, input_bits, reuse_factors, strategies} lists
    (input_bits: the widths the FPGA may receive the inputs in, the data's type with LSBs dropped); `halving`:
    {min_epochs, eta} to train candidates by successive halving (more candidates for the same epochs); `floor`
    (descent): the validation accuracy (MSE) you need: the chain turns back from a step below it, and each of
    its fine-tuned steps trains `finetune_epochs`; `targets` (with a floor): higher accuracies (lower MSEs) you want
    designs at too: no step crosses one without fine-tuning.
    `algorithm`: greedy, ilp, nsga2, random or descent; the hls4ml strategy is the target's (`Target(strategy=...)`).

    `model`: a float Keras or QKeras model (object or .h5/.keras path); `data`: .npz path or arrays.
    Writes OUT/<name>/search/ (trials, Pareto CSV/PNG, search.md, best/hls_project) and returns the Study.
    """
    from .search.run import run_search

    keras = _model(model)
    name = name or keras.name
    inputs = Path(out) / name / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    model_file = inputs / "model.h5"
    keras.save(model_file)
    opts = _target(target)
    design = {
        "name": name, "task": task, "data": {"file": str(_data_file(data, inputs))},
        "model": {"file": str(model_file.resolve())},
        "quantization": {"default": {"weight_bits": bits, "bias_bits": max(bits, 8), "activation_bits": bits}},
        "target": dataclasses.asdict(opts) | {"backend": opts.backend},
        "training": {"epochs": qat_epochs, "batch_size": 64, "learning_rate": 0.001, "seed": 0},
        "search": {"algorithm": algorithm, "trials": trials, "finetune_epochs": finetune_epochs, "budget": budget,
                   **({"space": space} if space else {}), **({"halving": halving} if halving else {}),
                   **({"floor": floor} if floor is not None else {}),
                   **({"targets": list(targets)} if targets is not None else {})},
    }
    design_file = inputs / "design.yaml"
    design_file.write_text(yaml.safe_dump(design, sort_keys=False))  # `codesign search` reruns it
    if progress:
        from rich.progress import Progress

        with Progress() as bar:
            summary = run_search(design_file, Path(out), {}, None, 1, bar, log)
    else:
        summary = run_search(design_file, Path(out), {}, None, 1, None, log)
    folder = ReportLayout(out, name).search
    return Study(folder, summary["best"], summary["pareto_lut_equivalent"], summary)
