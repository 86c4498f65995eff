"""Mixed INT8 / INT4 weights: requantize the weighted ops of a quantized graph at the bits a ``--weight-bits``
spec gives their layer group (``sramflow.ir.precision``).

INT4 weights are per-output-channel symmetric in [-7, 7] (scale = max|w| / 7), the 4-bit analogue of the
int8 path's [-127, 127]: the narrow range keeps the code symmetric around 0 (-8 is never used), as LiteRT's
symmetric int8 weights never use -128. They are held as int8 values (the integer reference and the functional
simulator's kernels take int8 arrays; a value in [-7, 7] is exact there), and packed two per byte only where
they are stored: the SRAM (``sramflow.funcsim``) and the .tflite (``TensorType.INT4``). Activations stay int8,
biases int32 with scale in_scale x w_scale, multipliers from the new weight scales exactly as for int8.
A weighted op's ``attrs["weight_bits"]`` says which (absent: 8) and ``attrs["weight_group"]`` its layer group.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from sramflow.errors import QuantizationError
from sramflow.ir.graph import Graph
from sramflow.ir.precision import all_int8, check_layers, node_group, node_weight_bits, weight_bits_of
from sramflow.ir.qgraph import QOp, QuantizedGraph
from sramflow.quant.quantize import per_channel_multipliers, quantize_bias
from sramflow.reference.requant import round_half_away_array

INT4_QMAX = 7  # symmetric [-7, 7]


def qmax(bits: int) -> int:
    """The largest weight code of a symmetric ``bits``-bit per-channel quantizer (127, 7)."""
    return (1 << (bits - 1)) - 1


def quantize_weights_bits(w: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per output channel (axis 0): scale = max|w| / qmax (float32), q in [-qmax, qmax], held int8."""
    top = qmax(bits)
    flat = w.reshape(w.shape[0], -1).astype(np.float64)
    max_abs = np.abs(flat).max(axis=1)
    scales = np.where(max_abs > 0, max_abs / float(top), 1.0).astype(np.float32)
    q = np.clip(round_half_away_array(flat / scales.astype(np.float64)[:, None]), -top, top)
    return q.astype(np.int8).reshape(w.shape), scales


def op_weight_bits(op: QOp) -> int:
    return int(op.attrs.get("weight_bits", 8))


def _requantized(graph: Graph, q: QuantizedGraph, op: QOp, bits: int) -> QOp:
    node = graph.node(op.ir_nodes[0])
    tin, tout = q.tensor(op.inputs[0]), q.tensor(op.output)
    wq, ws = quantize_weights_bits(node.weights["W"], bits)
    if wq.shape != np.asarray(op.params["weights"]).shape:
        raise QuantizationError(f"op {op.name!r}: node {node.name!r} weights {node.weights['W'].shape} do not match "
                                f"the quantized {np.asarray(op.params['weights']).shape}: pass the graph that was quantized")
    mult, shift = per_channel_multipliers(tin.scale, ws, tout.scale)
    params = dict(op.params, weights=wq, weight_scales=ws, bias=quantize_bias(node.weights["B"], tin.scale, ws),
                  multiplier=mult, shift=shift)
    if op.kind == "FULLY_CONNECTED":
        params["effective_scale"] = np.array([float(tin.scale) * float(s) / float(tout.scale) for s in ws], np.float64)
    return dataclasses.replace(op, attrs=dict(op.attrs, weight_bits=bits), params=params)


def with_weight_bits(graph: Graph, q: QuantizedGraph, spec: Any) -> QuantizedGraph:
    """``q`` (the INT8 quantization of ``graph``) with every weighted op at its group's bits; ``q`` itself when
    the spec is all 8. The activation quantization (ranges, zero points) is unchanged."""
    if all_int8(spec):
        return q
    check_layers(graph, spec)
    ops = []
    for op in q.ops:
        if "weights" in op.params:
            node = graph.node(op.ir_nodes[0])
            bits = node_weight_bits(graph, node, spec)
            op = _requantized(graph, q, op, bits) if bits != 8 else op
            op = dataclasses.replace(op, attrs=dict(op.attrs, weight_bits=bits, weight_group=node_group(graph, node)))
        ops.append(op)
    return dataclasses.replace(q, ops=tuple(ops))


def spec_mismatches(q: QuantizedGraph, spec: Any) -> list[str]:
    """Weighted ops of a stored model whose bits are not those ``spec`` gives their layer or group (an op without
    a recorded group is an INT8 model's: it matches an all-8 spec only)."""
    bad = []
    for op in q.ops:
        if "weights" not in op.params:
            continue
        group = op.attrs.get("weight_group")
        want = weight_bits_of(op.ir_nodes[0], group, spec) if group else (8 if all_int8(spec) else None)
        if want != op_weight_bits(op):
            bad.append(f"{op.name} ({group or 'no group recorded'}): {op_weight_bits(op)} bits")
    return bad


def weight_bits_summary(q: QuantizedGraph) -> dict[str, int]:
    """Weighted ops per weight precision, e.g. {"8": 3, "4": 62}."""
    out: dict[str, int] = {}
    for op in q.ops:
        if "weights" in op.params:
            b = str(op_weight_bits(op))
            out[b] = out.get(b, 0) + 1
    return out
