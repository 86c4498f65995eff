"""Int8 HARD_SWISH exactly as LiteRT's reference kernel (tensorflow/lite/kernels/internal/reference/
hard_swish.h) with the parameters of activations.cc HardSwishPrepare: int16 gemmlowp fixed point.

Scalar, plain-int code: it is evaluated once per input byte to build a 256-entry table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sramflow.errors import QuantizationError
from sramflow.reference.requant import quantize_multiplier

INT16_MIN, INT16_MAX = -(1 << 15), (1 << 15) - 1


def _f32(x: float) -> float:
    return float(np.float32(x))


def downscale_int32_to_int16_multiplier(m: int) -> int:
    """DownScaleInt32ToInt16Multiplier (quantization_util.cc)."""
    if m >= (1 << 31) - 1 - (1 << 15):
        return INT16_MAX
    return (m + (1 << 15)) >> 16


@dataclass(frozen=True)
class HardSwishParams:
    input_zero_point: int
    output_zero_point: int
    reluish_multiplier_fixedpoint_int16: int
    reluish_multiplier_exponent: int
    output_multiplier_fixedpoint_int16: int
    output_multiplier_exponent: int

    @staticmethod
    def from_scales(in_scale: float, in_zp: int, out_scale: float, out_zp: int) -> HardSwishParams:
        hires = _f32(np.float32(1.0 / 128.0) * np.float32(in_scale))
        reluish_scale = _f32(np.float32(3.0) / np.float32(32768.0))
        out_m, out_e = quantize_multiplier(_f32(np.float32(hires) / np.float32(out_scale)))
        rel_m, rel_e = quantize_multiplier(_f32(np.float32(hires) / np.float32(reluish_scale)))
        return HardSwishParams(in_zp, out_zp, downscale_int32_to_int16_multiplier(rel_m), rel_e,
                               downscale_int32_to_int16_multiplier(out_m), out_e)


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _wrap16(x: int) -> int:
    return ((x + (1 << 15)) & 0xFFFF) - (1 << 15)


def srdhm16(a: int, b: int) -> int:
    """gemmlowp SaturatingRoundingDoublingHighMul for int16."""
    if a == b == INT16_MIN:
        return INT16_MAX
    ab = a * b
    nudge = (1 << 14) if ab >= 0 else 1 - (1 << 14)
    return _wrap16(_trunc_div(ab + nudge, 1 << 15))


def sdhm16(a: int, b: int) -> int:
    """hard_swish.h SaturatingDoublingHighMul (no rounding)."""
    if a == b == INT16_MIN:
        return INT16_MAX
    return _wrap16(_trunc_div(a * b, 1 << 15))


def saturating_left_shift16(v: int, amount: int) -> int:
    return max(INT16_MIN, min(INT16_MAX, v * (1 << amount)))


def rdbpot16(x: int, e: int) -> int:
    """gemmlowp RoundingDivideByPOT on an int16 ``x``, as hard_swish.h calls it: every intermediate is an
    int16, including ``mask = Dup<int16_t>((1ll << e) - 1)``. For e >= 16 that mask truncates to -1, so the
    "rounding" adds 1 to every x >= 0 and nothing to x < 0: the result is +1 for x >= 0 and -1 for x < 0
    (not the 0 of an exact rounding shift). LiteRT reaches e >= 16 on the reluish path whenever the input
    scale is below about 1.8e-7 (hires_input_scale / (3 / 32768) < 2^-16), e.g. a collapsed activation
    calibrated to the minimum scale."""
    if not 0 <= e <= 31:  # gemmlowp asserts it; e < 0 is an output multiplier >= 1, which Prepare refuses
        raise QuantizationError(f"HARD_SWISH: RoundingDivideByPOT exponent {e} outside [0, 31] (LiteRT's "
                                "HardSwishPrepare refuses an output multiplier >= 1)")
    mask = _wrap16((1 << e) - 1)
    remainder = _wrap16(x & mask)
    threshold = _wrap16((mask >> 1) + (1 if x < 0 else 0))
    return _wrap16((x >> e) + (1 if remainder > threshold else 0))


def hard_swish_scalar(q: int, p: HardSwishParams) -> int:
    x = _wrap16(q - p.input_zero_point)
    hires = _wrap16(x * (1 << 7))
    preshift_out = srdhm16(hires, p.output_multiplier_fixedpoint_int16)
    reluish = hires
    if p.reluish_multiplier_exponent > 0:
        reluish = saturating_left_shift16(reluish, p.reluish_multiplier_exponent - 1)
    reluish = srdhm16(reluish, p.reluish_multiplier_fixedpoint_int16)
    if p.reluish_multiplier_exponent > 0:
        reluish = saturating_left_shift16(reluish, 1)
    if p.reluish_multiplier_exponent < 0:
        reluish = rdbpot16(reluish, -p.reluish_multiplier_exponent)
    reluish = _wrap16((reluish + (1 << 15)) >> 1)
    out = sdhm16(reluish, preshift_out)
    out = _wrap16(rdbpot16(out, -p.output_multiplier_exponent) + p.output_zero_point)  # int16_t +=
    return max(-128, min(127, out))
