"""Depth-first groups, phase 1 (issue 17 item 2): a Conv -> Conv tensor held whole in an outer SRAM level between
its producer and its consumer (``mapping.depth_first``), analytical and functional."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sramflow.cost.counts import ceil_div
from sramflow.funcsim.run import run_functional
from sramflow.funcsim.sram import FunctionalSimError
from sramflow.hw.load import resolve_hw
from sramflow.mapping.conv_schedule import ConvSchedule
from sramflow.mapping.depth_first import ResidentConvSchedule
from sramflow.mapping.depth_first_bands import BandSplitSchedule
from sramflow.mapping.epilogue import EpilogueSchedule
from sramflow.sim.api import simulate_graph
from sramflow.sim.results import total_json
from sramflow.sim.writers import report_json
from helpers.graphs import quantized, se_block_graph, small_conv_graph
from helpers.mapping import make_hw, small_l2

L2 = "sky130-design1-l2"


def _conv(s):  # noqa: ANN001, ANN202
    return s.conv if isinstance(s, EpilogueSchedule) else s


def _plain(s: ResidentConvSchedule) -> ConvSchedule:
    return ConvSchedule(**{f.name: getattr(s, f.name) for f in dataclasses.fields(ConvSchedule)})


def _resident(res) -> dict:  # noqa: ANN001
    return {n.name: _conv(s) for n, s in zip(res.nodes, res.schedules) if isinstance(_conv(s), ResidentConvSchedule)}


def test_a_two_layer_chain_keeps_its_tensor_by_hand() -> None:
    """3x3 conv (+ folded Relu) -> 1x1 conv on design1-l2: the 16 x 12 x 12 = 2,304-byte tensor is written into l2
    by the producer's output tiles and read from there by the consumer's input tiles: the producer's drain (2,304
    off-chip bytes, 288 reads of 8-byte l2 words) and the consumer's fill (2,304 bytes, 288 l2 writes) are gone,
    every other count is the staged schedule's."""
    hw = resolve_hw(L2)
    res = simulate_graph(small_conv_graph(), hw, fusion="depth-first")
    assert [(g.producer, g.consumer, g.tensor_bytes, g.level, g.kept) for g in res.groups] == \
        [("c", "p", 2304, 1, True)]
    kept = _resident(res)
    c, p = kept["c"], kept["p"]
    assert c.resident == ("outputs",) and p.resident == ("inputs",)
    assert c.resident_base == p.resident_base == (hw.sram[1].total_words - 288,)  # the top of l2
    for s, field, level_side, off in ((c, "offchip_output_bytes", "level_reads", 2304),
                                      (p, "offchip_input_bytes", "level_writes", 2304)):
        before, after = _plain(s).counts, s.counts
        assert getattr(before, field) - getattr(after, field) == off
        assert getattr(before, level_side)[0] - getattr(after, level_side)[0] == ceil_div(off, 8) == 288
        assert before.dma_bursts - after.dma_bursts == ceil_div(off, hw.offchip.burst_bytes)
        same = {f.name for f in dataclasses.fields(before)} - {field, level_side, "dma_bursts"}
        assert all(getattr(before, f) == getattr(after, f) for f in same)
    # reports: the off-chip pair carries none of the tensor, the l2 <-> design1 pair its tiles
    node = {n.name: n for n in res.nodes}
    assert node["c"].level_traffic["qspi-psram<->l2"]["outputs"] == 0
    assert node["p"].level_traffic["qspi-psram<->l2"]["inputs"] == 0
    assert node["p"].level_traffic["l2<->design1"]["inputs"] == p.operand_bytes["inputs"].tile_read > 0
    rep = report_json(res)
    assert "1 of 1 Conv -> Conv edges keep their tensor in l2" in rep["fusion_note"]
    pairs = total_json(list(res.nodes), hw.clock_mhz)["traffic_bytes_by_level_pair"]
    link = {k: sum(v[k] for pr, v in pairs.items() if pr.startswith("qspi-psram")) for k in pairs["l2<->design1"]}
    assert link == total_json(list(res.nodes), hw.clock_mhz)["offchip_bytes"]


