"""Graph node -> the shape the mapper tiles (ConvShape for Conv/Gemm, VectorShape otherwise)."""

from __future__ import annotations

import numpy as np

from sramflow.errors import UnsupportedOpError
from sramflow.ir.fusion import fused_into
from sramflow.ir.graph import Graph, Node
from sramflow.mapping.conv import ConvShape
from sramflow.mapping.fused import FusedShape
from sramflow.mapping.vector import VectorShape

# (ops per element, LUT look-ups per element); requantization of the result counts as one op
UNARY = {"Sigmoid": (0, 1), "HardSigmoid": (0, 1), "HardSwish": (0, 1), "Relu": (1, 0), "Clip": (1, 0),
         "Reshape": (0, 0), "Softmax": (2, 1)}
BINARY_OPS_PER_ELEM = 2  # the add / multiply and its requantization


def lower_graph(g: Graph) -> tuple[ConvShape | VectorShape | FusedShape, ...]:
    """Every node's shape; a node fused into its producer as the quantizer fuses it (``ir.fusion``: an activation
    into a Conv / Gemm, the Mul of x * HardSigmoid(x) into the HardSigmoid) becomes a ``FusedShape`` naming it."""
    fused = fused_into(g)
    return tuple(FusedShape(n.name, n.op, fused[n.name], g.node(fused[n.name]).op) if n.name in fused
                 else lower(g, n) for n in g.nodes)


def lower(g: Graph, n: Node) -> ConvShape | VectorShape:
    if n.op == "Conv":
        return _conv(g, n)
    if n.op == "Gemm":
        k, c = n.weights["W"].shape
        return ConvShape(n.name, 1, int(k), int(c), 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, has_bias="B" in n.weights)
    if n.op in UNARY:
        ops, lut = UNARY[n.op]
        return VectorShape(n.name, n.op, 1, g.numel(n.output), 1, 0, False, False, ops, lut)
    if n.op in ("Add", "Mul"):
        return _binary(g, n)
    if n.op == "GlobalAveragePool":
        _, c, h, w = g.shape(n.inputs[0])
        return VectorShape(n.name, n.op, int(c), int(h * w), 1, 0, False, True, 1, 0)
    if n.op in ("MaxPool", "AveragePool"):
        return _pool(g, n)
    raise UnsupportedOpError(f"node {n.name!r}: op {n.op} cannot be costed by the mapper yet")


def _pool(g: Graph, n: Node) -> ConvShape:
    """A pooling window is a depthwise convolution without weights, its taps run on the vector unit."""
    _, c, ih, iw = g.shape(n.inputs[0])
    _, _, oh, ow = g.shape(n.output)
    kh, kw = n.attrs["kernel"]
    sh, sw = n.attrs["strides"]
    pt, pl = n.attrs["pads"][0], n.attrs["pads"][1]
    return ConvShape(n.name, int(c), 1, 1, int(ih), int(iw), int(oh), int(ow), int(kh), int(kw), int(sh), int(sw),
                     int(pt), int(pl), has_bias=False, pool_op="max" if n.op == "MaxPool" else "avg")


def _conv(g: Graph, n: Node) -> ConvShape:
    cout, cin_g, kh, kw = n.weights["W"].shape
    groups = int(n.attrs["groups"])
    _, _, ih, iw = g.shape(n.inputs[0])
    _, _, oh, ow = g.shape(n.output)
    sh, sw = n.attrs["strides"]
    dh, dw = n.attrs.get("dilations", (1, 1))
    pt, pl = n.attrs["pads"][0], n.attrs["pads"][1]
    return ConvShape(n.name, groups, int(cout) // groups, int(cin_g), int(ih), int(iw), int(oh), int(ow),
                     int(kh), int(kw), int(sh), int(sw), int(pt), int(pl), int(dh), int(dw), "B" in n.weights)


def _binary(g: Graph, n: Node) -> VectorShape:
    out = g.shape(n.output)
    numel = g.numel(n.output)
    sizes = [g.numel(t) for t in n.inputs]
    consts = []
    if "const" in n.weights:
        consts = [int(np.asarray(n.weights["const"]).size)]
    operands = sizes + consts
    full = sum(1 for s in operands if s == numel)
    small = [s for s in operands if s != numel]
    const_full = sum(1 for s in consts if s == numel)
    if not small:
        return VectorShape(n.name, n.op, 1, numel, full, const_full, False, False, BINARY_OPS_PER_ELEM, 0)
    channels = out[1] if len(out) > 1 else 1
    if len(small) == 1 and small[0] in (1, channels) and full == 1:
        segs = int(channels) if small[0] == channels else 1
        return VectorShape(n.name, n.op, segs, numel // segs, 1, const_full, True, False, BINARY_OPS_PER_ELEM, 0)
    raise UnsupportedOpError(f"node {n.name!r}: {n.op} with operand sizes {operands} (output {numel}) "
                             "is not a supported broadcast")
