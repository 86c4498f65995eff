"""Whole operands staged in an outer SRAM level (``HardwareSpec.sram[k]``, k >= 1): the counts and the traffic per
level pair of a conv schedule that stages a set of its operands there, for any number of SRAM levels.

The policy (``mapping.search.choose.search_staged`` chooses, per node by the objective, which operands to stage and
in which level):
- A staged operand crosses the off-chip link once, whole: weights (with their biases) and inputs are filled into
  their level k before the node's first step, outputs drained from it after the last, partial sums never leave
  it. That is one transfer per operand, ``conv.bursts`` transactions of it.
- Every tile refill of an operand staged in level k (and every store of a staged output or spilled partial sum)
  moves over each adjacent level pair between level k and the first level: k <-> k-1, ..., 1 <-> 0. The first
  level's accesses do not change. A level j strictly between (1 <= j < k) is a transit: each tile byte is written
  into it and read out of it once, in its words. Each level's port is a resource and its accesses are priced at
  its energies. Unstaged operands move between off-chip memory and the first level directly, as on one-level
  hardware.
- Level accesses are whole words of that level: ceil(bytes / word_bytes) per operand and direction of a node (its
  DMA side streams packed words).
- The operands staged in a level must fit it together, each starting on a word: ceil(bytes / word_bytes) words
  (partial sums: the whole output in ``ConvShape.psum_bytes`` per element). A level that tiles pass through also
  reserves a transit buffer of the first level's size (no tile is larger).
With one outer level this is exactly the two-level model (no transits).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sramflow.cost.counts import Counts, ceil_div

STAGEABLE = ("weights", "inputs", "outputs", "psums")


@dataclass(frozen=True)
class LevelParams:
    """One outer SRAM level (k >= 1) as the staging counts need it."""

    name: str
    word_bytes: int
    capacity_words: int


@dataclass(frozen=True)
class Hierarchy:
    """The SRAM levels beyond the first, innermost first (``outer[0]`` is level 1), and what staging needs of the
    rest of the hardware."""

    outer: tuple[LevelParams, ...]
    first_level_bytes: int  # the first level's size: the transit buffer a level reserves when tiles pass it
    offchip_burst_bytes: int  # the off-chip memory's; 0 = one transaction per transfer

    def level(self, k: int) -> LevelParams:
        """SRAM level ``k`` (1-based: level 0 is the first level, which the tiling owns)."""
        return self.outer[k - 1]


@dataclass(frozen=True)
class OperandBytes:
    """One operand of a conv node: what its tiles move over the first level's DMA (``tile_read``: into the first
    level, ``tile_write``: out of it), its bytes when moved whole once (``whole``), its footprint in the level it
    is staged in and its off-chip transactions as tiles. ``side_read`` / ``side_bursts``: loads that come with
    this operand's but are not its tiles (a residual Add's skip tiles with the inputs, ``ConvShape.residual``): they
    go off-chip to the first level wherever the operand is staged."""

    tile_read: int
    tile_write: int
    whole: int
    footprint: int
    tile_bursts: int
    side_read: int = 0
    side_bursts: int = 0


def transactions(nbytes: int, burst_bytes: int) -> int:
    if nbytes <= 0:
        return 0
    return 1 if burst_bytes <= 0 else ceil_div(nbytes, burst_bytes)


def operand_bytes(c: Counts, weight_bytes: int, input_bytes: int, output_bytes: int, psum_bytes: int,
                  bursts: dict[str, int], skip: tuple[int, int] = (0, 0)) -> dict[str, OperandBytes]:
    """Per operand from a conv schedule's one-level counts ``c`` and its ``conv.dma_bursts_by_operand``; ``skip``:
    the (bytes, bursts) of a residual Add's skip tile loads, which ``c`` counts as inputs."""
    return {
        "weights": OperandBytes(c.offchip_weight_bytes, 0, weight_bytes, weight_bytes, bursts["weights"]),
        "inputs": OperandBytes(c.offchip_input_bytes - skip[0], 0, input_bytes, input_bytes, bursts["inputs"], *skip),
        "outputs": OperandBytes(0, c.offchip_output_bytes, output_bytes, output_bytes, bursts["outputs"]),
        "psums": OperandBytes(c.offchip_psum_read_bytes, c.offchip_psum_write_bytes, 0, output_bytes * psum_bytes,
                              bursts["psums"]),
    }


def footprint_words(ops: dict[str, OperandBytes], staged: tuple[str, ...], levels: tuple[int, ...],
                    h: Hierarchy) -> tuple[int, ...]:
    """Words each outer level (index 0 = level 1) must hold: its staged operands, plus a transit buffer where an
    operand staged further out passes through it."""
    out = []
    for k, p in enumerate(h.outer, start=1):
        words = sum(ceil_div(ops[o].footprint, p.word_bytes) for o, lv in zip(staged, levels) if lv == k)
        if any(lv > k for lv in levels):
            words += ceil_div(h.first_level_bytes, p.word_bytes)
        out.append(words)
    return tuple(out)


