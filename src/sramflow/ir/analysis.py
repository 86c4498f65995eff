"""Per-node and whole-graph figures: parameters, MACs, activation bytes, peak live memory."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

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


def peak_activation(g: Graph) -> PeakActivation:
    """Peak bytes held at once when nodes run one after another in graph order.

    A tensor is live from its producer until its last consumer has run; the graph input from the
    start, the graph output to the end. Every node needs its inputs and its output at the same time.
    """
    last_use: dict[str, int] = {g.input: 0}
    for i, n in enumerate(g.nodes):
        last_use.setdefault(n.output, i)
        for t in n.inputs:
            last_use[t] = i
    last_use[g.output] = len(g.nodes)
    born = {g.input: 0} | {n.output: i for i, n in enumerate(g.nodes)}
    best = PeakActivation(0, "", ())
    for i, n in enumerate(g.nodes):
        live = tuple(t for t in born if born[t] <= i <= last_use[t])
        size = sum(g.numel(t) for t in live) * INT8_BYTES
        if size > best.bytes_int8:
            best = PeakActivation(size, n.name, live)
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
