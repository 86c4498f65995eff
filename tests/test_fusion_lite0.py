"""Issue 17 item 4 on EfficientNet-Lite0 (no SE, ReLU6 epilogues, residual Adds): its fused and depth-first
schedules executed on real bytes equal the integer reference tensor by tensor, with the analytical counts and no
clobbers, on design1 (epilogue fusion: one level) and design1-l2 (depth-first: parts, band groups and kept tensors in
the outer level). Random weights and input; 96 px keeps the mapping to seconds while every block keeps several
output rows, so row bands and channel chunks both have room to show."""

from __future__ import annotations

import pytest

from sramflow.frontend.source import ModelSource, load_graph
from sramflow.funcsim.run import run_functional
from sramflow.hw.load import resolve_hw
from sramflow.mapping.depth_first_split import SplitSchedule
from sramflow.mapping.fused import FusedSchedule
from sramflow.sim.api import prepare_graph, simulate_prepared
from helpers.graphs import quantized


@pytest.fixture(scope="module")
def lite0():  # noqa: ANN201 - the graph and its quantization
    g = load_graph(ModelSource(model="efficientnet_lite0", num_classes=7, resolution=96)).graph
    return g, quantized(g)


@pytest.mark.parametrize("hw_name,fusion", [("sky130-design1", "epilogue"), ("sky130-design1-l2", "depth-first")])
def test_lite0_fused_schedules_run_bit_exact(lite0, hw_name: str, fusion: str) -> None:  # noqa: ANN001
    g, (q, x) = lite0
    hw = resolve_hw(hw_name)
    res = simulate_prepared(prepare_graph(g, fusion), hw, "latency")
    fused = [n.name for n, s in zip(res.nodes, res.schedules) if isinstance(s, FusedSchedule)]
    ops = {g.node(n).op for n in fused}
    assert {"Clip", "Add"} <= ops  # ReLU6 in its conv's requantize stage, residual Adds on a projection's output path
    # every ReLU6 rides on its conv; an Add may keep a pass of its own where its conv's fastest tiling holds partial
    # sums in the output buffer (the per-group fallback)
    assert not any(n.op == "Clip" for n, s in zip(res.nodes, res.schedules) if not isinstance(s, FusedSchedule))
    if fusion == "depth-first":
        assert any(isinstance(s, SplitSchedule) for s in res.schedules)  # cut into parts staged in l2
        assert any(x.kept for x in res.groups)  # a tensor kept in l2 (whole, or band by band)
    m = res.hw.main_sram
    r = run_functional(g, q, res.schedules, x, m.total_words, m.word_bytes)
    assert r.bit_exact and r.mismatches == () and r.clobbers == 0 and r.counts_match
    assert r.tensors_compared > 0
