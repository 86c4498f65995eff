"""``mapping.search.plan.PointPlan`` chooses, for every shape, exactly the schedule ``search_conv`` / ``search_vector`` choose:
with every table priced whole and with every table cut by the bounds first (``WHOLE_ROWS = 0``), over hardware
points that vary geometry, ports, banks, double buffering, burst sizes, bandwidth, clock and a non-monotone idle
energy, for the three objectives, with plans reused across points (the previous choices as probes) and a smaller SRAM
served by a larger one's tables."""

from __future__ import annotations

import dataclasses

import pytest

from sramflow.errors import MappingError
from sramflow.hw.load import resolve_hw
from sramflow.hw.spec import OffchipMemory, Source
from sramflow.mapping.conv import ConvShape
from sramflow.mapping.search.choose import search_conv, search_vector
from sramflow.mapping.search.table_cache import TilingCache
from sramflow.mapping.vector import VectorShape
from sramflow.mapping.search import plan as P
from sramflow.sim.api import unique_shapes, prepare_graph
from sramflow.sweep.hwpoint import point_hw
from helpers.mapping import make_hw, SEARCH_SHAPES

VECTORS = (
    VectorShape("sig", "Sigmoid", 1, 600, 1, 0, False, False, 1, 1),
    VectorShape("add", "Add", 1, 300, 2, 0, False, False, 1, 0),
    VectorShape("se", "Mul", 12, 49, 1, 0, True, False, 1, 0),
    VectorShape("gap", "GlobalAveragePool", 16, 64, 1, 0, False, True, 1, 0),
    VectorShape("soft", "Softmax", 1, 40, 1, 0, False, False, 3, 1, whole_segment=True, passes=3, seg_ops=1),
)


def _points():  # noqa: ANN202
    src = Source("assumed", "test")
    # the third SRAM is the second one smaller: its tables are the second's rows that fit (``_Seg.fit``)
    for words, ports, double, banks, idle in ((128, "1rw", False, 1, 0.0), (512, "1rw1r", True, 2, 0.3),
                                              (128, "1rw1r", True, 2, 0.3), (1024, "1rw", True, 1, 2.0),
                                              (256, "1rw1r", False, 4, 0.1)):
        hw = make_hw(accumulators=16, words=words, ports=ports, double=double)
        hw = dataclasses.replace(hw, sram=(dataclasses.replace(hw.main_sram, idle_energy_pj_per_cycle=idle,
                                                               banks=banks),))
        for burst in (0, 32):
            for bw, lat, clock in ((2.0, 3, 100.0), (0.25, 40, 50.0), (16.0, 1, 100.0)):
                off = OffchipMemory("o", "abstract", bw, lat, 10.0, 12.0, 1.0, src, burst_bytes=burst)
                yield dataclasses.replace(hw, offchip=off, clock_mhz=clock)


def _chosen(plan: P.PointPlan, j: int, row: int) -> tuple:
    s = plan.segs[j]
    if isinstance(s.shape, ConvShape):
        hwp, table = s.source
        sch = P.row_schedule(s.shape, hwp, table, row)
        return sch.tiling, sch.buffers
    return int(s.source[3][row]), bool(s.double[row])


def _want(shape, hw, objective: str, cache: TilingCache) -> tuple:  # noqa: ANN001
    if isinstance(shape, ConvShape):
        sch = search_conv(shape, hw, objective, cache)
        return sch.tiling, sch.buffers
    v = search_vector(shape, hw, objective)
    return v.chunk, v.double_buffered


@pytest.mark.parametrize("whole_rows", [P.WHOLE_ROWS, 0])
@pytest.mark.parametrize("objective", ["latency", "energy", "edp"])
def test_plan_chooses_as_the_search(monkeypatch, whole_rows: int, objective: str) -> None:  # noqa: ANN001
    monkeypatch.setattr(P, "WHOLE_ROWS", whole_rows)
    shapes = (*SEARCH_SHAPES, *VECTORS)
    cache, ref = TilingCache(), TilingCache()
    plans = P.PlanCache(cache)
    checked = 0
    for hw in _points():
        plan = P.point_plan(shapes, hw, plans)
        if plan.error is not None:
            with pytest.raises(MappingError, match=str(plan.error)[:30]):
                for shape in shapes:
                    _want(shape, hw, objective, ref)
            continue
        rows = plan.choose(hw, objective)
        for shape, j in zip(shapes, plan.seg_of):
            assert _chosen(plan, j, rows[j]) == _want(shape, hw, objective, ref), (shape.name, hw.main_sram)
            checked += 1
    assert checked >= 250 and len(plans.plans) == P.PLANS_KEPT and cache.derived > 0


@pytest.mark.slow
def test_plan_chooses_as_the_search_b0(b0_graph_224) -> None:  # noqa: ANN001
    """B0 @224: large tables (cut by the bounds) on a slow and a fast off-chip memory, 1RW and 1RW1R."""
    shapes, _ = unique_shapes(prepare_graph(b0_graph_224))
    cache = TilingCache()
    plans = P.PlanCache(cache)
    base = resolve_hw("sky130-design1")
    for off in ("qspi-psram", "lpddr4"):
        for ports, objective in (("1rw", "latency"), ("1rw1r", "latency"), ("1rw", "edp")):
            hw = point_hw(base, {"sram_words": 512, "sram_word_bits": 32, "offchip": off, "sram_ports": ports}).hw
            plan = P.point_plan(shapes, hw, plans)
            assert plan.large
            rows = plan.choose(hw, objective)
            for j in plan.large:
                shape = plan.segs[j].shape
                assert _chosen(plan, j, rows[j]) == _want(shape, hw, objective, cache), shape.name
