"""Which nodes are fused into the node that produces their input, so they have no pass of their own. One
definition for the quantizer and the mapper:
- a Relu / Relu6 after a Conv / Gemm: a TFLite fused activation, the clamp is part of the producer's requantize;
- the Mul of ``x * HardSigmoid(x)`` (HardSwish as PyTorch exports it below opset 14): the quantizer emits one
  HARD_SWISH table op on the HardSigmoid's pass, whose look-up yields the product."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

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


def hard_swish_mul(graph: Graph, hsig: Node, consumers: Mapping[str, list[str]]) -> Node | None:
    """The Mul of Mul(x, HardSigmoid(x)) with ONNX's default alpha 1/6, beta 1/2 (HardSwish), or None: it is the
    HardSigmoid's only consumer and multiplies exactly that HardSigmoid's input by its output."""
    if hsig.op != "HardSigmoid" or not np.isclose(hsig.attrs["alpha"], 1 / 6) or hsig.attrs["beta"] != 0.5:
        return None
    users = consumers.get(hsig.output, [])
    if len(users) != 1 or hsig.output == graph.output:
        return None
    m = graph.node(users[0])
    return m if m.op == "Mul" and sorted(m.inputs) == sorted((hsig.inputs[0], hsig.output)) else None


def fused_node(graph: Graph, producer: Node, consumers: Mapping[str, list[str]]) -> Node | None:
    """The node fused into ``producer`` (an activation into a Conv / Gemm, the Mul of HardSwish into its
    HardSigmoid), or None."""
    if producer.op == "HardSigmoid":
        return hard_swish_mul(graph, producer, consumers)
    return fused_activation(graph, producer, consumers)


def fused_into(graph: Graph) -> dict[str, str]:
    """Fused node name -> the node it is fused into."""
    consumers = graph.consumers()
    out = {}
    for n in graph.nodes:
        f = fused_node(graph, n, consumers)
        if f is not None:
            out[f.name] = n.name
    return out
