"""An SE scale's excitation vector held in the SRAM above its group's buffers (``mapping.epilogue.scale_plan``):
loaded once, then read per input tile load instead of fetched from off-chip memory with every load."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from sramflow.errors import MappingError
from sramflow.funcsim.run import run_functional
from sramflow.funcsim.sram import FunctionalSimError
from sramflow.mapping.epilogue import EpilogueSchedule, scale_bytes_loaded, scale_plan, scale_words
from sramflow.sim.api import _held, simulate_graph
from helpers.graphs import quantized, se_block_graph
from helpers.mapping import make_hw


def _project(res):  # noqa: ANN001, ANN202 - the se block's input-scaled projection and its index
    i = [n.name for n in se_block_graph().nodes].index("prj")
    return i, res.schedules[i]


def _held_schedules(words: int, double: bool = False):  # noqa: ANN202
    g = se_block_graph()
    hw = make_hw(words=words, double=double)
    res = simulate_graph(g, hw, fusion="epilogue")
    i, prj = _project(res)
    assert isinstance(prj, EpilogueSchedule) and prj.input_scale == "sc"
    held = prj if prj.scale_level == 0 else dataclasses.replace(prj, scale_level=0)
    per_load = dataclasses.replace(held, scale_level=None)
    return g, hw, res, i, per_load, held


@pytest.mark.parametrize(("g0", "g1", "c0", "c1", "cpg", "wb"), [
    *itertools.product((0, 1, 3), (4,), (0, 1, 2), (3, 5), (5,), (1, 2, 4)),
    (0, 6, 0, 1, 1, 8), (5, 9, 0, 1, 1, 2), (0, 1, 3, 40, 40, 8)])
def test_scale_words_are_the_words_holding_the_extent(g0: int, g1: int, c0: int, c1: int, cpg: int, wb: int) -> None:
    held = {(g * cpg + c) // wb for g in range(g0, g1) for c in range(c0, c1)}
    assert scale_words(g0, g1, c0, c1, cpg, wb) == len(held)


@pytest.mark.parametrize("double", [False, True])
def test_a_held_vector_moves_its_bytes_once_and_reads_its_words_per_load(double: bool) -> None:
    _, _, _, _, per_load, held = _held_schedules(1024, double)
    plan = held.scale_plan
    fetched = scale_bytes_loaded(held.conv.step_table())  # the bytes every input load fetched before
    assert plan.channels == 8 and fetched > plan.channels
    a, b = per_load.counts, held.counts
    assert a.offchip_input_bytes - b.offchip_input_bytes == fetched - plan.channels
    assert b.sram_reads_compute - a.sram_reads_compute == plan.word_reads > 0
    assert b.sram_writes_dma - a.sram_writes_dma == plan.words
    assert a.vector_ops == b.vector_ops and a.macs == b.macs  # the same scaling work, the same convolution
    assert plan.base_word >= max(buf.end_word for buf in held.buffers)
    steps = list(held.steps())  # the steps are the counts, step by step
    for field in ("offchip_bytes", "sram_reads", "sram_writes", "vector_ops", "macs"):
        total = sum(getattr(st, field) for st in steps)
        want = {"offchip_bytes": b.offchip_bytes, "sram_reads": b.sram_reads, "sram_writes": b.sram_writes}
        assert total == want.get(field, getattr(b, field, None)), field
    assert sum(st.kind == "load" for st in steps) == b.dma_loads


@pytest.mark.parametrize("executor", ["bulk", "step"])
@pytest.mark.parametrize("double", [False, True])
def test_held_vector_bit_exact_with_identical_counts(executor: str, double: bool) -> None:
    g, hw, res, i, _, held = _held_schedules(1024, double)
    schedules = list(res.schedules)
    schedules[i] = held
    q, x = quantized(g)
    r = run_functional(g, q, tuple(schedules), x, hw.main_sram.total_words, hw.main_sram.word_bytes,
                       executor=executor)
    assert r.bit_exact and r.mismatches == () and r.counts_match and r.clobbers == 0 and r.step_count_notes == ()


def test_no_room_for_the_vector_is_a_mapping_error() -> None:
    _, _, _, _, per_load, _ = _held_schedules(1024)
    tight = dataclasses.replace(per_load.conv, hw=dataclasses.replace(
        per_load.conv.hw, capacity_words=max(b.end_word for b in per_load.buffers)))
    assert scale_plan(tight) is None
    with pytest.raises(MappingError, match="no free words for it in SRAM level 0"):
        dataclasses.replace(per_load, conv=tight, scale_level=0)
    held = dataclasses.replace(per_load, scale_level=0)
    assert held.with_conv(tight).scale_level is None  # a part without the words loads the bytes per tile


def test_the_decision_holds_the_vector_where_the_objective_gains() -> None:
    """With room in the SRAM and the energy objective, the vector is held (one load instead of a transfer per input
    tile); the result is never worse than either way of loading the scale."""
    from sramflow.mapping.depth_first import summed_value

    g, hw, res, i, per_load, held = _held_schedules(1024)
    res_e = simulate_graph(g, hw, "energy", fusion="epilogue")
    chosen = res_e.schedules[i]
    assert isinstance(chosen, EpilogueSchedule) and chosen.input_scale and chosen.scale_held
    value = summed_value([chosen], hw, "energy")
    assert value < summed_value([dataclasses.replace(chosen, scale_level=None)], hw, "energy")
    assert _held(chosen) == []  # one SRAM level: nowhere else to hold it


def test_tilings_that_leave_room_for_the_vector_are_searched_too() -> None:
    """The best tilings fill a small SRAM, so none of them has words for the vector: the decision also searches the
    tilings that leave them free, and under the energy objective holds the vector with one of those (bit-exact)."""
    from sramflow.mapping.depth_first import summed_value
    from sramflow.sim.api import _researched, _vector_words

    g, hw = se_block_graph(6, 16, 128), make_hw(words=256)
    i = [n.name for n in g.nodes].index("prj")
    fast = simulate_graph(g, hw, "latency", fusion="epilogue").schedules[i]
    per_load = dataclasses.replace(fast, scale_level=None)
    assert _vector_words(fast) == 64 and _held(per_load) == []  # the fastest tiling leaves no room
    roomy = _researched(per_load, hw, "latency", 64)
    assert roomy and all(max(b.end_word for b in r.buffers) <= 256 - 64 and _held(r) for r in roomy)
    res = simulate_graph(g, hw, "energy", fusion="epilogue")
    chosen = res.schedules[i]
    assert isinstance(chosen, EpilogueSchedule) and chosen.scale_held and max(b.end_word for b in chosen.buffers) <= 192
    assert summed_value([chosen], hw, "energy") < summed_value([dataclasses.replace(chosen, scale_level=None)], hw,
                                                               "energy")
    q, x = quantized(g)
    r = run_functional(g, q, res.schedules, x, hw.main_sram.total_words, hw.main_sram.word_bytes)
    assert r.bit_exact and r.counts_match and r.clobbers == 0


def _l2_held(res_px: int = 12):  # noqa: ANN202 - the se block on design1-l2: its projection with the vector in l2
    from sramflow.hw.load import resolve_hw

    g = se_block_graph(res_px)
    hw = resolve_hw("sky130-design1-l2")
    res = simulate_graph(g, hw, fusion="epilogue")
    i, prj = _project(res)
    assert isinstance(prj, EpilogueSchedule) and prj.input_scale == "sc"
    held = prj if prj.scale_level == 1 else dataclasses.replace(prj, scale_level=1)
    return g, hw, res, i, dataclasses.replace(held, scale_level=None), held


def test_a_vector_held_in_level_1_reads_that_level_per_load() -> None:
    """On design1-l2 the first level (256 B) has no room; the vector sits in l2 above the staged operands: one
    off-chip load, then one transfer of the load's channels from l2 per input tile load (no off-chip burst)."""
    _, hw, res, _, per_load, held = _l2_held()
    plan = held.scale_plan
    assert plan.level == 1 and plan.word_bytes == 8 and plan.channels == 8
    from sramflow.mapping.staging import footprint_words

    conv = held.conv
    assert plan.base_word >= footprint_words(conv.operand_bytes, conv.staged, conv.staged_levels, conv.levels)[0]
    a, b = per_load.counts, held.counts
    fetched = scale_bytes_loaded(conv.step_table())
    assert a.offchip_input_bytes - b.offchip_input_bytes == fetched - plan.channels
    assert b.dma_bursts < a.dma_bursts and b.dma_loads == a.dma_loads + 1  # one fill; the same loads, from l2
    assert b.level_reads[0] - a.level_reads[0] == plan.word_reads and b.level_writes[0] - a.level_writes[0] == 1
    assert b.sram_reads == a.sram_reads and b.sram_writes == a.sram_writes  # the first level is not touched
    chosen = res.schedules[_project(res)[0]]
    assert chosen.scale_level == 1  # the decision takes it here: fewer bursts, fewer cycles
    from sramflow.sim.api import level_traffic

    t, t0 = level_traffic(held, hw), level_traffic(per_load, hw)  # the vector: off-chip -> l2 once, l2 -> loads
    names = [m.name for m in hw.sram]
    off = hw.offchip.name
    assert t[f"{off}<->{names[1]}"]["inputs"] - t0[f"{off}<->{names[1]}"]["inputs"] == plan.channels
    assert t[f"{names[1]}<->{names[0]}"]["inputs"] - t0[f"{names[1]}<->{names[0]}"]["inputs"] == \
        plan.word_reads * plan.word_bytes
    assert sum(v for pair, d in t.items() if pair.startswith(off) for v in d.values()) == b.offchip_bytes


