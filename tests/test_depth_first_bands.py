"""Depth-first band groups (issue 17 item 2, phase 2): a producer conv and its consumer conv run part by part (row
bands, halo rows cached or recomputed, or channel chunks) with the part held in an outer SRAM level
(``mapping.depth_first_bands``), analytical and functional."""

from __future__ import annotations

import dataclasses

import pytest

from sramflow.funcsim.run import run_functional
from sramflow.funcsim.sram import FunctionalSimError
from sramflow.hw.load import resolve_hw
from sramflow.mapping.conv import ConvShape
from sramflow.mapping.depth_first import ResidentConvSchedule, operand_words
from sramflow.mapping.depth_first_bands import BandSplitSchedule
from sramflow.mapping.epilogue import EpilogueSchedule
from sramflow.mapping.vector import VectorSchedule
from sramflow.sim.api import simulate_graph
from sramflow.sim.writers import layer_mapping_json, report_json
from helpers.graphs import quantized, se_block_graph
from helpers.mapping import small_l2
from helpers.schemas import validate_as_written

L2 = "sky130-design1-l2"


def _conv(s):  # noqa: ANN001, ANN202
    return s.conv if isinstance(s, EpilogueSchedule) else s


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


def _with_halo(g, res, epi, hw, halo: str, carry: bool = False) -> tuple:  # noqa: ANN001
    """``res``'s schedules with its band group rebuilt with ``halo`` in the same level: row bands of 4 rows, or
    ("none") 4 channel chunks with the SE pool fused per chunk where it fits, as in ``epi`` (the epilogue-fused
    schedules); a row-band consumer's pool gets its own pass, or (``carry``) stays fused with its sums carried
    across the bands in the level."""
    from sramflow.mapping.depth_first_bands import BandSearcher, try_bands
    from sramflow.mapping.lower import lower
    from sramflow.mapping.search.choose import map_shape

    names = [n.name for n in g.nodes]
    p, c = _bands(res)["exp"], _bands(res)["dw"]
    pooled = epi.schedules[names.index("dw")]
    plain = dataclasses.replace(pooled, pool="")
    got = try_bands(p.whole, plain, 4, c.level, BandSearcher(hw, res.objective), halo, pooled, carry)
    assert got is not None
    out = list(res.schedules)
    out[names.index("exp")], out[names.index("dw")] = got
    gap = names.index("gap")
    out[gap] = epi.schedules[gap] if got[1].whole.pool else map_shape(lower(g, g.nodes[gap]), hw, res.objective)
    return tuple(out)


def test_a_band_group_keeps_the_expand_output_on_chip() -> None:
    """se_block at 24x24 on design1 + a 2 KiB level: the 4.6 KiB expand output does not fit the level whole, so
    expand -> depthwise runs as a band group: no producer part is drained, no consumer part filled from off-chip,
    less off-chip traffic than epilogue fusion; the group and its cut are reported."""
    g = se_block_graph(24)
    hw = small_l2(1)
    df, epi = simulate_graph(g, hw, fusion="depth-first"), simulate_graph(g, hw, fusion="epilogue")
    bands = _bands(df)
    assert set(bands) == {"exp", "dw"}
    p, c = bands["exp"], bands["dw"]
    assert (p.role, p.partner, c.role, c.partner, p.halo == c.halo) == ("producer", "dw", "consumer", "exp", True)
    assert len(p.parts) == len(c.parts) >= 2
    for pp, cp in zip(p.parts, c.parts):
        pc, cc = _conv(pp.schedule), _conv(cp.schedule)
        # the later bands may also keep the weights the first band's parts staged (``keep_weights``)
        assert isinstance(pc, ResidentConvSchedule) and pc.resident in {("outputs",), ("weights", "outputs")}
        assert isinstance(cc, ResidentConvSchedule) and cc.resident in {("inputs",), ("weights", "inputs")}
        assert pc.counts.offchip_output_bytes == 0 and cc.counts.offchip_input_bytes == 0
        assert cp.in_row1 == pp.row1 and (cp.ch0, cp.ch1) == (pp.ch0, pp.ch1)  # the producer computes its band
    assert p.counts == sum((x.schedule.counts for x in p.parts[1:]), p.parts[0].schedule.counts)
    group = next(x for x in df.groups if x.kept and x.bands)
    assert (group.producer, group.consumer, group.bands, group.halo) == ("exp", "dw", len(p.parts), p.halo)
    sched = dict(zip((n.name for n in df.nodes), df.schedules))
    assert group.pool_pass == isinstance(sched["gap"], VectorSchedule) == (not getattr(c.whole, "pool", ""))
    off = lambda r: sum(n.counts.offchip_bytes for n in r.nodes)  # noqa: E731
    assert off(df) < off(epi)
    rep, lm = report_json(df), layer_mapping_json(df)
    assert "1 run as band groups of two layers" in rep["fusion_note"]
    validate_as_written(rep, "inference_simulator_report")
    validate_as_written(lm, "layer_mapping")
    split = {x["name"]: x.get("depth_first_split") for x in lm["layers"]}
    assert split["exp"]["band_group"] == {"role": "producer", "partner": "dw", "level": 1, "halo": p.halo,
                                          "recomputed_macs": p.recomputed_macs,
                                          "cached_halo_bytes": p.cached_halo_bytes}
    edge = next(x for x in rep["depth_first_groups"] if x["producer"] == "exp")
    assert (edge["kept"], edge["bands"], edge["halo"]) == (True, len(p.parts), p.halo)


