"""Depth-first MBConv blocks across the SE barrier by recomputation (``mapping.depth_first_recompute``): pass A runs
expand -> depthwise in row bands and keeps only the SE pool's sums, pass B runs them again band by band and feeds
each depthwise band to the projection, which scales it on its input path. Analytical and functional."""

from __future__ import annotations

import dataclasses

import pytest

from sramflow.funcsim.run import run_functional
from sramflow.funcsim.sram import FunctionalSimError
from sramflow.mapping.depth_first import ResidentConvSchedule
from sramflow.mapping.depth_first_bands import BandSplitSchedule
from sramflow.mapping.depth_first_recompute import RecomputeSchedule
from sramflow.mapping.epilogue import EpilogueSchedule
from sramflow.sim import api
from sramflow.sim.api import simulate_graph
from sramflow.sim.writers import layer_mapping_json, report_json
from helpers.graphs import quantized, se_block_graph
from helpers.mapping import small_l2
from helpers.schemas import validate_as_written


def _conv(s):  # noqa: ANN001, ANN202
    return s.conv if isinstance(s, EpilogueSchedule) else s


def _off(res) -> int:  # noqa: ANN001
    return sum(n.counts.offchip_bytes for n in res.nodes)


def _by_name(res) -> dict:  # noqa: ANN001
    return dict(zip((n.name for n in res.nodes), res.schedules))


@pytest.fixture(scope="module")
def mapped():  # noqa: ANN201
    """se_block at 24x24 on design1 + a 4 KiB level, depth-first for energy: with recomputation, and without it
    (``plan_recompute`` off: the band group spills the depthwise output at the SE barrier)."""
    g, hw = se_block_graph(24), small_l2(2)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(api, "plan_recompute", lambda graph, s, groups, *rest: (s, groups))
        spill = simulate_graph(g, hw, "energy", fusion="depth-first")
    return g, hw, simulate_graph(g, hw, "energy", fusion="depth-first"), spill


