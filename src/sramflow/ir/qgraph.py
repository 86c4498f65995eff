"""The quantized graph: frozen, typed, everything the integer kernels and the .tflite exporter need.

Tensors keep the IR's NCHW shapes and names. Each ``QOp`` is one TFLite builtin op (``kind``) and may
cover several IR nodes (a Conv with its ReLU/ReLU6 fused); CLIP (MAXIMUM + MINIMUM) and HARD_SIGMOID
(MUL + ADD, whose intermediate tensor is ``attrs["intermediate"]``) are exported as two builtins. ``params`` hold the integer data: int8
weights (IR layout), int32 bias, per-channel multipliers and shifts, lookup tables, int8 constants.

It is pure data in the IR layer: ``quant`` builds it, and the integer reference, the .tflite exporter and the
functional simulator read it without importing the quantizer.

A quantized graph records the IR graph it was quantized from (``source_graph``: ``graph_fingerprint`` of it, the
structure and shapes, not the weights' values), so a consumer joins the two structurally: ``ops_by_position``
gives each IR node's QOp by position once the fingerprints agree, and names a mismatch otherwise.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sramflow.errors import GraphMismatchError, QuantizationError
from sramflow.ir.elementwise import ELEMENTWISE_KINDS
from sramflow.ir.graph import Graph
from sramflow.ir.movement import MOVEMENT_KINDS
from sramflow.jsonio import write_json_atomic

KINDS = (
    "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "MEAN", "MAX_POOL_2D", "AVERAGE_POOL_2D", "RESHAPE", "SOFTMAX",
    "RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR",
    *ELEMENTWISE_KINDS,  # the element-wise kinds come from ir.elementwise
    *MOVEMENT_KINDS,  # the data-movement kinds from ir.movement
)
FUSED_ACTIVATIONS = ("NONE", "RELU", "RELU6")


@dataclass(frozen=True)
class QTensor:
    """Per-tensor asymmetric int8: real = scale * (q - zero_point). ``scale`` is a float32 value."""

    name: str
    shape: tuple[int, ...]
    scale: float
    zero_point: int

    def __post_init__(self) -> None:
        if not (self.scale > 0 and np.isfinite(self.scale)):
            raise QuantizationError(f"tensor {self.name!r}: scale must be positive and finite, got {self.scale}")
        if not -128 <= self.zero_point <= 127:
            raise QuantizationError(f"tensor {self.name!r}: zero point {self.zero_point} outside int8")


@dataclass(frozen=True)
class QOp:
    name: str
    kind: str
    inputs: tuple[str, ...]  # activation tensors only; constants live in params
    output: str
    ir_nodes: tuple[str, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise QuantizationError(f"op {self.name!r}: unknown kind {self.kind!r}")

    @property
    def tensors_written(self) -> tuple[str, ...]:
        """Every activation tensor the op defines in the .tflite, in order: an intermediate the lowering
        adds (HARD_SIGMOID's MUL result) and then the output."""
        mid = self.attrs.get("intermediate")
        return (mid, self.output) if mid else (self.output,)


@dataclass(frozen=True)
class QuantizedGraph:
    name: str
    input: str
    output: str
    tensors: Mapping[str, QTensor]
    ops: tuple[QOp, ...]
    method: str
    calibration: str  # where the activation ranges came from, e.g. "256 images from ..." or "random (16)"
    source_graph: str = ""  # ``graph_fingerprint`` of the IR graph it was quantized from ("": not recorded)

    def tensor(self, name: str) -> QTensor:
        return self.tensors[name]

    def op(self, name: str) -> QOp:
        for o in self.ops:
            if o.name == name:
                return o
        raise KeyError(name)

    def check_source(self, graph: Graph) -> None:
        """``GraphMismatchError`` unless this graph was quantized from ``graph`` (same structure and shapes)."""
        fp = graph_fingerprint(graph)
        if self.source_graph != fp:
            was = f"fingerprint {self.source_graph[:12]}" if self.source_graph else "no recorded source graph"
            raise GraphMismatchError(
                f"quantized graph {self.name!r} ({was}) was not quantized from graph {graph.name!r} (fingerprint "
                f"{fp[:12]}): rerun 'sramflow quantize' (or 'sramflow run') on this model and resolution")

    def ops_by_position(self, graph: Graph) -> tuple[QOp | None, ...]:
        """The QOp covering each node of ``graph``, by position (None: a node the quantizer left out, e.g. a
        Reshape copy), after ``check_source``."""
        self.check_source(graph)
        position = {n.name: i for i, n in enumerate(graph.nodes)}
        out: list[QOp | None] = [None] * len(graph.nodes)
        for op in self.ops:
            for n in op.ir_nodes:
                out[position[n]] = op
        return tuple(out)


def graph_fingerprint(graph: Graph) -> str:
    """SHA-256 of a graph's structure: its input and output, every node's name, op, inputs, output, attributes and
    weight shapes in order, and every tensor's shape. Two graphs lowered to the same schedules and quantized to the
    same ops agree; the weights' values are not hashed (cheap on full-size models)."""
    h = hashlib.sha256()
    h.update(repr((graph.input, graph.output, sorted((k, tuple(v)) for k, v in graph.shapes.items()))).encode())
    for n in graph.nodes:
        attrs = sorted((k, repr(v)) for k, v in n.attrs.items())
        weights = sorted((k, tuple(np.shape(v))) for k, v in n.weights.items())
        h.update(repr((n.name, n.op, tuple(n.inputs), n.output, attrs, weights)).encode())
    return h.hexdigest()


def _jsonable(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    return v


def save_qgraph(q: QuantizedGraph, folder: str | Path) -> tuple[Path, Path]:
    """Write ``quantized.npz`` (arrays) and ``quantized.json`` (everything else)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    ops = []
    for i, o in enumerate(q.ops):
        keys = {}
        for k, a in o.params.items():
            key = f"op{i}__{k}"
            arrays[key] = np.asarray(a)
            keys[k] = key
        ops.append({"name": o.name, "kind": o.kind, "inputs": list(o.inputs), "output": o.output,
                    "ir_nodes": list(o.ir_nodes), "attrs": {k: _jsonable(v) for k, v in o.attrs.items()},
                    "params": keys})
    meta = {"format": "sramflow-quantized-1", "name": q.name, "input": q.input, "output": q.output,
            "method": q.method, "calibration": q.calibration, "source_graph": q.source_graph,
            "tensors": [{"name": t.name, "shape": list(t.shape), "scale": t.scale, "zero_point": t.zero_point}
                        for t in q.tensors.values()],
            "ops": ops}
    npz, js = folder / "quantized.npz", folder / "quantized.json"
    np.savez_compressed(npz, **arrays)
    write_json_atomic(js, meta)  # atomic, and with the run's provenance
    return npz, js


def _attr(v: Any) -> Any:
    return tuple(_attr(x) for x in v) if isinstance(v, list) else v


def load_qgraph(folder: str | Path) -> QuantizedGraph:
    folder = Path(folder)
    js, npz = folder / "quantized.json", folder / "quantized.npz"
    if not js.exists() or not npz.exists():
        raise QuantizationError(f"{folder}: no quantized model (quantized.json + quantized.npz); run 'sramflow quantize' first")
    meta = json.loads(js.read_text())
    if meta.get("format") != "sramflow-quantized-1":
        raise QuantizationError(f"{js}: unknown format {meta.get('format')!r}")
    with np.load(npz) as arrays:
        data = {k: arrays[k] for k in arrays.files}
    tensors = {t["name"]: QTensor(t["name"], tuple(t["shape"]), float(t["scale"]), int(t["zero_point"]))
               for t in meta["tensors"]}
    ops = tuple(QOp(o["name"], o["kind"], tuple(o["inputs"]), o["output"], tuple(o["ir_nodes"]),
                    {k: _attr(v) for k, v in o["attrs"].items()}, {k: data[v] for k, v in o["params"].items()})
                for o in meta["ops"])
    return QuantizedGraph(meta["name"], meta["input"], meta["output"], tensors, ops, meta["method"], meta["calibration"],
                          meta.get("source_graph", ""))