def test_cached_halo_rows_by_hand() -> None:
    """Halo "cache", 4 rows per band: each band's producer part computes only rows no earlier band computed and
    writes them right after the halo rows, which were copied to the front of the band region (counted as level
    reads and writes on the consumer part); the row-band consumer's pool gets its own pass."""
    g = se_block_graph(24)
    hw = small_l2(1)
    df, epi = simulate_graph(g, hw, fusion="depth-first"), simulate_graph(g, hw, fusion="epilogue")
    p, c = (s for s in _with_halo(g, df, epi, hw, "cache") if isinstance(s, BandSplitSchedule))
    assert (p.axis, p.halo, len(p.parts), c.whole.pool) == ("rows", "cache", 6, "")
    row_words = 8 * 24 // hw.sram[1].word_bytes  # a band row: 8 channels x 24 columns
    region = c.parts[0].schedule.conv.resident_base[0]
    assert region == hw.sram[1].total_words - 6 * row_words  # the largest band (6 input rows) at the top
    for i, (pp, cp) in enumerate(zip(p.parts, c.parts)):
        pc, cc = _conv(pp.schedule), _conv(cp.schedule)
        assert cc.resident_base == (region,)
        assert pc.resident_base == (region + (pp.row0 - cp.in_row0) * row_words,)  # after the halo rows
        assert cc.copied_words == (0 if i == 0 else (pp.row0 - cp.in_row0) * row_words)
        before = dataclasses.replace(cc, copied_words=0).counts
        assert cc.counts.level_access(1) == tuple(x + cc.copied_words for x in before.level_access(1))
    assert [pp.row0 for pp in p.parts[1:]] == [pp.row1 for pp in p.parts[:-1]]  # no row computed twice
    assert p.recomputed_macs == 0 and c.recomputed_macs == 0
    assert c.cached_halo_bytes == 5 * 2 * 8 * 24  # 5 bands after the first reuse 2 rows of 8 x 24 bytes


@pytest.mark.parametrize("halo", ["cache", "recompute", "none"])
def test_band_groups_run_bit_exact_with_identical_counts(halo: str) -> None:
    """Executed part by part on real bytes, every halo mode: bit-exact (the expand output, assembled from its
    parts, included), counts equal to the analytical model, no clobbers. Recompute: every band's producer part
    computes the band's halo rows again (counted as MACs) and the band sits at the top of the level. Channel
    chunks ("none"): no halo; the depthwise keeps its SE pool fused, each chunk's running sums its channels'."""
    g = se_block_graph(24)
    hw = small_l2(1)
    df, epi = simulate_graph(g, hw, fusion="depth-first"), simulate_graph(g, hw, fusion="epilogue")
    schedules = _with_halo(g, df, epi, hw, halo)
    p, c = (s for s in schedules if isinstance(s, BandSplitSchedule))
    if halo == "none":
        assert (p.axis, len(p.parts), c.whole.pool) == ("channels", 4, "gap")
        assert [(x.ch0, x.ch1) for x in c.parts] == [(0, 2), (2, 4), (4, 6), (6, 8)] and p.recomputed_macs == 0
        assert all(x.schedule.pool_plan.channels == 2 for x in c.parts)
    if halo == "recompute":
        assert p.recomputed_macs == sum(_conv(x.schedule).shape.macs for x in p.parts) - p.shape.macs > 0
        assert all(_conv(x.schedule).copied_words == 0 for s in schedules if isinstance(s, BandSplitSchedule)
                   for x in s.parts)
    q, x = quantized(g)
    r = run_functional(g, q, schedules, x, hw.main_sram.total_words, hw.main_sram.word_bytes)
    r_epi = run_functional(g, q, epi.schedules, x, hw.main_sram.total_words, hw.main_sram.word_bytes)
    assert r.bit_exact and r.mismatches == () and r.clobbers == 0 and r.counts_match
    assert r.tensors_compared == r_epi.tensors_compared  # the expand output is materialized (in bands) and compared
    assert r.counts_functional["sram1_writes"] > 0


