"""The SE global average pool fused into its producer's output path (issue 17 item 1): which pool joins which
Conv's group (``ir.fusion.fused_pools``), where its int32 running sums live (``mapping.epilogue.pool_plan``: SRAM
words above the convolution's buffers, one channel tile at a time), its counts and steps, and the functional
simulator accumulating it on the words, bit-exact with the MEAN kernel, counts equal, no clobbers."""

from __future__ import annotations

import dataclasses

import pytest

from sramflow.errors import MappingError
from sramflow.funcsim.run import run_functional
from sramflow.ir.fusion import fused_pools
from sramflow.mapping.epilogue import pool_plan
from sramflow.mapping.fused import FusedSchedule
from sramflow.mapping.vector import VectorSchedule
from sramflow.sim.api import simulate_graph
from helpers.graphs import quantized, se_block_graph
from sramflow.mapping.search.choose import make_conv_schedule
from sramflow.mapping.search.tiling_table import hw_params
from helpers.mapping import ONES, make_hw, sched


def _names(g) -> list[str]:  # noqa: ANN001
    return [n.name for n in g.nodes]


def _with_dw(res, g, sizes: dict, order: tuple, double: bool = False, group_h: int = 0):  # noqa: ANN001, ANN202
    """The simulated schedules with the depthwise group's convolution tiled as given (its pool kept fused)."""
    i = _names(g).index("dw")
    grp = res.schedules[i]
    hwp = hw_params(make_hw(double=double), grp.shape)
    conv = make_conv_schedule(grp.shape, hwp, ONES | sizes, order, double, 0, group_h)
    out = list(res.schedules)
    out[i] = dataclasses.replace(grp, conv=conv)
    return tuple(out), out[i]


def _functional(g, schedules, hw, executor: str = "bulk"):  # noqa: ANN001, ANN202
    q, x = quantized(g)
    return run_functional(g, q, schedules, x, hw.main_sram.total_words, hw.main_sram.word_bytes, executor=executor)


def test_the_se_pool_joins_the_depthwise_group_and_a_pool_of_an_add_does_not() -> None:
    assert fused_pools(se_block_graph()) == {"gap": "dw"}  # gp2 reads the residual Add's sum, no conv's group


def test_b0_every_se_pool_joins_the_conv_before_it(b0_graph_224) -> None:  # noqa: ANN001
    from sramflow.ir.fusion import sole_reader_pools

    g = b0_graph_224
    pools = fused_pools(g)
    every = [n.name for n in g.nodes if n.op == "GlobalAveragePool"]
    assert sorted(pools) == sorted(every) and len(pools) == 17
    assert sole_reader_pools(g) == {every[-1]} and pools[every[-1]] == "features.8.0/Conv"  # the classifier's pool
    for p, conv in pools.items():  # the SE squeeze after the depthwise conv's SiLU, the classifier's after the head
        assert g.node(conv).op == "Conv" and _names(g).index(conv) < _names(g).index(p)


@pytest.mark.parametrize("executor", ["bulk", "step"])
@pytest.mark.parametrize("sizes,order,double,group_h", [
    ({"g": 3, "h": 1, "w": 3}, ("g", "k", "c", "p"), False, 0),  # edge channel tiles (8 = 3 + 3 + 2), 12 pixel tiles
    ({"g": 1, "h": 6, "w": 6}, ("p", "g", "k", "c"), True, 2),  # one pixel tile: the sums are never written back
    ({"g": 1, "h": 1, "w": 4}, ("k", "c", "g", "p"), True, 0),  # ragged pixel tiles, one channel at a time (as on B0)
])
def test_fused_pool_bit_exact_counts_equal_no_clobbers(executor: str, sizes: dict, order: tuple, double: bool,
                                                       group_h: int) -> None:
    g = se_block_graph()
    hw = make_hw(double=double)
    res = simulate_graph(g, hw, fusion="epilogue")
    schedules, grp = _with_dw(res, g, sizes, order, double, group_h)
    assert grp.pool == "gap" and grp.pool_plan is not None
    assert isinstance(schedules[_names(g).index("gap")], FusedSchedule)
    r = _functional(g, schedules, hw, executor)
    assert r.bit_exact and r.mismatches == () and r.counts_match and r.clobbers == 0 and r.step_count_notes == ()
    # the pool's output is materialized (the SE squeeze reads it) and compared with the integer reference
    q, _ = quantized(g)
    assert "g" in {op.output for op in q.ops} and r.tensors_compared >= 8