def fits(ops: dict[str, OperandBytes], staged: tuple[str, ...], levels: tuple[int, ...], h: Hierarchy) -> bool:
    return all(w <= p.capacity_words for w, p in zip(footprint_words(ops, staged, levels, h), h.outer))


def level_accesses(ops: dict[str, OperandBytes], staged: tuple[str, ...], levels: tuple[int, ...], h: Hierarchy
                   ) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(word reads, word writes) of each outer level, index 0 = level 1."""
    reads, writes = [0] * len(h.outer), [0] * len(h.outer)
    for o, k in zip(staged, levels):
        b = ops[o]
        for j in range(1, k):  # transit levels: every tile byte in and out once, both directions
            wb = h.level(j).word_bytes
            moved = ceil_div(b.tile_read, wb) + ceil_div(b.tile_write, wb)
            reads[j - 1] += moved
            writes[j - 1] += moved
        wb = h.level(k).word_bytes
        if o == "outputs":  # stores from the level inside in, drained off-chip once
            writes[k - 1] += ceil_div(b.tile_write, wb)
            reads[k - 1] += ceil_div(b.whole, wb)
        else:  # filled once from off-chip (partial sums: never), every refill and spill to and from the level inside
            writes[k - 1] += ceil_div(b.whole, wb) + ceil_div(b.tile_write, wb)
            reads[k - 1] += ceil_div(b.tile_read, wb)
    return tuple(reads), tuple(writes)


def staged_counts(c: Counts, ops: dict[str, OperandBytes], staged: tuple[str, ...], levels: tuple[int, ...],
                  h: Hierarchy) -> Counts:
    """``c`` (one-level counts) with operand ``staged[i]`` held whole in SRAM level ``levels[i]`` (>= 1)."""
    if not staged:
        return c
    off = {"weights": c.offchip_weight_bytes, "inputs": c.offchip_input_bytes, "outputs": c.offchip_output_bytes,
           "psums": c.offchip_psum_read_bytes + c.offchip_psum_write_bytes}
    bursts = 0
    for o in STAGEABLE:
        b = ops[o]
        bursts += b.side_bursts
        if o not in staged:
            bursts += b.tile_bursts
            continue
        off[o] = b.whole + b.side_read
        bursts += transactions(b.whole, h.offchip_burst_bytes)
    reads, writes = level_accesses(ops, staged, levels, h)
    psums_off = "psums" not in staged
    return dataclasses.replace(
        c, offchip_weight_bytes=off["weights"], offchip_input_bytes=off["inputs"], offchip_output_bytes=off["outputs"],
        offchip_psum_read_bytes=c.offchip_psum_read_bytes if psums_off else 0,
        offchip_psum_write_bytes=c.offchip_psum_write_bytes if psums_off else 0,
        dma_bursts=bursts, level_reads=reads, level_writes=writes)


def level_pairs(offchip: str, names: tuple[str, ...]) -> tuple[str, ...]:
    """The level-pair keys, ``names`` the SRAM levels innermost first: off-chip <-> the first level (unstaged
    operands), then per outer level k: off-chip <-> k and k <-> k-1."""
    out = [f"{offchip}<->{names[0]}"]
    for k in range(1, len(names)):
        out += [f"{offchip}<->{names[k]}", f"{names[k]}<->{names[k - 1]}"]
    return tuple(out)


def pair_traffic(ops: dict[str, OperandBytes], staged: tuple[str, ...], levels: tuple[int, ...], offchip: str,
                 names: tuple[str, ...]) -> dict[str, dict[str, int]]:
    """Bytes per adjacent level pair and operand (both directions), ``names`` the SRAM levels innermost first.
    Off-chip to the first level directly: unstaged operands; off-chip to level k: the operands staged there, whole;
    each pair between level k and the first: those operands' tiles."""
    out = {pair: dict.fromkeys(STAGEABLE, 0) for pair in level_pairs(offchip, names)}
    where = dict(zip(staged, levels))
    for o in STAGEABLE:
        b = ops[o]
        tiles = b.tile_read + b.tile_write
        k = where.get(o, 0)
        out[f"{offchip}<->{names[0]}"][o] = b.side_read  # skip tiles: off-chip to the first level, staged or not
        if k == 0:
            out[f"{offchip}<->{names[0]}"][o] += tiles
            continue
        out[f"{offchip}<->{names[k]}"][o] = b.whole
        for j in range(1, k + 1):
            out[f"{names[j]}<->{names[j - 1]}"][o] = tiles
    return out


def direct_traffic(direct: dict[str, int], offchip: str, names: tuple[str, ...]) -> dict[str, dict[str, int]]:
    """A node that stages nothing: every operand (``direct``, bytes) between off-chip memory and the first level."""
    out = {pair: dict.fromkeys(direct, 0) for pair in level_pairs(offchip, names)}
    out[f"{offchip}<->{names[0]}"] = dict(direct)
    return out
