"""Functional simulation of a whole quantized graph on the analytical simulator's schedules."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sramflow.cost.counts import ceil_div
from sramflow.errors import GraphMismatchError, UnsupportedOpError
from sramflow.funcsim.bands import run_band_group
from sramflow.funcsim.levels import run_staged_conv
from sramflow.funcsim.bulk_conv import execute_conv_bulk
from sramflow.funcsim.bulk_vector import execute_vector_bulk
from sramflow.funcsim.exec_conv import ConvData, check_weight_bits, execute_conv
from sramflow.funcsim.exec_vector import VectorData, execute_vector
from sramflow.funcsim.pool import execute_carried_pool, execute_fused_pool, pool_spec
from sramflow.funcsim.resize import RESIZE_KINDS, resize_data
from sramflow.funcsim.scale import run_input_scale
from sramflow.funcsim.split import first_channel, run_split_conv
from sramflow.funcsim.sram import FunctionalSimError, Sram
from sramflow.funcsim.state import Machine
from sramflow.ir.elementwise import BINARY_KINDS
from sramflow.ir.graph import Graph, Node
from sramflow.ir.movement import BY_KIND as MOVE_KINDS
from sramflow.ir.movement import BY_OP as MOVES
from sramflow.ir.qgraph import QOp, QuantizedGraph
from sramflow.mapping.conv import ConvShape
from sramflow.mapping.conv_schedule import ConvSchedule
from sramflow.mapping.depth_first_bands import BandSplitSchedule
from sramflow.mapping.depth_first_recompute import RecomputeSchedule
from sramflow.mapping.depth_first_split import SplitSchedule
from sramflow.mapping.epilogue import EpilogueSchedule
from sramflow.mapping.fused import FusedSchedule
from sramflow.mapping.lower import lower_graph, residual_act_costs, residual_shape
from sramflow.mapping.vector import VectorSchedule
from sramflow.reference.requant import clamp_to_int8, multiply_by_quantized_multiplier, scale_by_double
from sramflow.reference.blas import single_thread
from sramflow.reference.run import RUNNERS, dequantize, run_int8

COUNT_KEYS = ("sram_reads", "sram_writes", "offchip_bytes", "macs")


def level_count_keys(levels: int) -> tuple[str, ...]:
    """The compared count keys of the outer SRAM levels 1..``levels`` (only where they are simulated)."""
    return tuple(f"sram{k}_{a}" for k in range(1, levels + 1) for a in ("reads", "writes"))


@dataclass(frozen=True)
class Mismatch:
    tensor: str
    node: str
    elements: int
    max_abs_diff: int


@dataclass(frozen=True)
class FunctionalResult:
    bit_exact: bool
    tensors_compared: int
    mismatches: tuple[Mismatch, ...]
    counts_functional: dict[str, int]
    counts_analytical: dict[str, int]
    clobbers: int
    step_count_notes: tuple[str, ...]
    logits_int8: np.ndarray
    logits: np.ndarray
    predicted_class: int
    sram_accesses: int
    wall_s: float
    reference_wall_s: float
    trace: np.ndarray | None  # (n, 3) rw, word, data in port order (cycle = row index)

    @property
    def counts_match(self) -> bool:
        return self.counts_functional == self.counts_analytical


@dataclass(frozen=True)
class BoundNode:
    """One IR node with the schedule the mapper gave it and the quantized op it belongs to (None: a Reshape,
    which the quantizer may leave as a copy)."""

    node: Node
    schedule: object  # ConvSchedule | VectorSchedule | FusedSchedule
    op: QOp | None

    @property
    def runs(self) -> bool:
        """Executed here: not fused into another node's pass, and the first IR node of its quantized op."""
        return not isinstance(self.schedule, FusedSchedule) and (self.op is None or self.node.name == self.op.ir_nodes[0])


