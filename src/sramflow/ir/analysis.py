"""Per-node and whole-graph figures: parameters, MACs, activation bytes, peak live memory."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from sramflow.ir.elementwise import UNARY_OPS
from sramflow.ir.graph import Graph, Node

INT8_BYTES = 1
INT32_BYTES = 4


@dataclass(frozen=True)
class NodeStats:
    name: str
    op: str
    output_shape: tuple[int, ...]
    params: int
    macs: int
    ops: int  # MACs for Conv/Gemm, element operations otherwise
    input_bytes_int8: int
    output_bytes_int8: int
    weight_bytes_int8: int  # int8 weights (and int8 constants)
    bias_bytes_int32: int


@dataclass(frozen=True)
class PeakActivation:
    bytes_int8: int
    at_node: str
    live_tensors: tuple[str, ...]


def node_macs(g: Graph, n: Node) -> int:
    if n.op == "Conv":
        cout, cin_g, kh, kw = n.weights["W"].shape
        _, _, ho, wo = g.shape(n.output)
        return int(cout * ho * wo * cin_g * kh * kw)
    if n.op == "Gemm":
        return int(n.weights["W"].size)
    return 0


def _element_ops(g: Graph, n: Node) -> int:
    if n.op == "GlobalAveragePool":
        return g.numel(n.inputs[0])
    if n.op in ("AveragePool", "MaxPool"):
        kh, kw = n.attrs["kernel"]
        return g.numel(n.output) * kh * kw
    if n.op == "Reshape":
        return 0
    return g.numel(n.output)


def node_stats(g: Graph, n: Node) -> NodeStats:
    w = n.weights
    params = int(sum(a.size for a in w.values()))
    macs = node_macs(g, n)
    return NodeStats(
        name=n.name,
        op=n.op,
        output_shape=g.shape(n.output),
        params=params,
        macs=macs,
        ops=macs if n.op in ("Conv", "Gemm") else _element_ops(g, n),
        input_bytes_int8=sum(g.numel(t) for t in n.inputs) * INT8_BYTES,
        output_bytes_int8=g.numel(n.output) * INT8_BYTES,
        weight_bytes_int8=int(sum(a.size for k, a in w.items() if k != "B")) * INT8_BYTES,
        bias_bytes_int32=int(w["B"].size) * INT32_BYTES if "B" in w else 0,
    )


_UNARY_ELEMENTWISE = UNARY_OPS


def _silu_pairs(g: Graph) -> dict[str, str]:
    """Sigmoid node name -> the Mul that multiplies the Sigmoid's input by it (a SiLU)."""
    consumers = g.consumers()
    by_name = {n.name: n for n in g.nodes}
    pairs: dict[str, str] = {}
    for n in g.nodes:
        if n.op != "Sigmoid":
            continue
        (x,) = n.inputs
        users = consumers.get(n.output, [])
        if len(users) == 1 and by_name[users[0]].op == "Mul" and set(by_name[users[0]].inputs) == {x, n.output}:
            pairs[n.name] = users[0]
    return pairs


def _steps(g: Graph, fuse: bool) -> list[tuple[str, tuple[str, ...], str, bool]]:
    """(name, inputs, output, may_work_in_place) per step; with ``fuse`` a SiLU is one in-place step."""
    pairs = _silu_pairs(g) if fuse else {}
    skip = set(pairs.values())
    steps = []
    for n in g.nodes:
        if n.name in skip:
            continue
        if n.name in pairs:
            mul = g.node(pairs[n.name])
            steps.append((mul.name, n.inputs, mul.output, True))
        else:
            steps.append((n.name, n.inputs, n.output, fuse and n.op in _UNARY_ELEMENTWISE))
    return steps


def peak_activation(g: Graph, fuse_elementwise: bool = False) -> PeakActivation:
    """Peak bytes held at once when nodes run one after another in graph order.

    A tensor is live from its producer until its last consumer has run; the graph input from the
    start, the graph output to the end. Every node needs its inputs and its output at the same time.
    With ``fuse_elementwise``, SiLU (Sigmoid then Mul) is one step and element-wise activations write
    over their input when that input dies there (what a hand-written kernel does; TFLite does not).
    """
    steps = _steps(g, fuse_elementwise)
    last_use: dict[str, int] = {g.input: 0}
    born = {g.input: 0}
    for i, (_, ins, out, _) in enumerate(steps):
        born[out] = i
        last_use.setdefault(out, i)
        for t in ins:
            last_use[t] = i
    last_use[g.output] = len(steps)
    best = PeakActivation(0, "", ())
    for i, (name, ins, out, in_place) in enumerate(steps):
        live = tuple(t for t in born if born[t] <= i <= last_use[t])
        size = sum(g.numel(t) for t in live)
        if in_place and len(ins) == 1 and last_use[ins[0]] == i and ins[0] != g.input:
            size -= min(g.numel(ins[0]), g.numel(out))
        if size * INT8_BYTES > best.bytes_int8:
            best = PeakActivation(size * INT8_BYTES, name, live)
    return best


def op_totals(stats: list[NodeStats]) -> tuple[dict[str, int], dict[str, int]]:
    """(ops by op type, node count by op type)."""
    ops: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for s in stats:
        ops[s.op] += s.ops
        counts[s.op] += 1
    return dict(ops), dict(counts)


def weight_tensors_fitting(g: Graph, capacity_bytes: int) -> tuple[int, int]:
    """(how many weight tensors fit ``capacity_bytes`` at INT8, how many weight tensors there are)."""
    sizes = [int(n.weights["W"].size) * INT8_BYTES for n in g.nodes if "W" in n.weights]
    return sum(1 for s in sizes if s <= capacity_bytes), len(sizes)


def ir_params(g: Graph) -> int:
    return int(sum(a.size for n in g.nodes for a in n.weights.values()))


def float32_bytes(g: Graph) -> int:
    return ir_params(g) * 4


def int8_model_bytes(stats: list[NodeStats]) -> int:
    return int(np.sum([s.weight_bytes_int8 + s.bias_bytes_int32 for s in stats]))