def test_pass_b_recomputes_the_band_group_and_feeds_the_projection(mapped) -> None:  # noqa: ANN001
    """The projection's schedule is pass B: per band the producer's part (pass A's own), the depthwise part with its
    output band kept in the level below the band region, and the projection's part reading it there. Pass A's
    depthwise parts store nothing but the pool's means; nothing of the 4.6 KiB depthwise output crosses the link."""
    g, hw, res, spill = mapped
    s = _by_name(res)
    rec, dw, exp = s["prj"], s["dw"], s["exp"]
    assert isinstance(rec, RecomputeSchedule) and (rec.role, rec.partner) == ("recompute", "dw")
    prod, mid = rec.again
    assert prod is exp and (mid.role, mid.partner, mid.halo) == ("consumer", "exp", dw.halo)
    n = len(rec.own)
    assert n == len(exp.parts) == len(dw.parts) == len(mid.parts) >= 2
    assert rec.parts == tuple(z for trio in zip(exp.parts, mid.parts, rec.own) for z in trio)  # as they run
    assert rec.counts == sum((x.schedule.counts for x in rec.parts[1:]), rec.parts[0].schedule.counts)
    band = {_conv(x.schedule).resident_in("inputs") for x in dw.parts}
    r2 = {_conv(x.schedule).resident_in("outputs") for x in mid.parts}
    assert r2 == {_conv(x.schedule).resident_in("inputs") for x in rec.own}  # the projection reads the band there
    (k, at), = r2
    words = -(-max(_conv(x.schedule).shape.output_bytes for x in mid.parts) // hw.sram[k].word_bytes)
    assert at + words <= min(b for _, b in band)  # below the band region
    for x in mid.parts:
        c = _conv(x.schedule)
        assert isinstance(c, ResidentConvSchedule) and {"inputs", "outputs"} <= set(c.resident)
        assert c.counts.offchip_input_bytes == 0 and c.counts.offchip_output_bytes == 0
        assert not getattr(x.schedule, "pool", "")  # pass A has the pool
    for x in rec.own:  # the scale's vector: held in the first level, or fetched with each input tile
        assert x.schedule.input_scale and x.schedule.residual
        sh = _conv(x.schedule).shape  # its input band never crosses the link: only the Add's skip rows do
        assert _conv(x.schedule).counts.offchip_input_bytes == sh.out_h * sh.out_w * sh.k_per_group
    # pass A: the pool is the output's only reader, every part's stores removed
    assert dw.whole.pool_sole_reader and all(x.schedule.pool_plan.stores is not None for x in dw.parts)
    assert dw.counts.offchip_output_bytes == 8  # the 8 channels' means
    # the projection's weights: filled by the first band's part, kept by the others
    assert [("weights" in _conv(x.schedule).resident) for x in rec.own] == [False] + [True] * (n - 1)
    assert rec.recomputed_macs == sum(_conv(x.schedule).shape.macs for x in (*prod.parts, *mid.parts))
    dact = g.numel("dact")
    assert _off(spill) - _off(res) > dact  # its drain and fill (2 x 4,608 B) less the input read again
    assert sum(n.energy_uj for n in res.nodes) < sum(n.energy_uj for n in spill.nodes)
    group = next(x for x in res.groups if x.recomputed)
    assert (group.producer, group.consumer, group.kept, group.bands, group.tensor) == ("dw", "prj", True, n, "dact")


def test_recomputed_blocks_run_bit_exact(mapped) -> None:  # noqa: ANN001
    """Executed band by band on real bytes: every materialized tensor equals the integer reference (the depthwise
    output, stored in no memory by pass A, comes out of pass B band by band), counts equal, no clobbers; the MACs
    executed are the analytical ones, the recomputed ones included."""
    g, hw, res, spill = mapped
    q, x = quantized(g)
    r = run_functional(g, q, res.schedules, x, hw.main_sram.total_words, hw.main_sram.word_bytes)
    assert r.bit_exact and r.mismatches == () and r.clobbers == 0 and r.counts_match
    s = run_functional(g, q, spill.schedules, x, hw.main_sram.total_words, hw.main_sram.word_bytes)
    assert r.tensors_compared == s.tensors_compared  # "dact" included
    assert r.counts_functional["macs"] > s.counts_functional["macs"]  # the recomputed ones


def test_a_depthwise_band_over_the_band_region_is_caught(mapped) -> None:  # noqa: ANN001
    """Pass B's depthwise output band moved into the band region, where the cached halo rows of the next band wait:
    the functional simulator finds the clobber (or the halo rows missing) instead of computing from stale words."""
    g, hw, res, _ = mapped
    s = list(res.schedules)
    i = [n.name for n in res.nodes].index("prj")
    rec = s[i]
    prod, mid = rec.again
    base = _conv(mid.parts[0].schedule).resident_in("inputs")
    bad = []
    for x in mid.parts:
        c = _conv(x.schedule)
        moved = dataclasses.replace(c, resident_base=tuple(base[1] if o == "outputs" else b
                                                           for o, b in zip(c.resident, c.resident_base)))
        bad.append(dataclasses.replace(x, schedule=x.schedule.with_conv(moved)))
    mid = dataclasses.replace(mid, parts=tuple(bad))
    s[i] = dataclasses.replace(rec, again=(prod, mid))
    q, x = quantized(g)
    try:
        r = run_functional(g, q, tuple(s), x, hw.main_sram.total_words, hw.main_sram.word_bytes)
    except FunctionalSimError:
        return
    assert r.clobbers > 0 or not r.bit_exact


def test_recompute_is_declined_where_spilling_is_as_good(mapped) -> None:  # noqa: ANN001
    """Under latency the recomputed MACs cost more cycles than the spill's transfers: the barrier stays, and the
    report says why; the reports list the recomputed group with its MACs under energy and validate."""
    g, hw, res, _ = mapped
    lat = simulate_graph(g, hw, "latency", fusion="depth-first")
    assert not any(isinstance(x, RecomputeSchedule) for x in lat.schedules)
    assert not any(x.recomputed for x in lat.groups)
    group = next(x for x in lat.groups if x.tensor == "dact")  # the barrier, and why it stays
    assert not group.kept and "a barrier" in group.reason and "; recompute: " in group.reason
    assert len(lat.groups) == len(res.groups)  # one entry per edge either way
    rep, lm = report_json(res), layer_mapping_json(res)
    assert "1 SE barriers crossed by recomputing" in rep["fusion_note"]
    validate_as_written(rep, "inference_simulator_report")
    validate_as_written(lm, "layer_mapping")
    split = {x["name"]: x.get("depth_first_split") for x in lm["layers"]}
    rec = _by_name(res)["prj"]
    assert split["prj"]["recompute"] == {"layers": ["exp", "dw"], "level": rec.level, "halo": rec.halo,
                                         "recomputed_macs": rec.recomputed_macs,
                                         "cached_halo_bytes": rec.cached_halo_bytes}
    assert split["prj"]["parts"] == len(rec.own)  # the projection's own parts
    assert isinstance(_by_name(res)["dw"], BandSplitSchedule)


@pytest.mark.slow
def test_b0_224_recomputed_blocks_on_a_split_64k_sram_bit_exact(b0_graph_224, b0_int8_224) -> None:  # noqa: ANN001
    """B0@224 on the 64 KiB edit split into 16 KiB of tiles and a 48 KiB region, depth-first for energy (what
    ``simulate`` keeps there): the row-band blocks whose pass B fits recompute their expand (or the stem) and
    depthwise, features.1.0 and 2.1 among them, and the traffic falls below issue 17's 10 MB. Executed on real bytes:
    bit-exact, counts equal, no clobbers. (~80 s: the mapping.)"""
    from sramflow.hw.partition import partitioned
    from sramflow.reference.run import quantize_input
    from sramflow.sim.api import prepare_graph, simulate_prepared
    from test_partition import one_level

    g = b0_graph_224
    hw = partitioned(one_level(65536), 16384)
    res = simulate_prepared(prepare_graph(g, "depth-first"), hw, "energy", splits=False)
    rec = {n.name: s for n, s in zip(res.nodes, res.schedules) if isinstance(s, RecomputeSchedule)}
    assert {"features.1.0.block.2.0/Conv", "features.2.1.block.3.0/Conv"} <= set(rec)
    assert rec["features.1.0.block.2.0/Conv"].again[0].shape.name == "features.0.0/Conv"  # the stem, again
    assert _off(res) <= 10_000_000
    kept = [x for x in res.groups if x.recomputed and x.kept]
    assert len(kept) == len(rec) and all(x.reason == "" for x in kept)
    xs, q = b0_int8_224
    r = run_functional(g, q, res.schedules, quantize_input(q, xs[0]), hw.main_sram.total_words,
                       hw.main_sram.word_bytes)
    assert r.bit_exact and r.clobbers == 0 and r.counts_functional == r.counts_analytical


def test_a_projection_whose_output_stays_on_chip_is_not_replaced(mapped) -> None:  # noqa: ANN001
    """Pass B writes the projection's rows off-chip. Where the projection's output stays on chip for the next layer (a
    band group's producer, a residency group's resident output), replacing it would leave that reader waiting, so
    the barrier is not crossed there."""
    from sramflow.mapping.depth_first_recompute import _projection

    g, hw, res, spill = mapped
    names = [n.name for n in g.nodes]
    index = {n: i for i, n in enumerate(names)}
    cur = list(spill.schedules)
    q = index["prj"]
    args = (g, cur, "dact", "gap", index, g.consumers())
    assert _projection(*args) == q
    prj = cur[q]
    cur[q] = dataclasses.replace(_by_name(spill)["exp"], whole=prj)  # as a band group's producer
    assert _projection(*args) is None
    # a projection without a residual Add may keep its output in the level for a residency group: here the same
    # conv marked so (this one adds a skip tile, so it cannot stage its outputs for real)
    conv = _conv(prj)
    fields = {f.name: getattr(conv, f.name) for f in dataclasses.fields(conv)}
    kept = ResidentConvSchedule(**fields, resident=("outputs",), resident_base=(0,))
    cur[q] = dataclasses.replace(prj, conv=kept, scale_level=None)
    assert _projection(*args) is None
