"""The quantize pass: float IR + activation ranges -> QuantizedGraph, to the TFLite int8 spec.

Weights: per-channel symmetric int8 in [-127, 127] (output channel). Activations: per-tensor asymmetric
int8. Bias: int32 with scale in_scale * w_scale. Multipliers: QuantizeMultiplier of the same double
expression LiteRT's Prepare functions compute from the float32 scales, op by op (some are float32
products: that is what LiteRT does, and bit-exactness needs it). ReLU / ReLU6 right after a Conv or
Gemm are fused as the TFLite converter does.

Softmax becomes int8 SOFTMAX (beta 1, output scale 1/256, zero point -128) over the last NHWC axis:
the class axis of (N, C) or the channel axis of NCHW; any other axis is refused.

HardSigmoid on its own (not the x * HardSigmoid(x) that is HARD_SWISH) has no TFLite builtin, and no
BUILTIN_REF op applies an arbitrary int8 table. It is lowered to MUL by the constant alpha then ADD of the
constant beta (what the converter emits for alpha * x + beta), kind HARD_SIGMOID here:
  t = alpha * x   quantized over alpha times the range x can represent (the MUL never saturates),
  y = t + beta    quantized over the calibrated output range cut to [0, 1], which includes 0, so the
                  zero point is -128 and the top is at most ~1: int8 saturation of the ADD *is* the clamp
                  to [0, 1] and no MAXIMUM / MINIMUM is needed.
Both are pure functions of the int8 input, so the reference evaluates the chain once per input byte into
two 256-entry tables (t for the intermediate tensor, y for the output) with the MUL and ADD kernels.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from sramflow.errors import QuantizationError, UnsupportedOpError
from sramflow.ir.fusion import fused_activation, fused_activation_kind, hard_swish_mul
from sramflow.ir.graph import Graph, Node
from sramflow.ir.movement import BY_OP as MOVES
from sramflow.ir.movement import concat_input_shares_scale
from sramflow.ir.qgraph import QOp, QTensor, QuantizedGraph, graph_fingerprint
from sramflow.ir.shapes import tflite_same_pads
from sramflow.quant.calibrate import Range, qparams_from_range
from sramflow.reference.requant import (float32, quantize_multiplier, round_half_away, round_half_away_array,
                                       softmax_params)

LOGISTIC_SCALE, LOGISTIC_ZP = 1.0 / 256.0, -128
SOFTMAX_SCALE, SOFTMAX_ZP = 1.0 / 256.0, -128  # activations.cc SoftmaxPrepare requires these for int8
ADD_LEFT_SHIFT = 20


def activation_range(kind: str, t: QTensor) -> tuple[int, int]:
    """CalculateActivationRangeQuantized: zero_point + round(f / scale) in float32, clamped to int8."""
    def q(f: float) -> int:
        return t.zero_point + int(round_half_away(float(np.float32(f) / np.float32(t.scale))))

    if kind == "RELU":
        return max(-128, q(0.0)), 127
    if kind == "RELU6":
        return max(-128, q(0.0)), min(127, q(6.0))
    return -128, 127


def quantize_weights_per_channel(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 per output channel (axis 0): scale = max|w| / 127 (float32), q in [-127, 127]."""
    flat = w.reshape(w.shape[0], -1).astype(np.float64)
    max_abs = np.abs(flat).max(axis=1)
    scales = np.where(max_abs > 0, max_abs / 127.0, 1.0).astype(np.float32)
    q = np.clip(round_half_away_array(flat / scales.astype(np.float64)[:, None]), -127, 127)
    return q.astype(np.int8).reshape(w.shape), scales


def quantize_bias(b: np.ndarray, in_scale: float, w_scales: np.ndarray) -> np.ndarray:
    bias_scale = (np.float32(in_scale) * w_scales.astype(np.float32)).astype(np.float64)
    q = round_half_away_array(b.astype(np.float64) / bias_scale)
    return np.clip(q, -(1 << 31), (1 << 31) - 1).astype(np.int32)


# QuantizeMultiplier's shift exceeds 30 exactly when the real multiplier rounds to 2^30 or more: frexp's
# fraction f in [0.5, 1) becomes round(f * 2^31) = 2^31 from f >= 1 - 2^-32 on, i.e. real >= 2^30 - 2^-2.
# reference.requant saturates such a shift at 30; LiteRT's default (double-rounding) build does not and
# computes x * (1 << shift) with shift >= 31, undefined behaviour in C (BUILTIN_REF was seen taking the shift
# mod 32). No int8 model the converter writes can be computed right there, so the quantizer refuses it.
LITERT_MULTIPLIER_LIMIT = 2.0**30 - 0.25


