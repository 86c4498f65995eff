"""The functional simulator runs packed 4-bit weights through the SRAM (two per byte, the word layout the
analytical model counts): bit-exact against the integer reference, counts equal to the analytical model, no
clobbers, on both executors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from helpers.graphs import conv_graph, quantized, randomized, tiny_graph
from helpers.mapping import make_hw, sched
from sramflow.funcsim.bulk_conv import execute_conv_bulk
from sramflow.funcsim.exec_conv import execute_conv
from sramflow.funcsim.run import conv_data, run_functional
from sramflow.funcsim.sram import FunctionalSimError, Sram
from sramflow.funcsim.state import Machine
from sramflow.hw.load import resolve_hw
from sramflow.funcsim import layout as L
from sramflow.funcsim.bulk_sram import layout_map
from sramflow.ir.precision import pack_int4
from sramflow.mapping.conv import grouped_words
from sramflow.mapping.layout import TileLayout, bit_address, conv_tile_layout
from sramflow.mapping.lower import lower
from sramflow.quant.weight_bits import with_weight_bits as quantize_bits
from sramflow.reference.run import run_int8
from sramflow.sim.api import prepare_graph, simulate_prepared
from sramflow.sweep.precision import with_weight_bits as price_bits

def _op(g, q, name: str):  # noqa: ANN001, ANN202 - the quantized op of node ``name``
    return dict(zip((n.name for n in g.nodes), q.ops_by_position(g)))[name]


EXECUTORS = pytest.mark.parametrize("executor", ["step", "bulk"])


def _split_byte_schedule(hw):  # noqa: ANN001, ANN202
    """3x3 conv, 6 -> 4 channels, tiles of c = 3: 27 weights (13.5 bytes) per channel, accumulator groups of
    3 channels (81 nibbles: the group's last byte half full, then word padding). On 2-byte words channel 1's
    first weight is the high nibble of the byte whose low nibble is channel 0's last, in the middle of a word."""
    g = conv_graph()
    shape = dataclasses.replace(lower(g, g.nodes[0]), weight_bits=4)
    sch = sched(shape, hw, {"k": 4, "c": 3, "h": 1, "w": 5}, ("g", "k", "c", "p"), group_k=3)
    return g, sch


def test_the_split_byte_case_is_what_it_claims() -> None:
    _, sch = _split_byte_schedule(make_hw())
    assert sch.shape.weight_bits == 4 and sch.tiling.group_k == 3
    per_k = 3 * 9
    assert per_k % 2 == 1 and (3 * per_k) % 2 == 1  # a channel boundary inside a byte; a half-full last byte
    load = next(st for st in sch.steps() if st.kind == "load" and st.operand == "weights")
    words = -(-3 * per_k // 4) + -(-1 * per_k // 4)  # 2 x 2 nibbles per word, each group word-aligned: 21 + 7
    lay = conv_tile_layout(sch, load)
    assert lay.element_bits == 4 and lay.words == grouped_words(per_k, 4, 3, 2, 4) == words == 28
    assert load.sram_writes == words and load.offchip_bytes == -(-4 * per_k // 2) == 54
    # channel 1 starts in the high nibble of byte 13 (lane 1 of word 6), which holds channel 0's last weight
    assert bit_address(0, lay, (0, 0, 2, 2, 2)) == (6, 1, 0) and bit_address(0, lay, (0, 1, 0, 0, 0)) == (6, 1, 4)
    assert bit_address(0, lay, (0, 3, 0, 0, 0)) == (21, 0, 0)  # the second group starts on a word


@pytest.mark.parametrize("extents, group", [((1, 4, 3, 3, 3), 3), ((2, 3, 1, 3, 3), 2), ((1, 5, 7, 1, 1), 0)])
def test_int4_packing_matches_bit_address(extents: tuple[int, ...], group: int) -> None:
    """The step executor's packing and the bulk executor's nibble map put every weight where
    ``mapping.layout.bit_address`` (the layout the word counts assume) says."""
    tile = (np.arange(int(np.prod(extents))) % 15 - 7).astype(np.int8).reshape(extents)
    lay = TileLayout(("g", "k", "c", "ky", "kx"), extents, 1, 2, group_axis=1 if group else None,
                     group_size=group, element_bits=4)
    raw = (L.pack_grouped_int4(tile, group, 2) if group else L.pad_to_words(pack_int4(tile), 2)).reshape(-1, 2)
    nmap = layout_map(extents, 1, 4, group)  # payload nibble -> element, 4 nibbles per 2-byte word
    assert raw.shape[0] == lay.words == nmap.size // 4
    for e, idx in enumerate(np.ndindex(*extents)):
        word, lane, bit = bit_address(0, lay, idx)
        assert ((int(raw[word, lane]) >> bit) & 0xF) == (int(tile[idx]) & 0xF)
        assert nmap[word * 4 + lane * 2 + bit // 4] == e


@EXECUTORS
@pytest.mark.parametrize("order", [("g", "k", "c", "p"), ("g", "p", "c", "k")])
def test_split_byte_layer_bit_exact_with_counts(executor: str, order: tuple[str, ...]) -> None:
    hw = make_hw()
    g, sch0 = _split_byte_schedule(hw)
    sch = sched(sch0.shape, hw, {"k": 4, "c": 3, "h": 1, "w": 5}, order, group_k=3)
    q8, x = quantized(g)
    q = quantize_bits(g, q8, "4")
    m = Machine(Sram(128, 2))
    run = execute_conv if executor == "step" else execute_conv_bulk
    y = run(sch, conv_data(sch, _op(g, q, "c"), q, x[0]), m)
    want = run_int8(q, x)["y"][0]
    assert np.array_equal(y, want)
    assert not np.array_equal(want, run_int8(q8, x)["y"][0])  # the 4-bit model is another model
    assert m.sram.clobbers == 0 and m.step_mismatches == []
    c = sch.counts
    assert m.tally.macs == c.macs
    assert m.tally.sram_reads_compute + m.tally.sram_reads_dma == c.sram_reads
    assert m.tally.sram_writes_compute + m.tally.sram_writes_dma == c.sram_writes
    assert m.tally.offchip_read_bytes + m.tally.offchip_write_bytes == c.offchip_bytes


@EXECUTORS
def test_int8_values_in_a_4bit_schedule_are_refused(executor: str) -> None:
    hw = make_hw()
    g, sch = _split_byte_schedule(hw)
    q, x = quantized(g)  # 8-bit weights: most do not fit a nibble
    run = execute_conv if executor == "step" else execute_conv_bulk
    with pytest.raises(Exception, match=r"outside \[-8, 7\]"):
        run(sch, conv_data(sch, _op(g, q, "c"), q, x[0]), Machine(Sram(128, 2)))


def _functional(g, spec: str, hw, executor: str = "bulk", q8x=None):  # noqa: ANN001, ANN202
    q8, x = q8x or quantized(g)
    q = quantize_bits(g, q8, spec)
    res = simulate_prepared(price_bits(prepare_graph(g), spec), hw)
    return res, run_functional(g, q, res.schedules, x, hw.main_sram.total_words, hw.main_sram.word_bytes,
                               executor=executor)


@EXECUTORS
def test_tiny_graph_int4_bit_exact_with_counts(executor: str) -> None:
    res, r = _functional(randomized(tiny_graph()), "4", make_hw(double=True), executor)
    assert any(getattr(s.shape, "weight_bits", 8) == 4 for s in res.schedules)
    assert r.bit_exact and r.counts_match and r.clobbers == 0 and r.step_count_notes == ()


@pytest.mark.parametrize("spec", ["4", "pointwise=4,default=8", "stem=8,classifier=8,default=4",
                                  "default=8,features.[5-8].*=4,features.6.*fc2=4"])
def test_b0_structure_mixed_bit_exact_with_counts(spec: str, b0_32_int8) -> None:  # noqa: ANN001
    g, q8, x = b0_32_int8  # B0@32 (seed 3) quantized on two random inputs; every spec starts from it
    res, r = _functional(g, spec, resolve_hw("sky130-design1"), q8x=(q8, x))
    bits = {s.shape.weight_bits for s in res.schedules if hasattr(s.shape, "weight_bits") and not s.shape.pool_op
            and s.shape.weight_bytes}
    assert 4 in bits and (bits == {4}) == (spec == "4")
    assert r.bit_exact and r.counts_match and r.clobbers == 0 and r.step_count_notes == ()


def test_schedule_and_model_precision_must_agree() -> None:
    g = randomized(tiny_graph())
    q, x = quantized(g)  # INT8 model, 4-bit schedules
    hw = make_hw(double=True)
    res = simulate_prepared(price_bits(prepare_graph(g), "4"), hw)
    with pytest.raises(FunctionalSimError, match="quantized with 8-bit"):
        run_functional(g, q, res.schedules, x, hw.main_sram.total_words, hw.main_sram.word_bytes)
