"""Functional simulator: bit-exact with the integer reference, counts equal to the analytical model's,
and deliberately broken schedules caught (overlapping buffers, off-by-one address, dropped psum spill)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sramflow.funcsim.bulk_conv import execute_conv_bulk
from sramflow.funcsim.exec_conv import execute_conv
from sramflow.funcsim.run import conv_data, run_functional
from sramflow.funcsim.sram import FunctionalSimError, Sram
from sramflow.funcsim.state import Machine
from sramflow.ir.graph import Graph
from sramflow.mapping.search.choose import make_conv_schedule
from sramflow.mapping.search.tiling_table import hw_params
from sramflow.mapping.steps_table import steps_table
from sramflow.reference.run import run_int8
from sramflow.sim.api import simulate_graph
from helpers.mapping import make_hw
from helpers.graphs import tiny_graph, conv_graph, randomized, quantized


def test_tiny_graph_bit_exact_with_identical_counts() -> None:
    g = randomized(tiny_graph())
    hw = make_hw(double=True)
    res = simulate_graph(g, hw)
    q, x = quantized(g)
    r = run_functional(g, q, res.schedules, x, hw.main_sram.total_words, hw.main_sram.word_bytes)
    assert r.bit_exact and r.tensors_compared == len(q.ops) and r.mismatches == ()
    assert r.counts_match and r.counts_functional["macs"] == sum(n.counts.macs for n in res.nodes)
    assert r.clobbers == 0 and r.step_count_notes == ()
    ref = run_int8(q, x)[q.output].reshape(-1)
    assert np.array_equal(r.logits_int8, ref)


def _spilling_schedule(hw):  # noqa: ANN001, ANN202 - reduction tiled outside the pixel loop: psums spill
    from sramflow.mapping.lower import lower

    g = conv_graph()
    shape = lower(g, g.nodes[0])
    sch = make_conv_schedule(shape, hw_params(hw), {"g": 1, "k": 4, "c": 2, "h": 1, "w": 2}, ("g", "k", "c", "p"),
                             False)
    assert sch.spill_psums
    return g, sch


EXECUTORS = pytest.mark.parametrize("executor", ["step", "bulk"])


def _run_node(g: Graph, sch, steps=None, executor: str = "step"):  # noqa: ANN001, ANN202
    """``steps``: a variant of the schedule as a list of Steps (per-step path) or a StepTable (bulk path)."""
    q, x = quantized(g)
    op = dict(zip((n.name for n in g.nodes), q.ops_by_position(g)))["c"]
    m = Machine(Sram(128, 2))
    run = execute_conv if executor == "step" else execute_conv_bulk
    y = run(sch, conv_data(sch, op, q, x[0]), m, steps)
    want = run_int8(q, x)["y"][0]
    return m, np.array_equal(y, want)


@EXECUTORS
def test_spilling_schedule_is_bit_exact(executor: str) -> None:
    g, sch = _spilling_schedule(make_hw())
    m, exact = _run_node(g, sch, executor=executor)
    assert exact and m.sram.clobbers == 0 and m.step_mismatches == []
    c = sch.counts
    assert m.tally.macs == c.macs
    assert m.tally.sram_reads_compute + m.tally.sram_reads_dma == c.sram_reads
    assert m.tally.offchip_read_bytes + m.tally.offchip_write_bytes == c.offchip_bytes


@EXECUTORS
@pytest.mark.parametrize("order", [("g", "k", "c", "p"), ("g", "k", "p", "c"), ("g", "p", "c", "k")])
def test_row_groups_bit_exact_with_counts(executor: str, order: tuple[str, ...]) -> None:
    # 3x3 conv, 5x5 output, tiles of 5 rows x 2 pixels on 4 accumulators: groups of 1 channel x 2 rows (2, 2, 1);
    # the reduction is tiled (c = 2 of 6): psums spill, stay in the SRAM, or spill under k innermost
    from sramflow.mapping.lower import lower

    g = conv_graph()
    hw = make_hw(accumulators=4)
    sch = make_conv_schedule(lower(g, g.nodes[0]), hw_params(hw), {"g": 1, "k": 2, "c": 2, "h": 5, "w": 2}, order,
                             False, 1, 2)
    assert sch.spill_psums or sch.keep_psums
    m, exact = _run_node(g, sch, executor=executor)
    assert exact and m.sram.clobbers == 0 and m.step_mismatches == []
    c = sch.counts
    assert (m.tally.macs, m.tally.sram_reads_compute, m.tally.sram_writes_compute) == (
        c.macs, c.sram_reads_compute, c.sram_writes_compute)
    assert m.tally.offchip_read_bytes + m.tally.offchip_write_bytes == c.offchip_bytes


@EXECUTORS
def test_no_input_registers_bit_exact_with_counts(executor: str) -> None:
    # mac_array.input_register_bytes 0 (zigzag-tiny): every kernel offset reads its window row from the SRAM
    from sramflow.mapping.lower import lower

    g = conv_graph()
    counts = {}
    for regs in (0, 16):
        hw = make_hw(accumulators=4, input_registers=regs)
        sch = make_conv_schedule(lower(g, g.nodes[0]), hw_params(hw), {"g": 1, "k": 2, "c": 2, "h": 5, "w": 2},
                                 ("g", "k", "c", "p"), False, 1, 2)
        m, exact = _run_node(g, sch, executor=executor)
        assert exact and m.sram.clobbers == 0 and m.step_mismatches == []
        c = sch.counts
        assert (m.tally.macs, m.tally.sram_reads_compute) == (c.macs, c.sram_reads_compute)
        counts[regs] = c.sram_reads_compute
    assert counts[0] > counts[16]


def _with_buffer(sch, operand: str, base: int):  # noqa: ANN001, ANN202
    bufs = tuple(dataclasses.replace(b, base_word=base) if b.operand == operand else b for b in sch.buffers)
    return dataclasses.replace(sch, buffers=bufs)


@EXECUTORS
def test_overlapping_buffers_are_caught(executor: str) -> None:
    g, sch = _spilling_schedule(make_hw())
    weights = next(b for b in sch.buffers if b.operand == "weights")
    m, exact = _run_node(g, _with_buffer(sch, "inputs", weights.base_word), executor=executor)
    assert m.sram.clobbers > 0 and not exact


@EXECUTORS
def test_off_by_one_base_address_is_caught(executor: str) -> None:
    g, sch = _spilling_schedule(make_hw())
    weights = next(b for b in sch.buffers if b.operand == "weights")
    m, exact = _run_node(g, _with_buffer(sch, "weights", weights.base_word + 1), executor=executor)
    assert m.sram.clobbers > 0 and not exact


@EXECUTORS
def test_dropped_psum_spill_is_caught(executor: str) -> None:
    g, sch = _spilling_schedule(make_hw())
    steps = list(sch.steps())
    i = next(i for i, s in enumerate(steps) if s.kind == "store" and s.operand == "psums")
    keep = np.arange(len(steps)) != i
    variant = steps[:i] + steps[i + 1:] if executor == "step" else steps_table(sch).take(keep)
    with pytest.raises(FunctionalSimError, match="never stored"):
        _run_node(g, sch, variant, executor)


def test_broken_schedules_give_the_same_clobber_counts_in_both_executors() -> None:
    g, sch = _spilling_schedule(make_hw())
    weights = next(b for b in sch.buffers if b.operand == "weights")
    for broken in (_with_buffer(sch, "inputs", weights.base_word), _with_buffer(sch, "weights", weights.base_word + 1)):
        (m1, e1), (m2, e2) = (_run_node(g, broken, executor=ex) for ex in ("step", "bulk"))
        assert m1.sram.clobbers == m2.sram.clobbers > 0 and not e1 and not e2
        assert m1.tally.as_dict() == m2.tally.as_dict()


@EXECUTORS
def test_address_outside_the_macro_is_an_error(executor: str) -> None:
    g, sch = _spilling_schedule(make_hw())
    with pytest.raises(FunctionalSimError, match="outside the 128-word macro"):
        _run_node(g, _with_buffer(sch, "outputs", 127), executor=executor)


@pytest.mark.slow
def test_efficientnet_b0_small_resolution_bit_exact() -> None:
    """The bulk executor on every layer of B0: bit-exact, counts equal to the analytical model's. The per-step
    executor is checked against the bulk one schedule kind by schedule kind in test_funcsim_bulk.py, so the
    whole network runs through the fast executor only."""
    from sramflow.frontend.source import ModelSource, load_graph
    from sramflow.hw.load import resolve_hw

    g = load_graph(ModelSource(model="efficientnet_b0", resolution=16, num_classes=7)).graph
    hw = resolve_hw("sky130-design1")
    res = simulate_graph(g, hw)
    q, x = quantized(g)
    r = run_functional(g, q, res.schedules, x, hw.main_sram.total_words, hw.main_sram.word_bytes, executor="bulk")
    assert r.bit_exact and r.counts_match and r.clobbers == 0 and r.step_count_notes == ()
    assert r.tensors_compared == len(q.ops) and r.mismatches == ()
    assert np.array_equal(r.logits_int8, run_int8(q, x)[q.output].reshape(-1))


@EXECUTORS
def test_double_buffering_gives_a_one_tile_operand_one_slot(executor: str) -> None:
    # the whole 6-channel 5x5 input is one tile (loaded once, before the first step) and k runs in 2 tiles: weights
    # and outputs get a second slot to prefetch into, the input does not (``conv.buffer_words``)
    from sramflow.mapping.lower import lower

    g = conv_graph()
    hw = make_hw(words=512, double=True)
    sizes = {"g": 1, "k": 2, "c": 6, "h": 5, "w": 5}
    sch, single = (make_conv_schedule(lower(g, g.nodes[0]), hw_params(hw), sizes, ("g", "k", "c", "p"), double,
                                      1, 3) for double in (True, False))
    slots = {(b.operand, b.slot): b.size_words for b in sch.buffers}
    assert ("inputs", 1) not in slots and ("weights", 1) in slots and ("outputs", 1) in slots
    assert sch.buffers[-1].end_word == single.buffers[-1].end_word + slots["weights", 1] + slots["outputs", 1]
    q, x = quantized(g)
    op = dict(zip((n.name for n in g.nodes), q.ops_by_position(g)))["c"]
    m = Machine(Sram(512, 2))
    run = execute_conv if executor == "step" else execute_conv_bulk
    y = run(sch, conv_data(sch, op, q, x[0]), m, None)
    assert np.array_equal(y, run_int8(q, x)["y"][0])
    assert m.sram.clobbers == 0 and m.step_mismatches == []
    c = sch.counts
    assert (m.tally.macs, m.tally.sram_reads_compute, m.tally.sram_writes_dma) == (
        c.macs, c.sram_reads_compute, c.sram_writes_dma)
    assert m.tally.offchip_read_bytes + m.tally.offchip_write_bytes == c.offchip_bytes