def test_a_vector_held_in_level_1_bit_exact_with_identical_counts() -> None:  # outer levels: the bulk executor
    g, hw, res, i, _, held = _l2_held()
    schedules = list(res.schedules)
    schedules[i] = held
    q, x = quantized(g)
    r = run_functional(g, q, tuple(schedules), x, hw.main_sram.total_words, hw.main_sram.word_bytes)
    assert r.bit_exact and r.counts_match and r.clobbers == 0
    assert r.counts_functional == r.counts_analytical


@pytest.mark.parametrize("level", [0, 1])
def test_a_held_vector_over_the_layers_words_is_caught(level: int) -> None:
    """Planned at word 0 (a planning error, injected): over the first level's buffers, or over the operands the
    schedule stages in level 1."""
    g, hw, res, i, _, held = _held_schedules(1024) if level == 0 else _l2_held()
    assert level == 0 or held.conv.staged  # something is staged in l2 below the vector
    held.__dict__["scale_plan"] = dataclasses.replace(held.scale_plan, base_word=0)
    schedules = list(res.schedules)
    schedules[i] = held
    q, x = quantized(g)
    with pytest.raises(FunctionalSimError, match=f"level {level} overlaps the group's buffers, pool sums or staged"):
        run_functional(g, q, tuple(schedules), x, hw.main_sram.total_words, hw.main_sram.word_bytes)


