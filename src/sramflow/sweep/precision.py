"""Weight precision per layer group: 8 or 4 bits.

A ``weight_bits`` value is 8, 4, or a mapping ``{group: bits}`` over WEIGHT_GROUPS (``default`` fills the
groups not named). Its canonical form is the int when every group has the same precision, otherwise a
string ``"stem=8,depthwise=4,..."`` listing every group, so equal settings hash equally.

INT4 accuracy is NOT measured by the sweep: results carry ``accuracy_assumption`` saying so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from sramflow.ir.graph import Graph, Node
from sramflow.mapping.conv import ConvShape
from sramflow.sim.api import PreparedGraph

WEIGHT_GROUPS = ("stem", "depthwise", "pointwise", "se", "conv", "classifier")
ALLOWED_BITS = (8, 4)
INT8_ASSUMPTION = "INT8 accuracy as measured by `sramflow evaluate` (not re-measured per point)"
INT4_ASSUMPTION = ("INT4 accuracy not measured; assumed unchanged from INT8 (optimistic: INT4 weights "
                   "usually lose accuracy without quantization-aware training)")


def _bits(v: Any, where: str) -> int:
    if isinstance(v, bool) or v not in ALLOWED_BITS:
        raise ValueError(f"{where}must be one of {ALLOWED_BITS} bits, got {v!r}")
    return int(v)


def group_bits(value: Any) -> dict[str, int]:
    """Bits of every group for a (raw or canonical) ``weight_bits`` value."""
    if isinstance(value, str):
        value = dict(item.split("=") for item in value.split(","))
        value = {k: int(v) for k, v in value.items()}
    if isinstance(value, Mapping):
        unknown = [k for k in value if k not in (*WEIGHT_GROUPS, "default")]
        if unknown:
            raise ValueError(f"unknown layer group {unknown[0]!r}; groups: {', '.join(WEIGHT_GROUPS)}, default")
        default = value.get("default")
        missing = [g for g in WEIGHT_GROUPS if g not in value]
        if missing and default is None:
            raise ValueError(f"groups {', '.join(missing)} have no bits (name them or give 'default')")
        return {g: _bits(value.get(g, default), f"{g}: ") for g in WEIGHT_GROUPS}
    b = _bits(value, "")
    return {g: b for g in WEIGHT_GROUPS}


def canonical_weight_bits(value: Any) -> int | str:
    bits = group_bits(value)
    if len(set(bits.values())) == 1:
        return next(iter(bits.values()))
    return ",".join(f"{g}={b}" for g, b in bits.items())


def accuracy_assumption(value: Any) -> str:
    return INT4_ASSUMPTION if 4 in group_bits(value).values() else INT8_ASSUMPTION


def node_group(graph: Graph, node: Node) -> str | None:
    """The weight group of a node with weights (None for nodes without a weight tensor)."""
    if "W" not in node.weights:
        return None
    if node.op == "Gemm":
        return "classifier"
    if node.inputs and node.inputs[0] == graph.input:
        return "stem"
    if node.is_depthwise:
        return "depthwise"
    _, _, h, w = graph.shape(node.inputs[0])
    if h * w == 1:
        return "se"
    kh, kw = node.attrs["kernel"]
    return "pointwise" if kh * kw == 1 else "conv"


def with_weight_bits(prep: PreparedGraph, value: Any) -> PreparedGraph:
    """``prep`` with each Conv/Gemm's ``ConvShape.weight_bits`` set from its layer group (packed weights: off-chip
    bytes, SRAM words and footprint shrink; MAC counts do not change). Pooling shapes have no weights."""
    bits = group_bits(value)
    if set(bits.values()) == {8}:
        return prep
    shapes = []
    for node, shape in zip(prep.graph.nodes, prep.shapes):
        group = node_group(prep.graph, node)
        if isinstance(shape, ConvShape) and group is not None and not shape.pool_op:
            shape = dataclasses.replace(shape, weight_bits=bits[group])
        shapes.append(shape)
    return PreparedGraph(prep.graph, tuple(shapes))
