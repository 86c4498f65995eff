"""Per-op bit-exactness: a tiny network using every supported op, integer reference vs LiteRT BUILTIN_REF."""

from __future__ import annotations

import collections

import numpy as np
import pytest
import torch
from torch import nn

from sramflow.frontend.torch_export import torch_to_graph
from sramflow.quant.api import quantize_graph, quantize_input
from sramflow.tflite.export import tflite_bytes
from sramflow.tflite.verify import verify


class AllOps(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.BatchNorm2d(8), nn.ReLU())  # PAD + CONV + fused RELU
        self.dw = nn.Sequential(nn.Conv2d(8, 16, 3, 1, 1, groups=8), nn.ReLU6())  # depth multiplier 2, fused RELU6
        self.pw = nn.Conv2d(16, 8, 1)
        self.se1, self.se2 = nn.Conv2d(8, 4, 1), nn.Conv2d(4, 8, 1)
        self.dw5 = nn.Conv2d(8, 8, 5, 2, 2, groups=8)
        self.fc = nn.Linear(8, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        y = self.pw(self.dw(x))
        y = y * torch.sigmoid(y)  # SiLU: LOGISTIC then MUL
        s = torch.sigmoid(self.se2(torch.relu(self.se1(y.mean((2, 3), keepdim=True)))))
        y = y * s  # SE channel multiply (broadcast MUL)
        y = torch.relu(x + y)  # residual ADD, standalone RELU
        y = nn.functional.max_pool2d(y, 2, 2)
        y = nn.functional.avg_pool2d(y, 2, 2)
        y = torch.clamp(self.dw5(y), 0.0, 6.0) * 0.5 + 0.25  # RELU6 fused, MUL/ADD by constants
        return self.fc(y.mean((2, 3)))


@pytest.fixture(scope="module")
def tiny():  # noqa: ANN201
    torch.manual_seed(0)
    net = AllOps().eval()
    with torch.no_grad():
        net.stem[1].running_mean.uniform_(-0.2, 0.2)
        net.stem[1].running_var.uniform_(0.5, 2.0)
    return torch_to_graph(net, 32, "allops")


@pytest.mark.parametrize("method", ["minmax", "percentile", "mse"])
def test_every_op_bit_exact_with_litert(tiny, method: str) -> None:  # noqa: ANN001
    rng = np.random.default_rng(1)
    calib = rng.standard_normal((8, 3, 32, 32)).astype(np.float32)
    q = quantize_graph(tiny, calib, method)
    kinds = collections.Counter(op.kind for op in q.ops)
    assert set(kinds) >= {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "MUL", "LOGISTIC", "MEAN",
                          "RELU", "MAX_POOL_2D", "AVERAGE_POOL_2D"}
    assert {op.attrs.get("fused") for op in q.ops} >= {"RELU", "RELU6"}
    test = rng.standard_normal((3, 3, 32, 32)).astype(np.float32) * 1.5  # beyond the calibration range too
    r = verify(q, tflite_bytes(q), quantize_input(q, test))
    assert r.tensors_compared == 3 * (len(q.ops) + 1)
    assert r.tensors_mismatched == 0, r.first_mismatch


class MoreOps(nn.Module):
    """Grouped conv, HardSwish, general Clip, odd-padded pools and an NCHW-order Reshape."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, 1, 1)
        self.grouped = nn.Conv2d(8, 12, 3, 1, 1, groups=4)  # 4 groups of 2 input channels
        self.fc = nn.Linear(12 * 4 * 4, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = nn.functional.hardswish(self.conv(x))
        y = torch.clamp(self.grouped(y), -1.5, 2.0)  # MAXIMUM + MINIMUM
        y = torch.clamp(y, min=-0.5)  # lower bound only
        y = nn.functional.max_pool2d(y, 3, 2, padding=1)  # symmetric pad at stride 2: not TFLite SAME
        y = nn.functional.avg_pool2d(y, 3, 2, padding=1, count_include_pad=True)  # PAD with zp, counted
        y = y.reshape(1, 6, 8, 4)  # a real reordering (4-D to 4-D), then Flatten (4-D to 2-D)
        return self.fc(y.flatten(1))


@pytest.fixture(scope="module")
def more():  # noqa: ANN201
    torch.manual_seed(0)
    return torch_to_graph(MoreOps().eval(), 16, "moreops")


def test_more_ops_bit_exact_with_litert(more) -> None:  # noqa: ANN001
    rng = np.random.default_rng(2)
    q = quantize_graph(more, rng.standard_normal((8, 3, 16, 16)).astype(np.float32), "minmax")
    kinds = collections.Counter(op.kind for op in q.ops)
    assert set(kinds) >= {"HARD_SWISH", "CLIP", "RESHAPE", "MAX_POOL_2D", "AVERAGE_POOL_2D"}, kinds
    assert any(op.attrs.get("groups", 1) == 4 for op in q.ops)
    test = rng.standard_normal((3, 3, 16, 16)).astype(np.float32) * 1.5
    r = verify(q, tflite_bytes(q), quantize_input(q, test))
    assert r.tensors_mismatched == 0, r.first_mismatch
