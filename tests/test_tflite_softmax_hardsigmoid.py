"""SOFTMAX and standalone HardSigmoid (MUL + ADD): integer reference vs LiteRT BUILTIN_REF, every tensor,
over several input scales / zero points and inputs spanning the whole int8 range; and both end to end
from hand-built ONNX models through `sramflow quantize` and `sramflow verify`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from sramflow.cli import main
from sramflow.errors import UnsupportedOpError
from sramflow.ir.graph import Graph, Node
from sramflow.quant.calibrate import Range
from sramflow.quant.quantize import quantize_with_ranges
from sramflow.reference.run import dequantize
from sramflow.tflite.export import tflite_bytes
from sramflow.tflite.verify import verify

# (lo, hi) of the input's calibrated range: small to large scales, zero points from -128 to 127
INPUT_RANGES = [(-0.5, 0.5), (-4.0, 12.0), (0.0, 3.0), (-30.0, 0.0), (-200.0, 150.0), (-0.01, 0.02)]


def _one_op(op: str, shape: tuple[int, ...], attrs: dict) -> Graph:
    return Graph("one", "x", "y", {"x": shape, "y": shape}, (Node("n0", op, ("x",), "y", attrs),))


def _inputs(shape: tuple[int, ...], n: int, seed: int) -> np.ndarray:
    """int8 inputs covering every value: a ramp through -128..127, then uniform random ones."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape[1:]))
    ramp = np.resize(np.arange(-128, 128), size).astype(np.int8).reshape(shape[1:])
    rand = rng.integers(-128, 128, (n - 1, *shape[1:])).astype(np.int8)
    return np.concatenate([ramp[None], rand])


@pytest.mark.parametrize("lo_hi", INPUT_RANGES)
@pytest.mark.parametrize("shape", [(1, 10), (1, 6, 3, 4)])
def test_softmax_bit_exact_with_litert(lo_hi: tuple[float, float], shape: tuple[int, ...]) -> None:
    g = _one_op("Softmax", shape, {"axis": 1})  # the class axis of (N, C); the channel axis of NCHW
    q = quantize_with_ranges(g, {"x": Range(*lo_hi), "y": Range(0.0, 1.0)}, "minmax", "test")
    op = q.ops[0]
    assert op.kind == "SOFTMAX" and q.tensor("y").scale == 1 / 256 and q.tensor("y").zero_point == -128
    x8 = _inputs(shape, 6, 0)
    r = verify(q, tflite_bytes(q), x8)
    assert r.tensors_compared == 2 * len(x8) and r.tensors_mismatched == 0, r.first_mismatch
    # and close to the float softmax of the dequantized input (within two output steps)
    from sramflow.reference.run import run_int8

    y = dequantize(q, "y", run_int8(q, x8)["y"])
    xf = dequantize(q, "x", x8).astype(np.float64)
    e = np.exp(xf - xf.max(axis=1, keepdims=True))
    assert np.abs(y - e / e.sum(axis=1, keepdims=True)).max() <= 2 / 256 + 1e-6


def test_softmax_on_another_axis_names_the_node() -> None:
    for shape, axis in [((1, 6, 3, 4), 3), ((1, 6, 3, 4), -1), ((1, 10), 0)]:
        g = _one_op("Softmax", shape, {"axis": axis})
        with pytest.raises(UnsupportedOpError, match=f"'n0'.*Softmax axis={axis}"):
            quantize_with_ranges(g, {"x": Range(-1.0, 1.0), "y": Range(0.0, 1.0)}, "minmax", "test")


HARD_SIGMOIDS = [(0.2, 0.5), (1 / 6, 0.5), (-0.3, 0.1), (2.0, -1.0), (0.01, 0.9), (0.5, 0.0)]


