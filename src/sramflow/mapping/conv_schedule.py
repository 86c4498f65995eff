"""A convolution's schedule (``ConvSchedule``: tiling, buffers, closed-form counts) and its step enumeration
(``conv_step_table``, the one definition of its steps: what the functional simulator executes).

Each load is issued when the tile an operand needs differs from the one resident in its buffer (biases
only at the last reduction step of an output tile, where the accumulators add them; partial sums at every
later step than the first when they spill). Kept partial sums (``keep_psums``) stay in the output buffer: no
load / store, the compute steps read and write them (``Step.psum_access``). Summing the steps reproduces
``ConvSchedule.counts`` exactly; tests check it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from sramflow.cost.counts import Counts
from sramflow.errors import MappingError
from sramflow.mapping.conv import (
    BIAS_BYTES, ConvShape, ConvTiling, HwParams, dma_bursts_by_operand, schedule_counts, step_sizes, trips,
)
from sramflow.mapping.schedule import Buffer, Step
from sramflow.mapping.staging import Hierarchy, OperandBytes, operand_bytes, staged_counts
from sramflow.mapping.steps_table import (
    COMPUTE, CONV_DIMS, LOAD, OP, STORE, StepTable, assemble, changed, slot_base, tile_ranges,
)


@dataclass(frozen=True)
class ConvSchedule:
    shape: ConvShape
    hw: HwParams
    tiling: ConvTiling
    buffers: tuple[Buffer, ...]
    spill_psums: bool
    keep_psums: bool = False  # partial sums held in the SRAM output buffer across reduction tiles
    staged: tuple[str, ...] = ()  # operands held whole in an outer SRAM level (``mapping.staging``)
    staged_levels: tuple[int, ...] = ()  # the SRAM level (>= 1) each of ``staged`` is held in
    levels: Hierarchy | None = None  # the outer SRAM levels, when the hardware has any

    def __post_init__(self) -> None:
        if self.shape.residual and (self.spill_psums or self.keep_psums or set(self.staged) - RESIDUAL_STAGEABLE):
            raise MappingError(f"layer {self.shape.name!r}: a residual Add on the output path loads the skip tile "
                               "into the output buffer, which must not hold partial sums (spilled or kept) and whose "
                               "outputs must go straight off-chip (only weights and inputs staged); map the Add as "
                               "its own pass")

    @cached_property
    def counts(self) -> Counts:
        base = self.first_level_counts
        if not self.staged:
            return base
        assert self.levels is not None and len(self.staged_levels) == len(self.staged)
        return staged_counts(base, self.operand_bytes, self.staged, self.staged_levels, self.levels)

    def staged_in(self, k: int) -> tuple[str, ...]:
        """The operands held whole in SRAM level ``k``."""
        return tuple(o for o, lv in zip(self.staged, self.staged_levels) if lv == k)

    @property
    def first_level_counts(self) -> Counts:
        """The counts with every operand coming from off-chip memory (no second level)."""
        base = schedule_counts(dataclasses.replace(self.shape, name=""), self.hw, self.tiling)
        return residual_counts(base, self) if self.shape.residual else base

    @cached_property
    def operand_bytes(self) -> dict[str, OperandBytes]:
        sh = self.shape
        c = self.first_level_counts
        bursts = dma_bursts_by_operand(sh, self.hw, self.tiling)
        # the skip tile loads (``residual_counts``, the mirror of the output stores) stay off-chip loads of their own
        skip = (c.offchip_output_bytes, bursts["outputs"]) if sh.residual else (0, 0)
        return operand_bytes(c, sh.weight_bytes + sh.bias_bytes, sh.input_bytes, sh.output_bytes, sh.psum_bytes,
                             bursts, skip)

    @property
    def double_buffered(self) -> bool:
        return self.tiling.double_buffered

    @property
    def unit(self) -> str:
        """Pooling runs on the vector unit, every other convolution / Gemm on the MAC array."""
        return "vector" if self.shape.pool_op else "mac"

    @property
    def fits_whole(self) -> bool:
        """One tile per dimension: the whole layer is in the SRAM at once."""
        n = trips(self.shape, self.tiling.sizes())
        return all(int(n[d]) == 1 for d in "gkchw")

    def step_table(self) -> StepTable:
        return conv_step_table(self)

    def steps(self) -> Iterator[Step]:
        t = self.step_table()
        return (t.step(i) for i in range(len(t)))


RESIDUAL_STAGEABLE = frozenset({"weights", "inputs"})  # what a conv with a residual Add may hold in outer levels:
# its skip tiles come into the output buffer, so outputs go straight off-chip and partial sums never sit there


def residual_counts(base: Counts, sch: ConvSchedule) -> Counts:
    """``base`` plus the skip tile loads of a residual Add on the output path (``ConvShape.residual``): one load per
    output tile, the mirror of its store (the same bytes, words and off-chip transactions, partial sums never being
    in the output buffer), and the vector unit's read of every skip word."""
    stores = base.dma_transfers - base.dma_loads  # one per output tile (no partial sum spills)
    bursts = dma_bursts_by_operand(sch.shape, sch.hw, sch.tiling)["outputs"]
    return dataclasses.replace(
        base, offchip_input_bytes=base.offchip_input_bytes + base.offchip_output_bytes,
        sram_writes_dma=base.sram_writes_dma + base.sram_reads_dma,
        sram_reads_compute=base.sram_reads_compute + base.sram_reads_dma,
        dma_transfers=base.dma_transfers + stores, dma_loads=base.dma_loads + stores,
        dma_bursts=base.dma_bursts + bursts)


