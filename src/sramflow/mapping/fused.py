"""Activations fused into the Conv / Gemm that produces their input (``sramflow.ir.fusion``): the clamp is
part of that layer's requantize stage, so the node costs nothing of its own. It is still mapped and
reported (as fused, naming the layer), never dropped."""

from __future__ import annotations

from dataclasses import dataclass

from sramflow.mapping.counts import Counts
from sramflow.mapping.schedule import Buffer


@dataclass(frozen=True)
class FusedShape:
    name: str
    op: str
    into: str  # the Conv / Gemm node whose requantize applies the clamp


@dataclass(frozen=True)
class FusedSchedule:
    shape: FusedShape
    buffers: tuple[Buffer, ...] = ()
    double_buffered: bool = False
    counts: Counts = Counts()
    fits_whole: bool = True

    @property
    def note(self) -> str:
        return f"{self.shape.op} fused into {self.shape.into!r} (clamp in its requantize stage; no pass of its own)"

    def steps(self):  # noqa: ANN201 - no steps: the producer's requantize applies the clamp
        return iter(())