@pytest.mark.parametrize("alpha_beta", HARD_SIGMOIDS)
@pytest.mark.parametrize("lo_hi", INPUT_RANGES[:5])
def test_hard_sigmoid_bit_exact_with_litert(alpha_beta: tuple[float, float], lo_hi: tuple[float, float]) -> None:
    alpha, beta = alpha_beta
    shape = (1, 4, 8, 8)
    g = _one_op("HardSigmoid", shape, {"alpha": alpha, "beta": beta})
    ends = np.clip(alpha * np.array(lo_hi) + beta, 0.0, 1.0)
    q = quantize_with_ranges(g, {"x": Range(*lo_hi), "y": Range(float(ends.min()), float(ends.max()))}, "minmax", "t")
    op = q.ops[0]
    assert op.kind == "HARD_SIGMOID" and q.tensor("y").zero_point == -128
    x8 = _inputs(shape, 3, 1)
    r = verify(q, tflite_bytes(q), x8)
    assert r.tensors_compared == 3 * len(x8)  # input, the MUL's alpha * x, the output
    assert r.tensors_mismatched == 0, r.first_mismatch
    # accuracy: the float HardSigmoid of the dequantized input, within the two roundings and beta's
    from sramflow.reference.run import run_int8

    y = dequantize(q, "y", run_int8(q, x8)["y"]).astype(np.float64)
    want = np.clip(alpha * dequantize(q, "x", x8).astype(np.float64) + beta, 0.0, q.tensor("y").scale * 255)
    tol = q.tensor(op.attrs["intermediate"]).scale + q.tensor("y").scale + abs(beta) / 255 + 1e-6
    assert np.abs(y - want).max() <= tol


def _save(nodes: list, inits: list, shape_in: list, shape_out: list, path: Path) -> Path:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, shape_in)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, shape_out)
    m = helper.make_model(helper.make_graph(nodes, "g", [x], [y], inits), opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(m)
    onnx.save(m, path)
    return path


def _w(name: str, shape: tuple[int, ...], seed: int) -> onnx.TensorProto:
    return numpy_helper.from_array(np.random.default_rng(seed).standard_normal(shape).astype(np.float32) * 0.5, name)


def _quantize_and_verify(model: Path, out: Path, kinds: set[str]) -> dict:
    assert main(["quantize", "--onnx", str(model), "--calib-random", "4", "--out", str(out)]) == 0
    ops = {o["kind"] for o in json.loads((out / "quantized.json").read_text())["ops"]}
    assert ops >= kinds, ops
    assert main(["verify", "--quantized", str(out), "--images", "3", "--out", str(out / "verify")]) == 0
    v = json.loads((out / "verify" / "verify_report.json").read_text())
    assert v["tensors_mismatched"] == 0 and v["first_mismatch"] is None
    return v


def test_onnx_classifier_with_softmax_end_to_end(tmp_path: Path) -> None:
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("GlobalAveragePool", ["r"], ["p"], name="gap"),
             helper.make_node("Flatten", ["p"], ["f"], name="flatten"),
             helper.make_node("Gemm", ["f", "fw", "fb"], ["logits"], name="fc", transB=1),
             helper.make_node("Softmax", ["logits"], ["y"], name="softmax", axis=1)]
    inits = [_w("w", (8, 3, 3, 3), 0), _w("b", (8,), 1), _w("fw", (5, 8), 2), _w("fb", (5,), 3)]
    v = _quantize_and_verify(_save(nodes, inits, [1, 3, 16, 16], [1, 5], tmp_path / "cls.onnx"), tmp_path / "q",
                             {"SOFTMAX", "FULLY_CONNECTED"})
    assert v["tensors_compared"] == 3 * 5  # input, conv+relu, mean (Flatten folded into it), fc, softmax


def test_onnx_conv_hard_sigmoid_end_to_end(tmp_path: Path) -> None:
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("HardSigmoid", ["c"], ["y"], name="hsig", alpha=0.2, beta=0.5)]
    inits = [_w("w", (6, 3, 3, 3), 4), _w("b", (6,), 5)]
    v = _quantize_and_verify(_save(nodes, inits, [1, 3, 16, 16], [1, 6, 16, 16], tmp_path / "hs.onnx"),
                             tmp_path / "q", {"HARD_SIGMOID"})
    assert v["tensors_compared"] == 3 * 4  # input, conv, alpha * conv, output


def test_softmax_row_that_litert_would_abort_on_is_a_typed_error() -> None:
    """A row whose sum of exponentials reaches 2^9 (512+ classes tied at the maximum) makes LiteRT's
    reference kernel abort the process (TFLITE_CHECK); the integer reference refuses it first."""
    from sramflow.errors import QuantizationError
    from sramflow.reference.kernels import softmax
    from sramflow.reference.requant import softmax_params

    assert softmax(np.zeros((1, 511), np.int8), *softmax_params(0.1)).shape == (1, 511)
    with pytest.raises(QuantizationError, match="sum of exponentials"):
        softmax(np.zeros((1, 600), np.int8), *softmax_params(0.1))
