"""Epilogue fusion: a Conv / Gemm and the element-wise chain on its output path (``ir.fusion.epilogue_chains``)
are one group with one schedule, the convolution's.

The chain runs on the vector unit between the requantize stage and the SRAM write of each output tile: the
accumulators' requantized int8 outputs pass through the chain's table look-ups and ALU ops (each link with the
int8 rounding of its own TFLite kernel) and only the chain's last tensor is written, so the SRAM words, DMA
transfers and off-chip bytes are the convolution's own (its output has the chain's output size: every link is
element-wise). What the group adds is the vector unit's work: ``ConvShape.epilogue_ops`` ALU ops and
``epilogue_lut`` look-ups per output element, priced by the same cost model (vector energy per op / look-up;
vector cycles = ceil(work / lanes) over the layer's output stream, added to the compute time like any vector
work). The chain's tensors other than the last are never materialized.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

from sramflow.cost.counts import Counts, ceil_div
from sramflow.mapping.conv import ConvShape
from sramflow.mapping.schedule import Buffer, Step

FUSION_MODES = ("none", "epilogue", "depth-first")
DEPTH_FIRST_NOTE = ("depth-first groups are not implemented yet: every group falls back to epilogue fusion "
                    "(issue 17 item 2)")


def epilogue_delta(shape: ConvShape, lanes: int) -> dict[str, int]:
    """The counts the epilogue adds to the convolution's (zero without one)."""
    n = shape.output_bytes  # int8 outputs: one per element
    work = (shape.epilogue_ops + shape.epilogue_lut) * n
    return {"vector_ops": shape.epilogue_ops * n, "lut_ops": shape.epilogue_lut * n,
            "vector_cycles": ceil_div(work, lanes) if work else 0}


def with_epilogue(c: Counts, shape: ConvShape, lanes: int) -> Counts:
    d = epilogue_delta(shape, lanes)
    return dataclasses.replace(c, **{k: getattr(c, k) + v for k, v in d.items()})


@dataclass(frozen=True)
class EpilogueSchedule:
    """A fused group's schedule: the convolution's (``conv``, any of its schedule types) with the epilogue's vector
    work on every compute step that writes int8 outputs. ``members``: the fused nodes, in order."""

    conv: object  # ConvSchedule
    members: tuple[str, ...]
    lanes: int

    @property
    def shape(self) -> ConvShape:
        return self.conv.shape

    @property
    def buffers(self) -> tuple[Buffer, ...]:
        return self.conv.buffers

    @property
    def double_buffered(self) -> bool:
        return self.conv.double_buffered

    @property
    def unit(self) -> str:
        return self.conv.unit

    @property
    def fits_whole(self) -> bool:
        return self.conv.fits_whole

    @cached_property
    def counts(self) -> Counts:
        return with_epilogue(self.conv.counts, self.shape, self.lanes)

    def __getattr__(self, name: str):  # noqa: ANN204 - the conv schedule's other attributes (tiling, staged, ...)
        if name.startswith("__") or name == "conv":
            raise AttributeError(name)
        return getattr(self.conv, name)

    def steps(self) -> Iterator[Step]:
        """The convolution's steps; each compute step that writes int8 outputs also runs the epilogue on them."""
        sh = self.shape
        for st in self.conv.steps():
            if st.kind == "compute" and st.psum_access in ("", "read") and st.sram_writes:
                n = _region_elems(st.region)
                st = dataclasses.replace(st, vector_ops=st.vector_ops + sh.epilogue_ops * n,
                                         lut_ops=st.lut_ops + sh.epilogue_lut * n)
            yield st


def _region_elems(region: tuple[tuple[str, int, int], ...]) -> int:
    n = 1
    for _, a, b in region:
        n *= b - a
    return n
