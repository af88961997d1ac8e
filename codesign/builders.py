"""Model builders named by design files: the float baseline and its QKeras twin share layer names."""

from __future__ import annotations

from .design import Design, LayerQuant
from .errors import CodesignError


def layer_quantizers(q: LayerQuant):
    """(kernel, bias, activation) QKeras quantizers of one design layer."""
    from qkeras import quantized_bits, quantized_po2, quantized_relu

    weight = (quantized_po2(q.weight_bits) if q.weight_quantizer == "po2"
              else quantized_bits(q.weight_bits, q.weight_integer, alpha=1))
    bias = quantized_bits(q.bias_bits, q.bias_integer, alpha=1)
    return weight, bias, quantized_relu(q.activation_bits, q.activation_integer)


class _Layers:
    """Creates float or quantized layers under one naming scheme."""

    def __init__(self, design: Design, quantized: bool):
        self.design, self.quantized = design, quantized

    def dense(self, name: str, units: int):
        import tensorflow as tf
        from qkeras import QDense

        if not self.quantized:
            return tf.keras.layers.Dense(units, name=name)
        w, b, _ = layer_quantizers(self.design.quant_for(name))
        return QDense(units, kernel_quantizer=w, bias_quantizer=b, name=name)

    def conv(self, name: str, filters: int, kernel: int):
        import tensorflow as tf
        from qkeras import QConv2D

        if not self.quantized:
            return tf.keras.layers.Conv2D(filters, kernel, name=name)
        w, b, _ = layer_quantizers(self.design.quant_for(name))
        return QConv2D(filters, kernel, kernel_quantizer=w, bias_quantizer=b, name=name)

    def relu(self, name: str, producer: str):
        import tensorflow as tf
        from qkeras import QActivation

        if not self.quantized:
            return tf.keras.layers.Activation("relu", name=name)
        return QActivation(layer_quantizers(self.design.quant_for(producer))[2], name=name)


def _int_list(design: Design, key: str, default: list[int]) -> list[int]:
    value = design.model.get(key, default)
    if not (isinstance(value, list) and all(isinstance(v, int) and v > 0 for v in value)):
        raise CodesignError(f"{design.path}: model.{key}: {value!r}; allowed: a list of positive integers")
    return value


def build_model(design: Design, input_shape: tuple[int, ...], n_classes: int, quantized: bool):
    import tensorflow as tf

    mk = _Layers(design, quantized)
    x = inputs = tf.keras.Input(input_shape, name="pixels")
    if design.builder == "cnn":
        pool_cls = {"max": tf.keras.layers.MaxPooling2D, "avg": tf.keras.layers.AveragePooling2D}
        pool = design.model.get("pool", "max")
        if pool not in pool_cls:
            raise CodesignError(f"{design.path}: model.pool: {pool!r}; allowed: max, avg")
        kernel = design.model.get("kernel", 3)
        for i, filters in enumerate(_int_list(design, "filters", [8, 16]), 1):
            x = mk.conv(f"conv{i}", filters, kernel)(x)
            x = mk.relu(f"conv{i}_relu", f"conv{i}")(x)
            x = pool_cls[pool](2, name=f"pool{i}")(x)
        x = tf.keras.layers.Flatten(name="flatten")(x)
    for i, units in enumerate(_int_list(design, "dense" if design.builder == "cnn" else "hidden", [32]), 1):
        x = mk.dense(f"fc{i}", units)(x)
        x = mk.relu(f"fc{i}_relu", f"fc{i}")(x)
    x = mk.dense("logits", n_classes)(x)
    x = tf.keras.layers.Activation("softmax", name="softmax")(x)
    return tf.keras.Model(inputs, x, name=f"{design.name}_{'qat' if quantized else 'float'}")

