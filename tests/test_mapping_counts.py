"""Hand-checked counts on tiny layers (16-bit words = 2 bytes, 16 MACs/cycle, 2 off-chip bytes/cycle)."""

from __future__ import annotations

import dataclasses

import pytest

from sramflow.errors import MappingError
from sramflow.hw.spec import HardwareSpec
from sramflow.mapping.conv import ConvShape
from sramflow.mapping.search.choose import make_conv_schedule, search_conv
from sramflow.mapping.search.tiling_table import hw_params
from sramflow.mapping.vector import VectorSchedule, VectorShape, vector_counts
from sramflow.sim.api import price

from helpers.counts import summed_counts
from helpers.mapping import make_hw, pw


def sched(shape: ConvShape, hw: HardwareSpec, sizes: dict, order=("g", "k", "c", "p"), double=False):  # noqa: ANN001, ANN201
    return make_conv_schedule(shape, hw_params(hw), {"g": 1, "k": 1, "c": 1, "h": 1, "w": 1} | sizes, order, double)


def test_pointwise_that_fits() -> None:
    hw = make_hw()
    c = sched(pw(), hw, {"k": 2, "c": 4, "h": 2, "w": 2}).counts
    # weights 2x4 = 8 B -> 4 words; bias 2 x int32 = 8 B -> 4 words; inputs 4 ch x 2 rows x 1 word (2 B) = 8 words
    assert (c.macs, c.mac_cycles, c.steps) == (32, 2, 1)
    assert c.sram_writes_dma == 4 + 4 + 8
    assert c.sram_reads_compute == 4 + 8 + 4  # each weight, input and bias word once
    assert (c.sram_writes_compute, c.sram_reads_dma) == (4, 4)  # 8 int8 outputs = 4 words, written then stored
    assert (c.offchip_weight_bytes, c.offchip_input_bytes, c.offchip_output_bytes) == (16, 16, 8)
    assert (c.dma_transfers, c.dma_loads) == (4, 3)
    r = price("pw", "Conv", sched(pw(), hw, {"k": 2, "c": 4, "h": 2, "w": 2}), hw)
    # no double buffering: max(40 B / 2, 20 DMA port accesses) + max(2 MAC cycles, 20 compute accesses)
    assert r.cycles == 20 + 20
    assert r.bounds.compute_cycles == 2 and r.bounds.offchip_cycles == 20


def test_pointwise_that_must_be_tiled() -> None:
    hw = make_hw(accumulators=2)
    s = search_conv(pw(), hw, "latency")
    assert s.tiling.group_k * s.tiling.group_h * s.tiling.tile_w <= 2  # one accumulator group at a time
    c = sched(pw(), hw, {"k": 2, "c": 4}).counts  # 4 pixel tiles of 1 pixel x 2 channels, weights resident
    assert (c.macs, c.mac_cycles, c.steps) == (32, 4, 4)
    # weights once, bias once, 4 input tiles of 4 channels x 1 B, packed (one group reads the whole window): 2 words
    assert c.sram_writes_dma == 4 + 4 + 4 * 2
    assert c.sram_reads_compute == 4 * (4 + 2) + 4 * 4  # per step weights + inputs; bias per output tile
    assert (c.sram_writes_compute, c.sram_reads_dma) == (4, 4)
    assert (c.offchip_weight_bytes, c.offchip_input_bytes, c.offchip_output_bytes) == (16, 16, 8)
    assert (c.dma_transfers, c.dma_loads) == (10, 6)