def bind(graph: Graph, q: QuantizedGraph, schedules: tuple) -> tuple[BoundNode, ...]:
    """Pair every node with its schedule and quantized op once, by position, before anything runs. The join is
    structural: ``q`` must have been quantized from ``graph`` (``QuantizedGraph.check_source``) and each schedule's
    shape must be the lowering of the node at its position (``mapping.lower.lower_graph``); otherwise a
    ``GraphMismatchError`` names the command to rerun. A node that the quantizer left without an op is an error
    naming it (a Reshape may be such a copy)."""
    ops = q.ops_by_position(graph)
    fusion = "epilogue" if any(isinstance(s, EpilogueSchedule) or getattr(s.shape, "epilogue", False)
                               for s in schedules) else "none"
    shapes = _accepted_shapes(graph, fusion)
    if len(schedules) != len(shapes):
        raise GraphMismatchError(f"{len(schedules)} schedules for the {len(shapes)} nodes of {graph.name!r}: they "
                                 "were made from another graph; rerun 'sramflow simulate' on this model and resolution")
    out = []
    for node, shape, sch, op in zip(graph.nodes, shapes, schedules, ops):
        if _unpacked(sch.shape) not in shape:  # packed weights (--weight-bits) are the same layer
            raise GraphMismatchError(f"node {node.name!r} of {graph.name!r}: its schedule was made for "
                                     f"{sch.shape.name!r} with another shape; the schedules were made from another "
                                     "graph: rerun 'sramflow simulate' on this model and resolution")
        if op is None and node.op != "Reshape" and not isinstance(sch, FusedSchedule):
            raise UnsupportedOpError(f"node {node.name!r} ({node.op}) has no quantized op in {q.name!r}: quantize "
                                     "the graph that was simulated")
        out.append(BoundNode(node, sch, op))
    return tuple(out)


def _accepted_shapes(graph: Graph, fusion: str) -> list[tuple]:
    """Per node, the shapes its schedule may have under ``fusion``: the lowering's, and where an SE scale or a
    residual Add may have been left to a pass of its own (``sim.api.decide_input_scales``, ``fuse_schedules``),
    the node's own shape and its Conv's shape without the scale; a Conv's shape with ``residual`` set."""
    fused = lower_graph(graph, fusion)
    if fusion == "none":
        return [(s,) for s in fused]
    plain = lower_graph(graph, "none")
    acts = residual_act_costs(graph)
    out = []
    for f, p in zip(fused, plain):
        if any(getattr(f, a, False) for a in ("input_scale", "residual", "pool", "after_residual")):
            # or left to a pass of its own
            out.append((f, p))
        elif isinstance(f, ConvShape):  # with or without its SE scale, with or without a residual Add
            out.append(tuple(dataclasses.replace(residual_shape(f, acts) if r else f, input_scale_ops=s)
                             for s in {f.input_scale_ops, 0} for r in (False, True)))
        else:
            out.append((f,))
    return out


def _unpacked(shape):  # noqa: ANN001, ANN202 - a schedule's shape with 8-bit weights, as lower_graph makes it
    return dataclasses.replace(shape, weight_bits=8) if getattr(shape, "weight_bits", 8) != 8 else shape


def _requant(op: QOp, out_zp: int) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    a, p = op.attrs, op.params
    if op.kind == "FULLY_CONNECTED":
        eff = np.asarray(p["effective_scale"], np.float64)
        return lambda acc, ch: clamp_to_int8(scale_by_double(acc, eff[ch][..., None, None]) + out_zp,
                                             a["act_min"], a["act_max"])
    mult, shift = np.asarray(p["multiplier"], np.int64), np.asarray(p["shift"], np.int64)
    return lambda acc, ch: clamp_to_int8(multiply_by_quantized_multiplier(acc, mult[ch][..., None, None],
                                                                          shift[ch][..., None, None]) + out_zp,
                                         a["act_min"], a["act_max"])


def conv_data(sch: ConvSchedule, op: QOp, q: QuantizedGraph, x: np.ndarray) -> ConvData:
    sh = sch.shape
    x_zp = q.tensor(op.inputs[0]).zero_point
    if sh.pool_op:
        spec = pool_spec(sh, op.kind, op.attrs, x_zp)
        return ConvData(x.reshape(sh.groups, sh.in_h, sh.in_w), spec.fill, None, None, None, spec)
    w = np.asarray(op.params["weights"])
    w5 = w.reshape(sh.groups, sh.k_per_group, sh.c_per_group, sh.kernel_h, sh.kernel_w)
    bias = np.asarray(op.params["bias"], np.int64).reshape(sh.groups, sh.k_per_group) if sh.has_bias else None
    x3 = x.reshape(sh.groups * sh.c_per_group, sh.in_h, sh.in_w)
    return ConvData(x3, x_zp, w5, bias, _requant(op, q.tensor(op.output).zero_point))


_CONST = "<const operand>"  # the name the constant operand of a one-input ADD / MUL gets in a kernel's env


