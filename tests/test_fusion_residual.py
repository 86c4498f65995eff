"""Residual Add fused into the producing conv's output path (issue 17 item 1): which Add joins which Conv's group
(``ir.fusion.residual_adds``), the convolution schedule's skip tile operand (``ConvShape.residual``: loads, words,
counts, footprint) and both conv executors running it (bit-exact, counts equal, no clobbers), on single layers and
on B0."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sramflow.errors import MappingError
from sramflow.funcsim.bulk_conv import execute_conv_bulk
from sramflow.funcsim.exec_conv import ConvData, execute_conv
from sramflow.funcsim.sram import Sram
from sramflow.funcsim.state import Machine
from sramflow.ir.fusion import residual_adds
from sramflow.ir.graph import Graph, Node
from helpers.graphs import se_block_graph
from sramflow.mapping.search.choose import make_conv_schedule
from sramflow.mapping.search.tiling_table import hw_params
from sramflow.mapping.steps_table import LOAD, OP
from helpers.mapping import CONV_CASES, ONES, assert_steps_match, make_hw, with_bursts


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


def _conv_data(sh, seed: int = 0) -> ConvData:  # noqa: ANN001
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (sh.groups * sh.c_per_group, sh.in_h, sh.in_w)).astype(np.int8)
    w = rng.integers(-128, 128, (sh.groups, sh.k_per_group, sh.c_per_group, sh.kernel_h, sh.kernel_w)).astype(np.int8)
    b = rng.integers(-5000, 5000, (sh.groups, sh.k_per_group)) if sh.has_bias else None
    return ConvData(x, 3, w, b,
                    lambda acc, ch: np.clip((acc >> 7) + ch[..., None, None] % 5, -128, 127).astype(np.int8))


def _residual(sch):  # noqa: ANN001, ANN202 - the schedule with a residual Add on its output path
    return dataclasses.replace(sch, shape=dataclasses.replace(sch.shape, residual=True))


@pytest.mark.parametrize("double", [False, True])
@pytest.mark.parametrize("burst", [0, 3])
def test_skip_loads_mirror_the_output_stores_and_sum_to_the_counts(double: bool, burst: int) -> None:
    hw = with_bursts(make_hw(accumulators=8, words=4096, double=double), burst) if burst else \
        make_hw(accumulators=8, words=4096, double=double)
    tried = 0
    for shape, sizes, gk, gh in CONV_CASES:
        for order in (("g", "k", "p", "c"), ("g", "c", "k", "p")):
            plain = make_conv_schedule(shape, hw_params(hw, shape), ONES | sizes, order, double, gk, gh)
            if plain.spill_psums or plain.keep_psums:
                with pytest.raises(MappingError, match="residual Add"):
                    _residual(plain)
                continue
            tried += 1
            sch = _residual(plain)
            assert_steps_match(sch, burst)
            c, p = sch.counts, plain.counts
            # one skip load per output tile, the mirror of its store, read once by the vector unit
            assert c.offchip_input_bytes - p.offchip_input_bytes == p.offchip_output_bytes == shape.output_bytes
            skip_words = p.sram_reads_dma  # the stores' words
            assert c.sram_writes_dma - p.sram_writes_dma == skip_words == c.sram_reads_compute - p.sram_reads_compute
            assert c.dma_loads - p.dma_loads == p.dma_transfers - p.dma_loads
            assert (c.macs, c.sram_writes_compute, c.offchip_output_bytes) == (p.macs, p.sram_writes_compute,
                                                                               p.offchip_output_bytes)
            # the skip tile lands in the output buffer (the footprint is the plain schedule's)
            assert sch.buffers == plain.buffers
            t = sch.step_table()
            rows = (t.kind == LOAD) & (t.operand == OP["skip"])
            outs = [(b.base_word, b.base_word + b.size_words) for b in sch.buffers if b.operand == "outputs"]
            assert all(any(a <= lo and lo + n <= b for a, b in outs)
                       for lo, n in zip(t.base_word[rows].tolist(), t.words[rows].tolist()))
    assert tried >= 8


def _add(q: np.ndarray, s: np.ndarray) -> np.ndarray:  # a stand-in element-wise int8 sum (any one will do here)
    return np.clip(q.astype(np.int64) + s, -128, 127).astype(np.int8)


@pytest.mark.parametrize("executor", ["step", "bulk"])
def test_executors_add_the_skip_tiles_they_load(executor: str) -> None:
    run = {"step": execute_conv, "bulk": execute_conv_bulk}[executor]
    hw = make_hw(accumulators=8, words=4096, double=True)
    tried = 0
    for case, (shape, sizes, gk, gh) in enumerate(CONV_CASES):
        if shape.pool_op:
            continue
        plain = make_conv_schedule(shape, hw_params(hw, shape), ONES | sizes, ("g", "k", "p", "c"), True, gk, gh)
        if plain.spill_psums or plain.keep_psums:
            continue
        tried += 1
        rng = np.random.default_rng(case)
        data = _conv_data(shape, case)
        skip = rng.integers(-128, 128, (shape.groups * shape.k_per_group, shape.out_h, shape.out_w)).astype(np.int8)
        want = _add(execute_conv(plain, data, Machine(Sram(4096, 2))), skip)
        sch = _residual(plain)
        m = Machine(Sram(4096, 2))
        y = run(sch, dataclasses.replace(data, skip=skip, residual=_add), m)
        assert np.array_equal(y, want), shape.name
        c, t = sch.counts, m.tally
        assert (t.sram_reads_compute, t.sram_writes_compute, t.sram_writes_dma, t.sram_reads_dma) == \
            (c.sram_reads_compute, c.sram_writes_compute, c.sram_writes_dma, c.sram_reads_dma), shape.name
        assert (t.offchip_read_bytes, t.offchip_write_bytes) == (c.offchip_read_bytes, c.offchip_write_bytes)
        assert m.sram.clobbers == 0 and not m.step_mismatches, (shape.name, m.step_mismatches)
    assert tried >= 5


def test_a_skip_tile_where_the_outputs_are_not_is_caught() -> None:
    hw = make_hw(accumulators=8, words=4096)
    order = ("g", "k", "p", "c")
    plain = next(s for s in (make_conv_schedule(sh, hw_params(hw, sh), ONES | sizes, order, False, gk, gh)
                             for sh, sizes, gk, gh in CONV_CASES) if not (s.spill_psums or s.keep_psums))
    sch, shape = _residual(plain), plain.shape
    t = sch.step_table()
    rows = np.flatnonzero((t.kind == LOAD) & (t.operand == OP["skip"]))
    moved = dataclasses.replace(t, base_word=t.base_word.copy())
    moved.base_word[rows[1]] += 1  # the second skip tile lands one word off
    data = dataclasses.replace(_conv_data(shape), skip=np.zeros((shape.k_per_group, shape.out_h, shape.out_w),
                                                                np.int8), residual=_add)
    for run, steps in ((execute_conv, [moved.step(i) for i in range(len(moved))]), (execute_conv_bulk, moved)):
        m = Machine(Sram(4096, 2))
        run(sch, data, m, steps)
        assert m.sram.clobbers > 0, run.__name__  # the sum read words the skip load did not write


@pytest.fixture(scope="module")
def b0_16_residual():  # noqa: ANN201
    """B0 at 16 px (its residual Adds at 4x4 down to 1x1; the skip tiles' spatial tiling is checked layer by layer
    above), its epilogue-fused schedules on sky130-design1, its quantization on two random images (seed 0)
    and the first of them quantized: both executors below run the same."""
    from sramflow.frontend.source import ModelSource, load_graph
    from sramflow.hw.load import resolve_hw
    from sramflow.quant.api import quantize_graph
    from sramflow.reference.run import quantize_input
    from sramflow.sim.api import simulate_graph

    g = load_graph(ModelSource(model="efficientnet_b0", num_classes=7, resolution=16)).graph
    hw = resolve_hw("sky130-design1")
    res = simulate_graph(g, hw, fusion="epilogue")
    x = np.random.default_rng(0).standard_normal((2, *g.shape(g.input)[1:])).astype(np.float32)
    q = quantize_graph(g, x)
    return g, hw, res, q, quantize_input(q, x[0])


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["step", "bulk"])
def test_b0_residual_groups_bit_exact_on_both_executors(executor: str, b0_16_residual) -> None:  # noqa: ANN001
    """B0 at 16 px (the per-step executor needs ~12 s there; B0@224 runs the bulk one in test_fusion_epilogue): every
    fused residual Add adds the skip tiles it loads, bit-exact with LiteRT's kernels, counts equal, no clobbers."""
    from sramflow.funcsim.run import run_functional
    from sramflow.mapping.epilogue import EpilogueSchedule
    from sramflow.reference.run import run_int8

    g, hw, res, q, xq = b0_16_residual
    assert len([s for s in res.schedules if isinstance(s, EpilogueSchedule) and s.residual]) == 7
    r = run_functional(g, q, res.schedules, xq, hw.main_sram.total_words, hw.main_sram.word_bytes, executor=executor)
    assert r.bit_exact and r.mismatches == () and r.counts_match and r.clobbers == 0 and r.step_count_notes == ()
    assert np.array_equal(r.logits_int8, run_int8(q, xq)[q.output].reshape(-1))