def test_depthwise_3x3_window_rows_come_from_the_input_registers() -> None:
    hw = make_hw(accumulators=32)
    dw = ConvShape("dw", 2, 1, 1, 4, 4, 4, 4, 3, 3, 1, 1, 1, 1)
    c = sched(dw, hw, {"g": 2, "h": 4, "w": 4}).counts
    assert (c.macs, c.mac_cycles) == (2 * 16 * 9, 18)
    # window 6x6 per channel incl. zero padding, rows of ceil(6/2) = 3 words; only the 4x4 image is fetched
    assert c.sram_writes_dma == 9 + 4 + 2 * 6 * 3
    assert c.offchip_input_bytes == 32 and c.offchip_weight_bytes == 18 + 8
    # the 6-byte window row fits the array's 16 input operand registers: each of the 3 kernel rows reads
    # 4 rows x 3 words per channel once, all 3 kernel columns use it
    assert c.sram_reads_compute == 9 + 3 * 2 * 4 * 3 + 4
    # without input registers each of the 9 kernel offsets re-reads 4 rows x 3 words per channel
    hwp = dataclasses.replace(hw_params(hw), input_row_bytes=0)
    s0 = make_conv_schedule(dw, hwp, {"g": 2, "k": 1, "c": 1, "h": 4, "w": 4}, ("g", "k", "c", "p"), False)
    assert s0.counts.sram_reads_compute == 9 + 9 * 2 * 4 * 3 + 4
    assert summed_counts(s0.steps())["sram_reads_compute"] == s0.counts.sram_reads_compute
    assert (c.sram_writes_compute, c.sram_reads_dma, c.offchip_output_bytes) == (16, 16, 32)


