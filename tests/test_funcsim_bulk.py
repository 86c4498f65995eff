"""The bulk executor against the per-step one on single layers of many schedule kinds (loop orders, double
buffering, kept / spilled partial sums, accumulator groups, no bias, input-row registers), vector schedules,
its layout maps against mapping.layout, and the run-pipeline entry point."""

from __future__ import annotations

import dataclasses
import itertools
import json

import numpy as np
import pytest

from sramflow.funcsim.api import run_functional_graph
from sramflow.funcsim.bulk_conv import execute_conv_bulk
from sramflow.funcsim.bulk_sram import layout_map
from sramflow.funcsim.bulk_vector import execute_vector_bulk
from sramflow.funcsim.exec_conv import ConvData, execute_conv
from sramflow.funcsim.exec_vector import VectorData, execute_vector
from sramflow.funcsim.sram import Sram
from sramflow.funcsim.state import Machine
from sramflow.mapping.conv import ConvShape
from sramflow.mapping.layout import TileLayout, word_address
from sramflow.mapping.schedule import allocate
from sramflow.mapping.search.choose import make_conv_schedule
from sramflow.mapping.search.tiling_table import hw_params
from sramflow.mapping.vector import VectorSchedule, VectorShape
from sramflow.quant.api import quantize_graph
from sramflow.sim.api import simulate_graph
from helpers.mapping import ONES, make_hw, CONV_CASES
from helpers.graphs import tiny_graph, randomized


def _conv_data(sh, seed: int = 0) -> ConvData:  # noqa: ANN001
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (sh.groups * sh.c_per_group, sh.in_h, sh.in_w), dtype=np.int64).astype(np.int8)
    w = rng.integers(-128, 128, (sh.groups, sh.k_per_group, sh.c_per_group, sh.kernel_h, sh.kernel_w)).astype(np.int8)
    b = rng.integers(-5000, 5000, (sh.groups, sh.k_per_group)) if sh.has_bias else None
    return ConvData(x, 3, w, b, lambda acc, ch: np.clip((acc >> 7) + ch[..., None, None] % 5, -128, 127).astype(np.int8))


def _both(run_step, run_bulk, sch, data, words: int):  # noqa: ANN001, ANN202
    out = []
    for run in (run_step, run_bulk):
        m = Machine(Sram(words, 2))
        y = run(sch, data, m)
        out.append((y, m.tally.as_dict(), m.sram.clobbers, m.sram.reads, m.sram.writes, tuple(m.step_mismatches)))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("case", range(len(CONV_CASES)))
def test_bulk_equals_per_step_on_conv_schedules(case: int) -> None:
    shape, sizes, gk, gh = CONV_CASES[case]
    hw = make_hw(accumulators=8, words=2048, double=True)
    data = _conv_data(shape, case)
    modes = set()
    # a third of the 24 loop orders per case, a different third for consecutive cases: every order still runs on
    # several shapes, each case still runs with both bufferings and with and without input-row registers
    orders = list(itertools.permutations(("g", "k", "c", "p")))[case % 3::3]
    for order, double, rows in itertools.product(orders, (False, True), (None, 0)):
        hwp = hw_params(hw, shape)
        hwp = hwp if rows is None else dataclasses.replace(hwp, input_row_bytes=rows)
        sch = make_conv_schedule(shape, hwp, ONES | sizes, order, double, gk, gh)
        modes.add((sch.spill_psums, sch.keep_psums))
        (y1, *c1), (y2, *c2) = _both(execute_conv, execute_conv_bulk, sch, data, 2048)
        assert np.array_equal(y1, y2) and c1 == c2 and c1[1] == 0 and c1[4] == ()
        assert c1[0]["macs"] == sch.counts.macs


@pytest.mark.parametrize("order", [("g", "k", "c", "p"), ("g", "k", "p", "c")])
def test_extreme_partial_sums_fit_24_bits(order: tuple[str, ...]) -> None:
    # C = 257 products of (-128 - 127) x -128 = 32,640 each: the largest exact 24-bit partial sum case; the
    # reduction is split in two (129 + 128 channels), the psums of the 2 x 1-channel accumulator groups spill or
    # stay in the SRAM as 3-byte integers
    sh = ConvShape("big", 1, 2, 257, 1, 2, 1, 2, 1, 1, 1, 1, 0, 0)
    assert sh.psum_bytes == 3
    x = np.full((257, 1, 2), -128, np.int8)
    w = np.full((1, 2, 257, 1, 1), -128, np.int8)
    data = ConvData(x, 127, w, np.array([[-7, -7]]), lambda acc, ch: np.clip(acc >> 16, -128, 127).astype(np.int8))
    hw = make_hw(accumulators=1, words=2048)
    sch = make_conv_schedule(sh, hw_params(hw, sh), {"g": 1, "k": 2, "c": 129, "h": 1, "w": 1}, order, False, 1)
    assert sch.spill_psums or sch.keep_psums
    (y1, *c1), (y2, *c2) = _both(execute_conv, execute_conv_bulk, sch, data, 2048)
    want = np.full((2, 1, 2), (257 * 32640 - 7) >> 16, np.int8)
    assert np.array_equal(y1, want) and np.array_equal(y2, want) and c1 == c2 and c1[1] == 0 and c1[4] == ()


