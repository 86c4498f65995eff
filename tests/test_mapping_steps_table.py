"""steps_table == the steps enumerated one by one (the oracle below) row by row, and its column sums == the
closed-form counts, over many schedules: every loop order, single / double buffering, kept / spilled partial sums, accumulator groups, input-row
registers, clipped edges, bursts, pooling and vector schedules."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator

import pytest

from sramflow.cost.counts import ceil_div
from sramflow.mapping.conv import BIAS_BYTES, LOOPS, ConvShape, step_sizes
from sramflow.mapping.conv_schedule import ConvSchedule, summed_counts
from sramflow.mapping.schedule import Step, allocate, buffer_of
from sramflow.mapping.search.choose import make_conv_schedule
from sramflow.mapping.search.tiling_table import hw_params
from sramflow.mapping.steps_table import COMPUTE, OPERANDS, steps_table, table_counts
from sramflow.mapping.vector import VectorSchedule, VectorShape
from test_mapping_counts import make_hw, pw
from test_mapping_groups import with_bursts

ONES = {"g": 1, "k": 1, "c": 1, "h": 1, "w": 1}
CASES = [  # shape, tile sizes, k per accumulator group, rows per accumulator group (0: all; 8 accumulators)
    (ConvShape("c3", 1, 7, 5, 7, 9, 4, 5, 3, 3, 2, 2, 1, 1), {"k": 5, "c": 2, "h": 2, "w": 2}, 1, 0),
    (ConvShape("c3b", 1, 7, 3, 7, 9, 4, 5, 3, 3, 2, 2, 1, 1), {"k": 7, "c": 3, "w": 2}, 2, 0),
    (pw(9, 7, 3, 3), {"k": 6, "c": 3, "w": 2}, 2, 0),
    (pw(3, 5, 3, 3), {"k": 2, "c": 3, "w": 2}, 0, 0),
    (ConvShape("g2", 4, 3, 2, 5, 5, 5, 5, 3, 3, 1, 1, 1, 1), {"g": 2, "k": 3, "c": 2}, 2, 0),
    (ConvShape("dw", 6, 1, 1, 5, 5, 5, 5, 3, 3, 1, 1, 1, 1), {"g": 4, "h": 2}, 0, 0),
    (ConvShape("dw5", 3, 1, 1, 9, 9, 5, 5, 5, 5, 2, 2, 2, 2), {"g": 2, "h": 2, "w": 2}, 0, 0),
    (ConvShape("nb", 1, 4, 3, 6, 6, 6, 6, 3, 3, 1, 1, 1, 1, has_bias=False), {"k": 3, "c": 2, "h": 4}, 1, 0),
    # more pixels than accumulators: groups of whole tile rows (uneven last group, strides, dilation, depthwise)
    (ConvShape("c3r", 1, 7, 5, 7, 9, 4, 5, 3, 3, 2, 2, 1, 1), {"k": 3, "c": 2, "h": 4, "w": 3}, 1, 2),
    (pw(9, 7, 5, 5), {"k": 4, "c": 3, "h": 5, "w": 2}, 1, 3),
    (ConvShape("dwr", 6, 1, 1, 5, 5, 5, 5, 3, 3, 1, 1, 1, 1), {"g": 2, "h": 5, "w": 3}, 1, 1),
    (ConvShape("dw5r", 3, 1, 1, 9, 9, 5, 5, 5, 5, 2, 2, 2, 2), {"h": 5, "w": 4}, 1, 2),
    (ConvShape("nbr", 1, 4, 3, 6, 6, 6, 6, 3, 3, 1, 1, 1, 1, has_bias=False), {"k": 2, "c": 2, "h": 6, "w": 3}, 1, 2),
]


# ---- the oracle: the steps enumerated one by one in plain Python, tile by tile in loop order. A load is issued when
# the tile an operand needs differs from the one resident in its buffer (biases only at the last reduction step of an
# output tile, partial sums at every later step than the first when they spill); kept partial sums stay in the output
# buffer. ``ConvSchedule.step_table`` / ``VectorSchedule.step_table`` must list exactly these rows.

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


def _schedules():  # noqa: ANN202
    for (shape, sizes, gk, gh), order, double, burst in itertools.product(CASES, itertools.permutations(LOOPS),
                                                                       (False, True), (0, 3)):
        hw = with_bursts(make_hw(accumulators=8, words=2048, double=True), burst)
        hwp = hw_params(hw, shape)
        for rows in (hwp.input_row_bytes, 0):
            yield make_conv_schedule(shape, dataclasses.replace(hwp, input_row_bytes=rows), ONES | sizes, order,
                                     double, gk, gh), burst


def _assert_table_is_steps(sch, burst: int = 0) -> None:  # noqa: ANN001
    t = steps_table(sch)
    steps = reference_steps(sch)
    assert len(t) == len(steps)
    assert [t.step(i) for i in range(len(t))] == steps
    got, want = table_counts(t, burst), summed_counts(steps, burst)
    assert {k: got[k] for k in want} == want
    c = sch.counts
    assert (got["macs"], got["vector_ops"], got["steps"]) == (c.macs, c.vector_ops, c.steps)
    assert (got["sram_reads_compute"], got["sram_writes_compute"]) == (c.sram_reads_compute, c.sram_writes_compute)
    assert (got["sram_writes_dma"], got["sram_reads_dma"]) == (c.sram_writes_dma, c.sram_reads_dma)
    assert (got["offchip_load_bytes"], got["offchip_store_bytes"]) == (c.offchip_read_bytes, c.offchip_write_bytes)
    assert (got["dma_transfers"], got["dma_loads"], got["dma_bursts"]) == (c.dma_transfers, c.dma_loads, c.dma_bursts)


def test_conv_tables_equal_steps_for_every_order_buffering_psum_mode() -> None:
    modes = set()
    for sch, burst in _schedules():
        _assert_table_is_steps(sch, burst)
        modes.add((sch.spill_psums, sch.keep_psums, sch.tiling.double_buffered))
    assert {(True, False), (False, True), (False, False)} <= {m[:2] for m in modes}


def test_compute_reads_name_the_last_load_of_each_operand() -> None:
    for shape, sizes, gk, gh in (CASES[0], CASES[8]):
        _assert_reads_follow_loads(make_conv_schedule(
            shape, hw_params(make_hw(accumulators=8, words=2048, double=True), shape), ONES | sizes,
            ("g", "p", "k", "c"), True, gk, gh))


def _assert_reads_follow_loads(sch) -> None:  # noqa: ANN001
    t = steps_table(sch)
    steps = reference_steps(sch)
    last_load: dict[str, int] = {}
    reads = {}
    for i, op, base, words in zip(t.reads.step, t.reads.operand, t.reads.base_word, t.reads.words):
        reads.setdefault(int(i), {})[OPERANDS[op]] = (int(base), int(words))
    for i, st in enumerate(steps):
        if st.kind == "load":
            last_load[st.operand] = st.base_word
        if st.kind == "compute":
            assert t.kind[i] == COMPUTE
            assert reads[i]["weights"][0] == last_load["weights"] and reads[i]["inputs"][0] == last_load["inputs"]
            if "psums" in reads[i]:
                assert reads[i]["psums"][0] == st.base_word and st.psum_access in ("rmw", "read")


@pytest.mark.parametrize("pool", ["max", "avg"])
def test_pooling_tables_equal_steps(pool: str) -> None:
    sh = ConvShape("p", 3, 1, 1, 7, 7, 4, 4, 3, 3, 2, 2, 1, 1, has_bias=False, pool_op=pool)
    hw = make_hw(words=512, double=True)
    for order, double in itertools.product((("g", "k", "c", "p"), ("p", "c", "k", "g")), (False, True)):
        _assert_table_is_steps(make_conv_schedule(sh, hw_params(hw, sh), ONES, order, double))


@pytest.mark.parametrize("double", [False, True])
@pytest.mark.parametrize("kind", ["scale", "add", "reduce"])
def test_vector_tables_equal_steps(kind: str, double: bool) -> None:
    sh = {"scale": VectorShape("se", "Mul", 3, 7, 1, 0, True, False, 2, 0),
          "add": VectorShape("add", "Add", 2, 9, 2, 1, False, False, 2, 0),
          "reduce": VectorShape("gap", "GlobalAveragePool", 4, 11, 1, 0, False, True, 1, 0)}[kind]
    chunk = 3
    sizes = {"inputs": sh.full_inputs * 2, "outputs": 1 if sh.reduce else 2}
    bufs = allocate(({"scale": 1} if sh.scale else {}) | sizes, ("inputs", "outputs") if double else ())
    sch = VectorSchedule(sh, 2, 1, chunk, double, bufs, 3)
    _assert_table_is_steps(sch, 3)