def test_pool_steps_sum_to_the_group_counts() -> None:
    g = se_block_graph()
    hw = make_hw()
    res = simulate_graph(g, hw, fusion="epilogue")
    _, grp = _with_dw(res, g, {"g": 3, "h": 1, "w": 3}, ("g", "k", "c", "p"))
    plan = grp.pool_plan
    assert (plan.tile_channels, plan.pixel_tiles, plan.channel_tiles, plan.words_per_channel) == \
        (3, 12, ((3, 2), (2, 1)), 2)
    steps = list(grp.steps())
    c, base = grp.counts, grp.conv.counts
    for k in ("sram_reads", "sram_writes", "offchip_bytes", "vector_ops", "macs"):
        assert sum(getattr(st, k) for st in steps) == getattr(c, k), k
    # the pool adds: 11 of 12 pixel tiles read and write 2 words per channel, the means (2 words per tile of 3 or 2
    # channels) written and stored, one byte per channel off-chip, one op per element and per channel
    assert c.sram_reads - base.sram_reads == 11 * 8 * 2 + (2 + 2 + 1)
    assert c.sram_writes - base.sram_writes == 11 * 8 * 2 + (2 + 2 + 1)
    assert c.offchip_output_bytes - base.offchip_output_bytes == 8
    assert c.dma_transfers - base.dma_transfers == 3
    pool_ops = 8 * 6 * 6 + 8
    assert c.vector_ops - base.vector_ops - grp.shape.epilogue_ops * 8 * 36 == pool_ops
    pool = [st for st in steps if st.operand == "pool"]
    assert [st.kind for st in pool].count("store") == 3 and min(st.base_word for st in pool) >= \
        max(b.end_word for b in grp.conv.buffers)


def test_no_room_or_a_channel_loop_inside_the_pixel_loop_keeps_the_pool_s_pass() -> None:
    g = se_block_graph()
    hw = make_hw()
    res = simulate_graph(g, hw, fusion="epilogue")
    grp = res.schedules[_names(g).index("dw")]
    inner = sched(grp.shape, hw, {"g": 2, "h": 2, "w": 2}, ("k", "c", "p", "g"))  # every channel's sum stays live
    assert pool_plan(inner) is None
    with pytest.raises(MappingError, match="global average pool 'gap'"):
        dataclasses.replace(grp, conv=inner)
    # the sums of one channel tile (2 words) need that many free words above the convolution's buffers
    conv = sched(grp.shape, hw, {"g": 1, "h": 2, "w": 6}, ("g", "k", "c", "p"))
    end = max(b.end_word for b in conv.buffers)
    room = lambda words: dataclasses.replace(conv, hw=dataclasses.replace(conv.hw, capacity_words=words))  # noqa: E731
    assert pool_plan(room(end + 1)) is None and pool_plan(room(end + 2)).base_word == end


def test_the_objective_decides_and_the_pool_s_own_pass_is_bit_exact() -> None:
    """On 16 words the sums fit beside the depthwise conv's 1 x 2 tiles, but reading and writing them for every
    2 outputs costs more SRAM port cycles than the pool's own pass: the latency objective keeps the pass."""
    g = se_block_graph()
    hw = make_hw(words=16)
    res = simulate_graph(g, hw, fusion="epilogue")
    grp = res.schedules[_names(g).index("dw")]
    assert pool_plan(grp.conv) is not None and grp.pool == ""
    assert isinstance(res.schedules[_names(g).index("gap")], VectorSchedule)
    out = _functional(g, res.schedules, hw)
    assert out.bit_exact and out.counts_match and out.clobbers == 0


def test_fusing_the_pool_removes_its_pass_and_keeps_the_integer_work() -> None:
    g = se_block_graph()
    hw = make_hw()
    none, epi = simulate_graph(g, hw), simulate_graph(g, hw, fusion="epilogue")
    by = lambda res: {n.name: n for n in res.nodes}  # noqa: E731
    assert by(epi)["gap"].counts.offchip_bytes == 0 and by(epi)["gap"].unit == "fused"
    assert by(none)["gap"].counts.offchip_input_bytes == 8 * 36  # its own pass reads the whole feature map back
    for k in ("vector_ops", "lut_ops", "macs"):
        assert sum(getattr(n.counts, k) for n in epi.nodes) == sum(getattr(n.counts, k) for n in none.nodes)


