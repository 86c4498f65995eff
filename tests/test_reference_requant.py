"""Unit vectors for the rounding arithmetic (gemmlowp / TFLite semantics), against a scalar C model."""

from __future__ import annotations

import numpy as np
import pytest

from sramflow.reference.requant import (
    INT32_MAX, INT32_MIN, multiply_by_quantized_multiplier, quantize_multiplier, rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
)


def _c_trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _srdhm_scalar(a: int, b: int) -> int:
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return _c_trunc_div(ab + nudge, 1 << 31)


def _rdbp_scalar(x: int, e: int) -> int:
    mask = (1 << e) - 1
    rem = x & mask
    thr = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> e) + (1 if rem > thr else 0)


def test_quantize_multiplier_vectors() -> None:
    assert quantize_multiplier(0.0) == (0, 0)
    assert quantize_multiplier(0.5) == (1 << 30, 0)
    assert quantize_multiplier(1.0) == (1 << 30, 1)
    assert quantize_multiplier(0.25) == (1 << 30, -1)
    assert quantize_multiplier(2.0 ** -40) == (0, 0)  # shift below -31 flushes to zero
    assert quantize_multiplier(2.0 ** 40) == ((1 << 31) - 1, 30)  # clamped at the top
    # q * 2^31 rounding up to 2^31 renormalizes: (1 - 2^-33) -> 2^31 -> (2^30, shift + 1)
    assert quantize_multiplier(1.0 - 2.0 ** -33) == (1 << 30, 1)


def test_quantize_multiplier_tie_rounds_away_from_zero() -> None:
    # 0.5 + 2^-32: q * 2^31 = 2^30 + 0.5 exactly, a tie: rounds up (away from zero)
    assert quantize_multiplier(0.5 + 2.0 ** -32) == ((1 << 30) + 1, 0)


@pytest.mark.parametrize(("x", "e", "want"), [
    (5, 1, 3), (-5, 1, -3), (3, 1, 2), (-3, 1, -2), (4, 1, 2), (-4, 1, -2), (7, 0, 7),
    (6, 2, 2), (-6, 2, -2), (INT32_MIN, 31, -1), (INT32_MAX, 31, 1), (-1, 31, 0),
])
def test_rounding_divide_by_pot_ties_and_signs(x: int, e: int, want: int) -> None:
    assert int(rounding_divide_by_pot(np.int64(x), e)) == want == _rdbp_scalar(x, e)


def test_srdhm_saturates_int32_min_squared() -> None:
    assert int(saturating_rounding_doubling_high_mul(np.int64(INT32_MIN), INT32_MIN)) == INT32_MAX
    assert int(saturating_rounding_doubling_high_mul(np.int64(INT32_MIN), INT32_MAX)) == -INT32_MAX
    assert int(multiply_by_quantized_multiplier(np.int64(INT32_MIN), INT32_MIN, 0)) == INT32_MAX


def test_vectorized_matches_scalar_model_on_random_values() -> None:
    rng = np.random.default_rng(0)
    a = np.concatenate([rng.integers(INT32_MIN, INT32_MAX, 4000, endpoint=True), [INT32_MIN, INT32_MAX, 0, -1, 1]])
    b = rng.integers(1 << 30, 1 << 31, a.size)
    e = rng.integers(0, 32, a.size)
    got = saturating_rounding_doubling_high_mul(a, b)
    assert got.tolist() == [_srdhm_scalar(int(x), int(y)) for x, y in zip(a, b)]
    got = rounding_divide_by_pot(a, e)
    assert got.tolist() == [_rdbp_scalar(int(x), int(s)) for x, s in zip(a, e)]


def test_multiply_by_quantized_multiplier_shift_extremes() -> None:
    m, s = quantize_multiplier(1.0)
    x = np.array([-1000, -1, 0, 1, 12345], np.int64)
    assert multiply_by_quantized_multiplier(x, m, s).tolist() == x.tolist()
    m, s = quantize_multiplier(2.0 ** -31)  # largest right shift
    assert multiply_by_quantized_multiplier(np.array([INT32_MAX, INT32_MIN, 1 << 30], np.int64), m, s).tolist() == [1, -1, 1]
    m, s = quantize_multiplier(2.0 ** 7)  # left shift wraps like C int32
    assert multiply_by_quantized_multiplier(np.array([3, -3], np.int64), m, s).tolist() == [384, -384]


