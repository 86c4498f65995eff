"""One integer kernel per TFLite op, numpy only.

Elementwise kernels work on any layout. The spatial kernels here take NCHW with a leading batch axis
(N, C, H, W), as they always did (the functional simulator calls them); each wraps the NHWC kernel in
``nhwc.py`` that ``run_int8`` uses, so there is one implementation. Each follows the TFLite reference
kernel named in its docstring (tensorflow/lite/kernels/internal/reference/integer_ops/...). Inputs and
outputs are int8; accumulation is exact (int32 semantics, wrapped like C where it could overflow).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sramflow.errors import QuantizationError
from sramflow.ir.qgraph import QOp
from sramflow.reference import nhwc
from sramflow.reference import requant as R
from sramflow.reference.requant import (clamp_to_int8, mean_of_sums, multiply_by_quantized_multiplier,
                                       scale_by_double, wrap_int32)

Pads = tuple[int, int, int, int]  # top, left, bottom, right
Pair = tuple[int, int]
out_size = nhwc.out_size


def _to_nhwc(x: np.ndarray) -> np.ndarray:
    return x.transpose(0, 2, 3, 1)


def _to_nchw(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def exact_float_type(depth: int) -> type:
    """float32 when every partial sum of ``depth`` products |(q - zp) * w| <= 255 * 127 stays below 2^24
    (so every float32 addition is exact), else float64 (exact below 2^53)."""
    return np.float32 if depth * 255 * 127 < (1 << 24) else np.float64


def conv2d(x: np.ndarray, x_zp: int, w: np.ndarray, bias: np.ndarray, multiplier: np.ndarray,
           shift: np.ndarray, out_zp: int, act_min: int, act_max: int, strides: Pair, pads: Pads,
           dilations: Pair = (1, 1), groups: int = 1) -> np.ndarray:
    """ConvPerChannel (integer_ops/conv.h), NCHW. w: int8 [Cout, Cin/groups, kh, kw]; bias int32 [Cout]."""
    y = nhwc.conv2d(_to_nhwc(x), x_zp, w, bias, multiplier, shift, out_zp, act_min, act_max, strides, pads,
                    dilations, groups)
    return _to_nchw(y)


def depthwise_conv2d(x: np.ndarray, x_zp: int, w: np.ndarray, bias: np.ndarray, multiplier: np.ndarray,
                     shift: np.ndarray, out_zp: int, act_min: int, act_max: int, strides: Pair, pads: Pads,
                     dilations: Pair = (1, 1)) -> np.ndarray:
    """DepthwisePerChannel (integer_ops/depthwise_conv.h), NCHW. w: int8 [Cin*m, 1, kh, kw]; output
    channel ic*m + j reads input channel ic (TFLite's depth_multiplier order)."""
    y = nhwc.depthwise_conv2d(_to_nhwc(x), x_zp, w, bias, multiplier, shift, out_zp, act_min, act_max, strides,
                              pads, dilations)
    return _to_nchw(y)


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
    idx = a.astype(np.intp)
    idx <<= 8  # in place: one index array, not two
    idx |= b
    return np.take(table.reshape(-1), idx)


def add(x1: np.ndarray, x2: np.ndarray, zp1: int, zp2: int, mult1: int, shift1: int, mult2: int, shift2: int,
        out_mult: int, out_shift: int, out_zp: int, act_min: int, act_max: int, left_shift: int = 20,
        subtract: bool = False) -> np.ndarray:
    """Add (integer_ops/add.h): inputs (q - zp) << 20, each rescaled, summed, rescaled to the output.
    Broadcasting follows numpy (the same result as TFLite's BroadcastAdd6DSlow). ``subtract``: Sub
    (reference/sub.h SubElementwise), the same steps with the rescaled second input subtracted."""
    a = multiply_by_quantized_multiplier((x1.astype(np.int64) - zp1) << left_shift, mult1, shift1)
    b = multiply_by_quantized_multiplier((x2.astype(np.int64) - zp2) << left_shift, mult2, shift2)
    raw = multiply_by_quantized_multiplier(wrap_int32(a - b if subtract else a + b), out_mult, out_shift) + out_zp
    return clamp_to_int8(raw, act_min, act_max)


def mul(x1: np.ndarray, x2: np.ndarray, zp1: int, zp2: int, out_mult: int, out_shift: int, out_zp: int,
        act_min: int, act_max: int) -> np.ndarray:
    """Mul (integer_ops/mul.h): (q1 - zp1) * (q2 - zp2), rescaled once. Broadcasting follows numpy."""
    prod = (x1.astype(np.int32) - np.int32(zp1)) * (x2.astype(np.int32) - np.int32(zp2))
    return clamp_to_int8(multiply_by_quantized_multiplier(prod, out_mult, out_shift) + out_zp, act_min, act_max)


def lookup(x: np.ndarray, table: np.ndarray) -> np.ndarray:
    """A 256-entry table indexed by the int8 input's byte: exact for any kernel that is a pure function
    of one int8 (LOGISTIC, HARD_SWISH)."""
    return np.take(table, x.view(np.uint8))


def clip(x: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """MAXIMUM with int8 constant lo, then MINIMUM with hi (maximum_minimum.h: raw int8 comparisons)."""
    return np.minimum(np.maximum(x, np.int8(lo)), np.int8(hi))


def logistic(x: np.ndarray, table: np.ndarray) -> np.ndarray:
    """LOGISTIC by LiteRT's 256-entry table (activations.cc), indexed by the input's byte."""
    return np.take(table, x.view(np.uint8))  # np.take: ~2x faster than table[...] here


def mean_hw(x: np.ndarray, x_zp: int, multiplier: int, shift: int, out_zp: int) -> np.ndarray:
    """MEAN over H and W, keep_dims (reference/reduce.h QuantizedMeanOrSum), NCHW. Output (N, C, 1, 1)."""
    count = x.shape[2] * x.shape[3]
    total = x.astype(np.int64).sum(axis=(2, 3), keepdims=True)
    return mean_of_sums(total, count, x_zp, multiplier, shift, out_zp)


def relu_x(x: np.ndarray, x_zp: int, multiplier: int, shift: int, out_zp: int, act_min: int,
           act_max: int) -> np.ndarray:
    """RELU / RELU6 (activations.cc QuantizedReluX -> ReluX): rescale to the output, then clamp."""
    raw = multiply_by_quantized_multiplier(x.astype(np.int64) - x_zp, multiplier, shift) + out_zp
    return clamp_to_int8(raw, act_min, act_max)


def leaky_relu(x: np.ndarray, x_zp: int, mult_identity: int, shift_identity: int, mult_alpha: int,
               shift_alpha: int, out_zp: int) -> np.ndarray:
    """LEAKY_RELU (reference/leaky_relu.h QuantizeLeakyRelu): x - zp >= 0 is rescaled by the identity multiplier,
    below 0 by the alpha one, then the output zero point is added and the result saturates to int8.
    A negative alpha (negative multiplier): LiteRT's BUILTIN_REF rounds the positive products' ties down, as
    -MultiplyByQuantizedMultiplier(-v, m) does; measured over all 256 inputs (tests/test_elementwise_ops.py),
    where gemmlowp's rounding of v * m itself would round them up."""
    v = x.astype(np.int64) - x_zp
    pos = multiply_by_quantized_multiplier(v, mult_identity, shift_identity)
    if mult_alpha < 0:
        neg = -multiply_by_quantized_multiplier(-v, mult_alpha, shift_alpha)
    else:
        neg = multiply_by_quantized_multiplier(v, mult_alpha, shift_alpha)
    return clamp_to_int8(np.where(v >= 0, pos, neg) + out_zp)


def prelu(x: np.ndarray, alpha: np.ndarray, x_zp: int, alpha_zp: int, mult1: int, shift1: int, mult2: int,
          shift2: int, out_zp: int) -> np.ndarray:
    """PRELU (reference/prelu.h BroadcastPrelu4DSlow): x - zp >= 0 rescaled by multiplier 1, below 0 its product
    with (alpha - alpha_zp) rescaled by multiplier 2; plus the output zero point, saturated to int8.
    ``alpha`` broadcasts against x (numpy rules)."""
    v = x.astype(np.int64) - x_zp
    pos = multiply_by_quantized_multiplier(v, mult1, shift1)
    neg = multiply_by_quantized_multiplier(v * (alpha.astype(np.int64) - alpha_zp), mult2, shift2)
    return clamp_to_int8(np.where(v >= 0, pos, neg) + out_zp)


def max_pool(x: np.ndarray, kernel: Pair, strides: Pair, pads: Pads, act_min: int, act_max: int) -> np.ndarray:
    """MaxPool (integer_ops/pooling.h), NCHW: the maximum over the in-bounds taps (padding never wins)."""
    return _to_nchw(nhwc.max_pool(_to_nhwc(x), kernel, strides, pads, act_min, act_max))


def average_pool(x: np.ndarray, kernel: Pair, strides: Pair, pads: Pads, act_min: int, act_max: int) -> np.ndarray:
    """AveragePool (integer_ops/pooling.h), NCHW: in-bounds sum / in-bounds count, ties away from zero."""
    return _to_nchw(nhwc.average_pool(_to_nhwc(x), kernel, strides, pads, act_min, act_max))


def softmax(x: np.ndarray, input_multiplier: int, input_left_shift: int, diff_min: int) -> np.ndarray:
    """reference_ops::Softmax<int8_t, int8_t> (reference/softmax.h) over the last axis: exp of the
    rescaled difference to the row maximum in Q5.26 (gemmlowp), summed in Q12.19, times the reciprocal,
    to scale 1/256 and zero point -128. Differences below diff_min contribute nothing and give -128."""
    xi = np.asarray(x, np.int64)
    diff = xi - xi.max(axis=-1, keepdims=True)
    live = diff >= diff_min
    # MultiplyByQuantizedMultiplierGreaterThanOne: SRDHM(x * 2^left_shift, multiplier); |x| * 2^shift < 2^31
    # wherever live (that is what diff_min guarantees).
    scaled = R.saturating_rounding_doubling_high_mul(wrap_int32(np.where(live, diff, 0) << input_left_shift),
                                                     input_multiplier)
    exps = R.exp_on_negative_values(scaled, R.SOFTMAX_SCALED_DIFF_INTEGER_BITS)
    terms = np.where(live, R.saturating_rounding_multiply_by_pot(exps, -R.SOFTMAX_ACCUMULATION_INTEGER_BITS), 0)
    sum_of_exps = wrap_int32(terms.sum(axis=-1, keepdims=True))
    shifted_scale, bits_over_unit = R.get_reciprocal(sum_of_exps, R.SOFTMAX_ACCUMULATION_INTEGER_BITS)
    exponent = bits_over_unit + 31 - 8
    if np.any((exponent < 0) | (exponent > 31)):
        raise QuantizationError("softmax: a row's sum of exponentials reaches 2^9 (512+ classes at or near the "
                                "maximum); LiteRT's reference kernel aborts there (TFLITE_CHECK on the reciprocal "
                                "exponent)")
    unsat = R.rounding_divide_by_pot(R.saturating_rounding_doubling_high_mul(shifted_scale, exps), exponent)
    return np.where(live, clamp_to_int8(unsat - 128), np.int8(-128)).astype(np.int8)


def hard_sigmoid_chain(x: np.ndarray, mul_attrs: dict, add_attrs: dict, alpha_q: np.ndarray,
                       beta_q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """HardSigmoid as lowered for TFLite: MUL by the int8 constant alpha, then ADD of the int8 constant
    beta; the output's range [0, <= 1] with zero point -128 makes the ADD's saturation the clamp.
    Returns (intermediate alpha * x, output)."""
    m, a = mul_attrs, add_attrs
    t = mul(x, alpha_q.reshape(()), m["zp1"], m["zp2"], m["out_mult"], m["out_shift"], m["out_zp"],
            m["act_min"], m["act_max"])
    y = add(t, beta_q.reshape(()), a["zp1"], a["zp2"], a["mult1"], a["shift1"], a["mult2"], a["shift2"],
            a["out_mult"], a["out_shift"], a["out_zp"], a["act_min"], a["act_max"], a["left_shift"])
    return t, y


Kernel = Callable[..., np.ndarray]  # int8 operand(s) -> int8 result


def _table_kernel(op: QOp) -> Kernel:
    return lambda x: lookup(x, op.params["table"])


def _clip_kernel(op: QOp) -> Kernel:
    return lambda x: clip(x, op.attrs["lo"], op.attrs["hi"])


def _relu_kernel(op: QOp) -> Kernel:
    a = op.attrs
    return lambda x: relu_x(x, a["x_zp"], a["mult"], a["shift"], a["out_zp"], a["act_min"], a["act_max"])


def _leaky_relu_kernel(op: QOp) -> Kernel:
    a = op.attrs
    return lambda x: leaky_relu(x, a["x_zp"], a["mult_identity"], a["shift_identity"], a["mult_alpha"],
                                a["shift_alpha"], a["out_zp"])


def _prelu_kernel(op: QOp) -> Kernel:
    a = op.attrs
    return lambda x, alpha: prelu(x, alpha, a["zp1"], a["zp2"], a["mult1"], a["shift1"], a["mult2"], a["shift2"],
                                  a["out_zp"])


def _add_kernel(op: QOp) -> Kernel:
    a, sub = op.attrs, op.kind == "SUB"
    return lambda x1, x2: add(x1, x2, a["zp1"], a["zp2"], a["mult1"], a["shift1"], a["mult2"], a["shift2"],
                              a["out_mult"], a["out_shift"], a["out_zp"], a["act_min"], a["act_max"], a["left_shift"],
                              sub)


def _mul_kernel(op: QOp) -> Kernel:
    a = op.attrs
    return lambda x1, x2: mul(x1, x2, a["zp1"], a["zp2"], a["out_mult"], a["out_shift"], a["out_zp"],
                              a["act_min"], a["act_max"])


# Element-wise kinds -> kernel factory: the kernel does not depend on the layout, so the integer reference
# (reference.run) and the functional simulator (on SRAM segments) bind an op to the same function. A new
# element-wise op adds its kernel above and one entry here.
ELEMENTWISE: dict[str, Callable[[QOp], Kernel]] = {
    "LOGISTIC": _table_kernel,
    "HARD_SWISH": _table_kernel,
    "HARD_SIGMOID": _table_kernel,
    "CLIP": _clip_kernel,
    "RELU": _relu_kernel,
    "RELU6": _relu_kernel,
    "QUANTIZE": _relu_kernel,  # int8 -> int8 Requantize: the same rescale and clamp (to the int8 range)
    "LEAKY_RELU": _leaky_relu_kernel,
    "PRELU": _prelu_kernel,
    "ADD": _add_kernel,
    "SUB": _add_kernel,
    "MUL": _mul_kernel,
}


def elementwise_kernel(op: QOp) -> Kernel:
    """``op``'s integer kernel on raw int8 operands of any layout: one operand, or two that broadcast
    (ADD, MUL; a constant operand comes from ``op.params["const"]``)."""
    return ELEMENTWISE[op.kind](op)