def checked_multiplier(real: float, where: str, in_scale: float, out_scale: float) -> tuple[int, int]:
    """QuantizeMultiplier(``real``), or a named QuantizationError where LiteRT cannot apply it (>= 2^30).

    Every requantization multiplier the quantizer writes goes through here, so no op can miss the check."""
    if real >= LITERT_MULTIPLIER_LIMIT:
        raise QuantizationError(
            f"{where}: requantization multiplier {real:.4g} >= 2^30 (input scale {in_scale:.4g} over output scale "
            f"{out_scale:.4g}); LiteRT's QuantizeMultiplier shift would exceed 30 and its kernel overflows. The "
            "output range is calibrated to almost nothing (a dead activation?): calibrate on data that reaches it, "
            "or remove the node")
    return quantize_multiplier(real)


def per_channel_multipliers(in_scale: float, w_scales: np.ndarray, out_scale: float,
                            where: str = "per-channel requantization") -> tuple[np.ndarray, np.ndarray]:
    """PopulateConvolutionQuantizationParams: double(in) * double(w_c) / double(out)."""
    reals = [float(in_scale) * float(s) / float(out_scale) for s in w_scales]
    pairs = [checked_multiplier(r, where, float(in_scale) * float(s), float(out_scale)) for r, s in zip(reals, w_scales)]
    return np.array([p[0] for p in pairs], np.int32), np.array([p[1] for p in pairs], np.int32)