def test_input_register_bytes_0_vs_16_on_a_3x3_conv() -> None:
    # 2 -> 2 channels, 5x5 input, 3x3 kernel, no padding: 3x3 output; the whole layer is one tile and one
    # accumulator group (9 pixels x 2 channels = 18 <= 32 accumulators), so weights, bias and window are read once
    # per group and there is a single reduction step (no partial sums)
    conv = ConvShape("c3", 1, 2, 2, 5, 5, 3, 3, 3, 3, 1, 1, 0, 0)
    sizes = {"k": 2, "c": 2, "h": 3, "w": 3}
    weights_words = 2 * 2 * 9 // 2  # 36 int8 weights in 2-byte words
    bias_words = 2 * 4 // 2  # two int32 biases
    row_words = -(-5 // 2)  # a 5-byte window row starts on a word: 3 words
    reads = {}
    for regs in (0, 16):
        hw = make_hw(accumulators=32, input_registers=regs)
        assert hw_params(hw).input_row_bytes == regs
        s = sched(conv, hw, sizes)
        assert s.counts.sram_reads_compute == summed_counts(s.steps())["sram_reads_compute"]
        reads[regs] = s.counts.sram_reads_compute
        assert (s.counts.macs, s.counts.mac_cycles) == (2 * 9 * 2 * 9, -(-324 // 16))  # registers change no MACs
    # 16 registers hold a 5-byte row: per channel, output row and kernel row, one window row read, all 3 kernel
    # columns take their inputs from it; with none, each of the 9 kernel offsets reads its window row again
    with_regs = 2 * 3 * 3 * row_words  # 54
    without = 2 * 3 * 9 * row_words  # 162
    assert reads[16] == weights_words + bias_words + with_regs == 76
    assert reads[0] == weights_words + bias_words + without == 184
    assert reads[0] - reads[16] == 2 * 3 * 3 * (3 - 1) * row_words == 108  # the 2 extra kernel columns


def test_packed_input_window_on_odd_widths() -> None:
    # 1x1 conv K=2, C=3 on a 1x3 image, one tile (3 pixels on 4 accumulators: one group of 1 channel x 3 pixels,
    # then the second channel): every group reads the whole window once, so it is stored packed
    hw = make_hw(accumulators=4)
    s = make_conv_schedule(pw(2, 3, 1, 3), hw_params(hw), {"g": 1, "k": 2, "c": 3, "h": 1, "w": 3},
                           ("g", "k", "c", "p"), False, 1)
    c = s.counts
    # window 3 ch x 1 row x 3 cols = 9 B: 5 words packed (row-aligned: 3 ch x ceil(3 / 2) = 6 words);
    # weights 2 groups of 3 B = 2 x 2 words; bias 2 groups of 4 B = 2 x 2 words
    assert c.sram_writes_dma == 5 + 4 + 4
    # each of the 2 groups (one output channel) reads its 2 weight words, 2 bias words and the 5 window words
    assert c.sram_reads_compute == 2 * (2 + 2 + 5)
    assert (c.macs, c.mac_cycles) == (18, 2)  # 9 MACs per group: 1 cycle each
    assert c.offchip_input_bytes == 9
    assert summed_counts(s.steps())["sram_writes_dma"] == c.sram_writes_dma
    assert summed_counts(s.steps())["sram_reads_compute"] == c.sram_reads_compute
    # a 3x3 kernel reads single window rows (once per kernel row): its window rows stay word-aligned
    dw = ConvShape("dw", 1, 1, 1, 3, 3, 3, 3, 3, 3, 1, 1, 1, 1)
    s3 = make_conv_schedule(dw, hw_params(make_hw(accumulators=16)), {"g": 1, "k": 1, "c": 1, "h": 3, "w": 3},
                            ("g", "k", "c", "p"), False)
    assert s3.counts.sram_writes_dma == 5 * 3 + 5 + 2  # 5 x 5 window, rows of ceil(5 / 2) = 3 words


def test_pointwise_tile_with_more_pixels_than_accumulators() -> None:
    # 1x1 conv K=2, C=4 on 4x2 pixels, whole layer one tile (8 pixels) on 4 accumulators: a tile row is 2
    # pixels, so the array runs groups of 1 channel x 2 rows x 2 pixels: 2 k groups x 2 row groups
    hw = make_hw(accumulators=4)
    s = make_conv_schedule(pw(2, 4, 4, 2), hw_params(hw), {"g": 1, "k": 2, "c": 4, "h": 4, "w": 2},
                           ("g", "k", "c", "p"), False, 1, 2)
    c = s.counts
    assert (s.tiling.group_k, s.tiling.group_h, c.steps) == (1, 2, 1)
    # weights 2 groups of 4 B = 2 words; bias 2 groups of 4 B = 2 words; inputs 4 ch x 4 rows x 1 word
    assert c.sram_writes_dma == 4 + 4 + 16
    # each of the 4 groups reads its channel's 2 weight words and 2 bias words and its 2 rows x 4 channels
    assert c.sram_reads_compute == 4 * (2 + 2 + 2 * 4)
    # each group writes 4 int8 outputs = 2 words to its own block; the store reads all 8 words
    assert (c.sram_writes_compute, c.sram_reads_dma) == (8, 8)
    assert (c.macs, c.mac_cycles) == (64, 4)  # 16 MACs per group: 1 cycle each
    assert (c.offchip_weight_bytes, c.offchip_input_bytes, c.offchip_output_bytes) == (8 + 8, 32, 16)
    assert (c.dma_transfers, c.dma_loads) == (4, 3)
    assert summed_counts(s.steps())["sram_reads_compute"] == c.sram_reads_compute


def test_depthwise_3x3_row_groups_reread_overlapping_rows_from_the_sram() -> None:
    # 1 channel, 4x4 output, pad 1, whole layer one tile on 4 accumulators: 4 groups of one output row
    hw = make_hw(accumulators=4)
    dw = ConvShape("dw", 1, 1, 1, 4, 4, 4, 4, 3, 3, 1, 1, 1, 1)
    s = make_conv_schedule(dw, hw_params(hw), {"g": 1, "k": 1, "c": 1, "h": 4, "w": 4}, ("g", "k", "c", "p"),
                           False, 1, 1)
    c = s.counts
    # window 6x6 incl. padding, rows of 3 words; weights 9 B = 5 words; bias 2 words
    assert c.sram_writes_dma == 6 * 3 + 5 + 2
    assert c.offchip_input_bytes == 16 and c.offchip_weight_bytes == 9 + 4  # the window is fetched once
    # per group: weights 5 + bias 2 + its 3 window rows (6 B fit the input registers: once per kernel row) x 3 words
    assert c.sram_reads_compute == 4 * (5 + 2 + 3 * 3)
    assert (c.macs, c.mac_cycles) == (144, 4 * 3)  # 36 MACs per group -> 3 cycles
    assert (c.sram_writes_compute, c.sram_reads_dma) == (4 * 2, 4 * 2)  # 4 int8 outputs per group: 2 words
    assert summed_counts(s.steps())["sram_reads_compute"] == c.sram_reads_compute


def test_row_groups_only_when_pixels_exceed_accumulators() -> None:
    hw = make_hw(accumulators=4)
    with pytest.raises(MappingError, match="accumulators"):  # a group of 2 rows x 4 pixels > 4 accumulators
        make_conv_schedule(pw(2, 4, 4, 4), hw_params(hw), {"g": 1, "k": 1, "c": 4, "h": 4, "w": 4},
                           ("g", "k", "c", "p"), False, 1, 2)
    s = search_conv(pw(8, 16, 8, 4), make_hw(accumulators=4, words=128), "energy")
    t = s.tiling
    assert t.group_k * t.tile_g * t.group_h * t.tile_w <= 4 and t.tile_g * t.tile_w <= 4


def test_partial_sums_are_exact_in_24_bits_up_to_257_products() -> None:
    # a partial sum excludes the bias: at most n = C x kh x kw products, each |x - zp| <= 255 times |w| <= 128
    for c, k in ((257, 1), (258, 1), (28, 3), (29, 3), (1152, 1)):
        n = c * k * k
        want = 3 if n * 255 * 128 < 2 ** 23 else 4
        assert ConvShape("p", 1, 1, c, 1, 1, 1, 1, k, k, 1, 1, 0, 0).psum_bytes == want
    assert (257 * 255 * 128 < 2 ** 23, 258 * 255 * 128 < 2 ** 23) == (True, False)
    # 1x1 conv K=2, C=4 on 1x2 pixels; tiles of 1 channel x 2 input channels with the reduction outermost: the
    # 2 partial sums of each output tile are stored after the first reduction step and loaded before the second
    hw = make_hw()
    s = sched(pw(2, 4, 1, 2), hw, {"k": 1, "c": 2, "w": 2}, ("g", "c", "k", "p"))
    c = s.counts
    assert s.spill_psums and pw().psum_bytes == 3
    assert (c.offchip_psum_write_bytes, c.offchip_psum_read_bytes) == (4 * 3, 4 * 3)
    # psums: 2 outputs x 3 B = 3 words per tile, stored (compute writes + DMA reads) and reloaded (DMA writes,
    # compute reads) once per output tile; the bias (2 words) is read by the last reduction step of each tile
    assert c.sram_reads_dma == 2 * 3 + 2 * 1  # psum stores + int8 output stores (2 B = 1 word)
    assert c.sram_reads_compute == 4 * (1 + 2) + 2 * 2 + 2 * 3  # per step weights 1 + inputs 2; bias; psums
    assert summed_counts(s.steps())["sram_reads_compute"] == c.sram_reads_compute


def test_elementwise_add_reads_both_operands_once_and_writes_one_output() -> None:
    sh = VectorShape("add", "Add", 1, 10, 2, 0, False, False, 2, 0)
    c = vector_counts(sh, 2, 1, 10)
    assert (c["sram_writes_dma"], c["sram_reads_compute"]) == (10, 10)  # 2 operands x 5 words
    assert (c["sram_writes_compute"], c["sram_reads_dma"]) == (5, 5)
    assert (c["offchip_input_bytes"], c["offchip_output_bytes"], c["dma_transfers"]) == (20, 10, 3)
    assert (c["vector_ops"], c["vector_cycles"]) == (20, 20)


@pytest.mark.parametrize("order", [("g", "k", "c", "p"), ("g", "c", "p", "k"), ("g", "p", "k", "c"),
                                   ("g", "c", "k", "p")])
@pytest.mark.parametrize("double", [False, True])
def test_steps_sum_to_closed_form(order, double) -> None:  # noqa: ANN001
    hw = make_hw(accumulators=8, words=512, double=True)
    shapes = [(ConvShape("c3", 1, 5, 3, 7, 9, 4, 5, 3, 3, 2, 2, 1, 1), {"k": 2, "c": 2, "h": 2, "w": 2}),
              (ConvShape("dw", 6, 1, 1, 5, 5, 5, 5, 3, 3, 1, 1, 1, 1), {"g": 4, "h": 2}),
              (pw(3, 5, 3, 3), {"k": 2, "c": 3, "w": 2})]
    for shape, sizes in shapes:
        s = sched(shape, hw, sizes, order, double)
        got, c = summed_counts(s.steps()), s.counts
        assert got["macs"] == c.macs and got["steps"] == c.steps
        assert (got["sram_reads_compute"], got["sram_writes_compute"]) == (c.sram_reads_compute, c.sram_writes_compute)
        assert (got["sram_writes_dma"], got["sram_reads_dma"]) == (c.sram_writes_dma, c.sram_reads_dma)
        assert (got["offchip_load_bytes"], got["offchip_store_bytes"]) == (c.offchip_read_bytes, c.offchip_write_bytes)
        assert (got["dma_transfers"], got["dma_loads"]) == (c.dma_transfers, c.dma_loads)


def test_vector_steps_sum_to_closed_form() -> None:
    sh = VectorShape("se", "Mul", 3, 7, 1, 0, True, False, 2, 0)
    s = VectorSchedule(sh, 2, 1, 3, False, ())
    s = dataclasses.replace(s, buffers=__import__("sramflow.mapping.schedule", fromlist=["allocate"]).allocate(
        {"scale": 1, "inputs": 2, "outputs": 2}, ()))
    got, c = summed_counts(s.steps()), s.counts
    assert (got["sram_reads_compute"], got["sram_writes_compute"]) == (c.sram_reads_compute, c.sram_writes_compute)
    assert (got["sram_writes_dma"], got["dma_transfers"], got["vector_ops"]) == (c.sram_writes_dma, c.dma_transfers,
                                                                                 c.vector_ops)


def test_no_tile_fits_names_layer_and_working_set() -> None:
    with pytest.raises(MappingError, match=r"'pw'.*minimum working set is \d+ bytes"):
        search_conv(pw(), make_hw(words=4), "latency")


def test_partial_sums_kept_in_sram_by_hand() -> None:
    # K=4, C=4, 2 pixels, 2 accumulators -> 4 groups of 1 channel; the reduction is split in 2 channel tiles
    # and c is innermost: the 4 groups' psums (sums of <= 4 products: 3 B exact; 2 pixels x 3 B = 3 words each)
    # stay in the SRAM
    hw = make_hw(accumulators=2)
    s = make_conv_schedule(pw(4, 4, 1, 2), hw_params(hw), {"g": 1, "k": 4, "c": 2, "h": 1, "w": 2},
                           ("g", "k", "p", "c"), False, 1)
    assert s.keep_psums and not s.spill_psums
    c = s.counts
    # step 1: weights 4 x 1 word, inputs 2 words per group; psums written 4 x 3 words
    # step 2: weights 4, inputs 8, bias 4 x 2 words (added at the last reduction step), psums read 12; int8
    # outputs written 4 x 1 word
    assert c.sram_reads_compute == (4 + 8) + (4 + 8 + 8 + 12)
    assert c.sram_writes_compute == 12 + 4
    assert c.sram_writes_dma == 2 * 4 + 2 * 2 + 8 and c.sram_reads_dma == 4
    assert (c.offchip_psum_read_bytes, c.offchip_psum_write_bytes) == (0, 0)
    assert max(b.end_word for b in s.buffers) == 8 + 4 + 2 + 12  # bias, weights, inputs, 24-bit psum buffer
    access = [st.psum_access for st in s.steps() if st.kind == "compute"]
    assert access == ["write", "read"]


@pytest.mark.parametrize("order", [("g", "k", "p", "c"), ("g", "p", "k", "c"), ("g", "c", "k", "p")])
@pytest.mark.parametrize("double", [False, True])
def test_kept_partial_sum_steps_sum_to_closed_form(order, double) -> None:  # noqa: ANN001
    hw = make_hw(accumulators=4, words=1024, double=True)
    cases = [(ConvShape("c3", 1, 7, 5, 7, 9, 4, 5, 3, 3, 2, 2, 1, 1), {"k": 5, "c": 2, "h": 2, "w": 2}, 1),
             (pw(9, 7, 3, 3), {"k": 6, "c": 3, "w": 2}, 2)]
    for shape, sizes, gk in cases:
        s = make_conv_schedule(shape, hw_params(hw), {"g": 1} | {"h": 1} | sizes, order, double, gk)
        assert s.keep_psums != s.spill_psums  # tiled reduction, several groups: psums live in the SRAM or off-chip
        got, c = summed_counts(s.steps()), s.counts
        assert (got["sram_reads_compute"], got["sram_writes_compute"]) == (c.sram_reads_compute, c.sram_writes_compute)
        assert (got["sram_writes_dma"], got["sram_reads_dma"]) == (c.sram_writes_dma, c.sram_reads_dma)
        assert (got["offchip_load_bytes"], got["offchip_store_bytes"]) == (c.offchip_read_bytes, c.offchip_write_bytes)
        assert (got["dma_transfers"], got["dma_loads"], got["steps"]) == (c.dma_transfers, c.dma_loads, c.steps)
