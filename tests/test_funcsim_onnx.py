"""End to end on networks the ONNX importer accepts: import -> quantize -> simulate (the mapper's schedules)
-> functional simulation with both executors; bit-exact with ``run_int8``, counts equal to the analytical
model's, no clobbers. The networks cover pooling in every padding mode (TFLite SAME, explicit PADV2 / PAD
decompositions, none), grouped / dilated / strided convolutions with asymmetric padding, fused and standalone
ReLU / ReLU6 / Clip, HardSwish as x * HardSigmoid(x), Add / Mul with constants, Reshape and Gemm."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from sramflow.frontend.onnx_import import import_onnx_model
from sramflow.funcsim.run import run_functional
from sramflow.hw.load import resolve_hw
from sramflow.quant.api import quantize_graph
from sramflow.reference.run import quantize_input
from sramflow.sim.api import simulate_graph
from helpers.mapping import make_hw


class Net:
    """A small ONNX graph under construction (NCHW float32, one input ``x``)."""

    def __init__(self, c: int, hw: int, seed: int = 0) -> None:
        self.nodes: list = []
        self.inits: list = []
        self.rng = np.random.default_rng(seed)
        self.n = 0
        self.shape_in = (1, c, hw, hw)

    def _name(self, op: str) -> str:
        self.n += 1
        return f"{op.lower()}{self.n}"

    def const(self, arr: np.ndarray) -> str:
        name = self._name("k")
        self.inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def op(self, op: str, inputs: list[str], **attrs) -> str:  # noqa: ANN003
        out = self._name(op)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def conv(self, x: str, cin: int, cout: int, k: int = 3, **attrs) -> str:  # noqa: ANN003
        g = attrs.get("group", 1)
        w = self.const((self.rng.standard_normal((cout, cin // g, k, k)) * 0.5).astype(np.float32))
        b = self.const((self.rng.standard_normal(cout) * 0.1).astype(np.float32))
        return self.op("Conv", [x, w, b], kernel_shape=[k, k], **attrs)

    def model(self, out: str) -> onnx.ModelProto:
        g = helper.make_graph(self.nodes, "net", [helper.make_tensor_value_info("x", TensorProto.FLOAT, self.shape_in)],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)], self.inits)
        return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def pools_net(hw: int = 12) -> onnx.ModelProto:
    """Every pooling padding mode the quantizer accepts."""
    n = Net(3, hw)
    y = n.op("Relu", [n.conv("x", 3, 6, pads=[1, 1, 1, 1])])  # fused into the conv
    a = n.op("MaxPool", [y], kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1])  # SAME
    b = n.op("MaxPool", [a], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])  # not SAME: PADV2 -128
    c = n.op("AveragePool", [y], kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1])  # SAME: in-bounds count
    c = n.op("AveragePool", [c], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
             count_include_pad=1)  # PAD with the zero point, divided by 9
    s = n.op("Add", [b, c])
    s = n.op("AveragePool", [s], kernel_shape=[2, 2], strides=[2, 2])  # VALID
    s = n.op("MaxPool", [s], kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 1, 1])  # SAME on an odd size
    s = n.op("GlobalAveragePool", [s])
    s = n.op("Flatten", [s])
    w = n.const(n.rng.standard_normal((6, 4)).astype(np.float32))
    return n.model(n.op("Gemm", [s, w, n.const(np.zeros(4, np.float32))]))


def convs_net(hw: int = 12) -> onnx.ModelProto:
    """Grouped, dilated, strided-asymmetric convolutions; activations fused and standalone; Add / Mul with
    constants (scalar, per channel, full size); Reshape; Gemm."""
    n = Net(4, hw, seed=1)
    y = n.op("Clip", [n.conv("x", 4, 8, group=2, pads=[1, 1, 1, 1])], min=0.0, max=6.0)  # grouped + fused ReLU6
    y = n.op("Relu", [n.conv(y, 8, 8, dilations=[2, 2], pads=[2, 2, 2, 2])])  # dilated + fused ReLU
    y = n.conv(y, 8, 6, strides=[2, 2], pads=[0, 0, 1, 1])  # strided, asymmetric padding
    y = n.op("Add", [y, n.const(np.float32(0.25))])  # scalar constant
    y = n.op("Mul", [y, n.const(n.rng.uniform(0.5, 1.5, (1, 6, 1, 1)).astype(np.float32))])  # per-channel
    y = n.op("Relu", [y])  # standalone
    z = n.conv(y, 6, 6, k=1, group=6)  # depthwise 1x1
    y = n.op("Add", [y, z])
    y = n.op("Clip", [y], min=-1.0, max=2.0)  # general clip (MAXIMUM / MINIMUM)
    y = n.op("Mul", [y, n.const(n.rng.uniform(-1, 1, (1, 6, hw // 2, hw // 2)).astype(np.float32))])  # full size
    y = n.op("Reshape", [y, n.const(np.array([1, 6 * (hw // 2) ** 2], np.int64))])
    w = n.const(n.rng.standard_normal((5, 6 * (hw // 2) ** 2)).astype(np.float32) * 0.1)
    return n.model(n.op("Gemm", [y, w, n.const(np.zeros(5, np.float32))], transB=1))


def hardswish_net(hw: int = 10) -> onnx.ModelProto:
    """HardSwish as PyTorch exports it below opset 14: x * HardSigmoid(x) (one HARD_SWISH table)."""
    n = Net(3, hw, seed=3)
    y = n.conv("x", 3, 6, pads=[1, 1, 1, 1])
    y = n.op("Mul", [y, n.op("HardSigmoid", [y], alpha=1 / 6, beta=0.5)])
    y = n.op("Flatten", [n.op("GlobalAveragePool", [y])])
    return n.model(n.op("Gemm", [y, n.const(n.rng.standard_normal((6, 4)).astype(np.float32)),
                                 n.const(np.zeros(4, np.float32))]))


def softmax_net(hw: int = 8) -> onnx.ModelProto:
    """Softmax on the logits (quantizer support in progress elsewhere)."""
    n = Net(3, hw, seed=2)
    y = n.op("Flatten", [n.op("GlobalAveragePool", [n.conv("x", 3, 4, pads=[1, 1, 1, 1])])])
    w = n.const(n.rng.standard_normal((4, 4)).astype(np.float32))
    return n.model(n.op("Softmax", [n.op("Gemm", [y, w, n.const(np.zeros(4, np.float32))])], axis=1))


def hardsigmoid_net(hw: int = 8) -> onnx.ModelProto:
    """A standalone HardSigmoid (quantizer support in progress elsewhere)."""
    n = Net(3, hw, seed=4)
    y = n.op("HardSigmoid", [n.conv("x", 3, 4, pads=[1, 1, 1, 1])], alpha=0.2, beta=0.5)
    y = n.op("Flatten", [n.op("GlobalAveragePool", [y])])
    w = n.const(n.rng.standard_normal((4, 4)).astype(np.float32))
    return n.model(n.op("Gemm", [y, w, n.const(np.zeros(4, np.float32))]))


def torch_small_net(hw: int = 16) -> onnx.ModelProto:
    """test_onnx_import's ``Small`` exported by PyTorch (BN folded; ReLU6, HardSwish as x * HardSigmoid(x), a
    standalone HardSigmoid times another tensor, pools, residual, sigmoid, mean, FC, softmax)."""
    import torch

    from sramflow.frontend.torch_export import torch_to_onnx_bytes
    from helpers.torch_nets import Small

    torch.manual_seed(0)
    return onnx.load_from_string(torch_to_onnx_bytes(Small(), hw))


NETS = {"pools": pools_net, "convs": convs_net, "hardswish": hardswish_net, "softmax": softmax_net,
        "hardsigmoid": hardsigmoid_net, "torch_small": torch_small_net}
HWS = (None, "sky130-design1")  # a 2048-word test macro (double buffering), the 128-word design1 macro
@lru_cache(maxsize=None)
def _prepared(name: str, hw_name: str | None):  # noqa: ANN202
    g = import_onnx_model(NETS[name](), name=name)
    x = np.random.default_rng(0).standard_normal((2, *g.shape(g.input)[1:])).astype(np.float32)
    q = quantize_graph(g, x)  # every net here must quantize: an UnsupportedOpError fails the test
    hw = resolve_hw(hw_name) if hw_name else make_hw(double=True)
    return g, q, hw, simulate_graph(g, hw), quantize_input(q, x[0])


@lru_cache(maxsize=None)
def _functional(name: str, hw_name: str | None, executor: str):  # noqa: ANN202
    g, q, hw, res, x = _prepared(name, hw_name)
    return run_functional(g, q, res.schedules, x, hw.main_sram.total_words, hw.main_sram.word_bytes,
                          executor=executor)


@pytest.mark.parametrize("executor", ["bulk", "step"])
@pytest.mark.parametrize("hw_name", HWS)
@pytest.mark.parametrize("name", sorted(NETS))
def test_onnx_network_bit_exact_without_clobbers(name: str, hw_name: str | None, executor: str) -> None:
    r = _functional(name, hw_name, executor)
    assert r.mismatches == () and r.bit_exact and r.tensors_compared > 0
    assert r.clobbers == 0


@pytest.mark.parametrize("hw_name", HWS)
@pytest.mark.parametrize("name", sorted(NETS))
def test_onnx_network_counts_equal_the_analytical_model(name: str, hw_name: str | None) -> None:
    r = _functional(name, hw_name, "bulk")
    assert r.step_count_notes == ()
    assert r.counts_functional == r.counts_analytical and r.counts_match


@pytest.mark.parametrize("hw_name", HWS)
@pytest.mark.parametrize("name", sorted(NETS))
def test_onnx_network_both_executors_agree(name: str, hw_name: str | None) -> None:
    a, b = (_functional(name, hw_name, ex) for ex in ("bulk", "step"))
    assert a.counts_functional == b.counts_functional and a.sram_accesses == b.sram_accesses
    assert np.array_equal(a.logits_int8, b.logits_int8) and a.step_count_notes == b.step_count_notes


def test_hardswish_mul_is_fused_into_the_hardsigmoid_pass() -> None:
    """The Mul of x * HardSigmoid(x) is part of the HardSigmoid's HARD_SWISH table pass: zero counts, reported
    as fused naming the HardSigmoid, and the functional simulator executes nothing for it."""
    g, _, _, res, _ = _prepared("hardswish", None)
    hs = next(n for n in g.nodes if n.op == "HardSigmoid")
    mul = next(r for r in res.nodes if r.op == "Mul")
    assert mul.unit == "fused" and mul.cycles == 0 and mul.counts.sram_reads == 0 and mul.counts.offchip_bytes == 0
    assert repr(hs.name) in mul.note and "table look-up" in mul.note
    r = _functional("hardswish", None, "bulk")
    assert r.counts_match and r.step_count_notes == ()


def test_cli_simulate_functional_on_an_onnx_file(tmp_path) -> None:  # noqa: ANN001
    """``sramflow simulate --functional --random --onnx``: 4 input channels (not 3), design1, report on disk."""
    import json

    from sramflow.cli import main

    onnx.save(convs_net(12), str(tmp_path / "convs.onnx"))
    rc = main(["simulate", "--functional", "--random", "--onnx", str(tmp_path / "convs.onnx"), "--resolution", "12",
               "--out", str(tmp_path / "out")])
    rep = json.loads((tmp_path / "out" / "functional_report.json").read_text())
    assert rc == 0 and rep["bit_exact"] and rep["counts_match"] and rep["clobbers"] == 0
    assert rep["counts"]["functional"] == rep["counts"]["analytical"] and rep["source"].endswith("convs.onnx")