def _l2_blocks():  # noqa: ANN202 - an SE block whose projection + Add runs in parts on a 2 KiB level
    from helpers.mapping import small_l2

    return se_block_graph(24, 4, 8), small_l2(1)


def test_a_residual_conv_stages_weights_and_inputs_never_outputs() -> None:
    """With an outer level the skip tile still comes into the output buffer from off-chip, so the conv may hold its
    weights and inputs in the level but not its outputs; staged inputs leave the skip loads off-chip: the inputs
    cross the link once, whole, plus one skip tile per output tile, and the level-pair traffic says so."""
    from sramflow.mapping.conv import ConvShape
    from sramflow.mapping.search.choose import hierarchy
    from sramflow.sim.api import level_traffic
    from helpers.mapping import small_l2

    hw = small_l2(1)
    h = hierarchy(hw)
    sh = ConvShape("prj", 1, 8, 8, 12, 12, 12, 12, 1, 1, 1, 1, 0, 0, has_bias=True, residual=True)
    hwp = hw_params(hw, sh)
    base = make_conv_schedule(sh, hwp, ONES | {"k": 4, "c": 8, "w": 4}, ("g", "k", "p", "c"), False)
    with pytest.raises(MappingError, match="only weights and inputs staged"):
        dataclasses.replace(base, staged=("outputs",), staged_levels=(1,), levels=h)
    staged = dataclasses.replace(base, staged=("inputs",), staged_levels=(1,), levels=h)
    skip = base.counts.offchip_output_bytes
    assert base.counts.offchip_input_bytes > sh.input_bytes + skip  # the input re-read per output-channel tile
    assert staged.counts.offchip_input_bytes == sh.input_bytes + skip
    assert staged.counts.offchip_output_bytes == skip == sh.output_bytes
    t = level_traffic(staged, hw)
    names = [m.name for m in hw.sram]
    assert t[f"{hw.offchip.name}<->{names[0]}"]["inputs"] == skip
    assert t[f"{hw.offchip.name}<->{names[1]}"]["inputs"] == sh.input_bytes
    assert sum(v for pair, d in t.items() if pair.startswith(hw.offchip.name) for v in d.values()) == \
        staged.counts.offchip_bytes


