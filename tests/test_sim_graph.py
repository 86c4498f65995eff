"""Whole-graph simulation on a tiny hand-built graph: every node costed, totals add up, files written."""

from __future__ import annotations

import json


from sramflow.ir.graph import Graph, Node
from sramflow.sim.api import simulate_graph
from sramflow.sim.writers import write_outputs
from helpers.mapping import make_hw
from helpers.graphs import tiny_graph


def test_every_node_costed_and_files_written(tmp_path) -> None:  # noqa: ANN001
    hw = make_hw(double=True)
    res = simulate_graph(tiny_graph(), hw, "latency")
    assert [r.name for r in res.nodes] == [n.name for n in tiny_graph().nodes]  # every node, in graph order
    assert all(r.cycles > 0 and r.energy_uj > 0 for r in res.nodes)
    assert [r.unit for r in res.nodes].count("mac") == 2
    conv = res.nodes[0]
    assert conv.counts.macs == 4 * 3 * 9 * 36 and conv.cycles >= conv.bounds.cycles
    write_outputs(res, tmp_path)
    rep = json.loads((tmp_path / "inference_simulator_report.json").read_text())
    assert [n["name"] for n in rep["nodes"]] == [n.name for n in tiny_graph().nodes]
    assert rep["total"]["cycles"] == sum(n["cycles"] for n in rep["nodes"])
    assert abs(rep["total"]["energy_uj"] - sum(rep["total"]["energy_uj_by_component"].values())) < 1e-9
    assert rep["total"]["conv_gemm_cycles"] == sum(n["cycles"] for n in rep["nodes"] if n["unit"] == "mac")
    summary = json.loads((tmp_path / "weight_mapping_summary.json").read_text())
    assert summary["layers_fitting_whole"] + summary["layers_tiled"] == 8
    lm = json.loads((tmp_path / "layer_mapping.json").read_text())
    for layer in lm["layers"]:
        assert layer["words_used"] <= 128


def test_objective_changes_nothing_it_should_not() -> None:
    hw = make_hw()
    a = simulate_graph(tiny_graph(), hw, "latency")
    b = simulate_graph(tiny_graph(), hw, "energy")
    assert sum(r.cycles for r in a.nodes) <= sum(r.cycles for r in b.nodes)
    assert sum(r.energy_uj for r in b.nodes) <= sum(r.energy_uj for r in a.nodes) + 1e-9


def test_pooling_nodes_are_costed_on_the_vector_unit() -> None:
    pool = {"kernel": (2, 2), "strides": (2, 2), "pads": (0, 0, 0, 0)}
    nodes = (Node("mp", "MaxPool", ("x",), "y", pool), Node("ap", "AveragePool", ("y",), "z", pool))
    g = Graph("pools", "x", "z", {"x": (1, 2, 4, 4), "y": (1, 2, 2, 2), "z": (1, 2, 1, 1)}, nodes)
    res = simulate_graph(g, make_hw(), "latency")
    mp, ap = res.nodes
    assert (mp.unit, ap.unit) == ("vector", "vector")
    assert mp.counts.vector_ops == 2 * 4 * 4 and ap.counts.vector_ops == 2 * 1 * (4 + 1)
    assert mp.counts.offchip_input_bytes == 32 and mp.counts.offchip_output_bytes == 8
    assert all(r.cycles > 0 and r.energy_uj > 0 for r in res.nodes)
