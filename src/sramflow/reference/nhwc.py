"""The fast path of the integer reference: kernels on NHWC activations (TFLite's own layout).

``run_int8`` keeps every activation in NHWC: a 1x1 convolution is then one (N*H*W, Cin) @ (Cin, Cout)
matmul, depthwise taps and per-channel requantization broadcast over the contiguous last axis, and
RESHAPE sees the same element order as TFLite. Weights stay in the IR layout ([Cout, Cin/g, kh, kw]).
``kernels.py`` keeps the NCHW functions (same names and results as before) as wrappers of these.

Exactness: convolutions multiply integers in float32 when every partial sum is provably below 2^24
(bounded per output channel by 255 * sum|w|), else in float64 (below 2^53); either way the sum is
the exact integer, whatever the summation order. Requantization is ``requant.requantize_per_channel``.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from sramflow.reference.requant import clamp_to_int8, mean_of_sums, requantize_per_channel

Pads = tuple[int, int, int, int]  # top, left, bottom, right
Pair = tuple[int, int]
MAX_CENTERED = 256  # |q - zp| <= 255 for int8 q and zp
DEPTHWISE_BLOCK = 1 << 15  # float elements of one depthwise accumulator block


def out_size(size: int, k: int, stride: int, dilation: int, pad_before: int, pad_after: int) -> int:
    return (size + pad_before + pad_after - dilation * (k - 1) - 1) // stride + 1


def exact_dtype(weights_2d: np.ndarray) -> type:
    """float32 if 256 * max_c sum_k |w[c, k]| < 2^24 (every partial sum of a dot product is exact in
    float32, in any order), else float64."""
    bound = MAX_CENTERED * int(np.abs(weights_2d.astype(np.int64)).sum(axis=1).max(initial=0))
    return np.float32 if bound < (1 << 24) else np.float64


def centered(x: np.ndarray, zero_point: int, pads: Pads, dtype: type) -> np.ndarray:
    """(x - zero_point) in ``dtype`` (exact), zero-padded on H and W: padding contributes nothing."""
    t, left, b, r = pads
    n, h, w, c = x.shape
    out = np.zeros((n, h + t + b, w + left + r, c), dtype)
    inner = out[:, t:t + h, left:left + w, :]
    np.subtract(x, dtype(zero_point), out=inner, dtype=dtype)
    return out


def windows(xp: np.ndarray, kernel: Pair, strides: Pair, dilations: Pair, out_hw: Pair) -> np.ndarray:
    """Read-only view (N, OH, OW, kh, kw, C) of every kernel tap for every output position."""
    s_n, s_h, s_w, s_c = xp.strides
    shape = (xp.shape[0], out_hw[0], out_hw[1], kernel[0], kernel[1], xp.shape[3])
    st = (s_n, s_h * strides[0], s_w * strides[1], s_h * dilations[0], s_w * dilations[1], s_c)
    return as_strided(xp, shape, st, writeable=False)


def _conv_geometry(x: np.ndarray, kernel: Pair, strides: Pair, pads: Pads, dilations: Pair) -> Pair:
    return (out_size(x.shape[1], kernel[0], strides[0], dilations[0], pads[0], pads[2]),
            out_size(x.shape[2], kernel[1], strides[1], dilations[1], pads[1], pads[3]))


def conv_matrix(w: np.ndarray) -> np.ndarray:
    """IR filter [Cout, Cin, kh, kw] -> (kh*kw*Cin, Cout) matching the NHWC window order."""
    return w.transpose(2, 3, 1, 0).reshape(-1, w.shape[0])


def conv2d(x: np.ndarray, x_zp: int, w: np.ndarray, bias: np.ndarray, multiplier: np.ndarray,
           shift: np.ndarray, out_zp: int, act_min: int, act_max: int, strides: Pair, pads: Pads,
           dilations: Pair = (1, 1), groups: int = 1, wmat: np.ndarray | None = None) -> np.ndarray:
    """ConvPerChannel (integer_ops/conv.h) on NHWC int8 x; w int8 [Cout, Cin/groups, kh, kw]. Grouped
    convolutions (input channels a multiple of the filter's) run group by group, as the reference does.
    ``wmat``: a cached ``conv_matrix(w)`` in the exact float dtype (per group: a list)."""
    n = x.shape[0]
    co, cig, kh, kw = w.shape
    oh, ow = _conv_geometry(x, (kh, kw), strides, pads, dilations)
    if groups > 1:
        cog = co // groups
        parts = [_conv_acc(x[..., g * cig:(g + 1) * cig], x_zp, w[g * cog:(g + 1) * cog], None, strides, pads, dilations, (oh, ow))
                 for g in range(groups)]
        acc = np.concatenate(parts, axis=-1)
    else:
        acc = _conv_acc(x, x_zp, w, wmat, strides, pads, dilations, (oh, ow))
    return requantize_per_channel(acc.reshape(n, oh, ow, co), bias, multiplier, shift, out_zp, act_min, act_max)


def _conv_acc(x: np.ndarray, x_zp: int, w: np.ndarray, wmat: np.ndarray | None, strides: Pair, pads: Pads,
              dilations: Pair, out_hw: Pair) -> np.ndarray:
    """Exact integer accumulators (in float) as (N*OH*OW, Cout)."""
    if wmat is None:
        wm = conv_matrix(w)
        wmat = wm.astype(exact_dtype(wm.T))
    kh, kw = w.shape[2:]
    xp = centered(x, x_zp, pads, wmat.dtype.type)
    if (kh, kw) == (1, 1):
        cols = xp[:, ::strides[0], ::strides[1], :][:, :out_hw[0], :out_hw[1], :]
    else:
        cols = windows(xp, (kh, kw), strides, dilations, out_hw)
    return np.matmul(cols.reshape(-1, wmat.shape[0]), wmat)


def depthwise_conv2d(x: np.ndarray, x_zp: int, w: np.ndarray, bias: np.ndarray, multiplier: np.ndarray,
                     shift: np.ndarray, out_zp: int, act_min: int, act_max: int, strides: Pair, pads: Pads,
                     dilations: Pair = (1, 1)) -> np.ndarray:
    """DepthwisePerChannel on NHWC int8 x; w int8 [Cin*m, 1, kh, kw], output channel ic*m + j reads
    input channel ic. A sum of kh*kw shifted, strided slices in float32 (|sum| <= 25 * 255 * 128 for
    5x5, far below 2^24 for any kernel up to 512 taps)."""
    co, _, kh, kw = w.shape
    c = x.shape[3]
    oh, ow = _conv_geometry(x, (kh, kw), strides, pads, dilations)
    dtype = np.float32 if kh * kw * MAX_CENTERED * 128 < (1 << 24) else np.float64
    xp = centered(x, x_zp, pads, dtype)
    if co != c:
        xp = np.repeat(xp, co // c, axis=3)
    taps = np.ascontiguousarray(w[:, 0].transpose(1, 2, 0), dtype)  # (kh, kw, Cout)
    n = x.shape[0]
    acc = np.empty((n, oh, ow, co), dtype)
    sh, sw = strides
    rows = max(1, DEPTHWISE_BLOCK // max(1, n * ow * co))  # output rows per block: acc and tmp stay in cache
    tmp = np.empty((n, min(rows, oh), ow, co), dtype)
    for r in range(0, oh, rows):
        k = min(rows, oh - r)
        a, tb = acc[:, r:r + k], tmp[:, :k]
        for i in range(kh):
            for j in range(kw):
                r0, c0 = r * sh + i * dilations[0], j * dilations[1]
                sl = xp[:, r0:r0 + sh * (k - 1) + 1:sh, c0:c0 + sw * (ow - 1) + 1:sw, :]
                if i == 0 and j == 0:
                    np.multiply(sl, taps[0, 0], out=a)
                else:
                    np.multiply(sl, taps[i, j], out=tb)
                    a += tb
    return requantize_per_channel(acc, bias, multiplier, shift, out_zp, act_min, act_max)


def mean_hw(x: np.ndarray, x_zp: int, multiplier: int, shift: int, out_zp: int) -> np.ndarray:
    """MEAN over H and W of NHWC x (reference/reduce.h QuantizedMeanOrSum); output (N, 1, 1, C)."""
    count = x.shape[1] * x.shape[2]
    total = x.astype(np.int64).sum(axis=(1, 2), keepdims=True)
    return mean_of_sums(total, count, x_zp, multiplier, shift, out_zp)


def max_pool(x: np.ndarray, kernel: Pair, strides: Pair, pads: Pads, act_min: int, act_max: int) -> np.ndarray:
    """MaxPool (integer_ops/pooling.h) on NHWC x: the maximum over the in-bounds taps."""
    oh, ow = _conv_geometry(x, kernel, strides, pads, (1, 1))
    t, left, b, r = pads
    xp = np.pad(x.astype(np.int16), ((0, 0), (t, b), (left, r), (0, 0)), constant_values=-32768)
    return clamp_to_int8(windows(xp, kernel, strides, (1, 1), (oh, ow)).max(axis=(3, 4)), act_min, act_max)


def average_pool(x: np.ndarray, kernel: Pair, strides: Pair, pads: Pads, act_min: int, act_max: int) -> np.ndarray:
    """AveragePool (integer_ops/pooling.h) on NHWC x: in-bounds sum / in-bounds count, ties away from 0."""
    n, h, w, c = x.shape
    oh, ow = _conv_geometry(x, kernel, strides, pads, (1, 1))
    t, left, b, r = pads
    xp = np.pad(x.astype(np.int32), ((0, 0), (t, b), (left, r), (0, 0)))
    ones = np.pad(np.ones((1, h, w, 1), np.int32), ((0, 0), (t, b), (left, r), (0, 0)))
    total = windows(xp, kernel, strides, (1, 1), (oh, ow)).sum(axis=(3, 4)).astype(np.int64)
    count = windows(ones, kernel, strides, (1, 1), (oh, ow)).sum(axis=(3, 4)).astype(np.int64)
    half = count // 2
    q = np.where(total > 0, (total + half) // count, -((-(total - half)) // count))
    return clamp_to_int8(q, act_min, act_max)