@pytest.mark.parametrize("halo", ["cache", "recompute"])
def test_a_band_read_from_the_wrong_words_is_caught(halo: str) -> None:
    """The consumer's band must be read from the words its producer part (and the halo copy) wrote: a consumer
    part looking one word lower, or a producer part writing one row lower, is caught (a missing band, clobbered
    words or wrong bytes)."""
    g = se_block_graph(24)
    hw = small_l2(1)
    res, epi = simulate_graph(g, hw, fusion="depth-first"), simulate_graph(g, hw, fusion="epilogue")
    schedules = _with_halo(g, res, epi, hw, halo)
    q, x = quantized(g)
    i = [n.name for n in g.nodes].index("exp" if halo == "cache" else "dw")
    assert isinstance(schedules[i], BandSplitSchedule)
    s = schedules[i]
    part = s.parts[1]
    conv = _conv(part.schedule)
    shift = 8 * 24 // hw.sram[1].word_bytes if halo == "cache" else 1
    moved = dataclasses.replace(part.schedule, conv=dataclasses.replace(conv, resident_base=(conv.resident_base[0]
                                                                                              - shift,)))
    bad = dataclasses.replace(s, parts=(s.parts[0], dataclasses.replace(part, schedule=moved), *s.parts[2:]))
    try:
        r = run_functional(g, q, (*schedules[:i], bad, *schedules[i + 1:]), x, hw.main_sram.total_words,
                           hw.main_sram.word_bytes)
    except FunctionalSimError as e:
        assert "was left" in str(e) or "where the consumer part reads it" in str(e)
    else:
        assert r.clobbers > 0 and not r.bit_exact


def test_no_band_group_where_the_whole_tensor_fits_or_there_is_one_level() -> None:
    g = se_block_graph(6)
    res = simulate_graph(g, resolve_hw(L2), fusion="depth-first")
    assert not _bands(res) and any(x.kept and not x.bands for x in res.groups)
    one = simulate_graph(se_block_graph(24), resolve_hw("sky130-design1"), fusion="depth-first")
    assert not _bands(one) and one.groups == ()


