"""rule4ml 0.2.0's predictions for calibration records; runs in its own virtual environment (.venv-rule4ml:
TensorFlow >= 2.15 and Keras 3, which codesign's QKeras stack cannot share). Called by rule4ml_peer.py:

    .venv-rule4ml/bin/python benchmarks/rule4ml_worker.py IN.json OUT.json

IN: [{"id", "board", "strategy", "precision", "reuse_factor", "hls4ml_version", "vivado_version", "layers"}], the
layers as the calibration corpus records them. OUT: {id: {"LUT", "FF", "DSP", "BRAM", "CYCLES"} or {"error"}}.
Only this file's standard-library and rule4ml/Keras imports: it must not import codesign.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
TARGETS = ("LUT", "FF", "DSP", "BRAM", "CYCLES")
KERAS_NAMES = {"leakyrelu": "leaky_relu"}  # hls4ml's activation names -> Keras 3's


def keras_model(rec: dict):
    """The record's network as Keras layers (shapes and activations are all rule4ml reads of them)."""
    import keras

    layers = rec["layers"]
    first = layers[0]
    shape = first.get("in_shape") or first.get("out_shape")
    inp = keras.Input(shape=tuple(shape))
    x = inp
    for L in layers[1:]:
        t, act = L["type"], L.get("activation") or None
        if t == "Dense":
            x = keras.layers.Dense(L["out_shape"][-1], name=L["name"])(x)
        elif t in ("Conv1D", "Conv2D"):
            x = getattr(keras.layers, t)(L["out_shape"][-1], tuple(L["kernel_size"]),
                                         strides=tuple(L.get("strides") or [1] * len(L["kernel_size"])),
                                         padding=L.get("padding") or "valid", name=L["name"])(x)
        elif t == "Activation":
            name = str(act).lower().split("(")[0]  # 'elu(alpha=1.0)' -> 'elu'
            name = "relu" if name.startswith(("relu", "quantized_relu")) else KERAS_NAMES.get(name, name)
            x = keras.layers.Activation(name, name=L["name"])(x)
        elif t == "BatchNormalization":
            x = keras.layers.BatchNormalization(name=L["name"])(x)
        elif t in ("Flatten", "Dropout"):
            x = keras.layers.Flatten(name=L["name"])(x) if t == "Flatten" else x
        else:
            raise ValueError(f"layer type {t}")
    model = keras.Model(inp, x, name=rec["id"][:60])
    model.build((None, *shape))
    return model


def main() -> None:
    from rule4ml.models.wrappers import MultiModelWrapper

    recs = json.loads(open(sys.argv[1]).read())
    est = MultiModelWrapper()
    est.load_default_models()
    out = {}
    for rec in recs:
        try:
            model = keras_model(rec)
            cfg = {"board": rec["board"], "model": {"strategy": rec["strategy"], "precision": rec["precision"],
                                                    "reuse_factor": rec["reuse_factor"]}}
            df = est.predict(model, hls_configs=cfg, hls4ml_versions=rec["hls4ml_version"],
                             vivado_versions=rec["vivado_version"])
            out[rec["id"]] = {k: float(df[k].median()) for k in TARGETS if k in df}
        except Exception as exc:  # noqa: BLE001 - a record rule4ml cannot take is reported, not fatal
            out[rec["id"]] = {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    with open(sys.argv[2], "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