@pytest.mark.parametrize("objective", ["latency", "energy"])
def test_residual_adds_join_staged_and_cut_convs_on_an_outer_level(objective: str) -> None:
    """On hardware with an outer level a residual Add joins its projection even where that conv stages operands or
    runs in parts (``sim.api.decide_residuals``, ``choose.search_residual``): each part adds its rows' skip tiles;
    bit-exact, counts equal, no clobbers."""
    from sramflow.funcsim.run import run_functional
    from sramflow.mapping.depth_first_split import SplitSchedule
    from sramflow.mapping.fused import FusedSchedule
    from sramflow.sim.api import simulate_graph
    from helpers.graphs import quantized

    g, hw = _l2_blocks()
    res = simulate_graph(g, hw, fusion="depth-first", objective=objective)
    names = [n.name for n in g.nodes]
    prj, add = res.schedules[names.index("prj")], res.schedules[names.index("add")]
    assert isinstance(add, FusedSchedule)
    whole = prj.whole if isinstance(prj, SplitSchedule) else prj
    assert whole.residual == "add" and whole.shape.residual
    if objective == "latency":
        assert isinstance(prj, SplitSchedule) and len(prj.parts) > 1 and whole.conv.staged == ("weights",)
        assert all(p.schedule.shape.residual for p in prj.parts)
    q, x = quantized(g)
    r = run_functional(g, q, res.schedules, x, hw.main_sram.total_words, hw.main_sram.word_bytes)
    assert r.bit_exact and r.counts_match and r.clobbers == 0
