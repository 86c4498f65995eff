"""Every element-wise int8 kernel against LiteRT BUILTIN_REF, exhaustively: all 256 inputs (all 65,536 input
pairs for MUL and ADD) for a sweep of input / output scales and zero points, including the degenerate ones a
collapsed activation calibrates to (the 1e-8 minimum scale) and the exponent edges of each fixed-point path.

One .tflite per kernel holds every combination (tests/helpers/elementwise_batch.py), so each test is one
interpreter run. TANH is not here: sramflow does not import Tanh (it is refused at import).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from sramflow.errors import QuantizationError
from sramflow.ir.graph import Graph, Node
from sramflow.ir.qgraph import QOp
from sramflow.quant.calibrate import Range
from sramflow.quant.quantize import add_attrs, hard_swish_table, mul_attrs, quantize_with_ranges
from sramflow.reference.hard_swish import HardSwishParams
from tests.helpers.elementwise_batch import (ALL_INT8, PAIR_A, PAIR_B, merged_tflite, mismatches, qtensor,
                                            single_op_graph)
from sramflow.tflite.verify import reference_interpreter

# Input scales from the 1e-8 floor of calibrate.qparams_from_range to large, dense around 1.8e-7 where the
# HARD_SWISH reluish shift crosses 16 (hires_input_scale / (3 / 32768) = 2^-16).
HS_IN_SCALES = [1e-8, 6e-8, 1e-7, 1.5e-7, 2e-7, 3e-7, 4e-7, 1e-6, 1e-4, 0.01, 0.05, 0.3, 4.0]
# out_scale / in_scale: just above 1/128 (output multiplier ~1, exponent 0) to 1e8 (multiplier flushed to 0),
# with 300..3000 around the output shift of 16.
HS_RATIOS = [1 / 128 * 1.001, 1 / 64, 0.05, 0.3, 1.0, 3.0, 300.0, 600.0, 1e3, 3e3, 1e8]
HS_ZPS = list(itertools.product([-128, -15, 127], [-128, -72, 0, 127]))


def _hard_swish_graph(i: int, in_scale: float, in_zp: int, out_scale: float, out_zp: int):  # noqa: ANN202
    x, y = qtensor(f"hs{i}/x", (1, 256), in_scale, in_zp), qtensor(f"hs{i}/y", (1, 256), out_scale, out_zp)
    op = QOp(f"hs{i}", "HARD_SWISH", (x.name,), y.name, (f"hs{i}",), {}, {"table": hard_swish_table(x, y, f"hs{i}")})
    return single_op_graph(f"hs{i}", op, (x, y))


def test_hard_swish_all_inputs_over_a_sweep_of_scales_and_zero_points() -> None:
    graphs, skipped = [], 0
    for s_in, ratio, (zp_in, zp_out) in itertools.product(HS_IN_SCALES, HS_RATIOS, HS_ZPS):
        s_out = s_in * ratio
        if HardSwishParams.from_scales(s_in, zp_in, s_out, zp_out).output_multiplier_exponent > 0:
            skipped += 1  # LiteRT refuses these in Prepare (test below)
            continue
        graphs.append(_hard_swish_graph(len(graphs), s_in, zp_in, s_out, zp_out))
    assert len(graphs) > 1000 and skipped < len(graphs) // 10
    exponents = {HardSwishParams.from_scales(g.tensor(g.input).scale, 0, g.tensor(g.output).scale, 0)
                 .reluish_multiplier_exponent for g in graphs}
    assert min(exponents) < -16 < max(exponents)  # the sweep crosses the int16 mask edge
    bad = mismatches(graphs, {g.input: ALL_INT8.reshape(1, 256) for g in graphs})
    assert not bad, (len(bad), bad[:5])


def test_hard_swish_mismatch_from_first_principles() -> None:
    """The MobileNetV3 case: a collapsed activation calibrated to the minimum scale 1e-8 (zero point -15) into
    HARD_SWISH (1e-8, -72). hires_input_scale / reluish_scale = (1e-8 / 128) / (3 / 32768) ~ 8.5e-7, so the
    reluish multiplier's exponent is -20 and hard_swish.h calls gemmlowp::RoundingDivideByPOT(int16, 20). There
    the mask Dup<int16_t>((1 << 20) - 1) truncates to -1: every x >= 0 rounds to +1 and every x < 0 to -1
    (an exact rounding shift gives 0). After (reluish + 2^15) >> 1, x < 0 gives 16383 instead of 16384, and
    negative inputs whose product sits on a rounding edge come out one step higher in LiteRT."""
    from sramflow.reference.hard_swish import rdbpot16

    p = HardSwishParams.from_scales(1e-8, -15, 1e-8, -72)
    assert p.reluish_multiplier_exponent == -20 and p.output_multiplier_exponent == -6
    assert [rdbpot16(v, 20) for v in (-32768, -5, -1, 0, 1, 5, 32767)] == [-1, -1, -1, 1, 1, 1, 1]
    assert [rdbpot16(v, 15) for v in (-32768, -16385, -16384, -1, 0, 16383, 16384, 32767)] == [-1, -1, -1, 0, 0, 0, 1, 1]  # ties away from 0
    g = _hard_swish_graph(0, 1e-8, -15, 1e-8, -72)
    table = g.ops[0].params["table"]
    # the values BUILTIN_REF gives (first seen in the MobileNetV3 chain): input -116 -> -122, -16 -> -72
    assert int(table[np.int8(-116).view(np.uint8)]) == -122 and int(table[np.int8(-16).view(np.uint8)]) == -72
    assert not mismatches([g], {g.input: ALL_INT8.reshape(1, 256)})


@pytest.mark.parametrize("fused", [False, True])
def test_hard_swish_at_the_minimum_scale_through_the_quantizer(fused: bool) -> None:
    """Both ways a HardSwish arrives (ONNX HardSwish at opset >= 14; x * HardSigmoid(x) below, fused into one
    HARD_SWISH) give the same op, bit-exact at the scale that triggered the MobileNetV3 mismatch."""
    if fused:
        nodes = (Node("hsig", "HardSigmoid", ("x",), "h", {"alpha": 1 / 6, "beta": 0.5}), Node("mul", "Mul", ("x", "h"), "y", {}))
    else:
        nodes = (Node("hs", "HardSwish", ("x",), "y", {}),)
    shapes = {t: (1, 256) for t in ("x", "h", "y")}
    g = Graph("hs", "x", "y", {k: v for k, v in shapes.items() if fused or k != "h"}, nodes)
    ranges = {"x": Range(-1.13e-7, 1.42e-7), "h": Range(0.0, 1.0), "y": Range(-0.4e-7, 1.6e-7)}
    q = quantize_with_ranges(g, ranges, "minmax", "test")
    assert [op.kind for op in q.ops] == ["HARD_SWISH"] and q.tensor("x").scale == np.float32(1e-8)
    assert not mismatches([q], {"x": ALL_INT8.reshape(1, 256)})


def test_hard_swish_output_multiplier_above_one_is_a_named_error_as_litert_refuses_it() -> None:
    g = Graph("hs", "x", "y", {"x": (1, 4), "y": (1, 4)}, (Node("act/hswish", "HardSwish", ("x",), "y", {}),))
    ranges = {"x": Range(-6.0, 6.0), "y": Range(0.0, 0.0)}  # an output calibrated to constant 0: scale 1e-8
    with pytest.raises(QuantizationError, match=r"node 'act/hswish' \(HardSwish\).*refuses"):
        quantize_with_ranges(g, ranges, "minmax", "test")
    # LiteRT: HardSwishPrepare's TF_LITE_ENSURE(output_multiplier_exponent <= 0) fails at allocation
    x, y = qtensor("x", (1, 4), 12 / 255, 0), qtensor("y", (1, 4), 1e-8, -128)
    op = QOp("hs", "HARD_SWISH", ("x",), "y", ("hs",), {}, {"table": np.zeros(256, np.int8)})
    with pytest.raises(RuntimeError):
        reference_interpreter(merged_tflite([single_op_graph("hs", op, (x, y))]))


def _range(scale: float, zp: int) -> Range:
    """The calibration range whose int8 parameters are (about) ``scale`` and ``zp``."""
    return Range((-128 - zp) * scale, (127 - zp) * scale)


UNARY_IN = list(itertools.product([1e-8, 1e-5, 0.003, 0.02, 0.1, 0.5, 2.0, 40.0], [-128, -60, 0, 90, 127]))


def _quantized_unary(i: int, op: str, attrs: dict, x_range: Range, y_range: Range):  # noqa: ANN202
    n = f"{op.lower()}{i}"
    g = Graph(n, f"{n}/x", f"{n}/y", {f"{n}/x": (1, 256), f"{n}/y": (1, 256)},
              (Node(n, op, (f"{n}/x",), f"{n}/y", attrs),))
    return quantize_with_ranges(g, {f"{n}/x": x_range, f"{n}/y": y_range}, "minmax", "test")


def _check_unary(graphs: list) -> None:  # noqa: ANN001
    bad = mismatches(graphs, {g.input: ALL_INT8.reshape(1, 256) for g in graphs})
    assert not bad, (len(bad), bad[:5])


def test_logistic_all_inputs() -> None:
    graphs = [_quantized_unary(i, "Sigmoid", {}, _range(s, zp), Range(0.0, 1.0)) for i, (s, zp) in enumerate(UNARY_IN)]
    assert {g.ops[0].kind for g in graphs} == {"LOGISTIC"}
    _check_unary(graphs)


@pytest.mark.parametrize("alpha_beta", [(1 / 6, 0.5), (0.2, 0.5)])  # torch's hardsigmoid export; ONNX / Keras
def test_hard_sigmoid_as_exported_all_inputs(alpha_beta: tuple[float, float]) -> None:
    """HardSigmoid on its own (the SE gate) is lowered to MUL by alpha then ADD of beta: both tensors checked,
    for output ranges from constant 0 (the ADD floor) to more than 1 (cut to 1)."""
    alpha, beta = alpha_beta
    outs = [0.0, 1e-6, 0.02, 0.3, 0.5, 0.9, 1.0, 2.0]
    graphs = [_quantized_unary(i, "HardSigmoid", {"alpha": alpha, "beta": beta}, _range(s, zp), Range(0.0, hi))
              for i, ((s, zp), hi) in enumerate(itertools.product(UNARY_IN, outs))]
    assert {g.ops[0].kind for g in graphs} == {"HARD_SIGMOID"}
    _check_unary(graphs)


RELU_OUTS = [(0.0, 1e-6), (0.0, 0.5), (0.0, 6.0), (-1.0, 30.0)]


def _relu_cases(op: str) -> list[tuple[int, Range, Range]]:
    return [(i, _range(s, zp), Range(*o)) for i, ((s, zp), o) in enumerate(itertools.product(UNARY_IN, RELU_OUTS))]


def _relu_graphs(op: str) -> list:
    """Standalone Relu / Relu6 over UNARY_IN x RELU_OUTS whose input / output scale ratio is below 2^30 (the
    others are refused: test below)."""
    attrs = {"min": 0.0, "max": 6.0} if op == "Clip" else {}
    graphs = []
    for i, x_range, y_range in _relu_cases(op):
        try:
            graphs.append(_quantized_unary(i, op, attrs, x_range, y_range))
        except QuantizationError:
            continue
    assert {g.ops[0].kind for g in graphs} == {"RELU" if op == "Relu" else "RELU6"}
    assert all(g.tensor(g.input).scale / g.tensor(g.output).scale < 2.0**30 for g in graphs)
    return graphs


@pytest.mark.parametrize("op", ["Relu", "Clip"])
def test_relu_and_relu6_standalone_all_inputs(op: str) -> None:
    graphs = _relu_graphs(op)
    assert len(graphs) >= 150
    _check_unary(graphs)


@pytest.mark.parametrize("op", ["Relu", "Clip"])
def test_relu_with_a_multiplier_above_2_to_the_30_is_refused_by_name(op: str) -> None:
    """A RELU multiplier >= 2^30 (input scale >= 2^30 output scales, e.g. 40 into a dead ReLU's 1e-8) makes
    QuantizeMultiplier's shift exceed 30; LiteRT's double-rounding build does not saturate it (only under
    TFLITE_SINGLE_ROUNDING) and computes x * (1 << shift) with shift >= 31, undefined behaviour in C (observed:
    the shift taken mod 32). The quantizer refuses such a pair, naming the node and both scales; every pair
    whose float32 ratio is below the limit quantizes."""
    from sramflow.quant.calibrate import qparams_from_range
    from sramflow.quant.quantize import LITERT_MULTIPLIER_LIMIT

    attrs = {"min": 0.0, "max": 6.0} if op == "Clip" else {}
    refused = 0
    for i, x_range, y_range in _relu_cases(op):
        s_in = qparams_from_range(x_range.lo, x_range.hi)[0]
        s_out = qparams_from_range(min(y_range.lo, 0.0), y_range.hi)[0]
        huge = float(np.float32(s_in) / np.float32(s_out)) >= LITERT_MULTIPLIER_LIMIT
        if not huge:
            continue
        refused += 1
        with pytest.raises(QuantizationError, match=rf"node '{op.lower()}{i}' \({op} as RELU6?\): requantization "
                           r"multiplier .* >= 2\^30 \(input scale .* over output scale 1e-08\)"):
            _quantized_unary(i, op, attrs, x_range, y_range)
    assert refused >= 5
    assert len(_relu_graphs(op)) + refused == len(_relu_cases(op))


def test_the_multiplier_limit_is_where_quantize_multipliers_shift_passes_30() -> None:
    from sramflow.quant.quantize import LITERT_MULTIPLIER_LIMIT, checked_multiplier
    from sramflow.reference.requant import quantize_multiplier

    below = np.nextafter(LITERT_MULTIPLIER_LIMIT, 0.0)
    assert quantize_multiplier(below) == ((1 << 31) - 1, 30)  # the largest multiplier LiteRT applies right
    assert checked_multiplier(below, "n", 1.0, 1.0) == ((1 << 31) - 1, 30)
    import math
    frac, exp = math.frexp(LITERT_MULTIPLIER_LIMIT)
    assert exp == 30 and round(frac * 2**31) == 2**31  # rounds up: the shift becomes 31
    with pytest.raises(QuantizationError, match="'mul1'"):
        mul_attrs(qtensor("a", (1, 4), 40.0, 0), qtensor("b", (1, 4), 1.0, 0), qtensor("mul1", (1, 4), 1e-8, 0))


BINARY_SCALES = [1e-8, 0.004, 0.05, 1.0]
BINARY_ZPS = [(-128, 127, -128), (0, -7, 3), (127, -128, 127)]


@pytest.mark.parametrize("kind", ["MUL", "ADD"])
def test_binary_all_input_pairs(kind: str) -> None:
    """MUL and ADD of two activations over all 65,536 (a, b) pairs, for every combination of scales (output
    scale relative to the float range the op can produce) and a few zero-point triples."""
    graphs, refused = [], 0
    for (sa, sb), out_ratio, zps in itertools.product(itertools.product(BINARY_SCALES, BINARY_SCALES),
                                                      [0.01, 1.0, 300.0], BINARY_ZPS):
        i = len(graphs)
        s_out = (sa * sb * 255 if kind == "MUL" else max(sa, sb) * 2) * out_ratio
        a, b = qtensor(f"{kind}{i}/a", (1, 65536), sa, zps[0]), qtensor(f"{kind}{i}/b", (1, 65536), sb, zps[1])
        y = qtensor(f"{kind}{i}/y", (1, 65536), s_out, zps[2])
        try:
            attrs = mul_attrs(a, b, y) if kind == "MUL" else add_attrs(a, b, y)
        except QuantizationError:  # ADD's Prepare refuses an output multiplier >= 1
            refused += 1
            continue
        op = QOp(f"{kind}{i}", kind, (a.name, b.name), y.name, (f"{kind}{i}",), {**attrs, "const_tensor": ""}, {})
        graphs.append(single_op_graph(f"{kind}{i}", op, (a, b, y)))
    assert len(graphs) >= 100 and refused <= len(graphs) // 4
    feeds = {}
    for g in graphs:
        feeds[g.ops[0].inputs[0]], feeds[g.ops[0].inputs[1]] = PAIR_A.reshape(1, -1), PAIR_B.reshape(1, -1)
    bad = mismatches(graphs, feeds)
    assert not bad, (len(bad), bad[:5])
