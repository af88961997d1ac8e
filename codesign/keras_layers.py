"""The Keras layer classes codesign quantizes, and the one way to reach a quantized layer's kernel.

`quantize.py` turns each float class into its QKeras twin; the search, pruning, sensitivity, PTQ and analysis read
the same twins (a list kept per module once left QDepthwiseConv2D out of the search). A depthwise convolution keeps
its kernel as `depthwise_kernel` with `depthwise_quantizer`; the others as `kernel` with `kernel_quantizer`.
"""

from __future__ import annotations

import numpy as np

QUANTIZED = {"Dense": "QDense", "Conv1D": "QConv1D", "Conv2D": "QConv2D", "DepthwiseConv2D": "QDepthwiseConv2D"}
FLOAT_OF = {q: f for f, q in QUANTIZED.items()}  # QKeras class -> the float Keras class it quantizes
QKERAS_MACS = tuple(QUANTIZED.values())  # the quantized MAC layers codesign makes, searches and prunes


def is_quantized_mac(layer) -> bool:
    return type(layer).__name__ in QKERAS_MACS


def kernel(layer):
    """The layer's kernel variable (depthwise_kernel for a depthwise convolution)."""
    return layer.depthwise_kernel if hasattr(layer, "depthwise_kernel") else layer.kernel


def has_kernel(layer) -> bool:
    return hasattr(layer, "depthwise_kernel") or hasattr(layer, "kernel")


def quantized_kernel(layer) -> np.ndarray:
    """The kernel as the layer computes with it: through its QKeras quantizer."""
    quantizer = getattr(layer, "depthwise_quantizer_internal", None) or layer.kernel_quantizer_internal
    return np.asarray(quantizer(kernel(layer)))
