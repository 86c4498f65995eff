"""Typed schedule pieces shared by convolution and vector-unit schedules."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from sramflow.cost.counts import Counts

OPERANDS = ("bias", "weights", "inputs", "outputs", "scale")


@dataclass(frozen=True)
class Buffer:
    """A tile buffer: ``size_words`` words of the SRAM macro starting at word ``base_word``."""

    operand: str
    slot: int  # 0, or 1 for the second half of a double buffer
    base_word: int
    size_words: int

    @property
    def end_word(self) -> int:  # exclusive
        return self.base_word + self.size_words


@dataclass(frozen=True)
class Step:
    """One action of a schedule.

    kind: "load" (DMA off-chip -> SRAM), "store" (DMA SRAM -> off-chip) or "compute".
    region: the tensor elements touched, as (dimension, start, stop) triples (padded-window coordinates
    for input loads: rows/cols outside the image are zero-filled, not fetched).
    For loads, ``sram_writes`` words are written starting at ``base_word``; for stores ``sram_reads`` words
    are read from there. For compute steps ``sram_reads`` / ``sram_writes`` are the array's word accesses.
    """

    kind: str
    operand: str
    region: tuple[tuple[str, int, int], ...]
    base_word: int
    offchip_bytes: int = 0
    sram_reads: int = 0
    sram_writes: int = 0
    macs: int = 0
    vector_ops: int = 0
    lut_ops: int = 0
    element_bytes: int = 1  # 4 for int32 biases and partial sums
    # compute steps of a tiled reduction whose int32 partial sums live in the SRAM output buffer at
    # ``base_word`` (spilled and reloaded, or kept there): "write" (first reduction step: bias -> psums),
    # "rmw" (read psums, accumulate, write psums back), "read" (last: read psums, write int8 outputs); "" none
    psum_access: str = ""


class Schedule(Protocol):
    """What pricing and execution need of any node's schedule (convolution, vector-unit or fused)."""

    @property
    def shape(self) -> object: ...

    @property
    def buffers(self) -> tuple[Buffer, ...]: ...

    @property
    def counts(self) -> Counts: ...

    @property
    def double_buffered(self) -> bool:
        """Transfers overlap compute (ping-pong buffers)."""

    @property
    def unit(self) -> str:
        """The unit that computes the node: "mac", "vector", or "fused" (computed by its producer's pass)."""

    @property
    def fits_whole(self) -> bool: ...

    def steps(self) -> Iterator[Step]: ...


def allocate(sizes_words: dict[str, int], double: tuple[str, ...]) -> tuple[Buffer, ...]:
    """Pack buffers from word 0 in the given order; operands in ``double`` get a second slot after all
    first slots. Deterministic, no gaps."""
    out: list[Buffer] = []
    base = 0
    for op, size in sizes_words.items():
        out.append(Buffer(op, 0, base, size))
        base += size
    for op in double:
        out.append(Buffer(op, 1, base, sizes_words[op]))
        base += sizes_words[op]
    return tuple(out)


def buffer_of(buffers: tuple[Buffer, ...], operand: str, slot: int) -> Buffer:
    for b in buffers:
        if b.operand == operand and b.slot == slot:
            return b
    return next(b for b in buffers if b.operand == operand and b.slot == 0)
