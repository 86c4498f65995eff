"""Execute a QuantizedGraph with the integer kernels: every tensor int8, batch axis first.

Internally every 4-D activation is NHWC (TFLite's layout, see ``nhwc.py``); what ``run_int8`` returns
is in the IR's NCHW shapes, as before."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sramflow.ir.elementwise import BINARY_KINDS
from sramflow.ir.movement import BY_KIND as MOVES
from sramflow.ir.qgraph import QOp, QuantizedGraph
from sramflow.reference import kernels as K
from sramflow.reference import nhwc as NH
from sramflow.reference import resize as RS
from sramflow.reference.blas import single_thread
from sramflow.reference.requant import clamp_to_int8, round_half_away_array


def quantize_input(q: QuantizedGraph, x_float: np.ndarray) -> np.ndarray:
    """Float input (CHW or NCHW) -> int8 with the input tensor's scale and zero point."""
    t = q.tensor(q.input)
    x = np.asarray(x_float, dtype=np.float32)
    x = x[None] if x.ndim == 3 else x
    return clamp_to_int8(round_half_away_array(x.astype(np.float64) / t.scale) + t.zero_point)


def dequantize(q: QuantizedGraph, name: str, x: np.ndarray) -> np.ndarray:
    t = q.tensor(name)
    return (x.astype(np.float32) - t.zero_point) * np.float32(t.scale)


