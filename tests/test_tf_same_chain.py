"""TensorFlow SAME (asymmetric) padding through the whole chain: ONNX import, quantizer, integer reference vs
LiteRT BUILTIN_REF, the mapper, and the functional simulator (bit-exact, counts equal to the analytical model).

The network has exactly the convolutions an efficientnet_pytorch checkpoint has: stride-2 3x3 and 5x5
depthwise on even and odd sizes, with their pads per side as TF computes them, next to symmetric ones.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from sramflow.frontend.onnx_import import import_onnx_model
from sramflow.frontend.source import ModelSource, load_graph
from sramflow.funcsim.run import run_functional
from sramflow.hw.load import resolve_hw
from sramflow.quant.api import quantize_graph, quantize_input
from sramflow.sim.api import simulate_graph
from sramflow.tflite.export import tflite_bytes
from sramflow.tflite.verify import verify


def _same(size: int, k: int, s: int) -> tuple[int, int]:
    """TensorFlow's SAME along one axis, from its definition: out = ceil(size / s), odd pixel after."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def tf_same_net(hw: int = 12) -> tuple[onnx.ModelProto, list[tuple[int, int, int, int]]]:
    rng = np.random.default_rng(7)
    nodes, inits, pads_used = [], [], []
    x, c, size = "x", 3, hw

    def conv(x: str, cin: int, cout: int, k: int, s: int, group: int = 1) -> str:
        nonlocal size
        w, b, out = f"w{len(nodes)}", f"b{len(nodes)}", f"y{len(nodes)}"
        inits.append(numpy_helper.from_array((rng.standard_normal((cout, cin // group, k, k)) * 0.4).astype(np.float32), w))
        inits.append(numpy_helper.from_array((rng.standard_normal(cout) * 0.1).astype(np.float32), b))
        (t, bot), (left, r) = _same(size, k, s), _same(size, k, s)
        pads_used.append((t, left, bot, r))
        nodes.append(helper.make_node("Conv", [x, w, b], [out], name=out, kernel_shape=[k, k], strides=[s, s],
                                      pads=[t, left, bot, r], group=group))
        size = -(-size // s)
        return out

    y = conv(x, c, 8, 3, 2)  # 12 -> 6: (0, 0, 1, 1)
    y = conv(y, 8, 8, 5, 2, group=8)  # 6 -> 3: (1, 1, 2, 2)
    y = conv(y, 8, 8, 3, 1, group=8)  # 3 -> 3: (1, 1, 1, 1)
    y = conv(y, 8, 8, 3, 2, group=8)  # 3 -> 2 (odd size): (1, 1, 1, 1)
    y = conv(y, 8, 8, 5, 2, group=8)  # 2 -> 1: (1, 1, 2, 2)
    nodes.append(helper.make_node("Flatten", [y], ["f"], name="flatten"))
    inits.append(numpy_helper.from_array(rng.standard_normal((8, 4)).astype(np.float32), "wfc"))
    inits.append(numpy_helper.from_array(np.zeros(4, np.float32), "bfc"))
    nodes.append(helper.make_node("Gemm", ["f", "wfc", "bfc"], ["logits"], name="fc"))
    g = helper.make_graph(nodes, "tf_same", [helper.make_tensor_value_info("x", TensorProto.FLOAT, (1, 3, hw, hw))],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), pads_used


def test_the_net_has_asymmetric_pads() -> None:
    _, pads = tf_same_net()
    assert pads[0] == (0, 0, 1, 1) and pads[1] == (1, 1, 2, 2) and (1, 1, 1, 1) in pads


@pytest.mark.parametrize("executor", ["bulk", "step"])
def test_functional_simulation_bit_exact_with_asymmetric_pads(executor: str) -> None:
    model, pads = tf_same_net()
    g = import_onnx_model(model, name="tf_same")
    assert [tuple(n.attrs["pads"]) for n in g.nodes if n.op == "Conv"] == pads
    x = np.random.default_rng(0).standard_normal((2, 3, 12, 12)).astype(np.float32)
    q = quantize_graph(g, x)
    hw = resolve_hw("sky130-design1")
    res = simulate_graph(g, hw)
    r = run_functional(g, q, res.schedules, quantize_input(q, x[0]), hw.main_sram.total_words,
                       hw.main_sram.word_bytes, executor=executor)
    assert r.bit_exact and r.mismatches == () and r.clobbers == 0
    assert r.counts_match and r.counts_functional == r.counts_analytical


def test_tflite_bit_exact_with_asymmetric_pads() -> None:
    model, _ = tf_same_net()
    g = import_onnx_model(model, name="tf_same")
    x = np.random.default_rng(1).standard_normal((4, 3, 12, 12)).astype(np.float32)
    q = quantize_graph(g, x, "minmax")
    r = verify(q, tflite_bytes(q), quantize_input(q, x[:2]))
    assert r.tensors_mismatched == 0, r.first_mismatch


def test_efficientnet_pytorch_checkpoint_quantizes_bit_exact(tmp_path) -> None:  # noqa: ANN001
    """The whole B0 of an efficientnet_pytorch file (TF SAME pads) against LiteRT, every tensor."""
    import torch

    from sramflow.models.arch import get_arch
    from sramflow.models.efficientnet import build_model
    from sramflow.models.layouts import key_map

    sd = build_model("efficientnet_b0", 7, seed=1).state_dict()
    m = key_map("efficientnet_pytorch", get_arch("efficientnet_b0"), list(sd))
    torch.save({m[k]: v for k, v in sd.items()}, tmp_path / "b0.pth")
    g = load_graph(ModelSource(checkpoint=str(tmp_path / "b0.pth"), resolution=32)).graph
    convs = [tuple(n.attrs["pads"]) for n in g.nodes if n.op == "Conv" and n.attrs["kernel"][0] > 1]
    assert convs[0] == (0, 0, 1, 1) and (1, 1, 2, 2) in convs
    x = np.random.default_rng(0).standard_normal((4, 3, 32, 32)).astype(np.float32)
    q = quantize_graph(g, x, "percentile")
    r = verify(q, tflite_bytes(q), quantize_input(q, x[:1]))
    assert r.tensors_compared == len(q.ops) + 1 and r.tensors_mismatched == 0, r.first_mismatch