def _vector_kernel(q: QuantizedGraph, node: Node, op: QOp, row: int = 0) -> tuple[Callable[..., np.ndarray], bool]:
    """The integer kernel of ``op`` on the operand chunks the schedule gives (any shape, IR element order), from
    the reference's own dispatch (``reference.run.RUNNERS``): the functional simulator has no kernels of its
    own. Returns (kernel, whether it reduces each segment to one value)."""
    if node.name != op.ir_nodes[0]:  # fused activations are FusedSchedules (mapping.fused), skipped by run_functional
        raise UnsupportedOpError(f"node {node.name!r} is fused into {op.ir_nodes[0]!r}: it has no vector pass")
    runner = RUNNERS.get(op.kind)
    if runner is None or op.kind in _NOT_ELEMENTWISE:
        raise UnsupportedOpError(f"node {node.name!r}: the functional simulator has no vector kernel for {op.kind}")
    src = op.inputs[0]
    if op.kind == "RESHAPE" or op.kind in MOVE_KINDS:  # copies; a "gather" op's loads gathered the planes
        return (lambda x: x), False
    if op.kind == "SOFTMAX":  # over rows of ``row`` contiguous elements (the mapper's segments)
        return (lambda x: runner(q, op, {src: x.reshape(-1, row)}).reshape(x.shape)), False
    if op.kind == "MEAN":  # one segment (L,) or all segments (S, L) -> one mean per segment; NHWC (1, L, 1, S)
        def mean(seg: np.ndarray) -> np.ndarray:
            segs = seg.reshape(-1, seg.shape[-1])
            return runner(q, op, {src: segs.T.reshape(1, segs.shape[1], 1, segs.shape[0])}).reshape(1, -1, 1, 1)

        return mean, True
    if op.kind in BINARY_KINDS:  # two operands, or one and params["const"]
        two = op if len(op.inputs) == 2 else dataclasses.replace(op, inputs=(src, _CONST))
        return (lambda x1, x2: runner(q, two, {two.inputs[0]: x1, two.inputs[1]: x2})), False
    return (lambda x: runner(q, op, {src: x})), False


# the kinds the mapper schedules as convolutions (funcsim.exec_conv), not as vector passes
_NOT_ELEMENTWISE = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "MAX_POOL_2D", "AVERAGE_POOL_2D")


def vector_data(sch: VectorSchedule, node: Node, op: QOp | None, env: dict[str, np.ndarray],
                q: QuantizedGraph | None = None) -> VectorData:
    sh = sch.shape
    if op is not None and op.kind in RESIZE_KINDS:  # a gather of source taps, not element-wise operands
        return resize_data(sch, op, env[node.inputs[0]])
    operands = [env[t].ravel() for t in node.inputs]
    gather = MOVES[node.op].gather if node.op in MOVES else None
    if gather is not None:  # the load of output plane c reads input plane gather[c] (ir.movement "gather")
        x = env[node.inputs[0]]
        operands = [x.reshape(x.shape[0], -1)[gather(node.attrs, x.shape[0])].ravel()]
    if op is not None and "const" in op.params and node.name == op.ir_nodes[0]:
        operands.append(np.asarray(op.params["const"], np.int8).ravel())
    numel = sh.segments * sh.seg_len
    full, order, scale = [], [], None
    for v in operands:
        if v.size == numel:
            order.append(("full", len(full)))
            full.append(v.reshape(sh.segments, sh.seg_len))
        else:
            order.append(("scale", 0))
            scale = np.broadcast_to(v, (sh.segments,)) if v.size == 1 else v
    if op is None:  # Reshape: a copy
        return VectorData(tuple(full), scale, tuple(order), lambda x: x, False)
    if op.kind == "SOFTMAX" and not (sh.whole_segment and sch.chunk == sh.seg_len):
        raise UnsupportedOpError(f"node {node.name!r} (SOFTMAX): the mapper schedules chunks of {sch.chunk} of its "
                                 f"rows of {sh.seg_len} elements, but each output needs its whole row (maximum and "
                                 "sum of exponentials first): not executable as scheduled")
    kernel, reduce = _vector_kernel(q, node, op, sh.seg_len)
    if not reduce and scale is not None:
        return VectorData(tuple(full), scale, tuple(order), kernel, False)
    return VectorData(tuple(full), scale, tuple(order), kernel, reduce)


EXECUTORS = ("bulk", "step")


