"""A small float32 executor for the IR (batch N, NCHW): one function per op.

Used for calibration statistics and as the float reference in SQNR figures. Convolutions go through
torch.nn.functional (fast on CPU); everything else is numpy.

Convolution and Gemm sums run in float32 by default, and their summation order follows torch's and
BLAS's thread count and kernels, so a value can move by an ulp between machines. ``float64_sums``
computes them in float64 and rounds each output to float32 once: the order no longer shows (an order
difference of ~1e-16 relative would have to straddle a float32 rounding boundary), which calibration
needs so that the same images give the same INT8 ranges on every machine and thread count.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sramflow.errors import UnsupportedOpError
from sramflow.ir.elementwise import BY_OP
from sramflow.ir.graph import Graph, Node
from sramflow.ir.movement import BY_OP as MOVES


def _conv(n: Node, x: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    import torch
    import torch.nn.functional as F

    t, left, b, r = n.attrs["pads"]
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=dtype))
    if any(n.attrs["pads"]):
        xt = F.pad(xt, (left, r, t, b))
    w, bias = (torch.from_numpy(np.ascontiguousarray(n.weights[k], dtype=dtype)) for k in ("W", "B"))
    with torch.no_grad():
        y = F.conv2d(xt, w, bias,
                     stride=tuple(n.attrs["strides"]), dilation=tuple(n.attrs["dilations"]), groups=n.attrs["groups"])
    return y.numpy()


def _gemm(n: Node, x: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    return (x.reshape(x.shape[0], -1).astype(dtype, copy=False) @ n.weights["W"].T.astype(dtype, copy=False)
            + n.weights["B"].astype(dtype, copy=False))


def _const_operand(n: Node, x: np.ndarray) -> np.ndarray:
    c = n.weights["const"].astype(np.float32)
    return c.reshape(1, *c.shape) if c.ndim == x.ndim - 1 and c.ndim > 1 else c


def _elementwise(n: Node, x: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
    """An ``ir.elementwise`` row's float semantics; a binary op's constant operand laid out against x."""
    e = BY_OP[n.op]
    if e.arity == 1:
        return e.float_fn(n.attrs, x)
    return e.float_fn(n.attrs, x, y if y is not None else _const_operand(n, x))


def _gap(n: Node, x: np.ndarray) -> np.ndarray:
    return x.mean(axis=(2, 3), keepdims=True)


def _pool(reduce: str) -> Callable[[Node, np.ndarray], np.ndarray]:
    def run(n: Node, x: np.ndarray) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        t, left, b, r = n.attrs["pads"]
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        k, s = tuple(n.attrs["kernel"]), tuple(n.attrs["strides"])
        if reduce == "max":
            xt = F.pad(xt, (left, r, t, b), value=-np.inf)
            return F.max_pool2d(xt, k, s).numpy()
        # window sum over window count: every pad is counted with count_include_pad, except what ceil_mode
        # added past the bottom / right pad (PyTorch and ONNX never count that)
        eh, ew = n.attrs.get("ceil_pads", (0, 0))
        counted = (t, left, b - eh, r - ew) if n.attrs.get("count_include_pad", 0) else (0, 0, 0, 0)
        ones = F.pad(torch.ones((1, 1, *xt.shape[2:])), (counted[1], counted[3], counted[0], counted[2]), value=1.0)
        ones = F.pad(ones, (left - counted[1], r - counted[3], t - counted[0], b - counted[2]))
        total = F.avg_pool2d(F.pad(xt, (left, r, t, b)), k, s, divisor_override=1)
        return (total / F.avg_pool2d(ones, k, s, divisor_override=1)).numpy()

    return run


def _softmax(n: Node, x: np.ndarray) -> np.ndarray:
    axis = n.attrs["axis"]
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _reshape(n: Node, x: np.ndarray) -> np.ndarray:
    return x.reshape(x.shape[0], *tuple(n.attrs["shape"])[1:])


def _resize(n: Node, x: np.ndarray) -> np.ndarray:
    """ONNX Resize on H and W with the coordinate rule of the node's TFLite flags: nearest takes
    floor(source) (round with align_corners), linear interpolates the two neighbours of the source clamped to
    the image."""
    align, half = bool(n.attrs["align_corners"]), bool(n.attrs["half_pixel_centers"])
    y = x
    for axis, out_n in ((2, int(n.attrs["size"][0])), (3, int(n.attrs["size"][1]))):
        in_n = y.shape[axis]
        i = np.arange(out_n, dtype=np.float64)
        if align and out_n > 1:
            src = i * (in_n - 1) / (out_n - 1)
        elif half:
            src = (i + 0.5) * in_n / out_n - 0.5
        else:
            src = i * in_n / out_n
        if n.attrs["mode"] == "nearest":  # half pixel: floor(src + 0.5), ONNX's round_prefer_ceil
            idx = np.clip(np.floor(src + 0.5) if align or half else np.floor(src), 0, in_n - 1).astype(np.int64)
            y = np.take(y, idx, axis=axis)
            continue
        src = np.clip(src, 0, in_n - 1)
        lo = np.floor(src).astype(np.int64)
        hi = np.minimum(lo + 1, in_n - 1)
        w = (src - lo).reshape([-1 if a == axis else 1 for a in range(4)])
        y = np.take(y, lo, axis=axis) * (1 - w) + np.take(y, hi, axis=axis) * w
    return y.astype(np.float32)


def _movement(n: Node, *xs: np.ndarray) -> np.ndarray:
    """An ``ir.movement`` row's index arithmetic (Pad fills with its float value)."""
    return MOVES[n.op].apply(n.attrs, xs, float(n.attrs.get("value", 0.0)))


