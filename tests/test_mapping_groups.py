"""Accumulator groups (output tiles larger than the accumulators), bursts, pooling and the SRAM layout:
hand-checked counts and steps() == closed form (the tiny hardware of helpers.mapping.make_hw)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from sramflow.errors import MappingError
from sramflow.mapping.conv import ConvShape
from sramflow.mapping.search.choose import make_conv_schedule, search_conv
from sramflow.mapping.conv import step_sizes
from sramflow.mapping.search.tiling_table import acc_groups, candidates, hw_params
from sramflow.mapping.layout import conv_tile_layout, word_address
from helpers.mapping import ONES, SEARCH_SHAPES, make_hw, with_bursts, pw, sched, assert_steps_match


def test_output_tile_larger_than_accumulators_by_hand() -> None:
    # 1x1 conv, K=4, C=4, one row of 2 pixels; 2 accumulators: the 8-output tile runs as 4 groups of 1 channel
    hw = make_hw(accumulators=2)
    s = sched(pw(4, 4, 1, 2), hw, {"k": 4, "c": 4, "w": 2}, group_k=1)
    c = s.counts
    assert s.tiling.group_k == 1 and c.steps == 1
    # weights 4 groups of 4 B = 2 words each; bias 4 groups of 4 B = 2 words; inputs 4 ch x 1 row x 1 word
    assert c.sram_writes_dma == 8 + 8 + 4
    # each group reads its 2 weight words, its 2 bias words and the whole 4-word input tile
    assert c.sram_reads_compute == 4 * (2 + 2 + 4)
    # outputs: 4 groups of 2 int8 = 1 word each, written by the array then read by the store
    assert (c.sram_writes_compute, c.sram_reads_dma) == (4, 4)
    assert (c.macs, c.mac_cycles) == (32, 4)  # 8 MACs per group -> 1 cycle each at 16 MACs/cycle
    assert (c.offchip_weight_bytes, c.offchip_input_bytes, c.offchip_output_bytes) == (16 + 16, 8, 8)
    assert (c.dma_transfers, c.dma_loads) == (4, 3)


def test_groups_of_several_channels_over_fewer_rows_where_they_read_less() -> None:
    # a 1x1 tile of 8 channels x 7 x 7 pixels, 4 input channels, on 16 accumulators: 1 channel x 2 rows reads the
    # channel's weights and 14 pixels' inputs per 14 outputs (8 groups per channel, 4 x 8 x (2 + 14 x 4 / 2) words
    # ...), 2 channels x 1 row reads 2 channels' weights and 7 pixels' inputs per 14 outputs: fewer words
    shape = pw(8, 4, 7, 7)
    hw = make_hw(accumulators=16, words=4096)
    hwp = hw_params(hw, shape)
    sizes = {"k": 8, "c": 4, "h": 7, "w": 7}
    t = {d: np.array([sizes.get(d, 1)]) for d in "gkchw"}
    ak, gh = acc_groups(t, hwp, shape)
    assert (int(ak[0]), int(gh[0])) == (2, 1)
    one, two = (make_conv_schedule(shape, hwp, ONES | sizes, ("g", "k", "c", "p"), False, gk, rows)
                for gk, rows in ((1, 2), (2, 1)))
    assert two.counts.sram_reads_compute < one.counts.sram_reads_compute
    assert (two.counts.macs, two.counts.mac_cycles) == (one.counts.macs, one.counts.mac_cycles)
    # every candidate of the search's test layers: the groups chosen never read more than one channel over as many
    # rows as fit, and they fit the accumulators
    several = 0
    for shape in SEARCH_SHAPES:
        for acc in (4, 16):
            hwp = hw_params(make_hw(accumulators=acc, words=512), shape)
            t = candidates(shape, hwp)
            ak, gh = acc_groups(t, hwp, shape)
            big = t["g"] * t["h"] * t["w"] > acc
            base_h = np.minimum(t["h"], acc // (t["g"] * t["w"]))
            base = step_sizes(shape, hwp, t, np.where(big, 1, ak), np.where(big, base_h, gh))
            got = step_sizes(shape, hwp, t, ak, gh)
            assert np.all(ak * gh * t["g"] * t["w"] <= acc)
            assert np.all(got["w_reads"] + got["i_reads"] + got["b_reads"]
                          <= base["w_reads"] + base["i_reads"] + base["b_reads"])
            several += int(np.count_nonzero(big & (ak > 1)))
    assert several > 0


def test_group_must_fit_accumulators() -> None:
    with pytest.raises(MappingError, match="accumulators"):
        sched(pw(4, 4, 1, 2), make_hw(accumulators=2), {"k": 4, "c": 4, "w": 2}, group_k=2)


def test_search_uses_groups_to_cut_offchip_traffic() -> None:
    hw = make_hw(accumulators=2, words=64)
    s = search_conv(pw(8, 4, 4, 4), hw, "energy")
    assert s.tiling.group_k * s.tiling.tile_g * s.tiling.group_h * s.tiling.tile_w <= 2
    assert s.counts.offchip_input_bytes == 4 * 16 * -(-8 // s.tiling.tile_k)  # inputs once per k tile


@pytest.mark.parametrize("order", [("g", "k", "c", "p"), ("g", "c", "p", "k"), ("g", "p", "k", "c")])
@pytest.mark.parametrize("burst", [0, 3, 8])
def test_grouped_and_burst_steps_sum_to_closed_form(order, burst: int) -> None:  # noqa: ANN001
    hw = with_bursts(make_hw(accumulators=4, words=512, double=True), burst)
    cases = [(ConvShape("c3", 1, 7, 3, 7, 9, 4, 5, 3, 3, 2, 2, 1, 1), {"k": 5, "c": 2, "h": 2, "w": 2}, 1),
             (ConvShape("c3b", 1, 7, 5, 7, 9, 4, 5, 3, 3, 2, 2, 1, 1), {"k": 7, "c": 3, "w": 2}, 2),
             (pw(9, 5, 3, 3), {"k": 4, "c": 3, "w": 2}, 2),
             (ConvShape("g2", 4, 3, 2, 5, 5, 5, 5, 3, 3, 1, 1, 1, 1), {"g": 2, "k": 3, "c": 2}, 2)]
    for shape, sizes, gk in cases:
        for double in (False, True):
            assert_steps_match(sched(shape, hw, sizes, order, double, gk), burst)


def test_bursts_split_long_transfers() -> None:
    hw = with_bursts(make_hw(), 3)
    c = sched(pw(), hw, {"k": 2, "c": 4, "h": 2, "w": 2}).counts
    # weights 8 B -> 3 bursts, bias 8 B -> 3, inputs 16 B -> 6, outputs 8 B -> 3
    assert (c.dma_transfers, c.dma_bursts) == (4, 15)


def test_maxpool_2x2_by_hand() -> None:
    # 1 channel 4x4 -> 2x2, kernel 2 stride 2; the vector unit (1 lane) takes one output per step
    mp = ConvShape("mp", 1, 1, 1, 4, 4, 2, 2, 2, 2, 2, 2, 0, 0, has_bias=False, pool_op="max")
    hw = make_hw()
    s = search_conv(mp, hw, "latency")
    assert (s.tiling.tile_h, s.tiling.tile_w) == (1, 1)
    c = s.counts
    assert (c.macs, c.vector_ops, c.vector_cycles, c.steps) == (0, 16, 16, 4)  # 4 taps per output
    assert c.offchip_weight_bytes == 0 and c.offchip_input_bytes == 16 and c.offchip_output_bytes == 4
    assert c.sram_writes_dma == 4 * 2  # each 2x2 window: 2 rows of 1 word
    assert c.sram_reads_compute == 4 * 4  # per output, 4 taps, each a word of one window row
    assert (c.sram_writes_compute, c.sram_reads_dma, c.dma_transfers) == (4, 4, 8)
    assert_steps_match(s)


def test_avgpool_3x3_padded_steps_and_requantize() -> None:
    ap = ConvShape("ap", 3, 1, 1, 5, 5, 5, 5, 3, 3, 1, 1, 1, 1, has_bias=False, pool_op="avg")
    hw = make_hw()
    s = sched(ap, hw, {}, ("g", "k", "c", "p"))
    assert s.counts.vector_ops == 3 * 25 * (9 + 1)  # 9 taps + 1 requantize per output
    assert s.counts.offchip_input_bytes == 3 * sum(min(r + 2, 5) - max(r - 1, 0) for r in range(5)) ** 2
    assert_steps_match(s)


def test_layout_spans_exactly_the_words_each_load_writes() -> None:
    hw = make_hw(accumulators=4, words=512)
    shape = ConvShape("c3", 2, 7, 3, 7, 9, 4, 5, 3, 3, 2, 2, 1, 1)
    s = sched(shape, hw, {"g": 1, "k": 5, "c": 2, "h": 2, "w": 2}, group_k=1)
    for st in s.steps():
        if st.kind == "compute":
            continue
        lay = conv_tile_layout(s, st)
        addrs = {word_address(st.base_word, lay, idx) for idx in itertools.product(*map(range, lay.extents))}
        assert len(addrs) == len(list(itertools.product(*map(range, lay.extents))))  # no two elements collide
        words = st.sram_writes if st.kind == "load" else st.sram_reads
        assert lay.words == words
        last = max(w + (lane + lay.element_bytes - 1) // lay.word_bytes for w, lane in addrs)  # int32 spans words
        assert last == st.base_word + words - 1 and min(w for w, _ in addrs) == st.base_word


def test_word_address_by_hand() -> None:
    hw = make_hw(accumulators=2)
    s = sched(pw(4, 4, 1, 2), hw, {"k": 4, "c": 4, "w": 2}, group_k=1)
    w = next(st for st in s.steps() if st.operand == "weights")
    lay = conv_tile_layout(s, w)
    # group k=1 starts at word 2 (group 0: 4 B = 2 words); element (g0, k1, c3) is its byte 3 -> word 3, lane 1
    assert word_address(w.base_word, lay, (0, 1, 3, 0, 0)) == (w.base_word + 3, 1)
    with pytest.raises(MappingError, match="outside the tile"):
        word_address(w.base_word, lay, (0, 4, 0, 0, 0))


def test_searched_groups_and_one_slot_buffers_run_bit_exact() -> None:
    """An SE block at 20 px on a 2 KiB double-buffered SRAM: the search picks, among others, a tile run as groups of
    several channels over fewer rows and a double-buffered schedule whose one-tile operand keeps one slot; the
    functional simulator runs the network's chosen schedules bit-exact with equal counts and no clobbers."""
    from helpers.graphs import quantized, se_block_graph
    from sramflow.funcsim.run import run_functional
    from sramflow.sim.api import simulate_graph

    g, hw = se_block_graph(20, c=8, e=32), make_hw(words=1024, double=True)
    res = simulate_graph(g, hw, "latency", fusion="epilogue")
    convs = [c for c in (getattr(s, "conv", s) for s in res.schedules) if hasattr(c, "tiling")]
    assert any(c.tiling.acc_k > 1 and c.tiling.acc_h > 0 for c in convs)
    one_slot = [c for c in convs if c.tiling.double_buffered
                and {b.operand for b in c.buffers if b.slot == 1} < {b.operand for b in c.buffers} - {"bias"}]
    assert one_slot
    q, x = quantized(g)
    r = run_functional(g, q, res.schedules, x, hw.main_sram.total_words, hw.main_sram.word_bytes)
    assert r.bit_exact and r.counts_match and r.clobbers == 0
