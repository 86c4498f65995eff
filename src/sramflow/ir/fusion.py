"""Which nodes are fused into the node that produces their input, so they have no pass of their own. One
definition for the quantizer and the mapper:
- a Relu / Relu6 after a Conv / Gemm: a TFLite fused activation, the clamp is part of the producer's requantize;
- the Mul of ``x * HardSigmoid(x)`` (HardSwish as PyTorch exports it below opset 14): the quantizer emits one
  HARD_SWISH table op on the HardSigmoid's pass, whose look-up yields the product."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

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


# Epilogue fusion (``--fusion epilogue``): the element-wise chain after a Conv / Gemm runs on its output path
# (the vector unit takes each requantized output tile before it is written), so the chain's intermediate tensors
# are never written to a memory level. The patterns, each with the producer's (or the previous link's) output as
# its only full-size operand and every intermediate consumed inside the chain only:
# SiLU (Sigmoid(t) and Mul(t, Sigmoid(t))), HardSwish (HardSigmoid(t) and its Mul, one HARD_SWISH look-up; or the
# HardSwish node opset 14 and later export), and a lone Sigmoid or HardSigmoid.
LONE_LINKS = ("Sigmoid", "HardSigmoid", "HardSwish")  # element-wise ops of one input that may form a link alone


def _chain_link(graph: Graph, t: str, consumers: Mapping[str, list[str]]) -> tuple[str, ...]:
    """The nodes of one epilogue link reading tensor ``t`` (its output is the last node's), or ()."""
    if t == graph.output:
        return ()
    users = [graph.node(u) for u in consumers.get(t, [])]
    act = [u for u in users if u.op in LONE_LINKS and list(u.inputs) == [t]]
    if len(act) != 1:
        return ()
    a = act[0]
    mul = None if a.op == "HardSwish" else \
        hard_swish_mul(graph, a, consumers) if a.op == "HardSigmoid" else _silu_mul(graph, a, consumers)
    if mul is not None and len(users) == 2 and mul in users:
        return a.name, mul.name
    return (a.name,) if len(users) == 1 else ()


def _silu_mul(graph: Graph, sig: Node, consumers: Mapping[str, list[str]]) -> Node | None:
    """The Mul of x * Sigmoid(x) (SiLU), the Sigmoid's only consumer, or None."""
    users = consumers.get(sig.output, [])
    if len(users) != 1 or sig.output == graph.output:
        return None
    m = graph.node(users[0])
    return m if m.op == "Mul" and sorted(m.inputs) == sorted((sig.inputs[0], sig.output)) else None


def epilogue_chains(graph: Graph) -> dict[str, tuple[str, ...]]:
    """Conv / Gemm node -> the nodes of the element-wise chain fused into its output path, in graph order (only
    producers with a non-empty chain). A Relu / Relu6 the quantizer already fuses (``fused_activation``) stays
    where it is (the requantize clamp) and the chain starts after it."""
    consumers = graph.consumers()
    out: dict[str, tuple[str, ...]] = {}
    for n in graph.nodes:
        if n.op not in FUSING_OPS:
            continue
        act = fused_activation(graph, n, consumers)
        t = act.output if act is not None else n.output
        chain: tuple[str, ...] = ()
        while link := _chain_link(graph, t, consumers):
            chain += link
            t = graph.node(link[-1]).output
        if chain:
            out[n.name] = chain
    return out


def input_scales(graph: Graph) -> dict[str, str]:
    """SE channel-scale Mul -> the Conv that applies it on its input path (``--fusion epilogue``): a Mul of a
    feature map (N, C, H, W) by a (N, C, 1, 1) vector whose only consumer is a Conv reading it as its input; the
    scaled tensor is then never written (the Conv's loads scale each channel as it arrives)."""
    consumers = graph.consumers()
    out: dict[str, str] = {}
    for n in graph.nodes:
        if n.op != "Mul" or len(n.inputs) != 2 or "const" in n.weights or n.output == graph.output:
            continue
        a, b = (graph.shape(t) for t in n.inputs)
        full, vec = (a, b) if len(a) == 4 and b == (a[0], a[1], 1, 1) else (b, a)
        users = consumers.get(n.output, [])
        if len(full) != 4 or vec != (full[0], full[1], 1, 1) or full[2] * full[3] == 1 or len(users) != 1:
            continue
        c = graph.node(users[0])
        if c.op == "Conv" and c.inputs[0] == n.output:
            out[n.name] = c.name
    return out


def residual_adds(graph: Graph) -> dict[str, str]:
    """Residual Add -> the Conv whose output path adds the skip tensor (``--fusion epilogue``;
    ``sim.api.fuse_schedules`` decides per group whether the chosen schedule allows it, ``ConvShape.residual``).
    An Add of two feature maps of the same shape (no
    broadcast, no constant) where one operand is the output of a Conv that nothing else reads (so the Conv has no
    fused activation and no output-path chain of its own: MBConv's linear project conv) and the other operand, the
    skip, exists before that Conv runs (a graph input or produced earlier in graph order): the Conv's requantized
    output tile and the skip tile of the same region are added with the ADD kernel's int8 arithmetic and only the
    sum is written. Where both operands qualify, the Conv later in graph order is chosen."""
    consumers = graph.consumers()
    order = {n.name: i for i, n in enumerate(graph.nodes)}
    producer = {n.output: n for n in graph.nodes}

    def made_before(t: str, conv: Node) -> bool:
        p = producer.get(t)
        return p is None or order[p.name] < order[conv.name]

    out: dict[str, str] = {}
    for n in graph.nodes:
        if n.op != "Add" or len(n.inputs) != 2 or n.weights or n.inputs[0] == n.inputs[1]:
            continue
        a, b = n.inputs
        if graph.shape(a) != graph.shape(b) or len(graph.shape(a)) != 4:
            continue
        cands = [p for t, skip in ((a, b), (b, a)) if (p := producer.get(t)) is not None and p.op == "Conv"
                 and consumers.get(t, []) == [n.name] and t != graph.output and made_before(skip, p)]
        if cands:
            out[n.name] = max(cands, key=lambda p: order[p.name]).name
    return out


def residual_activations(graph: Graph) -> dict[str, str]:
    """Relu / Relu6 -> the residual Add (``residual_adds``) whose output it alone reads (ResNet's Add -> ReLU, which
    TFLite's converter fuses into the ADD): with the Add on its Conv's output path, it is applied to each output
    tile after the skip is added, and the Add's output is never written."""
    consumers = graph.consumers()
    out: dict[str, str] = {}
    for add in residual_adds(graph):
        t = graph.node(add).output
        users = consumers.get(t, [])
        if len(users) == 1 and t != graph.output:
            act = graph.node(users[0])
            if fused_activation_kind(act) and act.inputs[0] == t:
                out[act.name] = add
    return out


def fused_pools(graph: Graph) -> dict[str, str]:
    """GlobalAveragePool -> the Conv / Gemm whose output path accumulates it (``--fusion epilogue``; ``sim.api``
    decides per group whether the chosen schedule has room for the running sums, ``mapping.epilogue.pool_plan``):
    a pool reading the tensor a Conv's group writes (its epilogue chain's last tensor, else its fused activation's
    or its own output). Either something else reads that tensor too (the SE squeeze after a depthwise conv's SiLU,
    whose feature map is scaled next), or the pool is its only reader (a classifier's pool, ``sole_reader_pools``:
    the tensor need not be written at all). Each output tile adds its elements to per-channel int32 sums as it is
    produced; the pool's int8 means come from the sums with the MEAN kernel's rounding, and the pool has no pass of
    its own."""
    out: dict[str, str] = {}
    for pool, conv, _ in _pool_readers(graph):
        out[pool] = conv
    return out


def sole_reader_pools(graph: Graph) -> frozenset[str]:
    """The pools of ``fused_pools`` that are the only reader of the tensor they pool."""
    return frozenset(pool for pool, _, sole in _pool_readers(graph) if sole)


def _pool_readers(graph: Graph) -> Iterator[tuple[str, str, bool]]:
    """(pool, the Conv / Gemm whose group writes its input, whether the pool is that tensor's only reader)."""
    consumers = graph.consumers()
    chains = epilogue_chains(graph)
    for n in graph.nodes:
        if n.op not in FUSING_OPS:
            continue
        act = fused_activation(graph, n, consumers)
        t = graph.node(chains[n.name][-1]).output if n.name in chains else (act or n).output
        readers = consumers.get(t, [])
        for u in readers:
            p = graph.node(u)
            if p.op == "GlobalAveragePool" and t != graph.output and len(graph.shape(t)) == 4:
                yield p.name, n.name, len(readers) == 1