@pytest.mark.parametrize("graph", [small_conv_graph, se_block_graph, lambda: se_block_graph(12)],
                         ids=["chain", "se_block_6", "se_block_12"])
def test_groups_run_bit_exact_with_identical_counts_on_l2(graph) -> None:  # noqa: ANN001
    g = graph()
    hw = resolve_hw(L2)
    res = simulate_graph(g, hw, fusion="depth-first")
    epi = simulate_graph(g, hw, fusion="epilogue")
    assert any(x.kept for x in res.groups)
    off = lambda r: sum(n.counts.offchip_bytes for n in r.nodes)  # noqa: E731
    assert off(res) < off(epi)
    q, x = quantized(g)
    r = run_functional(g, q, res.schedules, x, hw.main_sram.total_words, hw.main_sram.word_bytes)
    assert r.bit_exact and r.mismatches == () and r.clobbers == 0 and r.counts_match


def test_se_block_groups_and_barriers() -> None:
    """expand -> depthwise and the SE's reduce -> expand keep their tensors; the depthwise output is read by the SE
    pool and the scale (a barrier) and the project conv adds a skip tile from off-chip: no group."""
    res = simulate_graph(se_block_graph(), resolve_hw(L2), fusion="depth-first")
    assert {(x.producer, x.consumer) for x in res.groups if x.kept} == {("exp", "dw"), ("red", "sex")}
    assert not any(x.producer == "dw" and x.kept for x in res.groups)


def test_a_clobbered_or_missing_resident_tensor_is_caught() -> None:
    g = small_conv_graph()
    hw = resolve_hw(L2)
    res = simulate_graph(g, hw, fusion="depth-first")
    q, x = quantized(g)
    i = [n.name for n in g.nodes].index("p")
    s = res.schedules[i]
    moved = dataclasses.replace(s, resident_base=(s.resident_base[0] - 1,))  # the consumer looks elsewhere
    with pytest.raises(FunctionalSimError, match="no 2304-byte tensor was left"):
        run_functional(g, q, (*res.schedules[:i], moved, *res.schedules[i + 1:]), x, hw.main_sram.total_words,
                       hw.main_sram.word_bytes)


def test_one_level_hardware_falls_back_to_epilogue_fusion() -> None:
    g = se_block_graph()
    for hw in (resolve_hw("sky130-design1"), make_hw()):
        df, epi = simulate_graph(g, hw, fusion="depth-first"), simulate_graph(g, hw, fusion="epilogue")
        assert df.schedules == epi.schedules and df.groups == ()
        assert "falls back to epilogue fusion" in df.fusion_note and "no split is tried" in df.fusion_note


@pytest.mark.slow
def test_b0_224_depth_first_on_l2_bit_exact(b0_graph_224, b0_int8_224, b0_224_simulated) -> None:  # noqa: ANN001
    from sramflow.mapping.depth_first_split import KEPT_AXIS, SplitSchedule
    from sramflow.reference.run import quantize_input

    g = b0_graph_224
    hw = resolve_hw(L2)
    res = b0_224_simulated(L2, "depth-first")
    assert sum(x.kept for x in res.groups) >= 10
    axes = {s.axis for s in res.schedules if isinstance(s, SplitSchedule)}
    assert axes >= {"rows", "channels", KEPT_AXIS}  # the last: a chunk's weights kept in l2 across its row bands
    # two-layer band groups (mapping.depth_first_bands): every banded layer is paired with its partner
    assert sum(1 for x in res.groups if x.kept and x.bands) >= 8
    bands = {n.name: s for n, s in zip(res.nodes, res.schedules) if isinstance(s, BandSplitSchedule)}
    for name, s in bands.items():
        other = bands[s.partner]
        prod, cons = (s, other) if s.role == "producer" else (other, s)
        assert (other.partner, {s.role, other.role}) == (name, {"producer", "consumer"})
        assert len(prod.parts) == prod.sub_parts * len(cons.parts) and cons.sub_parts == 1
    # the 7x7 expand -> depthwise edges: each chunk's expand in row bands, as its both-kept cut of one layer
    assert any(s.sub_parts > 1 for s in bands.values())
    assert {s.halo for s in bands.values()} >= {"cache", "none"}
    # the SE scales' excitation vectors held in l2 (the 256 B first level has no room), whole layers and parts
    held = [p for s in res.schedules for p in (s.parts if isinstance(s, SplitSchedule) else [s])
            for p in ([p.schedule] if isinstance(s, SplitSchedule) else [p])
            if isinstance(p, EpilogueSchedule) and p.input_scale and p.scale_level == 1]
    assert len({p.shape.name for p in held}) >= 12
    xs, q = b0_int8_224  # two random images (seed 0) and the graph quantized on them
    r = run_functional(g, q, res.schedules, quantize_input(q, xs[0]), hw.main_sram.total_words,
                       hw.main_sram.word_bytes)
    assert r.bit_exact and r.clobbers == 0 and r.counts_functional == r.counts_analytical
    assert np.isfinite(r.logits).all()


