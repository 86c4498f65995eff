"""A layer cut into parts that keep an operand in the outer level from part to part
(``mapping.depth_first_split``): channel chunks x row bands whose chunks keep their weights across their bands
(``KEPT_AXIS``: each chunk's first band stages its weights from off-chip memory, the other bands read them where it
left them, so every weight crosses the link once), row bands x chunks whose bands keep their input across their
chunks (``INPUTS_KEPT_AXIS``), or both (``BOTH_KEPT_AXIS``: chunk-major, the first chunk lays the input out band by
band in a region of the level that the later chunks read)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sramflow.funcsim.run import run_functional
from sramflow.funcsim.sram import FunctionalSimError
from sramflow.hw.load import resolve_hw
from sramflow.ir.graph import Graph, Node
from sramflow.mapping.depth_first import ResidentConvSchedule
from sramflow.mapping.depth_first_split import (BOTH_KEPT_AXIS, INPUTS_KEPT_AXIS, KEPT_AXIS, SplitSchedule, _both_kept,
                                               _both_kept_cuts, _weights_kept)
from sramflow.sim.api import simulate_graph
from helpers.graphs import conv_graph, pointwise_graph as _pointwise, quantized
from helpers.mapping import small_l2


def _kept(bands: int = 4, chunks: int = 2):  # noqa: ANN202
    g = conv_graph(c=16, k=16, hw_px=12)
    hw = small_l2(1)
    res = simulate_graph(g, hw, fusion="epilogue")
    sch = res.schedules[0]
    parts = _weights_kept(sch, sch, bands, chunks, hw, "latency", {})
    assert parts is not None
    return g, hw, res, SplitSchedule(sch, KEPT_AXIS, tuple(parts))


def test_each_chunk_stages_its_weights_once_and_its_other_bands_keep_them() -> None:
    _, hw, _, split = _kept()
    sh = split.shape
    assert [(p.ch0, p.row0) for p in split.parts] == [(c, r) for c in (0, 8) for r in (0, 3, 6, 9)]  # chunk-major
    for p in split.parts:
        kept = isinstance(p.schedule, ResidentConvSchedule) and p.schedule.resident == ("weights",)
        assert kept == (p.row0 > 0) and "weights" in p.schedule.staged
        if kept:
            assert p.schedule.resident_base == (0,) and p.schedule.counts.offchip_weight_bytes == 0
    # the whole layer's weights and biases cross the link once; each chunk's once into l2
    assert split.counts.offchip_weight_bytes == sh.weight_bytes + sh.bias_bytes
    first = [p.schedule for p in split.parts if p.row0 == 0]
    plain = [dataclasses.replace(p.schedule, resident=(), resident_base=()) for p in split.parts if p.row0 > 0]
    wb = hw.sram[1].word_bytes
    saved = sum(x.counts.level_access(1)[1] for x in plain) - \
        sum(p.schedule.counts.level_access(1)[1] for p in split.parts if p.row0 > 0)
    assert saved == sum(-(-x.operand_bytes["weights"].whole // wb) for x in plain) > 0
    assert len(first) == 2


def test_kept_weights_run_bit_exact_with_identical_counts() -> None:
    g, hw, res, split = _kept()
    q, x = quantized(g)
    r = run_functional(g, q, (split,), x, hw.main_sram.total_words, hw.main_sram.word_bytes)
    assert r.bit_exact and r.clobbers == 0 and r.counts_match


def test_weights_kept_in_the_wrong_words_are_caught() -> None:
    g, hw, res, split = _kept()
    p = split.parts[1]
    bad = dataclasses.replace(p, schedule=dataclasses.replace(p.schedule, resident_base=(1,)))
    split = dataclasses.replace(split, parts=(split.parts[0], bad, *split.parts[2:]))
    q, x = quantized(g)
    with pytest.raises(FunctionalSimError, match="was left"):
        run_functional(g, q, (split,), x, hw.main_sram.total_words, hw.main_sram.word_bytes)


def test_the_mapper_keeps_an_operand_where_that_wins() -> None:
    """design1-l2 (64 KiB) and a 1x1 layer whose weights (72 KB) and input (45 KB) do not fit the level together:
    the depth-first mapper cuts it into parts that keep one of them in the level from part to part (here the input
    across the weight chunks) and moves every operand once."""
    rng = np.random.default_rng(0)
    conv = {"kernel": (1, 1), "strides": (1, 1), "dilations": (1, 1), "pads": (0, 0, 0, 0), "groups": 1}
    node = Node("pw", "Conv", ("x",), "y", conv, {"W": rng.standard_normal((160, 448, 1, 1)).astype(np.float32),
                                                  "B": rng.standard_normal(160).astype(np.float32)})
    g = Graph("pw", "x", "y", {"x": (1, 448, 10, 10), "y": (1, 160, 10, 10)}, (node,))
    hw = resolve_hw("sky130-design1-l2")
    res = simulate_graph(g, hw, "energy", fusion="depth-first")
    s = res.schedules[0]
    assert isinstance(s, SplitSchedule) and s.axis == INPUTS_KEPT_AXIS and s.describe()["axis"] == INPUTS_KEPT_AXIS
    sh = s.shape
    assert s.counts.offchip_weight_bytes == sh.weight_bytes + sh.bias_bytes
    assert s.counts.offchip_input_bytes == sh.input_bytes and s.counts.offchip_output_bytes == sh.output_bytes
    kept = [p for p in s.parts if isinstance(p.schedule, ResidentConvSchedule)]
    assert len(kept) == len(s.parts) - 1 and all(p.schedule.resident == ("inputs",) for p in kept)
    q, x = quantized(g)
    r = run_functional(g, q, res.schedules, x, hw.main_sram.total_words, hw.main_sram.word_bytes)
    assert r.bit_exact and r.clobbers == 0 and r.counts_match


def test_an_input_kept_in_the_wrong_words_is_caught() -> None:
    """small_conv_graph on design1 + 2 KiB: its 3x3 conv's second chunk reads the input the first left in the
    level; told to look one word higher, the run fails instead of computing on other bytes."""
    from helpers.graphs import small_conv_graph

    g = small_conv_graph()
    hw = small_l2(1)
    res = simulate_graph(g, hw, fusion="depth-first")
    i = [n.name for n in g.nodes].index("c")
    s = res.schedules[i]
    assert isinstance(s, SplitSchedule) and s.axis == INPUTS_KEPT_AXIS
    p = s.parts[1]
    bad = dataclasses.replace(p, schedule=dataclasses.replace(p.schedule, resident_base=(p.schedule.resident_base[0]
                                                                                         + 1,)))
    schedules = list(res.schedules)
    schedules[i] = dataclasses.replace(s, parts=(s.parts[0], bad, *s.parts[2:]))
    q, x = quantized(g)
    with pytest.raises(FunctionalSimError, match="was left"):
        run_functional(g, q, tuple(schedules), x, hw.main_sram.total_words, hw.main_sram.word_bytes)


def _both(bands: int = 3, chunks: int = 2):  # noqa: ANN202 - a 1x1 layer whose input (4.5 KB) fits 8 KiB of l2
    g = _pointwise(32, 32, 12)
    hw = small_l2(4)
    sch = simulate_graph(g, hw, fusion="epilogue").schedules[0]
    parts = _both_kept(sch, sch, bands, chunks, hw, "latency", {})
    assert parts is not None
    return g, hw, SplitSchedule(sch, BOTH_KEPT_AXIS, tuple(parts))


def test_both_kept_moves_weights_and_input_once_bit_exact() -> None:
    """Chunk-major parts: each chunk's first band fills its weights at the bottom of the level, the first chunk's
    bands fill the input band after band above the largest chunk's weights, and every later part reads what is
    already there: weights and input cross the link once each; bit-exact with equal counts, no clobbers."""
    g, hw, split = _both()
    sh = split.shape
    assert [(p.ch0, p.row0) for p in split.parts] == [(c, r) for c in (0, 16) for r in (0, 4, 8)]
    bases = {}
    for p in split.parts:
        s = p.schedule
        assert isinstance(s, ResidentConvSchedule) and set(s.staged) == {"weights", "inputs"}
        assert ("weights" in s.resident) == (p.row0 > 0) and s.filled == (("inputs",) if p.ch0 == 0 else ())
        at = s.resident_in("inputs")
        assert bases.setdefault(p.row0, at) == at  # the later chunk reads the band where the first one put it
        assert s.region_end >= at[1] + -(-s.operand_bytes["inputs"].footprint // hw.sram[1].word_bytes)
        assert s.counts.offchip_input_bytes == (s.shape.input_bytes if p.ch0 == 0 else 0)
    assert sorted(b for _, b in bases.values()) == [b for _, b in bases.values()]  # laid out band after band
    assert split.counts.offchip_weight_bytes == sh.weight_bytes + sh.bias_bytes
    assert split.counts.offchip_input_bytes == sh.input_bytes and split.counts.offchip_output_bytes == sh.output_bytes
    q, x = quantized(g)
    r = run_functional(g, q, (split,), x, hw.main_sram.total_words, hw.main_sram.word_bytes)
    assert r.bit_exact and r.clobbers == 0 and r.counts_match


def test_a_both_kept_band_read_from_the_wrong_words_is_caught() -> None:
    g, hw, split = _both()
    i = next(n for n, p in enumerate(split.parts) if p.ch0 > 0 and p.row0 > 0)
    s = split.parts[i].schedule
    moved = tuple(b + (1 if o == "inputs" else 0) for o, b in zip(s.resident, s.resident_base))
    bad = dataclasses.replace(split.parts[i], schedule=dataclasses.replace(s, resident_base=moved))
    split = dataclasses.replace(split, parts=(*split.parts[:i], bad, *split.parts[i + 1:]))
    q, x = quantized(g)
    with pytest.raises(FunctionalSimError, match="was left"):
        run_functional(g, q, (split,), x, hw.main_sram.total_words, hw.main_sram.word_bytes)


def test_a_band_filled_over_its_parts_weights_is_caught() -> None:
    g, hw, split = _both()
    s = split.parts[0].schedule
    bad = dataclasses.replace(split.parts[0], schedule=dataclasses.replace(s, resident_base=(0,)))
    split = dataclasses.replace(split, parts=(bad, *split.parts[1:]))
    q, x = quantized(g)
    with pytest.raises(FunctionalSimError, match="filled at word 0 of level 1, below"):
        run_functional(g, q, (split,), x, hw.main_sram.total_words, hw.main_sram.word_bytes)


def test_both_kept_cuts_only_pointwise_stride_1_layers() -> None:
    from sramflow.mapping.lower import lower

    pw = lower(_pointwise(32, 32, 12), _pointwise(32, 32, 12).nodes[0])
    assert (2, 2) in _both_kept_cuts(pw) and all(b >= 2 and c >= 2 for b, c in _both_kept_cuts(pw))
    g3 = conv_graph(c=16, k=16, hw_px=12)
    assert _both_kept_cuts(lower(g3, g3.nodes[0])) == []  # 3x3: neighbouring bands share input rows