def run_functional(graph: Graph, q: QuantizedGraph, schedules: tuple, x_int8: np.ndarray, words: int,
                   word_bytes: int, trace: bool = False, executor: str | None = None) -> FunctionalResult:
    """Execute every node's schedule on ``x_int8`` (CHW or NCHW) and compare with ``run_int8``.
    ``executor``: "bulk" (whole step tables per node, the default) or "step" (one ``Step`` at a time, the
    readable reference path; the only one that records an SRAM trace, so the default with ``trace``)."""
    executor = executor or ("step" if trace else "bulk")
    if executor not in EXECUTORS or (trace and executor != "step"):
        raise ValueError(f"executor {executor!r}: one of {EXECUTORS}; an SRAM trace needs 'step'")
    run_conv, run_vector = (execute_conv, execute_vector) if executor == "step" else \
        (execute_conv_bulk, execute_vector_bulk)
    parts = [p.schedule for s in schedules if isinstance(s, SplitSchedule) for p in s.parts]
    convs = [s.conv if isinstance(s, EpilogueSchedule) else s for s in (*schedules, *parts)]
    packed = [s.shape.name for s in convs
              if isinstance(s, ConvSchedule) and s.shape.weight_bits != 8 and "weights" in s.staged]
    if packed:  # funcsim.levels moves int8 weights through the outer levels
        raise UnsupportedOpError(f"an outer SRAM level holds 8-bit weights only; {len(packed)} staged layers have "
                                 f"packed 4-bit weights (first {packed[0]!r}): simulate them analytically")
    x = np.asarray(x_int8, np.int8)
    x = x[None] if x.ndim == 3 else x
    bound = bind(graph, q, schedules)
    m = Machine(Sram(words, word_bytes, trace))
    h = next((s.levels for s in convs if isinstance(s, ConvSchedule) and s.levels is not None), None)
    outer = () if h is None else tuple(Sram(p.capacity_words, p.word_bytes) for p in h.outer)
    if outer and executor != "bulk" and any(getattr(s, "staged", ()) for s in convs):
        raise UnsupportedOpError("outer SRAM levels are executed by the bulk executor only (not 'step', not with "
                                 "a trace)")
    env: dict[str, np.ndarray] = {graph.input: x[0]}
    t0 = time.perf_counter()
    with single_thread():  # many small matmuls: BLAS threads only contend for the cores
        _execute(graph, q, bound, env, m, run_conv, run_vector, outer)
    wall = time.perf_counter() - t0
    t1 = time.perf_counter()
    ref = run_int8(q, x)
    ref_wall = time.perf_counter() - t1
    mism = []
    materialized = [op for op in q.ops if op.output in env]  # a fused chain's inner tensors are never written
    for op in materialized:
        got, want = env[op.output].reshape(-1), ref[op.output][0].reshape(-1)
        diff = np.abs(got.astype(np.int32) - want.astype(np.int32))
        if diff.any():
            mism.append(Mismatch(op.output, op.name, int(np.count_nonzero(diff)), int(diff.max())))
    logits_q = env[graph.output].reshape(-1)
    logits = dequantize(q, q.output, logits_q)
    return FunctionalResult(not mism, len(materialized), tuple(mism), _functional_counts(m, outer),
                            analytical_counts(schedules, len(outer)),
                            m.sram.clobbers + sum(lv.clobbers for lv in outer), tuple(m.step_mismatches),
                            logits_q, logits, int(np.argmax(logits)),
                            m.sram.reads + m.sram.writes, wall, ref_wall,
                            m.sram.trace.records() if m.sram.trace is not None else None)


