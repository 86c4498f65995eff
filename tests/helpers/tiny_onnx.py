"""A tiny CNN (ONNX, built with onnx.helper) for the sweep tests: stem conv, SiLU, depthwise, pointwise,
pooling, classifier. Loads in milliseconds, no torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, save

from sramflow.frontend.onnx_import import import_onnx
from sramflow.ir.graph import Graph


def _init(name: str, shape: tuple[int, ...], rng: np.random.Generator) -> object:
    data = rng.standard_normal(int(np.prod(shape))).astype(np.float32)
    return helper.make_tensor(name, TensorProto.FLOAT, list(shape), data.tolist())


def write_tiny_onnx(path: Path, resolution: int = 16) -> Path:
    rng = np.random.default_rng(0)
    inits = [_init("w0", (8, 3, 3, 3), rng), _init("b0", (8,), rng), _init("w1", (8, 1, 3, 3), rng),
             _init("b1", (8,), rng), _init("w2", (16, 8, 1, 1), rng), _init("b2", (16,), rng),
             _init("wf", (7, 16), rng), _init("bf", (7,), rng)]
    nodes = [
        helper.make_node("Conv", ["x", "w0", "b0"], ["c0"], name="stem", kernel_shape=[3, 3], strides=[2, 2],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Sigmoid", ["c0"], ["s0"], name="sig"),
        helper.make_node("Mul", ["c0", "s0"], ["a0"], name="silu"),
        helper.make_node("Conv", ["a0", "w1", "b1"], ["c1"], name="dw", kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                         group=8),
        helper.make_node("Conv", ["c1", "w2", "b2"], ["c2"], name="pw", kernel_shape=[1, 1]),
        helper.make_node("GlobalAveragePool", ["c2"], ["p"], name="pool"),
        helper.make_node("Flatten", ["p"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "wf", "bf"], ["y"], name="fc", transB=1),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, resolution, resolution])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph(nodes, "tiny", [x], [y], initializer=inits)
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]), str(path))
    return path


def tiny_onnx_graph(tmp: Path) -> Graph:
    return import_onnx(write_tiny_onnx(tmp / "tiny.onnx"))