FLOAT_OPS: dict[str, Callable[..., np.ndarray]] = {
    "Conv": _conv, "Gemm": _gemm, **{op: _elementwise for op in BY_OP},
    "GlobalAveragePool": _gap, "AveragePool": _pool("avg"), "MaxPool": _pool("max"), "Softmax": _softmax,
    "Reshape": _reshape, "Resize": _resize, **{op: _movement for op in MOVES},
}
SUM_OPS = ("Conv", "Gemm")  # the ops whose float32 result depends on summation order (take a dtype)


def _as_ir_shape(graph: Graph, name: str, y: np.ndarray) -> np.ndarray:
    """Batch-N version of the IR shape (e.g. GAP with keepdims=0 gives (N, C))."""
    shape = graph.shape(name)
    return y.reshape(y.shape[0], *shape[1:]).astype(np.float32, copy=False)


def run_float(graph: Graph, x: np.ndarray, on_tensor: Callable[[str, np.ndarray], None] | None = None,
              keep_all: bool = False, float64_sums: bool = False) -> dict[str, np.ndarray]:
    """Run the float graph on a batch x [N, C, H, W]. Calls ``on_tensor(name, value)`` for the input and
    every node output; returns the output tensor (or every tensor with ``keep_all``). Every tensor is
    float32; ``float64_sums`` computes Conv and Gemm in float64 first (order-independent, module doc)."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 3:
        x = x[None]
    remaining = {t: len(c) for t, c in graph.consumers().items()}
    env = {graph.input: x}
    if on_tensor:
        on_tensor(graph.input, x)
    kept: dict[str, np.ndarray] = {graph.input: x} if keep_all else {}
    for n in graph.nodes:
        fn = FLOAT_OPS.get(n.op)
        if fn is None:
            raise UnsupportedOpError(f"node {n.name!r}: no float kernel for op {n.op!r}")
        args = (n, *(env[t] for t in n.inputs))
        y = _as_ir_shape(graph, n.output, fn(*args, dtype=np.float64) if float64_sums and n.op in SUM_OPS else fn(*args))
        env[n.output] = y
        if on_tensor:
            on_tensor(n.output, y)
        if keep_all:
            kept[n.output] = y
        for t in n.inputs:
            remaining[t] -= 1
            if remaining[t] == 0 and t != graph.output:
                del env[t]
    kept[graph.output] = env[graph.output]
    return kept
