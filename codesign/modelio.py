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
        why = _load_failure(path)
        if why:  # Keras's advice (a custom_object_scope) cannot help: name the layer and what is there
            raise CodesignError(why) from None
        raise CodesignError(f"{path}: cannot load model ({first})") from exc
    return functional(model, str(path))


def functional(model, where: str = "model"):
    """The model as one flat functional graph whose first layer is its InputLayer: a Sequential model leaves the
    InputLayer out of `model.layers`, and every pass here walks `layers[1:]` from the input (the same layers
    and weights, rewired); a model used as a layer (a backbone inside a Sequential) has its layers inlined, as
    hls4ml's parser flattens it (copies of its layers, same weights). A flat functional model is returned as
    it is."""
    import tensorflow as tf

    if not getattr(model, "inputs", None) and model.layers and _is_model(model.layers[0]) \
            and model.layers[0].inputs:  # Keras builds a Sequential from its first layer's input_shape only
        model.build(model.layers[0].input_shape)
    if not getattr(model, "inputs", None):
        raise CodesignError(f"{where}: a Sequential model without an input shape; give its first layer "
                            "input_shape=... or start it with tf.keras.Input(shape)")
    if any(_is_model(layer) for layer in model.layers):
        graph = _graph(model)
        inputs = [tf.keras.Input(shape=t.shape[1:], dtype=t.dtype, name=name)
                  for t, name in zip(graph.inputs, graph.input_names)]
        return tf.keras.Model(inputs, _inlined(graph, inputs, set(graph.input_names)), name=model.name)
    return _graph(model)


def _graph(model):
    """A built model as a functional graph of the same layers (a Sequential's InputLayer made explicit)."""
    import tensorflow as tf

    if model.layers and type(model.layers[0]).__name__ == "InputLayer":
        return model
    return tf.keras.Model(model.inputs, model.outputs, name=model.name)


def _is_model(layer) -> bool:
    import tensorflow as tf

    return isinstance(layer, tf.keras.Model)


def _inlined(model, inputs: list, taken: set[str]):
    """`model`'s graph replayed on `inputs` (Keras 2's Functional._run_internal_graph), every layer a fresh copy
    with its weights (named `<model>_<layer>` where its name is taken: a block used twice) and every nested
    model replayed the same way: the output tensors."""
    import tensorflow as tf

    model = _graph(model)
    usage = model._tensor_usage_count
    tensors = {str(id(x)): [y] * usage[str(id(x))] for x, y in zip(model.inputs, inputs)}
    for depth in sorted(model._nodes_by_depth, reverse=True):
        for node in model._nodes_by_depth[depth]:
            if node.is_input or any(t not in tensors for t in node.flat_input_ids):
                continue
            args, kwargs = node.map_arguments(tensors)
            layer = node.layer
            if _is_model(layer):
                outputs = _inlined(layer, tf.nest.flatten(args), taken)
            else:
                name = layer.name if layer.name not in taken else f"{model.name}_{layer.name}"
                while name in taken:
                    name += "_"
                taken.add(name)
                outputs = clone_layer(layer, *args, call_kwargs=kwargs, name=name)
            for x_id, y in zip(node.flat_output_ids, tf.nest.flatten(outputs)):
                tensors[x_id] = [y] * usage[x_id]
    out = [tensors[str(id(x))].pop() for x in model.outputs]
    return out[0] if len(out) == 1 else out


MODEL_CLASSES = ("Sequential", "Functional", "Model")  # a saved model used as a layer of another


def _config_layers(path: Path) -> list[dict]:
    """The layer entries of a saved model's config (empty where it cannot be read: the load error stands)."""
    import json
    import zipfile

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
    except Exception:  # noqa: BLE001 - not a readable config
        return []
    layers = (config.get("config") or {}).get("layers") or []
    return [L for L in layers if isinstance(L, dict)]


def _load_failure(path: Path) -> str | None:
    """Why Keras could not load `path`, where its config says more than Keras's message: a layer class neither
    tf.keras nor QKeras 0.9.0 defines, or a nested model (Keras 2.14 cannot rebuild QKeras layers inside one)."""
    import tensorflow as tf

    layers = _config_layers(path)
    known = set(custom_objects())
    for L in layers:
        cls = str(L.get("class_name"))
        if cls in MODEL_CLASSES:
            name = (L.get("config") or {}).get("name", "?")
            return (f"{path}: layer {name!r} is a nested {cls} model, which Keras 2.14 cannot load with QKeras "
                    "layers inside; save the model flat: its layers in one Sequential or functional model")
        if cls not in known and not hasattr(tf.keras.layers, cls):
            where = ("a QKeras layer newer than the QKeras codesign runs (qkeras 0.9.0)" if cls.startswith("Q")
                     else "not a Keras or QKeras 0.9.0 layer")
            return (f"{path}: layer class {cls!r} is {where}; allowed: the layers of tf.keras 2.14 and QKeras 0.9.0 "
                    "(e.g. QDense + BatchNormalization for QDenseBatchnorm)")
    return None


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


def clone_layer(layer, *inputs, call_kwargs: dict | None = None, **config_changes):
    """Apply a fresh copy of `layer` (config changes applied, weights copied) to the tensor(s) `inputs` (the call's
    positional arguments; `call_kwargs` its keyword arguments)."""
    clone = type(layer).from_config(layer.get_config() | config_changes)
    out = clone(*inputs, **(call_kwargs or {}))
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
