"""ONNX -> IR. One small handler per ONNX op; anything else is an error naming the node and op.

BatchNormalization is folded into the Conv before it (elsewhere: a per-channel Mul and Add); Identity, Dropout and shape-only Flatten /
Reshape / Squeeze become aliases, listed in ``Graph.folded`` with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sramflow.errors import GraphError, UnsupportedOpError
from sramflow.ir.elementwise import ELEMENTWISE_OPS, ElementwiseOp, OnnxForm
from sramflow.ir.graph import FoldedNode, Graph, Node
from sramflow.ir.movement import concat_requantize
from sramflow.ir.shapes import infer_shape
from sramflow.padding import same_pads_2d


@dataclass
class _Builder:
    consts: dict[str, np.ndarray]
    shapes: dict[str, tuple[int, ...]]
    opset: int = 13
    alias: dict[str, str] = field(default_factory=dict)
    # channel shuffle in flight: a 5-D view (1, g, C/g, H, W) of a 4-D tensor and its transpose, as
    # tensor -> (stage "grouped" | "shuffled", the 4-D source, groups); only the closing Reshape may read them
    views: dict[str, tuple[str, str, int]] = field(default_factory=dict)
    nodes: list[Node] = field(default_factory=list)
    folded: list[FoldedNode] = field(default_factory=list)

    def name(self, t: str) -> str:
        while t in self.alias:
            t = self.alias[t]
        return t

    def is_const(self, t: str) -> bool:
        return self.name(t) in self.consts

    def const(self, t: str, node: Any) -> np.ndarray:
        if not self.is_const(t):
            raise UnsupportedOpError(f"node {node.name!r} ({node.op_type}): input {t!r} must be a constant initializer")
        return self.consts[self.name(t)]

    def emit(self, onnx_node: Any, op: str, inputs: list[str], attrs: dict[str, Any] | None = None,
             weights: dict[str, np.ndarray] | None = None) -> None:
        self.add(onnx_node, onnx_node.name, op, inputs, onnx_node.output[0], attrs, weights)

    def add(self, onnx_node: Any, name: str, op: str, inputs: list[str], out: str, attrs: dict[str, Any] | None = None,
            weights: dict[str, np.ndarray] | None = None) -> None:
        """One IR node ``name`` writing ``out`` (an ONNX node may become several, e.g. Split)."""
        attrs, weights = attrs or {}, weights or {}
        ins = [self.name(t) for t in inputs]
        for t in ins:
            if t in self.views:
                raise UnsupportedOpError(f"node {onnx_node.name!r} ({onnx_node.op_type}) reads {t!r}, a 5-D view of "
                                         "a channel shuffle; only Reshape -> Transpose(0, 2, 1, 3, 4) -> Reshape back "
                                         "to 4-D is supported")
        try:
            shape = infer_shape(op, [self.shapes[t] for t in ins], attrs, weights)
        except GraphError as exc:
            raise GraphError(f"node {onnx_node.name!r} ({onnx_node.op_type}): {exc}") from None
        self.shapes[out] = shape
        self.nodes.append(Node(name, op, tuple(ins), out, attrs, weights))

    def fold(self, onnx_node: Any, reason: str) -> None:
        self.alias[onnx_node.output[0]] = self.name(onnx_node.input[0])
        self.folded.append(FoldedNode(onnx_node.name, onnx_node.op_type, reason))


def _attrs(node: Any) -> dict[str, Any]:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _pads(node: Any, a: dict[str, Any], in_hw: tuple[int, int], k: tuple[int, int], s: tuple[int, int],
          d: tuple[int, int]) -> tuple[int, int, int, int]:
    auto = a.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto in ("NOTSET", ""):
        p = tuple(int(x) for x in a.get("pads", (0, 0, 0, 0)))
        return (p[0], p[1], p[2], p[3])
    if auto == "VALID":
        return (0, 0, 0, 0)
    return same_pads_2d(in_hw, k, s, d, lower=auto == "SAME_LOWER")


def _conv(b: _Builder, n: Any) -> None:
    a = _attrs(n)
    w = b.const(n.input[1], n).astype(np.float32)
    if w.ndim != 4:
        raise UnsupportedOpError(f"node {n.name!r} (Conv): only 2-D convolutions are supported, weight is {w.ndim}-D")
    bias = b.const(n.input[2], n).astype(np.float32) if len(n.input) > 2 and n.input[2] else np.zeros(w.shape[0], np.float32)
    k = (int(w.shape[2]), int(w.shape[3]))
    s = tuple(int(x) for x in a.get("strides", (1, 1)))
    d = tuple(int(x) for x in a.get("dilations", (1, 1)))
    hw = b.shapes[b.name(n.input[0])][2:]
    attrs = {"kernel": k, "strides": s, "dilations": d, "pads": _pads(n, a, hw, k, s, d), "groups": int(a.get("group", 1))}
    b.emit(n, "Conv", [n.input[0]], attrs, {"W": w, "B": bias})


def _batchnorm(b: _Builder, n: Any) -> None:
    src = b.name(n.input[0])
    prev = b.nodes[-1] if b.nodes else None
    eps = float(_attrs(n).get("epsilon", 1e-5))
    if prev is None or prev.op != "Conv" or prev.output != src:
        _batchnorm_affine(b, n, eps)
        return
    w, bias = fold_batchnorm(prev.weights["W"], prev.weights["B"], *(b.const(t, n) for t in n.input[1:5]), eps)
    b.nodes[-1] = Node(prev.name, "Conv", prev.inputs, n.output[0], prev.attrs, {"W": w, "B": bias})
    b.shapes[n.output[0]] = b.shapes[prev.output]
    b.folded.append(FoldedNode(n.name, "BatchNormalization", f"folded into Conv {prev.name!r}"))


def _batchnorm_affine(b: _Builder, n: Any, eps: float) -> None:
    """A BatchNormalization with no Conv right before it (DenseNet's pre-activation BN after a Concat) as the
    per-channel Mul and Add the TFLite converter writes for it: x * s + (beta - mean * s), s = gamma /
    sqrt(var + eps), computed in float64 and rounded once to float32."""
    gamma, beta, mean, var = (b.const(t, n).astype(np.float64) for t in n.input[1:5])
    s = gamma / np.sqrt(var + eps)
    c = (-1, 1, 1)
    mul_out = f"{n.output[0]}/mul"
    b.add(n, f"{n.name}/mul", "Mul", [n.input[0]], mul_out, {}, {"const": s.astype(np.float32).reshape(c)})
    b.add(n, n.name, "Add", [mul_out], n.output[0], {}, {"const": (beta - mean * s).astype(np.float32).reshape(c)})


def fold_batchnorm(w: np.ndarray, bias: np.ndarray, gamma: np.ndarray, beta: np.ndarray, mean: np.ndarray,
                   var: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Conv weights and bias with the BatchNormalization after them folded in: in float64, rounded once to
    float32 (the ONNX importer and the built-in graph builder share it)."""
    f64 = [np.asarray(a, np.float64) for a in (gamma, beta, mean, var)]
    scale = f64[0] / np.sqrt(f64[3] + eps)
    w_out = (np.asarray(w, np.float64) * scale[:, None, None, None]).astype(np.float32)
    b_out = ((np.asarray(bias, np.float64) - f64[2]) * scale + f64[1]).astype(np.float32)
    return w_out, b_out


def _gemm(b: _Builder, n: Any) -> None:
    a = _attrs(n)
    if int(a.get("transA", 0)):
        raise UnsupportedOpError(f"node {n.name!r} (Gemm): transA=1 is not supported")
    w = b.const(n.input[1], n).astype(np.float64) * float(a.get("alpha", 1.0))
    w = w if int(a.get("transB", 0)) else w.T
    bias = (b.const(n.input[2], n).astype(np.float64) * float(a.get("beta", 1.0))
            if len(n.input) > 2 and n.input[2] else np.zeros(w.shape[0]))
    bias = np.broadcast_to(bias.reshape(-1), (w.shape[0],))
    b.emit(n, "Gemm", [n.input[0]], {}, {"W": w.astype(np.float32), "B": bias.astype(np.float32)})


def _matmul(b: _Builder, n: Any) -> None:
    w = b.const(n.input[1], n)
    if w.ndim != 2:
        raise UnsupportedOpError(f"node {n.name!r} (MatMul): only a 2-D constant right operand is supported")
    b.emit(n, "Gemm", [n.input[0]], {}, {"W": w.T.astype(np.float32), "B": np.zeros(w.shape[1], np.float32)})


def _elementwise(e: ElementwiseOp, form: OnnxForm) -> Callable[[_Builder, Any], None]:
    """The handler of an element-wise row (``ir.elementwise``): its attributes with their defaults; for two
    operands, constant folding, a constant operand as ``weights["const"]`` (rewritten by ``form.const_map``)."""
    def unary(b: _Builder, n: Any) -> None:
        b.emit(n, e.op, [n.input[0]], e.attr_values(_attrs(n)) if e.attrs else {})

    def binary(b: _Builder, n: Any) -> None:
        x, y = n.input[0], n.input[1]
        if b.is_const(x) and b.is_const(y) and form.fold is not None:
            b.consts[n.output[0]] = form.fold(b.const(x, n), b.const(y, n))
            b.folded.append(FoldedNode(n.name, n.op_type, "constant-folded"))
        elif b.is_const(x) and (form.const_map is not None or not e.commutative):
            raise UnsupportedOpError(f"node {n.name!r} ({n.op_type}): a constant first operand ({x!r}) is not "
                                     "supported; only activation (op) constant")
        elif form.const_map is not None:
            if not b.is_const(y):
                raise UnsupportedOpError(f"node {n.name!r} ({n.op_type}): the second operand {y!r} must be a "
                                         "constant initializer")
            try:
                c = form.const_map(b.const(y, n).astype(np.float32))
            except GraphError as exc:
                raise GraphError(f"node {n.name!r} ({n.op_type}): {exc}") from None
            b.emit(n, e.op, [x], {}, {"const": c})
        elif b.is_const(x) or b.is_const(y):
            act, c = (y, x) if b.is_const(x) else (x, y)
            b.emit(n, e.op, [act], {}, {"const": b.const(c, n).astype(np.float32)})
        else:
            b.emit(n, e.op, [x, y])

    return binary if e.arity == 2 else unary


def _unary(op: str) -> Callable[[_Builder, Any], None]:
    return lambda b, n: b.emit(n, op, [n.input[0]])


def _clip(b: _Builder, n: Any) -> None:
    a = _attrs(n)
    lo = float(b.const(n.input[1], n)) if len(n.input) > 1 and n.input[1] else float(a.get("min", -np.inf))
    hi = float(b.const(n.input[2], n)) if len(n.input) > 2 and n.input[2] else float(a.get("max", np.inf))
    if lo == 0.0 and hi == np.inf:
        b.emit(n, "Relu", [n.input[0]])
    else:
        b.emit(n, "Clip", [n.input[0]], {"min": lo, "max": hi})


def _reduce_mean(b: _Builder, n: Any) -> None:
    a = _attrs(n)
    axes = a.get("axes")
    if axes is None and len(n.input) > 1 and n.input[1]:
        axes = b.const(n.input[1], n).tolist()
    rank = len(b.shapes[b.name(n.input[0])])
    if sorted(int(x) % rank for x in (axes or [])) != [2, 3] or rank != 4:
        raise UnsupportedOpError(f"node {n.name!r} (ReduceMean): only the mean over H and W (axes 2, 3) is supported")
    b.emit(n, "GlobalAveragePool", [n.input[0]])
    if not int(a.get("keepdims", 1)):
        out = n.output[0]
        c = b.shapes[out][1]
        b.shapes[out] = (1, c)  # same bytes as (1, C, 1, 1)


def _pool(op: str) -> Callable[[_Builder, Any], None]:
    def handler(b: _Builder, n: Any) -> None:
        a = _attrs(n)
        k = tuple(int(x) for x in a["kernel_shape"])
        s = tuple(int(x) for x in a.get("strides", (1, 1)))
        d = tuple(int(x) for x in a.get("dilations", (1, 1)))
        if d != (1, 1):
            raise UnsupportedOpError(f"node {n.name!r} ({op}): dilated pooling is not supported")
        hw = b.shapes[b.name(n.input[0])][2:]
        pads = _pads(n, a, hw, k, s, d)
        ceil = _ceil_pads(hw, k, s, pads) if int(a.get("ceil_mode", 0)) else (0, 0)
        attrs = {"kernel": k, "strides": s, "pads": (pads[0], pads[1], pads[2] + ceil[0], pads[3] + ceil[1]),
                 "count_include_pad": int(a.get("count_include_pad", 0)), "ceil_pads": ceil}
        b.emit(n, op, [n.input[0]], attrs)

    return handler


def _ceil_pads(hw: tuple[int, ...], k: tuple[int, ...], s: tuple[int, ...], pads: tuple[int, int, int, int]
               ) -> tuple[int, int]:
    """ceil_mode=1 as PyTorch computes it (pooling_output_shape, the rule ONNX adopted at opset 19): the output is
    ceil((n + pads - k) / s) + 1 unless the last window would start past the input and its leading pad. The
    extra rows / columns this reaches past the bottom / right pad: pooled as padding that is never counted."""
    out = []
    for i, (n, kk, ss) in enumerate(zip(hw, k, s)):
        lead, trail = pads[i], pads[i + 2]
        o = -(-(n + lead + trail - kk) // ss) + 1
        if (o - 1) * ss >= n + lead:
            o -= 1
        out.append(max(0, (o - 1) * ss + kk - (n + lead + trail)))
    return (out[0], out[1])


# ONNX Resize (mode, coordinate_transformation_mode, nearest_mode) -> TFLite (align_corners, half_pixel_centers):
# the pairs whose source coordinates the TFLite kernels compute the same way (resize_nearest_neighbor.h,
# resize_bilinear.h); pytorch_half_pixel equals half_pixel when the output axis has more than one pixel.
_RESIZE_FLAGS = {
    ("nearest", "asymmetric", "floor"): (False, False),  # torch F.interpolate(mode="nearest")
    ("nearest", "align_corners", "round_prefer_ceil"): (True, False),
    ("nearest", "half_pixel", "round_prefer_ceil"): (False, True),
    ("nearest", "pytorch_half_pixel", "round_prefer_ceil"): (False, True),
    ("nearest", "tf_half_pixel_for_nn", "floor"): (False, True),
    ("linear", "asymmetric", ""): (False, False),
    ("linear", "align_corners", ""): (True, False),  # torch bilinear, align_corners=True
    ("linear", "half_pixel", ""): (False, True),
    ("linear", "pytorch_half_pixel", ""): (False, True),  # torch bilinear, align_corners=False
}


def _resize(b: _Builder, n: Any) -> None:
    a = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in _attrs(n).items()}
    mode = a.get("mode", "nearest")
    coord = a.get("coordinate_transformation_mode", "half_pixel" if b.opset >= 11 else "asymmetric")
    nearest = a.get("nearest_mode", "round_prefer_floor" if b.opset >= 11 else "floor") if mode == "nearest" else ""
    key = (mode, coord, nearest)
    where = f"node {n.name!r} (Resize mode={mode} coordinate_transformation_mode={coord}" + \
        (f" nearest_mode={nearest})" if nearest else ")")
    if key not in _RESIZE_FLAGS or int(a.get("antialias", 0)) or int(a.get("exclude_outside", 0)):
        raise UnsupportedOpError(f"{where}: no TFLite RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR computes these "
                                 f"coordinates; supported: {sorted(_RESIZE_FLAGS)} without antialias")
    shape = b.shapes[b.name(n.input[0])]
    inputs = list(n.input) + [""] * 4
    scales_at, sizes_at = (1, 2) if b.opset < 11 else (2, 3)
    if inputs[sizes_at]:
        size = tuple(int(v) for v in b.const(inputs[sizes_at], n).tolist())
        scales = tuple(o / i for o, i in zip(size, shape))
    else:
        scales = tuple(float(v) for v in b.const(inputs[scales_at], n).tolist())
        size = tuple(int(np.floor(i * s)) for i, s in zip(shape, scales))
    if len(size) != 4 or tuple(size[:2]) != tuple(shape[:2]) or min(size) < 1:
        raise UnsupportedOpError(f"{where}: resizes {shape} to {size}; only H and W may change")
    if any(o != i * sc for o, i, sc in zip(size[2:], shape[2:], scales[2:])):
        raise UnsupportedOpError(f"{where}: scales {scales[2:]} give {size[2:]} from {shape[2:]}, not an exact "
                                 "multiple; TFLite derives its scale from the sizes (in / out): pass sizes instead")
    align, half = _RESIZE_FLAGS[key]
    if coord == "pytorch_half_pixel" and min(size[2:]) == 1:
        raise UnsupportedOpError(f"{where}: pytorch_half_pixel to one pixel samples coordinate 0, TFLite's half "
                                 "pixel centers do not")
    b.emit(n, "Resize", [n.input[0]], {"mode": mode, "size": tuple(size[2:]), "align_corners": align,
                                       "half_pixel_centers": half})


def _reshape_like(b: _Builder, n: Any) -> None:
    src = b.name(n.input[0])
    if src in b.views:  # the 5-D view of a channel shuffle has no IR shape
        _, source, g = b.views[src]
        c, h, w = b.shapes[source][1:]
        in_shape = (1, c // g, g, h, w) if b.views[src][0] == "shuffled" else (1, g, c // g, h, w)
    else:
        in_shape = b.shapes[src]
    if n.op_type == "Flatten":
        axis = int(_attrs(n).get("axis", 1)) % len(in_shape)
        new = (int(np.prod(in_shape[:axis])), int(np.prod(in_shape[axis:])))
    elif n.op_type == "Squeeze":
        axes = _attrs(n).get("axes")
        if axes is None and len(n.input) > 1 and n.input[1]:
            axes = b.const(n.input[1], n).tolist()
        axes = [int(x) % len(in_shape) for x in axes] if axes is not None else [i for i, d in enumerate(in_shape) if d == 1]
        new = tuple(d for i, d in enumerate(in_shape) if i not in axes)
    else:
        target = [int(x) for x in b.const(n.input[1], n).tolist()]
        target = [in_shape[i] if x == 0 else x for i, x in enumerate(target)]
        if -1 in target:
            known = int(np.prod([x for x in target if x != -1]))
            target[target.index(-1)] = int(np.prod(in_shape)) // max(known, 1)
        new = tuple(target)
    if _shuffle_view(b, n, src, in_shape, tuple(new)):
        return
    if [d for d in in_shape if d != 1] == [d for d in new if d != 1]:
        b.fold(n, "shape-only view: same bytes in the same order")
        return
    b.emit(n, "Reshape", [n.input[0]], {"shape": tuple(new)})


def _shuffle_view(b: _Builder, n: Any, src: str, in_shape: tuple[int, ...], new: tuple[int, ...]) -> bool:
    """The Reshapes of a channel shuffle as torch.onnx.export writes ShuffleNet's channel_shuffle: (1, C, H, W) ->
    (1, g, C/g, H, W) opens the view; (1, C/g, g, H, W) after the Transpose -> (1, C, H, W) closes it as one
    ChannelShuffle node (the Transpose is the only data movement: ``ir.movement``)."""
    if src in b.views:
        stage, source, g = b.views[src]
        if stage != "shuffled" or new != tuple(b.shapes[source]):
            raise UnsupportedOpError(f"node {n.name!r} (Reshape) reshapes the 5-D channel-shuffle view {src!r} to "
                                     f"{new}; only the Transpose(0, 2, 1, 3, 4) and a Reshape back to "
                                     f"{tuple(b.shapes[source])} are supported")
        b.emit(n, "ChannelShuffle", [source], {"groups": g})
        return True
    if len(in_shape) == 4 and len(new) == 5 and in_shape[0] == new[0] == 1 and new[3:] == in_shape[2:] \
            and new[1] * new[2] == in_shape[1]:
        b.views[n.output[0]] = ("grouped", src, int(new[1]))
        b.folded.append(FoldedNode(n.name, n.op_type, "channel shuffle: 5-D view of the channels in groups"))
        return True
    return False


def _transpose(b: _Builder, n: Any) -> None:
    src = b.name(n.input[0])
    perm = tuple(int(p) for p in _attrs(n).get("perm", ()))
    if src not in b.views or b.views[src][0] != "grouped" or perm != (0, 2, 1, 3, 4):
        raise UnsupportedOpError(f"node {n.name!r} (Transpose perm={list(perm)}): only the channel shuffle's "
                                 "Transpose(0, 2, 1, 3, 4) of a (1, g, C/g, H, W) view is supported")
    _, source, g = b.views[src]
    b.views[n.output[0]] = ("shuffled", source, g)
    b.folded.append(FoldedNode(n.name, n.op_type, "channel shuffle: transposed groups (the ChannelShuffle node "
                                                  "that closes the view moves the data)"))


def _axis(b: _Builder, n: Any, t: str, axis: int) -> int:
    rank = len(b.shapes[b.name(t)])
    if not -rank <= axis < rank:
        raise UnsupportedOpError(f"node {n.name!r} ({n.op_type}): axis {axis} outside a rank-{rank} tensor")
    if axis % rank == 0:
        raise UnsupportedOpError(f"node {n.name!r} ({n.op_type}): along the batch axis is not supported (batch 1)")
    return axis % rank


def _concat(b: _Builder, n: Any) -> None:
    if any(b.is_const(t) for t in n.input):
        raise UnsupportedOpError(f"node {n.name!r} (Concat): a constant input is not supported; only activations")
    b.emit(n, "Concat", list(n.input), {"axis": _axis(b, n, n.input[0], int(_attrs(n)["axis"]))})


def _split(b: _Builder, n: Any) -> None:
    """Split as one Slice per output (the same bytes as TFLite's SPLIT / SPLIT_V, which have several outputs)."""
    a = _attrs(n)
    axis = _axis(b, n, n.input[0], int(a.get("axis", 0)))
    size = b.shapes[b.name(n.input[0])][axis]
    if len(n.input) > 1 and n.input[1]:
        sizes = [int(v) for v in b.const(n.input[1], n).tolist()]
    elif "split" in a:
        sizes = [int(v) for v in a["split"]]
    else:
        k = len(n.output)
        sizes = [-(-size // k)] * (k - 1) + [size - (k - 1) * -(-size // k)]
    if sum(sizes) != size or len(sizes) != len(n.output) or min(sizes) <= 0:
        raise UnsupportedOpError(f"node {n.name!r} (Split): sizes {sizes} do not split {size} into {len(n.output)}")
    start = 0
    for i, (out, k) in enumerate(zip(n.output, sizes)):
        b.add(n, f"{n.name}/{i}" if len(n.output) > 1 else n.name, "Slice", [n.input[0]], out,
              {"axis": axis, "start": start, "end": start + k})
        start += k


def _slice(b: _Builder, n: Any) -> None:
    shape = b.shapes[b.name(n.input[0])]
    consts = [b.const(t, n).astype(np.int64).tolist() if t else None for t in list(n.input[1:5]) + [""] * 4][:4]
    starts, ends, axes, steps = consts
    axes = axes if axes is not None else list(range(len(starts)))
    steps = steps if steps is not None else [1] * len(starts)
    cut = []
    for s, e, ax, st in zip(starts, ends, axes, steps):
        ax = int(ax) % len(shape)
        d = shape[ax]
        s, e = (max(0, min(d, v + d if v < 0 else v)) for v in (s, e))
        if (s, e) != (0, d):
            if st != 1:
                raise UnsupportedOpError(f"node {n.name!r} (Slice): step {st} on axis {ax}; only step 1 is supported")
            cut.append((ax, s, e))
    if len(cut) != 1:
        raise UnsupportedOpError(f"node {n.name!r} (Slice): cuts {len(cut)} axes of {shape}; exactly one is "
                                 "supported")
    ax, s, e = cut[0]
    b.emit(n, "Slice", [n.input[0]], {"axis": _axis(b, n, n.input[0], ax), "start": s, "end": e})


def _pad(b: _Builder, n: Any) -> None:
    a = _attrs(n)
    mode = a.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if mode != "constant":
        raise UnsupportedOpError(f"node {n.name!r} (Pad): mode {mode!r}; only 'constant' is supported")
    pads = b.const(n.input[1], n).tolist() if len(n.input) > 1 and n.input[1] else list(a.get("pads", ()))
    value = float(b.const(n.input[2], n)) if len(n.input) > 2 and n.input[2] else float(a.get("value", 0.0))
    if len(pads) != 8 or any(pads[i] for i in (0, 1, 4, 5)) or min(pads) < 0:
        raise UnsupportedOpError(f"node {n.name!r} (Pad): pads {pads}; only non-negative padding of H and W of a "
                                 "4-D tensor is supported")
    b.emit(n, "Pad", [n.input[0]], {"pads": (int(pads[2]), int(pads[3]), int(pads[6]), int(pads[7])),
                                     "value": value})


def _constant(b: _Builder, n: Any) -> None:
    import onnx

    a = {x.name: x for x in n.attribute}
    if "value" not in a:
        raise UnsupportedOpError(f"node {n.name!r} (Constant): only the 'value' attribute is supported")
    b.consts[n.output[0]] = onnx.numpy_helper.to_array(a["value"].t)
    b.folded.append(FoldedNode(n.name, "Constant", "constant tensor"))


def _passthrough(reason: str) -> Callable[[_Builder, Any], None]:
    return lambda b, n: b.fold(n, reason)


def _softmax(b: _Builder, n: Any) -> None:
    shape = b.shapes[b.name(n.input[0])]
    if b.opset >= 13:
        axis = int(_attrs(n).get("axis", -1))
    else:  # before opset 13: softmax over the input flattened from `axis` (default 1) on
        axis = int(_attrs(n).get("axis", 1)) % len(shape)
        if any(d != 1 for d in shape[axis + 1:]):
            raise UnsupportedOpError(
                f"node {n.name!r} (Softmax, opset {b.opset}): normalizes over dimensions {axis}.. of {shape} "
                "together; only a softmax over one axis is supported (export with opset >= 13)")
    b.emit(n, "Softmax", [n.input[0]], {"axis": axis})


HANDLERS: dict[str, Callable[[_Builder, Any], None]] = {
    "Conv": _conv, "BatchNormalization": _batchnorm, "Gemm": _gemm, "MatMul": _matmul,
    **{f.onnx_op: _elementwise(e, f) for e in ELEMENTWISE_OPS for f in e.onnx},
    "Clip": _clip,
    "GlobalAveragePool": _unary("GlobalAveragePool"), "ReduceMean": _reduce_mean,
    "AveragePool": _pool("AveragePool"), "MaxPool": _pool("MaxPool"),
    "Flatten": _reshape_like, "Reshape": _reshape_like, "Squeeze": _reshape_like,
    "Identity": _passthrough("identity"), "Dropout": _passthrough("dropout is the identity at inference"),
    "Constant": _constant, "Softmax": _softmax, "Resize": _resize,
    "Concat": _concat, "Split": _split, "Slice": _slice, "Pad": _pad, "Transpose": _transpose,
}
SUPPORTED_ONNX_OPS = tuple(HANDLERS)


def _fold_constants(b: _Builder, n: Any) -> bool:
    """Shape computations as torch.onnx.export writes them (``x.chunk``, ``nn.ZeroPad2d``: Shape, Gather, Div,
    Concat, ConstantOfShape, Cast ... of constants): ``Shape`` of an activation is its IR shape, and a node whose
    inputs are all constants is evaluated once by ONNX's own reference evaluator. True when folded."""
    import onnx
    from onnx.reference import ReferenceEvaluator

    ins = [t for t in n.input if t]
    if n.op_type == "Shape" and ins and not b.is_const(ins[0]):
        src = b.name(ins[0])
        if src in b.views:
            raise UnsupportedOpError(f"node {n.name!r} (Shape) reads the 5-D channel-shuffle view {src!r}")
        a = _attrs(n)
        shape = np.array(b.shapes[src], np.int64)
        b.consts[n.output[0]] = shape[int(a.get("start", 0)):a.get("end")]
        b.folded.append(FoldedNode(n.name, n.op_type, "shape of an activation: a constant at batch 1"))
        return True
    if n.op_type == "Constant" or not ins or not all(b.is_const(t) for t in ins) or len(n.output) != 1:
        return False
    values = {t: b.const(t, n) for t in ins}
    graph = onnx.helper.make_graph(
        [n], "fold", [onnx.helper.make_tensor_value_info(t, onnx.helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
                      for t, v in values.items()], [onnx.helper.make_tensor_value_info(n.output[0], 0, None)])
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", b.opset)])
    try:
        (value,) = ReferenceEvaluator(model).run(None, values)
    except Exception as exc:  # the evaluator's own errors: name the node
        raise GraphError(f"node {n.name!r} ({n.op_type}): constant folding failed: {exc}") from None
    b.consts[n.output[0]] = np.asarray(value)
    b.folded.append(FoldedNode(n.name, n.op_type, "constant-folded"))
    return True


def _input_shape(vi: Any, resolution: int | None) -> tuple[int, ...]:
    dims = [d.dim_value if d.HasField("dim_value") else None for d in vi.type.tensor_type.shape.dim]
    if len(dims) != 4:
        raise GraphError(f"graph input {vi.name!r} must be 4-D NCHW, got {len(dims)} dimensions")
    dims[0] = 1
    if resolution is not None:
        dims[2] = dims[3] = resolution
    if any(d is None or d <= 0 for d in dims):
        raise GraphError(f"graph input {vi.name!r} has symbolic spatial size {dims}: pass --resolution")
    return tuple(int(d) for d in dims)


def import_onnx_model(model: Any, resolution: int | None = None, name: str = "onnx") -> Graph:
    """Convert a loaded ``onnx.ModelProto`` to the IR."""
    import onnx.numpy_helper

    g = model.graph
    consts = {init.name: onnx.numpy_helper.to_array(init) for init in g.initializer}
    inputs = [vi for vi in g.input if vi.name not in consts]
    if len(inputs) != 1 or len(g.output) != 1:
        raise GraphError(f"{name}: need exactly one graph input and one output, found {len(inputs)} and {len(g.output)}")
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
    b = _Builder(consts=consts, shapes={inputs[0].name: _input_shape(inputs[0], resolution)}, opset=opset)
    seen: set[str] = set()
    for i, n in enumerate(g.node):
        if not n.name or n.name in seen:
            n.name = f"{n.op_type}_{i}"
        seen.add(n.name)
        if n.domain in ("", "ai.onnx") and _fold_constants(b, n):
            continue
        handler = HANDLERS.get(n.op_type)
        if handler is None or (n.domain not in ("", "ai.onnx")):
            raise UnsupportedOpError(
                f"{name}: node {n.name!r} has unsupported op type {n.op_type!r}"
                f"{' (domain ' + n.domain + ')' if n.domain else ''}; supported: {', '.join(SUPPORTED_ONNX_OPS)}"
            )
        handler(b, n)
    out = b.name(g.output[0].name)
    if out in b.consts:
        raise GraphError(f"{name}: graph output is a constant")
    nodes = concat_requantize(b.nodes, out, lambda nm, op, ins, o: Node(nm, op, ins, o))
    shapes = dict(b.shapes) | {n.output: b.shapes[n.inputs[0]] for n in nodes if n.op == "Requantize"}
    return Graph(name=name, input=inputs[0].name, output=out, shapes=shapes, nodes=tuple(nodes),
                 folded=tuple(b.folded))


def import_onnx(path: str | Path, resolution: int | None = None) -> Graph:
    """Read an ONNX file; errors name the file."""
    import onnx

    p = Path(path)
    if not p.exists():
        raise GraphError(f"{p}: no such ONNX file")
    try:
        model = onnx.load(str(p))
    except Exception as exc:  # protobuf's DecodeError and friends
        raise GraphError(f"{p}: not a readable ONNX model (truncated or corrupt?): {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    if not model.graph.node:
        raise GraphError(f"{p}: ONNX model has no nodes (truncated or corrupt?)")
    return import_onnx_model(model, resolution, name=p.stem)
