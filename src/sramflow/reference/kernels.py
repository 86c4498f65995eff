"""One integer kernel per TFLite op, numpy only, NCHW with a leading batch axis (N, C, H, W).

Each follows the TFLite reference kernel named in its docstring (tensorflow/lite/kernels/internal/
reference/integer_ops/...). Inputs and outputs are int8; accumulation is in int32 (held in int64 and
wrapped like C). Convolutions multiply in float64, which is exact: every product is an integer below
2^15 and every partial sum stays far below 2^53, so the order of summation cannot change the result.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from sramflow.reference.requant import clamp_to_int8, multiply_by_quantized_multiplier, scale_by_double, wrap_int32

Pads = tuple[int, int, int, int]  # top, left, bottom, right
Pair = tuple[int, int]


def out_size(size: int, k: int, stride: int, dilation: int, pad_before: int, pad_after: int) -> int:
    return (size + pad_before + pad_after - dilation * (k - 1) - 1) // stride + 1


def _centered(x: np.ndarray, zero_point: int, pads: Pads) -> np.ndarray:
    """int32 (x - zero_point), zero-padded: padding contributes nothing, as in the reference loops."""
    xs = x.astype(np.int32) - np.int32(zero_point)
    t, left, b, r = pads
    return np.pad(xs, ((0, 0), (0, 0), (t, b), (left, r))) if any(pads) else xs


def _windows(xp: np.ndarray, kernel: Pair, strides: Pair, dilations: Pair, out_hw: Pair) -> np.ndarray:
    """Read-only view (N, C, kh, kw, OH, OW) of every kernel tap for every output position."""
    n, c = xp.shape[:2]
    s_n, s_c, s_h, s_w = xp.strides
    shape = (n, c, kernel[0], kernel[1], out_hw[0], out_hw[1])
    st = (s_n, s_c, s_h * dilations[0], s_w * dilations[1], s_h * strides[0], s_w * strides[1])
    return as_strided(xp, shape, st, writeable=False)


def exact_float_type(depth: int) -> type:
    """float32 when every partial sum of ``depth`` products |(q - zp) * w| <= 255 * 127 stays below 2^24
    (so every float32 addition is exact), else float64 (exact below 2^53)."""
    return np.float32 if depth * 255 * 127 < (1 << 24) else np.float64


def _requantize(acc: np.ndarray, multiplier: np.ndarray, shift: np.ndarray, out_zp: int,
                act_min: int, act_max: int) -> np.ndarray:
    """Per-channel requantization of an int32 accumulator shaped (N, C, ...)."""
    extra = (1,) * (acc.ndim - 2)
    m = np.asarray(multiplier, np.int64).reshape(-1, *extra)
    s = np.asarray(shift, np.int64).reshape(-1, *extra)
    return clamp_to_int8(multiply_by_quantized_multiplier(acc, m, s) + out_zp, act_min, act_max)


def conv2d(x: np.ndarray, x_zp: int, w: np.ndarray, bias: np.ndarray, multiplier: np.ndarray,
           shift: np.ndarray, out_zp: int, act_min: int, act_max: int, strides: Pair, pads: Pads,
           dilations: Pair = (1, 1)) -> np.ndarray:
    """ConvPerChannel (integer_ops/conv.h). w: int8 [Cout, Cin, kh, kw]; bias int32 [Cout]."""
    n, c, h, wd = x.shape
    co, _, kh, kw = w.shape
    oh = out_size(h, kh, strides[0], dilations[0], pads[0], pads[2])
    ow = out_size(wd, kw, strides[1], dilations[1], pads[1], pads[3])
    xp = _centered(x, x_zp, pads)
    ftype = exact_float_type(c * kh * kw)
    if (kh, kw) == (1, 1) and strides == (1, 1):
        cols = xp.reshape(n, c, h * wd).astype(ftype)
    else:
        cols = _windows(xp, (kh, kw), strides, dilations, (oh, ow)).reshape(n, c * kh * kw, oh * ow).astype(ftype)
    acc = np.matmul(w.reshape(co, -1).astype(ftype), cols).astype(np.int64)
    acc = wrap_int32(acc + bias.astype(np.int64)[:, None])
    return _requantize(acc, multiplier, shift, out_zp, act_min, act_max).reshape(n, co, oh, ow)


def depthwise_conv2d(x: np.ndarray, x_zp: int, w: np.ndarray, bias: np.ndarray, multiplier: np.ndarray,
                     shift: np.ndarray, out_zp: int, act_min: int, act_max: int, strides: Pair, pads: Pads,
                     dilations: Pair = (1, 1)) -> np.ndarray:
    """DepthwisePerChannel (integer_ops/depthwise_conv.h). w: int8 [Cin*m, 1, kh, kw]; output channel
    ic*m + j reads input channel ic (TFLite's depth_multiplier order)."""
    n, c, h, wd = x.shape
    co, _, kh, kw = w.shape
    oh = out_size(h, kh, strides[0], dilations[0], pads[0], pads[2])
    ow = out_size(wd, kw, strides[1], dilations[1], pads[1], pads[3])
    xp = _centered(x, x_zp, pads)
    if co != c:
        xp = np.repeat(xp, co // c, axis=1)
    win = _windows(xp, (kh, kw), strides, dilations, (oh, ow))
    w32 = w.astype(np.int32)
    acc = np.zeros((n, co, oh, ow), np.int32)
    for i in range(kh):
        for j in range(kw):
            acc += win[:, :, i, j] * w32[:, 0, i, j][None, :, None, None]
    acc = wrap_int32(acc.astype(np.int64) + bias.astype(np.int64)[:, None, None])
    return _requantize(acc, multiplier, shift, out_zp, act_min, act_max)


def fully_connected(x: np.ndarray, x_zp: int, w: np.ndarray, bias: np.ndarray, effective_scale: np.ndarray,
                    out_zp: int, act_min: int, act_max: int) -> np.ndarray:
    """FullyConnectedPerChannel as LiteRT's reference kernel runs it (integer_ops/fully_connected.h, the
    overload taking float scales): int32 accumulation, then round(double(acc) * effective_scale[c]).
    x: [N, K] (flattened); w: int8 [out, K]; effective_scale float64 [out]."""
    xs = (x.reshape(x.shape[0], -1).astype(np.int32) - x_zp).astype(np.float64)
    acc = np.matmul(xs, w.astype(np.float64).T).astype(np.int64)
    acc = wrap_int32(acc + bias.astype(np.int64)[None, :])
    return clamp_to_int8(scale_by_double(acc, effective_scale[None, :]) + out_zp, act_min, act_max)


def pairwise_table(fn, zp1: int, zp2: int) -> np.ndarray:  # noqa: ANN001
    """A 256 x 256 int8 table of a binary kernel over every pair of int8 inputs. ADD and MUL are pure
    functions of their two int8 operands, so indexing this table is exactly the kernel, only faster."""
    q = np.arange(256, dtype=np.uint8).view(np.int8)  # row / column i holds the int8 whose byte is i
    return fn(q[:, None], q[None, :])


def lookup_pairwise(table: np.ndarray, x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    a, b = np.broadcast_arrays(x1.view(np.uint8), x2.view(np.uint8))
    return table.reshape(-1)[(a.astype(np.intp) << 8) | b]


def add(x1: np.ndarray, x2: np.ndarray, zp1: int, zp2: int, mult1: int, shift1: int, mult2: int, shift2: int,
        out_mult: int, out_shift: int, out_zp: int, act_min: int, act_max: int, left_shift: int = 20) -> np.ndarray:
    """Add (integer_ops/add.h): inputs (q - zp) << 20, each rescaled, summed, rescaled to the output.
    Broadcasting follows numpy (the same result as TFLite's BroadcastAdd6DSlow)."""
    a = multiply_by_quantized_multiplier((x1.astype(np.int64) - zp1) << left_shift, mult1, shift1)
    b = multiply_by_quantized_multiplier((x2.astype(np.int64) - zp2) << left_shift, mult2, shift2)
    raw = multiply_by_quantized_multiplier(wrap_int32(a + b), out_mult, out_shift) + out_zp
    return clamp_to_int8(raw, act_min, act_max)


def mul(x1: np.ndarray, x2: np.ndarray, zp1: int, zp2: int, out_mult: int, out_shift: int, out_zp: int,
        act_min: int, act_max: int) -> np.ndarray:
    """Mul (integer_ops/mul.h): (q1 - zp1) * (q2 - zp2), rescaled once. Broadcasting follows numpy."""
    prod = (x1.astype(np.int32) - np.int32(zp1)) * (x2.astype(np.int32) - np.int32(zp2))
    return clamp_to_int8(multiply_by_quantized_multiplier(prod, out_mult, out_shift) + out_zp, act_min, act_max)


def logistic(x: np.ndarray, table: np.ndarray) -> np.ndarray:
    """LOGISTIC by LiteRT's 256-entry table (activations.cc), indexed by the input's byte."""
    return table[x.view(np.uint8)]


def mean_hw(x: np.ndarray, x_zp: int, multiplier: int, shift: int, out_zp: int) -> np.ndarray:
    """MEAN over H and W, keep_dims (reference/reduce.h QuantizedMeanOrSum): the sum, less zp * count,
    times the multiplier with 1/count folded in as the reference does. Output (N, C, 1, 1)."""
    count = x.shape[2] * x.shape[3]
    total = x.astype(np.int64).sum(axis=(2, 3), keepdims=True)
    fold = min(count.bit_length() - 1, 32, 31 + shift)
    m = ((multiplier << fold) // count) if fold >= 0 else ((multiplier >> -fold) // count)
    shifted = wrap_int32(total - x_zp * count)
    return clamp_to_int8(multiply_by_quantized_multiplier(shifted, m, shift - fold) + out_zp)


def relu_x(x: np.ndarray, x_zp: int, multiplier: int, shift: int, out_zp: int, act_min: int,
           act_max: int) -> np.ndarray:
    """RELU / RELU6 (activations.cc QuantizedReluX -> ReluX): rescale to the output, then clamp."""
    raw = multiply_by_quantized_multiplier(x.astype(np.int64) - x_zp, multiplier, shift) + out_zp
    return clamp_to_int8(raw, act_min, act_max)


def max_pool(x: np.ndarray, kernel: Pair, strides: Pair, pads: Pads, act_min: int, act_max: int) -> np.ndarray:
    """MaxPool (integer_ops/pooling.h): the maximum over the in-bounds taps (padding never wins)."""
    n, c, h, w = x.shape
    oh, ow = (out_size(h, kernel[0], strides[0], 1, pads[0], pads[2]), out_size(w, kernel[1], strides[1], 1, pads[1], pads[3]))
    t, left, b, r = pads
    xp = np.pad(x.astype(np.int16), ((0, 0), (0, 0), (t, b), (left, r)), constant_values=-32768)
    out = _windows(xp, kernel, strides, (1, 1), (oh, ow)).max(axis=(2, 3))
    return clamp_to_int8(out, act_min, act_max)


def average_pool(x: np.ndarray, kernel: Pair, strides: Pair, pads: Pads, act_min: int, act_max: int) -> np.ndarray:
    """AveragePool (integer_ops/pooling.h): in-bounds sum / in-bounds count, rounded half away from zero."""
    n, c, h, w = x.shape
    oh, ow = (out_size(h, kernel[0], strides[0], 1, pads[0], pads[2]), out_size(w, kernel[1], strides[1], 1, pads[1], pads[3]))
    t, left, b, r = pads
    xp = np.pad(x.astype(np.int32), ((0, 0), (0, 0), (t, b), (left, r)))
    ones = np.pad(np.ones((1, 1, h, w), np.int32), ((0, 0), (0, 0), (t, b), (left, r)))
    total = _windows(xp, kernel, strides, (1, 1), (oh, ow)).sum(axis=(2, 3)).astype(np.int64)
    count = _windows(ones, kernel, strides, (1, 1), (oh, ow)).sum(axis=(2, 3)).astype(np.int64)
    half = count // 2
    q = np.where(total > 0, (total + half) // count, -((-(total - half)) // count))
    return clamp_to_int8(q, act_min, act_max)
