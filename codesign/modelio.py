"""Load (Q)Keras models from files, make their names safe for C++, split off a final softmax."""

from __future__ import annotations

import re
from pathlib import Path

from .errors import CodesignError

# Identifiers used by hls4ml's generated myproject_test.cpp / bridge, plus C++ keywords likely as names.
RESERVED = {
    "in", "pr", "fin", "fpr", "fout", "iline", "pline", "cstr", "current", "e", "i", "j", "main", "argc", "argv",
    "int", "float", "double", "char", "long", "short", "bool", "void", "auto", "const", "static", "class", "struct",
    "union", "enum", "return", "if", "else", "for", "while", "do", "switch", "case", "default", "break", "continue",
    "new", "delete", "this", "template", "typename", "namespace", "using", "public", "private", "protected",
    "virtual", "inline", "register", "signed", "unsigned", "sizeof", "typedef", "volatile", "extern", "operator",
    "and", "or", "not", "xor", "std", "nnet", "myproject",
}
MODEL_SUFFIXES = (".h5", ".keras", ".json")


def custom_objects() -> dict:
    from qkeras.utils import _add_supported_quantized_objects

    objs: dict = {}
    _add_supported_quantized_objects(objs)
    try:  # HGQ proxy models (`codesign synth` measures them too); HGQ 0.2.6 is optional
        from HGQ.proxy.fixed_point_quantizer import FixedPointQuantizer
    except ImportError:
        pass
    else:
        objs["FixedPointQuantizer"] = FixedPointQuantizer
    return objs


def load_model(path: str | Path, weights: str | Path | None = None):
    """A Keras/QKeras model from .h5/.keras, or from architecture .json plus --weights .h5."""
    import tensorflow as tf

    path = Path(path)
    if not path.is_file():
        raise CodesignError(f"{path}: model file not found")
    if path.suffix not in MODEL_SUFFIXES:
        raise CodesignError(f"{path}: unknown model format {path.suffix!r}; allowed: {', '.join(MODEL_SUFFIXES)}")
    try:
        if path.suffix == ".json":
            if weights is None:
                raise CodesignError(f"{path}: an architecture JSON needs --weights WEIGHTS.h5")
            if not Path(weights).is_file():
                raise CodesignError(f"{weights}: weights file not found")
            model = tf.keras.models.model_from_json(path.read_text(), custom_objects=custom_objects())
            model.load_weights(str(weights))
        else:
            model = tf.keras.models.load_model(str(path), custom_objects=custom_objects(), compile=False)
    except CodesignError:
        raise
    except Exception as exc:  # noqa: BLE001 - Keras raises many types for a bad file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        unknown = _unknown_classes(path)
        if unknown:  # Keras's advice (a custom_object_scope) cannot help: name the class and what is there
            cls = unknown[0]
            where = ("a QKeras layer newer than the QKeras codesign runs (qkeras 0.9.0)" if cls.startswith("Q")
                     else "not a Keras or QKeras 0.9.0 layer")
            raise CodesignError(f"{path}: layer class {cls!r} is {where}; allowed: the layers of tf.keras 2.14 "
                                "and QKeras 0.9.0 (e.g. QDense + BatchNormalization for QDenseBatchnorm)") from None
        raise CodesignError(f"{path}: cannot load model ({first})") from exc
    return functional(model, str(path))


def functional(model, where: str = "model"):
    """The model as a functional graph whose first layer is its InputLayer: a Sequential model leaves the
    InputLayer out of `model.layers`, and every pass here walks `layers[1:]` from the input (the same layers
    and weights, rewired; a functional model is returned as it is)."""
    import tensorflow as tf

    if model.layers and type(model.layers[0]).__name__ == "InputLayer":
        return model
    if not getattr(model, "inputs", None):
        raise CodesignError(f"{where}: a Sequential model without an input shape; give its first layer "
                            "input_shape=... or start it with tf.keras.Input(shape)")
    return tf.keras.Model(model.inputs, model.outputs, name=model.name)


def _unknown_classes(path: Path) -> list[str]:
    """Layer classes in a saved model's config that neither tf.keras nor QKeras 0.9.0 (nor HGQ) define."""
    import json
    import zipfile

    import tensorflow as tf

    try:
        if path.suffix == ".json":
            config = json.loads(path.read_text())
        elif path.suffix == ".keras":
            with zipfile.ZipFile(path) as archive:
                config = json.loads(archive.read("config.json"))
        else:
            import h5py

            with h5py.File(path, "r") as f:
                raw = f.attrs.get("model_config")
            config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    except Exception:  # noqa: BLE001 - not a readable config: the load error stands
        return []
    layers = (config.get("config") or {}).get("layers") or []
    known = set(custom_objects())
    return [L["class_name"] for L in layers if isinstance(L, dict) and L.get("class_name") not in known
            and not hasattr(tf.keras.layers, str(L.get("class_name")))]


def safe_name(name: str, taken: set[str]) -> str:
    base = re.sub(r"\W", "_", name)
    if base[:1].isdigit():
        base = "l_" + base
    if base in RESERVED:
        base += "_layer"
    new = base
    k = 1
    while new in taken:
        new, k = f"{base}_{k}", k + 1
    return new


def rename_for_cpp(model):
    """Rename (in place) layers whose names collide with C++ identifiers of the generated test bench.

    Returns (model, {old: new}). Weights and graph are untouched; only names change.
    """
    taken: set[str] = set()
    mapping = {}
    for layer in model.layers:
        new = safe_name(layer.name, taken)
        taken.add(new)
        if new != layer.name:
            mapping[layer.name] = new
            layer._name = new  # Keras 2: get_config() and hls4ml's parser read names from here
    nodes = getattr(model, "_network_nodes", None)
    if mapping and nodes is not None:  # Keras 2 functional graphs key their nodes as "<layer>_ib-<i>"
        model._network_nodes = {_renamed_node(key, mapping) for key in nodes}
    return model, mapping


def _renamed_node(key: str, mapping: dict[str, str]) -> str:
    name, sep, index = key.rpartition("_ib-")
    return f"{mapping.get(name, name)}{sep}{index}"


def consumers(layer) -> list:
    """The layers that take this layer's output (Keras keeps them as outbound nodes)."""
    return [node.outbound_layer for node in layer._outbound_nodes]


def is_softmax_layer(layer) -> bool:
    """A softmax over the last axis in any Keras spelling: Activation('softmax'), tf.keras.layers.Softmax(), or a
    (Q)Dense/Conv with activation='softmax'."""
    cfg = layer.get_config()
    if type(layer).__name__ == "Softmax":
        return cfg.get("axis", -1) in (-1, [-1], len(layer.input_shape) - 1)
    return cfg.get("activation") == "softmax"


def final_softmax(model) -> bool:
    """The model ends in a softmax (`is_softmax_layer`)."""
    return is_softmax_layer(model.layers[-1])


def clone_layer(layer, x, **config_changes):
    """Apply a fresh copy of `layer` (config changes applied, weights copied) to the tensor x."""
    clone = type(layer).from_config(layer.get_config() | config_changes)
    out = clone(x)
    if layer.get_weights():
        clone.set_weights(layer.get_weights())
    return out


def logits_model(model):
    """The model without its final softmax (the part that must be bit-exact)."""
    import tensorflow as tf

    last = model.layers[-1]
    if type(last).__name__ in ("Activation", "Softmax"):
        return tf.keras.Model(model.inputs, last.input, name=f"{model.name}_logits")
    return tf.keras.Model(model.inputs, clone_layer(last, last.input, activation="linear"), name=f"{model.name}_logits")
