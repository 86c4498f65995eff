"""steps_table == steps() row by row, and its column sums == the closed-form counts, over many schedules:
every loop order, single / double buffering, kept / spilled partial sums, accumulator groups, input-row
registers, clipped edges, bursts, pooling and vector schedules."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from sramflow.mapping.conv import LOOPS, ConvShape
from sramflow.mapping.search.choose import make_conv_schedule
from sramflow.mapping.search.tiling_table import hw_params
from sramflow.mapping.schedule import allocate
from sramflow.mapping.steps_table import COMPUTE, OPERANDS, steps_table
from sramflow.mapping.vector import VectorSchedule, VectorShape
from helpers.mapping import ONES, make_hw, with_bursts, CONV_CASES, assert_table_is_steps

def _schedules():  # noqa: ANN202
    for (shape, sizes, gk, gh), order, double, burst in itertools.product(CONV_CASES, itertools.permutations(LOOPS),
                                                                       (False, True), (0, 3)):
        hw = with_bursts(make_hw(accumulators=8, words=2048, double=True), burst)
        hwp = hw_params(hw, shape)
        for rows in (hwp.input_row_bytes, 0):
            yield make_conv_schedule(shape, dataclasses.replace(hwp, input_row_bytes=rows), ONES | sizes, order,
                                     double, gk, gh), burst


@pytest.mark.slow
def test_conv_tables_equal_steps_for_every_order_buffering_psum_mode() -> None:
    modes = set()
    for sch, burst in _schedules():
        assert_table_is_steps(sch, burst)
        modes.add((sch.spill_psums, sch.keep_psums, sch.tiling.double_buffered))
    assert {(True, False), (False, True), (False, False)} <= {m[:2] for m in modes}


def test_compute_reads_name_the_last_load_of_each_operand() -> None:
    for shape, sizes, gk, gh in (CONV_CASES[0], CONV_CASES[8]):
        _assert_reads_follow_loads(make_conv_schedule(
            shape, hw_params(make_hw(accumulators=8, words=2048, double=True), shape), ONES | sizes,
            ("g", "p", "k", "c"), True, gk, gh))


def _assert_reads_follow_loads(sch) -> None:  # noqa: ANN001
    t = steps_table(sch)
    steps = list(sch.steps())
    last_load: dict[str, int] = {}
    reads = {}
    for i, op, base, words in zip(t.reads.step, t.reads.operand, t.reads.base_word, t.reads.words):
        reads.setdefault(int(i), {})[OPERANDS[op]] = (int(base), int(words))
    for i, st in enumerate(steps):
        if st.kind == "load":
            last_load[st.operand] = st.base_word
        if st.kind == "compute":
            assert t.kind[i] == COMPUTE
            assert reads[i]["weights"][0] == last_load["weights"] and reads[i]["inputs"][0] == last_load["inputs"]
            if "psums" in reads[i]:
                assert reads[i]["psums"][0] == st.base_word and st.psum_access in ("rmw", "read")


@pytest.mark.parametrize("pool", ["max", "avg"])
def test_pooling_tables_equal_steps(pool: str) -> None:
    sh = ConvShape("p", 3, 1, 1, 7, 7, 4, 4, 3, 3, 2, 2, 1, 1, has_bias=False, pool_op=pool)
    hw = make_hw(words=512, double=True)
    for order, double in itertools.product((("g", "k", "c", "p"), ("p", "c", "k", "g")), (False, True)):
        assert_table_is_steps(make_conv_schedule(sh, hw_params(hw, sh), ONES, order, double))


@pytest.mark.parametrize("double", [False, True])
@pytest.mark.parametrize("kind", ["scale", "add", "reduce"])
def test_vector_tables_equal_steps(kind: str, double: bool) -> None:
    sh = {"scale": VectorShape("se", "Mul", 3, 7, 1, 0, True, False, 2, 0),
          "add": VectorShape("add", "Add", 2, 9, 2, 1, False, False, 2, 0),
          "reduce": VectorShape("gap", "GlobalAveragePool", 4, 11, 1, 0, False, True, 1, 0)}[kind]
    chunk = 3
    sizes = {"inputs": sh.full_inputs * 2, "outputs": 1 if sh.reduce else 2}
    bufs = allocate(({"scale": 1} if sh.scale else {}) | sizes, ("inputs", "outputs") if double else ())
    sch = VectorSchedule(sh, 2, 1, chunk, double, bufs, 3)
    assert_table_is_steps(sch, 3)
