"""Magnitude pruning: a layer's sparsity s sets the smallest-magnitude fraction s of its kernel to exact zeros.

Zeros are exact in every representation codesign proves (QKeras quantizers map 0 to 0, hls4ml writes 0 and
leaves the product out, da4ml drops it from the adder graph), so a pruned model needs no export step of its
own: the kernel itself holds the zeros, no wrapper is left to strip, and the bit-exact proof is unchanged.

Training ramps each layer's sparsity with the cubic schedule of Zhu & Gupta 2017 ("To prune, or not to
prune", eq. 1; tensorflow-model-optimization's PolynomialDecay with power 3) over the first half of the
epochs, recomputing the mask by magnitude at each epoch start, and holds the kernel on its mask after every
optimizer step (as tfmot's prune_low_magnitude does, without a wrapper layer to save and strip).
"""

from __future__ import annotations

import math

import numpy as np

from .keras_layers import has_kernel
from .keras_layers import kernel as layer_kernel

SPARSITY_RANGE = (0.0, 0.99)  # allowed per-layer sparsity (fraction of a kernel's weights set to zero)


def magnitude_mask(kernel: np.ndarray, sparsity: float) -> np.ndarray:
    """1.0 where a weight is kept, 0.0 for the round(sparsity x n) smallest |w| (ties: the earlier index goes)."""
    kernel = np.asarray(kernel)
    n_zero = int(round(float(sparsity) * kernel.size))
    mask = np.ones(kernel.size, dtype=kernel.dtype if kernel.dtype.kind == "f" else np.float32)
    if n_zero > 0:
        order = np.argsort(np.abs(kernel).ravel(), kind="stable")
        mask[order[:n_zero]] = 0.0
    return mask.reshape(kernel.shape)


def pruned(kernel: np.ndarray, sparsity: float) -> np.ndarray:
    """The kernel with its smallest-magnitude fraction `sparsity` set to exact zeros."""
    return np.asarray(kernel) * magnitude_mask(kernel, sparsity) if sparsity else np.asarray(kernel)


def ramp(sparsity: float, epoch: int, epochs: int) -> float:
    """Sparsity at the start of `epoch` (0-based): s (1 - (1 - t)^3), t = (epoch + 1) / ceil(epochs / 2)
    clipped to 1, so the target holds from the middle epoch on (Zhu & Gupta 2017)."""
    t = min(1.0, (epoch + 1) / max(1, math.ceil(epochs / 2)))
    return float(sparsity) * (1.0 - (1.0 - t) ** 3)


def layer_sparsity(design, model) -> dict[str, float]:
    """{layer: sparsity > 0} for the model's layers with a kernel, from the design's quantization."""
    return {layer.name: design.quant_for(layer.name).sparsity for layer in model.layers
            if has_kernel(layer) and design.quant_for(layer.name).sparsity > 0}


def apply(model, sparsity: dict[str, float]) -> None:
    """Prune each named layer's kernel now, by magnitude (no training)."""
    for name, s in sparsity.items():
        kernel = layer_kernel(model.get_layer(name))
        kernel.assign(pruned(kernel.numpy(), s))


def callback(sparsity: dict[str, float], epochs: int):
    """Keras callback: ramp each layer to its sparsity during `epochs`, holding its mask after every step."""
    import tensorflow as tf

    class Pruning(tf.keras.callbacks.Callback):
        masks: dict = {}

        def on_epoch_begin(self, epoch, logs=None):
            self.masks = {}
            for name, s in sparsity.items():
                kernel = layer_kernel(self.model.get_layer(name))
                self.masks[name] = (kernel, tf.constant(magnitude_mask(kernel.numpy(), ramp(s, epoch, epochs))))
            self._hold()

        def on_train_batch_end(self, batch, logs=None):
            self._hold()

        def _hold(self):
            for kernel, mask in self.masks.values():
                kernel.assign(kernel * mask)

    return Pruning()
