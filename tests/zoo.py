"""QKeras models of the kinds real projects and hls4ml's own test suite use (weights seeded, no training).

Each builder returns a model whose weights exercise the case: saturating ranges, zero weights that
po2 maps to 2^-k, kernels on unusual grids. `tests/test_coverage_slow.py` proves each one bit-exact.
"""

import numpy as np

from .models import seeded


def _dense(units, name, kq, bq=None, **kw):
    from qkeras import QDense

    return QDense(units, kernel_quantizer=kq, bias_quantizer=bq, name=name, **kw)


def public_po2():
    """The public po2 MLP of issue 9: relu(2) input, po2(4, max_value=1) kernels, 2-bit biases."""
    import tensorflow as tf
    from qkeras import QActivation, quantized_bits, quantized_po2, quantized_relu

    seeded(1)
    inp = tf.keras.Input((16,), name="x")
    h = QActivation(quantized_relu(2), name="in_relu")(inp)
    fc1 = _dense(32, "fc1", quantized_po2(4, max_value=1), quantized_bits(2, 0, alpha=1))
    h = fc1(h)
    rng = np.random.default_rng(1)
    kernel = rng.normal(0, 0.4, (16, 32)) * (rng.uniform(size=(16, 32)) > 0.2)  # 20% zeros: po2 makes them 2^-8
    fc1.set_weights([kernel, rng.normal(0, 0.5, 32)])
    h = QActivation(quantized_relu(3, 1), name="relu1")(h)
    h = _dense(5, "fc2", quantized_bits(4, 0, alpha=1), quantized_bits(4, 0, alpha=1))(h)
    return tf.keras.Model(inp, tf.keras.layers.Activation("softmax", name="softmax")(h))


def odd_grids():
    """keep_negative=False kernels, quantized_bits(1,0) (+-1), quantized_bits(4,4) (step 2) weights and activation."""
    import tensorflow as tf
    from qkeras import QActivation, quantized_bits

    seeded(2)
    inp = tf.keras.Input((12,), name="x")
    h = _dense(16, "unsigned", quantized_bits(3, 1, keep_negative=False, alpha=1), quantized_bits(6, 2, alpha=1))(inp)
    h = QActivation(quantized_bits(6, 2, alpha=1), name="q1")(h)
    h = _dense(16, "sign", quantized_bits(1, 0, alpha=1), quantized_bits(4, 4, alpha=1))(h)
    h = QActivation(quantized_bits(4, 4, alpha=1), name="coarse")(h)
    h = _dense(8, "wide", quantized_bits(4, 4, alpha=1), quantized_bits(8, 3, alpha=1, symmetric=True))(h)
    h = QActivation(quantized_bits(5, 3, alpha=1, symmetric=True), name="sym")(h)
    h = _dense(4, "big", quantized_bits(4, 4, alpha=1), quantized_bits(4, 4, alpha=1))(h)
    # 2 bits, integer 5: a step of 16 (fixed<2,6>, whose to_string() prints 0: the test bench prints to_double())
    return tf.keras.Model(inp, QActivation(quantized_bits(2, 5, alpha=1), name="step16")(h))


def binary_ternary():
    """Binary and ternary kernels, BatchNormalization between Dense and activation (relu, then sign), auto_po2."""
    import tensorflow as tf
    from qkeras import QActivation, binary, quantized_bits, quantized_relu, ternary

    seeded(3)
    inp = tf.keras.Input((16,), name="x")
    h = _dense(24, "bin", binary(alpha=1), quantized_bits(6, 2, alpha=1))(inp)
    bn = tf.keras.layers.BatchNormalization(name="bn")
    h = bn(h)
    rng = np.random.default_rng(3)
    # parameters on a power-of-two grid: hls4ml's float32 scale/bias then equal Keras's exactly
    bn.set_weights([2.0 ** rng.integers(-2, 2, 24), np.round(rng.normal(0, 2, 24) * 4) / 4,
                    np.round(rng.normal(0, 2, 24) * 4) / 4, 4.0 ** rng.integers(-1, 2, 24) - 1e-3])
    h = QActivation(quantized_relu(4, 2), name="relu1")(h)
    h = _dense(16, "ter", ternary(alpha=1, threshold=0.4), quantized_bits(6, 2, alpha=1))(h)
    bn2 = tf.keras.layers.BatchNormalization(name="bn2")  # then a sign: hls4ml would fuse it (bn_quant.py)
    h = bn2(h)
    # TF's float32 rsqrt is approximate on AVX-512 CPUs (rsqrt(1.0) = 0.99999988), so Keras's BatchNormalization
    # can land 1 ulp off the exact value hls4ml computes: beta sits 2^-9 off the 2^-6 grid the other terms land
    # on, so no output is exactly 0, where the sign below would depend on that ulp
    bn2.set_weights([2.0 ** rng.integers(-2, 2, 16) * rng.choice([-1, 1], 16),
                     np.round(rng.normal(0, 1, 16) * 4) / 4 + 2.0 ** -9,
                     np.round(rng.normal(0, 1, 16) * 4) / 4, 4.0 ** rng.integers(-1, 2, 16) - 1e-3])
    h = QActivation(binary(alpha=1), name="sign2")(h)
    apo2 = _dense(6, "apo2", quantized_bits(4, 0, alpha="auto_po2"), quantized_bits(8, 3, alpha=1))
    h = apo2(h)
    columns = np.array([0.05, 0.2, 0.5, 1.0, 2.0, 4.0])  # per-channel ranges -> per-channel po2 scales
    apo2.set_weights([rng.normal(0, 1, (16, 6)) * columns, rng.normal(0, 1, 6)])
    return tf.keras.Model(inp, h)