def tflite_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The layout a tensor has inside run_int8 (and in the .tflite): NCHW -> NHWC for 4-D."""
    return (shape[0], *shape[2:], shape[1]) if len(shape) == 4 else tuple(shape)


def to_internal(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)) if x.ndim == 4 else x


def to_ir(x: np.ndarray) -> np.ndarray:
    return x.transpose(0, 3, 1, 2) if x.ndim == 4 else x


def const_operand(c: np.ndarray, rank: int) -> np.ndarray:
    """An IR (NCHW, numpy-broadcast) constant laid out like the activation it meets."""
    if rank != 4 or c.ndim <= 1 and c.size == 1:
        return c
    c4 = c.reshape((1,) * (4 - c.ndim) + c.shape)
    return c4.transpose(0, 2, 3, 1)


def _operands(q: QuantizedGraph, op: QOp, env: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    x1 = env[op.inputs[0]]
    if len(op.inputs) == 2:
        return x1, env[op.inputs[1]]
    return x1, const_operand(op.params["const"], x1.ndim)


_PREPARED: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # id(weights) -> (weights, exact-dtype matrix)


def _conv_matrix(w: np.ndarray) -> np.ndarray:
    hit = _PREPARED.get(id(w))
    if hit is not None and hit[0] is w:
        return hit[1]
    if len(_PREPARED) > 4096:
        _PREPARED.clear()
    wm = NH.conv_matrix(w)
    wm = np.ascontiguousarray(wm, dtype=NH.exact_dtype(wm.T))
    _PREPARED[id(w)] = (w, wm)
    return wm


def _conv(q: QuantizedGraph, op: QOp, env: dict[str, np.ndarray]) -> np.ndarray:
    a, p = op.attrs, op.params
    x_zp, out_zp = q.tensor(op.inputs[0]).zero_point, q.tensor(op.output).zero_point
    groups = int(a.get("groups", 1))
    wmat = _conv_matrix(p["weights"]) if groups == 1 else None
    return NH.conv2d(env[op.inputs[0]], x_zp, p["weights"], p["bias"], p["multiplier"], p["shift"], out_zp,
                     a["act_min"], a["act_max"], tuple(a["strides"]), tuple(a["pads"]), tuple(a["dilations"]),
                     groups, wmat)


def _depthwise(q: QuantizedGraph, op: QOp, env: dict[str, np.ndarray]) -> np.ndarray:
    a, p = op.attrs, op.params
    x_zp, out_zp = q.tensor(op.inputs[0]).zero_point, q.tensor(op.output).zero_point
    return NH.depthwise_conv2d(env[op.inputs[0]], x_zp, p["weights"], p["bias"], p["multiplier"], p["shift"],
                               out_zp, a["act_min"], a["act_max"], tuple(a["strides"]), tuple(a["pads"]),
                               tuple(a["dilations"]))


def _fc(q: QuantizedGraph, op: QOp, env: dict[str, np.ndarray]) -> np.ndarray:
    a, p = op.attrs, op.params
    x_zp, out_zp = q.tensor(op.inputs[0]).zero_point, q.tensor(op.output).zero_point
    return K.fully_connected(env[op.inputs[0]], x_zp, p["weights"], p["bias"], p["effective_scale"], out_zp,
                             a["act_min"], a["act_max"])


Kernel = K.Kernel
ELEMENTWISE = K.ELEMENTWISE  # kind -> int8 kernel factory, one table in reference.kernels
elementwise_kernel = K.elementwise_kernel


_TABLES: dict[tuple, np.ndarray] = {}  # keyed by the op's kind and integer parameters (a pure function of them)
TABLE_MIN_ELEMENTS = 4096  # below this the kernel itself is as fast as building a table


def _unary(q: QuantizedGraph, op: QOp, env: dict[str, np.ndarray]) -> np.ndarray:
    return elementwise_kernel(op)(env[op.inputs[0]])


def _binary(q: QuantizedGraph, op: QOp, env: dict[str, np.ndarray]) -> np.ndarray:
    x1, x2 = _operands(q, op, env)
    fn = elementwise_kernel(op)
    if max(x1.size, x2.size) < TABLE_MIN_ELEMENTS:
        return fn(x1, x2)
    key = (op.kind, *sorted((k, v) for k, v in op.attrs.items() if k != "const_tensor"))
    table = _TABLES.get(key)
    if table is None:
        table = _TABLES[key] = K.pairwise_table(fn, op.attrs["zp1"], op.attrs["zp2"])
    return K.lookup_pairwise(table, x1, x2)


def _pool(fn: Callable[..., np.ndarray]) -> Callable[[QuantizedGraph, QOp, dict], np.ndarray]:
    def run(q: QuantizedGraph, op: QOp, env: dict[str, np.ndarray]) -> np.ndarray:
        a = op.attrs
        x, pads = env[op.inputs[0]], tuple(a["pads"])
        if fn is NH.average_pool and a.get("explicit_pad"):  # PAD with the zero point: padding is counted
            t, left, b, r = a.get("pre_pad", pads)
            x = np.pad(x, ((0, 0), (t, b), (left, r), (0, 0)), constant_values=q.tensor(op.inputs[0]).zero_point)
            pads = tuple(p - e for p, e in zip(pads, (t, left, b, r)))  # the rest: SAME's skipped padding
        return fn(x, tuple(a["kernel"]), tuple(a["strides"]), pads, a["act_min"], a["act_max"])

    return run


def _reshape(q: QuantizedGraph, op: QOp, env: dict[str, np.ndarray]) -> np.ndarray:
    """RESHAPE of the IR (NCHW element order): to NCHW, reshape, back to the internal layout."""
    x = to_ir(env[op.inputs[0]])
    return to_internal(np.ascontiguousarray(x).reshape(x.shape[0], *tuple(op.attrs["shape"])[1:]))


def _resize(fn: Callable[..., np.ndarray]) -> Callable[[QuantizedGraph, QOp, dict], np.ndarray]:
    def run(q: QuantizedGraph, op: QOp, env: dict[str, np.ndarray]) -> np.ndarray:
        a = op.attrs
        return fn(env[op.inputs[0]], tuple(a["size"]), bool(a["align_corners"]), bool(a["half_pixel_centers"]))

    return run


def _movement(q: QuantizedGraph, op: QOp, env: dict[str, np.ndarray]) -> np.ndarray:
    """A data-movement op (``ir.movement``) on the IR's NCHW view: int8 in, the same bytes rearranged out (Pad
    fills with its quantized value)."""
    xs = [to_ir(env[t]) for t in op.inputs]
    return to_internal(MOVES[op.kind].apply(op.attrs, xs, op.attrs.get("fill", 0)))


# The one op -> kernel binding of the integer reference: every QOp kind, on the tensors of ``env`` (NHWC).
RUNNERS: dict[str, Callable[[QuantizedGraph, QOp, dict], np.ndarray]] = {
    "CONV_2D": _conv,
    "DEPTHWISE_CONV_2D": _depthwise,
    "FULLY_CONNECTED": _fc,
    **{kind: (_binary if kind in BINARY_KINDS else _unary) for kind in ELEMENTWISE},
    "RESHAPE": _reshape,
    "SOFTMAX": lambda q, op, env: K.softmax(env[op.inputs[0]], op.attrs["input_multiplier"],
                                           op.attrs["input_left_shift"], op.attrs["diff_min"]),
    "MEAN": lambda q, op, env: NH.mean_hw(env[op.inputs[0]], op.attrs["x_zp"], op.attrs["mult"], op.attrs["shift"], op.attrs["out_zp"]),
    "MAX_POOL_2D": _pool(NH.max_pool),
    "AVERAGE_POOL_2D": _pool(NH.average_pool),
    "RESIZE_NEAREST_NEIGHBOR": _resize(RS.resize_nearest),
    "RESIZE_BILINEAR": _resize(RS.resize_bilinear),
    **{kind: _movement for kind in MOVES},
}


def run_int8(q: QuantizedGraph, x_int8: np.ndarray, keep_all: bool = True) -> dict[str, np.ndarray]:
    """Run the integer reference on int8 input [N, C, H, W] (or CHW). Returns every tensor by name
    (IR shapes with batch N first), or only the input and output with ``keep_all=False``."""
    x = np.asarray(x_int8)
    if x.dtype != np.int8:
        raise TypeError(f"run_int8 expects int8 input, got {x.dtype}; use quantize_input() first")
    x = x[None] if x.ndim == 3 else x
    env = {q.input: to_internal(x)}
    uses: dict[str, int] = {}
    for op in q.ops:
        for t in op.inputs:
            uses[t] = uses.get(t, 0) + 1
    out = {q.input: x}
    with single_thread():
        _execute(q, env, out, uses, keep_all)
    out[q.output] = to_ir(env[q.output])
    return out


def _intermediates(op: QOp, env: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Tensors a lowering adds inside one op (HARD_SIGMOID's MUL result), for comparison with LiteRT."""
    if "mid_table" not in op.params:
        return {}
    return {op.attrs["intermediate"]: to_ir(K.lookup(env[op.inputs[0]], op.params["mid_table"]))}