def test_a_partial_sum_that_does_not_fit_is_refused() -> None:
    from sramflow.funcsim import layout as L

    assert L.fits(np.array([-(1 << 23), (1 << 23) - 1]), L.INT24) and not L.fits(np.array([1 << 23]), L.INT24)
    v = np.array([-(1 << 23), -1, 0, 5, (1 << 23) - 1])
    assert np.array_equal(L.unpack_group(L.le_bytes(v, L.INT24), (5,), L.INT24), v)


@pytest.mark.parametrize("kind", ["scale", "add", "reduce"])
@pytest.mark.parametrize("double", [False, True])
def test_bulk_equals_per_step_on_vector_schedules(kind: str, double: bool) -> None:
    sh = {"scale": VectorShape("se", "Mul", 3, 7, 1, 0, True, False, 2, 0),
          "add": VectorShape("add", "Add", 2, 9, 2, 0, False, False, 2, 0),
          "reduce": VectorShape("gap", "GlobalAveragePool", 4, 11, 1, 0, False, True, 1, 0)}[kind]
    sizes = {"inputs": sh.full_inputs * 2, "outputs": 1 if sh.reduce else 2}
    bufs = allocate(({"scale": 1} if sh.scale else {}) | sizes, ("inputs", "outputs") if double else ())
    sch = VectorSchedule(sh, 2, 1, 3, double, bufs)
    rng = np.random.default_rng(1)
    full = tuple(rng.integers(-128, 128, (sh.segments, sh.seg_len)).astype(np.int8) for _ in range(sh.full_inputs))
    if kind == "scale":
        d = VectorData(full, rng.integers(-128, 128, sh.segments).astype(np.int8), (("full", 0), ("scale", 0)),
                       lambda x, s: (x.astype(np.int16) * s // 128).astype(np.int8), False)
    elif kind == "add":
        d = VectorData(full, None, (("full", 0), ("full", 1)), lambda a, b: ((a.astype(np.int16) + b) // 2).astype(np.int8),
                       False)
    else:
        d = VectorData(full, None, (("full", 0),), lambda s: (s.astype(np.int64).sum(axis=-1) // 11).astype(np.int8),
                       True)
    (y1, *c1), (y2, *c2) = _both(execute_vector, execute_vector_bulk, sch, d, 128)
    assert np.array_equal(y1, y2) and c1 == c2 and c1[1] == 0 and c1[4] == ()


@pytest.mark.parametrize("extents,eb,group,aligned", [((2, 5, 3), 1, 2, False), ((2, 5), 4, 2, False),
                                                      ((3, 4, 5), 1, 0, True), ((1, 3, 2, 2), 4, 3, False)])
def test_layout_map_matches_word_address(extents, eb: int, group: int, aligned: bool) -> None:  # noqa: ANN001
    pmap = layout_map(extents, eb, 2, group, aligned)
    lay = TileLayout(tuple("abcd"[:len(extents)]), extents, eb, 2, group_axis=1 if group else None, group_size=group,
                     row_aligned=aligned)
    assert pmap.size == lay.words * 2
    for e, idx in enumerate(np.ndindex(*extents)):
        word, lane = word_address(0, lay, idx)
        assert pmap[word * 2 + lane] == e * eb  # the element's first byte


def test_run_functional_graph_writes_the_report(tmp_path) -> None:  # noqa: ANN001
    g = randomized(tiny_graph())
    hw = make_hw(double=True)
    res = simulate_graph(g, hw)
    x = np.random.default_rng(0).standard_normal(g.shape(g.input)[1:]).astype(np.float32)
    q = quantize_graph(g, x[None])
    rep = run_functional_graph(g, q, res, x, tmp_path)
    assert rep["bit_exact"] and rep["counts_match"] and rep["clobbers"] == 0
    assert json.loads((tmp_path / "functional_report.json").read_text())["bit_exact"] is True
