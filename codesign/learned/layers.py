"""Quantizers whose bit width b and log2-step t are trained (straight-through estimator, LSQ-style
gradients through the clipping bounds; Esser et al. 2020 'LSQ', Uhlich et al. 2020 'Mixed precision DNNs').

The step is a power of two (t rounded) so the result snaps exactly to ap_fixed / QKeras quantized_bits."""

from __future__ import annotations

import tensorflow as tf


def ste_round(x):
    return x + tf.stop_gradient(tf.round(x) - x)


class _Learned:
    def _add_quant_vars(self, bits: float, log2_step: float, min_bits: int, max_bits: int):
        self.bits = self.add_weight(name="bits", shape=(), initializer=tf.constant_initializer(bits))
        self.log2_step = self.add_weight(name="log2_step", shape=(), initializer=tf.constant_initializer(log2_step))
        self.min_bits, self.max_bits = float(min_bits), float(max_bits)

    def int_bits(self):
        return ste_round(tf.clip_by_value(self.bits, self.min_bits, self.max_bits))

    def step(self):
        return tf.pow(2.0, ste_round(self.log2_step))


class LearnedReLU(tf.keras.layers.Layer, _Learned):
    """ReLU followed by an unsigned quantizer with 2^b levels of size 2^t."""

    def __init__(self, bits=8.0, log2_step=-4.0, min_bits=2, max_bits=12, **kw):
        super().__init__(**kw)
        self.init = (bits, log2_step, min_bits, max_bits)

    def build(self, shape):
        self._add_quant_vars(*self.init)

    def call(self, x):
        step = self.step()
        top = tf.pow(2.0, self.int_bits()) - 1.0
        return tf.clip_by_value(ste_round(tf.nn.relu(x) / step), 0.0, top) * step


class LearnedDense(tf.keras.layers.Dense, _Learned):
    """Dense whose kernel is quantized to b signed bits of step 2^t; `blend` in [0, 1] mixes the float and
    the quantized kernel ((1 - a) w + a q(w), alpha-blending) instead of the pure straight-through estimator."""

    def __init__(self, units, bits=8.0, log2_step=-7.0, min_bits=2, max_bits=12, **kw):
        super().__init__(units, **kw)
        self.init = (bits, log2_step, min_bits, max_bits)

    def build(self, shape):
        super().build(shape)
        self._add_quant_vars(*self.init)
        self.blend = self.add_weight(name="blend", shape=(), trainable=False, initializer="ones")

    def quantized_kernel(self):
        step = self.step()
        half = tf.pow(2.0, self.int_bits() - 1.0)
        return tf.clip_by_value(ste_round(self.kernel / step), -half, half - 1.0) * step

    def call(self, x):
        k = self.blend * self.quantized_kernel() + (1.0 - self.blend) * self.kernel
        return tf.matmul(x, k) + self.bias
