"""Nodes fused into the node that produces their input (``sramflow.ir.fusion``): a Relu / Relu6 whose clamp is
part of a Conv / Gemm's requantize stage, the Mul of x * HardSigmoid(x) whose product is the HardSigmoid pass's
HARD_SWISH table look-up. The node costs nothing of its own. It is still mapped and reported (as fused, naming
the node it is fused into), never dropped."""

from __future__ import annotations

from dataclasses import dataclass

from sramflow.cost.counts import Counts
from sramflow.ir.movement import MOVEMENT_OPS
from sramflow.mapping.schedule import Buffer

# how the producer's pass computes the fused node, by the producer's op
HOW = {"Conv": "clamp in its requantize stage", "Gemm": "clamp in its requantize stage",
       "HardSigmoid": "its HARD_SWISH table look-up yields the product",
       # pure addressing (``into`` is the node itself, ``ir.movement`` mapping "addressing"): no byte moves
       **{m.op: f"pure addressing: {m.how}" for m in MOVEMENT_OPS if m.mapping == "addressing"}}


@dataclass(frozen=True)
class FusedShape:
    name: str
    op: str
    into: str  # the node whose pass computes this one
    into_op: str = "Conv"
    epilogue: bool = False  # part of the element-wise chain on the producer's output path (``mapping.epilogue``)
    input_scale: bool = False  # an SE channel scale applied on its consumer's (``into``) input path
    residual: bool = False  # a residual Add whose skip tile its producer (``into``) adds on its output path
    pool: bool = False  # a global average pool its producer (``into``) accumulates on its output path
    sole_reader: bool = False  # that pool is the only reader of the producer's output (which need not be written)
    after_residual: bool = False  # an activation applied after its producer's residual Add, on the output path

    @property
    def link(self) -> bool:
        """A link of the element-wise chain on its producer's output path (``EpilogueSchedule.members``): an epilogue
        node that is none of the pool, the residual Add, the activation after it, or the SE scale."""
        return self.epilogue and not (self.pool or self.residual or self.after_residual or self.input_scale)

    @property
    def how(self) -> str:
        if self.pool:
            return ("its producer adds each output tile to per-channel int32 sums held in SRAM words and writes the "
                    "int8 means (MEAN rounding) when a channel's last tile is done"
                    + ("; the pool is the only reader of the producer's output, which is not stored where the "
                       "producer's outputs go straight off-chip" if self.sole_reader else ""))
        if self.residual:
            return ("its producer loads the skip tile into the output buffer and adds it (int8 ADD) before each output "
                    "tile is written")
        if self.after_residual:
            return "applied by its producer to each output tile after the residual Add, before the tile is written"
        if self.input_scale:
            return "its input loads multiply each channel by the scale vector (int8 MUL) as they arrive"
        if self.epilogue:
            return "its epilogue on the vector unit, applied to each output tile before it is written"
        return HOW[self.into_op]


@dataclass(frozen=True)
class FusedSchedule:
    shape: FusedShape
    buffers: tuple[Buffer, ...] = ()
    double_buffered: bool = False
    counts: Counts = Counts()
    fits_whole: bool = True
    unit: str = "fused"

    @property
    def note(self) -> str:
        if self.shape.into == self.shape.name:
            return f"{self.shape.op}: {self.shape.how} (no pass of its own)"
        return f"{self.shape.op} fused into {self.shape.into!r} ({self.shape.how}; no pass of its own)"

    def steps(self):  # noqa: ANN201 - no steps: the producer's pass computes the node
        return iter(())
