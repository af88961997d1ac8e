"""The network as hls4ml io_stream builds it: one kernel per layer, reused over every window of its input.

hls4ml's io_stream convolution (nnet_conv2d_stream.h, nnet_sepconv_stream.h) shifts pixels through a
line buffer and computes one output pixel at a time with one instance of the layer's kernel; pooling
does the same with its window; Dense and activations read one pixel's channels (nnet_dense_stream.h,
nnet_activation_stream.h). So the streamed RTL is one combinational (or pipelined) kernel per stage:
  - a windowed stage (Conv, Depthwise, Pooling): the values of one window -> one output pixel;
  - a pixel stage (Dense, BatchNormalization, activations, Add): one pixel's channels -> its outputs;
  - elementwise layers right after a stage are fused into it (their only reader is that layer);
  - layers that only move values (Flatten, Reshape, ZeroPadding, UpSampling, Concatenate) are wiring and
    are applied to the simulated values in numpy.
Each kernel is synthesized alone, and simulated by Verilator on every window of its input as the stream
presents them, the previous kernel's RTL outputs feeding the next: the final outputs are the RTL's own.
Not built: line buffers and FIFOs (memory; `line_buffer_bits` counts the line buffers' bits).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from hw_models.layers import line_buffer_bits

from ..errors import CodesignError
from ..precision import LayerKind, LayerPrecision, TypedGraph
from .network import ELEMENTWISE, input_spec_of, move_values, pool_geometry, windows

WINDOWED = (LayerKind.CONV, LayerKind.DEPTHWISE, LayerKind.MAX_POOL, LayerKind.AVG_POOL)
WIRING = (LayerKind.RESHAPE, LayerKind.CONCATENATE)


def stream_buffer_bits(kernel: tuple[int, ...], shape: tuple[int, ...], width: int) -> int:
    """The line buffer of a windowed stage over an input of this shape (H[, W], C): kernel_h - 1 rows of
    W x C values (a 1D window: kernel - 1 pixels of C values), as the cost model counts it."""
    return line_buffer_bits(kernel[0], shape[1] if len(kernel) > 1 else 1, shape[-1], width)


@dataclass
class Stage:
    """One kernel of the stream (or wiring, done in numpy)."""
    nodes: list[LayerPrecision]
    inputs: list[tuple[str, tuple[int, ...]]]  # (node, shape of what one call reads from it)
    window: tuple[int, ...] | None = None      # windowed stages: kernel/pool size, strides, padding
    strides: tuple[int, ...] = ()
    padding: str = "valid"
    wiring: bool = False
    line_buffer_bits: int = 0
    calls: int = 1                             # kernel calls per sample (output pixels)

    @property
    def name(self) -> str:
        return self.nodes[0].name

    @property
    def output(self) -> str:
        return self.nodes[-1].name

    @property
    def layers(self) -> list[str]:
        return [n.name for n in self.nodes]


def _shape(graph: TypedGraph, name: str) -> tuple[int, ...]:
    model = graph.keras_model
    layer = model.get_layer(name)
    return tuple(layer.output_shape[1:]) if name != graph.nodes[0].name else tuple(model.input_shape[1:])


def _window(graph: TypedGraph, node: LayerPrecision) -> tuple[tuple[int, ...], tuple[int, ...], str]:
    layer = graph.keras_model.get_layer(node.name)
    spatial = _shape(graph, node.inputs[0])[:-1]
    if node.kind in (LayerKind.CONV, LayerKind.DEPTHWISE):
        kernel = tuple(np.asarray(graph.lowered.weights[node.name].kernel).shape[:len(spatial)])
        return kernel, tuple(np.atleast_1d(layer.get_config()["strides"])), layer.get_config()["padding"]
    return (*pool_geometry(layer, spatial), "valid")


def plan(graph: TypedGraph) -> list[Stage]:
    """The stream's stages in order, from the typed graph (a final softmax is left out, as in `build`)."""
    nodes = [n for n in graph.nodes if n.kind is not LayerKind.SOFTMAX]
    readers: dict[str, int] = {}
    for node in nodes:
        for name in node.inputs:
            readers[name] = readers.get(name, 0) + 1
    stages: list[Stage] = []
    ending: dict[str, Stage] = {}  # kernel stages by their last node, to fuse what follows
    for node in nodes[1:]:
        feeder = ending.get(node.inputs[0])
        if node.kind in WIRING:
            stages.append(Stage([node], [(n, _shape(graph, n)) for n in node.inputs], wiring=True))
            continue
        if node.kind in ELEMENTWISE and feeder is not None and readers[feeder.output] == 1:
            del ending[feeder.output]
            stage = feeder
            stage.nodes.append(node)
        elif node.kind in WINDOWED:
            kernel, strides, padding = _window(graph, node)
            shape = _shape(graph, node.inputs[0])
            width = input_spec_of(graph, node.inputs[0]).width
            stage = Stage([node], [(node.inputs[0], kernel + shape[-1:])], kernel, strides, padding,
                          calls=int(np.prod(_shape(graph, node.name)[:-1])),
                          line_buffer_bits=stream_buffer_bits(kernel, shape, width))
            stages.append(stage)
        elif node.kind in ELEMENTWISE or node.kind in (LayerKind.DENSE, LayerKind.ADD):
            stage = Stage([node], [(n, _shape(graph, n)[-1:]) for n in node.inputs],
                          calls=int(np.prod(_shape(graph, node.inputs[0])[:-1])))
            stages.append(stage)
        else:
            raise CodesignError(f"layer '{node.name}' ({node.class_name}): not expressible in a streamed RTL")
        ending[node.name] = stage
    return stages