def test_sums_overlapping_the_conv_s_buffers_are_refused_by_the_functional_simulator() -> None:
    import numpy as np

    from sramflow.funcsim.pool import execute_fused_pool
    from sramflow.funcsim.sram import FunctionalSimError, Sram
    from sramflow.funcsim.state import Machine

    g = se_block_graph()
    res = simulate_graph(g, make_hw(), fusion="epilogue")
    _, grp = _with_dw(res, g, {"g": 3, "h": 1, "w": 3}, ("g", "k", "c", "p"))
    end = max(b.end_word for b in grp.conv.buffers)
    out = np.zeros((8, 1, 6, 6), np.int8)
    mean = {"x_zp": 0, "mult": 1 << 30, "shift": 0, "out_zp": 0}
    bad = dataclasses.replace(grp.pool_plan, base_word=end - 1)
    with pytest.raises(FunctionalSimError, match="overlap the convolution's buffers"):
        execute_fused_pool(bad, grp.conv.step_table(), out, mean, Machine(Sram(128, 2)), end)


@pytest.mark.parametrize("sizes,order,double,group_h", [
    ({"g": 3, "h": 1, "w": 3}, ("g", "k", "c", "p"), False, 0),  # edge channel tiles, 12 pixel tiles
    ({"g": 1, "h": 6, "w": 6}, ("p", "g", "k", "c"), True, 2),  # one pixel tile
    ({"g": 1, "h": 1, "w": 4}, ("k", "c", "g", "p"), True, 0),  # ragged pixel tiles
])
def test_channel_tiles_at_once_equal_store_by_store(sizes: dict, order: tuple, double: bool, group_h: int) -> None:
    """The fused pool's fast path (a channel tile's pixel tiles summed at once, its middle sum words counted, not
    moved) gives the store-by-store replay's means, SRAM reads and writes, tally and clobbers."""
    import numpy as np

    from sramflow.funcsim import pool
    from sramflow.funcsim.sram import Sram
    from sramflow.funcsim.state import Machine

    g = se_block_graph()
    res = simulate_graph(g, make_hw(double=double), fusion="epilogue")
    _, grp = _with_dw(res, g, sizes, order, double, group_h)
    end = max(b.end_word for b in grp.conv.buffers)
    out = np.random.default_rng(1).integers(-128, 128, (8, 1, 6, 6)).astype(np.int8)
    mean = {"x_zp": -3, "mult": 1_518_500_250, "shift": -2, "out_zp": 5}
    got = []
    for trace in (False, True):  # a traced SRAM takes the store-by-store path
        m = Machine(Sram(128, 2, trace=trace))
        means = pool.execute_fused_pool(grp.pool_plan, grp.conv.step_table(), out, mean, m, end)
        got.append((means.tolist(), m.sram.reads, m.sram.writes, m.sram.clobbers, m.tally))
    assert got[0] == got[1] and got[0][3] == 0


@pytest.mark.parametrize("fusion", ["epilogue", "depth-first"])
def test_a_conv_staging_its_outputs_in_an_outer_level_keeps_its_pool_fused(fusion: str) -> None:
    """Staged outputs go to the outer level, the means straight off-chip from the first level: the pool has no
    pass of its own, its sums' words and stores are counted, and the run is bit-exact with equal counts."""
    from helpers.mapping import small_l2

    g = se_block_graph(12, 16, 32)
    hw = small_l2(8)
    res = simulate_graph(g, hw, fusion=fusion)
    grp = res.schedules[_names(g).index("dw")]
    assert "outputs" in grp.conv.staged and grp.pool == "gap" and grp.pool_plan is not None
    assert isinstance(res.schedules[_names(g).index("gap")], FusedSchedule)
    assert grp.counts.offchip_output_bytes == grp.conv.counts.offchip_output_bytes + grp.shape.k_per_group * \
        grp.shape.groups  # the means, one byte per channel, beside the drained outputs
    out = _functional(g, res.schedules, hw)
    assert out.bit_exact and out.counts_match and out.clobbers == 0


