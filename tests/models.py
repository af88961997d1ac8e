"""Small QKeras models built inline for the tests (weights seeded, no training)."""

import numpy as np


def seeded(seed=0):
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)  # Python's, NumPy's and TensorFlow's: Keras draws initializer seeds from
    # Python's `random`, so NumPy's and TensorFlow's alone left the weights different in every process


def mlp(input_name="x", weight="bits", act="relu", batchnorm=False, n_in=16):
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits, quantized_po2, quantized_relu, quantized_tanh

    seeded()
    wq = quantized_po2(4) if weight == "po2" else quantized_bits(6, 0, alpha=1)
    acts = {"relu": quantized_relu(6, 2), "tanh": quantized_tanh(6), "bits": quantized_bits(6, 1, alpha=1)}
    inp = tf.keras.Input((n_in,), name=input_name)
    h = QDense(24, kernel_quantizer=wq, bias_quantizer=quantized_bits(8, 2, alpha=1), name="fc1")(inp)
    if batchnorm:
        bn = tf.keras.layers.BatchNormalization(name="bn1")
        h = bn(h)
        rng = np.random.default_rng(1)
        bn.set_weights([rng.uniform(0.5, 2, 24), rng.normal(0, 0.3, 24), rng.normal(0, 0.5, 24),
                        rng.uniform(0.3, 2, 24)])
    h = QActivation(acts[act], name="act1")(h)
    h = QDense(5, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(8, 2, alpha=1),
               name="out")(h)
    h = tf.keras.layers.Activation("softmax", name="softmax")(h)
    model = tf.keras.Model(inp, h)
    _numpy_weights(model, ("fc1", "out"))
    return model


def _numpy_weights(model, names, seed=0):
    """Glorot-uniform kernels and small biases from numpy: TF's initializers depend on how many ops the
    process built before, so the same test could see other weights in another run."""
    rng = np.random.default_rng(seed)
    for name in names:
        layer = model.get_layer(name)
        kernel, bias = layer.get_weights()
        limit = np.sqrt(6 / (kernel.shape[0] + kernel.shape[1]))
        layer.set_weights([rng.uniform(-limit, limit, kernel.shape), rng.normal(0, 0.3, bias.shape)])


def cnn(pool="max", conv1d=False):
    import tensorflow as tf
    from qkeras import QActivation, QConv1D, QConv2D, QDense, quantized_bits, quantized_relu

    seeded()
    wq = dict(kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(8, 2, alpha=1))
    pools = {"max": tf.keras.layers.MaxPooling1D if conv1d else tf.keras.layers.MaxPooling2D,
             "avg": tf.keras.layers.AveragePooling1D if conv1d else tf.keras.layers.AveragePooling2D}
    inp = tf.keras.Input((16, 2) if conv1d else (8, 8, 1), name="img")
    conv = QConv1D if conv1d else QConv2D
    h = conv(4, 3, name="conv1", **wq)(inp)
    h = QActivation(quantized_relu(6, 2), name="relu1")(h)
    h = pools[pool](2, name="pool1")(h)
    h = tf.keras.layers.Flatten(name="flat")(h)
    h = QDense(6, name="out", **wq)(h)
    return tf.keras.Model(inp, h)


def inputs(shape, n=200, seed=0):
    """Typical inputs plus a block scaled 8x that drives every quantizer into saturation."""
    rng = np.random.default_rng(seed)
    typical = rng.uniform(0, 1, size=(n, *shape))
    return np.concatenate([typical, 8 * typical[: n // 4]]).astype(np.float32)


def hgq_proxy(conv: bool = False, n: int = 300, stream: bool = False):
    """A small HGQ 0.2.6 model trained briefly and converted to its proxy (per-element fixed-point
    quantizers between plain Keras layers), with its float inputs. stream: activation widths shared by every
    pixel (HGQ's io_stream setting, skip_dims='all')."""
    from HGQ.utils.utils import get_default_paq_conf, set_default_paq_conf

    default = dict(get_default_paq_conf())
    set_default_paq_conf(default | {"skip_dims": "all"} if stream else default)
    try:
        return _hgq_proxy(conv, n)
    finally:
        set_default_paq_conf(default)


def _hgq_proxy(conv: bool, n: int):
    import tensorflow as tf
    from HGQ import FreeBOPs, ResetMinMax
    from HGQ.bops import trace_minmax
    from HGQ.layers import HConv2D, HDense, HQuantize, PFlatten, PMaxPooling2D
    from HGQ.proxy import to_proxy_model

    seeded()
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (n, 8, 8, 1)) if conv else rng.uniform(-1, 1, (n, 16))
    y = (x.reshape(n, -1).mean(1) > (0.5 if conv else 0.0)).astype(int)
    inp = tf.keras.Input(x.shape[1:], name="x")
    h = HQuantize(beta=1e-5, name="inq")(inp)
    if conv:
        h = HConv2D(4, 3, beta=1e-5, activation="relu", name="conv")(h)
        h = PFlatten(name="flat")(PMaxPooling2D(2, name="pool")(h))
    else:
        h = HDense(8, beta=1e-5, activation="relu", name="fc1")(h)
    model = tf.keras.Model(inp, HDense(2, beta=1e-5, name="out")(h))
    model.compile(tf.keras.optimizers.Adam(0.01), tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x.astype(np.float32), y, epochs=3, batch_size=32, verbose=0, callbacks=[ResetMinMax(), FreeBOPs()])
    trace_minmax(model, x.astype(np.float32), verbose=0)
    return to_proxy_model(model), x.astype(np.float32)


def float_mean_cnn(global_pool: bool = False):
    """A CNN whose average pooling averages 9 (3x3) or 36 (global 6x6) signed values: not a power of two, so
    QKeras's float mean has no fixed type and hls4ml's truncated one is proven instead (a float layer)."""
    import tensorflow as tf
    from qkeras import QActivation, QConv2D, QDense, quantized_bits

    seeded()
    wq = dict(kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 0, alpha=1))
    inp = tf.keras.Input((8, 8, 1), name="img")
    h = QConv2D(3, 3, name="conv1", **wq)(inp)
    h = QActivation(quantized_bits(6, 2, alpha=1), name="act1")(h)
    h = (tf.keras.layers.GlobalAveragePooling2D(name="pool") if global_pool
         else tf.keras.layers.AveragePooling2D(3, name="pool"))(h)
    h = tf.keras.layers.Flatten(name="flat")(h)
    h = QDense(5, name="out", **wq)(h)
    return tf.keras.Model(inp, h)
