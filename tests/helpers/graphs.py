"""Small IR graphs built by hand (no torch, no ONNX), random weights for them, and their INT8 quantization."""

from __future__ import annotations

import dataclasses

import numpy as np

from sramflow.ir.graph import Graph, Node
from sramflow.quant.api import quantize_graph
from sramflow.reference.run import quantize_input


def tiny_graph() -> Graph:
    """Conv 3x3, SiLU, squeeze-excite style pool x multiply, residual add, pool and classifier on a 6x6 input."""
    conv = {"kernel": (3, 3), "strides": (1, 1), "dilations": (1, 1), "pads": (1, 1, 1, 1), "groups": 1}
    nodes = (
        Node("c", "Conv", ("x",), "y", conv, {"W": np.ones((4, 3, 3, 3), np.float32), "B": np.zeros(4, np.float32)}),
        Node("s", "Sigmoid", ("y",), "ys"),
        Node("m", "Mul", ("y", "ys"), "z"),
        Node("p", "GlobalAveragePool", ("z",), "g"),
        Node("se", "Mul", ("z", "g"), "u"),
        Node("a", "Add", ("u", "z"), "v"),
        Node("p2", "GlobalAveragePool", ("v",), "q"),
        Node("fc", "Gemm", ("q",), "out", {}, {"W": np.ones((3, 4), np.float32), "B": np.zeros(3, np.float32)}),
    )
    shapes = {"x": (1, 3, 6, 6), "y": (1, 4, 6, 6), "ys": (1, 4, 6, 6), "z": (1, 4, 6, 6), "g": (1, 4, 1, 1),
              "u": (1, 4, 6, 6), "v": (1, 4, 6, 6), "q": (1, 4, 1, 1), "out": (1, 3)}
    return Graph("tiny", "x", "out", shapes, nodes)


def conv_graph(c: int = 6, k: int = 4, hw_px: int = 5) -> Graph:
    """One 3x3 convolution (padding 1) with random weights and bias."""
    conv = {"kernel": (3, 3), "strides": (1, 1), "dilations": (1, 1), "pads": (1, 1, 1, 1), "groups": 1}
    rng = np.random.default_rng(1)
    node = Node("c", "Conv", ("x",), "y", conv, {"W": rng.standard_normal((k, c, 3, 3)).astype(np.float32),
                                                 "B": rng.standard_normal(k).astype(np.float32)})
    return Graph("conv", "x", "y", {"x": (1, c, hw_px, hw_px), "y": (1, k, hw_px, hw_px)}, (node,))


def randomized(g: Graph, seed: int = 0) -> Graph:
    """``g`` with standard-normal weights (``tiny_graph``'s all-ones weights make every channel alike)."""
    rng = np.random.default_rng(seed)
    nodes = tuple(dataclasses.replace(n, weights={k: rng.standard_normal(v.shape).astype(np.float32)
                                                  for k, v in n.weights.items()}) for n in g.nodes)
    return dataclasses.replace(g, nodes=nodes)


def quantized(g: Graph, seed: int = 0):  # noqa: ANN201
    """``g`` quantized on two random inputs, and the first of them quantized."""
    x = np.random.default_rng(seed).standard_normal((2, *g.shape(g.input)[1:])).astype(np.float32)
    q = quantize_graph(g, x)
    return q, quantize_input(q, x[0])


def small_conv_graph() -> Graph:
    """A 3x3 Conv, Relu, a pointwise Conv and an Add at 12x12: operands of 0.5-4.5 KiB, so SRAM levels of a few
    KiB stage some of them."""
    conv = {"kernel": (3, 3), "strides": (1, 1), "dilations": (1, 1), "pads": (1, 1, 1, 1), "groups": 1}
    pw = {"kernel": (1, 1), "strides": (1, 1), "dilations": (1, 1), "pads": (0, 0, 0, 0), "groups": 1}
    rng = np.random.default_rng(0)
    nodes = (
        Node("c", "Conv", ("x",), "y", conv, {"W": rng.normal(size=(16, 8, 3, 3)).astype(np.float32),
                                              "B": np.zeros(16, np.float32)}),
        Node("r", "Relu", ("y",), "yr"),
        Node("p", "Conv", ("yr",), "z", pw, {"W": rng.normal(size=(32, 16, 1, 1)).astype(np.float32),
                                             "B": np.zeros(32, np.float32)}),
        Node("a", "Add", ("z", "z"), "out"),
    )
    shapes = {"x": (1, 8, 12, 12), "y": (1, 16, 12, 12), "yr": (1, 16, 12, 12), "z": (1, 32, 12, 12),
              "out": (1, 32, 12, 12)}
    return Graph("small", "x", "out", shapes, nodes)