# ---------------------------------------------------------------- one layer in bands / chunks (depth_first_split)


def test_bands_and_their_halo_by_hand() -> None:
    from sramflow.mapping.conv import ConvShape
    from sramflow.mapping.depth_first_split import band_shape, split_parts

    conv3 = ConvShape("c", 1, 16, 8, 12, 12, 12, 12, 3, 3, 1, 1, 1, 1)  # 3x3, stride 1, SAME
    (a, *_), (b, *_) = split_parts(conv3, "rows", 2)
    # rows 0-5 read input rows -1..6 (row -1 is padding): 7 rows, pad_top 1; rows 6-11 read 5..12 (12 is padding)
    assert band_shape(conv3, 0, 6) == (a, 0, 7) and (a.in_h, a.out_h, a.pad_top) == (7, 6, 1)
    assert band_shape(conv3, 6, 12) == (b, 5, 12) and (b.in_h, b.out_h, b.pad_top) == (7, 6, 0)
    s2 = ConvShape("s", 1, 4, 4, 12, 12, 6, 6, 3, 3, 2, 2, 0, 0)  # stride 2 (TF SAME pads bottom / right only)
    assert band_shape(s2, 0, 3)[1:] == (0, 7) and band_shape(s2, 3, 6)[1:] == (6, 12)  # one shared row: 6


