"""A cycle budget with depth-first fusion on hardware with an outer SRAM level (``sim.api._trade_within``): the
latency objective's depth-first mapping, then layers re-cut for energy with the cycles the budget leaves
(``mapping.depth_first_split.trade_cuts``)."""

from __future__ import annotations

import pytest

from sramflow.errors import MappingError
from sramflow.funcsim.run import run_functional
from sramflow.hw.load import resolve_hw
from sramflow.mapping.depth_first_split import INPUTS_KEPT_AXIS, KEPT_AXIS, SplitSchedule
from sramflow.sim.api import prepare_graph, simulate_prepared
from sramflow.sim.results import total_json
from helpers.graphs import pointwise_graph, quantized


def _setup():  # noqa: ANN202
    """B0's features.5.1 projection shape (672 -> 112 channels at 14 x 14) on design1-l2: its 131 KB input does not
    fit the 64 KiB level, so the fastest cut keeps input bands and reads the weights once per band; keeping weight
    chunks instead reads the input twice, moves less and takes a few hundred cycles more."""
    g = pointwise_graph(672, 112, 14)
    hw = resolve_hw("sky130-design1-l2")
    prep = prepare_graph(g, "depth-first")
    fastest = simulate_prepared(prep, hw, "latency")
    return g, hw, prep, fastest, total_json(list(fastest.nodes), hw.clock_mhz)


def test_spare_cycles_buy_a_cut_that_saves_energy_and_traffic() -> None:
    g, hw, prep, fastest, tf = _setup()
    assert fastest.schedules[0].axis == INPUTS_KEPT_AXIS
    budget = tf["cycles"] + 10_000
    res = simulate_prepared(prep, hw, "energy", budget)
    t = total_json(list(res.nodes), hw.clock_mhz)
    assert tf["cycles"] < t["cycles"] <= budget and t["energy_uj"] < tf["energy_uj"]
    assert sum(t["offchip_bytes"].values()) < sum(tf["offchip_bytes"].values())
    s = res.schedules[0]
    assert isinstance(s, SplitSchedule) and s.axis == KEPT_AXIS and res.recut_layers == 1
    assert s.counts.offchip_weight_bytes == s.shape.weight_bytes + s.shape.bias_bytes  # weights cross once
    assert "1 layers re-mapped for energy" in res.fusion_note and res.cycle_budget == budget
    q, x = quantized(g)
    r = run_functional(g, q, res.schedules, x, hw.main_sram.total_words, hw.main_sram.word_bytes)
    assert r.bit_exact and r.clobbers == 0 and r.counts_match


def test_a_budget_over_the_fastest_depth_first_mapping() -> None:
    """``over_fastest_pct``: the fastest depth-first mapping, made once, gives both the budget and the re-cuts; the
    same mapping as the budget in cycles."""
    _, hw, prep, fastest, tf = _setup()
    res = simulate_prepared(prep, hw, "energy", over_fastest_pct=1.0)
    budget = int(tf["cycles"] * 1.01)
    assert (res.fastest_cycles, res.cycle_budget) == (tf["cycles"], budget)
    same = simulate_prepared(prep, hw, "energy", budget)
    assert [r.counts for r in res.nodes] == [r.counts for r in same.nodes] and res.recut_layers == same.recut_layers


def test_no_spare_cycles_keep_the_fastest_mapping() -> None:
    _, hw, prep, fastest, tf = _setup()
    res = simulate_prepared(prep, hw, "energy", tf["cycles"])
    t = total_json(list(res.nodes), hw.clock_mhz)
    assert t["cycles"] == tf["cycles"] and t["energy_uj"] == pytest.approx(tf["energy_uj"])
    assert res.recut_layers == 0
    with pytest.raises(MappingError, match=rf"below the {tf['cycles']:,} cycles of the least feasible mapping "
                                           r"\(the latency objective's, fusion depth-first\)"):
        simulate_prepared(prep, hw, "energy", tf["cycles"] - 1)


def test_a_budget_on_l2_without_depth_first_is_a_named_error() -> None:
    from sramflow.errors import SramflowError

    g = pointwise_graph(16, 16, 4)
    hw = resolve_hw("sky130-design1-l2")
    with pytest.raises(SramflowError, match="only supported with --fusion depth-first"):
        simulate_prepared(prepare_graph(g, "epilogue"), hw, "energy", 10**9)


def test_an_se_pool_gets_words_on_its_depthwise_output_path() -> None:
    """B0's features.7.0 depthwise (1,152 channels, 7 x 7) on design1-l2: its fastest tiling leaves 2 of the first
    level's 128 words free, a 2-channel tile's running sums need 4, so epilogue fusion gives the SE pool a pass of
    its own. Depth-first re-searches the conv with words left free, and keeps that where the objective gains (the
    pool's pass reads the 56 KB feature map back): fewer cycles and less traffic, bit-exact, counts equal."""
    from helpers.graphs import se_depthwise_graph
    from sramflow.mapping.epilogue import EpilogueSchedule

    g = se_depthwise_graph()
    hw = resolve_hw("sky130-design1-l2")
    names = [n.name for n in g.nodes]
    results = {m: simulate_prepared(prepare_graph(g, m), hw, "latency") for m in ("epilogue", "depth-first")}
    assert results["epilogue"].schedules[names.index("gap")].unit == "vector"
    res = results["depth-first"]
    dw = res.schedules[names.index("dw")]
    assert res.schedules[names.index("gap")].unit == "fused" and isinstance(dw, EpilogueSchedule) and dw.pool == "gap"
    assert dw.conv.hw.capacity_words == hw.main_sram.total_words  # priced on the real level, not the smaller one
    pair = [names.index("dw"), names.index("gap")]
    cycles = {k: sum(r.nodes[i].cycles for i in pair) for k, r in results.items()}
    offchip = {k: sum(r.schedules[i].counts.offchip_bytes for i in pair) for k, r in results.items()}
    assert cycles["depth-first"] < cycles["epilogue"] and offchip["depth-first"] < offchip["epilogue"]
    q, x = quantized(g)
    r = run_functional(g, q, res.schedules, x, hw.main_sram.total_words, hw.main_sram.word_bytes)
    assert r.bit_exact and r.clobbers == 0 and r.counts_match