def test_a_pool_that_is_its_producer_s_only_reader_removes_the_output_stores() -> None:
    """B0's head: conv + SiLU -> global average pool -> classifier. The pool is the output's only reader, so the
    group stores its means and never its output tiles: their DMA reads, bytes, transfers and bursts are gone (the
    pool's work takes the stores' place in the steps); its bounds move the means, not the output; the output is in
    no memory, so it is not compared, and the pool's means are bit-exact with equal counts on both executors."""
    from helpers.graphs import head_graph
    from sramflow.ir.fusion import sole_reader_pools
    from sramflow.sim.api import bounds

    g = head_graph()
    assert fused_pools(g) == {"gap": "head"} and sole_reader_pools(g) == {"gap"}
    assert sole_reader_pools(se_block_graph()) == frozenset()  # the SE squeeze's tensor is scaled next
    hw = make_hw()
    res = simulate_graph(g, hw, fusion="epilogue")
    grp = res.schedules[_names(g).index("head")]
    plan = grp.pool_plan
    assert grp.pool == "gap" and plan.stores is not None and plan.stores.offchip_output_bytes == grp.shape.output_bytes
    conv = grp.conv.counts
    assert grp.counts.offchip_output_bytes == plan.channels  # the means only
    assert grp.counts.sram_reads_dma == conv.sram_reads_dma - plan.stores.sram_reads_dma + plan.channels // 2
    assert grp.counts.dma_transfers == conv.dma_transfers - plan.stores.dma_transfers + len(
        [s for s in grp.steps() if s.kind == "store"])
    assert not any(s.kind == "store" and s.operand == "outputs" for s in grp.steps())
    stores = [s for s in grp.conv.steps() if s.kind == "store" and s.operand == "outputs"]  # what the plan removes
    assert (plan.stores.dma_transfers, plan.stores.offchip_output_bytes, plan.stores.sram_reads_dma) == \
        (len(stores), sum(s.offchip_bytes for s in stores), sum(s.sram_reads for s in stores))
    b = bounds(grp, hw)
    assert b.compulsory_bytes == grp.shape.weight_bytes + grp.shape.bias_bytes + grp.shape.input_bytes + plan.channels
    assert b.offchip_bytes <= grp.counts.offchip_bytes
    for executor in ("bulk", "step"):
        out = _functional(g, res.schedules, hw, executor)
        assert out.bit_exact and out.counts_match and out.clobbers == 0
        assert out.tensors_compared == 2  # the pool's means and the logits; the head's output is never written


def test_a_sole_reader_pool_keeps_the_stores_where_partial_sums_spill() -> None:
    """Spilled partial sums share the output stores' DMA path: the plan keeps the stores, and the output is written
    (and compared) as for an SE pool."""
    from helpers.graphs import head_graph

    g = head_graph(c=16)
    hw = make_hw()
    res = simulate_graph(g, hw, fusion="epilogue")
    i = _names(g).index("head")
    grp = res.schedules[i]
    spill = sched(grp.shape, hw, {"k": 2, "c": 4, "w": 5}, ("g", "k", "c", "p"))  # c outside p: psums spill
    assert spill.counts.offchip_psum_write_bytes > 0
    plan = pool_plan(spill, None, sole_reader=True)
    assert plan is not None and plan.stores is None
    out = list(res.schedules)
    out[i] = dataclasses.replace(grp, conv=spill)
    r = _functional(g, tuple(out), hw)
    assert r.bit_exact and r.counts_match and r.clobbers == 0 and r.tensors_compared == 3


def test_the_report_says_which_group_never_stores_its_output() -> None:
    from helpers.graphs import head_graph
    from helpers.schemas import validate_as_written
    from sramflow.report.rows import fusion_rows, fusion_sentence
    from sramflow.sim.writers import report_json

    rep = report_json(simulate_graph(head_graph(), make_hw(), fusion="epilogue"))
    validate_as_written(rep, "inference_simulator_report")
    (group,) = rep["fusion_groups"]
    assert group["members"] == ["hs", "hm", "gap"] and group["pool"] == "gap" and group["output_stored"] is False
    assert "1 of them is its conv's only reader, so that conv never stores its output." in fusion_sentence(rep)
    assert "output never stored" in fusion_rows(rep)[0][2]