class _Pass:
    def __init__(self, graph: Graph, act_ranges: Mapping[str, Range]) -> None:
        self.g = graph
        self.tensors: dict[str, QTensor] = {}
        self.ops: list[QOp] = []
        self.consumers = graph.consumers()
        self.ranges = concat_shared_ranges(graph, act_ranges, self.consumers)

    def qtensor(self, name: str) -> QTensor:
        if name not in self.tensors:
            r = self.ranges.get(name)
            if r is None:
                raise QuantizationError(f"tensor {name!r} has no calibration range")
            scale, zp = qparams_from_range(r.lo, r.hi)
            self.tensors[name] = QTensor(name, self.g.shape(name), scale, zp)
        return self.tensors[name]

    def fixed(self, name: str, scale: float, zp: int) -> QTensor:
        self.tensors[name] = QTensor(name, self.g.shape(name), float32(scale), zp)
        return self.tensors[name]

    def fusable(self, n: Node) -> Node | None:
        return fused_activation(self.g, n, self.consumers)

    def hard_swish_mul(self, n: Node) -> Node | None:
        """The Mul of x * HardSigmoid(x) (``ir.fusion.hard_swish_mul``): with the HardSigmoid it becomes one
        HARD_SWISH, as the TFLite converter emits."""
        return hard_swish_mul(self.g, n, self.consumers)

    def run(self) -> list[QOp]:
        self.qtensor(self.g.input)
        fused_away: set[str] = set()
        for n in self.g.nodes:
            if n.name in fused_away:
                continue
            act = self.fusable(n) if n.op in ("Conv", "Gemm") else None
            if n.op == "HardSigmoid":
                act = self.hard_swish_mul(n)
            if act is not None:
                fused_away.add(act.name)
            handler = getattr(self, f"op_{n.op}", None)
            if handler is None and n.op in MOVES:  # a data-movement op that only keeps its input's parameters
                handler = self._same_scale
            if handler is None:
                supported = ", ".join(m[3:] for m in dir(self) if m.startswith("op_"))
                raise UnsupportedOpError(
                    f"node {n.name!r}: op {n.op!r} cannot be quantized to a TFLite int8 builtin (supported: {supported})")
            self.ops.append(handler(n, act))
        return self.ops

    # ---- one handler per IR op ------------------------------------------------------------------
    def op_Conv(self, n: Node, act: Node | None) -> QOp:
        x, w = self.g.shape(n.inputs[0]), n.weights["W"]
        groups = n.attrs["groups"]
        if groups == 1:
            kind = "CONV_2D"
        elif groups == x[1] and w.shape[0] % groups == 0:
            kind = "DEPTHWISE_CONV_2D"
        elif x[1] % groups == 0 and w.shape[0] % groups == 0 and w.shape[1] * groups == x[1]:
            kind = "CONV_2D"  # grouped: TFLite CONV_2D with filter depth Cin / groups (reference conv.h supports it)
        else:
            raise UnsupportedOpError(f"node {n.name!r} (Conv): {groups} groups do not divide the {x[1]} input and "
                                     f"{w.shape[0]} output channels")
        return self._weighted(n, act, kind, dict(n.attrs))

    def op_Gemm(self, n: Node, act: Node | None) -> QOp:
        shape = self.g.shape(n.inputs[0])
        if int(np.prod(shape[2:], dtype=np.int64)) != 1:
            raise UnsupportedOpError(f"node {n.name!r} (Gemm): input {shape} must be flat or (N, C, 1, 1)")
        return self._weighted(n, act, "FULLY_CONNECTED", {})

    def _weighted(self, n: Node, act: Node | None, kind: str, attrs: dict) -> QOp:
        out_name = act.output if act else n.output
        tin, tout = self.qtensor(n.inputs[0]), self.qtensor(out_name)
        fused = fused_activation_kind(act) if act else "NONE"
        wq, ws = quantize_weights_per_channel(n.weights["W"])
        mult, shift = per_channel_multipliers(tin.scale, ws, tout.scale, f"node {n.name!r} ({n.op})")
        lo, hi = activation_range(fused, tout)
        attrs.update(fused=fused, act_min=lo, act_max=hi)
        params = {"weights": wq, "weight_scales": ws, "bias": quantize_bias(n.weights["B"], tin.scale, ws),
                  "multiplier": mult, "shift": shift}
        if kind == "FULLY_CONNECTED":
            params["effective_scale"] = np.array([float(tin.scale) * float(w) / float(tout.scale) for w in ws], np.float64)
        names = (n.name, act.name) if act else (n.name,)
        return QOp(n.name, kind, (n.inputs[0],), out_name, names, attrs, params)

    def _const_tensor(self, n: Node) -> QTensor:
        c = n.weights["const"].astype(np.float32)
        scale, zp = qparams_from_range(float(c.min()), float(c.max()))
        t = QTensor(f"{n.name}/const", tuple(c.shape), scale, zp)
        self.tensors[t.name] = t
        return t

    def _operands(self, n: Node) -> tuple[QTensor, QTensor, dict]:
        if len(n.inputs) == 2:
            return self.qtensor(n.inputs[0]), self.qtensor(n.inputs[1]), {}
        t = self._const_tensor(n)
        return self.qtensor(n.inputs[0]), t, {"const": quantize_constant(n.weights["const"], t)}

    def _add_like(self, n: Node, kind: str) -> QOp:
        a, b, params = self._operands(n)
        attrs = add_attrs(a, b, self.qtensor(n.output))
        attrs["const_tensor"] = b.name if params else ""
        return QOp(n.name, kind, tuple(n.inputs), n.output, (n.name,), attrs, params)

    def op_Add(self, n: Node, act: Node | None) -> QOp:
        return self._add_like(n, "ADD")

    def op_Sub(self, n: Node, act: Node | None) -> QOp:
        """SUB: sub.cc PrepareGeneralSubOp computes ADD's parameters (left shift 20, 2 max(s1, s2)); the kernel
        subtracts the rescaled second operand. The TFLite converter keeps x - c as SUB with the constant."""
        return self._add_like(n, "SUB")

    def op_Mul(self, n: Node, act: Node | None) -> QOp:
        a, b, params = self._operands(n)
        attrs = mul_attrs(a, b, self.qtensor(n.output))
        attrs["const_tensor"] = b.name if params else ""
        return QOp(n.name, "MUL", tuple(n.inputs), n.output, (n.name,), attrs, params)

    def op_Sigmoid(self, n: Node, act: Node | None) -> QOp:
        tin = self.qtensor(n.inputs[0])
        tout = self.fixed(n.output, LOGISTIC_SCALE, LOGISTIC_ZP)
        return QOp(n.name, "LOGISTIC", n.inputs, n.output, (n.name,), {}, {"table": logistic_table(tin, tout)})

    def _relu(self, n: Node, kind: str) -> QOp:
        tin, tout = self.qtensor(n.inputs[0]), self.qtensor(n.output)
        real = float(np.float32(tin.scale) / np.float32(tout.scale))
        m, s = checked_multiplier(real, f"node {n.name!r} ({n.op} as {kind})", tin.scale, tout.scale)
        lo, hi = activation_range(kind, tout)
        attrs = {"x_zp": tin.zero_point, "mult": m, "shift": s, "out_zp": tout.zero_point, "act_min": lo, "act_max": hi}
        return QOp(n.name, kind, n.inputs, n.output, (n.name,), attrs, {})

    def op_Relu(self, n: Node, act: Node | None) -> QOp:
        return self._relu(n, "RELU")

    def op_Concat(self, n: Node, act: Node | None) -> QOp:
        """CONCATENATION: concatenation.cc Prepare requires every int8 input's scale and zero point to equal the
        output's; ``concat_shared_ranges`` gave them the Concat's range (a Requantize in front of the others)."""
        tout = self.qtensor(n.output)
        for t in n.inputs:
            tin = self.qtensor(t)
            if (tin.scale, tin.zero_point) != (tout.scale, tout.zero_point):
                raise QuantizationError(f"node {n.name!r} (Concat): input {t!r} has scale {tin.scale:.6g} / zero "
                                        f"point {tin.zero_point}, the output {tout.scale:.6g} / {tout.zero_point}; "
                                        "TFLite's int8 CONCATENATION needs them equal")
        return QOp(n.name, "CONCATENATION", n.inputs, n.output, (n.name,), {"axis": int(n.attrs["axis"])}, {})

    def _same_scale(self, n: Node, act: Node | None = None, **attrs: object) -> QOp:
        """A data-movement op (``ir.movement``) whose int8 output keeps the input's scale and zero point (TFLite
        SLICE, PAD, RESHAPE / TRANSPOSE: the quantization spec's same-scale restriction)."""
        tin = self.qtensor(n.inputs[0])
        self.fixed(n.output, tin.scale, tin.zero_point)
        return QOp(n.name, MOVES[n.op].kind, n.inputs, n.output, (n.name,), {**n.attrs, **attrs}, {})

    def op_Pad(self, n: Node, act: Node | None) -> QOp:
        """PAD (value 0: pad.cc fills with the output zero point) or PADV2 with the value quantized with the
        input's parameters (saturating to int8 when outside its range); ``fill`` is that int8 value."""
        tin = self.qtensor(n.inputs[0])
        fill = clip_bound(float(n.attrs["value"]), tin) if n.attrs["value"] != 0.0 else tin.zero_point
        return self._same_scale(n, fill=int(fill))

    def op_Requantize(self, n: Node, act: Node | None) -> QOp:
        """QUANTIZE int8 -> int8 (quantize.cc Prepare: QuantizeMultiplier(double(s_in) / double(s_out)); Eval:
        reference_ops::Requantize, MultiplyByQuantizedMultiplier(q - zp_in) + zp_out clamped to int8)."""
        tin, tout = self.qtensor(n.inputs[0]), self.qtensor(n.output)
        m, s = checked_multiplier(float(tin.scale) / float(tout.scale), f"node {n.name!r} (Requantize)", tin.scale,
                                  tout.scale)
        attrs = {"x_zp": tin.zero_point, "mult": m, "shift": s, "out_zp": tout.zero_point, "act_min": -128,
                 "act_max": 127}
        return QOp(n.name, "QUANTIZE", n.inputs, n.output, (n.name,), attrs, {})

    def op_LeakyRelu(self, n: Node, act: Node | None) -> QOp:
        """LEAKY_RELU with its own calibrated output range; activations.cc LeakyReluPrepare's multipliers:
        float32 s_in * alpha / s_out and s_in / s_out, each QuantizeMultiplier'd as a double."""
        tin, tout = self.qtensor(n.inputs[0]), self.qtensor(n.output)
        alpha = np.float32(n.attrs["alpha"])
        s_in, s_out = np.float32(tin.scale), np.float32(tout.scale)
        where = f"node {n.name!r} (LeakyRelu)"
        ma, sa = checked_multiplier(float(np.float32(s_in * alpha) / s_out), where, s_in, s_out)
        mi, si = checked_multiplier(float(s_in / s_out), where, s_in, s_out)
        attrs = {"alpha": float(alpha), "x_zp": tin.zero_point, "out_zp": tout.zero_point,
                 "mult_identity": mi, "shift_identity": si, "mult_alpha": ma, "shift_alpha": sa}
        return QOp(n.name, "LEAKY_RELU", n.inputs, n.output, (n.name,), attrs, {})

    def op_PRelu(self, n: Node, act: Node | None) -> QOp:
        """PRELU with the slope an int8 constant quantized over its own range; activations.cc PreluPrepare's
        multipliers: float32 s_in / s_out and s_in * s_alpha / s_out, each QuantizeMultiplier'd as a double."""
        tin, talpha, params = self._operands(n)
        tout = self.qtensor(n.output)
        s_in, s_a, s_out = np.float32(tin.scale), np.float32(talpha.scale), np.float32(tout.scale)
        where = f"node {n.name!r} (PRelu)"
        m1, s1 = checked_multiplier(float(s_in / s_out), where, s_in, s_out)
        m2, s2 = checked_multiplier(float(np.float32(s_in * s_a) / s_out), where, s_in, s_out)
        attrs = {"zp1": tin.zero_point, "zp2": talpha.zero_point, "out_zp": tout.zero_point, "mult1": m1,
                 "shift1": s1, "mult2": m2, "shift2": s2, "const_tensor": talpha.name}
        return QOp(n.name, "PRELU", n.inputs, n.output, (n.name,), attrs, params)

    def op_Clip(self, n: Node, act: Node | None) -> QOp:
        kind = fused_activation_kind(n)
        if kind is not None:
            return self._relu(n, kind)
        # General bounds: TFLite MAXIMUM / MINIMUM with int8 constants, which compare raw int8 values, so
        # the output keeps the input's scale and zero point and the bounds are quantized with them.
        tin = self.qtensor(n.inputs[0])
        self.fixed(n.output, tin.scale, tin.zero_point)
        lo, hi = float(n.attrs["min"]), float(n.attrs["max"])
        if lo > hi:
            raise UnsupportedOpError(f"node {n.name!r} (Clip): min {lo} > max {hi}")
        attrs = {"lo": clip_bound(lo, tin), "hi": clip_bound(hi, tin)}
        return QOp(n.name, "CLIP", n.inputs, n.output, (n.name,), attrs, {})

    def op_HardSwish(self, n: Node, act: Node | None) -> QOp:
        out = act.output if act else n.output
        tin, tout = self.qtensor(n.inputs[0]), self.qtensor(out)
        names = (n.name, act.name) if act else (n.name,)
        return QOp(n.name, "HARD_SWISH", (n.inputs[0],), out, names, {}, {"table": hard_swish_table(tin, tout, n.name)})

    def op_HardSigmoid(self, n: Node, act: Node | None) -> QOp:
        if act is not None:
            return self.op_HardSwish(n, act)
        alpha, beta = float(n.attrs["alpha"]), float(n.attrs["beta"])
        if alpha == 0.0 or not (np.isfinite(alpha) and np.isfinite(beta)):
            raise UnsupportedOpError(f"node {n.name!r} (HardSigmoid alpha={alpha}, beta={beta}): alpha must be finite "
                                     "and nonzero (a constant output is not an int8 MUL + ADD)")
        tin = self.qtensor(n.inputs[0])
        lo, hi = sorted((alpha * tin.scale * (-128 - tin.zero_point), alpha * tin.scale * (127 - tin.zero_point)))
        mid = self._own_tensor(f"{n.name}/scaled", tin.shape, lo, hi)
        ca = self._own_tensor(f"{n.name}/alpha", (1,), alpha, alpha)
        cb = self._own_tensor(f"{n.name}/beta", (1,), beta, beta)
        r = self.ranges.get(n.output)
        if r is None:
            raise QuantizationError(f"tensor {n.output!r} has no calibration range")
        # ADD's Prepare needs its output multiplier 2 max(s_t, s_beta) / (2^20 s_y) below 1: an output that
        # calibrated to (almost) constant 0 gets at least that much range.
        floor = 2.0 * 255.0 * 2.0 * max(mid.scale, cb.scale) / (1 << ADD_LEFT_SHIFT)
        scale, zp = qparams_from_range(0.0, min(max(r.hi, floor), 1.0))
        out = self.fixed(n.output, scale, zp)
        mul, add = mul_attrs(tin, ca, mid), add_attrs(mid, cb, out)
        qa, qb = quantize_constant(np.array([alpha]), ca), quantize_constant(np.array([beta]), cb)
        mid_table, table = hard_sigmoid_tables(mul, add, qa, qb)
        attrs = {"alpha": alpha, "beta": beta, "intermediate": mid.name, "alpha_tensor": ca.name,
                 "beta_tensor": cb.name,
                 **{f"mul_{k}": v for k, v in mul.items()}, **{f"add_{k}": v for k, v in add.items()}}
        params = {"alpha": qa, "beta": qb, "mid_table": mid_table, "table": table}
        return QOp(n.name, "HARD_SIGMOID", (n.inputs[0],), n.output, (n.name,), attrs, params)

    def _own_tensor(self, name: str, shape: tuple[int, ...], lo: float, hi: float) -> QTensor:
        """A tensor the lowering adds (not in the IR), quantized over [lo, hi] (and 0)."""
        scale, zp = qparams_from_range(lo, hi)
        self.tensors[name] = QTensor(name, tuple(shape), scale, zp)
        return self.tensors[name]

    def op_Softmax(self, n: Node, act: Node | None) -> QOp:
        shape = self.g.shape(n.inputs[0])
        axis = int(n.attrs.get("axis", -1))
        rank = len(shape)
        norm = axis % rank if -rank <= axis < rank else None
        last_nhwc = 1 if rank == 4 else rank - 1  # NCHW channel axis is NHWC's last
        if norm != last_nhwc:
            raise UnsupportedOpError(
                f"node {n.name!r} (Softmax axis={axis} on {tuple(shape)}): TFLite SOFTMAX normalizes the last NHWC "
                f"axis only, which is IR axis {last_nhwc} here (the class axis of (N, C), the channel axis of NCHW)")
        tin = self.qtensor(n.inputs[0])
        self.fixed(n.output, SOFTMAX_SCALE, SOFTMAX_ZP)
        try:
            mult, left, diff_min = softmax_params(tin.scale)
        except QuantizationError as e:
            raise QuantizationError(f"node {n.name!r} (Softmax): {e}") from e
        attrs = {"beta": 1.0, "input_multiplier": mult, "input_left_shift": left, "diff_min": diff_min}
        return QOp(n.name, "SOFTMAX", n.inputs, n.output, (n.name,), attrs, {})

    def op_Reshape(self, n: Node, act: Node | None) -> QOp:
        tin = self.qtensor(n.inputs[0])
        self.fixed(n.output, tin.scale, tin.zero_point)  # TFLite RESHAPE / TRANSPOSE keep the parameters
        return QOp(n.name, "RESHAPE", n.inputs, n.output, (n.name,), {"shape": tuple(self.g.shape(n.output))}, {})

    def op_GlobalAveragePool(self, n: Node, act: Node | None) -> QOp:
        tin, tout = self.qtensor(n.inputs[0]), self.qtensor(n.output)
        m, s = checked_multiplier(float(tin.scale) / float(tout.scale), f"node {n.name!r} (GlobalAveragePool)",
                                  tin.scale, tout.scale)
        attrs = {"x_zp": tin.zero_point, "mult": m, "shift": s, "out_zp": tout.zero_point}
        return QOp(n.name, "MEAN", n.inputs, n.output, (n.name,), attrs, {})

    def _pool(self, n: Node, kind: str) -> QOp:
        """A TFLite pool reads a window placed by its top / left offset and divides an average by the in-bounds
        taps; SAME is the only padding it skips. Every other padding becomes an explicit pad first, as
        torch-mlir / onnx2tf lower it: MaxPool gets PADV2 with -128 (never wins, so it may cover ceil_mode's
        extra rows too), AveragePool gets PAD with the zero point for the pads it counts (count_include_pad=1:
        a real zero), then a VALID pool, or a SAME one whose skipped padding is exactly the pads not counted
        (ceil_mode's extra rows / columns, or all pads with count_include_pad=0). Anything else has no TFLite
        int8 form and is refused by name."""
        tin = self.qtensor(n.inputs[0])
        shape_in = tuple(self.g.shape(n.inputs[0])[2:])
        k, s, pads = tuple(n.attrs["kernel"]), tuple(n.attrs["strides"]), tuple(n.attrs["pads"])
        eh, ew = tuple(n.attrs.get("ceil_pads", (0, 0)))
        if kind == "MAX_POOL_2D":
            pre = (0, 0, 0, 0) if pads == tflite_same_pads(shape_in, k, s, (1, 1)) else pads
        elif n.attrs.get("count_include_pad", 0):
            pre = (pads[0], pads[1], pads[2] - eh, pads[3] - ew)
        else:
            pre = (0, 0, 0, 0)
        rest = tuple(p - q for p, q in zip(pads, pre))
        padded = (shape_in[0] + pre[0] + pre[2], shape_in[1] + pre[1] + pre[3])
        if any(rest) and rest != tflite_same_pads(padded, k, s, (1, 1)):
            raise UnsupportedOpError(
                f"node {n.name!r} ({n.op} kernel {k} stride {s} on {shape_in[0]}x{shape_in[1]}): padding {pads} "
                f"(ceil_mode adds {(eh, ew)}, count_include_pad={int(n.attrs.get('count_include_pad', 0))}) leaves "
                f"{rest} uncounted after PAD, which is neither VALID nor TFLite SAME on {padded[0]}x{padded[1]} "
                f"({tflite_same_pads(padded, k, s, (1, 1))}); no TFLite int8 op sequence divides by these counts")
        self.fixed(n.output, tin.scale, tin.zero_point)  # TFLite int8 pooling keeps the input's parameters
        attrs = {"kernel": k, "strides": s, "pads": pads, "act_min": -128, "act_max": 127,
                 "explicit_pad": bool(any(pre)), "pre_pad": pre, "padding": "SAME" if any(rest) else "VALID"}
        return QOp(n.name, kind, n.inputs, n.output, (n.name,), attrs, {})

    def op_Resize(self, n: Node, act: Node | None) -> QOp:
        """RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR keep the input's scale and zero point (the converter's
        same-scale rule for both), so the int8 kernels interpolate raw values."""
        tin = self.qtensor(n.inputs[0])
        self.fixed(n.output, tin.scale, tin.zero_point)
        kind = "RESIZE_BILINEAR" if n.attrs["mode"] == "linear" else "RESIZE_NEAREST_NEIGHBOR"
        attrs = {"size": tuple(int(v) for v in n.attrs["size"]), "align_corners": bool(n.attrs["align_corners"]),
                 "half_pixel_centers": bool(n.attrs["half_pixel_centers"])}
        return QOp(n.name, kind, n.inputs, n.output, (n.name,), attrs, {})

    def op_MaxPool(self, n: Node, act: Node | None) -> QOp:
        return self._pool(n, "MAX_POOL_2D")

    def op_AveragePool(self, n: Node, act: Node | None) -> QOp:
        return self._pool(n, "AVERAGE_POOL_2D")


