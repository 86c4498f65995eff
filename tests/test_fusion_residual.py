"""Residual Add fused into the producing conv's output path (issue 17 item 1): which Add joins which Conv's group
(``ir.fusion.residual_adds``). The mapper and the functional simulator do not use it yet."""

from __future__ import annotations

import dataclasses

from sramflow.ir.fusion import residual_adds
from sramflow.ir.graph import Graph, Node
from helpers.graphs import se_block_graph


def _with_nodes(g: Graph, replace: dict[str, Node], after: str = "", extra: tuple[Node, ...] = (),
                shapes: dict | None = None) -> Graph:
    nodes: list[Node] = []
    for n in g.nodes:
        nodes.append(replace.get(n.name, n))
        if n.name == after:
            nodes.extend(extra)
    return dataclasses.replace(g, nodes=tuple(nodes), shapes={**g.shapes, **(shapes or {})})


def test_the_block_s_add_joins_its_project_conv() -> None:
    assert residual_adds(se_block_graph()) == {"add": "prj"}


def test_a_conv_output_read_elsewhere_is_not_fused() -> None:
    g = se_block_graph()
    both = _with_nodes(g, {"gp2": Node("gp2", "GlobalAveragePool", ("y2",), "q")}, after="add",
                       extra=(Node("add2", "Add", ("y", "pj"), "y2"),), shapes={"y2": g.shapes["y"]})
    assert residual_adds(both) == {}


def test_the_skip_must_exist_before_the_conv_runs() -> None:
    g = se_block_graph()
    prj = g.node("prj")
    late = Node("prj_b", "Conv", ("scaled",), "pj_b", prj.attrs, prj.weights)
    two = _with_nodes(g, {"add": Node("add", "Add", ("pj", "pj_b"), "y")}, after="prj", extra=(late,),
                      shapes={"pj_b": g.shapes["pj"]})
    # both operands are single-use conv outputs; only prj_b runs after the other operand exists
    assert residual_adds(two) == {"add": "prj_b"}


def test_b0_every_skip_add_joins_its_linear_project_conv(b0_graph_224) -> None:  # noqa: ANN001
    g = b0_graph_224
    adds = [n.name for n in g.nodes if n.op == "Add"]
    fused = residual_adds(g)
    assert sorted(fused) == sorted(adds) and len(adds) == 9  # 16 MBConv blocks, 7 stages: 9 keep their input shape
    producer = {n.output: n for n in g.nodes}
    for add, conv in fused.items():
        c = g.node(conv)
        assert c.attrs["kernel"] == (1, 1) and c.attrs["groups"] == 1
        assert producer[c.inputs[0]].op == "Mul"  # the SE-scaled input: the block's project conv
