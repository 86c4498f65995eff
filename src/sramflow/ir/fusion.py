"""Which activations are fused into the Conv / Gemm that produces their input (TFLite fused activation: the
clamp is part of the producer's requantize stage). One definition for the quantizer and the mapper."""

from __future__ import annotations

from collections.abc import Mapping

from sramflow.ir.graph import Graph, Node

FUSING_OPS = ("Conv", "Gemm")


def fused_activation_kind(node: Node) -> str | None:
    """The TFLite fused-activation kind a node can become ("RELU", "RELU6"), or None."""
    if node.op == "Relu":
        return "RELU"
    if node.op == "Clip" and node.attrs["min"] == 0.0 and node.attrs["max"] == 6.0:
        return "RELU6"
    return None


def fused_activation(graph: Graph, producer: Node, consumers: Mapping[str, list[str]]) -> Node | None:
    """The activation fused into ``producer``: its only consumer, a fusable kind, and the producer's output is
    not the graph output."""
    if producer.op not in FUSING_OPS:
        return None
    users = consumers.get(producer.output, [])
    if len(users) != 1 or producer.output == graph.output:
        return None
    nxt = graph.node(users[0])
    return nxt if fused_activation_kind(nxt) else None


def fused_into(graph: Graph) -> dict[str, str]:
    """Activation node name -> the Conv / Gemm node it is fused into."""
    consumers = graph.consumers()
    out = {}
    for n in graph.nodes:
        act = fused_activation(graph, n, consumers)
        if act is not None:
            out[act.name] = n.name
    return out
