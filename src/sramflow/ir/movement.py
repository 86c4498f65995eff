"""Data-movement operators as data: one row per IR op that only moves or copies elements (Concat, Slice, Pad,
ChannelShuffle), read generically by every stage.

A row holds what is the same at every stage because the op never looks at values: its output shape and ``apply``,
the index arithmetic on NCHW arrays with the batch axis first, for any dtype. The float executor, the integer
reference (through its NCHW view) and the functional simulator all call ``apply``; only Pad's fill value differs
between float (``attrs["value"]``) and int8 (the quantized fill), so it is an argument. ``kind`` is the QOp kind
the quantizer emits; by default the int8 output keeps the input's scale and zero point (the TFLite quantization
spec's same-scale ops), and a quantizer ``op_<Op>`` exists only where that is not all (Concat, Pad's fill).
``mapping`` says how the mapper costs it, one of ``MAPPINGS``:
- "addressing": no pass and no byte moved when the block is one contiguous run of the NCHW tensor (``how`` says
  who addresses it in place); a strided block is refused by name;
- "window": a 1 x 1 window pass on the vector unit (the pooling path) whose out-of-image taps the DMA fills with
  ``attrs["fill"]``: every input byte loaded once, every output byte stored once;
- "gather": a copy by channel planes, the load of output plane c reading input plane ``gather(attrs, C)[c]``:
  every byte loaded and stored once.
What stays code per op: the importer's handler and the .tflite emitter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sramflow.errors import GraphError

Shape = tuple[int, ...]
ShapeFn = Callable[[Sequence[Shape], Mapping[str, Any]], Shape]
ApplyFn = Callable[[Mapping[str, Any], Sequence[np.ndarray], float], np.ndarray]  # (attrs, inputs, fill) -> out


MAPPINGS = ("addressing", "window", "gather")


@dataclass(frozen=True)
class MovementOp:
    op: str  # the IR op name
    kind: str  # the QOp kind the quantizer emits
    shape: ShapeFn
    apply: ApplyFn
    mapping: str  # one of MAPPINGS
    how: str = ""  # "addressing": who addresses the block in place
    gather: Callable[[Mapping[str, Any], int], np.ndarray] | None = None  # "gather": input plane of each output plane

    def __post_init__(self) -> None:
        if self.mapping not in MAPPINGS or (self.mapping == "gather") != (self.gather is not None):
            raise GraphError(f"movement op {self.op!r}: mapping {self.mapping!r} (one of {MAPPINGS}; 'gather' and "
                             "only it names its plane order)")


MOVEMENT_OPS: tuple[MovementOp, ...] = (
)
BY_OP: dict[str, MovementOp] = {m.op: m for m in MOVEMENT_OPS}
BY_KIND: dict[str, MovementOp] = {m.kind: m for m in MOVEMENT_OPS}
MOVEMENT_KINDS: tuple[str, ...] = tuple(BY_KIND)

def contiguous_block(shape: Shape, axis: int) -> bool:
    """A block along ``axis`` is one contiguous run of the NCHW tensor (every dimension before it is 1), so
    producers or consumers can address it in place."""
    return all(int(d) == 1 for d in shape[:axis])