@pytest.mark.parametrize("halo", ["cache", "recompute"])
def test_a_row_band_pool_carries_its_sums_across_the_bands(halo: str) -> None:
    """Row bands with the SE pool kept fused: every channel's int32 sum is carried from band to band in the top
    words of the level (the band region below them): the first band stores its sums there, the middle ones load
    and store them, the last loads them and finishes the means. Bit-exact, counts equal, no clobbers; the pool's
    own pass is gone, and its read of the depthwise output with it."""
    from sramflow.mapping.epilogue import SUM_BYTES

    g = se_block_graph(24)
    hw = small_l2(2)  # 4 KiB: the band region and the 8 sums (1 KiB would hold the band only)
    df, epi = simulate_graph(g, hw, fusion="depth-first"), simulate_graph(g, hw, fusion="epilogue")
    schedules = _with_halo(g, df, epi, hw, halo, carry=True)
    plain = _with_halo(g, df, epi, hw, halo)
    p, c = (s for s in schedules if isinstance(s, BandSplitSchedule))
    assert (c.axis, c.whole.pool) == ("rows", "gap")
    lv = hw.sram[1]
    carries = [x.schedule.pool_carry for x in c.parts]
    assert [(y.carry_in, y.carry_out) for y in carries] == [(False, True), *[(True, True)] * (len(carries) - 2),
                                                              (True, False)]
    wpc = -(-SUM_BYTES // lv.word_bytes)
    assert {y.base_word for y in carries} == {lv.total_words - 8 * wpc}  # 8 channels' sums at the top
    assert all(_conv(x.schedule).resident_base[0] < carries[0].base_word for x in c.parts)
    assert all("outputs" in _conv(x.schedule).staged for x in c.parts)  # drained from below the band region
    names = [n.name for n in g.nodes]
    gap = names.index("gap")
    assert schedules[gap] is epi.schedules[gap] and epi.schedules[gap].shape.into == "dw"  # no pass of its own
    carried = sum(x.schedule.counts.level_access(1)[0] for x in c.parts) - \
        sum(_conv(x.schedule).counts.level_access(1)[0] for x in c.parts)
    assert carried == (len(c.parts) - 1) * 8 * wpc  # every band but the first reads the 8 sums
    off = lambda ss: sum(s.counts.offchip_bytes for s in ss if hasattr(s, "counts"))  # noqa: E731
    assert off(schedules) < off(plain)
    from sramflow.sim.api import level_traffic

    pair = f"{lv.name}<->{hw.sram[0].name}"  # the sums cross between l2 and the first level, never off-chip
    moved = sum(level_traffic(x.schedule, hw)[pair]["outputs"] - level_traffic(_conv(x.schedule), hw)[pair]["outputs"]
                for x in c.parts)
    assert moved == 2 * (len(c.parts) - 1) * 8 * wpc * lv.word_bytes
    q, x = quantized(g)
    r = run_functional(g, q, schedules, x, hw.main_sram.total_words, hw.main_sram.word_bytes)
    assert r.bit_exact and r.mismatches == () and r.clobbers == 0 and r.counts_match


def test_carried_pool_sums_over_the_band_region_are_caught() -> None:
    g = se_block_graph(24)
    hw = small_l2(2)  # 4 KiB: the band region and the 8 sums (1 KiB would hold the band only)
    df, epi = simulate_graph(g, hw, fusion="depth-first"), simulate_graph(g, hw, fusion="epilogue")
    schedules = list(_with_halo(g, df, epi, hw, "cache", carry=True))
    i = [n.name for n in g.nodes].index("dw")
    c = schedules[i]
    parts = []
    for x in c.parts:  # the sums planned one band row lower: over the band region
        cy = dataclasses.replace(x.schedule.pool_carry, base_word=x.schedule.pool_carry.base_word - 8)
        parts.append(dataclasses.replace(x, schedule=dataclasses.replace(x.schedule, pool_carry=cy)))
    schedules[i] = dataclasses.replace(c, parts=tuple(parts))
    q, x = quantized(g)
    with pytest.raises(FunctionalSimError, match="overlap the band region"):
        run_functional(g, q, tuple(schedules), x, hw.main_sram.total_words, hw.main_sram.word_bytes)


def _chunks_kept_input():  # noqa: ANN202 - a channel-chunk band group whose expand input stays in the level
    from sramflow.mapping.depth_first_bands import BandSearcher, try_bands
    from sramflow.mapping.lower import lower
    from sramflow.mapping.search.choose import map_shape

    g = se_block_graph(12, 16, 32)  # a 2.3 KiB input, a 4.6 KiB expand output: chunks in a 4 KiB level
    hw = small_l2(2)
    df, epi = simulate_graph(g, hw, fusion="depth-first"), simulate_graph(g, hw, fusion="epilogue")
    names = [n.name for n in g.nodes]
    p, c = _bands(df)["exp"], _bands(df)["dw"]
    pooled = epi.schedules[names.index("dw")]
    made = {keep: try_bands(p.whole, dataclasses.replace(pooled, pool=""), 4, c.level, BandSearcher(hw, df.objective),
                            "none", pooled, keep_input=keep) for keep in (False, True)}
    out = {}
    for keep, got in made.items():
        assert got is not None
        s = list(df.schedules)
        s[names.index("exp")], s[names.index("dw")] = got
        gap = names.index("gap")
        s[gap] = epi.schedules[gap] if got[1].whole.pool else map_shape(lower(g, g.nodes[gap]), hw, df.objective)
        out[keep] = tuple(s)
    return g, hw, names, made, out


def test_channel_chunks_keep_the_producers_input_in_the_level() -> None:
    """Every chunk's expand part reads the whole block input: kept, it crosses the link once (the first chunk
    fills it right below the bands, the others read it there), not once per chunk; bit-exact, counts equal, no
    clobbers."""
    g, hw, names, made, out = _chunks_kept_input()
    x_bytes = made[True][0].shape.input_bytes
    assert made[False][0].counts.offchip_input_bytes == 4 * x_bytes
    assert made[True][0].counts.offchip_input_bytes == x_bytes
    parts = [_conv(x.schedule) for x in made[True][0].parts]
    assert parts[0].filled == ("inputs",) and not any(x.filled for x in parts[1:])
    assert len({x.resident_in("inputs") for x in parts}) == 1
    band = min(x.resident_in("outputs")[1] for x in parts)  # right below the lowest chunk's band
    assert parts[0].resident_in("inputs")[1] + operand_words(parts[0], "inputs", 1) == band
    q, x = quantized(g)
    for keep in (False, True):
        r = run_functional(g, q, out[keep], x, hw.main_sram.total_words, hw.main_sram.word_bytes)
        assert r.bit_exact and r.counts_match and r.clobbers == 0


def test_a_kept_input_read_from_the_wrong_words_is_caught() -> None:
    g, hw, names, made, out = _chunks_kept_input()
    i = names.index("exp")
    s = out[True][i]
    part = s.parts[2]
    conv = _conv(part.schedule)
    k, at = conv.resident_in("inputs")
    base = tuple(b - 1 if o == "inputs" else b for o, b in zip(conv.resident, conv.resident_base))
    moved = dataclasses.replace(part.schedule, conv=dataclasses.replace(conv, resident_base=base)) \
        if isinstance(part.schedule, EpilogueSchedule) else dataclasses.replace(conv, resident_base=base)
    bad = dataclasses.replace(s, parts=(*s.parts[:2], dataclasses.replace(part, schedule=moved), *s.parts[3:]))
    q, x = quantized(g)
    with pytest.raises(FunctionalSimError, match="resident inputs"):
        run_functional(g, q, (*out[True][:i], bad, *out[True][i + 1:]), x, hw.main_sram.total_words,
                       hw.main_sram.word_bytes)


def _row_band_group(halo: str, **options):  # noqa: ANN003, ANN202
    """se_block at 24x24 in a 4 KiB level: the graph, hardware, both mappings, node names and the band group of
    4-row bands made with ``options`` (``try_bands``' keyword arguments)."""
    from sramflow.mapping.depth_first_bands import BandSearcher, try_bands

    g = se_block_graph(24)
    hw = small_l2(2)
    df, epi = simulate_graph(g, hw, fusion="depth-first"), simulate_graph(g, hw, fusion="epilogue")
    names = [n.name for n in g.nodes]
    pooled = epi.schedules[names.index("dw")]
    got = try_bands(epi.schedules[names.index("exp")], dataclasses.replace(pooled, pool=""), 4, 1,
                    BandSearcher(hw, df.objective), halo, pooled, **options)
    return g, hw, df, epi, names, got


def _row_bands_kept_weights(halo: str):  # noqa: ANN202 - a row-band group with and without its weights kept
    from sramflow.mapping.lower import lower
    from sramflow.mapping.search.choose import map_shape

    made = {}
    for keep in (False, True):
        g, hw, df, epi, names, made[keep] = _row_band_group(halo, keep_weights=keep)
    out = {}
    for keep, got in made.items():
        assert got is not None
        s = list(df.schedules)
        s[names.index("exp")], s[names.index("dw")] = got
        s[names.index("gap")] = map_shape(lower(g, g.nodes[names.index("gap")]), hw, df.objective)
        out[keep] = tuple(s)
    return g, hw, names, made, out


@pytest.mark.parametrize("halo", ["cache", "recompute"])
def test_row_bands_keep_both_layers_weights_in_the_level(halo: str) -> None:
    """``keep_weights``: the first band's parts stage both layers' weights (the expand's at the bottom of the
    level, the depthwise's above everything any expand part stages there) and the later bands read them where they
    were left, so each layer's weights cross the link once instead of once per band; bit-exact, counts equal, no
    clobbers."""
    g, hw, names, made, out = _row_bands_kept_weights(halo)
    for role in (0, 1):
        kept, plain = made[True][role], made[False][role]
        once = kept.shape.weight_bytes + kept.shape.bias_bytes
        assert kept.counts.offchip_weight_bytes == once < plain.counts.offchip_weight_bytes
        parts = [_conv(x.schedule) for x in kept.parts]
        assert "weights" in parts[0].staged and parts[0].resident_in("weights") is None
        assert len({x.resident_in("weights") for x in parts[1:]}) == 1
    prod = [_conv(x.schedule) for x in made[True][0].parts]
    cons = [_conv(x.schedule) for x in made[True][1].parts]
    assert all(x.resident_in("weights") == (1, 0) for x in prod[1:])
    floor = cons[0].floor_words
    assert floor > 0 and all(x.floor_words == floor and x.resident_in("weights") == (1, floor) for x in cons[1:])
    q, x = quantized(g)
    for keep in (False, True):
        r = run_functional(g, q, out[keep], x, hw.main_sram.total_words, hw.main_sram.word_bytes)
        assert r.bit_exact and r.mismatches == () and r.counts_match and r.clobbers == 0


def test_kept_band_weights_under_the_consumers_staging_are_caught() -> None:
    """A consumer part that stages from word 0 instead of its floor writes over the expand's kept weights: the next
    band's expand part reads them through their tags and the functional simulator says so."""
    g, hw, names, made, out = _row_bands_kept_weights("cache")
    i = names.index("dw")
    s = out[True][i]
    part = s.parts[0]
    low = dataclasses.replace(part.schedule, conv=dataclasses.replace(_conv(part.schedule), floor_words=0)) \
        if isinstance(part.schedule, EpilogueSchedule) else dataclasses.replace(part.schedule, floor_words=0)
    bad = dataclasses.replace(s, parts=(dataclasses.replace(part, schedule=low), *s.parts[1:]))
    q, x = quantized(g)
    with pytest.raises(FunctionalSimError, match="'exp': kept weights"):
        run_functional(g, q, (*out[True][:i], bad, *out[True][i + 1:]), x, hw.main_sram.total_words,
                       hw.main_sram.word_bytes)


def test_channel_chunks_run_their_producer_in_row_bands_with_every_operand_kept() -> None:
    """``try_chunk_bands``: 2 channel chunks, each chunk's expand in 2 row bands (a tiling per band, as the both-kept
    cut of one layer), its weights kept across its bands, the block input kept across the chunks, each band's rows
    written into the chunk's region where the depthwise part reads the whole chunk. Every operand of the expand
    crosses the link once, the expand output never; bit-exact, counts equal, no clobbers."""
    from sramflow.mapping.depth_first_bands import BandSearcher, try_chunk_bands
    from sramflow.mapping.lower import lower
    from sramflow.mapping.search.choose import map_shape

    g = se_block_graph(12, 8, 16)
    hw = small_l2(2)
    df, epi = simulate_graph(g, hw, fusion="depth-first"), simulate_graph(g, hw, fusion="epilogue")
    names = [n.name for n in g.nodes]
    pooled = epi.schedules[names.index("dw")]
    plain = dataclasses.replace(pooled, pool="") if getattr(pooled, "pool", "") else pooled
    got = try_chunk_bands(epi.schedules[names.index("exp")], plain, 2, 2, 1, BandSearcher(hw, df.objective), pooled)
    assert got is not None
    p, c = got
    assert (p.sub_parts, len(p.parts), len(c.parts)) == (2, 4, 2)
    sh = p.shape
    assert p.counts.offchip_weight_bytes == sh.weight_bytes + sh.bias_bytes
    assert p.counts.offchip_input_bytes == sh.input_bytes and p.counts.offchip_output_bytes == 0
    assert c.counts.offchip_input_bytes == 0
    parts = [_conv(x.schedule) for x in p.parts]
    assert [x.resident_in("weights") is not None for x in parts] == [False, True, False, True]  # chunk-major
    assert [x.filled for x in parts] == [("inputs",), ("inputs",), (), ()]  # the first chunk lays the input out
    floor = _conv(c.parts[0].schedule).floor_words
    assert floor > 0 and {_conv(x.schedule).floor_words for x in c.parts} == {floor}
    s = list(df.schedules)
    s[names.index("exp")], s[names.index("dw")] = got
    gap = names.index("gap")
    s[gap] = epi.schedules[gap] if c.whole.pool else map_shape(lower(g, g.nodes[gap]), hw, df.objective)
    q, x = quantized(g)
    r = run_functional(g, q, tuple(s), x, hw.main_sram.total_words, hw.main_sram.word_bytes)
    assert r.bit_exact and r.mismatches == () and r.counts_match and r.clobbers == 0
    shifted = dataclasses.replace(parts[1], resident_base=tuple(
        b - (1 if o == "outputs" else 0) for o, b in zip(parts[1].resident, parts[1].resident_base)))
    bad = dataclasses.replace(p, parts=(p.parts[0], dataclasses.replace(
        p.parts[1], schedule=_rewrap_like(p.parts[1].schedule, shifted)), *p.parts[2:]))
    s[names.index("exp")] = bad
    with pytest.raises(FunctionalSimError, match="where the consumer part reads it"):
        run_functional(g, q, tuple(s), x, hw.main_sram.total_words, hw.main_sram.word_bytes)


def _rewrap_like(sch, conv):  # noqa: ANN001, ANN202
    return dataclasses.replace(sch, conv=conv) if isinstance(sch, EpilogueSchedule) else conv


def test_a_chunk_consumer_takes_its_pool_with_words_left_free() -> None:
    """``with_pool``: a chunk group's consumer built without its SE pool gets it on every part's output path, each
    part re-searched with first-level words left free and its outputs stored from the first level; bit-exact,
    counts equal, and the pool's own pass gone."""
    from sramflow.mapping.depth_first_bands import BandSearcher, try_chunk_bands, with_pool
    from sramflow.mapping.fused import FusedSchedule

    g = se_block_graph(12, 8, 16)
    hw = small_l2(2)
    df, epi = simulate_graph(g, hw, fusion="depth-first"), simulate_graph(g, hw, fusion="epilogue")
    names = [n.name for n in g.nodes]
    pooled = epi.schedules[names.index("dw")]
    assert isinstance(pooled, EpilogueSchedule) and pooled.pool == "gap"
    plain = dataclasses.replace(pooled, pool="")
    p, c = try_chunk_bands(epi.schedules[names.index("exp")], plain, 2, 2, 1, BandSearcher(hw, df.objective))
    assert not getattr(c.whole, "pool", "")
    joined = with_pool(c, pooled, hw, df.objective, 4)
    assert joined is not None and joined.whole.pool == "gap"
    assert all(x.schedule.pool_plan is not None and "outputs" not in x.schedule.staged for x in joined.parts)
    assert [_conv(x.schedule).floor_words for x in joined.parts] == [_conv(x.schedule).floor_words for x in c.parts]
    s = list(df.schedules)
    s[names.index("exp")], s[names.index("dw")] = p, joined
    s[names.index("gap")] = epi.schedules[names.index("gap")]
    assert isinstance(s[names.index("gap")], FusedSchedule)
    q, x = quantized(g)
    r = run_functional(g, q, tuple(s), x, hw.main_sram.total_words, hw.main_sram.word_bytes)
    assert r.bit_exact and r.mismatches == () and r.counts_match and r.clobbers == 0


def test_carried_sums_with_first_level_words_left_free() -> None:
    """``try_bands(carry=True, reserve=N)``: the consumer parts re-searched as if the first level had N words fewer,
    their outputs stored from the first level; the sums still carried across the bands, bit-exact, counts equal."""
    from sramflow.mapping.epilogue import SUM_BYTES

    g, hw, df, epi, names, got = _row_band_group("cache", carry=True, reserve=4)
    assert got is not None
    c = got[1]
    wpc = -(-SUM_BYTES // hw.sram[1].word_bytes)
    assert all(x.schedule.pool_carry.base_word == hw.sram[1].total_words - 8 * wpc for x in c.parts)
    assert all("outputs" not in _conv(x.schedule).staged for x in c.parts)
    s = list(df.schedules)
    s[names.index("exp")], s[names.index("dw")] = got
    s[names.index("gap")] = epi.schedules[names.index("gap")]
    q, x = quantized(g)
    r = run_functional(g, q, tuple(s), x, hw.main_sram.total_words, hw.main_sram.word_bytes)
    assert r.bit_exact and r.mismatches == () and r.counts_match and r.clobbers == 0


def test_a_pool_in_a_pass_of_its_own_is_offered_to_its_convs_band_group() -> None:
    """The per-layer choice may leave an SE pool in a pass of its own (its conv's whole tiling has no room for the
    sums, or the objective declines them for the whole layer); that pass reads the depthwise output back from
    off-chip. The band group searches the depthwise parts anew and can keep the pool fused, so the pool is offered to
    it (``PoolOffer``) and fused where the objective gains. (Without the offer B0 on design1-l2 under energy left
    features.1.0's and 2.1's pools in their passes: 0.85 MB and 0.9 mJ more than with it.) Executed: bit-exact,
    counts equal, no clobbers."""
    from sramflow.mapping.depth_first import plan_groups, summed_value
    from sramflow.mapping.depth_first_bands import plan_bands
    from sramflow.mapping.depth_first_split import choose_splits
    from sramflow.mapping.fused import FusedSchedule
    from sramflow.sim.api import _choose, _pool_apart, _pool_offers, prepare_graph

    g, hw, obj = se_block_graph(24), small_l2(1), "energy"
    prep = prepare_graph(g, "depth-first")
    names = [n.name for n in g.nodes]
    i, j = names.index("gap"), names.index("dw")
    before = list(_choose(prep, hw, obj))
    assert isinstance(before[i], FusedSchedule)  # fused per layer here: taken apart as the choice does elsewhere
    before[i], before[j] = _pool_apart(prep, before[j], i, hw, obj)
    schedules, groups = plan_groups(g, choose_splits(tuple(before), hw, obj, {}), hw, obj)
    offers = _pool_offers(prep, schedules, hw, obj)
    assert set(offers) == {j} and offers[j].pool == i and offers[j].pooled.pool == "gap"
    plain, _ = plan_bands(g, schedules, groups, hw, obj)
    offered, got = plan_bands(g, schedules, groups, hw, obj, offers=offers)
    assert isinstance(plain[i], VectorSchedule) and isinstance(offered[i], FusedSchedule)
    dw = offered[j]
    assert isinstance(dw, BandSplitSchedule) and dw.whole.pool == "gap" and isinstance(offered[names.index("exp")],
                                                                                      BandSplitSchedule)
    assert all(x.schedule.pool == "gap" for x in dw.parts)
    assert summed_value(list(offered), hw, obj) < summed_value(list(plain), hw, obj)
    entry = next(x for x in got if (x.producer, x.consumer) == ("exp", "dw"))
    assert entry.kept and not entry.pool_pass  # the pool was in a pass of its own before; none is added
    q, x = quantized(g)
    r = run_functional(g, q, offered, x, hw.main_sram.total_words, hw.main_sram.word_bytes)
    assert r.bit_exact and r.clobbers == 0 and r.counts_match


def test_every_chunk_group_is_also_offered_with_its_pool_on_re_searched_parts() -> None:
    """``_with_chunk_pools``: after each channel-chunk group the band decision also weighs the same group with its
    consumer parts re-searched with words free for the pool's sums (``with_pool``, one per reserve that fits), whether
    or not the parts had room as searched: on design1-l2, features.3.1, 4.1 and 4.2 took such a tiling under latency
    (same cycles, 3 uJ less each). Row bands pass through unchanged."""
    from sramflow.mapping.depth_first_bands import BandSearcher, _with_chunk_pools, try_bands, try_chunk_bands

    g = se_block_graph(12, 8, 16)
    hw = small_l2(2)
    epi = simulate_graph(g, hw, fusion="epilogue")
    names = [n.name for n in g.nodes]
    pooled = epi.schedules[names.index("dw")]
    plain = dataclasses.replace(pooled, pool="")
    exp = epi.schedules[names.index("exp")]
    search = BandSearcher(hw, "latency")
    chunks = try_chunk_bands(exp, plain, 2, 2, 1, search)
    rows = try_bands(exp, plain, 4, 1, search, "cache", pooled, True)
    assert chunks is not None and rows is not None
    out = list(_with_chunk_pools(iter([rows, chunks]), pooled, hw, "latency"))
    assert out[:2] == [rows, chunks] and len(out) > 2  # the row bands alone, then the chunks and their variants
    assert all(p is chunks[0] and c.whole.pool == "gap" and all(x.schedule.pool == "gap" for x in c.parts)
               for p, c in out[2:])
    assert list(_with_chunk_pools(iter([chunks]), plain, hw, "latency")) == [chunks]  # no pool to offer
