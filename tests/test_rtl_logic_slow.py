"""The RTL's da4ml logic equals QKeras (and HGQ proxies) on the zoo, whole and streamed kernel by kernel, by
da4ml's own C++ evaluation: no Yosys or Verilator (those: test_synth_slow.py)."""

import numpy as np
import pytest

pytestmark = pytest.mark.slow
da4ml = pytest.importorskip("da4ml")

ZOO = ["public_po2", "odd_grids", "binary_ternary", "float_weights", "depthwise_separable", "reshaping",
       "sign_sigmoid", "folded_batchnorm", "conv1d_separable", "composite_activations", "bn_chain"]
STREAM_CASES = ["resnet", "reshaping", "conv1d_separable", "depthwise_separable", "composite_activations", "cnn_avg"]


@pytest.mark.parametrize("case", ZOO)
def test_zoo_logic_equals_qkeras(case):
    """The da4ml logic of every zoo model computes the QKeras logits exactly (da4ml's C++ evaluation;
    the Verilator simulation of the RTL is proven in test_synth_slow.py)."""
    from da4ml.trace import comb_trace

    from codesign.rtl.network import build
    from codesign.reference import ExactReference
    from codesign.validate import exact_core

    from . import zoo

    model = getattr(zoo, case)()
    x = zoo.inputs(model.input_shape[1:], signed=True)
    exact = exact_core(model, x)  # the logits model, its inputs on the derived input grid, its typed graph
    graph, xq = exact.graph, exact.xq
    logic = comb_trace(*build(graph))
    want = ExactReference(graph).outputs(xq).reshape(len(x), -1)
    got = np.asarray(logic.predict(xq.reshape(len(x), -1)), np.float64).reshape(want.shape)
    assert np.array_equal(got, want)


@pytest.mark.parametrize("case", STREAM_CASES)
def test_stream_kernels_over_every_window_equal_qkeras(case):
    """Each layer's kernel, traced alone and applied to every window of its input as the stream presents them,
    the previous kernel's outputs feeding the next, gives the QKeras logits exactly (da4ml's evaluation;
    Verilator in test_synth_slow.py). Covers Add, ZeroPadding/UpSampling, same padding, 1D, global pooling."""
    from da4ml.trace import comb_trace

    from codesign.rtl import stream
    from codesign.rtl.network import build_kernel
    from codesign.validate import exact_core

    from . import models, zoo

    model = models.cnn(pool="avg") if case == "cnn_avg" else getattr(zoo, case)()
    x = zoo.inputs(model.input_shape[1:], signed=True)
    exact = exact_core(model, x)  # the logits model, its inputs on the derived input grid, its typed graph
    core, graph, xq = exact.core, exact.graph, exact.xq
    stages = stream.plan(graph)
    logic = {s.name: comb_trace(*build_kernel(graph, s.nodes, s.inputs, s.window is not None))
             for s in stages if not s.wiring}
    got = stream.simulate(stages, graph, xq, lambda s, rows: np.asarray(logic[s.name].predict(rows)))
    want = np.asarray(core.predict(xq.astype(np.float32), verbose=0), np.float64).reshape(len(x), -1)
    assert np.array_equal(got, want)


@pytest.mark.parametrize("conv", [False, True])
def test_hgq_proxy_logic_equals_the_proxy(conv):
    """An HGQ proxy (per-element quantizers, RND/WRAP inputs, signed and unsigned, Conv + MaxPooling) as da4ml
    logic computes the proxy's own outputs exactly: HGQ's designs are judged by the same RTL flow."""
    pytest.importorskip("HGQ")
    from da4ml.trace import comb_trace

    from codesign.rtl import hgq

    from . import models

    proxy, x = models.hgq_proxy(conv)
    assert hgq.is_proxy(proxy)
    logic = comb_trace(*hgq.build(proxy))
    want = np.asarray(proxy(x), np.float64).reshape(len(x), -1)
    got = np.asarray(logic.predict(hgq.input_grid(proxy, x).reshape(len(x), -1)), np.float64).reshape(want.shape)
    assert np.array_equal(got, want)
    assert len(np.unique(want)) >= 3  # not a constant network (HGQ quantizes its outputs coarsely)


def test_hgq_proxy_streamed_kernels_equal_the_proxy():
    """An HGQ CNN proxy trained for io_stream (one width per layer's pixels) built as hls4ml io_stream builds it:
    one kernel per Conv/MaxPooling/Dense with its quantizers and ReLU fused, each applied to every window, gives
    the proxy's outputs exactly; a proxy with per-pixel widths cannot share one kernel and says so."""
    pytest.importorskip("HGQ")
    from da4ml.trace import comb_trace

    from codesign.errors import CodesignError
    from codesign.rtl import hgq

    from . import models

    proxy, x = models.hgq_proxy(conv=True, stream=True)
    stages = hgq.stream_plan(proxy)
    kinds = [([type(layer).__name__ for layer in s.nodes], s.calls, s.wiring) for s in stages]
    assert kinds == [(["Conv2D", "FixedPointQuantizer", "ReLU", "FixedPointQuantizer"], 36, False),
                     (["MaxPooling2D"], 9, False), (["Flatten"], 1, True), (["Dense", "FixedPointQuantizer"], 1, False)]
    logic = {s.name: comb_trace(*hgq.build_kernel(proxy, s)) for s in stages if not s.wiring}
    got = hgq.simulate_stream(stages, proxy, hgq.input_grid(proxy, x),
                              lambda s, rows: np.asarray(logic[s.name].predict(rows)))
    want = np.asarray(proxy(x), np.float64).reshape(len(x), -1)
    assert np.array_equal(got, want) and len(np.unique(want)) >= 3
    per_pixel, _ = models.hgq_proxy(conv=True)
    if not all(hgq.uniform_over_pixels(layer) for layer in per_pixel.layers
               if type(layer).__name__ == "FixedPointQuantizer"):
        with pytest.raises(CodesignError, match="per-pixel bit widths; a stream kernel serves every pixel"):
            hgq.stream_plan(per_pixel)