def _execute(graph: Graph, q: QuantizedGraph, bound: tuple[BoundNode, ...], env: dict[str, np.ndarray], m: Machine,
             run_conv: Callable, run_vector: Callable, outer: tuple[Sram, ...] = ()) -> None:
    """Run every bound node in graph order; each result lands in ``env`` under its tensor name; ``outer``: the
    outer SRAM levels 1, 2, ..., where staged conv operands are held (``funcsim.levels``)."""
    op_of = {b.node.name: b.op for b in bound}
    held: dict[tuple[int, int], tuple[int, int]] = {}  # depth-first groups' resident tensors (``funcsim.levels``)
    pending: dict[str, tuple] = {}  # band-group producers, run band by band with their consumer (``funcsim.bands``)
    unwritten: set[str] = set()  # groups whose output is never stored (a fused pool is its only reader)
    banded: dict[str, tuple] = {}  # band-group layers' (data, node, op, output name), for a pass B that recomputes them
    for b in bound:
        node, sch, op = b.node, b.schedule, b.op
        if isinstance(sch, FusedSchedule) and sch.shape.epilogue:  # computed by its group's pass (below)
            continue
        if isinstance(sch, FusedSchedule) and sch.shape.into == node.name:  # pure addressing (Concat, Slice)
            env[node.output] = MOVES[node.op].apply(node.attrs, [env[t][None] for t in node.inputs], 0)[0]
            continue
        x_in = env.get(node.inputs[0]) if node.inputs else None
        if isinstance(sch, FusedSchedule):  # the pass of the node it is fused into computed it: no accesses
            if sch.shape.into not in unwritten:  # (an activation of a never-stored output is in no memory either)
                env[node.output] = env[graph.node(sch.shape.into).output]
            continue
        if not b.runs:
            env[node.output] = env[op.output]
            m.note(_fused_but_scheduled(node, op, sch))
            continue
        out_name = node.output
        split = None
        if isinstance(sch, SplitSchedule):  # a layer in depth-first parts: the whole layer's data, run part by part
            split, sch = sch, sch.whole
            if isinstance(split, BandSplitSchedule) and split.role in ("consumer", "recompute"):  # every input band
                x_in = np.zeros(graph.shape(node.inputs[0])[1:], np.int8)  # is read from the level: x gives its shape
        pool = None  # a fused global average pool: (its group, its node) once the group's output is written
        stored = True  # False: that pool is the output's only reader, the output tiles are never stored
        if isinstance(sch, EpilogueSchedule):  # the chain runs on the requantized outputs before they are written
            if sch.input_scale:
                if isinstance(split, RecomputeSchedule):  # its input is recomputed band by band, scaled per band
                    vec = _scale_vector(op_of[sch.input_scale], env, _recomputed_output(split, banded))
                else:
                    x_in = _scaled_input(q, op_of[sch.input_scale], env)
                    vec = _scale_vector(op_of[sch.input_scale], env)
                loaded: dict[tuple[int, int], int] = {}  # the vectors the parts before left in their level
                for part, v in _scale_parts(sch, split, vec):
                    run_input_scale(part, v, m, outer, loaded)
            group, sch = sch, sch.conv
            pool = (group, graph.node(group.pool)) if group.pool else None
            data = conv_data(sch, op, q, x_in)
            if group.residual:  # the skip tile of every output tile is added on the output path
                data, out_name = _with_residual(data, graph, q, op_of[group.residual], group.residual, op.output, env,
                                                op_of.get(group.residual_act) if group.residual_act else None)
            if group.members:
                out_name = graph.node(group.members[-1]).output
                chain = _chain_ops(group.members, op_of)
                data = dataclasses.replace(data, requant=_with_epilogue(data.requant, q, op.output, chain))
            if group.pool_plan is not None and group.pool_plan.stores is not None:
                stored = False
                unwritten.add(node.name)
                data = dataclasses.replace(data, unwritten=True)
        elif isinstance(sch, ConvSchedule):
            data = conv_data(sch, op, q, x_in)
        if isinstance(sch, ConvSchedule):
            check_weight_bits(sch, data.weights, int(op.attrs.get("weight_bits", 8)))
            if isinstance(split, BandSplitSchedule):
                banded[node.name] = (data, node, op, out_name)
            if isinstance(split, BandSplitSchedule) and split.role == "producer":  # runs with its consumer
                pending[node.name] = (split, data, node, op, out_name)
                continue
            if isinstance(split, RecomputeSchedule):
                y = _run_recompute(run_conv, split, data, banded, op_of[split.whole.input_scale], q, env, graph,
                                   m, outer, held)
            elif isinstance(split, BandSplitSchedule):
                if split.partner not in pending:
                    raise FunctionalSimError(f"node {node.name!r}: its band group's producer {split.partner!r} has "
                                             "not run before it; the schedules were made for another graph")
                p_split, p_data, p_node, p_op, p_out = pending.pop(split.partner)
                y_p, y = run_band_group(run_conv, p_split, p_data, split, data, m, outer, held)
                _store(env, graph, p_node, p_op, p_out, y_p)
            elif split is not None:
                y = run_split_conv(run_conv, split, data, m, outer, held)
            else:
                y = run_staged_conv(run_conv, sch, data, m, outer, held) if sch.staged else run_conv(sch, data, m)
        else:
            y = run_vector(sch, vector_data(sch, node, op, env, q), m)
        if pool is not None:  # the running sums of every output tile, in the schedule's store order
            _run_fused_pool(pool[0], pool[1], op_of, y, m, env, graph, split, outer)
        if stored:  # an output never stored is in no memory: nothing to compare
            _store(env, graph, node, op, out_name, y)
    if pending:
        raise FunctionalSimError(f"band-group producer(s) {', '.join(map(repr, pending))} never met their consumer")


