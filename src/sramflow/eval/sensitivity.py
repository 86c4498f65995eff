"""Per-layer INT4 sensitivity of a quantized model (HAWQ's question, answered by measurement): each weighted layer
alone at 4 bits (post-training, ``quant.weight_bits``), its logits on a labelled split compared with the INT8 model's.

The ranking measure is the mean KL divergence of the layer's softmax from the INT8 model's (continuous, so it ranks
layers whose accuracy on a few hundred images moves by a handful of images, where accuracy and balanced accuracy are
noise); accuracy, balanced accuracy and top-1 agreement are kept beside it. A mix then takes the layers of least
KL (``spec_for``); its accuracy must be measured as a whole (``sramflow evaluate --weight-bits``): sensitivities do
not add up exactly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from sramflow.eval.metrics import compute_metrics
from sramflow.ir.graph import Graph
from sramflow.ir.precision import layer_name, node_group
from sramflow.ir.qgraph import QuantizedGraph
from sramflow.quant.weight_bits import _requantized

Predict = Callable[[QuantizedGraph, np.ndarray], np.ndarray]  # (model, NCHW float batch) -> logits


@dataclass(frozen=True)
class LayerSensitivity:
    layer: str  # ``ir.precision.layer_name`` of the node
    group: str
    kl: float  # mean KL(INT8 softmax || this layer at 4 bits), nats per image
    accuracy: float
    balanced_accuracy: float
    agreement: float  # top-1 agreement with the INT8 model


def softmax(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def mean_kl(ref_logits: np.ndarray, logits: np.ndarray) -> float:
    """Mean over rows of KL(softmax(ref) || softmax(logits)); 0 for equal logits."""
    p, q = softmax(ref_logits), softmax(logits)
    tiny = np.finfo(np.float64).tiny
    return float(np.mean(np.sum(p * (np.log(np.maximum(p, tiny)) - np.log(np.maximum(q, tiny))), axis=1)))


def weighted_layers(graph: Graph, groups: Sequence[str] | None = None) -> list[str]:
    """The layer names of the weighted nodes (in ``groups``; None: all), in graph order."""
    return [layer_name(n.name) for n in graph.nodes
            if node_group(graph, n) is not None and (groups is None or node_group(graph, n) in groups)]


def with_layer_at(graph: Graph, q: QuantizedGraph, layer: str, bits: int = 4) -> QuantizedGraph:
    """``q`` with one layer's weights requantized at ``bits`` (the others as they are)."""
    ops = []
    for op in q.ops:
        if "weights" in op.params and layer_name(op.ir_nodes[0]) == layer:
            node = graph.node(op.ir_nodes[0])
            op = dataclasses.replace(_requantized(graph, q, op, bits),
                                     attrs=dict(op.attrs, weight_bits=bits, weight_group=node_group(graph, node)))
        ops.append(op)
    return dataclasses.replace(q, ops=tuple(ops))


def layer_sensitivities(graph: Graph, q: QuantizedGraph, x: np.ndarray, labels: np.ndarray,
                        class_names: Sequence[str], layers: Sequence[str], predict: Predict,
                        bits: int = 4, progress: Callable[[str], None] | None = None) -> list[LayerSensitivity]:
    """Each of ``layers`` alone at ``bits`` on images ``x`` (labels ``labels``), against the INT8 model ``q``."""
    groups = {layer_name(n.name): node_group(graph, n) for n in graph.nodes if node_group(graph, n) is not None}
    ref = predict(q, x)
    out = []
    for layer in layers:
        z = predict(with_layer_at(graph, q, layer, bits), x)
        m = compute_metrics(labels, z.argmax(1), class_names, None)
        out.append(LayerSensitivity(layer, groups[layer], mean_kl(ref, z), m.accuracy, m.balanced_accuracy,
                                    float(np.mean(z.argmax(1) == ref.argmax(1)))))
        if progress is not None:
            progress(layer)
    return out


def spec_for(layers: Sequence[str], bits: int = 4, base: str = "default=8") -> str:
    """A ``--weight-bits`` spec giving exactly ``layers`` ``bits`` on top of ``base`` (glob characters in a name
    are escaped, so each token names its layer alone)."""
    def exact(name: str) -> str:
        escaped = "".join(f"[{c}]" if c in "*?[" else c for c in name)
        # a token needs a layer mark: a name with none gets its last character as a one-character class
        return escaped if any(c in escaped for c in "./*?[") else f"{escaped[:-1]}[{escaped[-1]}]"
    return ",".join([base, *(f"{exact(n)}={bits}" for n in layers)])


def least_sensitive(rows: Sequence[LayerSensitivity], max_kl: float) -> list[str]:
    """The layers whose KL is at most ``max_kl``, in the order of ``rows``."""
    return [r.layer for r in rows if r.kl <= max_kl]
