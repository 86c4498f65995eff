"""Three SRAM levels from a YAML file and no code: design1 as the scratchpad, a 4 KiB level and a 64 KiB level built
from banks of the characterized 2 KiB macro of ``sky130-design1-l2`` (its energies, scaled by the rule that preset
states, with their provenance), then the same off-chip memory. Staging places operands in either outer level (an
operand in level 2 transits level 1), the cost table prices every level, and the functional simulator executes it
bit-exactly with the counts of the analytical model per level."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from sramflow.cost.counts import Counts
from sramflow.cost.model import components, resources
from sramflow.cost.table import cost_table
from sramflow.hw.load import _preset_dir, hw_from_dict
from sramflow.hw.yamlio import load_yaml_text
from sramflow.mapping.conv_schedule import ConvSchedule
from sramflow.mapping.staging import Hierarchy, LevelParams, OperandBytes, fits, pair_traffic, staged_counts
from sramflow.sim.api import prepare_graph, simulate_prepared
from sramflow.sim.results import total_json

from helpers.graphs import small_conv_graph


def three_level_yaml() -> dict:
    """``sky130-design1-l2`` with a 4 KiB level (2 banks of its 2 KiB macro) inserted between design1 and l2."""
    d = load_yaml_text(_preset_dir().joinpath("sky130-design1-l2.yaml").read_text(encoding="utf-8"), "test")
    at = next(i for i, e in enumerate(d["memories"]) if isinstance(e.get("sram"), dict) and e["sram"]["name"] == "l2")
    l2 = d["memories"][at]["sram"]
    mid = copy.deepcopy(l2) | {"name": "l1b", "banks": 2}
    mid["source"] = dict(l2["source"], ref="2 banks of the sky130-design1-l2 level-2 bank; " + l2["source"]["ref"])
    d["name"] = "design1-4k-64k"
    d["memories"].insert(at, {"sram": mid})
    return d


HW3 = hw_from_dict(three_level_yaml(), "three-levels.yaml")


def test_three_levels_load_and_price_every_level() -> None:
    assert [m.size_bytes for m in HW3.sram] == [256, 4096, 65536]
    t = cost_table(HW3)
    assert list(t.ports) == ["sram0", "sram1", "sram2"]
    assert t.energy["sram1", "read"] == t.energy["sram2", "read"] == HW3.sram[2].read_energy_pj
    assert t.ports["sram1"].banks == 2 and t.ports["sram2"].banks == 32
    assert resources(HW3)[-2:] == ("sram1_port", "sram2_port")
    assert components(HW3)[-4:] == ("sram1_read", "sram1_write", "sram2_read", "sram2_write")


OPS = {"weights": OperandBytes(1000, 0, 250, 250, 10), "inputs": OperandBytes(5000, 0, 1000, 1000, 30),
       "outputs": OperandBytes(0, 800, 800, 800, 6), "psums": OperandBytes(300, 300, 0, 400, 4)}
H = Hierarchy((LevelParams("mid", 8, 64), LevelParams("big", 16, 1024)), first_level_bytes=256,
              offchip_burst_bytes=0)


def test_an_operand_in_level_two_transits_level_one_by_hand() -> None:
    base = Counts(offchip_weight_bytes=1000, offchip_input_bytes=5000, offchip_output_bytes=800,
                  offchip_psum_read_bytes=300, offchip_psum_write_bytes=300, dma_bursts=50)
    c = staged_counts(base, OPS, ("weights", "inputs"), (1, 2), H)
    assert (c.offchip_weight_bytes, c.offchip_input_bytes) == (250, 1000)  # both cross the link once
    # level 1: weights filled (ceil(250/8) = 32) and refilled from (125); inputs pass through: 5000/8 = 625 each way
    assert c.level_access(1) == (125 + 625, 32 + 625)
    # level 2: inputs filled (ceil(1000/16) = 63) and refilled from (ceil(5000/16) = 313)
    assert c.level_access(2) == (313, 63)
    t = pair_traffic(OPS, ("weights", "inputs"), (1, 2), "off", ("l0", "mid", "big"))
    assert list(t) == ["off<->l0", "off<->mid", "mid<->l0", "off<->big", "big<->mid"]
    assert t["off<->big"]["inputs"] == 1000 and t["big<->mid"]["inputs"] == t["mid<->l0"]["inputs"] == 5000
    assert t["off<->mid"]["weights"] == 250 and t["mid<->l0"]["weights"] == 1000 and t["big<->mid"]["weights"] == 0
    assert t["off<->l0"] == {"weights": 0, "inputs": 0, "outputs": 800, "psums": 600}
    # level 1 holds 64 words: the weights (32 words) and a transit buffer of the first level's 256 B (32 words)
    assert fits(OPS, ("weights",), (1,), H) and fits(OPS, ("inputs",), (2,), H)
    assert fits(OPS, ("weights", "psums"), (1, 2), H)  # 32 + 32 = 64 words in level 1
    assert not fits(OPS, ("weights", "psums"), (1, 2), Hierarchy((LevelParams("mid", 8, 63), H.outer[1]), 256, 0))


def _check_totals(res, hw) -> dict:  # noqa: ANN001
    tot = total_json(list(res.nodes), hw.clock_mhz)
    pairs = tot["traffic_bytes_by_level_pair"]
    names = [m.name for m in hw.sram]
    assert set(pairs) == {f"{hw.offchip.name}<->{names[0]}", f"{hw.offchip.name}<->{names[1]}",
                          f"{names[1]}<->{names[0]}", f"{hw.offchip.name}<->{names[2]}", f"{names[2]}<->{names[1]}"}
    link = {k: sum(v[k] for p, v in pairs.items() if p.startswith(hw.offchip.name)) for k in tot["offchip_bytes"]}
    assert link == tot["offchip_bytes"]
    assert tot["energy_uj"] == pytest.approx(sum(tot["energy_uj_by_component"].values()))
    return tot


def test_small_network_on_three_levels_bit_exact_counts_equal() -> None:
    from sramflow.funcsim.run import run_functional
    from sramflow.quant.api import quantize_graph
    from sramflow.reference.run import quantize_input

    g = small_conv_graph()
    x = np.random.default_rng(1).standard_normal((2, *g.shape(g.input)[1:])).astype(np.float32)
    q = quantize_graph(g, x)
    levels_used = set()
    for objective in ("latency", "energy"):
        res = simulate_prepared(prepare_graph(g), HW3, objective)
        _check_totals(res, HW3)
        levels_used |= {k for s in res.schedules if isinstance(s, ConvSchedule) for k in s.staged_levels}
        r = run_functional(g, q, res.schedules, quantize_input(q, x[0]), HW3.main_sram.total_words,
                           HW3.main_sram.word_bytes)
        assert r.bit_exact and r.mismatches == () and r.clobbers == 0, objective
        assert r.counts_functional == r.counts_analytical, objective
        assert {"sram1_reads", "sram2_reads", "sram2_writes"} <= set(r.counts_functional)
    assert levels_used == {1, 2}, "the test network stages operands in both outer levels"


@pytest.mark.slow
def test_b0_224_on_three_levels(b0_graph_224, b0_int8_224, b0_224_simulated) -> None:  # noqa: ANN001
    from sramflow.funcsim.run import run_functional
    from sramflow.reference.run import quantize_input

    g = b0_graph_224
    res = simulate_prepared(prepare_graph(g), HW3, "latency")
    tot = _check_totals(res, HW3)
    # simulate_prepared(prepare_graph(g), sky130-design1-l2, "latency"), shared with test_fusion_epilogue
    two = total_json(list(b0_224_simulated("sky130-design1-l2").nodes), HW3.clock_mhz)
    assert tot["cycles"] <= two["cycles"]  # a level more only adds placements (same tilings searched, plus one)
    assert {k for s in res.schedules if isinstance(s, ConvSchedule) for k in s.staged_levels} == {1, 2}
    x, q = b0_int8_224  # two random images (seed 0) and the graph quantized on them
    r = run_functional(g, q, res.schedules, quantize_input(q, x[0]), HW3.main_sram.total_words,
                       HW3.main_sram.word_bytes)
    assert r.bit_exact and r.clobbers == 0 and r.counts_functional == r.counts_analytical
    assert math.prod(r.counts_functional[f"sram{k}_{a}"] for k in (1, 2) for a in ("reads", "writes")) > 0
