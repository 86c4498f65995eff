"""Exhaustive checks of element-wise int8 kernels against LiteRT BUILTIN_REF, many parameter sets per model.

Each parameter set (scales, zero points) is its own small QuantizedGraph with uniquely named tensors; all of
them are laid into ONE .tflite (every graph's activation inputs become model inputs) with the exporter's own
emitters, so one interpreter run checks hundreds of combinations. The integer reference runs each graph with
the production kernels (``reference.run``). Inputs cover every int8 value (unary) or every int8 pair (binary).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sramflow.ir.qgraph import QOp, QTensor, QuantizedGraph
from sramflow.reference.run import RUNNERS, run_int8
from sramflow.tflite.export import EMITTERS, _Builder, _schema
from sramflow.tflite.verify import reference_interpreter

ALL_INT8 = np.arange(-128, 128, dtype=np.int8)
PAIR_A = np.tile(ALL_INT8, 256)  # with PAIR_B: all 65,536 (a, b) pairs
PAIR_B = np.repeat(ALL_INT8, 256)


def graph_inputs(q: QuantizedGraph) -> list[str]:
    """The activation tensors ``q`` reads that none of its ops writes, in first-use order."""
    written = {t for op in q.ops for t in op.tensors_written}
    seen: list[str] = []
    for op in q.ops:
        seen += [t for t in op.inputs if t not in written and t not in seen]
    return seen


def merged_tflite(graphs: Sequence[QuantizedGraph]) -> bytes:
    """One .tflite holding every op of every graph (tensor names must be unique across graphs)."""
    import flatbuffers

    s = _schema()
    b = _Builder(s)
    b.buffer(None)
    inputs, outputs = [], []
    for q in graphs:
        inputs += [b.activation(q.tensor(name)) for name in graph_inputs(q)]
        for op in q.ops:
            EMITTERS[op.kind](b, q, op)
        outputs.append(b.index[q.output])
    sub = s.SubGraphT()
    sub.tensors, sub.inputs, sub.outputs, sub.operators, sub.name = b.tensors, inputs, outputs, b.operators, "main"
    model = s.ModelT()
    model.version, model.operatorCodes, model.subgraphs, model.buffers = 3, b.codes, [sub], b.buffers
    fb = flatbuffers.Builder(1 << 20)
    fb.Finish(model.Pack(fb), file_identifier=b"TFL3")
    return bytes(fb.Output())


def run_litert_named(model: bytes, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every int8 tensor of a BUILTIN_REF run, by name, with ``feeds`` (name -> int8 array) as inputs."""
    it = reference_interpreter(model)
    for d in it.get_input_details():
        it.set_tensor(d["index"], feeds[d["name"]].reshape(d["shape"]))
    it.invoke()
    return {d["name"]: it.get_tensor(d["index"]) for d in it.get_tensor_details()
            if d["dtype"] == np.int8 and d["name"]}


def reference_tensors(q: QuantizedGraph, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every tensor ``q`` writes, by the integer reference: ``run_int8`` for a one-input graph, the op's
    runner on the given operands otherwise (a binary op on two activations)."""
    ins = graph_inputs(q)
    if len(ins) == 1 and ins[0] == q.input:
        return run_int8(q, feeds[q.input])
    env = dict(feeds)
    for op in q.ops:
        env[op.output] = RUNNERS[op.kind](q, op, env)
    return env


@dataclass(frozen=True)
class Mismatch:
    graph: str
    tensor: str
    inputs: tuple[int, ...]  # the first differing input value(s)
    ours: int
    litert: int
    count: int


def mismatches(graphs: Sequence[QuantizedGraph], feeds: dict[str, np.ndarray]) -> list[Mismatch]:
    """Every tensor of every graph, integer reference vs one BUILTIN_REF run of the merged model."""
    lite = run_litert_named(merged_tflite(graphs), feeds)
    bad = []
    for q in graphs:
        ref = reference_tensors(q, feeds)
        ins = [feeds[name].ravel() for name in graph_inputs(q)]
        for op in q.ops:
            for name in op.tensors_written:
                a, b = ref[name].astype(np.int32).ravel(), lite[name].astype(np.int32).ravel()
                diff = np.flatnonzero(a != b)
                if diff.size:
                    i = int(diff[0])
                    bad.append(Mismatch(q.name, name, tuple(int(x[i]) for x in ins), int(a[i]), int(b[i]),
                                        int(diff.size)))
    return bad


def qtensor(name: str, shape: tuple[int, ...], scale: float, zero_point: int) -> QTensor:
    return QTensor(name, shape, float(np.float32(scale)), int(zero_point))


def single_op_graph(name: str, op: QOp, tensors: Sequence[QTensor]) -> QuantizedGraph:
    return QuantizedGraph(name, op.inputs[0], op.output, {t.name: t for t in tensors}, (op,), "test", "test")
