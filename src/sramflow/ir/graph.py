"""The graph every later stage consumes: nodes in topological order, NCHW shapes, batch 1.

Canonical ops (and what they carry):
  Conv      W [Cout, Cin/groups, kh, kw], B [Cout]; attrs kernel, strides, pads (t, l, b, r), dilations, groups
  Gemm      W [out, in], B [out]  (y = x @ W.T + B)
  element-wise ops (``ir.elementwise``: Add, Mul, ... with their attrs): one input, or two activation inputs,
            or one input and weights["const"] (broadcast, NCHW)
  GlobalAveragePool; AveragePool, MaxPool (attrs kernel, strides, pads, count_include_pad, ceil_pads: the
            (bottom, right) part of pads that ceil_mode added, never counted by an average); Softmax (attrs axis)
  Reshape   attrs shape (a reordering of elements in NCHW order; costed as a copy)
  Resize    attrs mode ("nearest" / "linear"), size (OH, OW), align_corners, half_pixel_centers (the TFLite
            coordinate flags the ONNX coordinate_transformation_mode maps to)
  data-movement ops (``ir.movement``): Concat (attrs axis; any number of inputs), Slice (axis, start, end),
            Pad (pads (t, l, b, r), value), ChannelShuffle (groups)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sramflow.errors import GraphError
from sramflow.ir.elementwise import ELEMENTWISE_OPS
from sramflow.ir.movement import MOVEMENT_OPS

OPS = (
    "Conv", "Gemm", *(e.op for e in ELEMENTWISE_OPS),
    "GlobalAveragePool", "AveragePool", "MaxPool", "Softmax", "Reshape", "Resize", *(m.op for m in MOVEMENT_OPS),
)
MAC_OPS = ("Conv", "Gemm")


@dataclass(frozen=True)
class Node:
    name: str
    op: str
    inputs: tuple[str, ...]
    output: str
    attrs: Mapping[str, Any] = field(default_factory=dict)
    weights: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise GraphError(f"node {self.name!r}: op {self.op!r} is not an IR op ({', '.join(OPS)})")

    @property
    def is_depthwise(self) -> bool:
        return self.op == "Conv" and self.attrs["groups"] > 1 and self.attrs["groups"] == self.weights["W"].shape[0]


@dataclass(frozen=True)
class FoldedNode:
    """A source node that has no node of its own in the IR, and why (never dropped silently)."""

    name: str
    op: str
    reason: str


@dataclass(frozen=True)
class Graph:
    name: str
    input: str
    output: str
    shapes: Mapping[str, tuple[int, ...]]
    nodes: tuple[Node, ...]
    folded: tuple[FoldedNode, ...] = ()

    def __post_init__(self) -> None:
        known = {self.input}
        for n in self.nodes:
            for t in n.inputs:
                if t not in known:
                    raise GraphError(f"node {n.name!r} reads {t!r} before anything produces it")
            if n.output in known:
                raise GraphError(f"tensor {n.output!r} is produced twice (node {n.name!r})")
            known.add(n.output)
        if self.output not in known:
            raise GraphError(f"graph output {self.output!r} is produced by no node")
        missing = [t for t in known if t not in self.shapes]
        if missing:
            raise GraphError(f"no shape for tensors {missing[:5]}")

    def shape(self, tensor: str) -> tuple[int, ...]:
        return tuple(self.shapes[tensor])

    def numel(self, tensor: str) -> int:
        return int(np.prod(self.shapes[tensor], dtype=np.int64))

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def consumers(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for n in self.nodes:
            for t in n.inputs:
                out.setdefault(t, []).append(n.name)
        return out
