"""Packed INT4 weights: two weights per byte off-chip and in the SRAM, MAC counts unchanged; steps() still sum
to the closed forms; the sweep sets the bits per layer group; the functional simulator refuses them."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from sramflow.errors import MappingError, PrecisionError
from sramflow.ir.graph import Graph, Node
from sramflow.mapping.conv import ConvShape
from sramflow.sim.api import prepare_graph, simulate_prepared
from sramflow.sweep.precision import with_weight_bits
from helpers.mapping import make_hw, with_bursts, pw, sched, assert_steps_match


def test_int4_halves_weight_bytes_and_words_by_hand() -> None:
    hw = make_hw()
    c8 = sched(pw(), hw, {"k": 2, "c": 4, "h": 2, "w": 2}).counts
    c4 = sched(dataclasses.replace(pw(), weight_bits=4), hw, {"k": 2, "c": 4, "h": 2, "w": 2}).counts
    # 8 int4 weights = 4 B = 2 words (int8: 8 B, 4 words); bias stays 2 x int32 = 8 B
    assert (c8.offchip_weight_bytes, c4.offchip_weight_bytes) == (8 + 8, 4 + 8)
    assert c8.sram_writes_dma - c4.sram_writes_dma == 2 and c8.sram_reads_compute - c4.sram_reads_compute == 2
    assert (c4.macs, c4.mac_cycles) == (c8.macs, c8.mac_cycles)


def test_int4_odd_tiles_round_up_per_tile() -> None:
    # 3 output channels x 3 inputs = 9 weights per k tile of 3 -> ceil(4.5) = 5 bytes per tile, 2 tiles
    shape = ConvShape("odd", 1, 6, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, has_bias=False, weight_bits=4)
    s = sched(shape, make_hw(), {"k": 3, "c": 3, "h": 2, "w": 2})
    assert s.counts.offchip_weight_bytes == 2 * 5
    assert shape.weight_bytes == 9


@pytest.mark.parametrize("order,burst", list(itertools.product([("g", "k", "c", "p"), ("c", "p", "k", "g")], [0, 3])))
def test_int4_steps_sum_to_closed_form(order, burst: int) -> None:  # noqa: ANN001
    hw = with_bursts(make_hw(accumulators=4, words=512), burst)
    shape = ConvShape("c", 1, 5, 3, 5, 5, 5, 5, 3, 3, 1, 1, 1, 1, weight_bits=4)
    s = sched(shape, hw, {"k": 3, "c": 2, "h": 2, "w": 2}, order, group_k=1)
    assert_steps_match(s, burst)


def test_weight_bits_are_checked() -> None:
    with pytest.raises(MappingError, match="weight_bits"):
        dataclasses.replace(pw(), weight_bits=2)


def _two_conv_graph() -> Graph:
    def attrs(k: int) -> dict:
        return {"groups": 1, "strides": (1, 1), "dilations": (1, 1), "pads": (0, 0, 0, 0), "kernel": (k, k)}

    nodes = (Node("stem", "Conv", ("x",), "a", attrs(3), {"W": np.ones((4, 3, 3, 3), np.float32)}),
             Node("pw", "Conv", ("a",), "b", attrs(1), {"W": np.ones((8, 4, 1, 1), np.float32)}))
    return Graph("two", "x", "b", {"x": (1, 3, 6, 6), "a": (1, 4, 4, 4), "b": (1, 8, 4, 4)}, nodes)


def test_sweep_sets_bits_per_layer_group() -> None:
    prep = prepare_graph(_two_conv_graph())
    mixed = with_weight_bits(prep, {"pointwise": 4, "default": 8})
    assert [s.weight_bits for s in mixed.shapes] == [8, 4]
    assert with_weight_bits(prep, 8) is prep
    hw = make_hw(words=512)
    w8 = sum(r.counts.offchip_weight_bytes for r in simulate_prepared(prep, hw).nodes)
    w4 = sum(r.counts.offchip_weight_bytes for r in simulate_prepared(with_weight_bits(prep, 4), hw).nodes)
    macs = [sum(r.counts.macs for r in simulate_prepared(p, hw).nodes) for p in (prep, with_weight_bits(prep, 4))]
    assert w4 < w8 and macs[0] == macs[1]


def test_sweep_sets_bits_per_layer_token() -> None:
    prep = prepare_graph(_two_conv_graph())  # layers "stem" and "pw": a bare name is a group, a pattern needs a mark
    assert [s.weight_bits for s in with_weight_bits(prep, {"default": 8, "st?m": 4}).shapes] == [4, 8]
    assert [s.weight_bits for s in with_weight_bits(prep, {"default": 4, "pw*": 8}).shapes] == [4, 8]
    with pytest.raises(PrecisionError, match="matches no weighted layer"):
        with_weight_bits(prep, {"default": 8, "nosuch.*": 4})


def test_functional_simulator_refuses_a_model_quantized_at_other_bits() -> None:
    """Packed weights run (tests/test_funcsim_int4.py); an INT8 model on 4-bit schedules is refused by name."""
    from sramflow.funcsim.run import run_functional
    from sramflow.funcsim.sram import FunctionalSimError
    from helpers.graphs import conv_graph, quantized

    g = conv_graph()
    prep = with_weight_bits(prepare_graph(g), 4)
    res = simulate_prepared(prep, make_hw(words=512))
    q, x = quantized(g)
    with pytest.raises(FunctionalSimError, match="simulate with the --weight-bits"):
        run_functional(g, q, res.schedules, x, 512, 2)
