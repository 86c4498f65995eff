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

from sramflow.errors import QuantizationError

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


def mean_of_sums(total: np.ndarray, count: int, x_zp: int, multiplier: int, shift: int, out_zp: int) -> np.ndarray:
    """QuantizedMeanOrSum's tail: the sum less zp * count, times the multiplier with 1/count folded in
    as the reference does."""
    fold = min(count.bit_length() - 1, 32, 31 + shift)
    m = ((multiplier << fold) // count) if fold >= 0 else ((multiplier >> -fold) // count)
    shifted = wrap_int32(total - x_zp * count)
    return clamp_to_int8(multiply_by_quantized_multiplier(shifted, m, shift - fold) + out_zp)


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
    with e = max(-shift, 0) (2^(e-1) read as 1/2 for e = 0). For e <= FUSED_MAX_EXPONENT (every B0
    layer) the two floors are one (``_fused_block``: 8 float passes and an int8 add instead of 10).
    Otherwise it falls back to the int64 path (int32 wrap-around included)."""
    mult = np.asarray(multiplier, np.int64)
    sh = np.asarray(shift, np.int64)
    b = np.asarray(bias, np.int64)
    left = np.maximum(sh, 0)
    a_max = float(max(acc.max(initial=0), -acc.min(initial=0))) if acc.size else 0.0
    if (a_max + float(np.abs(b).max(initial=0))) * float(2 ** int(left.max(initial=0))) >= FLOAT_PATH_LIMIT:
        x = wrap_int32(acc.astype(np.int64) + b)
        return clamp_to_int8(multiply_by_quantized_multiplier(x, mult, sh) + out_zp, act_min, act_max)
    e = np.maximum(-sh, 0)
    channels = acc.shape[-1] if acc.ndim else 1
    if mult.size > 1 and mult.size != channels:
        raise ValueError(f"per-channel parameters ({mult.size}) do not match the last axis ({channels})")
    flat = np.ascontiguousarray(acc).reshape(-1, channels)
    out = np.empty(flat.shape, np.int8)
    rows = max(1, FLOAT_PATH_BLOCK // channels)  # blocks that stay in cache
    n = min(rows, flat.shape[0]) * channels
    t, q = np.empty(n), np.empty(n)  # reused by every block
    if int(e.max(initial=0)) <= FUSED_MAX_EXPONENT:
        inv = np.exp2(-e.astype(np.float64))
        m2 = mult.astype(np.float64) * np.exp2((left - 31).astype(np.float64)) * inv
        h2 = np.where(e > 0, 0.5 * inv, 0.0)
        consts = (m2, b.astype(np.float64) * m2 + 0.5 * inv, h2, np.where(e > 0, 0.5 - h2, 0.0))
        block, lo, hi = _fused_block, act_min - out_zp, act_max - out_zp
    else:
        m_f = mult.astype(np.float64) * np.exp2((left - 31).astype(np.float64))
        inv = np.exp2(-e.astype(np.float64))
        half = np.where(e > 0, np.exp2((e - 1).astype(np.float64)), 0.5)
        consts = (m_f, b.astype(np.float64) * m_f + 0.5, inv, 0.25 * inv, (half - 0.25) * inv + out_zp)
        block, lo, hi = _float_block, act_min, act_max
    for i in range(0, flat.shape[0], rows):
        a = flat[i:i + rows]
        k = a.shape[0]
        block(a, consts, lo, hi, t[:k * channels].reshape(k, channels), q[:k * channels].reshape(k, channels),
              out[i:i + rows])
    if block is _fused_block and out_zp:
        out += np.int8(out_zp)  # in [act_min, act_max] after the clamp: no int8 overflow
    return out.reshape(acc.shape)


FLOAT_PATH_BLOCK = 1 << 15
# The fused path below keeps (acc + bias) * M * 2^(left-31-e) unrounded: every term is a multiple of
# 2^(left-31-e) below 2^(21-e) + 1 in magnitude, so it needs 52 + max(0, e - 21) + 1 bits: exact for e <= 20.
FUSED_MAX_EXPONENT = 20


def _fused_block(acc: np.ndarray, consts: tuple[np.ndarray, ...], lo: int, hi: int, t: np.ndarray, q: np.ndarray,
                 out: np.ndarray) -> None:
    """R = RoundingDivideByPOT(floor(y), e) with y = (acc + bias) * M * 2^(left-31) + 1/2, as one floor:
    for integer k and n = 2^e, floor((floor(y) + k) / n) = floor((y + k) / n), and ties away from zero
    add k = 2^(e-1) - [y < 0] (0 for e = 0). With s = y / n (exact):
        R = floor(s + 1/2 - [s < 0] / n) = floor(s + copysign(1/(2n), s) + 1/2 - 1/(2n))   (e > 0)
        R = floor(s)                                                                      (e = 0)
    s is never -0.0 (an exact sum whose second term is > 0), so copysign's sign is [s < 0]."""
    m2, offset, h2, tail = consts
    np.multiply(acc, m2, out=t)
    t += offset
    np.copysign(h2, t, out=q)
    t += q
    t += tail
    np.floor(t, out=t)
    np.clip(t, lo, hi, out=t)
    out[...] = t


def _float_block(acc: np.ndarray, consts: tuple[np.ndarray, ...], act_min: int, act_max: int, t: np.ndarray,
                 q: np.ndarray, out: np.ndarray) -> None:
    m_f, offset, inv, quarter, tail = consts
    np.multiply(acc, m_f, out=t)
    t += offset
    np.floor(t, out=t)  # r1
    np.copysign(quarter, t, out=q)
    t *= inv
    t += q
    t += tail
    np.floor(t, out=t)
    np.clip(t, act_min, act_max, out=t)
    out[...] = t


# ---- gemmlowp fixed point (fixedpoint/fixedpoint.h) and LiteRT's int8 SOFTMAX parameters -----------------
# Arrays of int32 values held in int64; FixedPoint<int32, k> '+'/'-' wrap like C, '*' is
# SaturatingRoundingDoublingHighMul, so only the raw values appear here.

def saturating_rounding_multiply_by_pot(x: np.ndarray, exponent: int) -> np.ndarray:
    """gemmlowp SaturatingRoundingMultiplyByPOT<exponent>: saturating x << exponent, or
    RoundingDivideByPOT(x, -exponent) for a negative exponent."""
    x = np.asarray(x, np.int64)
    if exponent <= 0:
        return rounding_divide_by_pot(x, -exponent)
    threshold = (1 << (31 - exponent)) - 1
    return np.where(x > threshold, INT32_MAX, np.where(x < -threshold, INT32_MIN, x << exponent))


def rounding_half_sum(a: np.ndarray, b: np.ndarray | int) -> np.ndarray:
    """gemmlowp RoundingHalfSum for int32: (a + b + sign) / 2 with C's truncating division."""
    s = np.asarray(a, np.int64) + np.asarray(b, np.int64)
    t = s + np.where(s >= 0, 1, -1)
    return np.where(t >= 0, t >> 1, -((-t) >> 1))


def _exp_on_interval_between_negative_one_quarter_and_0_excl(a: np.ndarray) -> np.ndarray:
    """FixedPoint<int32, 0> exp(a) for a in [-1/4, 0): Taylor series around -1/8."""
    srdhm = saturating_rounding_doubling_high_mul
    constant_term, one_third = 1895147668, 715827883  # exp(-1/8), 1/3 in Q0.31
    x = wrap_int32(a + (1 << 28))
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    x4_over_4 = saturating_rounding_multiply_by_pot(x4, -2)
    poly = saturating_rounding_multiply_by_pot(wrap_int32(srdhm(wrap_int32(x4_over_4 + x3), one_third) + x2), -1)
    return wrap_int32(constant_term + srdhm(constant_term, wrap_int32(x + poly)))


EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535), (3, 720401),
              (4, 242))  # exp(-2^e) in Q0.31


