"""The functional simulator joins the mapper's schedules and the quantized graph structurally, once, up front: the
quantized graph records the IR graph it was quantized from, each schedule must be the lowering of the node at its
position, and a mismatch is a named error (naming the command to rerun) before anything runs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sramflow.errors import GraphMismatchError, UnsupportedOpError
from sramflow.frontend.source import ModelSource, load_graph
from sramflow.funcsim.run import bind
from sramflow.ir.qgraph import graph_fingerprint, load_qgraph, save_qgraph
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
    with pytest.raises(GraphMismatchError, match="schedules for the.*rerun 'sramflow simulate'"):
        bind(g, q, schedules[:-1])
    with pytest.raises(GraphMismatchError, match=f"node '{g.nodes[0].name}'.*rerun 'sramflow simulate'"):
        bind(g, q, (schedules[1], schedules[0], *schedules[2:]))
    last = g.nodes[-1].name
    with pytest.raises(UnsupportedOpError, match=f"node '{last}'.*no quantized op"):
        bind(g, dataclasses.replace(q, ops=q.ops[:-1]), schedules)


def test_the_join_is_structural_not_by_name(lite0, tmp_path) -> None:  # noqa: ANN001
    g, q, schedules = lite0
    assert q.source_graph == graph_fingerprint(g)
    assert [op for op in q.ops_by_position(g) if op is not None][0] is q.ops[0]
    # same node names, other shapes: a model built at another resolution
    g64 = load_graph(ModelSource(model="efficientnet_lite0", num_classes=3, resolution=64)).graph
    assert [n.name for n in g64.nodes] == [n.name for n in g.nodes] and graph_fingerprint(g64) != q.source_graph
    with pytest.raises(GraphMismatchError, match="was not quantized from graph.*rerun 'sramflow quantize'"):
        bind(g64, q, simulate_graph(g64, resolve_hw("sky130-design1")).schedules)
    q64 = dataclasses.replace(q, source_graph=graph_fingerprint(g64))
    with pytest.raises(GraphMismatchError, match="another shape.*rerun 'sramflow simulate'"):
        bind(g64, q64, schedules)
    with pytest.raises(GraphMismatchError, match="no recorded source graph"):
        bind(g, dataclasses.replace(q, source_graph=""), schedules)
    save_qgraph(q, tmp_path)
    assert load_qgraph(tmp_path).source_graph == q.source_graph
