"""ONNX import: round trips of small models, every listed op, and clear errors for the rest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

from sramflow.errors import GraphError, UnsupportedOpError
from sramflow.frontend.onnx_import import import_onnx
from sramflow.frontend.torch_export import torch_to_onnx_bytes
from sramflow.ir.analysis import node_macs
from helpers.torch_nets import Small


def _export(model: torch.nn.Module, res: int, path: Path) -> Path:
    model.eval()
    with torch.no_grad():  # give BN non-trivial statistics so folding is exercised
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
    path.write_bytes(torch_to_onnx_bytes(model, res))
    return path


def test_small_model_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    g = import_onnx(_export(Small(), 32, tmp_path / "small.onnx"))
    ops = [n.op for n in g.nodes]
    for op in ("Conv", "Clip", "HardSigmoid", "Mul", "Add", "Relu", "MaxPool", "AveragePool",
               "Sigmoid", "GlobalAveragePool", "Gemm", "Softmax"):
        assert op in ops, (op, ops)
    assert "BatchNormalization" not in ops
    convs = [n for n in g.nodes if n.op == "Conv"]
    assert [n.attrs["groups"] for n in convs] == [1, 4, 8]
    assert convs[1].attrs["dilations"] == (2, 2) and convs[0].attrs["strides"] == (2, 2)
    assert g.shape(convs[0].output) == (1, 8, 16, 16)
    assert node_macs(g, convs[1]) == 8 * 16 * 16 * 2 * 9
    assert g.shape(g.output) == (1, 5)


def test_batchnorm_is_folded_exactly(tmp_path: Path) -> None:
    torch.manual_seed(1)
    m = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1, bias=False), torch.nn.BatchNorm2d(4))
    g = import_onnx(_export(m, 8, tmp_path / "bn.onnx"))
    (conv,) = g.nodes
    x = torch.randn(1, 3, 8, 8)
    ref = m(x).detach().numpy()
    out = torch.nn.functional.conv2d(x, torch.from_numpy(conv.weights["W"]), torch.from_numpy(conv.weights["B"]),
                                     padding=1).numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)


def _model(nodes: list, inputs: list, outputs: list, inits: list | None = None, opset: int = 14) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=inits or [])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def test_hand_built_onnx_ops(tmp_path: Path) -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 6, 6])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 3], np.ones(12, np.float32).tolist())
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [1, -1])
    nodes = [
        helper.make_node("Identity", ["x"], ["a"], name="id"),
        helper.make_node("Constant", [], ["c"], name="k", value=helper.make_tensor("v", TensorProto.FLOAT, [], [2.0])),
        helper.make_node("Mul", ["a", "c"], ["m"], name="scale"),
        helper.make_node("HardSwish", ["m"], ["hs"], name="hswish"),
        helper.make_node("AveragePool", ["hs"], ["b"], name="ap", kernel_shape=[3, 3], strides=[2, 2],
                         auto_pad="SAME_UPPER"),
        helper.make_node("GlobalAveragePool", ["b"], ["p"], name="gap"),
        helper.make_node("Reshape", ["p", "shape"], ["f"], name="flat"),
        helper.make_node("MatMul", ["f", "w"], ["y"], name="mm"),
    ]
    p = tmp_path / "h.onnx"
    onnx.save(_model(nodes, [x], [y], [w, shape]), p)
    g = import_onnx(p)
    assert [n.op for n in g.nodes] == ["Mul", "HardSwish", "AveragePool", "GlobalAveragePool", "Gemm"]
    ap = g.nodes[2]
    assert ap.attrs["pads"] == (0, 0, 1, 1) and g.shape(ap.output) == (1, 4, 3, 3)  # SAME_UPPER on 6x6, k3 s2
    assert float(g.nodes[0].weights["const"]) == 2.0
    assert g.nodes[4].weights["W"].shape == (3, 4)
    assert {f.op for f in g.folded} == {"Identity", "Constant", "Reshape"}
    assert g.shape(g.input) == (1, 4, 6, 6)


def test_unsupported_op_is_named(tmp_path: Path) -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 4, 4])
    p = tmp_path / "u.onnx"
    onnx.save(_model([helper.make_node("Tanh", ["x"], ["y"], name="my_tanh")], [x], [y]), p)
    with pytest.raises(UnsupportedOpError, match="'my_tanh'.*'Tanh'"):
        import_onnx(p)


def test_symbolic_spatial_needs_resolution(tmp_path: Path) -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "H", "W"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    p = tmp_path / "s.onnx"
    onnx.save(_model([helper.make_node("Relu", ["x"], ["y"], name="r")], [x], [y]), p)
    with pytest.raises(GraphError, match="--resolution"):
        import_onnx(p)
    assert import_onnx(p, resolution=16).shape("y") == (1, 3, 16, 16)


def test_corrupt_onnx_file(tmp_path: Path) -> None:
    p = tmp_path / "bad.onnx"
    p.write_bytes(b"\x08\x07garbage that is not protobuf \xff\xff")
    with pytest.raises(GraphError, match="bad.onnx"):
        import_onnx(p)
    with pytest.raises(GraphError, match="no such ONNX file"):
        import_onnx(tmp_path / "nope.onnx")


def test_standalone_batchnorm_becomes_per_channel_mul_add(tmp_path: Path) -> None:
    """A BatchNormalization with no Conv before it (DenseNet's BN after a Concat) imports as x * s + t per channel,
    the MUL and ADD the TFLite converter writes, equal to the ONNX definition computed here."""
    from sramflow.reference.float_exec import run_float

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    vals = {"s": [1.5, -0.5], "b": [0.25, 2.0], "m": [0.1, -3.0], "v": [4.0, 0.25]}
    inits = [helper.make_tensor(n, TensorProto.FLOAT, [2], v) for n, v in vals.items()]
    node = helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], name="lonely_bn", epsilon=1e-3)
    p = tmp_path / "bn.onnx"
    onnx.save(_model([node], [x], [y], inits), p)
    g = import_onnx(p)
    assert [n.op for n in g.nodes] == ["Mul", "Add"] and g.nodes[-1].name == "lonely_bn"
    xin = np.random.default_rng(0).standard_normal((1, 2, 4, 4)).astype(np.float32)
    s, b, m, v = (np.array(vals[k], np.float64).reshape(1, 2, 1, 1) for k in "sbmv")
    want = (xin - m) / np.sqrt(v + 1e-3) * s + b
    np.testing.assert_allclose(run_float(g, xin)[g.output], want, rtol=1e-6, atol=1e-6)


def test_old_opset_softmax_over_flattened_dims(tmp_path: Path) -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    p = tmp_path / "sm.onnx"
    onnx.save(_model([helper.make_node("Softmax", ["x"], ["y"], name="sm")], [x], [y], opset=11), p)
    with pytest.raises(UnsupportedOpError, match="'sm'.*opset 11"):
        import_onnx(p)
    x1 = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 5, 1, 1])
    onnx.save(_model([helper.make_node("Softmax", ["x"], ["y"], name="sm")], [x1], [y], opset=11), p)
    assert import_onnx(p).nodes[0].attrs["axis"] == 1