def test_the_summary_says_where_the_se_scales_and_pools_ran() -> None:
    from sramflow.hw.load import resolve_hw
    from sramflow.sim.summary import summary_text

    g = se_block_graph(12)
    l2 = summary_text(simulate_graph(g, resolve_hw("sky130-design1-l2"), fusion="depth-first"))
    assert "SE scales 1: 1 on their consumer's input path (1 with the excitation vector held in the SRAM" in l2
    assert "global average pools 2: " in l2
    none = summary_text(simulate_graph(g, resolve_hw("sky130-design1-l2"), fusion="none"))
    assert "SE scales" not in none and "global average pools" not in none


def test_the_report_names_the_level_holding_each_vector() -> None:
    from sramflow.hw.load import resolve_hw
    from sramflow.report.rows import fusion_rows, fusion_sentence
    from sramflow.sim.writers import report_json

    sim = report_json(simulate_graph(se_block_graph(12), resolve_hw("sky130-design1-l2"), fusion="depth-first"))
    group = next(g for g in sim["fusion_groups"] if g["input_scale"])
    assert (group["producer"], group["scale_held_in"]) == ("prj", "l2")
    assert "1 SE scales run on their consumer's input path, 1 of them with the excitation vector held" in \
        fusion_sentence(sim)
    assert any(r[0] == "prj" and "(SE vector held in l2)" in r[2] for r in fusion_rows(sim))


def _split_held(make: str, bands: int, chunks: int):  # noqa: ANN202 - the l2-held projection cut into parts
    from sramflow.mapping import depth_first_split as D

    g, hw, res, i, _, held = _l2_held()
    maker = {"inputs": (D._inputs_kept, D.INPUTS_KEPT_AXIS), "weights": (D._weights_kept, D.KEPT_AXIS),
             "both": (D._both_kept, D.BOTH_KEPT_AXIS)}[make]
    parts = maker[0](held, D._conv(held), bands, chunks, hw, "latency", {})
    assert parts is not None
    kept = D.keep_scales(parts, held.shape)
    return g, hw, res, i, parts, kept, D.SplitSchedule(held, maker[1], tuple(kept))


@pytest.mark.parametrize(("make", "bands", "chunks"), [("inputs", 1, 4), ("inputs", 2, 2), ("weights", 2, 2), ("weights", 3, 1),
                                                      ("both", 2, 2), ("both", 3, 2)])
