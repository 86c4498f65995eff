"""Whole operands staged in the second SRAM level (``HardwareSpec.sram[1]``): the counts and the traffic per level
pair of a conv schedule that stages a set of its operands there.

The policy (``mapping.search.choose.search_staged`` chooses the set per node by the objective):
- A staged operand crosses the off-chip link once, whole: weights (with their biases) and inputs are filled into
  the second level before the node's first step, outputs drained from it after the last, partial sums never leave
  it. That is one transfer per operand, ``conv.bursts`` transactions of it.
- Every tile refill of a staged operand into the first level (and every store of a staged output or spilled
  partial sum) moves between the two SRAM levels instead: the first level's accesses do not change, the second
  level's port is a resource and its accesses are priced at its energies.
- Second-level accesses are whole words of that level: ceil(bytes / word_bytes) per operand and direction of a
  node (its DMA side streams packed words).
- The staged operands must fit the second level together, each starting on a word: ceil(bytes / word_bytes) words
  (partial sums: the whole output in ``ConvShape.psum_bytes`` per element).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sramflow.cost.counts import Counts, ceil_div

STAGEABLE = ("weights", "inputs", "outputs", "psums")


@dataclass(frozen=True)
class Level1Params:
    """The second SRAM level as the staging counts need it."""

    word_bytes: int
    capacity_words: int
    offchip_burst_bytes: int  # the off-chip memory's; 0 = one transaction per transfer


@dataclass(frozen=True)
class OperandBytes:
    """One operand of a conv node: what its tiles move over the first level's DMA (``tile_read``: into the first
    level, ``tile_write``: out of it), its bytes when moved whole once (``whole``), its footprint in the second
    level and its off-chip transactions as tiles."""

    tile_read: int
    tile_write: int
    whole: int
    footprint: int
    tile_bursts: int


def _transactions(nbytes: int, burst_bytes: int) -> int:
    if nbytes <= 0:
        return 0
    return 1 if burst_bytes <= 0 else ceil_div(nbytes, burst_bytes)


def operand_bytes(c: Counts, weight_bytes: int, input_bytes: int, output_bytes: int, psum_bytes: int,
                  bursts: dict[str, int]) -> dict[str, OperandBytes]:
    """Per operand from a conv schedule's one-level counts ``c`` and its ``conv.dma_bursts_by_operand``."""
    return {
        "weights": OperandBytes(c.offchip_weight_bytes, 0, weight_bytes, weight_bytes, bursts["weights"]),
        "inputs": OperandBytes(c.offchip_input_bytes, 0, input_bytes, input_bytes, bursts["inputs"]),
        "outputs": OperandBytes(0, c.offchip_output_bytes, output_bytes, output_bytes, bursts["outputs"]),
        "psums": OperandBytes(c.offchip_psum_read_bytes, c.offchip_psum_write_bytes, 0, output_bytes * psum_bytes,
                              bursts["psums"]),
    }


def staged_footprint_words(ops: dict[str, OperandBytes], staged: tuple[str, ...], p: Level1Params) -> int:
    return sum(ceil_div(ops[o].footprint, p.word_bytes) for o in staged)


def staged_counts(c: Counts, ops: dict[str, OperandBytes], staged: tuple[str, ...], p: Level1Params) -> Counts:
    """``c`` (one-level counts) with ``staged`` operands held whole in the second level."""
    if not staged:
        return c
    wb = p.word_bytes
    off = {"weights": c.offchip_weight_bytes, "inputs": c.offchip_input_bytes, "outputs": c.offchip_output_bytes,
           "psums": c.offchip_psum_read_bytes + c.offchip_psum_write_bytes}
    reads = writes = 0
    bursts = 0
    for o in STAGEABLE:
        b = ops[o]
        if o not in staged:
            bursts += b.tile_bursts
            continue
        off[o] = b.whole
        bursts += _transactions(b.whole, p.offchip_burst_bytes)
        if o == "outputs":  # stores from the first level in, drained off-chip once
            writes += ceil_div(b.tile_write, wb)
            reads += ceil_div(b.whole, wb)
        else:  # filled once from off-chip (partial sums: never), every refill and spill to and from the first level
            writes += ceil_div(b.whole, wb) + ceil_div(b.tile_write, wb)
            reads += ceil_div(b.tile_read, wb)
    psums_off = "psums" not in staged
    return dataclasses.replace(
        c, offchip_weight_bytes=off["weights"], offchip_input_bytes=off["inputs"], offchip_output_bytes=off["outputs"],
        offchip_psum_read_bytes=c.offchip_psum_read_bytes if psums_off else 0,
        offchip_psum_write_bytes=c.offchip_psum_write_bytes if psums_off else 0,
        dma_bursts=bursts, sram1_reads=reads, sram1_writes=writes)


def pair_traffic(ops: dict[str, OperandBytes], staged: tuple[str, ...], names: tuple[str, str, str]
                 ) -> dict[str, dict[str, int]]:
    """Bytes per adjacent level pair and operand (both directions), ``names`` = (off-chip, second, first level).
    Off-chip to the first level directly: unstaged operands; off-chip to the second: staged ones, whole; the
    second to the first: the staged operands' tiles."""
    off, l1, l0 = names
    out: dict[str, dict[str, int]] = {f"{off}<->{l0}": {}, f"{off}<->{l1}": {}, f"{l1}<->{l0}": {}}
    for o in STAGEABLE:
        b = ops[o]
        tiles = b.tile_read + b.tile_write
        if o in staged:
            out[f"{off}<->{l1}"][o] = b.whole
            out[f"{l1}<->{l0}"][o] = tiles
            out[f"{off}<->{l0}"][o] = 0
        else:
            out[f"{off}<->{l0}"][o] = tiles
            out[f"{off}<->{l1}"][o] = 0
            out[f"{l1}<->{l0}"][o] = 0
    return out
