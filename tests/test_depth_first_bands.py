"""Depth-first band groups (issue 17 item 2, phase 2): a producer conv and its consumer conv run band by band with the
band held in an outer SRAM level (``mapping.depth_first_bands``), analytical and functional."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sramflow.funcsim.run import run_functional
from sramflow.funcsim.sram import FunctionalSimError
from sramflow.hw.load import resolve_hw
from sramflow.mapping.conv import ConvShape
from sramflow.mapping.depth_first import ResidentConvSchedule
from sramflow.mapping.depth_first_bands import BandSplitSchedule
from sramflow.mapping.epilogue import EpilogueSchedule
from sramflow.mapping.vector import VectorSchedule
from sramflow.sim.api import simulate_graph
from sramflow.sim.writers import report_json
from helpers.graphs import quantized, se_block_graph

L2 = "sky130-design1-l2"


def _conv(s):  # noqa: ANN001, ANN202
    return s.conv if isinstance(s, EpilogueSchedule) else s


def _small_l2(banks: int):  # noqa: ANN202 - design1-l2 with its level cut to ``banks`` 2 KiB banks
    from sramflow.hw.load import _preset_dir, hw_from_dict
    from sramflow.hw.yamlio import load_yaml_text

    d = load_yaml_text(_preset_dir().joinpath("sky130-design1-l2.yaml").read_text(encoding="utf-8"), "test")
    at = next(i for i, e in enumerate(d["memories"]) if isinstance(e.get("sram"), dict) and e["sram"]["name"] == "l2")
    d["memories"][at]["sram"]["banks"] = banks
    d["name"] = f"design1-l2-{2 * banks}k"
    return hw_from_dict(d, "design1-l2-small.yaml")


def _bands(res) -> dict[str, BandSplitSchedule]:  # noqa: ANN001
    return {n.name: s for n, s in zip(res.nodes, res.schedules) if isinstance(s, BandSplitSchedule)}


def test_band_cut_and_recomputed_halo_by_hand() -> None:
    """expand 1x1 (4 -> 8 channels) -> depthwise 3x3 (stride 1, SAME) at 12x12, 4 consumer rows per band: the
    consumer's bands read producer rows [0, 5), [3, 9), [7, 12); the producer computes exactly those, so rows 3-4
    and 7-8 are computed twice: 4 rows x 12 columns x 8 channels x 4 MACs = 1,536 recomputed MACs."""
    from sramflow.mapping.depth_first_bands import _band_cut

    exp = ConvShape("exp", 1, 8, 4, 12, 12, 12, 12, 1, 1, 1, 1, 0, 0)
    dw = ConvShape("dw", 8, 1, 1, 12, 12, 12, 12, 3, 3, 1, 1, 1, 1)
    cut = _band_cut(exp, dw, 4)
    assert [(p[1], p[2], p[3], p[4]) for p, _ in cut] == [(0, 5, 0, 5), (3, 9, 3, 9), (7, 12, 7, 12)]
    assert [(c[1], c[2], c[3], c[4]) for _, c in cut] == [(0, 4, 0, 5), (4, 8, 3, 9), (8, 12, 7, 12)]
    assert [c[0].pad_top for _, c in cut] == [1, 0, 0]  # only the first band reads the top padding row
    assert sum(p[0].macs for p, _ in cut) - exp.macs == 4 * 12 * 8 * 4 == 1536
    assert all(p[0].output_bytes == c[0].input_bytes for p, c in cut)  # the band the consumer reads


def test_a_band_group_keeps_the_expand_output_on_chip_and_runs_bit_exact() -> None:
    """se_block at 24x24 on design1 + a 2 KiB level: the 4.6 KiB expand output does not fit the level whole, so
    expand -> depthwise runs as a band group: no producer band is drained, no consumer band filled from off-chip,
    the SE pool gets its own pass; less off-chip traffic than epilogue fusion; executed band by band on real
    bytes: bit-exact (the expand output, assembled from its bands, included), counts equal, no clobbers."""
    g = se_block_graph(24)
    hw = _small_l2(1)
    df, epi = simulate_graph(g, hw, fusion="depth-first"), simulate_graph(g, hw, fusion="epilogue")
    bands = _bands(df)
    assert set(bands) == {"exp", "dw"}
    p, c = bands["exp"], bands["dw"]
    assert (p.role, p.partner, c.role, c.partner) == ("producer", "dw", "consumer", "exp")
    assert len(p.parts) == len(c.parts) >= 2
    for pp, cp in zip(p.parts, c.parts):
        pc, cc = _conv(pp.schedule), _conv(cp.schedule)
        assert isinstance(pc, ResidentConvSchedule) and pc.resident == ("outputs",)
        assert isinstance(cc, ResidentConvSchedule) and cc.resident == ("inputs",)
        assert pc.resident_base == cc.resident_base
        assert pc.counts.offchip_output_bytes == 0 and cc.counts.offchip_input_bytes == 0
        assert (pp.row0, pp.row1) == (cp.in_row0, cp.in_row1)  # the producer computes the rows the band reads
    assert p.counts == sum((x.schedule.counts for x in p.parts[1:]), p.parts[0].schedule.counts)
    assert p.recomputed_macs == sum(_conv(x.schedule).shape.macs for x in p.parts) - p.shape.macs > 0
    assert c.recomputed_macs == 0
    # the pool is unfused: its own pass, priced; the depthwise's whole schedule carries no pool
    sched = dict(zip((n.name for n in df.nodes), df.schedules))
    assert isinstance(sched["gap"], VectorSchedule) and not getattr(c.whole, "pool", "")
    group = next(x for x in df.groups if x.kept and x.bands)
    assert (group.producer, group.consumer, group.bands, group.recomputed_macs) == \
        ("exp", "dw", len(p.parts), p.recomputed_macs)
    off = lambda r: sum(n.counts.offchip_bytes for n in r.nodes)  # noqa: E731
    assert off(df) < off(epi)
    assert "1 run as band groups of two layers" in report_json(df)["fusion_note"]
    q, x = quantized(g)
    r = run_functional(g, q, df.schedules, x, hw.main_sram.total_words, hw.main_sram.word_bytes)
    r_epi = run_functional(g, q, epi.schedules, x, hw.main_sram.total_words, hw.main_sram.word_bytes)
    assert r.bit_exact and r.mismatches == () and r.clobbers == 0 and r.counts_match
    assert r.tensors_compared == r_epi.tensors_compared  # the expand output is materialized (in bands) and compared
    assert r.counts_functional["sram1_writes"] > 0


def test_a_band_read_after_the_next_band_overwrote_it_is_caught() -> None:
    """The consumer's band must be read before the producer's next band overwrites it: a consumer part that looks
    at other words than its producer part wrote fails with the words' owner named."""
    g = se_block_graph(24)
    hw = _small_l2(1)
    res = simulate_graph(g, hw, fusion="depth-first")
    q, x = quantized(g)
    i = [n.name for n in g.nodes].index("dw")
    c = res.schedules[i]
    part = c.parts[1]
    conv = _conv(part.schedule)
    moved = dataclasses.replace(part.schedule, conv=dataclasses.replace(conv, resident_base=(conv.resident_base[0]
                                                                                              - 1,)))
    bad = dataclasses.replace(c, parts=(c.parts[0], dataclasses.replace(part, schedule=moved), *c.parts[2:]))
    with pytest.raises(FunctionalSimError, match="was left"):
        run_functional(g, q, (*res.schedules[:i], bad, *res.schedules[i + 1:]), x, hw.main_sram.total_words,
                       hw.main_sram.word_bytes)


def test_no_band_group_where_the_whole_tensor_fits_or_there_is_one_level() -> None:
    g = se_block_graph(6)
    res = simulate_graph(g, resolve_hw(L2), fusion="depth-first")
    assert not _bands(res) and any(x.kept and not x.bands for x in res.groups)
    one = simulate_graph(se_block_graph(24), resolve_hw("sky130-design1"), fusion="depth-first")
    assert not _bands(one) and one.groups == ()


@pytest.mark.slow
def test_b0_224_band_groups_on_l2_bit_exact(b0_graph_224, b0_int8_224) -> None:  # noqa: ANN001
    from sramflow.reference.run import quantize_input

    g = b0_graph_224
    hw = resolve_hw(L2)
    res = simulate_graph(g, hw, fusion="depth-first")
    assert sum(1 for x in res.groups if x.kept and x.bands) >= 1
    xs, q = b0_int8_224
    r = run_functional(g, q, res.schedules, quantize_input(q, xs[0]), hw.main_sram.total_words,
                       hw.main_sram.word_bytes)
    assert r.bit_exact and r.clobbers == 0 and r.counts_functional == r.counts_analytical
    assert np.isfinite(r.logits).all()
