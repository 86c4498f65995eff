"""The first loads the overlapped cycle model leaves out (``sim.first_loads``): counted by hand on small schedules,
left out for operands resident in an outer level and for serial schedules, reported with every simulation, and
counted where ``simulate`` compares the whole SRAM with its splits."""

from __future__ import annotations

import json

import pytest

from sramflow.hw.partition import is_partitioned, partitioned
from sramflow.mapping.search.choose import make_conv_schedule, objective_key
from sramflow.mapping.search.tiling_table import hw_params
from sramflow.mapping.depth_first_bands import BandSplitSchedule
from sramflow.sim.api import prepare_graph, simulate_prepared
from sramflow.sim.first_loads import first_load_bytes, first_load_cycles
from sramflow.sim.results import total_json
from sramflow.sim.summary import summary_text
from sramflow.sim.writers import report_json
from helpers.graphs import se_block_graph
from helpers.mapping import ONES, make_hw, pw, with_bursts
from test_partition import one_level


@pytest.mark.parametrize(("c_tile", "nbytes", "loads"), [
    (8, 12 + 24 + 32, 3),  # one reduction tile: the bias (3 x int32), 3 x 8 weights, 8 x 4 inputs
    (4, 12 + 16, 2),  # two: the bias comes with the last reduction step, after the first compute
])
def test_first_loads_of_a_pointwise_conv_by_hand(c_tile: int, nbytes: int, loads: int) -> None:
    hw = with_bursts(make_hw(accumulators=16, words=2048, double=True), 0)  # 2 B / cycle, 3 cycles per transfer
    sh = pw(6, 8, 4, 4)
    sch = make_conv_schedule(sh, hw_params(hw, sh), ONES | {"k": 3, "c": c_tile, "w": 4}, ("g", "k", "p", "c"),
                             True, 0)
    assert first_load_bytes(sch, 0) == (nbytes, loads)
    assert first_load_cycles([sch], [True], hw) == -(-nbytes // 2) + 3 * loads
    assert first_load_cycles([sch], [False], hw) == 0  # a serial schedule's loads are in its cycles already


def test_bursts_pay_the_latency_per_transaction() -> None:
    hw = with_bursts(make_hw(accumulators=16, words=2048, double=True), 8)
    sh = pw(6, 8, 4, 4)
    sch = make_conv_schedule(sh, hw_params(hw, sh), ONES | {"k": 3, "c": 8, "w": 4}, ("g", "k", "p", "c"), True, 0)
    assert first_load_bytes(sch, 8) == (68, 2 + 3 + 4)  # 12, 24 and 32 bytes in 8-byte transactions


def test_resident_operands_are_not_loaded_over_the_link() -> None:
    """On a split SRAM the SE block's depthwise runs in bands reading the expand's output from the region, the
    bands after the first also its weights: those parts' first tiles of them come from the level, not the link."""
    g = se_block_graph(48)
    res = simulate_prepared(prepare_graph(g, "depth-first"), partitioned(one_level(16384), 4096), "energy",
                            splits=False)
    consumers = [p.schedule for s in res.schedules if isinstance(s, BandSplitSchedule) and s.role == "consumer"
                 for p in s.parts]
    kept_weights = 0
    for part in consumers:
        steps = _before_compute(part)
        assert "inputs" in {st.operand for st in steps if st.kind == "load"}
        weights = sum(st.offchip_bytes for st in steps if st.kind == "load" and st.operand in ("bias", "weights"))
        resident = part.conv.resident
        kept_weights += "weights" in resident
        assert first_load_bytes(part, 0)[0] == (0 if "weights" in resident else weights)
    assert 0 < kept_weights < len(consumers)


def _before_compute(sch):  # noqa: ANN001, ANN202
    out = []
    for st in sch.steps():
        if st.kind == "compute":
            break
        out.append(st)
    return out


def test_reported_beside_the_latency() -> None:
    g = se_block_graph(24)
    res = simulate_prepared(prepare_graph(g, "depth-first"), one_level(4096), "latency")
    rep = json.loads(json.dumps(report_json(res)))
    assert rep["first_load_cycles"] == res.first_load_cycles > 0
    assert res.first_load_cycles < rep["total"]["cycles"]
    assert f"optimistic by at most {res.first_load_cycles:,} cycles" in summary_text(res)


def test_splits_are_compared_with_their_first_loads() -> None:
    """``simulate`` keeps the whole SRAM or a split by the objective with each one's first loads counted."""
    g = se_block_graph(48)
    prep, hw = prepare_graph(g, "depth-first"), one_level(16384)
    got = simulate_prepared(prep, hw, "latency")
    keys = []
    for tiles in (16384, 12288, 4096):
        h = hw if tiles == 16384 else partitioned(hw, tiles)
        r = simulate_prepared(prep, h, "latency", splits=False)
        t = total_json(list(r.nodes), h.clock_mhz)
        keys.append((objective_key(t["cycles"] + r.first_load_cycles, t["energy_uj"], "latency"), -tiles))
    assert got.hw.sram[0].size_bytes == -min(keys)[1]
    if not is_partitioned(got.hw):
        assert "first loads counted" in got.fusion_note


def test_a_held_scale_vector_does_not_end_the_first_loads(b0_224_simulated) -> None:  # noqa: ANN001
    """features.1.0's projection on design1 holds its SE vector in the first level: each input tile load is preceded
    by a vector read of the words holding its scales. That read is part of the load, so the first input tile (and
    what comes after it before the first MAC step) is still a first load."""
    from sramflow.hw.load import resolve_hw

    res = b0_224_simulated("sky130-design1", "epilogue")
    s = dict(zip((n.name for n in res.nodes), res.schedules))["features.1.0.block.2.0/Conv"]
    assert s.scale_level == 0
    before, loaded = [], set()
    for st in s.steps():
        if st.kind == "compute" and st.operand != "scale":
            break
        before.append(st)
        loaded |= {st.operand} if st.kind == "load" else set()
    assert {"inputs", "weights"} <= loaded and any(st.kind == "compute" for st in before)  # the scale read
    burst = resolve_hw("sky130-design1").offchip.burst_bytes
    assert first_load_bytes(s, burst)[0] == sum(st.offchip_bytes for st in before if st.kind == "load")
