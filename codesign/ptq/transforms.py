"""Float-model transforms that leave the function unchanged: batch-norm folding, cross-layer equalization,
high-bias absorption (Nagel et al. 2019, 'Data-free quantization through weight equalization and bias
correction'; Jacob et al. 2018 for folding)."""

from __future__ import annotations

import numpy as np

from ..errors import CodesignError
from ..modelio import clone_layer


def _dense_chain(model) -> list:
    """The model's layers in order; only single-input chains are supported."""
    for layer in model.layers:
        if isinstance(layer.input, list):
            raise CodesignError(f"layer '{layer.name}': multi-input layers are not supported by the PTQ transforms")
    return model.layers


def fold_batchnorm(model):
    """Dense/Conv -> BatchNormalization pairs become one Dense/Conv with w_fold = gamma*w/sqrt(var+eps),
    b_fold = beta + gamma*(b - mu)/sqrt(var+eps). Returns a new float model."""
    import tensorflow as tf

    layers = _dense_chain(model)
    x = inp = tf.keras.Input(model.input_shape[1:], name=layers[0].name)
    i = 1
    while i < len(layers):
        layer = layers[i]
        nxt = layers[i + 1] if i + 1 < len(layers) else None
        if isinstance(layer, (tf.keras.layers.Dense, tf.keras.layers.Conv2D, tf.keras.layers.Conv1D)) and \
                isinstance(nxt, tf.keras.layers.BatchNormalization) and layer.get_config().get("activation") in (
                    None, "linear"):  # BN(relu(Wx)) is not relu(BN-folded W x)
            w, b = (layer.get_weights() + [np.zeros(layer.get_weights()[0].shape[-1])])[:2]
            gamma, beta, mu, var = nxt.get_weights()
            scale = gamma / np.sqrt(var + nxt.epsilon)
            cfg = layer.get_config() | {"use_bias": True}
            folded = type(layer).from_config(cfg)
            x = folded(x)
            folded.set_weights([w * scale, beta + (b - mu) * scale])
            i += 2
            continue
        x = clone_layer(layer, x)
        i += 1
    return tf.keras.Model(inp, x, name=model.name + "_folded")


def _relu_pairs(model) -> list[tuple]:
    """(dense1, dense2) pairs with only a ReLU between them (folded models)."""
    import tensorflow as tf

    from ..quantize import is_relu

    layers = _dense_chain(model)
    pairs = []
    for a, act, b in zip(layers, layers[1:], layers[2:]):
        if isinstance(a, tf.keras.layers.Dense) and is_relu(act) and isinstance(b, tf.keras.layers.Dense):
            pairs.append((a, b))
    return pairs


def equalize(model, iterations: int = 4) -> list[str]:
    """Cross-layer equalization in place: s_i = sqrt(r1_i * r2_i) / r2_i, W1[:, i] /= s_i, b1[i] /= s_i,
    W2[i, :] *= s_i (ReLU is positively homogeneous). Returns the equalized pairs."""
    done = []
    for _ in range(iterations):
        for a, b in _relu_pairs(model):
            w1, b1 = a.get_weights()
            w2, b2 = b.get_weights()
            r1 = np.max(np.abs(w1), axis=0)
            r2 = np.max(np.abs(w2), axis=1)
            s = np.where((r1 > 0) & (r2 > 0), np.sqrt(r1 * r2) / np.maximum(r2, 1e-12), 1.0)
            a.set_weights([w1 / s, b1 / s])
            b.set_weights([w2 * s[:, None], b2])
            done.append(f"{a.name}->{b.name}")
    return sorted(set(done))


def absorb_high_bias(model, x_calib: np.ndarray) -> list[str]:
    """Move c_i = max(0, min over the calibration set of the pre-activation) from b1 into b2 (+ W2^T c):
    exact on every input whose pre-activations stay >= c (all calibration inputs)."""
    import tensorflow as tf

    done = []
    for a, b in _relu_pairs(model):
        pre = tf.keras.Model(model.input, a.output).predict(x_calib, verbose=0)
        c = np.maximum(0.0, pre.min(axis=0))
        if not np.any(c > 0):
            continue
        w1, b1 = a.get_weights()
        w2, b2 = b.get_weights()
        a.set_weights([w1, b1 - c])
        b.set_weights([w2, b2 + c @ w2])
        done.append(a.name)
    return done
