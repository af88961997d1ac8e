"""Design files (designs/*.yaml): model + data + quantization + target + training budget."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from hw_models import UnknownPartError, load_part

from .errors import CodesignError
from .export import IO_TYPES, STRATEGIES, ExportOptions

BUILDERS = ("mlp", "cnn")
DATASETS = ("digits", "mnist")
WEIGHT_QUANTIZERS = ("bits", "po2")


@dataclass(frozen=True)
class LayerQuant:
    """Bits of one layer; QKeras conventions (integer excludes the sign bit)."""

    weight_bits: int = 8
    weight_integer: int = 0
    weight_quantizer: str = "bits"
    bias_bits: int = 8
    bias_integer: int = 2
    activation_bits: int = 8
    activation_integer: int = 2


@dataclass(frozen=True)
class Training:
    epochs: int = 20
    batch_size: int = 64
    learning_rate: float = 0.003
    seed: int = 0


@dataclass(frozen=True)
class Design:
    name: str
    path: Path
    dataset: str
    builder: str
    model: dict[str, Any]
    default_quant: LayerQuant
    layer_quant: dict[str, LayerQuant]
    export: ExportOptions
    training: Training
    test_fraction: float = 0.2
    extra: dict = field(default_factory=dict)

    def quant_for(self, layer: str) -> LayerQuant:
        return self.layer_quant.get(layer, self.default_quant)


def _fail(path: Path, where: str, msg: str):
    raise CodesignError(f"{path}: {where}: {msg}")


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
    return q


def export_options(path: Path, target: dict) -> ExportOptions:
    opts = _dataclass_from(path, "target", ExportOptions, target)
    try:
        load_part(opts.part)
    except UnknownPartError as exc:
        _fail(path, "target.part", str(exc))
    if opts.io_type not in IO_TYPES:
        _fail(path, "target.io_type", f"{opts.io_type!r}; allowed: {', '.join(IO_TYPES)}")
    if opts.strategy not in STRATEGIES:
        _fail(path, "target.strategy", f"{opts.strategy!r}; allowed: {', '.join(STRATEGIES)}")
    if opts.reuse_factor < 1 or opts.clock_ns <= 0:
        _fail(path, "target", "reuse_factor must be >= 1 and clock_ns > 0")
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
    data, model = _section(path, raw, "data"), _section(path, raw, "model")
    if data.get("name") not in DATASETS:
        _fail(path, "data.name", f"{data.get('name')!r}; allowed: {', '.join(DATASETS)}")
    if model.get("builder") not in BUILDERS:
        _fail(path, "model.builder", f"{model.get('builder')!r}; allowed: {', '.join(BUILDERS)}")
    quant = _section(path, raw, "quantization", required=False)
    default = _quant(path, "quantization.default", quant.get("default") or {})
    layers_raw = quant.get("layers") or {}
    if not isinstance(layers_raw, dict):
        _fail(path, "quantization.layers", "must map layer names to bit settings")
    layers = {k: _quant(path, f"quantization.layers.{k}", v or {}, default) for k, v in layers_raw.items()}
    test_fraction = data.get("test_fraction", 0.2)
    if not (isinstance(test_fraction, float) and 0.05 <= test_fraction <= 0.5):
        _fail(path, "data.test_fraction", f"{test_fraction!r}; allowed: a number in 0.05..0.5")
    return Design(
        name=str(raw.get("name") or path.stem), path=path, dataset=data["name"], builder=model["builder"],
        model={k: v for k, v in model.items() if k != "builder"}, default_quant=default, layer_quant=layers,
        export=export_options(path, _section(path, raw, "target")),
        training=_dataclass_from(path, "training", Training, _section(path, raw, "training", required=False)),
        test_fraction=test_fraction,
        extra={"search": _section(path, raw, "search", required=False)},
    )
