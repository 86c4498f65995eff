"""Softmax is a row op: a whole row (the softmax axis) is resident while the vector unit loops over it three
times (max; subtract + exp look-up + accumulate; subtract + exp look-up + multiply + shift + clamp) with one
reciprocal per row. Hand-checked counts, steps == steps_table == closed form, a row that cannot fit is a typed
error with the minimum working set, strided rows are refused naming the node."""

from __future__ import annotations

import numpy as np
import pytest

from sramflow.errors import MappingError, UnsupportedOpError
from sramflow.ir.graph import Graph, Node
from sramflow.mapping.lower import lower_graph
from sramflow.mapping.search.choose import search_vector
from sramflow.mapping.vector import VectorShape
from helpers.mapping import make_hw, assert_table_is_steps


def softmax_graph(shape: tuple[int, ...], axis: int = 1) -> Graph:
    return Graph("sm", "x", "y", {"x": shape, "y": shape}, (Node("sm", "Softmax", ("x",), "y", {"axis": axis}),))


def test_softmax_rows_by_hand() -> None:
    (sh,) = lower_graph(softmax_graph((3, 10)))
    assert isinstance(sh, VectorShape) and (sh.segments, sh.seg_len, sh.whole_segment, sh.passes) == (3, 10, True, 3)
    sch = search_vector(sh, make_hw(words=128), "latency")
    c = sch.counts
    assert sch.chunk == 10 and not sch.double_buffered
    assert (c.vector_ops, c.lut_ops) == (3 * (7 * 10 + 1), 3 * 2 * 10)  # 7 ops + 2 look-ups per element, 1 per row
    assert (c.sram_writes_dma, c.sram_reads_compute) == (3 * 5, 3 * 3 * 5)  # 5 words a row, read 3 times
    assert (c.sram_writes_compute, c.sram_reads_dma) == (15, 15)
    assert (c.offchip_input_bytes, c.offchip_output_bytes, c.dma_transfers, c.steps) == (30, 30, 6, 3)
    assert c.vector_cycles == 3 * (9 * 10 + 1)  # one lane


@pytest.mark.parametrize("double", [False, True])
def test_softmax_steps_table_and_closed_form_agree(double: bool) -> None:
    (sh,) = lower_graph(softmax_graph((4, 7, 1, 1)))
    sch = search_vector(sh, make_hw(words=512, double=double), "latency")
    assert sch.chunk == 7 and sch.double_buffered == double
    assert_table_is_steps(sch)


def test_row_that_cannot_fit_names_node_and_working_set() -> None:
    (sh,) = lower_graph(softmax_graph((1, 300)))
    with pytest.raises(MappingError, match=r"'sm'.*row of 300 elements.*minimum working set is 600 bytes"):
        search_vector(sh, make_hw(words=128), "latency")  # 256-byte SRAM; input and output rows, 150 words each


def test_strided_rows_are_refused_naming_the_node() -> None:
    with pytest.raises(UnsupportedOpError, match=r"'sm'.*strided"):
        lower_graph(softmax_graph((1, 4, 3, 3)))


def test_softmax_is_costed_on_the_vector_unit() -> None:
    from sramflow.sim.api import simulate_graph

    r = simulate_graph(softmax_graph((2, 8)), make_hw()).nodes[0]
    assert r.unit == "vector" and r.cycles > 0 and r.counts.lut_ops == 2 * 2 * 8 and np.isfinite(r.energy_uj)