def _store(env: dict[str, np.ndarray], graph: Graph, node: Node, op: QOp | None, out_name: str, y: np.ndarray) -> None:
    """Put a node's result in ``env``: under the tensor its group writes (``out_name``), else under its output and
    its quantized op's."""
    if out_name != node.output:
        env[out_name] = y.reshape(graph.shape(out_name)[1:])
        return
    env[node.output] = y.reshape(graph.shape(node.output)[1:])
    if op is not None and op.output != node.output:  # the op's result (a fused x * HardSigmoid(x): HARD_SWISH)
        env[op.output] = env[node.output].reshape(graph.shape(op.output)[1:])


def _run_fused_pool(group: EpilogueSchedule, node: Node, op_of: dict[str, QOp | None], y: np.ndarray, m: Machine,
                    env: dict[str, np.ndarray], graph: Graph, split: SplitSchedule | None = None,
                    outer: tuple[Sram, ...] = ()) -> None:
    """The group's fused global average pool (``funcsim.pool.execute_fused_pool``) on the tensor it wrote; a layer
    run in parts: each part's share in turn (``_run_parts_pool``)."""
    op = op_of[node.name]
    if op is None or op.kind != "MEAN":
        raise UnsupportedOpError(f"the global average pool {node.name!r} fused into {group.shape.name!r} has no "
                                 "quantized MEAN op: quantize the graph that was simulated")
    sh = group.shape
    out = np.asarray(y, np.int8).reshape(sh.groups, sh.k_per_group, sh.out_h, sh.out_w)
    if split is None:
        means = execute_fused_pool(group.pool_plan, group.conv.step_table(), out, op.attrs, m,
                                   max(b.end_word for b in group.conv.buffers))
    else:
        means = _run_parts_pool(split, out, op.attrs, m, outer)
    env[node.output] = means.reshape(graph.shape(node.output)[1:])


def _run_parts_pool(split: SplitSchedule, out: np.ndarray, mean: dict, m: Machine, outer: tuple[Sram, ...]
                    ) -> np.ndarray:
    """A pool fused into a layer run in parts, part by part: a part that computes every row of its channels (a
    channel chunk) has its own pool (``funcsim.pool.execute_fused_pool``); row bands carry their sums from band to
    band in an outer level (``execute_carried_pool``), of all channels or of one channel chunk (a chunk's bands run
    one after the other, ``depth_first_split.split_with_pool``), and a chunk's last band gives its channels'
    means."""
    sh = split.shape
    flat = out.reshape(-1, sh.out_h, sh.out_w)
    means: list[np.ndarray] = []
    tag = None
    for p in split.parts:
        s = p.schedule
        ps, c0 = s.shape, first_channel(split, p)
        mine = flat[c0:c0 + ps.groups * ps.k_per_group, p.row0:p.row1].reshape(ps.groups, ps.k_per_group,
                                                                            p.row1 - p.row0, sh.out_w)
        end = max(b.end_word for b in s.conv.buffers)
        cy = s.pool_carry
        if cy is None:
            if p.row1 - p.row0 != sh.out_h:
                raise FunctionalSimError(f"{sh.name}: a row band's pool sums are not carried to the next band")
            means.append(execute_fused_pool(s.pool_plan, s.conv.step_table(), mine, mean, m, end))
            continue
        if cy.level > len(outer):
            raise FunctionalSimError(f"{sh.name}: a row band's pool sums are not carried in an outer level this run "
                                     "has")
        at = s.conv.resident_in("inputs") if hasattr(s.conv, "resident_in") else None
        lv = outer[cy.level - 1]
        if at is not None and at[0] == cy.level and at[1] + ceil_div(ps.input_bytes, lv.word_bytes) > cy.base_word:
            raise FunctionalSimError(f"{sh.name}: the carried pool sums at word {cy.base_word} of level "
                                     f"{cy.level} overlap the band region")
        result, tag = execute_carried_pool(s.pool_plan, s.conv.step_table(), mine, sh.out_h * sh.out_w, mean, m,
                                           end, lv, tag if cy.carry_in else None)
        if result is not None:
            means.append(result)
    if sum(r.size for r in means) != flat.shape[0]:
        raise FunctionalSimError(f"{sh.name}: a band stored its pool sums where the means of its channels were due")
    return np.concatenate(means)


