"""The functional simulator joins the mapper's schedules (float IR) and the quantized graph once, up front:
a mismatch is a named error before anything runs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sramflow.errors import UnsupportedOpError
from sramflow.frontend.source import ModelSource, load_graph
from sramflow.funcsim.run import bind
from sramflow.hw.load import resolve_hw
from sramflow.quant.api import quantize_graph
from sramflow.sim.api import simulate_graph


@pytest.fixture(scope="module")
def lite0():  # noqa: ANN201
    g = load_graph(ModelSource(model="efficientnet_lite0", num_classes=3, resolution=32)).graph
    x = np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32)
    return g, quantize_graph(g, x), simulate_graph(g, resolve_hw("sky130-design1")).schedules


def test_every_node_gets_its_schedule_and_op(lite0) -> None:  # noqa: ANN001
    g, q, schedules = lite0
    bound = bind(g, q, schedules)
    assert [b.node.name for b in bound] == [n.name for n in g.nodes]
    assert all(b.schedule.shape.name == b.node.name for b in bound)
    assert {b.op.name for b in bound if b.runs} == {op.name for op in q.ops}


def test_mismatches_are_named_errors(lite0) -> None:  # noqa: ANN001
    g, q, schedules = lite0
    with pytest.raises(UnsupportedOpError, match="schedules for the"):
        bind(g, q, schedules[:-1])
    with pytest.raises(UnsupportedOpError, match="has the schedule of"):
        bind(g, q, (schedules[1], schedules[0], *schedules[2:]))
    last = g.nodes[-1].name
    with pytest.raises(UnsupportedOpError, match=f"node '{last}'.*no quantized op"):
        bind(g, dataclasses.replace(q, ops=q.ops[:-1]), schedules)
