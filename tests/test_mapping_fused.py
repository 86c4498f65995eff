"""Relu / Relu6 (Clip 0..6) right after a Conv / Gemm is fused into it, as the quantizer fuses it: the mapper
reports the node as fused (zero cycles, traffic and energy, a note naming the conv), the functional simulator
skips it, and its counts still equal the analytical ones."""

from __future__ import annotations

import dataclasses

import numpy as np

from sramflow.cost.counts import Counts
from sramflow.funcsim.run import run_functional
from sramflow.ir.fusion import fused_into
from sramflow.ir.graph import Graph, Node
from sramflow.quant.api import quantize_graph
from sramflow.reference.run import quantize_input
from sramflow.sim.api import simulate_graph
from sramflow.sim.results import node_json
from helpers.mapping import make_hw


def relu_graph() -> Graph:
    rng = np.random.default_rng(3)
    conv = {"kernel": (3, 3), "strides": (1, 1), "dilations": (1, 1), "pads": (1, 1, 1, 1), "groups": 1}
    pw = dict(conv, kernel=(1, 1), pads=(0, 0, 0, 0))
    nodes = (
        Node("c1", "Conv", ("x",), "y1", conv, {"W": rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
                                                "B": rng.standard_normal(4).astype(np.float32)}),
        Node("r1", "Relu", ("y1",), "a1"),
        Node("c2", "Conv", ("a1",), "y2", pw, {"W": rng.standard_normal((4, 4, 1, 1)).astype(np.float32),
                                               "B": rng.standard_normal(4).astype(np.float32)}),
        Node("r2", "Clip", ("y2",), "a2", {"min": 0.0, "max": 6.0}),
        Node("add", "Add", ("a2", "a1"), "s"),
        Node("r3", "Relu", ("s",), "out"),  # after an Add: not fusable, a vector pass of its own
    )
    shapes = {"x": (1, 3, 5, 5), **{t: (1, 4, 5, 5) for t in ("y1", "a1", "y2", "a2", "s", "out")}}
    return Graph("relu", "x", "out", shapes, nodes)


def test_fused_activations_are_reported_not_dropped() -> None:
    g = relu_graph()
    assert fused_into(g) == {"r1": "c1", "r2": "c2"}
    res = simulate_graph(g, make_hw(double=True))
    by = {r.name: r for r in res.nodes}
    assert [r.name for r in res.nodes] == [n.name for n in g.nodes]
    for name, conv in (("r1", "c1"), ("r2", "c2")):
        r = by[name]
        assert (r.unit, r.binding_resource, r.cycles, r.counts) == ("fused", "fused", 0, Counts())
        assert r.energy_uj == 0.0 and repr(conv) in r.note and node_json(r)["note"] == r.note
    assert by["r3"].unit == "vector" and by["r3"].cycles > 0


def test_functional_simulator_skips_fused_nodes_with_equal_counts() -> None:
    g = relu_graph()
    hw = make_hw(double=True)
    res = simulate_graph(g, hw)
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 5)).astype(np.float32)
    q = quantize_graph(g, x)
    assert [tuple(op.ir_nodes) for op in q.ops][:2] == [("c1", "r1"), ("c2", "r2")]  # the quantizer fused them
    r = run_functional(g, q, res.schedules, quantize_input(q, x[0]), hw.main_sram.total_words,
                       hw.main_sram.word_bytes)
    assert r.bit_exact and r.counts_match and r.clobbers == 0


def test_unfused_relu_still_costs_a_pass() -> None:
    g = relu_graph()
    two_users = dataclasses.replace(g, nodes=g.nodes[:2] + (dataclasses.replace(g.nodes[2], inputs=("y1",)),)
                                    + g.nodes[3:])
    # c1's output now feeds r1 and c2: the quantizer cannot fuse r1, so neither does the mapper
    assert "r1" not in fused_into(two_users)
    assert {r.name: r.unit for r in simulate_graph(two_users, make_hw()).nodes}["r1"] == "vector"