def _same_conv(k: int, groups: int = 1) -> dict:
    """Conv attributes of a stride-1 k x k convolution padded to keep the size."""
    p = k // 2
    return {"kernel": (k, k), "strides": (1, 1), "dilations": (1, 1), "pads": (p, p, p, p), "groups": groups}


def _random_wb(rng: np.random.Generator, *shape: int) -> dict:
    """Standard-normal float weights of ``shape`` and a bias per output channel."""
    return {"W": rng.standard_normal(shape).astype(np.float32), "B": rng.standard_normal(shape[0]).astype(np.float32)}


def _dw_se(rng: np.random.Generator, src: str, e: int, s: int, reduce: tuple[Node, ...], reduced: str
           ) -> tuple[Node, ...]:
    """Depthwise 3x3 + SiLU on the ``e`` channels of ``src``, then the squeeze-excite: global pool, 1x1 reduce to
    ``s`` channels followed by the ``reduce`` activation nodes (reading "r", writing ``reduced``), 1x1 expand +
    Sigmoid and the channel scale, which writes "scaled"; random weights drawn from ``rng`` in that order."""
    return (
        Node("dw", "Conv", (src,), "d", _same_conv(3, e), _random_wb(rng, e, 1, 3, 3)),
        Node("ds", "Sigmoid", ("d",), "dsig"),
        Node("dm", "Mul", ("d", "dsig"), "dact"),
        Node("gap", "GlobalAveragePool", ("dact",), "g"),
        Node("red", "Conv", ("g",), "r", _same_conv(1), _random_wb(rng, s, e, 1, 1)),
        *reduce,
        Node("sex", "Conv", (reduced,), "sx", _same_conv(1), _random_wb(rng, e, s, 1, 1)),
        Node("sg", "Sigmoid", ("sx",), "sxs"),
        Node("sc", "Mul", ("dact", "sxs"), "scaled"),
    )


def se_block_graph(res: int = 6, c: int = 4, e: int = 8, hard_swish: str = "decomposed") -> Graph:
    """An MBConv-like block with every epilogue pattern, random weights: 1x1 expand + HardSwish, depthwise 3x3 +
    SiLU, squeeze-excite (global pool, 1x1 reduce + Relu, 1x1 expand + Sigmoid, channel scale), 1x1 project, the
    residual Add, global pool and a classifier; ``c`` block channels, ``e`` expanded ones, ``res`` x ``res`` px.
    ``hard_swish``: "decomposed" (HardSigmoid and Mul, as PyTorch exports it below opset 14) or "node" (one
    HardSwish node, "hsw", as opset 14 and later export it)."""
    rng = np.random.default_rng(3)

    s = 2
    hswish = (Node("hsw", "HardSwish", ("e",), "eh"),) if hard_swish == "node" else (
        Node("hs", "HardSigmoid", ("e",), "ehs", {"alpha": 1 / 6, "beta": 0.5}),
        Node("hm", "Mul", ("e", "ehs"), "eh"))
    nodes = (
        Node("exp", "Conv", ("x",), "e", _same_conv(1), _random_wb(rng, e, c, 1, 1)),
        *hswish,
        *_dw_se(rng, "eh", e, s, (Node("rr", "Relu", ("r",), "rrl"),), "rrl"),
        Node("prj", "Conv", ("scaled",), "pj", _same_conv(1), _random_wb(rng, c, e, 1, 1)),
        Node("add", "Add", ("pj", "x"), "y"),
        Node("gp2", "GlobalAveragePool", ("y",), "q"),
        Node("fc", "Gemm", ("q",), "out", {}, {"W": rng.standard_normal((3, c)).astype(np.float32),
                                              "B": np.zeros(3, np.float32)}),
    )
    full = lambda ch: (1, ch, res, res)  # noqa: E731
    one = lambda ch: (1, ch, 1, 1)  # noqa: E731
    shapes = {"x": full(c), "e": full(e), "eh": full(e), "d": full(e), "dsig": full(e),
              "dact": full(e), "g": one(e), "r": one(s), "rrl": one(s), "sx": one(e), "sxs": one(e),
              "scaled": full(e), "pj": full(c), "y": full(c), "q": one(c), "out": (1, 3),
              **({} if hard_swish == "node" else {"ehs": full(e)})}
    return Graph("se_block", "x", "out", shapes, nodes)


