"""Graph node -> the shape the mapper tiles (ConvShape for Conv/Gemm, VectorShape otherwise)."""

from __future__ import annotations

import numpy as np

from sramflow.errors import UnsupportedOpError
from sramflow.ir.elementwise import BY_OP
from sramflow.ir.fusion import fused_into
from sramflow.ir.graph import Graph, Node
from sramflow.mapping.conv import ConvShape
from sramflow.mapping.fused import FusedShape
from sramflow.mapping.vector import VectorShape

# Element-wise ops cost what their ir.elementwise row says (VectorCost: ops and LUT look-ups per element,
# requantization of the result counting as one op); a Reshape is a copy (no ops).
# LiteRT's int8 softmax loops over a resident row three times: max (1 compare per element); subtract, exp look-up
# (a 256-entry table indexed by max - x in [0, 255]), accumulate (2 ops + 1 look-up); one reciprocal of the sum per
# row; then subtract and exp look-up again (the kernel recomputes the exponential rather than keeping 4 bytes per
# element), multiply, shift, clamp (4 ops + 1 look-up).
SOFTMAX_PASSES, SOFTMAX_OPS_PER_ELEM, SOFTMAX_LUT_PER_ELEM, SOFTMAX_OPS_PER_ROW = 3, 1 + 2 + 4, 2, 1


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
    if n.op in BY_OP:
        cost = BY_OP[n.op].vector
        if BY_OP[n.op].arity == 2:
            return _binary(g, n, cost.ops_per_elem)
        return VectorShape(n.name, n.op, 1, g.numel(n.output), 1, 0, False, False, cost.ops_per_elem,
                           cost.lut_per_elem)
    if n.op == "Reshape":
        return VectorShape(n.name, n.op, 1, g.numel(n.output), 1, 0, False, False, 0, 0)
    if n.op == "Softmax":
        return _softmax(g, n)
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


def _binary(g: Graph, n: Node, ops_per_elem: int) -> VectorShape:
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
        return VectorShape(n.name, n.op, 1, numel, full, const_full, False, False, ops_per_elem, 0)
    channels = out[1] if len(out) > 1 else 1
    if len(small) == 1 and small[0] in (1, channels) and full == 1:
        segs = int(channels) if small[0] == channels else 1
        return VectorShape(n.name, n.op, segs, numel // segs, 1, const_full, True, False, ops_per_elem, 0)
    raise UnsupportedOpError(f"node {n.name!r}: {n.op} with operand sizes {operands} (output {numel}) "
                             "is not a supported broadcast")


def _softmax(g: Graph, n: Node) -> VectorShape:
    """One segment per row of the softmax axis; rows must be contiguous in the (NCHW) tensor."""
    shape = tuple(int(d) for d in g.shape(n.inputs[0]))
    axis = int(n.attrs.get("axis", -1)) % len(shape)
    inner = int(np.prod(shape[axis + 1:], dtype=np.int64))
    if inner != 1:
        raise UnsupportedOpError(f"node {n.name!r} (Softmax axis={axis} on {shape}): its rows are strided in the "
                                 f"NCHW tensor ({inner} elements apart); the mapper loads contiguous rows only")
    row = shape[axis]
    return VectorShape(n.name, n.op, g.numel(n.output) // row, row, 1, 0, False, False, SOFTMAX_OPS_PER_ELEM,
                       SOFTMAX_LUT_PER_ELEM, whole_segment=True, passes=SOFTMAX_PASSES, seg_ops=SOFTMAX_OPS_PER_ROW)