@pytest.mark.parametrize("executor", ["bulk", "step"])
def test_a_never_stored_output_under_a_folded_activation(executor: str) -> None:
    """Lite0's head: the Relu the quantizer folds into the conv reads the never-stored output; it is in no memory
    either, and the pool's means are bit-exact with equal counts."""
    from helpers.graphs import head_graph

    g = head_graph(act="relu")
    hw = make_hw()
    res = simulate_graph(g, hw, fusion="epilogue")
    grp = res.schedules[_names(g).index("head")]
    assert grp.pool_plan.stores is not None and isinstance(res.schedules[_names(g).index("hr")], FusedSchedule)
    out = _functional(g, res.schedules, hw, executor)
    assert out.bit_exact and out.counts_match and out.clobbers == 0 and out.tensors_compared == 2


def test_group_bytes_without_and_with_fusion() -> None:
    """The report's per-group comparison: a group's nodes' bytes with --fusion none against the group's own."""
    from helpers.graphs import head_graph
    from sramflow.report.rows import group_bytes
    from sramflow.sim.api import prepare_graph, simulate_prepared
    from sramflow.sim.writers import report_json

    g, hw = head_graph(), make_hw()
    fused = report_json(simulate_graph(g, hw, fusion="epilogue"))
    none = {r.name: r.counts.offchip_bytes for r in simulate_prepared(prepare_graph(g, "none"), hw).nodes}
    (before, after), = group_bytes(fused, none).values()
    assert before == none["head"] + none["hs"] + none["hm"] + none["gap"] and after < before
    assert after == sum(next(iter(fused["fusion_groups"]))["offchip_bytes_by_operand"].values())


def _head_on_small_l2():  # noqa: ANN202
    from helpers.graphs import head_graph
    from helpers.mapping import small_l2

    g, hw = head_graph(c=48, k=160, px=7), small_l2(2)
    return g, hw, simulate_graph(g, hw, fusion="depth-first")


def test_a_sole_reader_pool_joins_a_head_conv_cut_into_chunks_and_bands() -> None:
    """B0's head on a 4 KiB l2: the conv runs as chunks of output channels x two row bands, its input and each
    chunk's weights kept in l2 (``depth_first_split.BOTH_KEPT_AXIS``). The classifier's pool joins every part's
    output path: a chunk's int32 sums are carried from its first band to its second in the top words of l2
    (``epilogue.PoolCarry``), no part stores its output tiles, and the pool has no pass of its own. Bit-exact, counts
    equal, no clobbers; the never-written output is not compared."""
    from sramflow.mapping.depth_first_split import BOTH_KEPT_AXIS, SplitSchedule
    from sramflow.sim.api import bounds

    g, hw, res = _head_on_small_l2()
    split = res.schedules[_names(g).index("head")]
    assert isinstance(split, SplitSchedule) and split.axis == BOTH_KEPT_AXIS
    assert isinstance(res.schedules[_names(g).index("gap")], FusedSchedule)
    assert split.whole.pool == "gap" and split.whole.pool_plan.stores is not None
    chunks: dict[tuple[int, int], list] = {}
    for p in split.parts:
        chunks.setdefault((p.ch0, p.ch1), []).append(p.schedule.pool_carry)
    assert len(chunks) > 1 and all(len(c) == 2 for c in chunks.values())
    for first, second in chunks.values():  # out of the first band, into the second, at the same words
        assert (first.carry_in, first.carry_out, second.carry_in, second.carry_out) == (False, True, True, False)
        assert first.base_word == second.base_word >= max(p.schedule.conv.region_end for p in split.parts)
    assert all(p.schedule.pool_plan.stores is not None for p in split.parts)
    assert not any(s.kind == "store" and s.operand == "outputs" for s in split.steps())
    sh = split.shape
    assert split.counts.offchip_output_bytes == sh.k_per_group  # the means only
    assert bounds(split, hw).compulsory_bytes == sh.weight_bytes + sh.bias_bytes + sh.input_bytes + sh.k_per_group
    assert "1 of them with the global average pool they feed on their parts' output paths" in res.fusion_note
    out = _functional(g, res.schedules, hw)
    assert out.bit_exact and out.counts_match and out.clobbers == 0 and out.tensors_compared == 2