def _execute(q: QuantizedGraph, env: dict[str, np.ndarray], out: dict[str, np.ndarray], uses: dict[str, int],
             keep_all: bool) -> None:
    for op in q.ops:
        y = RUNNERS[op.kind](q, op, env)
        env[op.output] = y.reshape(y.shape[0], *tflite_shape(q.tensor(op.output).shape)[1:])
        if keep_all:
            out.update(_intermediates(op, env))
            out[op.output] = to_ir(env[op.output])
        for t in op.inputs:
            uses[t] -= 1
            if uses[t] == 0 and not keep_all and t != q.output:
                del env[t]


def predict_int8(q: QuantizedGraph, images_float: np.ndarray, batch_size: int = 4) -> np.ndarray:
    """Float images [N, C, H, W] -> dequantized float logits [N, classes], ``batch_size`` images per run
    (4 measured best on 2 cores: larger batches fall out of cache; B0 @224 ~6 images/s, @128 ~20)."""
    images = np.asarray(images_float, dtype=np.float32)
    images = images[None] if images.ndim == 3 else images
    outs = []
    for i in range(0, images.shape[0], batch_size):
        xq = quantize_input(q, images[i:i + batch_size])
        y = run_int8(q, xq, keep_all=False)[q.output]
        outs.append(dequantize(q, q.output, y).reshape(y.shape[0], -1))
    return np.concatenate(outs) if outs else np.zeros((0, 0), np.float32)