def _with_residual(data: ConvData, graph: Graph, q: QuantizedGraph, add: QOp | None, name: str, src: str,
                   env: dict[str, np.ndarray], act: QOp | None = None) -> tuple[ConvData, str]:
    """The residual Add's skip tensor and ADD kernel (``reference.run.RUNNERS``, element-wise) on a convolution's
    data, then the activation after it (``act``: its kernel on the sum); and the tensor the group writes (the Add's
    output, or the activation's)."""
    if add is None:
        raise UnsupportedOpError(f"the residual Add {name!r} fused into a convolution's output path has no quantized "
                                 "op: quantize the graph that was simulated")
    if src not in add.inputs:
        raise UnsupportedOpError(f"the residual Add {name!r} does not read its convolution's output {src!r}")
    node = graph.node(name)
    skip = next(t for t in add.inputs if t != src)
    if act is not None and act.inputs[0] != add.output:
        raise UnsupportedOpError(f"the activation {act.name!r} fused after the residual Add {name!r} does not read "
                                 "the Add's output")

    def residual(out: np.ndarray, s: np.ndarray) -> np.ndarray:
        y = RUNNERS[add.kind](q, add, {src: out, skip: s})
        if act is not None:
            y = RUNNERS[act.kind](q, act, {add.output: y})
        return y.reshape(out.shape)

    return (dataclasses.replace(data, skip=env[skip].reshape(-1, *env[skip].shape[-2:]), residual=residual),
            act.output if act is not None else node.output)


def _scaled_input(q: QuantizedGraph, op: QOp | None, env: dict[str, np.ndarray]) -> np.ndarray:
    """The input an SE-scaled convolution's loads write to the SRAM: x times the channel's scale with the MUL
    kernel's int8 rounding (element-wise, so each loaded tile equals the DMA path's scaled tile); the scale
    bytes of every input load are fetched or read from the held vector by ``funcsim.scale.run_input_scale``."""
    if op is None:
        raise UnsupportedOpError("an SE scale fused into a convolution's input path has no quantized op")
    x = max((env[t] for t in op.inputs), key=lambda v: v.size)  # the feature map (the other is the scale vector)
    return RUNNERS[op.kind](q, op, {t: env[t] for t in op.inputs}).reshape(x.shape)


def _scale_vector(op: QOp, env: dict[str, np.ndarray], fmap: str = "") -> np.ndarray:
    """The excitation vector of an SE scale's MUL (the input that ``_scaled_input`` does not take as the feature
    map; ``fmap``: the feature map's name, where it is in no memory yet), one int8 per channel."""
    if fmap:
        return env[next(t for t in op.inputs if t != fmap)].reshape(-1)
    ins = [env[t] for t in op.inputs]
    x = max(range(len(ins)), key=lambda i: ins[i].size)
    return ins[1 - x].reshape(-1)


def _recomputed_output(split: RecomputeSchedule, banded: dict[str, tuple]) -> str:
    """The tensor a pass B recomputes (its depthwise layer's group output), which pass A never stored."""
    if split.partner not in banded:
        raise FunctionalSimError(f"node {split.shape.name!r}: the band group it recomputes ({split.partner!r}) has "
                                 "not run before it; the schedules were made for another graph")
    return banded[split.partner][3]


def _run_recompute(run: Callable, split: RecomputeSchedule, data: ConvData, banded: dict[str, tuple],
                   scale: QOp | None, q: QuantizedGraph, env: dict[str, np.ndarray], graph: Graph, m: Machine,
                   outer: tuple[Sram, ...], held: dict) -> np.ndarray:
    """Pass B of a recomputed SE block (``mapping.depth_first_recompute``): the band group of pass A again, its
    depthwise output band left in the level for the projection's part, which scales it on its input path (the
    MUL's integer kernel on the band, element by element as on the whole tensor) and writes its rows. The producer's
    output must come out as pass A's; the depthwise output, in no memory until now, is compared like any tensor."""
    if scale is None:
        raise UnsupportedOpError(f"node {split.shape.name!r}: its SE scale has no quantized op")
    prod, cons = split.again
    if prod.shape.name not in banded:
        raise FunctionalSimError(f"node {split.shape.name!r}: the band group it recomputes has not run before it")
    p_data, _, _, p_out = banded[prod.shape.name]
    c_data, c_node, c_op, c_out = banded[cons.shape.name]
    vec = next(t for t in scale.inputs if t != c_out)

    def scaled(x: np.ndarray) -> np.ndarray:
        return RUNNERS[scale.kind](q, scale, {c_out: x, vec: env[vec]}).reshape(x.shape)

    y_p, y_c, y = run_band_group(run, prod, p_data, cons, dataclasses.replace(c_data, unwritten=False), m, outer,
                                 held, (split, data, scaled))
    if p_out in env and not np.array_equal(y_p.reshape(-1), env[p_out].reshape(-1)):
        raise FunctionalSimError(f"node {prod.shape.name!r}: pass B of the recomputed block computed another output "
                                 "than pass A")
    _store(env, graph, c_node, c_op, c_out, y_c)
    return y


