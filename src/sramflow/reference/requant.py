"""All rounding arithmetic of the integer reference, in one place (TFLite / gemmlowp semantics).

Every function is vectorized over int64 numpy arrays that hold int32 values, so C's int32 behaviour
(wrap-around, truncating division, arithmetic shifts) is reproduced exactly. Sources:
tensorflow/lite/kernels/internal/quantization_util.cc (QuantizeMultiplier),
tensorflow/lite/kernels/internal/common.h (MultiplyByQuantizedMultiplier, no TFLITE_SINGLE_ROUNDING),
gemmlowp fixedpoint/fixedpoint.h (SaturatingRoundingDoublingHighMul, RoundingDivideByPOT).

Two deliberate exceptions: ``scale_by_double`` (per-channel FULLY_CONNECTED: LiteRT's reference kernel
rescales in double, not with QuantizeMultiplier, so we do too) and ``requantize_per_channel``, the
fast path the convolutions use: the same double rounding done exactly in float64 when provably exact.
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


# Exactness bound of the float64 path below: every intermediate is a multiple of 2^-31 below 2^21 in
# magnitude times a power of two, so it needs at most 52 significant bits (float64 has 53).
FLOAT_PATH_LIMIT = 1 << 21


def requantize_per_channel(acc: np.ndarray, bias: np.ndarray, multiplier: np.ndarray, shift: np.ndarray,
                           out_zp: int, act_min: int, act_max: int) -> np.ndarray:
    """clamp(MultiplyByQuantizedMultiplier(acc + bias) + out_zp) to int8, channels on the last axis.

    ``acc`` holds integers in any dtype (the float32/float64 matmul output is fine). When every
    |acc + bias| * 2^max(shift, 0) is below 2^21 the gemmlowp double rounding is done exactly in
    float64 with a few whole-array operations:
        r1 = floor(x * M * 2^(left-31) + 1/2)                      (SaturatingRoundingDoublingHighMul)
        R  = floor((r1 + 2^(e-1) - [r1 < 0] / 2) * 2^-e)            (RoundingDivideByPOT, ties away)
    with e = max(-shift, 0) (2^(e-1) read as 1/2 for e = 0). Otherwise it falls back to the int64 path
    (int32 wrap-around included)."""
    mult = np.asarray(multiplier, np.int64)
    sh = np.asarray(shift, np.int64)
    b = np.asarray(bias, np.int64)
    left = np.maximum(sh, 0)
    a_max = float(max(acc.max(initial=0), -acc.min(initial=0))) if acc.size else 0.0
    if (a_max + float(np.abs(b).max(initial=0))) * float(2 ** int(left.max(initial=0))) >= FLOAT_PATH_LIMIT:
        x = wrap_int32(acc.astype(np.int64) + b)
        return clamp_to_int8(multiply_by_quantized_multiplier(x, mult, sh) + out_zp, act_min, act_max)
    e = np.maximum(-sh, 0)
    m_f = mult.astype(np.float64) * np.exp2((left - 31).astype(np.float64))
    inv = np.exp2(-e.astype(np.float64))
    half = np.where(e > 0, np.exp2((e - 1).astype(np.float64)), 0.5)
    consts = (m_f, b.astype(np.float64) * m_f + 0.5, inv, 0.25 * inv, (half - 0.25) * inv + out_zp)
    channels = acc.shape[-1] if acc.ndim else 1
    if m_f.size > 1 and m_f.size != channels:
        raise ValueError(f"per-channel parameters ({m_f.size}) do not match the last axis ({channels})")
    flat = np.ascontiguousarray(acc).reshape(-1, channels)
    out = np.empty(flat.shape, np.int8)
    rows = max(1, FLOAT_PATH_BLOCK // channels)  # blocks that stay in cache
    for i in range(0, flat.shape[0], rows):
        _float_block(flat[i:i + rows], consts, act_min, act_max, out[i:i + rows])
    return out.reshape(acc.shape)


FLOAT_PATH_BLOCK = 1 << 15


def _float_block(acc: np.ndarray, consts: tuple[np.ndarray, ...], act_min: int, act_max: int, out: np.ndarray) -> None:
    m_f, offset, inv, quarter, tail = consts
    t = np.multiply(acc, m_f, dtype=np.float64)
    t += offset
    np.floor(t, out=t)  # r1
    q = np.copysign(quarter, t)
    t *= inv
    t += q
    t += tail
    np.floor(t, out=t)
    np.clip(t, act_min, act_max, out=t)
    out[...] = t
