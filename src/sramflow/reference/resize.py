"""Integer RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR as LiteRT's reference kernels compute them.

Both keep the input's scale and zero point (the converter gives the output the input's parameters), so the
kernels work on raw int8 values. A resize is a gather of source taps per output pixel followed, for bilinear,
by a weighted sum; the taps and weights depend only on the output position, so they are computed once per
axis (``nearest_index``, ``bilinear_taps``) and the functional simulator applies ``bilinear_combine`` to the
taps it read from its SRAM.

- nearest (reference_ops::ResizeNearestNeighbor, GetNearestNeighbor): in float32, scale = in / out (or
  (in - 1) / (out - 1) with align_corners), source = floor((i + offset) * scale) (TfLiteRound with
  align_corners), offset 0.5 with half_pixel_centers; clamped to [0, in - 1].
- bilinear (reference_ops::ResizeBilinearInteger): 10 fractional bits, scale_10 = round(2^10 in / out),
  scaled = i * scale_10 (+ scale_10 / 2 - 2^9 with half_pixel_centers); lower = max(scaled / 2^10, 0),
  upper = min((scaled + 2^10 - 1) / 2^10, in - 1) (C division, truncating toward zero); the four products in
  int64 and (sum +- 2^19) / 2^20 truncated (the double-rounding build; the default of LiteRT's wheels).
"""

from __future__ import annotations

import numpy as np


def _cdiv(a: np.ndarray, b: int) -> np.ndarray:
    """C integer division (truncation toward zero)."""
    q = np.abs(a) // b
    return np.where(a < 0, -q, q)


def nearest_index(in_n: int, out_n: int, align_corners: bool, half_pixel_centers: bool) -> np.ndarray:
    """GetNearestNeighbor for every output index 0..out_n-1 (float32 arithmetic as the kernel's)."""
    f32 = np.float32
    scale = f32(in_n - 1) / f32(out_n - 1) if align_corners and out_n > 1 else f32(in_n) / f32(out_n)
    pos = (np.arange(out_n, dtype=np.float32) + f32(0.5 if half_pixel_centers else 0.0)) * scale
    src = np.floor(np.abs(pos) + f32(0.5)) * np.sign(pos) if align_corners else np.floor(pos)  # TfLiteRound
    src = np.minimum(src.astype(np.int64), in_n - 1)
    return np.maximum(src, 0) if half_pixel_centers else src


def bilinear_taps(in_n: int, out_n: int, align_corners: bool, half_pixel_centers: bool
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ComputeInterpolationValuesInteger for every output index: (lower, upper, weight of upper in 1/2^10);
    the lower tap's weight is 2^10 - weight (both may lie outside [0, 2^10] at a clamped edge, where
    lower == upper)."""
    one = 1 << 10
    if align_corners and out_n > 1:
        scale_10 = (one * (in_n - 1) + (out_n - 1) // 2) // (out_n - 1)
    else:
        scale_10 = (one * in_n + out_n // 2) // out_n
    i = np.arange(out_n, dtype=np.int64)
    scaled = i * scale_10 + (scale_10 // 2 - (1 << 9) if half_pixel_centers else 0)
    lower = np.maximum(_cdiv(scaled, one), 0)
    upper = np.minimum(_cdiv(scaled + one - 1, one), in_n - 1)
    return lower, upper, scaled - one * lower


def bilinear_combine(v00: np.ndarray, v01: np.ndarray, v10: np.ndarray, v11: np.ndarray, wy: np.ndarray,
                     wx: np.ndarray) -> np.ndarray:
    """The four taps (top-left, top-right, bottom-left, bottom-right) of each output and the weights of the
    bottom row / right column (1/2^10, broadcast against the taps) -> int8."""
    one = 1 << 10
    acc = (v00.astype(np.int64) * (one - wy) * (one - wx) + v10.astype(np.int64) * wy * (one - wx)
           + v01.astype(np.int64) * (one - wy) * wx + v11.astype(np.int64) * wy * wx)
    q = _cdiv(acc + np.where(acc > 0, 1 << 19, -(1 << 19)), 1 << 20)
    return q.astype(np.int8)  # a convex combination of int8 values: always in range


def resize_nearest(x: np.ndarray, out_hw: tuple[int, int], align_corners: bool, half_pixel_centers: bool
                   ) -> np.ndarray:
    """NHWC int8 x -> (N, OH, OW, C)."""
    iy = nearest_index(x.shape[1], out_hw[0], align_corners, half_pixel_centers)
    ix = nearest_index(x.shape[2], out_hw[1], align_corners, half_pixel_centers)
    return x[:, iy][:, :, ix]


def resize_bilinear(x: np.ndarray, out_hw: tuple[int, int], align_corners: bool, half_pixel_centers: bool
                    ) -> np.ndarray:
    """NHWC int8 x -> (N, OH, OW, C)."""
    y0, y1, wy = bilinear_taps(x.shape[1], out_hw[0], align_corners, half_pixel_centers)
    x0, x1, wx = bilinear_taps(x.shape[2], out_hw[1], align_corners, half_pixel_centers)
    r0, r1 = x[:, y0], x[:, y1]
    return bilinear_combine(r0[:, :, x0], r0[:, :, x1], r1[:, :, x0], r1[:, :, x1], wy[None, :, None, None],
                            wx[None, None, :, None])