def exp_on_negative_values(a: np.ndarray, integer_bits: int) -> np.ndarray:
    """gemmlowp exp_on_negative_values: FixedPoint<int32, integer_bits> a <= 0 -> FixedPoint<int32, 0>."""
    a = np.asarray(a, np.int64)
    frac = 31 - integer_bits
    quarter = 1 << (frac - 2)
    a_mod = wrap_int32((a & (quarter - 1)) - quarter)
    result = _exp_on_interval_between_negative_one_quarter_and_0_excl(
        saturating_rounding_multiply_by_pot(a_mod, integer_bits))  # Rescale<0>
    remainder = wrap_int32(a_mod - a)
    for exponent, multiplier in EXP_BARREL:
        if integer_bits > exponent:
            hit = (remainder & (1 << (frac + exponent))) != 0
            result = np.where(hit, saturating_rounding_doubling_high_mul(result, multiplier), result)
    if integer_bits > 5:
        result = np.where(a < -(1 << (36 - integer_bits)), 0, result)
    return np.where(a == 0, INT32_MAX, result)


def one_over_one_plus_x_for_x_in_0_1(a: np.ndarray) -> np.ndarray:
    """gemmlowp one_over_one_plus_x_for_x_in_0_1 (Newton-Raphson, 3 steps), Q0.31 in and out."""
    srdhm = saturating_rounding_doubling_high_mul
    half_denominator = rounding_half_sum(a, INT32_MAX)
    x = wrap_int32(1515870810 + srdhm(half_denominator, -1010580540))  # 48/17 - 32/17 d, in Q2.29
    for _ in range(3):
        one_minus = wrap_int32((1 << 29) - srdhm(half_denominator, x))
        x = wrap_int32(x + saturating_rounding_multiply_by_pot(srdhm(x, one_minus), 2))
    return saturating_rounding_multiply_by_pot(x, 1)