def concat_shared_ranges(g: Graph, act_ranges: Mapping[str, Range],
                         consumers: Mapping[str, list[str]]) -> dict[str, Range]:
    """The activation ranges with every Concat input given its Concat's range, so they quantize to the same scale
    and zero point (what TFLite's int8 CONCATENATION needs). Only an input that ``ir.movement`` says can share it:
    anything else must have a Requantize in front (the ONNX importer inserts them)."""
    out = dict(act_ranges)
    producer = {n.output: n.op for n in g.nodes}
    for n in (n for n in g.nodes if n.op == "Concat"):
        for t in n.inputs:
            if not concat_input_shares_scale(producer.get(t), len(consumers.get(t, [])), t == g.output):
                raise QuantizationError(f"node {n.name!r} (Concat): input {t!r} cannot take the Concat's scale (it "
                                        "is read elsewhere or its producer fixes its scale) and has no Requantize in "
                                        "front; build the graph with ir.movement.concat_requantize")
            if n.output in act_ranges:
                out[t] = act_ranges[n.output]
    return out


def quantize_constant(c: np.ndarray, t: QTensor) -> np.ndarray:
    q = round_half_away_array(np.asarray(c, np.float64) / t.scale) + t.zero_point
    return np.clip(q, -128, 127).astype(np.int8)


