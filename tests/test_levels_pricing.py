"""Pricing a second SRAM level: staged-operand counts by hand, the cost table's second-level rows, the per-node
choice of staged operands, traffic per level pair, and one-level hardware left as it was."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from sramflow.cost.counts import Counts
from sramflow.cost.model import busy_cycles, components, energy_pj, resources
from sramflow.cost.table import cost_table, sram_level
from sramflow.hw.load import resolve_hw
from sramflow.mapping.conv import ConvShape
from sramflow.mapping.search.choose import search_conv, search_staged
from sramflow.mapping.staging import Hierarchy, LevelParams, OperandBytes, footprint_words, pair_traffic, staged_counts
from sramflow.sim.api import price
from sramflow.sim.results import node_json, offchip_by_operand

from helpers.graphs import small_conv_graph

L2 = "sky130-design1-l2"
OPS = {"weights": OperandBytes(1000, 0, 250, 250, 10), "inputs": OperandBytes(5000, 0, 1000, 1000, 30),
       "outputs": OperandBytes(0, 800, 800, 800, 6), "psums": OperandBytes(300, 300, 0, 400, 4)}
BASE = Counts(offchip_weight_bytes=1000, offchip_input_bytes=5000, offchip_output_bytes=800,
              offchip_psum_read_bytes=300, offchip_psum_write_bytes=300, dma_bursts=50, sram_reads_compute=7)
P = Hierarchy((LevelParams("big", word_bytes=8, capacity_words=1024),), first_level_bytes=256, offchip_burst_bytes=256)
SRAM1 = sram_level(1)


def test_staged_counts_by_hand() -> None:
    c = staged_counts(BASE, OPS, ("weights", "psums"), (1, 1), P)
    # weights cross the link once (250 B, one transaction), partial sums never; inputs and outputs as tiles
    assert (c.offchip_weight_bytes, c.offchip_input_bytes, c.offchip_output_bytes) == (250, 5000, 800)
    assert (c.offchip_psum_read_bytes, c.offchip_psum_write_bytes) == (0, 0)
    assert c.dma_bursts == 30 + 6 + 1
    # second level: fill ceil(250/8) = 32 + psum spills ceil(300/8) = 38 written; refills ceil(1000/8) = 125 +
    # psum reloads 38 read
    assert (c.level_writes, c.level_reads) == ((32 + 38,), (125 + 38,))
    assert c.sram_reads_compute == 7  # the first level's accesses do not change
    assert footprint_words(OPS, ("weights", "psums"), (1, 1), P) == (32 + 50,)
    assert staged_counts(BASE, OPS, (), (), P) is BASE
    out = staged_counts(BASE, OPS, ("outputs",), (1,), P)  # outputs: stored into the level, drained once in 256 B bursts
    assert (out.level_writes, out.level_reads, out.offchip_output_bytes) == ((100,), (100,), 800)
    assert out.dma_bursts == 10 + 30 + math.ceil(800 / 256) + 4


def test_pair_traffic_by_hand() -> None:
    t = pair_traffic(OPS, ("inputs",), (1,), "off", ("small", "big"))
    assert t["off<->big"] == {"weights": 0, "inputs": 1000, "outputs": 0, "psums": 0}
    assert t["big<->small"] == {"weights": 0, "inputs": 5000, "outputs": 0, "psums": 0}
    assert t["off<->small"] == {"weights": 1000, "inputs": 0, "outputs": 800, "psums": 600}


def test_cost_table_has_second_level_rows_only_where_it_exists() -> None:
    t2, t1 = cost_table(resolve_hw(L2)), cost_table(resolve_hw("sky130-design1"))
    l2 = resolve_hw(L2).sram[1]
    assert t2.energy[SRAM1, "read"] == l2.read_energy_pj and t2.energy[SRAM1, "write"] == l2.write_energy_pj
    assert t2.static_uw[SRAM1, "static"] == l2.leakage_uw and t2.ports[SRAM1].banks == 32
    assert not any(lv == SRAM1 for lv, *_ in t1.rows()) and SRAM1 not in t1.ports
    assert "sram1_port" in resources(resolve_hw(L2)) and "sram1_port" not in resources(resolve_hw("sky130-design1"))
    assert "sram1_read" not in components(resolve_hw("sky130-design1"))


PW = ConvShape("pw", 1, 64, 32, 14, 14, 14, 14, 1, 1, 1, 1, 0, 0)  # 2 KiB weights, 6 KiB in, 12 KiB out


@pytest.mark.parametrize("objective", ["latency", "energy", "edp"])
def test_l2_pricing_of_a_pointwise_layer(objective: str) -> None:
    hw = resolve_hw(L2)
    l2 = hw.sram[1]
    sch = search_staged(PW, hw, objective)
    assert sch.staged, "a layer whose inputs are refetched per output-channel tile stages them"
    ops, c = sch.operand_bytes, sch.counts
    one = sch.first_level_counts
    assert ops["inputs"].tile_read == one.offchip_input_bytes > PW.input_bytes  # refetched from off-chip ...
    if "inputs" in sch.staged:
        assert c.offchip_input_bytes == PW.input_bytes  # ... but crosses the link once when staged
    for o, b in ops.items():
        if o in sch.staged and o != "psums":
            assert offchip_by_operand(c)[o] == b.whole
    r = price("pw", "Conv", sch, hw)
    # counts x table, by hand
    assert r.energy_pj_by_component["sram1_read"] == c.level_access(1)[0] * l2.read_energy_pj
    assert r.energy_pj_by_component["sram1_write"] == c.level_access(1)[1] * l2.write_energy_pj
    assert r.busy_cycles["sram1_port"] == math.ceil(sum(c.level_access(1)) / l2.banks)
    assert r.energy_pj_by_component["sram_read"] == c.sram_reads * hw.main_sram.read_energy_pj
    # the chosen pair is no worse than nothing staged with the one-level tiling
    plain = dataclasses.replace(search_conv(PW, hw, objective), staged=(), staged_levels=(), levels=sch.levels)
    rp = price("pw", "Conv", plain, hw)
    val = {"latency": lambda x: x.cycles, "energy": lambda x: x.energy_uj, "edp": lambda x: x.cycles * x.energy_uj}
    assert val[objective](r) <= val[objective](rp) * (1 + 1e-12)
    # traffic per pair adds up to the off-chip link's bytes by operand
    t = node_json(r)["traffic_bytes_by_level_pair"]
    assert set(t) == {"qspi-psram<->design1", "qspi-psram<->l2", "l2<->design1"}
    link = {k: t["qspi-psram<->design1"][k] + t["qspi-psram<->l2"][k] for k in t["qspi-psram<->l2"]}
    assert link == node_json(r)["offchip_bytes"]


def test_an_operand_larger_than_the_level_is_never_staged() -> None:
    big = ConvShape("big", 1, 32, 32, 112, 112, 112, 112, 3, 3, 1, 1, 1, 1)  # 392 KiB input and output
    sch = search_staged(big, resolve_hw(L2), "latency")
    assert "inputs" not in sch.staged and "outputs" not in sch.staged
    assert footprint_words(sch.operand_bytes, sch.staged, sch.staged_levels, sch.levels)[0] <= \
        sch.levels.outer[0].capacity_words


def test_one_level_hardware_is_untouched() -> None:
    hw = resolve_hw("sky130-design1")
    sch = search_staged(PW, hw, "latency")
    assert sch == search_conv(PW, hw, "latency") and sch.staged == () and sch.levels is None
    r = price("pw", "Conv", sch, hw)
    assert "traffic_bytes_by_level_pair" not in node_json(r) and "sram1_port" not in r.busy_cycles
    cd = dataclasses.asdict(sch.counts)
    assert set(busy_cycles(cd, hw)) == {"offchip", "sram_port", "mac", "vector", "dma_port", "compute_port"}
    assert list(energy_pj(cd, hw, r.cycles)) == ["offchip", "sram_read", "sram_write", "mac", "vector", "register",
                                                 "leakage"]


def test_small_network_on_l2_totals_and_files(tmp_path) -> None:  # noqa: ANN001
    import json

    from sramflow.sim.api import prepare_graph, simulate_prepared, simulate_totals
    from sramflow.sim.results import total_json
    from sramflow.sim.writers import write_outputs

    hw = resolve_hw(L2)
    prep = prepare_graph(small_conv_graph())
    res = simulate_prepared(prep, hw, "latency")
    assert any(s.staged for s in res.schedules if hasattr(s, "staged"))
    tot = total_json(list(res.nodes), hw.clock_mhz)
    assert simulate_totals(prep, hw, "latency") == tot
    assert tot["energy_uj"] == pytest.approx(sum(tot["energy_uj_by_component"].values()))
    pairs = tot["traffic_bytes_by_level_pair"]
    assert {k: pairs["qspi-psram<->design1"][k] + pairs["qspi-psram<->l2"][k] for k in tot["offchip_bytes"]} == \
        tot["offchip_bytes"]
    one = simulate_prepared(prep, resolve_hw("sky130-design1"), "latency")
    assert total_json(list(one.nodes), hw.clock_mhz)["cycles"] >= tot["cycles"]  # the level only adds options
    write_outputs(res, tmp_path)
    lm = json.loads((tmp_path / "layer_mapping.json").read_text())
    assert all("staged_in_l2" in layer for layer in lm["layers"])


def test_functional_l2_bit_exact_with_counts_equal() -> None:
    from sramflow.funcsim.run import run_functional
    from sramflow.quant.api import quantize_graph
    from sramflow.reference.run import quantize_input
    from sramflow.sim.api import prepare_graph, simulate_prepared

    g = small_conv_graph()
    x = np.random.default_rng(1).standard_normal((2, *g.shape(g.input)[1:])).astype(np.float32)
    q = quantize_graph(g, x)
    xq = quantize_input(q, x[0])
    hw = resolve_hw(L2)
    for objective in ("latency", "energy"):
        res = simulate_prepared(prepare_graph(g), hw, objective)
        staged = {o for s in res.schedules for o in getattr(s, "staged", ())}
        assert staged, objective
        r = run_functional(g, q, res.schedules, xq, hw.main_sram.total_words, hw.main_sram.word_bytes)
        assert r.bit_exact and r.mismatches == () and r.clobbers == 0, objective
        assert r.counts_functional == r.counts_analytical and r.counts_match, objective
        assert r.counts_functional["sram1_writes"] > 0 and r.counts_functional["sram1_reads"] > 0
        assert r.counts_functional["offchip_bytes"] == sum(n.counts.offchip_bytes for n in res.nodes)
