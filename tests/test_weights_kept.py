"""A layer cut into parts that keep an operand in the outer level from part to part
(``mapping.depth_first_split``): channel chunks x row bands whose chunks keep their weights across their bands
(``KEPT_AXIS``: each chunk's first band stages its weights from off-chip memory, the other bands read them where it
left them, so every weight crosses the link once), or row bands x chunks whose bands keep their input across their
chunks (``INPUTS_KEPT_AXIS``)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sramflow.funcsim.run import run_functional
from sramflow.funcsim.sram import FunctionalSimError
from sramflow.hw.load import resolve_hw
from sramflow.ir.graph import Graph, Node
from sramflow.mapping.depth_first import ResidentConvSchedule
from sramflow.mapping.depth_first_split import INPUTS_KEPT_AXIS, KEPT_AXIS, SplitSchedule, _weights_kept
from sramflow.sim.api import simulate_graph
from helpers.graphs import conv_graph, quantized
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