def add_attrs(a: QTensor, b: QTensor, out: QTensor) -> dict:
    """ADD's integer parameters (add.cc Prepare: float32 2 * max(s1, s2), the rest in double)."""
    twice_max = float(np.float32(2) * np.float32(max(a.scale, b.scale)))
    m1, s1 = quantize_multiplier(a.scale / twice_max)
    m2, s2 = quantize_multiplier(b.scale / twice_max)
    real_out = twice_max / float(np.float32(1 << ADD_LEFT_SHIFT) * np.float32(out.scale))
    if not real_out < 1.0:  # QuantizeMultiplierSmallerThanOneExp: LiteRT aborts
        raise QuantizationError(f"ADD into {out.name!r}: output multiplier {real_out:.3g} >= 1 (output scale "
                                f"{out.scale:.3g} is too fine for inputs of scale {max(a.scale, b.scale):.3g})")
    mo, so = quantize_multiplier(real_out)
    return {"zp1": a.zero_point, "zp2": b.zero_point, "mult1": m1, "shift1": s1, "mult2": m2, "shift2": s2,
            "out_mult": mo, "out_shift": so, "out_zp": out.zero_point, "left_shift": ADD_LEFT_SHIFT,
            "act_min": -128, "act_max": 127}


def mul_attrs(a: QTensor, b: QTensor, out: QTensor) -> dict:
    """MUL's integer parameters (mul.cc Prepare: s1 * s2 / s_out evaluated in float32)."""
    real = float(np.float32(np.float32(a.scale) * np.float32(b.scale)) / np.float32(out.scale))
    m, s = checked_multiplier(real, f"MUL into {out.name!r}", float(np.float32(a.scale) * np.float32(b.scale)),
                              out.scale)
    return {"zp1": a.zero_point, "zp2": b.zero_point, "out_mult": m, "out_shift": s, "out_zp": out.zero_point,
            "act_min": -128, "act_max": 127}


