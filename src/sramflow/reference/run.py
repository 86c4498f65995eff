"""Execute a QuantizedGraph with the integer kernels: every tensor, int8, NCHW, batch axis first."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sramflow.quant.qgraph import QOp, QuantizedGraph
from sramflow.reference import kernels as K
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


def _operands(q: QuantizedGraph, op: QOp, env: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    x1 = env[op.inputs[0]]
    if len(op.inputs) == 2:
        return x1, env[op.inputs[1]]
    c = op.params["const"]
    return x1, (c.reshape(1, *c.shape) if c.ndim == x1.ndim - 1 and c.ndim > 1 else c)


def _weighted(fn: Callable[..., np.ndarray]) -> Callable[[QuantizedGraph, QOp, dict], np.ndarray]:
    def run(q: QuantizedGraph, op: QOp, env: dict[str, np.ndarray]) -> np.ndarray:
        a, p = op.attrs, op.params
        x = env[op.inputs[0]]
        x_zp, out_zp = q.tensor(op.inputs[0]).zero_point, q.tensor(op.output).zero_point
        if fn is K.fully_connected:
            return fn(x, x_zp, p["weights"], p["bias"], p["effective_scale"], out_zp, a["act_min"], a["act_max"])
        return fn(x, x_zp, p["weights"], p["bias"], p["multiplier"], p["shift"], out_zp, a["act_min"], a["act_max"],
                  tuple(a["strides"]), tuple(a["pads"]), tuple(a["dilations"]))

    return run


def _add_fn(a: dict) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    return lambda x1, x2: K.add(x1, x2, a["zp1"], a["zp2"], a["mult1"], a["shift1"], a["mult2"], a["shift2"],
                                a["out_mult"], a["out_shift"], a["out_zp"], a["act_min"], a["act_max"], a["left_shift"])


def _mul_fn(a: dict) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    return lambda x1, x2: K.mul(x1, x2, a["zp1"], a["zp2"], a["out_mult"], a["out_shift"], a["out_zp"],
                                a["act_min"], a["act_max"])


_TABLES: dict[tuple, np.ndarray] = {}  # keyed by the op's kind and integer parameters (a pure function of them)
TABLE_MIN_ELEMENTS = 4096  # below this the kernel itself is as fast as building a table


def _binary(make: Callable[[dict], Callable[[np.ndarray, np.ndarray], np.ndarray]]) -> Callable[[QuantizedGraph, QOp, dict], np.ndarray]:
    def run(q: QuantizedGraph, op: QOp, env: dict[str, np.ndarray]) -> np.ndarray:
        x1, x2 = _operands(q, op, env)
        fn = make(dict(op.attrs))
        if max(x1.size, x2.size) < TABLE_MIN_ELEMENTS:
            return fn(x1, x2)
        key = (op.kind, *sorted((k, v) for k, v in op.attrs.items() if k != "const_tensor"))
        table = _TABLES.get(key)
        if table is None:
            table = _TABLES[key] = K.pairwise_table(fn, op.attrs["zp1"], op.attrs["zp2"])
        return K.lookup_pairwise(table, x1, x2)

    return run


def _relu(q: QuantizedGraph, op: QOp, env: dict[str, np.ndarray]) -> np.ndarray:
    a = op.attrs
    return K.relu_x(env[op.inputs[0]], a["x_zp"], a["mult"], a["shift"], a["out_zp"], a["act_min"], a["act_max"])


def _pool(fn: Callable[..., np.ndarray]) -> Callable[[QuantizedGraph, QOp, dict], np.ndarray]:
    def run(q: QuantizedGraph, op: QOp, env: dict[str, np.ndarray]) -> np.ndarray:
        a = op.attrs
        return fn(env[op.inputs[0]], tuple(a["kernel"]), tuple(a["strides"]), tuple(a["pads"]), a["act_min"], a["act_max"])

    return run


RUNNERS: dict[str, Callable[[QuantizedGraph, QOp, dict], np.ndarray]] = {
    "CONV_2D": _weighted(K.conv2d),
    "DEPTHWISE_CONV_2D": _weighted(K.depthwise_conv2d),
    "FULLY_CONNECTED": _weighted(K.fully_connected),
    "ADD": _binary(_add_fn),
    "MUL": _binary(_mul_fn),
    "LOGISTIC": lambda q, op, env: K.logistic(env[op.inputs[0]], op.params["table"]),
    "MEAN": lambda q, op, env: K.mean_hw(env[op.inputs[0]], op.attrs["x_zp"], op.attrs["mult"], op.attrs["shift"], op.attrs["out_zp"]),
    "RELU": _relu,
    "RELU6": _relu,
    "MAX_POOL_2D": _pool(K.max_pool),
    "AVERAGE_POOL_2D": _pool(K.average_pool),
}


def run_int8(q: QuantizedGraph, x_int8: np.ndarray, keep_all: bool = True) -> dict[str, np.ndarray]:
    """Run the integer reference on int8 input [N, C, H, W] (or CHW). Returns every tensor by name
    (IR shapes with batch N first), or only the input and output with ``keep_all=False``."""
    x = np.asarray(x_int8)
    if x.dtype != np.int8:
        raise TypeError(f"run_int8 expects int8 input, got {x.dtype}; use quantize_input() first")
    env = {q.input: x[None] if x.ndim == 3 else x}
    uses: dict[str, int] = {}
    for op in q.ops:
        for t in op.inputs:
            uses[t] = uses.get(t, 0) + 1
    out = dict(env)
    for op in q.ops:
        y = RUNNERS[op.kind](q, op, env)
        n = y.shape[0]
        env[op.output] = y.reshape(n, *q.tensor(op.output).shape[1:])
        if keep_all:
            out[op.output] = env[op.output]
        for t in op.inputs:
            uses[t] -= 1
            if uses[t] == 0 and not keep_all and t != q.output:
                del env[t]
    out[q.output] = env[q.output]
    return out


def predict_int8(q: QuantizedGraph, images_float: np.ndarray, batch_size: int = 16) -> np.ndarray:
    """Float images [N, C, H, W] -> dequantized float logits [N, classes], batched over images."""
    images = np.asarray(images_float, dtype=np.float32)
    images = images[None] if images.ndim == 3 else images
    outs = []
    for i in range(0, images.shape[0], batch_size):
        xq = quantize_input(q, images[i:i + batch_size])
        y = run_int8(q, xq, keep_all=False)[q.output]
        outs.append(dequantize(q, q.output, y).reshape(y.shape[0], -1))
    return np.concatenate(outs) if outs else np.zeros((0, 0), np.float32)