def test_layers_split_on_a_small_level_run_bit_exact() -> None:
    """On design1 + a 2 KiB level the chain's tensors (2.3 and 4.6 KiB) do not fit whole: the 3x3 conv runs in
    output-channel chunks that keep its input in the level from chunk to chunk (each part's operands staged), with
    less off-chip traffic and fewer cycles than whole layers; the SE block's projection (at 20 x 20 px) runs in row
    bands of one channel chunk that keep its weights in the level, with its residual Add, each band adding its skip
    rows; executed part by part, bit-exact, counts equal, no clobbers. The 1x1 conv of the first graph ran in two row bands until the search priced tilings per placement:
    a whole-layer tiling for its weights staged in the level now beats them (fewer cycles, less energy and
    traffic), so the mapper keeps it whole."""
    from sramflow.mapping.depth_first_split import INPUTS_KEPT_AXIS, KEPT_AXIS, SplitSchedule, choose_split
    from sramflow.mapping.search.choose import schedule_metrics

    hw = small_l2(1)
    for g in (small_conv_graph(), se_block_graph(20)):
        df, epi = simulate_graph(g, hw, fusion="depth-first"), simulate_graph(g, hw, fusion="epilogue")
        splits = {n.name: s for n, s in zip(df.nodes, df.schedules) if isinstance(s, SplitSchedule)}
        assert splits, g.name
        assert sum(n.cycles for n in df.nodes) < sum(n.cycles for n in epi.nodes)
        node_of = {n.name: n for n in df.nodes}
        for name, s in splits.items():
            assert s.counts == sum((p.schedule.counts for p in s.parts[1:]), s.parts[0].schedule.counts)
            assert s.cycles(hw) == sum(price_cycles(p.schedule, hw) for p in s.parts)
            # the mapper's decisions price a layer in parts as the report does (one ``schedule_metrics``)
            cycles, energy = schedule_metrics(s, hw)
            assert cycles == s.cycles(hw) == node_of[name].cycles
            assert energy == pytest.approx(sum(node_of[name].energy_pj_by_component.values()), rel=1e-12)
        q, x = quantized(g)
        r = run_functional(g, q, df.schedules, x, hw.main_sram.total_words, hw.main_sram.word_bytes)
        assert r.bit_exact and r.mismatches == () and r.clobbers == 0 and r.counts_match, g.name
    small = simulate_graph(small_conv_graph(), hw, fusion="depth-first")
    assert {n.name: (s.axis, len(s.parts)) for n, s in zip(small.nodes, small.schedules)
            if isinstance(s, SplitSchedule)} == {"c": (INPUTS_KEPT_AXIS, 2)}
    c = next(s for n, s in zip(small.nodes, small.schedules) if n.name == "c")
    assert c.counts.offchip_input_bytes == c.shape.input_bytes  # read once: the second chunk keeps it
    p = next(s for n, s in zip(small.nodes, small.schedules) if n.name == "p")
    assert choose_split(p, hw, "latency", {}) is p and "weights" in p.staged
    se = simulate_graph(se_block_graph(20), hw, fusion="depth-first")
    prj = se.schedules[[n.name for n in se.nodes].index("prj")]
    assert isinstance(prj, SplitSchedule) and prj.axis == KEPT_AXIS and prj.whole.residual == "add"
    assert {p.ch0 for p in prj.parts} == {0} and len(prj.parts) > 1  # one chunk: its weights cross once
    assert prj.counts.offchip_weight_bytes == prj.shape.weight_bytes + prj.shape.bias_bytes
    assert prj.halo_bytes == 0  # a 1x1 conv's bands share no input rows


def price_cycles(sch, hw) -> int:  # noqa: ANN001
    from sramflow.sim.api import price

    return price("x", "Conv", sch, hw).cycles


def test_reports_list_split_layers_and_edges_and_the_schemas_accept_them() -> None:
    from helpers.schemas import validate_as_written
    from sramflow.sim.writers import layer_mapping_json

    res = simulate_graph(small_conv_graph(), small_l2(1), fusion="depth-first")
    rep, lm = report_json(res), layer_mapping_json(res)
    validate_as_written(rep, "inference_simulator_report")
    validate_as_written(lm, "layer_mapping")
    split = {x["name"]: x.get("depth_first_split") for x in lm["layers"]}
    assert split["c"]["axis"] == "rows x channels, input kept" and split["a"] is None and split["p"] is None
    se = simulate_graph(se_block_graph(16), small_l2(1), fusion="depth-first")
    se_split = {x["name"]: x.get("depth_first_split") for x in layer_mapping_json(se)["layers"]}
    # row bands of one chunk, its weights kept in the level from band to band, its residual Add joined
    assert se_split["prj"]["axis"] == "channels x rows" and se_split["prj"]["parts"] == se_split["prj"]["bands"] > 1
    groups = {g["producer"]: g for g in report_json(se)["fusion_groups"]}
    node = {n["name"]: n for n in report_json(se)["nodes"]}
    assert groups["prj"]["members"] == ["sc", "add"] and groups["exp"]["resident_in_level"] == ["outputs"]
    assert groups["prj"]["offchip_bytes_by_operand"] == node["prj"]["offchip_bytes"]
    edges = [(g["producer"], g["consumer"], g["kept"]) for g in report_json(se)["depth_first_groups"]]
    assert edges == [("exp", "dw", True), ("dw", "gap", False), ("red", "sex", True)]
    assert "a barrier" in report_json(se)["depth_first_groups"][1]["reason"]
    assert "1 layer runs in parts (1 in rows x channels, input kept)" in rep["fusion_note"]
