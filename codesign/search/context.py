"""Everything a search process needs: design, data splits, the trained base model, the cost model."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import yaml

from hw_models import Part, load_part
from hw_models.costmodel import CostModel

from ..data import Split
from ..design import Design, load_design
from ..atomic import atomic_write_text
from ..errors import CodesignError
from ..folders import ReportLayout
from ..keras_layers import is_quantized_mac
from ..lower import Lowered, lower
from ..modelio import consumers
from .space import Budget, SearchSettings, SearchSpace, build_space, parse_budget, search_settings

BASE_MODEL = "base_qat.h5"
BASE_KEY = "base_qat.key"  # hash of what the base model was trained from (design_key)
BASE_SECTIONS = ("task", "data", "model", "quantization", "training")


def _digest(*chunks: bytes) -> str:
    h = hashlib.sha256()
    for chunk in chunks:
        h.update(len(chunk).to_bytes(8, "little") + chunk)
    return h.hexdigest()[:16]


def design_key(design: Design, sections: tuple[str, ...] = BASE_SECTIONS) -> str:
    """Hash of the design sections (and the user's model and data files) a cached result depends on."""
    raw = yaml.safe_load(design.path.read_text()) or {}
    files = [design.model_file, design.model_weights, design.data_file, *(design.data_arrays or {}).values()]
    return _digest(json.dumps({k: raw.get(k) for k in sections}, sort_keys=True, default=str).encode(),
                   *(Path(f).read_bytes() for f in files if f is not None))


@dataclass
class Context:
    design: Design
    settings: SearchSettings
    space: SearchSpace
    budget: Budget
    part: Part
    split: Split           # x_train here is the fine-tuning part; x_val/y_val the held-out selection split
    x_val: np.ndarray
    y_val: np.ndarray
    base_model: object
    cost_model: CostModel
    folder: Path
    lowered: Lowered       # the base model lowered once; candidates re-quantize its weights (candidate.py)
    float_model: object    # the architecture candidates are quantized from (pipeline.qkeras_model)
    activation_of: dict[str, str] = field(default_factory=dict)  # MAC layer -> its searched activation layer
    inputs: dict = field(default_factory=dict)  # input width -> its CandidateInputs (search/inputs.py)


def searched_layers(model) -> tuple[list[str], dict[str, str]]:
    """(quantized MAC layers, {MAC layer: its activation layer} for those whose activation is searched: a
    QActivation that is the layer's only consumer, whatever its name)."""
    macs = [layer for layer in model.layers if is_quantized_mac(layer)]
    acts = {}
    for layer in macs:
        after = consumers(layer)
        if len(after) == 1 and type(after[0]).__name__ == "QActivation":
            acts[layer.name] = after[0].name
    return [m.name for m in macs], acts


def _splits(design: Design) -> tuple[Split, np.ndarray, np.ndarray]:
    """(fine-tuning split, x_val, y_val): the user's validation arrays, else 20% of train held out (stratified)."""
    from sklearn.model_selection import train_test_split

    from ..pipeline import design_split

    split = design_split(design)
    if split.x_val is not None:
        return split, split.x_val, split.y_val
    if split.y_train is None:  # an autoencoder without labels
        xtr, xval = train_test_split(split.x_train, test_size=0.2, random_state=design.training.seed)
        ytr = yval = None
    else:
        stratify = design.task.stratify(split.y_train)
        xtr, xval, ytr, yval = train_test_split(split.x_train, split.y_train, test_size=0.2,
                                                random_state=design.training.seed, stratify=stratify)
    fine = Split(xtr, ytr, split.x_test, split.y_test, split.input_spec, split.n_classes)
    return fine, xval, yval


def with_strategy(design: Design, strategy: str | None) -> Design:
    """The design with `search --strategy` (the hls4ml strategy of every candidate) as its target.strategy."""
    if strategy is None:
        return design
    try:
        return replace(design, export=replace(design.export, strategy=strategy))
    except CodesignError as exc:
        raise CodesignError(str(exc).replace("target.strategy", "--strategy")) from None


def prepare(design_path: str | Path, out_root: str | Path, overrides: dict, train_base: bool, log=print,
            progress=None) -> Context:
    from ..modelio import load_model
    from ..pipeline import float_model, qkeras_model, train_design
    from ..quantize import is_qkeras

    design = with_strategy(load_design(design_path), overrides.get("hls_strategy"))
    settings = search_settings(design.path, design.extra.get("search") or {}, overrides)
    part = load_part(design.export.part)
    budget = parse_budget(settings.budget, part, design.export.clock_ns,
                          "--budget" if overrides.get("budget") else f"{design.path}: search.budget")
    if settings.budget_on == "upper":
        budget = replace(budget, upper=True)
    folder = ReportLayout(out_root, design.name).search
    folder.mkdir(parents=True, exist_ok=True)
    split, x_val, y_val = _splits(design)
    base_file = folder / BASE_MODEL
    key = design_key(design)
    if base_file.is_file() and (folder / BASE_KEY).is_file() and (folder / BASE_KEY).read_text().strip() != key:
        raise CodesignError(f"{folder}: made from another version of {design.path} (its task, data, model, "
                            "quantization or training changed, or the model/data files); remove that folder or "
                            "choose another --out")
    net = float_model(design, split)
    if design.model_file is not None and is_qkeras(net):
        raise CodesignError(f"{design.model_file}: a QKeras model; `codesign search` chooses every layer's bits "
                            "itself and needs the float Keras model (`codesign run` fine-tunes and exports a QKeras "
                            "model as it is)")
    if base_file.is_file():
        log(f"- base model: {base_file}")
        base = load_model(base_file)
        if design.model_file is not None:  # the resolved bits and input grid, as when it was trained
            _, design = qkeras_model(design, net, split)
    elif not train_base:
        raise CodesignError(f"{base_file}: no trained base model; start the study with `codesign search` first")
    else:
        log("- training the base model (float baseline, then QAT)")
        _, _, base, acc, secs, design = train_design(design, progress, split=split)  # validation split held out
        log(f"  base QAT {design.task.metric} {acc['qat']:.4g} on the test split ({secs:.0f} s)")
        tmp = base_file.with_suffix(".tmp.h5")
        base.save(tmp)
        tmp.replace(base_file)
        atomic_write_text(folder / BASE_KEY, key + "\n")
    x_val = split.input_spec.quantize(x_val).astype(np.float32)  # the grid the FPGA receives (idempotent)
    macs, acts = searched_layers(base)
    space = build_space(settings, design.path, macs, list(acts), split.input_spec)
    from ..estimate import cost_model_for

    log("- parsing the hls4ml graph for the cost model")
    cost = cost_model_for(base, design.export, split.input_spec)
    cost.input_spec = split.input_spec
    (folder / "space.json").write_text(json.dumps({k: list(v) for k, v in space.params().items()}, indent=1))
    return Context(design, settings, space, budget, part, split, x_val, y_val, base, cost, folder, lower(base), net,
                   acts)