def float_weights():
    """A QDense with no kernel quantizer (weights on a 2^-5 grid) and a plain Dense with relu."""
    import tensorflow as tf
    from qkeras import QActivation, quantized_bits, quantized_relu

    seeded(4)
    inp = tf.keras.Input((10,), name="x")
    d1 = _dense(12, "float_q", None, quantized_bits(6, 2, alpha=1))
    h = d1(inp)
    rng = np.random.default_rng(4)
    d1.set_weights([rng.integers(-16, 16, (10, 12)) / 32, d1.get_weights()[1]])
    h = QActivation(quantized_relu(5, 2), name="relu1")(h)
    d2 = tf.keras.layers.Dense(4, activation="relu", name="plain")
    h = d2(h)
    d2.set_weights([rng.integers(-8, 8, (12, 4)) / 8, rng.integers(-4, 4, 4) / 4])
    return tf.keras.Model(inp, h)


def depthwise_separable():
    """QDepthwiseConv2D, QSeparableConv2D and a QConv2D with its quantized activation fused in."""
    import tensorflow as tf
    from qkeras import QActivation, QConv2D, QDepthwiseConv2D, QSeparableConv2D, quantized_bits, quantized_relu

    seeded(5)
    q = quantized_bits(5, 0, alpha=1)
    inp = tf.keras.Input((8, 8, 2), name="img")
    h = QDepthwiseConv2D(3, depthwise_quantizer=q, bias_quantizer=quantized_bits(6, 2, alpha=1), name="dw")(inp)
    h = QActivation(quantized_relu(5, 2), name="relu1")(h)
    h = QSeparableConv2D(4, 3, depthwise_quantizer=q, pointwise_quantizer=quantized_bits(4, 0, alpha=1),
                         bias_quantizer=quantized_bits(6, 2, alpha=1), name="sep")(h)
    h = QActivation(quantized_relu(5, 2), name="relu2")(h)
    h = QConv2D(3, 1, kernel_quantizer=q, bias_quantizer=q, activation=quantized_relu(4, 1), name="pw")(h)
    h = tf.keras.layers.Flatten(name="flat")(h)
    return tf.keras.Model(inp, h)


def resnet():
    """A ResNet-8-like block (MLPerf Tiny): Add and Concatenate skips, global average pooling."""
    import tensorflow as tf
    from qkeras import QActivation, QConv2D, quantized_bits, quantized_relu

    seeded(6)
    wq = dict(kernel_quantizer=quantized_bits(5, 0, alpha=1), bias_quantizer=quantized_bits(6, 2, alpha=1))
    inp = tf.keras.Input((8, 8, 3), name="img")
    h = QConv2D(4, 3, padding="same", name="stem", **wq)(inp)
    h = QActivation(quantized_relu(5, 2), name="relu0")(h)
    r = QConv2D(4, 3, padding="same", name="c1", **wq)(h)
    r = QActivation(quantized_relu(5, 2), name="relu1")(r)
    r = QConv2D(4, 3, padding="same", name="c2", **wq)(r)
    r = QActivation(quantized_bits(6, 2, alpha=1), name="q2")(r)
    h = tf.keras.layers.Add(name="add")([h, r])
    h = QActivation(quantized_relu(5, 2), name="relu2")(h)
    s = QConv2D(2, 1, name="side", **wq)(h)
    s = QActivation(quantized_relu(4, 1), name="relu3")(s)
    h = tf.keras.layers.Concatenate(name="cat")([h, s])
    h = tf.keras.layers.GlobalAveragePooling2D(name="gap")(h)
    h = _dense(5, "head", quantized_bits(5, 0, alpha=1), quantized_bits(6, 2, alpha=1))(h)
    return tf.keras.Model(inp, h)


