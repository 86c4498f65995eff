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

``concat_requantize`` is the one rule, read by the importer (it inserts the nodes), the quantizer and the mapper,
for which Concat inputs can be given the Concat's own scale and zero point (TFLite's int8 CONCATENATION requires
every input to have the output's): an input produced by an op whose output scale is free and read by nothing
else. Any other input (the graph input, a tensor also read elsewhere, the output of an op with a fixed or
inherited scale) gets a Requantize node in front of the Concat: TFLite's QUANTIZE int8 -> int8, the converter's
requantize op.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
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


def _concat_shape(ins: Sequence[Shape], a: Mapping[str, Any]) -> Shape:
    axis = int(a["axis"])
    rest = {tuple(s[:axis]) + tuple(s[axis + 1:]) for s in ins}
    if len(rest) != 1 or not all(len(s) == len(ins[0]) for s in ins):
        raise GraphError(f"Concat on axis {axis}: input shapes {list(ins)} differ off that axis")
    out = list(ins[0])
    out[axis] = sum(int(s[axis]) for s in ins)
    return tuple(out)


def _slice_shape(ins: Sequence[Shape], a: Mapping[str, Any]) -> Shape:
    axis, start, end = int(a["axis"]), int(a["start"]), int(a["end"])
    if not 0 <= start < end <= ins[0][axis]:
        raise GraphError(f"Slice [{start}, {end}) of axis {axis} is empty or outside {ins[0]}")
    out = list(ins[0])
    out[axis] = end - start
    return tuple(out)


def _pad_shape(ins: Sequence[Shape], a: Mapping[str, Any]) -> Shape:
    n, c, h, w = ins[0]
    t, left, b, r = a["pads"]
    return (n, c, h + t + b, w + left + r)


def _shuffle_shape(ins: Sequence[Shape], a: Mapping[str, Any]) -> Shape:
    if len(ins[0]) != 4 or ins[0][1] % int(a["groups"]):
        raise GraphError(f"ChannelShuffle of {ins[0]} in {a['groups']} groups: channels must divide")
    return tuple(ins[0])


def _concat(a: Mapping[str, Any], xs: Sequence[np.ndarray], fill: float) -> np.ndarray:
    return np.concatenate(xs, axis=int(a["axis"]))


def _slice(a: Mapping[str, Any], xs: Sequence[np.ndarray], fill: float) -> np.ndarray:
    idx = [slice(None)] * xs[0].ndim
    idx[int(a["axis"])] = slice(int(a["start"]), int(a["end"]))
    return np.ascontiguousarray(xs[0][tuple(idx)])


def _pad(a: Mapping[str, Any], xs: Sequence[np.ndarray], fill: float) -> np.ndarray:
    t, left, b, r = a["pads"]
    return np.pad(xs[0], ((0, 0), (0, 0), (t, b), (left, r)), constant_values=np.asarray(fill, xs[0].dtype))


def shuffle_order(channels: int, groups: int) -> np.ndarray:
    """Output channel o reads input channel order[o]: view (groups, C / groups), transpose, flatten (ShuffleNet's
    channel_shuffle)."""
    return np.arange(channels).reshape(groups, channels // groups).T.reshape(-1)


def _shuffle(a: Mapping[str, Any], xs: Sequence[np.ndarray], fill: float) -> np.ndarray:
    return np.ascontiguousarray(xs[0][:, shuffle_order(xs[0].shape[1], int(a["groups"]))])


MOVEMENT_OPS: tuple[MovementOp, ...] = (
    MovementOp("Concat", "CONCATENATION", _concat_shape, _concat, "addressing",
               "each input's producer stores straight into its contiguous block of the output"),
    MovementOp("Slice", "SLICE", _slice_shape, _slice, "addressing",
               "its consumers load the contiguous block of the input in place"),
    MovementOp("Pad", "PAD", _pad_shape, _pad, "window"),
    # not folded into the consumer's load addressing: a convolution's input tiles span several channel planes
    MovementOp("ChannelShuffle", "CHANNEL_SHUFFLE", _shuffle_shape, _shuffle, "gather",
               gather=lambda a, c: shuffle_order(c, int(a["groups"]))),
)
BY_OP: dict[str, MovementOp] = {m.op: m for m in MOVEMENT_OPS}
BY_KIND: dict[str, MovementOp] = {m.kind: m for m in MOVEMENT_OPS}
MOVEMENT_KINDS: tuple[str, ...] = tuple(BY_KIND)

# Ops whose int8 output scale and zero point the quantizer takes from the output's own range, with no constraint
# of the op's (so it can be the Concat's): everything else is fixed (LOGISTIC, SOFTMAX, HardSigmoid's [0, 1]) or
# inherited from the input (pooling, Reshape, Clip's MAXIMUM / MINIMUM, the movement ops).
FREE_SCALE_OPS = ("Conv", "Gemm", "Add", "Sub", "Mul", "Relu", "LeakyRelu", "PRelu", "HardSwish",
                  "GlobalAveragePool", "Requantize")


def contiguous_block(shape: Shape, axis: int) -> bool:
    """A block along ``axis`` is one contiguous run of the NCHW tensor (every dimension before it is 1), so
    producers or consumers can address it in place."""
    return all(int(d) == 1 for d in shape[:axis])


def concat_input_shares_scale(producer_op: str | None, readers: int, is_graph_output: bool) -> bool:
    """Whether a Concat input can take the Concat's scale and zero point (module doc)."""
    return producer_op in FREE_SCALE_OPS and readers == 1 and not is_graph_output


def concat_requantize(nodes: Sequence[Any], graph_output: str, make_node: Callable[..., Any]) -> list[Any]:
    """``nodes`` (``ir.graph.Node``, topological) with a Requantize node inserted in front of every Concat input
    that cannot share the Concat's scale; ``make_node(name, op, inputs, output)`` builds one. The Requantize's
    output tensor is named ``<concat>/requant<i>`` and has the input's shape."""
    producer = {n.output: n.op for n in nodes}
    readers: dict[str, int] = {}
    for n in nodes:
        for t in n.inputs:
            readers[t] = readers.get(t, 0) + 1
    out: list[Any] = []
    for n in nodes:
        if n.op != "Concat":
            out.append(n)
            continue
        ins = list(n.inputs)
        for i, t in enumerate(n.inputs):
            if not concat_input_shares_scale(producer.get(t), readers[t], t == graph_output):
                ins[i] = f"{n.name}/requant{i}"
                out.append(make_node(f"{n.name}/requant{i}", "Requantize", (t,), ins[i]))
        out.append(replace(n, inputs=tuple(ins)))
    return out
