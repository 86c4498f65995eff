"""Graph node -> the shape the mapper tiles (ConvShape for Conv/Gemm, VectorShape otherwise)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from sramflow.errors import UnsupportedOpError
from sramflow.ir.elementwise import BY_OP
from sramflow.ir.fusion import (epilogue_chains, fused_into, fused_pools, input_scales, residual_activations,
                                residual_adds, sole_reader_pools)
from sramflow.ir.graph import Graph, Node
from sramflow.ir.movement import BY_OP as MOVES
from sramflow.ir.movement import contiguous_block
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
# Resize is a gather: for every output pixel the DMA fetches its source taps from off-chip (nearest: 1, bilinear:
# 4 neighbours; no reuse between neighbouring outputs, so a bilinear x2 upsample reads 4 bytes per output) into
# the SRAM, as the operands of an element-wise pass. Nearest only copies (no ops, as a Reshape); bilinear runs
# ResizeBilinearInteger's inner loop per output: 4 weight products and 4 tap products, 3 adds, the rounding add
# and the shift by 20.
RESIZE_TAPS = {"nearest": 1, "linear": 4}
RESIZE_OPS_PER_ELEM = {"nearest": 0, "linear": 4 + 4 + 3 + 1 + 1}


def lower_graph(g: Graph, fusion: str = "none") -> tuple[ConvShape | VectorShape | FusedShape, ...]:
    """Every node's shape; a node fused into its producer as the quantizer fuses it (``ir.fusion``: an activation
    into a Conv / Gemm, the Mul of x * HardSigmoid(x) into the HardSigmoid) becomes a ``FusedShape`` naming it.
    ``fusion`` other than "none" (``mapping.epilogue``; "depth-first" falls back to it): the element-wise chain
    after a Conv / Gemm is fused into its output path too, its cost on the producer's ``ConvShape``; a residual Add
    (``ir.fusion.residual_adds``) becomes a ``FusedShape(residual=True)`` naming its Conv (a Relu after it
    ``FusedShape(after_residual=True)``; ``residual_shape`` where the Add joins), a global average pool
    of a Conv group's output (``ir.fusion.fused_pools``) a ``FusedShape(pool=True)``."""
    fused = fused_into(g)
    chains = epilogue_chains(g) if fusion != "none" else {}
    epi = {m: p for p, chain in chains.items() for m in chain}
    scales = input_scales(g) if fusion != "none" else {}
    scaled = {c: m for m, c in scales.items()}
    residuals = residual_adds(g) if fusion != "none" else {}
    after = residual_activations(g) if fusion != "none" else {}  # activation -> its residual Add
    pools = fused_pools(g) if fusion != "none" else {}
    sole = sole_reader_pools(g) if pools else frozenset()
    out = []
    for n in g.nodes:
        if n.name in pools:  # like a residual Add: ``sim.api`` fuses it where the chosen schedule has room
            out.append(FusedShape(n.name, n.op, pools[n.name], g.node(pools[n.name]).op, epilogue=True, pool=True,
                                  sole_reader=n.name in sole))
        elif n.name in residuals:  # the producer's shape stays plain: ``sim.api`` sets ``residual`` where it fits
            out.append(FusedShape(n.name, n.op, residuals[n.name], "Conv", epilogue=True, residual=True))
        elif n.name in epi:
            out.append(FusedShape(n.name, n.op, epi[n.name], g.node(epi[n.name]).op, epilogue=True))
        elif n.name in after:  # like its residual Add: ``sim.api`` fuses it with the Add
            out.append(FusedShape(n.name, n.op, residuals[after[n.name]], "Conv", epilogue=True, after_residual=True))
        elif n.name in scales:
            out.append(FusedShape(n.name, n.op, scales[n.name], "Conv", epilogue=True, input_scale=True))
        elif n.name in fused:
            out.append(FusedShape(n.name, n.op, fused[n.name], g.node(fused[n.name]).op))
        else:
            sh = lower(g, n)
            if n.name in chains:
                sh = dataclasses.replace(sh, **_epilogue_cost(g, chains[n.name]))
            if n.name in scaled:
                sh = dataclasses.replace(sh, input_scale_ops=BY_OP["Mul"].vector.ops_per_elem)
            out.append(sh)
    return tuple(out)


