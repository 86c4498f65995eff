"""A convolution's schedule (``ConvSchedule``: tiling, buffers, closed-form counts) and its step enumeration
(``conv_steps``, what the functional simulator executes).

Each load is issued when the tile an operand needs differs from the one resident in its buffer (biases
only at the last reduction step of an output tile, where the accumulators add them; partial sums at every
later step than the first when they spill). Kept
partial sums (``keep_psums``) stay in the output buffer: no load / store, the compute steps read and write them
(``Step.psum_access``).
Summing the steps reproduces ``ConvSchedule.counts`` exactly; tests check it.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

from sramflow.cost.counts import Counts
from sramflow.mapping.conv import (
    BIAS_BYTES, ConvShape, ConvTiling, HwParams, dma_bursts_by_operand, schedule_counts, step_sizes, trips,
)
from sramflow.mapping.schedule import Buffer, Step, buffer_of
from sramflow.mapping.staging import Level1Params, OperandBytes, operand_bytes, staged_counts


@dataclass(frozen=True)
class ConvSchedule:
    shape: ConvShape
    hw: HwParams
    tiling: ConvTiling
    buffers: tuple[Buffer, ...]
    spill_psums: bool
    keep_psums: bool = False  # partial sums held in the SRAM output buffer across reduction tiles
    staged: tuple[str, ...] = ()  # operands held whole in the second SRAM level (``mapping.staging``)
    level1: Level1Params | None = None  # that level, when the hardware has one

    @cached_property
    def counts(self) -> Counts:
        base = self.first_level_counts
        if not self.staged:
            return base
        assert self.level1 is not None
        return staged_counts(base, self.operand_bytes, self.staged, self.level1)

    @property
    def first_level_counts(self) -> Counts:
        """The counts with every operand coming from off-chip memory (no second level)."""
        return schedule_counts(dataclasses.replace(self.shape, name=""), self.hw, self.tiling)

    @cached_property
    def operand_bytes(self) -> dict[str, OperandBytes]:
        sh = self.shape
        return operand_bytes(self.first_level_counts, sh.weight_bytes + sh.bias_bytes, sh.input_bytes,
                             sh.output_bytes, sh.psum_bytes, dma_bursts_by_operand(sh, self.hw, self.tiling))

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

    def steps(self) -> Iterator[Step]:
        return conv_steps(self)


def _ranges(extent: int, tile: int) -> list[tuple[int, int]]:
    return [(s, min(s + tile, extent)) for s in range(0, extent, tile)]


def _tile_iter(sch: ConvSchedule) -> Iterator[dict[str, tuple[int, int] | tuple]]:
    sh, t = sch.shape, sch.tiling.sizes()
    r = {d: _ranges(sh.extents[d], t[d]) for d in "gkchw"}
    r["p"] = list(itertools.product(r["h"], r["w"]))
    for idx in itertools.product(*[range(len(r[loop])) for loop in sch.tiling.order]):
        pos = dict(zip(sch.tiling.order, idx))
        yield {d: (pos[d], r[d][pos[d]]) for d in "gkcp"}


class _Slots:
    """Which tile each operand holds; alternates buffer halves when double buffered."""

    def __init__(self, sch: ConvSchedule) -> None:
        self.sch, self.resident, self.slot = sch, {}, {}

    def base(self, operand: str, advance: bool) -> int:
        if advance and self.sch.tiling.double_buffered and operand != "bias":
            self.slot[operand] = 1 - self.slot.get(operand, 1)
        return buffer_of(self.sch.buffers, operand, self.slot.get(operand, 0)).base_word


def conv_steps(sch: ConvSchedule) -> Iterator[Step]:
    sh, hw = sch.shape, sch.hw
    n_c = len(_ranges(sh.c_per_group, sch.tiling.tile_c))
    slots = _Slots(sch)
    for tile in _tile_iter(sch):
        (_, (g0, g1)), (_, (k0, k1)), (ci, (c0, c1)) = tile["g"], tile["k"], tile["c"]
        _, ((h0, h1), (w0, w1)) = tile["p"]
        s = {"g": g1 - g0, "k": k1 - k0, "c": c1 - c0, "h": h1 - h0, "w": w1 - w0}
        q = step_sizes(sh, hw, s, sch.tiling.group_k, sch.tiling.group_h)
        out_region = (("g", g0, g1), ("k", k0, k1), ("h", h0, h1), ("w", w0, w1))
        last = ci == n_c - 1
        if last and sh.has_bias:
            yield from _load(slots, "bias", (g0, g1, k0, k1), (("g", g0, g1), ("k", k0, k1)),
                             s["g"] * s["k"] * BIAS_BYTES, int(q["b_words"]), BIAS_BYTES)
        if not sh.pool_op:
            yield from _load(slots, "weights", (g0, g1, k0, k1, c0, c1),
                             (("g", g0, g1), ("k", k0, k1), ("c", c0, c1)), int(q["w_bytes"]), int(q["w_words"]), 1)
        row0, col0 = h0 * sh.stride_h - sh.pad_top, w0 * sh.stride_w - sh.pad_left
        rows, cols = int(sh.window_rows(s["h"])), int(sh.window_cols(s["w"]))
        fetched = s["g"] * s["c"] * _clip(row0, rows, sh.in_h) * _clip(col0, cols, sh.in_w)
        yield from _load(slots, "inputs", (g0, g1, c0, c1, h0, h1, w0, w1),
                         (("g", g0, g1), ("c", c0, c1), ("row", row0, row0 + rows), ("col", col0, col0 + cols)),
                         fetched, int(q["i_words"]), 1)
        psum = sch.spill_psums or sch.keep_psums
        psum_words = int(q["p_words"]) if psum else 0
        if sch.spill_psums and ci > 0:
            base = slots.base("outputs", True)
            yield Step("load", "psums", out_region, base, s["g"] * s["k"] * s["h"] * s["w"] * sh.psum_bytes,
                       sram_writes=psum_words, element_bytes=sh.psum_bytes)
        reads = int(q["w_reads"]) + int(q["i_reads"]) + (int(q["b_reads"]) if last else 0) \
            + (psum_words if ci > 0 else 0)
        work = {"vector_ops": int(q["macs"])} if sh.pool_op else {"macs": int(q["macs"])}
        unit = "vector" if sh.pool_op else "macs"
        if not psum and not last:
            yield Step("compute", unit, out_region, -1, sram_reads=reads, **work)
            continue
        access = _psum_access(psum, ci, last)
        words = int(q["o_words"]) if last else psum_words
        base = slots.base("outputs", not (psum and ci > 0))
        yield Step("compute", unit, out_region, base, sram_reads=reads, sram_writes=words, psum_access=access,
                   **work)
        if sch.keep_psums and not last:
            continue
        nbytes = s["g"] * s["k"] * s["h"] * s["w"] * (1 if last else sh.psum_bytes)
        yield Step("store", "outputs" if last else "psums", out_region, base, nbytes, sram_reads=words,
                   element_bytes=1 if last else sh.psum_bytes)


def _psum_access(psum: bool, ci: int, last: bool) -> str:
    if not psum or (ci == 0 and last):
        return ""
    return "write" if ci == 0 else ("read" if last else "rmw")


def _clip(start: int, length: int, extent: int) -> int:
    return max(0, min(start + length, extent) - max(start, 0))


def _load(slots: _Slots, operand: str, key: tuple, region: tuple, nbytes: int, words: int,
          element_bytes: int) -> Iterator[Step]:
    if slots.resident.get(operand) == key:
        return
    slots.resident[operand] = key
    yield Step("load", operand, region, slots.base(operand, True), nbytes, sram_writes=words,
               element_bytes=element_bytes)


def summed_counts(steps, burst_bytes: int = 0) -> dict[str, int]:  # noqa: ANN001
    """Totals of an enumerated schedule, in the terms of ``Counts`` (for tests and the functional sim).
    ``dma_bursts``: each load / store is ceil(offchip bytes / burst_bytes) transactions (at least 1)."""
    tot = {"macs": 0, "sram_reads_compute": 0, "sram_writes_compute": 0, "sram_writes_dma": 0, "sram_reads_dma": 0,
           "offchip_load_bytes": 0, "offchip_store_bytes": 0, "dma_transfers": 0, "dma_loads": 0, "steps": 0,
           "dma_bursts": 0}
    for st in steps:
        if st.kind != "compute":
            tot["dma_bursts"] += max(1, -(-st.offchip_bytes // burst_bytes)) if burst_bytes > 0 else 1
        if st.kind == "compute":
            tot["macs"] += st.macs
            tot["vector_ops"] = tot.get("vector_ops", 0) + st.vector_ops
            tot["lut_ops"] = tot.get("lut_ops", 0) + st.lut_ops
            tot["sram_reads_compute"] += st.sram_reads
            tot["sram_writes_compute"] += st.sram_writes
            tot["steps"] += 1
        elif st.kind == "load":
            tot["sram_writes_dma"] += st.sram_writes
            tot["offchip_load_bytes"] += st.offchip_bytes
            tot["dma_transfers"] += 1
            tot["dma_loads"] += 1
        else:
            tot["sram_reads_dma"] += st.sram_reads
            tot["offchip_store_bytes"] += st.offchip_bytes
            tot["dma_transfers"] += 1
    return tot


