"""Pooling on the vector unit (a ``ConvSchedule`` with ``shape.pool_op``): the arithmetic of the integer
reference's MAX_POOL_2D / AVERAGE_POOL_2D, applied to window bytes read back from the SRAM.

The DMA fills the padded window's out-of-image bytes with the op's pad value, chosen so that the plain
reduction over every tap of the window equals the reference:
- max: -128, which never exceeds an in-image tap (the quantizer's PADV2 -128 + VALID decomposition and
  TFLite SAME, which skips padding, give the same maximum);
- average, TFLite SAME padding (``explicit_pad`` False): 0, so the window sum is the in-image sum, divided by
  the in-image tap count of that output pixel (pooling.h);
- average with explicit padding (``count_include_pad``: the quantizer's PAD with the zero point + VALID):
  the zero point, divided by kernel_h x kernel_w; where ceil_mode reaches past that pad (PAD + SAME: those
  taps are not counted) the DMA still writes the zero point, so the accumulator of each such output pixel
  starts at -zero point x its uncounted taps (``offset``, set like a bias) and the divisor is its counted taps.
Rounding of the average: (sum +- count / 2) / count truncated toward zero (ties away from zero), then the
activation clamp, as ``reference.nhwc.average_pool``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sramflow.errors import UnsupportedOpError
from sramflow.ir.movement import MOVEMENT_OPS
from sramflow.mapping.conv import ConvShape
from sramflow.reference.requant import clamp_to_int8

# a "window" movement op (ir.movement: Pad) is a 1 x 1 max whose padded taps hold its int8 fill
POOL_KINDS = {"MAX_POOL_2D": "max", "AVERAGE_POOL_2D": "avg",
              **{m.kind: "max" for m in MOVEMENT_OPS if m.mapping == "window"}}


@dataclass(frozen=True)
class PoolSpec:
    """``op``: "max" or "avg"; ``fill``: the pad value the DMA writes; ``count`` (OH, OW): the divisor of each
    output pixel (average; ones for max)."""

    op: str
    fill: int
    count: np.ndarray
    act_min: int
    act_max: int
    offset: np.ndarray | None = None  # (OH, OW) accumulator start of each output pixel (average), else 0

    def finish(self, total: np.ndarray, h0: int = 0, w0: int = 0) -> np.ndarray:
        """Reduced taps (..., h, w) of the output pixels starting at (h0, w0) -> int8 (max: the maximum,
        avg: the window sum)."""
        t = np.asarray(total, np.int64)
        if self.op == "max":
            return clamp_to_int8(t, self.act_min, self.act_max)
        count = self.count[h0:h0 + t.shape[-2], w0:w0 + t.shape[-1]]
        if self.offset is not None:
            t = t + self.offset[h0:h0 + t.shape[-2], w0:w0 + t.shape[-1]]
        half = count // 2
        q = np.where(t > 0, (t + half) // count, -((-(t - half)) // count))
        return clamp_to_int8(q, self.act_min, self.act_max)

    def reduce(self, taps: np.ndarray, axis: int) -> np.ndarray:
        """Max or sum of raw int8 taps along ``axis`` (int64)."""
        t = np.asarray(taps, np.int64)
        return t.max(axis=axis) if self.op == "max" else t.sum(axis=axis)


def pool_spec(shape: ConvShape, kind: str, attrs: dict, x_zp: int) -> PoolSpec:
    """The spec of a quantized pooling op (``QOp.kind`` / ``attrs``) on the mapper's shape."""
    op = POOL_KINDS.get(kind)
    if op is None or op != shape.pool_op:
        raise UnsupportedOpError(f"node {shape.name!r}: quantized op {kind} does not match the {shape.pool_op!r} "
                                 "pooling schedule")
    if kind not in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):  # a window movement op: one tap, the byte or the fill
        return PoolSpec("max", int(attrs["fill"]), np.ones((shape.out_h, shape.out_w), np.int64), -128, 127)
    lo, hi = int(attrs["act_min"]), int(attrs["act_max"])
    if op == "max":
        return PoolSpec("max", -128, np.ones((shape.out_h, shape.out_w), np.int64), lo, hi)
    if attrs.get("explicit_pad"):  # counted: the image and the PAD (pre_pad) around it
        t, left, b, r = attrs.get("pre_pad", (shape.pad_top, shape.pad_left, 0, 0))
        ch = _in_bounds(shape.out_h, shape.stride_h, shape.kernel_h, shape.pad_top, -t, shape.in_h + b)
        cw = _in_bounds(shape.out_w, shape.stride_w, shape.kernel_w, shape.pad_left, -left, shape.in_w + r)
        count = np.outer(ch, cw)
        if "pre_pad" not in attrs:  # a quantized graph from before pre_pad: the PAD covered all the padding
            count = np.full_like(count, shape.kernel_h * shape.kernel_w)
        uncounted = shape.kernel_h * shape.kernel_w - count
        return PoolSpec("avg", int(x_zp), count, lo, hi, -int(x_zp) * uncounted if uncounted.any() else None)
    ch = _in_bounds(shape.out_h, shape.stride_h, shape.kernel_h, shape.pad_top, 0, shape.in_h)
    cw = _in_bounds(shape.out_w, shape.stride_w, shape.kernel_w, shape.pad_left, 0, shape.in_w)
    return PoolSpec("avg", 0, np.outer(ch, cw), lo, hi)


def _in_bounds(out_n: int, stride: int, k: int, pad: int, lo: int, hi: int) -> np.ndarray:
    """Taps of each output's window (starting at out * stride - pad) that lie in [lo, hi)."""
    start = np.arange(out_n) * stride - pad
    return (np.clip(start + k, lo, hi) - np.clip(start, lo, hi)).astype(np.int64)
