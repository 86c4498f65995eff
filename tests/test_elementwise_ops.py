"""Element-wise operators added through the ir.elementwise table, each end to end: ONNX import, float semantics,
int8 quantization, integer reference bit-exact with LiteRT BUILTIN_REF (every tensor), costed on the vector
unit, and functional simulation bit-exact with counts equal to the analytical model's and no clobbers.
LEAKY_RELU is also checked exhaustively: all 256 int8 inputs for a sweep of alphas and input / output
scales and zero points."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import onnx
import pytest

from sramflow.errors import GraphError, UnsupportedOpError
from sramflow.frontend.onnx_import import import_onnx_model
from sramflow.ir.graph import Graph, Node
from sramflow.mapping.lower import lower
from sramflow.quant.calibrate import Range
from sramflow.quant.quantize import quantize_with_ranges
from sramflow.reference.float_exec import run_float
from sramflow.reference.run import dequantize, run_int8
from sramflow.tflite.export import tflite_bytes
from sramflow.tflite.verify import verify
from helpers.end_to_end import HWS, assert_bit_exact_with_litert, assert_functional_bit_exact, import_and_quantize
from helpers.movement_nets import Net


def leaky_relu_net() -> onnx.ModelProto:
    n = Net(3, 10, seed=5)
    y = n.op("LeakyRelu", [n.conv("x", 3, 6, relu=False)], alpha=0.1)
    y = n.op("LeakyRelu", [n.conv(y, 6, 6, relu=False)])  # ONNX's default alpha 0.01
    return n.head(y, 6)


def sub_net() -> onnx.ModelProto:
    """Sub by constants as a normalization and inside the network (per channel, scalar, full size), and of two
    activations."""
    n = Net(3, 8, seed=6)
    y = n.op("Sub", ["x", n.const(np.array([0.5, -0.2, 0.1], np.float32).reshape(1, 3, 1, 1))])
    y = n.conv(y, 3, 6, relu=False)
    y = n.op("Relu", [n.op("Sub", [y, n.const(np.float32(0.3))])])
    z = n.conv(y, 6, 6, relu=False)
    y = n.op("Sub", [z, n.const(n.rng.uniform(-1, 1, (1, 6, 8, 8)).astype(np.float32))])
    return n.head(n.op("Sub", [y, z]), 6)


def div_net() -> onnx.ModelProto:
    """(x - mean) / std, then Div by a scalar and by a full-size constant inside the network."""
    n = Net(3, 8, seed=7)
    y = n.op("Sub", ["x", n.const(np.array([0.485, 0.456, 0.406], np.float32).reshape(1, 3, 1, 1))])
    y = n.op("Div", [y, n.const(np.array([0.229, 0.224, 0.225], np.float32).reshape(1, 3, 1, 1))])
    y = n.op("Div", [n.conv(y, 3, 6, relu=False), n.const(np.float32(3.0))])
    y = n.op("Div", [y, n.const(n.rng.uniform(0.5, 2.0, (1, 6, 8, 8)).astype(np.float32))])
    return n.head(y, 6)


def prelu_net() -> onnx.ModelProto:
    """PRelu as PyTorch exports nn.PReLU(C) (slope (C, 1, 1)) and nn.PReLU() (one slope)."""
    n = Net(3, 8, seed=8)
    y = n.op("PRelu", [n.conv("x", 3, 6, relu=False), n.const(np.array([0.25, -0.1, 0.0, 0.5, 1.2, 0.05], np.float32)
                                                  .reshape(6, 1, 1))])
    y = n.op("PRelu", [n.conv(y, 6, 6, relu=False), n.const(np.array([0.2], np.float32))])
    return n.head(y, 6)


NETS = {"leaky_relu": (leaky_relu_net, {"LEAKY_RELU"}), "sub": (sub_net, {"SUB"}), "div": (div_net, {"MUL"}),
        "prelu": (prelu_net, {"PRELU"})}


@lru_cache(maxsize=None)
def _prepared(name: str):  # noqa: ANN202
    return import_and_quantize(NETS[name][0](), name)


@pytest.mark.parametrize("name", sorted(NETS))
def test_network_bit_exact_with_litert(name: str) -> None:
    _, q, x = _prepared(name)
    assert NETS[name][1] <= {op.kind for op in q.ops}
    assert_bit_exact_with_litert(q, x)


@pytest.mark.parametrize("hw_name", HWS)
@pytest.mark.parametrize("name", sorted(NETS))
def test_network_functional_bit_exact_counts_equal(name: str, hw_name: str | None) -> None:
    g, q, x = _prepared(name)
    res = assert_functional_bit_exact(g, q, x, hw_name, executors=("bulk",))
    costed = [r for r in res.nodes if r.op in {n.op for n in g.nodes if n.op not in ("Conv", "Gemm")}]
    assert costed and all(r.unit == "vector" and r.cycles > 0 for r in costed if r.op != "Reshape")


def test_leaky_relu_float_semantics_and_vector_cost() -> None:
    g, _, x = _prepared("leaky_relu")
    acts = run_float(g, x, keep_all=True)
    for n in (n for n in g.nodes if n.op == "LeakyRelu"):
        v = acts[n.inputs[0]]
        assert np.array_equal(acts[n.output], np.where(v >= 0, v, np.float32(n.attrs["alpha"]) * v))
        sh = lower(g, n)
        assert (sh.ops_per_elem, sh.lut_per_elem) == (2, 0) and sh.segments * sh.seg_len == g.numel(n.output)
    assert [n.attrs["alpha"] for n in g.nodes if n.op == "LeakyRelu"] == [pytest.approx(0.1), pytest.approx(0.01)]


def test_sub_imports_activation_minus_constant_and_refuses_constant_minus_activation() -> None:
    g, q, _ = _prepared("sub")
    subs = [n for n in g.nodes if n.op == "Sub"]
    assert len(subs) == 4 and sum("const" in n.weights for n in subs) == 3
    assert sum(op.kind == "SUB" for op in q.ops) == 4
    n = Net(3, 4, seed=0)
    model = n.head(n.op("Sub", [n.const(np.float32(1.0)), "x"]), 3)
    with pytest.raises(UnsupportedOpError, match="sub.*constant first operand"):
        import_onnx_model(model)


def _one_op(op: str, attrs: dict, shape: tuple[int, ...] = (1, 4, 8, 8)) -> Graph:
    return Graph("one", "x", "y", {"x": shape, "y": shape}, (Node("n0", op, ("x",), "y", attrs),))


ALL_INT8 = np.arange(-128, 128, dtype=np.int8).reshape(1, 4, 8, 8)  # every int8 value once
# (input range, output range): zero points from -128 to 127, output scales finer and coarser than the input's
RANGES = [((-1.0, 1.0), (-0.1, 1.0)), ((-4.0, 12.0), (-0.5, 12.0)), ((0.0, 3.0), (0.0, 3.0)),
          ((-30.0, 0.5), (-4.0, 0.5)), ((-0.02, 0.01), (-0.002, 0.01)), ((-2.0, 2.0), (-8.0, 8.0))]


@pytest.mark.parametrize("alpha", [0.01, 0.1, 0.2, 0.25, 0.3333, 0.5, 1.5, -0.25, -0.5, -1.5])
@pytest.mark.parametrize("ranges", RANGES + [((-1.0, 1.0), (-1.0, 1.0)), ((-1.0, 1.0), (-2.0, 2.0))])  # exact ties
def test_leaky_relu_all_256_inputs_bit_exact_with_litert(alpha: float, ranges: tuple) -> None:
    (lo, hi), (olo, ohi) = ranges
    g = _one_op("LeakyRelu", {"alpha": alpha})
    q = quantize_with_ranges(g, {"x": Range(lo, hi), "y": Range(olo, ohi)}, "minmax", "test")
    assert q.ops[0].kind == "LEAKY_RELU"
    r = verify(q, tflite_bytes(q), ALL_INT8)
    assert r.tensors_compared == 2 and r.tensors_mismatched == 0, r.first_mismatch
    # and within one output step of the float op on the dequantized input (MultiplyByQuantizedMultiplier rounds
    # twice, so half a step is not guaranteed)
    xf = dequantize(q, "x", ALL_INT8).astype(np.float64)
    want = np.clip(np.where(xf >= 0, xf, alpha * xf), q.tensor("y").scale * (-128 - q.tensor("y").zero_point),
                   q.tensor("y").scale * (127 - q.tensor("y").zero_point))
    got = dequantize(q, "y", run_int8(q, ALL_INT8)["y"]).astype(np.float64)
    assert np.abs(got - want).max() <= q.tensor("y").scale * (1 + 1e-5)


@pytest.mark.parametrize("c", [0.3, -1.25, 0.0])
@pytest.mark.parametrize("ranges", RANGES)
def test_sub_constant_all_256_inputs_bit_exact_with_litert(c: float, ranges: tuple) -> None:
    (lo, hi), (olo, ohi) = ranges
    shape = (1, 4, 8, 8)
    g = Graph("one", "x", "y", {"x": shape, "y": shape},
              (Node("n0", "Sub", ("x",), "y", {}, {"const": np.array([c], np.float32)}),))
    q = quantize_with_ranges(g, {"x": Range(lo, hi), "y": Range(olo - c, ohi - c)}, "minmax", "test")
    assert q.ops[0].kind == "SUB"
    r = verify(q, tflite_bytes(q), ALL_INT8)
    assert r.tensors_compared == 2 and r.tensors_mismatched == 0, r.first_mismatch
    got = dequantize(q, "y", run_int8(q, ALL_INT8)["y"]).astype(np.float64)
    t = q.tensor("y")
    want = np.clip(dequantize(q, "x", ALL_INT8) - c, t.scale * (-128 - t.zero_point), t.scale * (127 - t.zero_point))
    cq = q.tensor(q.ops[0].attrs["const_tensor"]).scale  # the constant is itself quantized
    assert np.abs(got - want).max() <= t.scale + cq + 1e-6


def test_sub_float_semantics() -> None:
    g, _, x = _prepared("sub")
    acts = run_float(g, x, keep_all=True)
    first = g.nodes[0]
    assert first.op == "Sub"
    np.testing.assert_array_equal(acts[first.output], x - first.weights["const"])


def test_div_by_constant_is_mul_by_float32_reciprocal() -> None:
    g, q, x = _prepared("div")
    divs = [n for n in g.nodes if n.name.startswith("div")]
    assert len(divs) == 3 and all(n.op == "Mul" for n in divs)
    std = np.array([0.229, 0.224, 0.225], np.float32).reshape(1, 3, 1, 1)
    np.testing.assert_array_equal(divs[0].weights["const"], np.float32(1) / std)
    acts = run_float(g, x, keep_all=True)
    np.testing.assert_allclose(acts[divs[0].output], acts[divs[0].inputs[0]] / std, rtol=1e-6, atol=1e-7)
    assert [op.kind for op in q.ops if op.name.startswith("div")] == ["MUL"] * 3
    n = Net(3, 4, seed=0)
    with pytest.raises(GraphError, match="div[0-9]+. \\(Div\\): Div by a constant that holds 0"):
        import_onnx_model(n.head(n.op("Div", ["x", n.const(np.array([1.0, 0.0, 2.0], np.float32).reshape(1, 3, 1, 1))]), 3))
    n = Net(3, 4, seed=0)
    with pytest.raises(UnsupportedOpError, match="second operand .* must be a constant"):
        import_onnx_model(n.head(n.op("Div", ["x", n.op("Relu", ["x"])]), 3))


def test_prelu_float_semantics_and_vector_cost() -> None:
    g, _, x = _prepared("prelu")
    acts = run_float(g, x, keep_all=True)
    n = next(n for n in g.nodes if n.op == "PRelu")
    v, slope = acts[n.inputs[0]], n.weights["const"].reshape(1, 6, 1, 1)
    np.testing.assert_array_equal(acts[n.output], np.where(v >= 0, v, slope * v))
    sh = lower(g, n)
    assert (sh.ops_per_elem, sh.segments) == (3, 6)  # one segment per channel, the slope its scale operand


@pytest.mark.parametrize("slope", [(0.25, -0.1, 0.0, 1.5), (0.01, 0.02, 0.03, 0.04), (-0.5, 2.0, -1.0, 0.3)])
@pytest.mark.parametrize("ranges", RANGES)
def test_prelu_all_256_inputs_every_channel_bit_exact_with_litert(slope: tuple, ranges: tuple) -> None:
    (lo, hi), (olo, ohi) = ranges
    shape = (1, 4, 8, 8)
    c = np.array(slope, np.float32).reshape(4, 1, 1)
    g = Graph("one", "x", "y", {"x": shape, "y": shape}, (Node("n0", "PRelu", ("x",), "y", {}, {"const": c}),))
    q = quantize_with_ranges(g, {"x": Range(lo, hi), "y": Range(olo, ohi)}, "minmax", "test")
    assert q.ops[0].kind == "PRELU"
    x8 = np.stack([np.roll(ALL_INT8, 64 * k) for k in range(4)])[:, 0]  # each channel sees all 256 values
    r = verify(q, tflite_bytes(q), x8)
    assert r.tensors_compared == 2 * len(x8) and r.tensors_mismatched == 0, r.first_mismatch


def test_every_elementwise_row_is_read_by_every_stage() -> None:
    """Each row of ir.elementwise reaches the importer, shapes, float executor, quantizer, kernels, exporter and
    mapper: a row that one of them missed would fail only on a network that uses it."""
    from ai_edge_litert import schema_py_generated as schema

    from sramflow.frontend.onnx_import import HANDLERS
    from sramflow.ir.elementwise import ELEMENTWISE_OPS, TfliteBuiltin
    from sramflow.ir.graph import OPS
    from sramflow.ir.qgraph import KINDS
    from sramflow.ir.shapes import SHAPE_FNS
    from sramflow.quant.quantize import _Pass
    from sramflow.reference.float_exec import FLOAT_OPS
    from sramflow.reference.kernels import ELEMENTWISE
    from sramflow.reference.run import RUNNERS
    from sramflow.tflite.export import EMITTERS, OP_VERSIONS

    for e in ELEMENTWISE_OPS:
        assert e.op in OPS and e.op in SHAPE_FNS and e.op in FLOAT_OPS and hasattr(_Pass, f"op_{e.op}"), e.op
        assert all(HANDLERS.get(f.onnx_op) is not None for f in e.onnx), e.op
        for k in e.kinds:
            kind = k.kind if isinstance(k, TfliteBuiltin) else k
            assert kind in KINDS and kind in ELEMENTWISE and kind in RUNNERS and kind in EMITTERS, kind
            if isinstance(k, TfliteBuiltin):
                assert OP_VERSIONS[kind] == k.version and hasattr(schema.BuiltinOperator, kind)
                assert not k.options or hasattr(schema, f"{k.options}T") and hasattr(schema.BuiltinOptions, k.options)
        shape = (1, 4, 3, 3)
        weights = {"const": np.ones((4, 1, 1), np.float32)} if e.arity == 2 else {}
        attrs = {"min": 0.0, "max": 1.0} if e.op == "Clip" else e.attr_values({})
        g = Graph("one", "x", "y", {"x": shape, "y": shape}, (Node("n0", e.op, ("x",), "y", attrs, weights),))
        sh = lower(g, g.nodes[0])
        assert (sh.ops_per_elem, sh.lut_per_elem) == (e.vector.ops_per_elem, e.vector.lut_per_elem), e.op