def count_leading_zeros32(x: np.ndarray) -> np.ndarray:
    """CountLeadingZeros of uint32 values (32 for 0)."""
    x = np.asarray(x, np.int64) & 0xFFFFFFFF
    _, exp = np.frexp(x.astype(np.float64))  # x = m * 2^exp, m in [0.5, 1): exp is the bit length
    return np.where(x == 0, 32, 32 - exp).astype(np.int64)


def get_reciprocal(x: np.ndarray, x_integer_digits: int) -> tuple[np.ndarray, np.ndarray]:
    """common.h GetReciprocal: (Q0.31 1/x scaled into [1/2, 1), num_bits_over_unit) for Q(digits) x > 0."""
    x = np.asarray(x, np.int64)
    headroom_plus_one = count_leading_zeros32(x)
    shifted_minus_one = wrap_int32((((x & 0xFFFFFFFF) << headroom_plus_one) - (1 << 31)) & 0xFFFFFFFF)
    return one_over_one_plus_x_for_x_in_0_1(shifted_minus_one), x_integer_digits - headroom_plus_one


SOFTMAX_SCALED_DIFF_INTEGER_BITS = 5
SOFTMAX_ACCUMULATION_INTEGER_BITS = 12


def preprocess_softmax_scaling(beta: float, input_scale: float, input_integer_bits: int) -> tuple[int, int]:
    """quantization_util.cc PreprocessSoftmaxScaling (no TFLITE_SINGLE_ROUNDING): QuantizeMultiplier of
    min(beta * scale * 2^(31 - bits), 2^31 - 1), which must exceed 1 (QuantizeMultiplierGreaterThanOne).
    Unlike ``quantize_multiplier`` a shift of 31 is kept, as LiteRT keeps it."""
    real = min(beta * input_scale * float(1 << (31 - input_integer_bits)), float((1 << 31) - 1))
    if not real > 1.0:
        raise QuantizationError(f"softmax input scale {input_scale} too small: beta * scale * 2^26 = {real} <= 1")
    q, shift = math.frexp(real)
    q_fixed = int(round_half_away(q * (1 << 31)))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    return q_fixed, shift


def calculate_input_radius(input_integer_bits: int, input_left_shift: int, total_signed_bits: int = 31) -> int:
    """quantization_util.cc CalculateInputRadius: floor((2^bits - 1) * 2^(total - bits) / 2^left_shift)."""
    max_input_rescaled = (1.0 * ((1 << input_integer_bits) - 1) * float(1 << (total_signed_bits - input_integer_bits))
                          / float(1 << input_left_shift))
    return int(math.floor(max_input_rescaled))


def softmax_params(input_scale: float, beta: float = 1.0) -> tuple[int, int, int]:
    """SoftmaxPrepare<kReference> for int8: (input_multiplier, input_left_shift, diff_min), from the float32
    input scale and float beta, both widened to double."""
    mult, left = preprocess_softmax_scaling(float(np.float32(beta)), float(np.float32(input_scale)),
                                            SOFTMAX_SCALED_DIFF_INTEGER_BITS)
    return mult, left, -calculate_input_radius(SOFTMAX_SCALED_DIFF_INTEGER_BITS, left)
