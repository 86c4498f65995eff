"""Small ONNX networks (onnx.helper, no torch) with the data-movement operators: a DenseNet-style block (Concat),
a ShuffleNet unit (Split, Concat, channel shuffle as torch.onnx.export writes it: Reshape, Transpose, Reshape),
a network with constant Pad, and a Slice / Concat on the height axis. ``Net``, the builder, also serves the
element-wise operator networks."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class Net:
    """A small ONNX graph under construction (NCHW float32, one input ``x``)."""

    def __init__(self, c: int, hw: int, seed: int) -> None:
        self.nodes: list = []
        self.inits: list = []
        self.rng = np.random.default_rng(seed)
        self.n = 0
        self.shape_in = (1, c, hw, hw)

    def const(self, arr: np.ndarray) -> str:
        self.n += 1
        name = f"k{self.n}"
        self.inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def op(self, op: str, inputs: list[str], outputs: int = 1, **attrs) -> str | list[str]:  # noqa: ANN003
        self.n += 1
        outs = [f"{op.lower()}{self.n}" + (f"_{i}" if outputs > 1 else "") for i in range(outputs)]
        self.nodes.append(helper.make_node(op, inputs, outs, name=f"{op.lower()}{self.n}", **attrs))
        return outs if outputs > 1 else outs[0]

    def conv(self, x: str, cin: int, cout: int, k: int = 3, groups: int = 1, relu: bool = True) -> str:
        w = self.const((self.rng.standard_normal((cout, cin // groups, k, k)) * 0.5).astype(np.float32))
        b = self.const((self.rng.standard_normal(cout) * 0.1).astype(np.float32))
        y = self.op("Conv", [x, w, b], kernel_shape=[k, k], pads=[k // 2] * 4, group=groups)
        return self.op("Relu", [y]) if relu else y

    def shuffle(self, x: str, c: int, hw: int, groups: int) -> str:
        y = self.op("Reshape", [x, self.const(np.array([1, groups, c // groups, hw, hw], np.int64))])
        y = self.op("Transpose", [y], perm=[0, 2, 1, 3, 4])
        return self.op("Reshape", [y, self.const(np.array([1, -1, hw, hw], np.int64))])

    def head(self, y: str, c: int) -> onnx.ModelProto:
        y = self.op("Flatten", [self.op("GlobalAveragePool", [y])])
        y = self.op("Gemm", [y, self.const(self.rng.standard_normal((c, 4)).astype(np.float32)),
                             self.const(np.zeros(4, np.float32))])
        g = helper.make_graph(self.nodes, "net", [helper.make_tensor_value_info("x", TensorProto.FLOAT, self.shape_in)],
                              [helper.make_tensor_value_info(y, TensorProto.FLOAT, None)], self.inits)
        return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def dense_block_net() -> onnx.ModelProto:
    """Two DenseNet layers (BN-ReLU-Conv folded to Conv-ReLU): each concatenates its input with 4 new channels.
    The block's input is read by the first layer and the Concat (a Requantize in front); each new layer's output
    only by its Concat (it takes the Concat's scale: pure addressing)."""
    n = Net(3, 8, seed=11)
    x = n.conv("x", 3, 8)
    c1 = n.op("Concat", [x, n.conv(x, 8, 4)], axis=1)
    c2 = n.op("Concat", [c1, n.conv(c1, 12, 4)], axis=1)
    return n.head(n.conv(c2, 16, 8, k=1), 8)


def shufflenet_unit_net() -> onnx.ModelProto:
    """A ShuffleNetV2 basic unit: channel Split in two halves, one kept, the other 1x1 conv, 3x3 depthwise, 1x1
    conv; Concat; channel shuffle in 2 groups; then a Slice of the first 6 channels."""
    n = Net(3, 8, seed=12)
    x = n.conv("x", 3, 8)
    a, b = n.op("Split", [x, n.const(np.array([4, 4], np.int64))], outputs=2, axis=1)
    b = n.conv(n.conv(n.conv(b, 4, 4, k=1), 4, 4, groups=4, relu=False), 4, 4, k=1)
    y = n.shuffle(n.op("Concat", [a, b], axis=1), 8, 8, 2)
    y = n.op("Slice", [y, n.const(np.array([0], np.int64)), n.const(np.array([6], np.int64)),
                       n.const(np.array([1], np.int64))])
    return n.head(n.conv(y, 6, 6, k=1), 6)


def pad_net() -> onnx.ModelProto:
    """Constant Pad with 0 (PAD) and with another value (PADV2), asymmetric, before VALID convolutions."""
    n = Net(3, 8, seed=13)
    y = n.op("Pad", [n.conv("x", 3, 6), n.const(np.array([0, 0, 1, 0, 0, 0, 2, 1], np.int64))], mode="constant")
    y = n.conv(y, 6, 6, k=1)
    y = n.op("Pad", [y, n.const(np.array([0, 0, 2, 2, 0, 0, 2, 2], np.int64)), n.const(np.float32(0.25))])
    return n.head(n.conv(y, 6, 6, k=1), 6)


def height_concat_net() -> onnx.ModelProto:
    """Concat and Slice along the height axis (supported by the quantizer, reference and export; the mapper
    refuses them by name: their blocks are strided in NCHW)."""
    n = Net(3, 8, seed=14)
    x = n.conv("x", 3, 4)
    y = n.op("Concat", [x, n.conv(x, 4, 4)], axis=2)
    y = n.op("Slice", [y, n.const(np.array([2], np.int64)), n.const(np.array([14], np.int64)),
                       n.const(np.array([2], np.int64))])
    return n.head(y, 4)