def residual_act_costs(g: Graph) -> dict[str, tuple[int, int]]:
    """Conv -> (vector ops, look-ups) per output element of the activation after its residual Add
    (``ir.fusion.residual_activations``), for the Convs that have one."""
    adds = residual_adds(g)
    return {adds[add]: (BY_OP[g.node(act).op].vector.ops_per_elem, BY_OP[g.node(act).op].vector.lut_per_elem)
            for act, add in residual_activations(g).items()}


def residual_shape(shape: ConvShape, act_costs: Mapping[str, tuple[int, int]]) -> ConvShape:
    """``shape`` (a Conv's) with its residual Add on the output path (``ConvShape.residual``), and the vector ops and
    look-ups of the activation after that Add where it has one (``act_costs``: ``residual_act_costs`` of its
    graph)."""
    ops, lut = act_costs.get(shape.name, (0, 0))
    return dataclasses.replace(shape, residual=True, residual_act_ops=ops, residual_act_lut=lut)


def _epilogue_cost(g: Graph, chain: tuple[str, ...]) -> dict[str, int]:
    """Vector-unit ops and look-ups per element of a fused chain: each link's ``ir.elementwise`` row, except the Mul
    of a HardSwish, which the HardSigmoid's HARD_SWISH look-up yields (``ir.fusion.hard_swish_mul``)."""
    ops = lut = 0
    prev = ""
    for name in chain:
        n = g.node(name)
        hswish = n.op == "Mul" and prev == "HardSigmoid"
        prev = n.op
        if hswish:
            continue
        ops += BY_OP[n.op].vector.ops_per_elem
        lut += BY_OP[n.op].vector.lut_per_elem
    return {"epilogue_ops": ops, "epilogue_lut": lut}


def _addressing(g: Graph, n: Node) -> FusedShape:
    """An "addressing" movement op (Concat, Slice): pure addressing when each block is one contiguous run of the NCHW tensor (every dimension
    before the axis is 1: channels at batch 1); a strided block would move bytes, which is not modelled."""
    shape = g.shape(n.output if n.op == "Concat" else n.inputs[0])
    if not contiguous_block(shape, int(n.attrs["axis"])):
        raise UnsupportedOpError(f"node {n.name!r}: {n.op} on axis {n.attrs['axis']} of {shape} has strided blocks "
                                 "in the NCHW tensor; the mapper costs only contiguous blocks (channels) as "
                                 "addressing, and has no copy pass for strided ones")
    return FusedShape(n.name, n.op, n.name, n.op)


def _window(g: Graph, n: Node) -> ConvShape:
    """A "window" movement op (Pad) moves every byte: a 1 x 1 window pass (the pooling path, on the vector unit) over the padded input,
    whose out-of-image taps the DMA fills with the pad value; every input byte is loaded once and every output
    byte stored once."""
    _, c, ih, iw = g.shape(n.inputs[0])
    _, _, oh, ow = g.shape(n.output)
    pt, pl = n.attrs["pads"][0], n.attrs["pads"][1]
    return ConvShape(n.name, int(c), 1, 1, int(ih), int(iw), int(oh), int(ow), 1, 1, 1, 1, int(pt), int(pl),
                     has_bias=False, pool_op="max")


def _gather(g: Graph, n: Node) -> VectorShape:
    """A "gather" movement op (the channel shuffle) moves every byte: one segment per output channel plane (H x W
    contiguous), loaded from the input plane its row's ``gather`` names and stored in place."""
    _, c, h, w = g.shape(n.output)
    return VectorShape(n.name, n.op, int(c), int(h * w), 1, 0, False, False, 0, 0)


def lower(g: Graph, n: Node) -> ConvShape | VectorShape | FusedShape:
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
    if n.op in MOVES:
        return MOVEMENT_LOWERING[MOVES[n.op].mapping](g, n)
    if n.op == "GlobalAveragePool":
        _, c, h, w = g.shape(n.inputs[0])
        return VectorShape(n.name, n.op, int(c), int(h * w), 1, 0, False, True, 1, 0)
    if n.op in ("MaxPool", "AveragePool"):
        return _pool(g, n)
    if n.op == "Resize":
        _, c, oh, ow = g.shape(n.output)
        mode = n.attrs["mode"]
        return VectorShape(n.name, n.op, int(c), int(oh * ow), RESIZE_TAPS[mode], 0, False, False,
                           RESIZE_OPS_PER_ELEM[mode], 0)
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


MOVEMENT_LOWERING = {"addressing": _addressing, "window": _window, "gather": _gather}  # by ir.movement mapping