def test_the_pool_joins_other_cuts_of_the_conv_and_refuses_band_major_ones() -> None:
    """Every cut of the head conv the split search priced, with the pool on its parts: row bands carry all channels'
    sums, channel chunks keep their own pools, a chunk in bands carries its own; a band-major cut (the input kept
    across a band's chunks) would leave every chunk's sums waiting and is refused. Each accepted cut runs bit-exact
    with equal counts."""
    from sramflow.mapping.depth_first_split import INPUTS_KEPT_AXIS, _choose_split
    from sramflow.sim.api import _parts_pool, prepare_graph

    g, hw, res = _head_on_small_l2()
    i, j = _names(g).index("head"), _names(g).index("gap")
    plain = dataclasses.replace(res.schedules[i].whole, pool="", pool_sole_reader=False)
    memo: dict = {}
    _choose_split(plain, hw, "latency", memo)
    pool = prepare_graph(g, "depth-first").shapes[j]
    seen, refused = set(), 0
    for split in memo[("options", id(plain))][1][1:]:  # the first: the whole layer
        got = _parts_pool(split, pool, hw, "latency")
        if split.axis == INPUTS_KEPT_AXIS and len({(p.ch0, p.ch1) for p in split.parts}) > 1 and \
                len({(p.row0, p.row1) for p in split.parts}) > 1:
            assert got is None
            refused += 1
            continue
        if got is None or split.axis in seen:
            continue
        seen.add(split.axis)
        out = list(res.schedules)
        out[i] = got
        r = _functional(g, tuple(out), hw)
        assert r.bit_exact and r.counts_match and r.clobbers == 0, split.axis
    assert {"rows", "channels", "channels x rows"} <= seen and refused


def test_a_sole_reader_pool_joins_a_conv_whose_input_a_residency_group_keeps() -> None:
    """pre -> head -> pool on a 2 KiB l2: the depth-first residency group keeps pre's output in l2 for the head
    (``ResidentConvSchedule``, resident input). The head is re-searched with first-level words free for the sums,
    its resident input in the same words (``depth_first_split.with_room``), and the pool joins it; the head's output
    is never stored. Bit-exact, counts equal, no clobbers."""
    from helpers.graphs import head_graph
    from helpers.mapping import small_l2
    from sramflow.mapping.depth_first import ResidentConvSchedule

    g, hw = head_graph(c=16, k=64, px=5, pre=True), small_l2(1)
    res = simulate_graph(g, hw, fusion="depth-first")
    head = res.schedules[_names(g).index("head")]
    assert [(x.kept, x.bands) for x in res.groups] == [(True, 0)]
    assert isinstance(head.conv, ResidentConvSchedule) and head.conv.resident == ("inputs",)
    assert head.pool == "gap" and head.pool_plan.stores is not None
    assert isinstance(res.schedules[_names(g).index("gap")], FusedSchedule)
    assert res.nodes[_names(g).index("head")].counts.offchip_output_bytes == head.shape.k_per_group  # the means
    out = _functional(g, res.schedules, hw)  # outer levels: the bulk executor
    assert out.bit_exact and out.counts_match and out.clobbers == 0


def test_a_row_band_without_its_carried_sums_is_refused_by_the_functional_simulator() -> None:
    """A pooled part that covers only some rows must carry its sums to the next band; schedules where it does not
    (made by hand, or for another graph) stop the run with an error naming the layer."""
    from sramflow.funcsim.sram import FunctionalSimError

    g, hw, res = _head_on_small_l2()
    i = _names(g).index("head")
    split = res.schedules[i]
    broken = dataclasses.replace(split, parts=tuple(dataclasses.replace(p, schedule=dataclasses.replace(
        p.schedule, pool_carry=None)) for p in split.parts))
    out = list(res.schedules)
    out[i] = broken
    with pytest.raises(FunctionalSimError, match="head: a row band's pool sums are not carried to the next band"):
        _functional(g, tuple(out), hw)
    # every band storing its sums for a next one: no band gives its channels' means
    out[i] = dataclasses.replace(split, parts=tuple(dataclasses.replace(p, schedule=dataclasses.replace(
        p.schedule, pool_carry=dataclasses.replace(p.schedule.pool_carry, carry_out=True))) for p in split.parts))
    with pytest.raises(FunctionalSimError, match="head: a band stored its pool sums where the means of its channels"):
        _functional(g, tuple(out), hw)
