"""The bounded search (``mapping.search.bounded``, ``search_conv`` without a cache) chooses exactly what the
independent oracle chooses (helpers/conv_search_reference.py: its tiling, counts and buffers) and what the tables
choose, and its bounds are lower bounds of every row's counts and objective."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from helpers.conv_search_reference import ORACLE_SHAPES, matches, search_conv_reference
from helpers.mapping import SEARCH_SHAPES, make_hw
from sramflow.errors import MappingError
from sramflow.hw.spec import OffchipMemory, Source
from sramflow.mapping import conv
from sramflow.mapping.conv import conv_counts, step_sizes, tile_sums, trips, unit_counts
from sramflow.mapping.search import bounded, tiling_table
from sramflow.mapping.search.choose import monotone_pricing, search_conv
from sramflow.mapping.search.table_cache import TilingCache
from sramflow.mapping.search.tiling_table import (
    PRICED, _class_sums, _clipped, _in_bursts, _orders, acc_groups, candidates, hw_params,
)


@pytest.fixture(autouse=True)
def _fresh_choices():  # noqa: ANN202 - every test here searches (the memo of earlier choices would answer instead)
    bounded._MEMO.clear()
    yield
    bounded._MEMO.clear()


def test_choices_are_memoized_by_shape_and_pricing() -> None:
    """A second search of an equal shape (another name) on an equally priced hardware point is the memo's answer;
    another clock (pricing key) is searched again."""
    hw = next(points())
    shape = SEARCH_SHAPES[0]
    first = search_conv(shape, hw, "latency")
    assert len(bounded._MEMO) == 1
    again = search_conv(dataclasses.replace(shape, name="other"), dataclasses.replace(hw, name="copy"), "latency")
    assert len(bounded._MEMO) == 1 and again.tiling == first.tiling and again.shape.name == "other"
    search_conv(shape, dataclasses.replace(hw, clock_mhz=hw.clock_mhz / 2), "latency")
    assert len(bounded._MEMO) == 2


def points():  # noqa: ANN201 - geometry, ports, banks, buffering, bursts, bandwidth, latency, clock, idle energy
    src = Source("assumed", "test")
    for words, ports, double, acc, idle, banks in ((128, "1rw", False, 16, 0.0, 1), (512, "1rw1r", True, 32, 0.3, 2),
                                                   (1024, "1rw", True, 8, 2.0, 1), (64, "1rw", True, 16, 0.1, 4)):
        hw = make_hw(accumulators=acc, words=words, ports=ports, double=double)
        hw = dataclasses.replace(hw, sram=(dataclasses.replace(hw.main_sram, idle_energy_pj_per_cycle=idle,
                                                               banks=banks),))
        for burst, bw, lat, clock in ((0, 2.0, 3, 100.0), (32, 0.5, 18, 50.0), (16, 16.0, 1, 100.0)):
            off = OffchipMemory("o", "abstract", bw, lat, 10.0, 12.0, 1.0, src, burst_bytes=burst)
            yield dataclasses.replace(hw, offchip=off, clock_mhz=clock)


@pytest.mark.parametrize("small", [bounded.SMALL, 0])  # 0: every shape's candidates are bounded first
@pytest.mark.parametrize("objective", ["latency", "energy", "edp"])
def test_bounded_search_equals_oracle_and_tables(monkeypatch, objective: str, small: int) -> None:  # noqa: ANN001
    """The oracle on its own small shapes; the tables (themselves checked against the oracle) on the larger ones."""
    monkeypatch.setattr(bounded, "SMALL", small)
    cache = TilingCache()
    checked = 0
    for hw in points():
        for shape in (*ORACLE_SHAPES, *SEARCH_SHAPES):
            try:
                want = search_conv(shape, hw, objective, cache)  # the table path
            except MappingError:
                with pytest.raises(MappingError):
                    search_conv(shape, hw, objective)
                continue
            got = search_conv(shape, hw, objective)  # no cache: the bounded search
            priced = got.counts  # the counts the bounded search priced its choice at (``conv.remember_counts``)
            conv.schedule_counts.cache_clear()  # the table's schedule gets the closed form computed afresh
            assert (got.tiling, got.buffers, priced) == (want.tiling, want.buffers, want.counts), shape.name
            if shape in ORACLE_SHAPES:
                assert matches(got, search_conv_reference(shape, hw, objective)), (shape.name, hw)
            checked += 1
    assert checked >= 100


def test_few_candidates_priced_first_still_choose_the_same(monkeypatch) -> None:  # noqa: ANN001
    """With one candidate priced for the first bound (and its rows possibly not fitting), the choice is the same;
    the bounds leave candidates unpriced (so the choice depends on them being right)."""
    monkeypatch.setattr(bounded, "FIRST", 1)
    monkeypatch.setattr(bounded, "SMALL", 0)
    priced = []
    exact = bounded._exact

    def counting(shape, hwp, hw, objective, k, idx, orders):  # noqa: ANN001, ANN202
        priced.append(idx.size)
        return exact(shape, hwp, hw, objective, k, idx, orders)

    monkeypatch.setattr(bounded, "_exact", counting)
    total = 0
    cache = TilingCache()
    for hw in list(points())[::3]:
        for shape in (*ORACLE_SHAPES, *SEARCH_SHAPES):
            try:
                want = search_conv(shape, hw, "edp", cache)
            except MappingError:
                continue
            assert search_conv(shape, hw, "edp").tiling == want.tiling, shape.name
            total += candidates(shape, hw_params(hw, shape))["g"].size
    assert 0 < sum(priced) < total / 2


def _candidate_sums(shape, hwp):  # noqa: ANN001, ANN202
    """The candidate table of ``shape`` with its accumulator groups, class sums and trips; None when empty."""
    t = candidates(shape, hwp)
    if t["g"].size == 0:
        return None
    ak, gh = acc_groups(t, hwp, shape)
    cs, _, _ = _class_sums(shape, hwp, t, ak, gh, ())
    return t, ak, gh, cs, trips(shape, t)


@pytest.mark.parametrize("part_min", [tiling_table.PART_MIN, 1])  # 1: candidates summed in parts, scattered back
def test_class_sums_give_each_candidates_own_step_sizes(monkeypatch, part_min: int) -> None:  # noqa: ANN001
    """The step sizes ``_class_sums`` returns (its full-tile class) are ``conv.step_sizes`` of the candidates."""
    monkeypatch.setattr(tiling_table, "PART_MIN", part_min)
    checked = 0
    for hw in list(points())[::2]:
        for shape in SEARCH_SHAPES:
            hwp = hw_params(hw, shape)
            t = candidates(shape, hwp)
            if t["g"].size == 0:
                continue
            ak, gh = acc_groups(t, hwp, shape)
            want = step_sizes(shape, hwp, t, ak, gh)
            got = _class_sums(shape, hwp, t, ak, gh, ())[2]
            assert set(got) == set(want)
            for k, v in want.items():
                assert np.array_equal(np.broadcast_to(got[k], t["g"].shape), np.broadcast_to(v, t["g"].shape)), k
            checked += 1
    assert checked > 20


def test_bound_counts_are_at_most_every_orders_counts() -> None:
    for hw in list(points())[::2]:
        for shape in SEARCH_SHAPES:
            hwp = hw_params(hw, shape)
            got = _candidate_sums(shape, hwp)
            if got is None:
                continue
            t, ak, gh, cs, n = got
            clipped = _clipped(shape, t)
            tiles = n["g"] * n["c"] * n["p"]
            in_b = _in_bursts(shape, t, (hwp.burst_bytes,))[hwp.burst_bytes]
            in_lb = tiles if hwp.burst_bytes <= 0 else np.maximum(tiles, -(-clipped // hwp.burst_bytes))
            assert np.all(in_lb <= in_b)
            lb = unit_counts(shape, hwp, conv_counts(shape, hwp, t, (), clipped, in_lb, ak, cs, gh, n,
                                                     tile_sums(n, cs), factors=(1, 1, 1, False, False)))
            for order in _orders(shape):
                exact = unit_counts(shape, hwp, conv_counts(shape, hwp, t, order, clipped, in_b, ak, cs, gh))
                for f in PRICED:
                    assert np.all(np.asarray(lb[f]) <= np.asarray(exact[f])), (shape.name, order, f)


def test_sum_bounds_are_at_most_the_class_and_tile_sums() -> None:
    """``bounded.sum_bounds`` (closed forms over the layer's extents) is at most every class sum and tile sum that
    ``conv.conv_counts`` reads, candidate by candidate, on every test shape and geometry (pooling, depthwise,
    strided, partial last tiles, bursts)."""
    checked = 0
    for hw in points():
        for shape in (*ORACLE_SHAPES, *SEARCH_SHAPES):
            hwp = hw_params(hw, shape)
            got = _candidate_sums(shape, hwp)
            if got is None:
                continue
            t, ak, gh, cs, n = got
            ts = tile_sums(n, cs)
            lo_cs, lo_ts = bounded.sum_bounds(shape, hwp, t, ak, gh, n, _clipped(shape, t))
            for got, want in ((lo_cs, cs), (lo_ts, ts)):
                for key, lo in got.items():
                    assert np.all(np.asarray(lo) <= want[key]), (shape.name, key)
                    checked += 1
            assert np.any(np.asarray(lo_cs["i_reads"]) > 0) or shape.pool_op  # not a bound of 0
    assert checked > 1000


def test_both_bounds_are_at_most_each_candidates_best_row() -> None:
    """``_cheap_bounds``, ``_ordered`` and ``_bounds`` of every candidate are at most the objective of each of its
    fitting rows (for latency, and for the other objectives where pricing is monotone: where the bounded search is
    used), and the order-free bound (``_OrderFree``, priced by ``_min_price``: the overlapped price alone where
    double buffering is allowed) is at most ``_cheap_bounds`` and ``_ordered``."""
    import itertools

    from sramflow.cost.model import busy_cycles, energy_pj, objective_value, total_cycles
    from sramflow.mapping.search.tiling_table import _candidates_steps

    checked = tighter = 0
    for hw, objective in itertools.product(list(points())[::2], ("latency", "energy", "edp")):
        if objective != "latency" and not monotone_pricing(hw):  # the search prices a table there
            continue
        for shape in SEARCH_SHAPES:
            hwp = hw_params(hw, shape)
            t, q = _candidates_steps(shape, hwp)
            if t["g"].size == 0:
                continue
            ak, gh = acc_groups(t, hwp, shape)
            clipped = _clipped(shape, t)
            orders = tuple(_orders(shape))
            k = bounded._Candidates.of(shape, hwp, t, q, ak, gh, clipped, np.arange(t["g"].size))
            link = bounded._cheap_bounds(shape, hwp, hw, objective, t, ak, gh, clipped, orders)
            full = bounded._bounds(shape, hwp, hw, objective, k)
            # the order-free bound the search computes for every candidate is at most the cheap one it sharpens to
            of = bounded._OrderFree.of(shape, hwp, t, ak, gh, clipped)
            free = bounded._min_price(of.c, hwp, hw, objective)
            ordered = bounded._ordered(shape, hwp, hw, objective, of, t, ak, gh, orders)
            assert np.all(free <= link) and np.all(free <= ordered), shape.name
            tighter += int(np.sum(ordered > link))
            in_b = _in_bursts(shape, t, (hwp.burst_bytes,))[hwp.burst_bytes]
            for order in orders:
                raw = conv_counts(shape, hwp, t, order, clipped, in_b, ak, None, gh)
                c = unit_counts(shape, hwp, raw)
                out = np.where(np.logical_or(raw["spill"], raw["keep"]), q["p_words"], q["o_words"])
                for double in ((False, True) if hwp.double_buffering else (False,)):
                    fits = q["b_words"] + (2 if double else 1) * (q["w_words"] + q["i_words"] + out) \
                        <= hwp.capacity_words
                    cyc = total_cycles(busy_cycles(c, hw), double)
                    obj = objective_value(objective, cyc, sum(energy_pj(c, hw, cyc).values()))
                    obj = np.broadcast_to(obj, fits.shape)
                    slack = obj * (1 + bounded.MARGIN)
                    assert np.all((link <= slack) | ~fits) and np.all((full <= slack) | ~fits), (shape.name, order)
                    assert np.all((ordered <= slack) | ~fits), (shape.name, order)
                    checked += int(fits.sum())
    assert checked > 1000 and tighter > 0  # the ordered bound is tighter than the cheap one somewhere