def hard_sigmoid_tables(mul: dict, add: dict, alpha_q: np.ndarray, beta_q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The MUL-by-alpha and ADD-beta chain for all 256 int8 inputs: (intermediate table, output table),
    indexed by the input byte, computed with the reference MUL and ADD kernels."""
    from sramflow.reference.kernels import hard_sigmoid_chain

    q = np.arange(256, dtype=np.uint8).view(np.int8)
    return hard_sigmoid_chain(q, mul, add, alpha_q, beta_q)


def logistic_table(tin: QTensor, tout: QTensor) -> np.ndarray:
    """LiteRT's LUTPopulate for int8 LOGISTIC, in float32 (exp correctly rounded to float32, as glibc's expf)."""
    q = np.arange(-128, 128, dtype=np.int32)
    deq = np.float32(tin.scale) * (q - tin.zero_point).astype(np.float32)
    with np.errstate(over="ignore"):  # expf overflows to +inf for inputs below about -88 (glibc too): 1 / (1 + inf) = 0
        e = np.exp(-deq.astype(np.float64)).astype(np.float32)
    y = np.float32(1.0) / (np.float32(1.0) + e)
    inv = np.float32(1.0) / np.float32(tout.scale)
    rescaled = round_half_away_array((y * inv).astype(np.float32))
    out = np.clip(rescaled.astype(np.int64) + tout.zero_point, -128, 127).astype(np.int8)
    table = np.empty(256, np.int8)
    table[q.astype(np.int8).view(np.uint8)] = out
    return table


def clip_bound(v: float, t: QTensor) -> int:
    """A Clip bound as the int8 constant MAXIMUM / MINIMUM compares with (infinite: no bound)."""
    if not np.isfinite(v):
        return -128 if v < 0 else 127
    return int(np.clip(t.zero_point + round_half_away(v / t.scale), -128, 127))


def hard_swish_table(tin: QTensor, tout: QTensor, node: str) -> np.ndarray:
    """LiteRT's int8 HARD_SWISH (reference/hard_swish.h with activations.cc HardSwishPrepare's int16
    multipliers), evaluated for all 256 inputs: the kernel is a pure function of the input byte."""
    from sramflow.reference.hard_swish import HardSwishParams, hard_swish_scalar

    prm = HardSwishParams.from_scales(tin.scale, tin.zero_point, tout.scale, tout.zero_point)
    if prm.output_multiplier_exponent > 0:  # HardSwishPrepare: TF_LITE_ENSURE(output_multiplier_exponent <= 0)
        raise QuantizationError(
            f"node {node!r} (HardSwish): output scale {tout.scale:.3g} ({tout.name!r}) is below input scale "
            f"{tin.scale:.3g} / 128, an output multiplier >= 1 that LiteRT's HARD_SWISH refuses in Prepare; the "
            "output calibrated to an almost constant range: calibrate on inputs that reach this layer's positive "
            "range (e.g. real images instead of --calib-random)")
    q = np.arange(-128, 128)
    table = np.empty(256, np.int8)
    table[q.astype(np.int8).view(np.uint8)] = [hard_swish_scalar(int(v), prm) for v in q]
    return table


def quantize_with_ranges(graph: Graph, act_ranges: Mapping[str, Range], method: str, calibration: str) -> QuantizedGraph:
    p = _Pass(graph, act_ranges)
    ops = p.run()
    return QuantizedGraph(graph.name, graph.input, graph.output, dict(p.tensors), tuple(ops), method, calibration,
                          graph_fingerprint(graph))