def test_float_requantization_matches_int64_path() -> None:
    """requantize_per_channel (exact float64 path, int64 fallback) == the int64 gemmlowp path, ties included."""
    from sramflow.reference.requant import clamp_to_int8, requantize_per_channel, wrap_int32

    rng = np.random.default_rng(3)
    for trial in range(400):
        c = int(rng.integers(1, 6))
        lim = 1 << int(rng.integers(1, 24))  # past 2^21 the int64 fallback runs
        acc = rng.integers(-lim, lim, (64, c))
        acc = (acc >> 6) << 6 if trial % 2 else acc  # many exact ties
        bias = rng.integers(-lim, lim, c)
        pairs = [quantize_multiplier(float(r)) for r in np.exp2(rng.uniform(-25, 3, c))]
        pairs[0] = quantize_multiplier(2.0 ** -int(rng.integers(0, 12)))  # power of two: ties
        m, s = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
        zp = int(rng.integers(-128, 128))
        want = clamp_to_int8(multiply_by_quantized_multiplier(wrap_int32(acc + bias), m, s) + zp)
        for dtype in (np.int64, np.float64):
            assert np.array_equal(requantize_per_channel(acc.astype(dtype), bias, m, s, zp, -128, 127), want)


def test_gemmlowp_exp_and_reciprocal_are_close_to_float() -> None:
    from sramflow.reference.requant import exp_on_negative_values, get_reciprocal

    a = -np.arange(0, 32 << 26, 1 << 19, dtype=np.int64)  # Q5.26 over [-32, 0]
    got = exp_on_negative_values(a, 5) / 2.0 ** 31
    assert np.abs(got - np.exp(a / 2.0 ** 26)).max() < 1e-6 and got[0] == (2 ** 31 - 1) / 2 ** 31
    x = np.arange(1 << 19, 1 << 30, 1 << 22, dtype=np.int64)  # Q12.19 in [1, 2048)
    r, bits = get_reciprocal(x, 12)
    assert np.abs(r / 2.0 ** 31 * 2.0 ** -bits - 2.0 ** 19 / x).max() < 1e-6


def test_softmax_params_follow_litert_prepare() -> None:
    from sramflow.reference.requant import softmax_params

    # beta * scale * 2^26 -> QuantizeMultiplier; diff_min = -floor(31 * 2^26 / 2^left_shift); shift 31 is kept
    assert softmax_params(1.0) == (1 << 30, 27, -15)
    assert softmax_params(0.0625) == (1 << 30, 23, -248)
    assert softmax_params(100.0) == ((1 << 31) - 1, 31, 0)


def test_fused_requantization_exponents_ties_and_extremes() -> None:
    """The one-floor fused path (e <= FUSED_MAX_EXPONENT) == the int64 gemmlowp path at every exponent it
    takes, on exact ties of both roundings, both signs, zero, and accumulators at the 2^21 float-path limit;
    past the limit the two-floor path runs and must agree too."""
    from sramflow.reference.requant import (FLOAT_PATH_LIMIT, FUSED_MAX_EXPONENT, clamp_to_int8,
                                            requantize_per_channel, wrap_int32)

    rng = np.random.default_rng(11)
    for e in range(0, FUSED_MAX_EXPONENT + 3):
        for trial in range(30):
            c = 4
            pairs = [quantize_multiplier(float(r) * 2.0 ** -e) for r in rng.uniform(0.5, 1.0, c)]
            pairs[0] = quantize_multiplier(2.0 ** -(e + 1))  # M = 2^30: y lands on exact halves
            m, s = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
            lim = FLOAT_PATH_LIMIT // 2 - 1
            bias = rng.integers(-lim, lim, c)
            base = rng.integers(-lim, lim, (256, c))
            ties = (rng.integers(-(1 << 12), 1 << 12, (256, c)) << max(e - 1, 0)) - bias  # (acc + bias) on 2^(e-1) grid
            acc = np.concatenate([base, ties, np.full((1, c), lim), np.full((1, c), -lim), -bias[None]])
            acc = np.clip(acc, -lim, lim)
            zp = int(rng.integers(-128, 128))
            lo, hi = sorted(int(v) for v in rng.integers(-128, 128, 2)) if trial % 3 == 0 else (-128, 127)
            want = clamp_to_int8(multiply_by_quantized_multiplier(wrap_int32(acc + bias), m, s) + zp, lo, hi)
            for dtype in (np.int64, np.float64, np.float32):
                a = acc.astype(dtype)
                if dtype is np.float32 and not np.array_equal(a.astype(np.int64), acc):
                    continue
                assert np.array_equal(requantize_per_channel(a, bias, m, s, zp, lo, hi), want), (e, trial, dtype)


def test_runners_bind_every_quantized_op_kind_once():
    from sramflow.ir.qgraph import KINDS
    from sramflow.reference.run import ELEMENTWISE, RUNNERS

    assert set(RUNNERS) == set(KINDS)
    assert set(ELEMENTWISE) <= set(RUNNERS)