def test_the_parts_of_a_split_keep_the_held_vector_in_level_1(make: str, bands: int, chunks: int) -> None:
    """Parts that hold the same vector at the same words of l2 load it once: the first part fills it, the others
    read it where it was left (no off-chip bytes, no level writes, the same reads); bit-exact, counts equal."""
    g, hw, res, i, loaded, kept, split = _split_held(make, bands, chunks)
    plans = [p.schedule.scale_plan for p in kept]
    assert [p.kept for p in plans] == [False] + [True] * (len(plans) - 1)
    assert len({(p.level, p.base_word) for p in plans}) == 1 and plans[0].level == 1
    if make == "both":  # above the whole region of input bands, not above the first part's band
        assert plans[0].base_word >= kept[0].schedule.conv.region_end > 0
    for a, b in zip(loaded[1:], kept[1:]):
        x, y = a.schedule.counts, b.schedule.counts
        assert x.offchip_input_bytes - y.offchip_input_bytes == b.schedule.scale_plan.channels
        assert x.level_writes[0] - y.level_writes[0] == b.schedule.scale_plan.words
        assert x.level_reads == y.level_reads and x.dma_loads == y.dma_loads + 1
    assert split.counts.offchip_input_bytes == sum(p.schedule.counts.offchip_input_bytes for p in loaded) - \
        (len(plans) - 1) * plans[0].channels
    schedules = list(res.schedules)
    schedules[i] = split
    q, x = quantized(g)
    r = run_functional(g, q, tuple(schedules), x, hw.main_sram.total_words, hw.main_sram.word_bytes)
    assert r.bit_exact and r.counts_match and r.clobbers == 0


def test_a_kept_vector_that_no_part_loaded_is_caught() -> None:
    """A first part marked as keeping its vector (a planning error, injected): nothing was left in l2 to read."""
    g, hw, res, i, _, kept, split = _split_held("inputs", 1, 4)
    first = dataclasses.replace(kept[0], schedule=dataclasses.replace(kept[0].schedule, scale_kept=True))
    schedules = list(res.schedules)
    schedules[i] = dataclasses.replace(split, parts=(first, *kept[1:]))
    q, x = quantized(g)
    with pytest.raises(FunctionalSimError, match="no part before this one loaded it"):
        run_functional(g, q, tuple(schedules), x, hw.main_sram.total_words, hw.main_sram.word_bytes)


def test_a_grouped_layers_chunks_do_not_share_their_vectors() -> None:
    """A grouped layer's channel chunks each hold their own groups' scales: equal sizes at equal words are not the
    same vector, so none is kept; row bands of it (the same groups) and chunks of a plain layer (every input
    channel each) are."""
    from sramflow.mapping.conv import ConvShape
    from sramflow.mapping.depth_first_split import Part, keep_scales
    from sramflow.mapping.epilogue import ScalePlan

    @dataclasses.dataclass(frozen=True)
    class Held:  # the two attributes keep_scales reads and sets
        scale_plan: ScalePlan
        scale_kept: bool = False

    plan = ScalePlan(1, 100, 8, 16, 4, 8)
    dw = ConvShape("dw", 32, 1, 1, 8, 8, 8, 8, 3, 3, 1, 1, 1, 1)
    pw = ConvShape("pw", 1, 32, 16, 8, 8, 8, 8, 1, 1, 1, 1, 0, 0)
    chunks = [Part(Held(plan), 0, 8, 0, 8, c, c + 16) for c in (0, 16)]
    bands = [Part(Held(plan), r, r + 4, r, r + 4, 0, 16) for r in (0, 4)]
    assert [p.schedule.scale_kept for p in keep_scales(chunks, dw)] == [False, False]
    assert [p.schedule.scale_kept for p in keep_scales(bands, dw)] == [False, True]
    assert [p.schedule.scale_kept for p in keep_scales(chunks, pw)] == [False, True]


def test_one_chunk_keeps_all_weights_across_its_bands() -> None:
    """The weights-kept cut of one channel chunk: the first band stages every weight in l2 and the other bands read
    them there, so the layer moves its weights (and bias) off-chip exactly once, where a plain row cut re-reads
    them per band."""
    from sramflow.mapping import depth_first_split as D

    *_, parts, _, split = _split_held("weights", 4, 1)
    sh = split.shape
    assert (4, 1) in D._kept_cuts(sh)
    assert len(parts) == 4 and {p.ch0 for p in parts} == {0}
    assert split.counts.offchip_weight_bytes == sh.weight_bytes + sh.bias_bytes
    assert all(p.schedule.counts.offchip_weight_bytes == 0 for p in parts[1:])