def _scale_parts(group: EpilogueSchedule, split: SplitSchedule | None, vec: np.ndarray
                 ) -> list[tuple[EpilogueSchedule, np.ndarray]]:
    """Each group of a (possibly split) input-scaled layer with its input channels' scales: every channel for a row
    band or an output-channel chunk; a grouped layer's chunk of groups, its groups' channels."""
    if split is None:
        return [(group, vec)]
    out = []
    for p in split.own_parts:
        ps = p.schedule.shape
        lo = p.ch0 * ps.c_per_group if ps.groups < split.shape.groups else 0
        out.append((p.schedule, vec[lo:lo + ps.groups * ps.c_per_group]))
    return out


def _chain_ops(members: tuple[str, ...], op_of: dict[str, QOp | None]) -> tuple[QOp, ...]:
    """The quantized ops of a fused chain, in order (a HardSwish's two IR nodes are one HARD_SWISH op)."""
    out: list[QOp] = []
    for name in members:
        op = op_of[name]
        if op is None:
            raise UnsupportedOpError(f"node {name!r} of a fused epilogue has no quantized op")
        if not out or out[-1] is not op:
            out.append(op)
    return tuple(out)


def _with_epilogue(requant: Callable, q: QuantizedGraph, src: str, chain: tuple[QOp, ...]) -> Callable:
    """``requant`` followed by the chain's integer kernels (``reference.run.RUNNERS``, element-wise, any shape),
    each link reading the tensors of the tile computed before it: the arithmetic of the unfused ops, unchanged."""
    def run(acc: np.ndarray, ch: np.ndarray) -> np.ndarray:
        vals = {src: requant(acc, ch)}
        for op in chain:
            vals[op.output] = RUNNERS[op.kind](q, op, {t: vals[t] for t in op.inputs})
        return vals[chain[-1].output]

    return run


def _fused_but_scheduled(node: Node, op: QOp, sch) -> str:  # noqa: ANN001
    """The quantized program computes ``node`` inside ``op``'s pass (e.g. the Mul of x * HardSigmoid(x), one
    HARD_SWISH table), yet the mapper scheduled a pass of its own: it is not executed, so the functional counts
    fall short of the analytical ones by that pass."""
    c = sch.counts
    return (f"{node.name}: {node.op} is part of {op.kind} {op.ir_nodes[0]!r} in the quantized graph but the mapper "
            f"schedules a pass of its own ({c.sram_reads} SRAM reads, {c.sram_writes} writes, {c.offchip_bytes} "
            "off-chip bytes): not executed")


def _functional_counts(m: Machine, outer: tuple[Sram, ...] = ()) -> dict[str, int]:
    t = m.tally
    out = {"sram_reads": t.sram_reads_compute + t.sram_reads_dma,
           "sram_writes": t.sram_writes_compute + t.sram_writes_dma,
           "offchip_bytes": t.offchip_read_bytes + t.offchip_write_bytes, "macs": t.macs}
    for k, lv in enumerate(outer, start=1):
        out |= {f"sram{k}_reads": lv.reads, f"sram{k}_writes": lv.writes}
    return out


def analytical_counts(schedules: tuple, levels: int = 0) -> dict[str, int]:
    """The compared counts summed over ``schedules``; ``levels``: with the accesses of outer SRAM levels 1..levels."""
    tot = dict.fromkeys((*COUNT_KEYS, *level_count_keys(levels)), 0)
    for s in schedules:
        c = s.counts
        for k in COUNT_KEYS:
            tot[k] += int(getattr(c, k))
        for k in range(1, levels + 1):
            reads, writes = c.level_access(k)
            tot[f"sram{k}_reads"] += reads
            tot[f"sram{k}_writes"] += writes
    return tot
