"""One table from a layer's class to the cost model's kind (`LayerIR.kind`).

Both readers ask it: `hw_models.corpus` for the synthesis reports the coefficients are fitted on, and
`codesign.hw_graph` for the hls4ml graph a user estimates, so a layer is served as it was fitted. Class names are
hls4ml's (`Pooling2D`, `ZeroPadding2D`) or the Keras names a corpus record keeps (`MaxPooling2D`, `ZeroPadding`);
activation names are matched by prefix, as the corpus spells variants (`leaky_relu_ss`, `elu(alpha=1.0)`).
"""

from __future__ import annotations

import re

MAC = {"Dense": "dense", "Conv1D": "conv", "Conv2D": "conv", "PointwiseConv1D": "conv", "PointwiseConv2D": "conv",
       "DepthwiseConv1D": "depthwise", "DepthwiseConv2D": "depthwise"}
# wiring (io_parallel) or a stream hand-over (io_stream): no logic of its own in the reports
INPUT_CLASSES = ("Input", "InputLayer")  # a model's input layer (hls4ml's class name, Keras's)
WIRING = INPUT_CLASSES + ("Reshape", "Flatten", "Transpose", "Dropout", "Clone", "Repack")
# wiring in io_parallel; in io_stream a loop that copies (pads, repeats) every pixel (nnet_padding_stream.h)
RESHAPING = ("ZeroPadding", "UpSampling", "Resize")  # Resize: hls4ml's class of UpSampling
CASTS = ("FixedPointQuantizer",)  # HGQ's quantizer: an element-wise cast
MERGES = ("Merge", "Concatenate")  # nnet_merge.h
SCALES = ("BatchNormalization", "ApplyAlpha")  # nnet_batchnorm.h: one product and one sum per element
# activation classes whose template is a comparison or a clip, whatever their activation string
COMPARISON_CLASSES = ("HardActivation", "LeakyReLU", "PReLU", "ThresholdedReLU")
TABLE_CLASSES = ("ELU", "UnaryLUT")  # a lookup table per element (UnaryLUT: HGQ's tabulated function)
ACTIVATION_CLASSES = ("Activation", "ParametrizedActivation", *TABLE_CLASSES, *COMPARISON_CLASSES)
COMPARISONS = ("relu", "quantized_relu", "leakyrelu", "leaky_relu", "prelu", "thresholdedrelu", "hard_",
               "binary_tanh")  # a comparison or a clip per element (binary_tanh: one comparison)
TABLES = ("sigmoid", "tanh", "elu", "selu", "softplus", "softsign")  # a lookup table per element
PASSING_TABLES = ("elu", "selu")  # nnet_activation.h elu/selu: `datareg >= 0 ? datareg : table[...]`


def table_passes_input(activation: str, class_name: str = "") -> bool:
    """Whether a table activation passes its non-negative inputs through (ELU, SELU) rather than looking every
    input up (sigmoid, tanh, ...): the input is held beside the lookup (`LayerIR.table_passes`)."""
    return class_name == "ELU" or str(activation or "").lower().startswith(PASSING_TABLES)


def rounds_or_saturates(precision) -> bool:
    """Whether a type (a report's text, `ap_fixed<8,1,AP_RND_CONV,AP_SAT>`, or an hls4ml precision,
    `ufixed<8,1,RND_CONV,SAT,0>`) rounds or saturates where a value is cast to it, rather than truncating and
    wrapping (ap_fixed's defaults)."""
    text = str(precision or "").upper()
    return "RND" in text or "SAT" in text


def cast_kind(io_type: str, precision: str) -> str:
    """An element-wise cast: rounding or saturation logic per element ('relu'); one that truncates and wraps
    (ap_fixed's defaults: bit selection) is wiring in io_parallel and a copy loop over the stream in io_stream."""
    if rounds_or_saturates(precision):
        return "relu"
    return "copy" if io_type == "io_stream" else "free"


def leaky_slope(activation: str, class_name: str = "", param: float | None = None) -> float | None:
    """The negative slope of a LeakyReLU: hls4ml's `activ_param`, or the corpus's `LeakyReLU(alpha=1.0)`."""
    act = str(activation or "").lower()
    if not (class_name == "LeakyReLU" or act.startswith(("leakyrelu", "leaky_relu"))):
        return None
    if param is not None:
        return float(param)
    found = re.search(r"alpha=([-+0-9.e]+)", act)
    return float(found.group(1)) if found else None


def activation_kind(activation: str, class_name: str, io_type: str, precision: str = "",
                    param: float | None = None) -> str | None:
    """The kind of an activation layer; `precision` is its output type's text (for a linear cast), `param` hls4ml's
    `activ_param`; None when the cost model has no template for it. A LeakyReLU of slope 1 is the identity: its
    select folds away, leaving a cast (hls4ml's pytest baselines of a Dense(64) + LeakyReLU(alpha=1.0) in
    io_parallel: 381-602 LUT and 0 cycles; with ReLU 2,224-2,983)."""
    act = str(activation or "").lower()
    if leaky_slope(act, class_name, param) == 1.0:
        return cast_kind(io_type, precision)
    if class_name in COMPARISON_CLASSES or act.startswith(COMPARISONS):
        return "relu"
    if act == "linear":  # hls4ml keeps a linear activation only where it changes the type: a cast
        return cast_kind(io_type, precision)
    if act.startswith("softmax"):
        return "softmax"
    if class_name in TABLE_CLASSES or act.startswith(TABLES):
        return "table"
    return None


def global_pooling(class_name: str, function: str = "") -> bool:
    """Whether a pooling layer's window is its whole input: hls4ml's GlobalPooling1D/2D classes (Keras's
    GlobalMax/AveragePooling*), or a corpus record's `Pooling1D` whose hls_func is global_pooling1d_cl / 2d_cl."""
    return class_name.startswith("Global") or str(function or "").startswith("global_pooling")


def pool_kind(operation: str) -> str:
    """`operation`: hls4ml's pool_op (`Average`, `Max`) or a corpus record's class and name."""
    return "avg_pool" if "average" in str(operation).lower() else "max_pool"


def kind_of(class_name: str, io_type: str, activation: str = "", precision: str = "", param: float | None = None
            ) -> str | None:
    """The cost-model kind of a layer, or None when the cost model has no template for it. Pooling is returned as
    `pool` (the reader knows the operation: `pool_kind`); `param`: an activation's `activ_param`."""
    if class_name in MAC:
        return MAC[class_name]
    if class_name in WIRING:
        return "free"
    if class_name.startswith(RESHAPING):
        return "free" if io_type == "io_parallel" else "copy"
    if class_name in CASTS:
        return cast_kind(io_type, precision)
    if class_name in MERGES:
        return "merge"
    if class_name in SCALES:
        return "bn"
    if class_name == "Softmax":
        return "softmax"
    if class_name in ACTIVATION_CLASSES:
        return activation_kind(activation, class_name, io_type, precision, param)
    if "Pool" in class_name:
        return "pool"
    return None
