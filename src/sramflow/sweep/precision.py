"""Weight precision per layer group for the sweep: 8 or 4 bits (the spec parser is ``sramflow.ir.precision``).

A ``weight_bits`` value is 8, 4, or a mapping ``{group: bits}`` over WEIGHT_GROUPS (``default`` fills the
groups not named) with optional layer patterns (``features.6.*``: single layers). Its canonical form is the int
when every group has the same precision and no layer is named, otherwise a string ``"stem=8,depthwise=4,..."``
listing every group and then the layer tokens, so equal settings hash equally.

INT4 accuracy is NOT measured by the sweep: results carry ``accuracy_assumption`` saying so, unless
weights/precision_accuracy.json (``sramflow.eval.precision_table``) holds a measured row for the spec and the
checkpoint's sha256.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sramflow.ir.precision import (ALLOWED_BITS, WEIGHT_GROUPS, all_int8, canonical_weight_bits,  # noqa: F401
                                   check_layers, group_bits, node_group, node_weight_bits,
                                   spec_bit_widths)  # re-exported: the sweep's names
from sramflow.mapping.conv import ConvShape
from sramflow.sim.api import PreparedGraph

INT8_ASSUMPTION = "INT8 accuracy as measured by `sramflow evaluate` (not re-measured per point)"
INT4_ASSUMPTION = ("INT4 accuracy not measured; assumed unchanged from INT8 (optimistic: INT4 weights "
                   "usually lose accuracy without quantization-aware training)")


def accuracy_assumption(value: Any, checkpoint_sha256: str | None = None) -> str:
    """The measured figure when the table has this spec for this checkpoint (``checkpoint_sha256``; None: no
    checkpoint known, so no table row can be trusted), otherwise the assumption."""
    if checkpoint_sha256 is not None:
        from sramflow.eval.precision_table import measured_accuracy

        m = measured_accuracy(value, checkpoint_sha256)
        if m.entry is not None:
            e = m.entry
            return (f"{m.note}: accuracy {e['accuracy']:.4f} {e['accuracy_ci95']}, balanced accuracy "
                    f"{e['balanced_accuracy']:.4f} {e['balanced_accuracy_ci95']}")
    return INT4_ASSUMPTION if 4 in spec_bit_widths(value) else INT8_ASSUMPTION


def with_weight_bits(prep: PreparedGraph, value: Any) -> PreparedGraph:
    """``prep`` with each Conv/Gemm's ``ConvShape.weight_bits`` set from its layer group or layer token (packed
    weights: off-chip bytes, SRAM words and footprint shrink; MAC counts do not change). Pooling shapes have no
    weights."""
    if all_int8(value):
        return prep
    check_layers(prep.graph, value)
    shapes = []
    for node, shape in zip(prep.graph.nodes, prep.shapes):
        if isinstance(shape, ConvShape) and node_group(prep.graph, node) is not None and not shape.pool_op:
            shape = dataclasses.replace(shape, weight_bits=node_weight_bits(prep.graph, node, value))
        shapes.append(shape)
    return dataclasses.replace(prep, shapes=tuple(shapes))  # the same graph and fusion mode
