"""The oracle for step tables: each schedule's steps enumerated one by one, written independently of
``mapping.steps_table`` (which is the definition the simulators use)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from sramflow.cost.counts import ceil_div
from sramflow.mapping.conv import BIAS_BYTES, step_sizes
from sramflow.mapping.conv_schedule import ConvSchedule
from sramflow.mapping.schedule import Step, buffer_of
from sramflow.mapping.vector import VectorSchedule


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


def reference_conv_steps(sch: ConvSchedule) -> Iterator[Step]:
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


def reference_vector_steps(self: VectorSchedule) -> Iterator[Step]:
    sh, wb = self.shape, self.word_bytes
    slot = 0
    for s in range(sh.segments):
        if sh.scale:
            yield Step("load", "scale", (("seg", s, s + 1),), buffer_of(self.buffers, "scale", 0).base_word, 1,
                       sram_writes=1)
        for x0 in range(0, sh.seg_len, self.chunk):
            x = min(self.chunk, sh.seg_len - x0)
            region = (("seg", s, s + 1), ("elem", x0, x0 + x))
            if self.double_buffered:
                slot = 1 - slot
            base_in = buffer_of(self.buffers, "inputs", slot).base_word
            per = ceil_div(x, wb)
            for j in range(sh.full_inputs):
                yield Step("load", f"inputs{j}", region, base_in + j * ceil_div(self.chunk, wb), x,
                           sram_writes=per)
            last = x0 + x >= sh.seg_len
            ops = sh.ops_per_elem * x + ((1 if sh.reduce else 0) + sh.seg_ops if last else 0)
            lut = sh.lut_per_elem * x
            reads = sh.full_inputs * per * sh.passes + (1 if sh.scale else 0)
            base_out = buffer_of(self.buffers, "outputs", slot).base_word
            writes = (1 if last else 0) if sh.reduce else per
            yield Step("compute", "vector", region, base_out, sram_reads=reads, sram_writes=writes,
                       vector_ops=ops, lut_ops=lut)
            if writes:
                yield Step("store", "outputs", region, base_out, 1 if sh.reduce else x, sram_reads=writes)


def reference_steps(sch: ConvSchedule | VectorSchedule) -> list[Step]:
    return list(reference_conv_steps(sch) if isinstance(sch, ConvSchedule) else reference_vector_steps(sch))