def conv_step_table(sch: ConvSchedule) -> StepTable:
    """One row per step: loads when the tile an operand needs differs from the resident one (biases only at the
    last reduction step of an output tile; partial sums at every later step than the first when they spill), the
    compute step, the store of its outputs or spilled partial sums (kept partial sums stay in the output buffer)."""
    sh, t, order = sch.shape, sch.tiling.sizes(), sch.tiling.order
    r = {d: tile_ranges(sh.extents[d], t[d]) for d in "gkchw"}
    n = {d: r[d][0].size for d in "gkchw"}
    n["p"] = n["h"] * n["w"]
    grid = np.indices([n[lp] for lp in order]).reshape(len(order), -1)
    pos = dict(zip(order, grid))
    idx = {"g": pos["g"], "k": pos["k"], "c": pos["c"], "h": pos["p"] // n["w"], "w": pos["p"] % n["w"]}
    lo = {d: r[d][0][idx[d]] for d in "gkchw"}
    hi = {d: r[d][1][idx[d]] for d in "gkchw"}
    s = {d: hi[d] - lo[d] for d in "gkchw"}
    q = {k: np.broadcast_to(np.asarray(v, np.int64), lo["g"].shape) for k, v in
         step_sizes(sh, sch.hw, s, sch.tiling.group_k, sch.tiling.group_h).items()}
    ci = idx["c"]
    first, last = ci == 0, ci == n["c"] - 1
    double = sch.tiling.double_buffered
    psum = sch.spill_psums or sch.keep_psums
    row0, col0 = lo["h"] * sh.stride_h - sh.pad_top, lo["w"] * sh.stride_w - sh.pad_left
    rows, cols = sh.window_rows(s["h"]), sh.window_cols(s["w"])
    clip = (np.clip(row0 + rows, 0, sh.in_h) - np.clip(row0, 0, sh.in_h)).clip(0) \
        * (np.clip(col0 + cols, 0, sh.in_w) - np.clip(col0, 0, sh.in_w)).clip(0)
    out_n = s["g"] * s["k"] * s["h"] * s["w"]
    out_region = {d: (lo[d], hi[d]) for d in "gkhw"}

    # loads: bias only considered at the last reduction step (its key compared with the previous such step)
    bias_ld = np.zeros_like(first)
    if sh.has_bias:
        fi = np.flatnonzero(last)
        bias_ld[fi] = changed(idx["g"][fi], idx["k"][fi])
    w_ld = changed(idx["g"], idx["k"], ci) if not sh.pool_op else np.zeros_like(first)
    i_ld = changed(idx["g"], ci, idx["h"], idx["w"])
    p_ld = np.full_like(first, sch.spill_psums) & ~first
    writes = np.where(psum, True, last)
    store = writes & ~(sch.keep_psums & ~last)
    access = np.where(~np.full_like(first, psum) | (first & last), 0, np.where(first, 1, np.where(last, 3, 2)))
    out_adv = p_ld | (writes & ~(psum & ~first))
    out_base = slot_base(sch, "outputs", np.cumsum(out_adv), double)
    w_base = slot_base(sch, "weights", np.cumsum(w_ld), double)
    i_base = slot_base(sch, "inputs", np.cumsum(i_ld), double)
    b_base = slot_base(sch, "bias", np.zeros_like(ci), False)
    psum_words = q["p_words"] if psum else np.zeros_like(ci)
    out_words = np.where(last, q["o_words"], psum_words)
    unit = OP["vector"] if sh.pool_op else OP["macs"]
    work = "vector_ops" if sh.pool_op else "macs"
    b_read = q["b_reads"] * last
    p_read = psum_words * ~first
    skip = last & sh.residual  # the skip tile, loaded into the output buffer before the output tile is written
    s_read = q["o_words"] * skip
    rows_ = [
        {"kind": LOAD, "operand": OP["bias"], "region": {"g": out_region["g"], "k": out_region["k"]},
         "base_word": b_base, "words": q["b_words"], "offchip_bytes": s["g"] * s["k"] * BIAS_BYTES,
         "sram_writes": q["b_words"], "element_bytes": BIAS_BYTES},
        {"kind": LOAD, "operand": OP["weights"], "region": {"g": out_region["g"], "k": out_region["k"],
                                                          "c": (lo["c"], hi["c"])}, "base_word": w_base,
         "words": q["w_words"], "offchip_bytes": q["w_bytes"],
         "sram_writes": q["w_words"]},
        {"kind": LOAD, "operand": OP["inputs"], "region": {"g": out_region["g"], "c": (lo["c"], hi["c"]),
                                                         "row": (row0, row0 + rows), "col": (col0, col0 + cols)},
         "base_word": i_base, "words": q["i_words"], "offchip_bytes": s["g"] * s["c"] * clip,
         "sram_writes": q["i_words"]},
        {"kind": LOAD, "operand": OP["psums"], "region": out_region, "base_word": out_base, "words": psum_words,
         "offchip_bytes": out_n * sh.psum_bytes, "sram_writes": psum_words, "element_bytes": sh.psum_bytes},
        {"kind": LOAD, "operand": OP["skip"], "region": out_region, "base_word": out_base, "words": q["o_words"],
         "offchip_bytes": out_n, "sram_writes": q["o_words"]},
        {"kind": COMPUTE, "operand": unit, "region": out_region, "base_word": np.where(writes, out_base, -1),
         "words": out_words * writes, "sram_reads": q["w_reads"] + q["i_reads"] + b_read + p_read + s_read,
         "sram_writes": out_words * writes, work: q["macs"], "psum_access": access},
        {"kind": STORE, "operand": np.where(last, OP["outputs"], OP["psums"]), "region": out_region,
         "base_word": out_base, "words": out_words, "offchip_bytes": out_n * np.where(last, 1, sh.psum_bytes),
         "sram_reads": out_words, "element_bytes": np.where(last, 1, sh.psum_bytes)},
    ]
    present = np.stack([bias_ld, w_ld, i_ld, p_ld, skip, np.ones_like(first), store], axis=1)
    reads = [(5, "weights", w_base, q["w_words"], not sh.pool_op), (5, "inputs", i_base, q["i_words"], True),
             (5, "bias", b_base, q["b_words"], last & sh.has_bias),
             (5, "psums", out_base, psum_words, (access == 2) | (access == 3)),
             (5, "skip", out_base, q["o_words"], skip)]
    return assemble(CONV_DIMS, rows_, present, reads)