def batch_windows(x: np.ndarray, stage: Stage) -> np.ndarray:
    """(samples * output pixels, window values) rows: each window as the line buffer presents it."""
    rows = np.stack([windows(sample, stage.window, stage.strides, stage.padding) for sample in x])
    return rows.reshape(-1, int(np.prod(rows.shape[1 + len(stage.window):])))


def simulate(stages: list[Stage], graph: TypedGraph, xq: np.ndarray,
             run_kernel: Callable[[Stage, np.ndarray], np.ndarray]) -> np.ndarray:
    """The stream's outputs (samples, values) for inputs xq (on the input grid): each kernel stage's rows go
    through run_kernel(stage, rows) -> (rows, outputs), e.g. its Verilator simulation."""
    n = len(xq)
    values = {graph.nodes[0].name: np.asarray(xq, np.float64).reshape((n,) + _shape(graph, graph.nodes[0].name))}
    model = graph.keras_model
    for stage in stages:
        node = stage.nodes[0]
        if stage.wiring:
            layer = model.get_layer(node.name)
            other = values[node.inputs[1]] if len(node.inputs) > 1 else [None] * n
            values[node.name] = np.stack([move_values(node, layer, a, b)
                                          for a, b in zip(values[node.inputs[0]], other)])
            continue
        out_shape = _shape(graph, stage.output)
        if stage.window is not None:
            rows = batch_windows(values[node.inputs[0]], stage)
        else:
            rows = np.concatenate([values[name] for name, _ in stage.inputs], axis=-1)
            rows = rows.reshape(-1, rows.shape[-1])
        got = np.asarray(run_kernel(stage, rows), np.float64)
        values[stage.output] = got.reshape((n,) + out_shape)
    return values[stages[-1].output].reshape(n, -1)


def stream_latency(input_shape: tuple[int, ...], kernel_latencies: list[int]) -> int:
    """Cycles from the first input pixel to the last output, at one pixel per cycle: the input's pixels
    (a frame enters in that many cycles; every kernel keeps pace) plus each kernel's register stages.
    A lower bound: hls4ml's stream control and FIFO handshakes add a few cycles per layer."""
    return int(np.prod(input_shape[:-1])) + sum(kernel_latencies)