def resnet_block_graph(c: int = 8, px: int = 6, act: str = "relu") -> Graph:
    """ResNet's basic block, random weights: 3x3 conv + Relu, 3x3 conv, the residual Add of the block input, the
    activation after it (``act``: "relu" or "relu6", an ONNX Clip 0..6), global pool and a classifier."""
    rng = np.random.default_rng(11)
    post = Node("ar", "Relu", ("s",), "a") if act == "relu" else Node("ar", "Clip", ("s",), "a", {"min": 0.0, "max": 6.0})
    nodes = (
        Node("c1", "Conv", ("x",), "h", _same_conv(3), _random_wb(rng, c, c, 3, 3)),
        Node("r1", "Relu", ("h",), "hr"),
        Node("c2", "Conv", ("hr",), "v", _same_conv(3), _random_wb(rng, c, c, 3, 3)),
        Node("add", "Add", ("v", "x"), "s"),
        post,
        Node("gap", "GlobalAveragePool", ("a",), "g"),
        Node("fc", "Gemm", ("g",), "out", {}, {"W": rng.standard_normal((3, c)).astype(np.float32),
                                              "B": np.zeros(3, np.float32)}),
    )
    full = (1, c, px, px)
    shapes = {"x": full, "h": full, "hr": full, "v": full, "s": full, "a": full, "g": (1, c, 1, 1), "out": (1, 3)}
    return Graph("resnet_block", "x", "out", shapes, nodes)


def pointwise_graph(c: int, k: int, px: int) -> Graph:
    """One 1x1 convolution, ``c`` -> ``k`` channels on ``px`` x ``px`` pixels, random float weights (seed 0)."""
    rng = np.random.default_rng(0)
    conv = {"kernel": (1, 1), "strides": (1, 1), "dilations": (1, 1), "pads": (0, 0, 0, 0), "groups": 1}
    node = Node("pw", "Conv", ("x",), "y", conv, {"W": rng.standard_normal((k, c, 1, 1)).astype(np.float32),
                                                  "B": rng.standard_normal(k).astype(np.float32)})
    return Graph("pw", "x", "y", {"x": (1, c, px, px), "y": (1, k, px, px)}, (node,))


def se_depthwise_graph(e: int = 1152, px: int = 7, out: int = 320, s: int = 48) -> Graph:
    """B0's last block without its expand: depthwise 3x3 + SiLU on ``e`` channels of ``px`` x ``px``, the SE (pool,
    reduce + SiLU, expand + Sigmoid, channel scale) and the 1x1 projection to ``out`` channels; random weights."""
    rng = np.random.default_rng(3)

    nodes = (
        *_dw_se(rng, "x", e, s, (Node("rs", "Sigmoid", ("r",), "rsg"), Node("rm", "Mul", ("r", "rsg"), "rr")), "rr"),
        Node("prj", "Conv", ("scaled",), "y", _same_conv(1), _random_wb(rng, out, e, 1, 1)),
    )
    full = lambda ch: (1, ch, px, px)  # noqa: E731
    one = lambda ch: (1, ch, 1, 1)  # noqa: E731
    shapes = {"x": full(e), "d": full(e), "dsig": full(e), "dact": full(e), "g": one(e), "r": one(s), "rsg": one(s),
              "rr": one(s), "sx": one(e), "sxs": one(e), "scaled": full(e), "y": full(out)}
    return Graph("se_depthwise", "x", "y", shapes, nodes)


def head_graph(c: int = 8, k: int = 16, px: int = 5, classes: int = 3, act: str = "silu", pre: bool = False
               ) -> Graph:
    """B0's head: a 1x1 convolution + SiLU (``act`` "relu": Lite0's, which the quantizer folds into the conv) whose
    only reader is the global average pool, then the classifier; random weights. ``pre``: a 1x1 convolution ("pre",
    ``c`` -> ``c`` channels) before the head, whose output only the head reads (a residency group's edge)."""
    rng = np.random.default_rng(5)
    silu = (Node("hs", "Sigmoid", ("h",), "hsig"), Node("hm", "Mul", ("h", "hsig"), "hact"))
    nodes = (
        *((Node("pre", "Conv", ("x0",), "x", _same_conv(1), _random_wb(rng, c, c, 1, 1)),) if pre else ()),
        Node("head", "Conv", ("x",), "h", _same_conv(1), _random_wb(rng, k, c, 1, 1)),
        *(silu if act == "silu" else (Node("hr", "Relu", ("h",), "hact"),)),
        Node("gap", "GlobalAveragePool", ("hact",), "g"),
        Node("fc", "Gemm", ("g",), "out", {}, {"W": rng.standard_normal((classes, k)).astype(np.float32),
                                              "B": rng.standard_normal(classes).astype(np.float32)}),
    )
    full = lambda ch: (1, ch, px, px)  # noqa: E731
    shapes = {"x": full(c), "h": full(k), "hact": full(k), "g": (1, k, 1, 1), "out": (1, classes),
              **({"hsig": full(k)} if act == "silu" else {}), **({"x0": full(c)} if pre else {})}
    return Graph("head", "x0" if pre else "x", "out", shapes, nodes)
