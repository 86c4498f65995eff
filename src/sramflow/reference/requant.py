"""All rounding arithmetic of the integer reference, in one place (TFLite / gemmlowp semantics).

Every function is vectorized over int64 numpy arrays that hold int32 values, so C's int32 behaviour
(wrap-around, truncating division, arithmetic shifts) is reproduced exactly. Sources:
tensorflow/lite/kernels/internal/quantization_util.cc (QuantizeMultiplier),
tensorflow/lite/kernels/internal/common.h (MultiplyByQuantizedMultiplier, no TFLITE_SINGLE_ROUNDING),
gemmlowp fixedpoint/fixedpoint.h (SaturatingRoundingDoublingHighMul, RoundingDivideByPOT).
"""

from __future__ import annotations

import math

import numpy as np

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def round_half_away(x: float) -> float:
    """C's std::round / TfLiteRound: ties away from zero."""
    return math.copysign(math.floor(abs(x) + 0.5), x)


def round_half_away_array(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def quantize_multiplier(real_multiplier: float) -> tuple[int, int]:
    """QuantizeMultiplier: real = q * 2^(shift - 31), q in [2^30, 2^31) (or 0). Returns (q, shift)."""
    if real_multiplier == 0.0:
        return 0, 0
    q, shift = math.frexp(real_multiplier)
    q_fixed = int(round_half_away(q * (1 << 31)))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > 30:
        return (1 << 31) - 1, 30
    return q_fixed, shift


def wrap_int32(x: np.ndarray) -> np.ndarray:
    """Two's-complement wrap of int64 values to the int32 range (C int32 overflow on this platform)."""
    x = np.asarray(x, dtype=np.int64)
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def saturating_rounding_doubling_high_mul(a: np.ndarray, b: np.ndarray | int) -> np.ndarray:
    """gemmlowp SaturatingRoundingDoublingHighMul on int32 values (held in int64).

    Branch-free: the nudge is 2^30 for ab >= 0 and 1 - 2^30 otherwise, and C's truncating division by
    2^31 is an arithmetic shift after adding 2^31 - 1 to negative values."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    ab = a * b
    sign = ab >> 63  # 0 or -1
    ab += (1 << 30) - (sign & ((1 << 31) - 1))
    ab += (ab >> 63) & ((1 << 31) - 1)
    ab >>= 31
    if np.any(b == INT32_MIN):
        ab = np.where((a == INT32_MIN) & (b == INT32_MIN), INT32_MAX, ab)
    return ab


def rounding_divide_by_pot(x: np.ndarray, exponent: np.ndarray | int) -> np.ndarray:
    """gemmlowp RoundingDivideByPOT: x / 2^exponent, ties away from zero."""
    x = np.asarray(x, dtype=np.int64)
    e = np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << e) - 1
    threshold = (mask >> 1) - (x >> 63)  # + 1 where x < 0
    return (x >> e) + ((x & mask) > threshold)


def multiply_by_quantized_multiplier(x: np.ndarray, multiplier: np.ndarray | int,
                                     shift: np.ndarray | int) -> np.ndarray:
    """MultiplyByQuantizedMultiplier (double rounding): int32 x times multiplier * 2^(shift - 31)."""
    shift = np.asarray(shift, dtype=np.int64)
    x = np.asarray(x, dtype=np.int64)
    if np.any(shift > 0):
        x = wrap_int32(x << np.maximum(shift, 0))
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x, multiplier), np.maximum(-shift, 0))


def scale_by_double(acc: np.ndarray, effective_scale: np.ndarray) -> np.ndarray:
    """LiteRT's reference per-channel FULLY_CONNECTED rescale: (int32) round(double(acc) * scale), with
    scale = double(in_scale) * double(w_scale) / double(out_scale). LiteRT's BUILTIN_REF kernel does this
    in double, not with QuantizeMultiplier; bit-exactness with the oracle needs the same arithmetic."""
    return round_half_away_array(np.asarray(acc, np.float64) * effective_scale).astype(np.int64)


def clamp_to_int8(x: np.ndarray, lo: int = -128, hi: int = 127) -> np.ndarray:
    return np.clip(x, lo, hi).astype(np.int8)


def float32(x: float) -> float:
    """The value a C++ float holds (scales live in float32 in a .tflite file)."""
    return float(np.float32(x))
