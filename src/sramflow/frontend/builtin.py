"""Built-in architectures straight to the IR, without torch or ONNX: the graph the PyTorch -> ONNX -> import
path gives (same node and tensor names, ops, attributes, shapes; tests/test_builtin_graph.py checks it), from
the architecture table and a state dict of numpy arrays under torchvision's keys.

Names follow the TorchScript ONNX exporter: a node is ``<module path>/<Op>`` and its output
``/<scope>/<Op>_output_0``, where the scope has one component per module level (see ``_scope``).
BatchNorm is folded as the ONNX importer folds it (``onnx_import.fold_batchnorm``, float64 rounded once), so
folded weights agree with the torch path to float32 rounding; the torch exporter's own fold (its float32
``sqrt`` is not correctly rounded on every CPU) can differ from it in the last bit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sramflow.errors import GraphError
from sramflow.frontend.onnx_import import fold_batchnorm
from sramflow.ir.graph import FoldedNode, Graph, Node
from sramflow.ir.shapes import infer_shape
from sramflow.models.arch import ArchSpec, tf_same_pads
from sramflow.models.layouts import _GLOBAL_ROLES, _tv_block_roles

INPUT, OUTPUT = "input", "logits"


def _scope(module_path: str) -> str:
    """'features.1.0.block.0.0' -> '/features/features.1/features.1.0/block/block.0/block.0.0': a named child
    starts a component, an indexed child (Sequential) extends the one above it."""
    comps: list[str] = []
    for tok in module_path.split("."):
        if tok.isdigit() and comps:
            comps.append(f"{comps[-1]}.{tok}")
        else:
            comps.append(tok)
    return "/" + "/".join(comps)


class _Emitter:
    def __init__(self, state: Mapping[str, np.ndarray], bn_eps: float, resolution: int,
                 padding: str = "symmetric") -> None:
        self.state, self.eps, self.padding = state, bn_eps, padding
        self.shapes: dict[str, tuple[int, ...]] = {INPUT: (1, 3, resolution, resolution)}
        self.nodes: list[Node] = []
        self.folded: list[FoldedNode] = []

    def emit(self, module: str, op: str, inputs: list[str], attrs: dict[str, Any] | None = None,
             weights: dict[str, np.ndarray] | None = None, output: str | None = None) -> str:
        attrs, weights = attrs or {}, weights or {}
        name = f"{module}/{op}"
        out = output or f"{_scope(module)}/{op}_output_0"
        try:
            self.shapes[out] = infer_shape(op, [self.shapes[t] for t in inputs], attrs, weights)
        except GraphError as exc:
            raise GraphError(f"node {name!r}: {exc}") from None
        self.nodes.append(Node(name, op, tuple(inputs), out, attrs, weights))
        return out

    def conv(self, module: str, x: str, stride: int = 1, groups: int = 1, bn: str | None = None,
             bias: bool = False) -> str:
        w = np.asarray(self.state[f"{module}.weight"], np.float32)
        b = np.asarray(self.state[f"{module}.bias"], np.float32) if bias else np.zeros(w.shape[0], np.float32)
        if bn is not None:
            w, b = fold_batchnorm(w, b, *(self.state[f"{bn}.{k}"] for k in ("weight", "bias", "running_mean",
                                                                           "running_var")), self.eps)
        k = int(w.shape[2])
        attrs = {"kernel": (k, int(w.shape[3])), "strides": (stride, stride), "dilations": (1, 1),
                 "pads": self.pads(x, k, stride), "groups": groups}
        return self.emit(module, "Conv", [x], attrs, {"W": w, "B": b})

    def pads(self, x: str, k: int, stride: int) -> tuple[int, int, int, int]:
        """(top, left, bottom, right): (k-1)//2 everywhere, or TensorFlow's SAME for the input's size
        (models.efficientnet.TfSameConv2d, which the torch path exports as the same Conv)."""
        if self.padding == "tf_same":
            (t, b), (left, r) = (tf_same_pads(n, k, stride) for n in self.shapes[x][2:])
            return (t, left, b, r)
        pad = (k - 1) // 2
        return (pad, pad, pad, pad)

    def act(self, module: str, x: str, kind: str) -> str:
        if kind == "silu":
            return self.emit(module, "Mul", [x, self.emit(module, "Sigmoid", [x])])
        if kind == "relu6":  # the exporter writes Clip's bounds as two Constant nodes
            self.folded += [FoldedNode(f"{module}/{c}", "Constant", "constant tensor") for c in ("Constant", "Constant_1")]
            return self.emit(module, "Clip", [x], {"min": 0.0, "max": 6.0})
        raise GraphError(f"activation {kind!r} has no IR lowering")

    def conv_norm_act(self, seq: str, x: str, stride: int = 1, groups: int = 1, act: str | None = None) -> str:
        """torchvision's Conv2dNormActivation ``seq``: ``seq.0`` conv, ``seq.1`` BatchNorm, ``seq.2`` activation."""
        y = self.conv(f"{seq}.0", x, stride, groups, bn=f"{seq}.1")
        return self.act(f"{seq}.2", y, act) if act else y


def builtin_graph(arch: ArchSpec, state: Mapping[str, np.ndarray], resolution: int, bn_eps: float,
                  name: str | None = None, padding: str = "symmetric") -> Graph:
    """The inference graph of ``arch`` with ``state`` (our torchvision keys), batch 1, ``resolution`` square;
    ``padding``: "symmetric" or "tf_same" (``models.layouts.LAYOUT_PADDING``)."""
    e = _Emitter(state, bn_eps, resolution, padding)
    roles = _GLOBAL_ROLES["torchvision"]
    x = e.conv_norm_act(roles["stem_conv"].rsplit(".", 1)[0], INPUT, 2, act=arch.activation)
    for b in arch.blocks():
        r, mid = _tv_block_roles(b, arch), b.expanded_channels
        block_in, y = x, x
        if b.has_expand:
            y = e.conv_norm_act(r["expand_conv"].rsplit(".", 1)[0], y, act=arch.activation)
        y = e.conv_norm_act(r["dw_conv"].rsplit(".", 1)[0], y, b.stride, groups=mid, act=arch.activation)
        if arch.squeeze_excite:
            se = r["se_reduce"].rsplit(".", 1)[0]
            s = e.emit(f"{se}.avgpool", "GlobalAveragePool", [y])
            s = e.act(f"{se}.activation", e.conv(r["se_reduce"], s, bias=True), "silu")
            s = e.emit(f"{se}.scale_activation", "Sigmoid", [e.conv(r["se_expand"], s, bias=True)])
            y = e.emit(se, "Mul", [y, s])
        y = e.conv_norm_act(r["project_conv"].rsplit(".", 1)[0], y)
        x = e.emit(f"features.{b.stage + 1}.{b.index}", "Add", [block_in, y]) if b.has_residual else y
    x = e.conv_norm_act(roles["head_conv"].rsplit(".", 1)[0], x, act=arch.activation)
    x = e.emit("avgpool", "GlobalAveragePool", [x])  # then torch.flatten: a shape-only view, folded
    fc = roles["classifier"]
    e.emit(fc, "Gemm", [x], {}, {"W": np.asarray(state[f"{fc}.weight"], np.float32),
                                 "B": np.asarray(state[f"{fc}.bias"], np.float32)}, output=OUTPUT)
    e.folded.append(FoldedNode("Flatten", "Flatten", "shape-only view: same bytes in the same order"))
    return Graph(name=name or arch.name, input=INPUT, output=OUTPUT, shapes=dict(e.shapes), nodes=tuple(e.nodes),
                 folded=tuple(e.folded))
