"""Lower bounds on the off-chip traffic of one Conv/Gemm: compulsory traffic and a red-blue pebble game bound.

The derivation, its assumptions and the sources are in docs/io_lower_bound.md; in short:

* compulsory: every weight, bias, output and every input that some real (non-padding) MAC reads crosses the
  off-chip link at least once;
* communication (Hong and Kung 1981, segment argument as in Irony, Toledo and Tiskin 2004 and Smith et al. 2019,
  with the convolution's input reuse as in Demmel and Dinh 2018 and Chen, Han and Wang 2020): cut any schedule
  into segments of S' element transfers; a segment touches at most 2S + S' distinct weights, inputs and outputs
  (S: on-chip elements), and by the Loomis-Whitney inequality on the im2col view it performs at most
  sqrt(u w x z) MACs with w + x + z <= 2S + S' (u: how many (output pixel, kernel tap) pairs read one input).

Both hold for every schedule without recomputation, whatever the tiling, the loop order or the memory levels:
the bound is a property of the layer and of the total on-chip capacity, not of the mapper.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from sramflow.hw.spec import HardwareSpec
from sramflow.mapping.conv import ConvShape

# S' candidates per bound, as multiples of the on-chip element capacity: the uncapped optimum is S' = 4S
# (docs/io_lower_bound.md); caps on the operand sizes move it, so a geometric grid around it is searched
_SEGMENT_FACTORS = np.geomspace(1 / 64, 64, 193)


@dataclass(frozen=True)
class TapCounts:
    """Per spatial dimension of a convolution: how the kernel taps of all outputs fall on the input."""

    real_taps: int  # (output index, kernel tap) pairs whose input index lies inside the image
    used_inputs: int  # distinct input indices some real tap reads
    max_reuse: int  # the most (output index, kernel tap) pairs that read one input index


def onchip_capacity_bytes(hw: HardwareSpec) -> int:
    """Every byte that can hold data on chip: all SRAM levels, the accumulators and the input operand registers
    (``HardwareSpec.memories`` minus the off-chip level)."""
    return sum(int(m.size_bytes) for m in hw.memories if m.size_bytes is not None)


@lru_cache(maxsize=4096)
def tap_counts(out_n: int, kernel: int, stride: int, dilation: int, pad: int, in_n: int) -> TapCounts:
    """Exact counts by enumeration of the out_n x kernel taps of one dimension (input index o*stride - pad + r*d)."""
    idx = (np.arange(out_n)[:, None] * stride - pad + np.arange(kernel)[None, :] * dilation).ravel()
    idx = idx[(idx >= 0) & (idx < in_n)]
    if idx.size == 0:
        return TapCounts(0, 0, 0)
    per_input = np.bincount(idx, minlength=in_n)
    return TapCounts(int(idx.size), int(np.count_nonzero(per_input)), int(per_input.max()))


def _taps(shape: ConvShape) -> tuple[TapCounts, TapCounts]:
    return (tap_counts(shape.out_h, shape.kernel_h, shape.stride_h, shape.dilation_h, shape.pad_top, shape.in_h),
            tap_counts(shape.out_w, shape.kernel_w, shape.stride_w, shape.dilation_w, shape.pad_left, shape.in_w))


def real_macs(shape: ConvShape) -> int:
    """MACs whose input lies inside the image (padding taps multiply a zero the array never has to load)."""
    th, tw = _taps(shape)
    return shape.groups * shape.k_per_group * shape.c_per_group * th.real_taps * tw.real_taps


def used_input_bytes(shape: ConvShape) -> int:
    """Input bytes some real MAC reads (a strided 1x1 convolution skips the others)."""
    th, tw = _taps(shape)
    return shape.groups * shape.c_per_group * th.used_inputs * tw.used_inputs


def compulsory_bytes(shape: ConvShape) -> int:
    """Weights, bias, used inputs and outputs, each once."""
    return shape.weight_bytes + shape.bias_bytes + used_input_bytes(shape) + shape.output_bytes


def max_product(total, caps: tuple[float, float, float]):  # noqa: ANN001, ANN201 - float or numpy array
    """max w*x*z subject to w + x + z <= total and 0 <= each <= its cap (water-filling: the smallest cap binds
    first, the rest is shared equally; log of the product is concave, so this is the optimum)."""
    left = np.asarray(total, dtype=np.float64)
    prod = np.ones_like(left)
    for n, cap in zip((3, 2, 1), sorted(caps)):
        v = np.minimum(float(cap), left / n)
        prod = prod * v
        left = left - v
    return prod


def macs_per_segment(total_elements, reuse: int, caps: tuple[int, int, int], macs: int):  # noqa: ANN001, ANN201
    """Most MACs a segment can perform touching at most ``total_elements`` (a number or an array of them)
    distinct weights, inputs and outputs (Loomis-Whitney on the im2col view, each input standing for at most
    ``reuse`` im2col entries): eq. 3 of docs/io_lower_bound.md."""
    return np.minimum(macs, np.floor(np.sqrt(reuse * max_product(total_elements, caps)) + 1e-9)).astype(np.int64)


def io_lower_bound_elements(macs: int, reuse: int, caps: tuple[int, int, int], capacity_elements: int) -> int:
    """Element transfers of any schedule of ``macs`` MACs with ``capacity_elements`` on chip: the best over
    segment sizes S' of S' x (ceil(macs / F(2S + S')) - 1) (docs/io_lower_bound.md, eq. 4), on a geometric grid
    of S' (any S' gives a valid bound; the grid only looks for the best)."""
    if macs <= 0:
        return 0
    s = max(int(capacity_elements), 1)
    seg = np.unique(np.concatenate([np.maximum(1, np.rint(_SEGMENT_FACTORS * s)).astype(np.int64), [4 * s]]))
    per = macs_per_segment(2 * s + seg, reuse, caps, macs)
    ok = per > 0
    if not ok.any():
        return 0
    return int((seg[ok] * (-(-macs // per[ok]) - 1)).max())


def io_lower_bound_bytes(shape: ConvShape, capacity_bytes: int) -> int:
    """Communication lower bound of a MAC-array Conv/Gemm, in bytes: bias once plus the pebble-game bound on the
    weight, input and output (partial sum) transfers. Counted in elements of the smallest operand (``e`` bytes:
    1 for int8, 0.5 for packed int4 weights), so the capacity holds at most capacity / e of them and every
    transfer of one moves at least e bytes."""
    if shape.pool_op:
        return 0
    return _io_bound_cached(_key(shape), int(capacity_bytes))


def _key(shape: ConvShape) -> ConvShape:  # the name does not change the bound: one cache entry per shape
    return dataclasses.replace(shape, name="")


@lru_cache(maxsize=4096)
def _io_bound_cached(shape: ConvShape, capacity_bytes: int) -> int:
    e = min(1.0, shape.weight_bits / 8)
    th, tw = _taps(shape)
    caps = (shape.groups * shape.k_per_group * shape.c_per_group * shape.kernel_h * shape.kernel_w,
            used_input_bytes(shape), shape.output_bytes)
    q = io_lower_bound_elements(real_macs(shape), th.max_reuse * tw.max_reuse, caps, math.floor(capacity_bytes / e))
    return (math.floor(q * e) + shape.bias_bytes) if q > 0 else 0