def reshaping():
    """ZeroPadding2D, UpSampling2D, AveragePooling2D, Reshape and Dropout around convolutions."""
    import tensorflow as tf
    from qkeras import QActivation, QConv2D, quantized_bits, quantized_relu

    seeded(7)
    wq = dict(kernel_quantizer=quantized_bits(5, 0, alpha=1), bias_quantizer=quantized_bits(6, 2, alpha=1))
    inp = tf.keras.Input((4, 4, 2), name="img")
    h = tf.keras.layers.ZeroPadding2D(1, name="pad")(inp)
    h = QConv2D(3, 3, name="c1", **wq)(h)
    h = QActivation(quantized_relu(5, 2), name="relu1")(h)
    h = tf.keras.layers.UpSampling2D(2, name="up")(h)
    h = tf.keras.layers.AveragePooling2D(2, name="avg")(h)
    h = tf.keras.layers.Dropout(0.2, name="drop")(h)
    h = tf.keras.layers.Reshape((16, 3), name="reshape")(h)
    h = tf.keras.layers.Flatten(name="flat")(h)
    h = _dense(4, "head", quantized_bits(5, 0, alpha=1), quantized_bits(6, 2, alpha=1))(h)
    return tf.keras.Model(inp, h)


def inputs(shape, n=160, seed=0, signed=False):
    """Typical inputs, a block scaled 8x that drives every quantizer into saturation, and 4 zero rows."""
    rng = np.random.default_rng(seed)
    typical = rng.uniform(-1 if signed else 0, 1, size=(n, *shape))
    return np.concatenate([typical, 8 * typical[: n // 4], np.zeros((4, *shape))]).astype(np.float32)


def sign_sigmoid():
    """Sign activations (quantized_bits(1), binary fused into a QDense) and a hard quantized_sigmoid."""
    import tensorflow as tf
    from qkeras import QActivation, binary, quantized_bits, quantized_sigmoid

    seeded(8)
    inp = tf.keras.Input((10,), name="x")
    fc1 = _dense(12, "fc1", quantized_bits(4, 0, alpha=1), quantized_bits(4, 1, alpha=1))
    h = fc1(inp)
    rng = np.random.default_rng(8)
    fc1.set_weights([rng.normal(0, 0.5, (10, 12)), np.r_[np.zeros(6), rng.normal(0, 1, 6)]])  # zero rows -> sign(0)
    h = QActivation(quantized_bits(1, 0, alpha=1), name="sign1")(h)
    h = _dense(8, "fc2", binary(alpha=1), quantized_bits(3, 2, alpha=1), activation=binary(alpha=1))(h)
    h = _dense(6, "fc3", quantized_bits(4, 0, alpha=1), quantized_bits(4, 1, alpha=1))(h)
    return tf.keras.Model(inp, QActivation(quantized_sigmoid(4), name="sig")(h))


def folded_batchnorm():
    """QConv2DBatchnorm (BatchNormalization folded into the quantized kernel) and QBatchNormalization."""
    import tensorflow as tf
    from qkeras import QActivation, QBatchNormalization, QConv2DBatchnorm, quantized_bits, quantized_relu

    seeded(9)
    inp = tf.keras.Input((6, 6, 2), name="img")
    conv = QConv2DBatchnorm(4, 3, kernel_quantizer=quantized_bits(6, 0, alpha=1),
                            bias_quantizer=quantized_bits(8, 3, alpha=1), name="convbn")
    h = conv(inp)
    rng = np.random.default_rng(9)
    bn = conv.batchnorm
    bn.set_weights([rng.uniform(0.5, 2, 4), rng.normal(0, 0.5, 4), rng.normal(0, 0.5, 4), rng.uniform(0.3, 2, 4)])
    h = QActivation(quantized_relu(5, 2), name="relu1")(h)
    h = tf.keras.layers.Flatten(name="flat")(h)
    h = _dense(8, "fc", quantized_bits(5, 0, alpha=1), quantized_bits(6, 2, alpha=1))(h)
    qbn = QBatchNormalization(name="qbn")  # QKeras defaults: po2 gamma/beta, po2 variance with even exponents
    h = qbn(h)
    qbn.set_weights([rng.uniform(0.5, 2, 8), rng.normal(0, 0.5, 8), rng.normal(0, 0.5, 8), rng.uniform(0.3, 2, 8)])
    return tf.keras.Model(inp, QActivation(quantized_bits(6, 2, alpha=1), name="q")(h))


def conv1d_separable():
    """QConv1D, QSeparableConv1D, MaxPooling1D, UpSampling1D and GlobalAveragePooling1D (keyword-spotting style)."""
    import tensorflow as tf
    from qkeras import QActivation, QConv1D, QSeparableConv1D, quantized_bits, quantized_relu

    seeded(10)
    q = quantized_bits(5, 0, alpha=1)
    inp = tf.keras.Input((16, 3), name="seq")
    h = QConv1D(4, 3, padding="same", kernel_quantizer=q, bias_quantizer=quantized_bits(6, 2, alpha=1),
                name="c1")(inp)
    h = tf.keras.layers.MaxPooling1D(2, name="pool")(h)  # on the 13-fraction-bit accumulator: accum_t must hold it
    h = QActivation(quantized_relu(5, 2), name="relu1")(h)
    h = QSeparableConv1D(4, 3, depthwise_quantizer=q, pointwise_quantizer=quantized_bits(4, 0, alpha=1),
                         bias_quantizer=quantized_bits(6, 2, alpha=1), padding="same", name="sep")(h)
    h = QActivation(quantized_relu(5, 2), name="relu2")(h)
    h = tf.keras.layers.UpSampling1D(2, name="up")(h)
    h = tf.keras.layers.GlobalAveragePooling1D(name="gap")(h)
    return tf.keras.Model(inp, h)


def composite_activations():
    """Activations hls4ml has no exact single layer for, side by side at the output: binary_tanh (0 -> -1)
    after a BatchNormalization, ternary (threshold ties hit exactly; one fused into a QDense with
    alpha 0.5), leaky quantized_relu (inputs far below -2^integer), a symmetric quantized_sigmoid and
    use_real_sigmoid / use_real_tanh ones (hls4ml's tables; inputs to +-16 reach both clamped ends).
    Zero kernel columns with biases 0, +-0.25, +-0.5 put values exactly on the thresholds."""
    import tensorflow as tf
    from qkeras import QActivation, quantized_bits, quantized_relu, quantized_sigmoid, quantized_tanh, ternary

    seeded(10)
    rng = np.random.default_rng(10)

    def tied(layer, units, ties):
        kernel = rng.normal(0, 0.5, (8, units))
        kernel[:, : len(ties)] = 0.0
        layer.set_weights([kernel, np.r_[ties, rng.normal(0, 0.5, units - len(ties))]])

    inp = tf.keras.Input((8,), name="x")
    fc1 = _dense(10, "fc1", quantized_bits(5, 0, alpha=1), quantized_bits(6, 2, alpha=1))
    h = fc1(inp)
    tied(fc1, 10, [0.0, 0.5, -0.5, 0.25, -0.25])
    bn = tf.keras.layers.BatchNormalization(name="bn")
    b = bn(h)
    bn.set_weights([np.full(10, 1.5), np.zeros(10), np.zeros(10), np.full(10, 1 - bn.epsilon)])
    fc2 = _dense(6, "fc2", quantized_bits(4, 0, alpha=1), quantized_bits(6, 2, alpha=1),
                 activation=ternary(alpha=0.5, threshold=0.25))
    fused = fc2(inp)
    tied(fc2, 6, [0.0, 0.25, -0.25, 0.125])
    pre = QActivation(quantized_bits(8, 4, alpha=1), name="pre")(h)
    branches = [QActivation("binary_tanh", name="btanh")(b),
                QActivation(ternary(threshold=0.5), name="tern")(h),
                QActivation(quantized_relu(4, 1, negative_slope=0.25), name="leaky")(h),
                fused,
                QActivation(quantized_sigmoid(3, symmetric=True), name="sig")(h),
                QActivation(quantized_sigmoid(4, use_real_sigmoid=True), name="rsig")(pre),
                QActivation(quantized_tanh(5, symmetric=True, use_real_tanh=True), name="rtanh")(pre)]
    out = branches[0]
    for i, branch in enumerate(branches[1:]):
        out = tf.keras.layers.Concatenate(name=f"cat{i}")([out, branch])
    return tf.keras.Model(inp, out)


def bn_chain():
    """QDense -> float BatchNormalization (trained-like parameters) -> quantized tanh / relu / hard sigmoid, three
    times: products of 40-60 bits (../shared/repro/rtl_bn_chain), exact in the C model and in the RTL."""
    import tensorflow as tf
    from qkeras import QActivation, quantized_bits, quantized_relu, quantized_sigmoid, quantized_tanh

    seeded(12)
    rng = np.random.default_rng(12)
    inp = tf.keras.Input((12,), name="x")
    h = inp
    for i, (units, act) in enumerate([(16, quantized_tanh(8, 0, 1)), (12, quantized_relu(6, 2)),
                                      (6, quantized_sigmoid(6))]):
        h = _dense(units, f"fc{i}", quantized_bits(6, 0, alpha=1), quantized_bits(8, 2, alpha=1))(h)
        bn = tf.keras.layers.BatchNormalization(name=f"bn{i}")
        h = bn(h)
        bn.set_weights([rng.uniform(0.3, 3, units) * rng.choice([-1, 1], units), rng.normal(0, 1, units),
                        rng.normal(0, 1, units), rng.uniform(0.05, 4, units)])
        h = QActivation(act, name=f"act{i}")(h)
    return tf.keras.Model(inp, h)
