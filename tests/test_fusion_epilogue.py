"""Epilogue fusion (issue 17 item 1): a Conv / Gemm and its element-wise chain are one group; the functional
simulator executes the group's schedule on real bytes, bit-exact, with the analytical counts."""

from __future__ import annotations

import dataclasses

import pytest

from sramflow.errors import SramflowError
from sramflow.funcsim.run import run_functional
from sramflow.ir.elementwise import BY_OP
from sramflow.ir.fusion import input_scales, residual_adds
from sramflow.mapping.epilogue import EpilogueSchedule
from sramflow.mapping.fused import FusedShape
from sramflow.mapping.lower import lower_graph
from sramflow.sim.api import prepare_graph, simulate_graph
from helpers.graphs import quantized, se_block_graph
from helpers.mapping import make_hw


def _by_name(res):  # noqa: ANN001, ANN202
    return {n.name: n for n in res.nodes}


def test_chains_are_fused_into_their_producers() -> None:
    shapes = {s.name: s for s in lower_graph(se_block_graph(), "epilogue")}
    assert {n: (s.into, s.epilogue) for n, s in shapes.items() if isinstance(s, FusedShape)} == {
        "hs": ("exp", True), "hm": ("exp", True), "ds": ("dw", True), "dm": ("dw", True),
        "rr": ("red", False), "sg": ("sex", True), "sc": ("prj", True), "add": ("prj", True), "gap": ("dw", True)}
    assert shapes["add"].residual and not shapes["prj"].residual  # set where the chosen schedule allows it
    assert shapes["gap"].pool and not shapes["gp2"].__class__ is FusedShape  # gp2 reads the Add's sum, no group's
    assert shapes["sc"].input_scale and shapes["prj"].input_scale_ops == BY_OP["Mul"].vector.ops_per_elem
    # HardSwish: the HardSigmoid's look-up yields the product (its Mul costs nothing); SiLU: look-up + Mul
    lut, mul = BY_OP["Sigmoid"].vector, BY_OP["Mul"].vector
    assert (shapes["exp"].epilogue_ops, shapes["exp"].epilogue_lut) == (lut.ops_per_elem, lut.lut_per_elem) == (0, 1)
    assert (shapes["dw"].epilogue_ops, shapes["dw"].epilogue_lut) == (mul.ops_per_elem, 1 + mul.lut_per_elem)
    assert all(not isinstance(s, FusedShape) or not s.epilogue for s in lower_graph(se_block_graph()))


def test_a_hard_swish_node_is_fused_as_its_decomposed_form_is() -> None:
    """HardSwish as one ONNX node (opset 14 and later): the expand conv's chain, one HARD_SWISH look-up per element,
    as the HardSigmoid + Mul pair costs; the SE pool after the depthwise SiLU still joins its group."""
    shapes = {s.name: s for s in lower_graph(se_block_graph(hard_swish="node"), "epilogue")}
    pair = {s.name: s for s in lower_graph(se_block_graph(), "epilogue")}
    assert (shapes["hsw"].into, shapes["hsw"].epilogue) == ("exp", True)
    assert (shapes["exp"].epilogue_ops, shapes["exp"].epilogue_lut) == \
        (pair["exp"].epilogue_ops, pair["exp"].epilogue_lut) == (BY_OP["HardSwish"].vector.ops_per_elem, 1)
    assert shapes["gap"].pool and shapes["gap"].into == "dw"


@pytest.mark.parametrize("executor", ["bulk", "step"])
def test_a_fused_hard_swish_node_is_bit_exact(executor: str) -> None:
    """The group with a HardSwish node runs the HARD_SWISH kernel on each requantized output tile: bit-exact, counts
    equal, no clobbers, and its traffic is the decomposed form's (neither writes the pre-activation)."""
    g, pair = se_block_graph(hard_swish="node"), se_block_graph()
    hw = make_hw()
    res, ref = simulate_graph(g, hw, fusion="epilogue"), simulate_graph(pair, hw, fusion="epilogue")
    assert _by_name(res)["hsw"].unit == "fused" and _by_name(res)["hsw"].counts.offchip_bytes == 0
    assert sum(r.counts.offchip_bytes for r in res.nodes) == sum(r.counts.offchip_bytes for r in ref.nodes)
    q, x = quantized(g)
    r = run_functional(g, q, res.schedules, x, hw.main_sram.total_words, hw.main_sram.word_bytes, executor=executor)
    assert r.bit_exact and r.counts_match and r.clobbers == 0


@pytest.mark.parametrize("executor", ["bulk", "step"])
@pytest.mark.parametrize("double", [False, True])
def test_fused_groups_bit_exact_with_identical_counts(executor: str, double: bool) -> None:
    g = se_block_graph()
    hw = make_hw(double=double)
    res = simulate_graph(g, hw, fusion="epilogue")
    assert sum(isinstance(s, EpilogueSchedule) for s in res.schedules) == 4
    q, x = quantized(g)
    r = run_functional(g, q, res.schedules, x, hw.main_sram.total_words, hw.main_sram.word_bytes, executor=executor)
    assert r.bit_exact and r.mismatches == () and r.counts_match and r.clobbers == 0 and r.step_count_notes == ()
    # never materialized: HARD_SWISH, SiLU's LOGISTIC and MUL inside groups, the SE LOGISTIC, the scaled tensor
    # (where its scale stays on the input path), the project conv's output (its residual Add reads the skip tile on
    # the output path)
    prj = _by_name(res)["prj"]
    assert [s.residual for s in res.schedules if isinstance(s, EpilogueSchedule) and s.residual] == ["add"]
    assert _by_name(res)["add"].counts.offchip_bytes == 0 and prj.counts.offchip_input_bytes > 0
    scaled = res.schedules[[n.name for n in g.nodes].index("prj")].input_scale != ""
    assert r.tensors_compared == len(q.ops) - 5 - scaled


def test_fusion_removes_exactly_the_chains_round_trips() -> None:
    g = se_block_graph()
    hw = make_hw()  # single buffers: here the SE scale stays on the input path (on double buffers it does not pay)
    none, epi = _by_name(simulate_graph(g, hw)), _by_name(simulate_graph(g, hw, fusion="epilogue"))
    chains = ("hs", "hm", "ds", "dm", "sg", "sc", "add", "gap")
    for n in ("exp", "sex"):  # the group's traffic and SRAM accesses are the conv's own
        assert epi[n].counts.offchip_bytes == none[n].counts.offchip_bytes
        assert epi[n].counts.sram_reads == none[n].counts.sram_reads
    # the SE pool on the depthwise conv's output path: the group writes its means too (one byte per channel)
    means = none["gap"].counts.offchip_output_bytes
    assert means == 8 and epi["dw"].counts.offchip_bytes == none["dw"].counts.offchip_bytes + means
    assert sum(epi[n].counts.offchip_bytes for n in chains) == 0
    saved = sum(n.counts.offchip_bytes for n in none.values()) - sum(n.counts.offchip_bytes for n in epi.values())
    # the SE scale's pass is gone; its consumer reads the scale bytes of its channels with every input tile load;
    # the residual Add's pass is gone; the project conv loads each skip tile once (the output's bytes)
    skip_bytes = none["prj"].counts.offchip_output_bytes
    scale_bytes = epi["prj"].counts.offchip_input_bytes - none["prj"].counts.offchip_input_bytes - skip_bytes
    assert 0 < scale_bytes < none["sc"].counts.offchip_bytes
    assert none["add"].counts.offchip_bytes == 3 * skip_bytes  # its own pass: read both operands, write the sum
    assert saved == sum(none[n].counts.offchip_bytes for n in chains) - scale_bytes - skip_bytes - means
    # the integer work is unchanged: the same vector ops and look-ups, now on the producers' output paths
    for k in ("vector_ops", "lut_ops", "macs"):
        assert sum(getattr(n.counts, k) for n in epi.values()) == sum(getattr(n.counts, k) for n in none.values())


def test_steps_sum_to_the_group_counts() -> None:
    g = se_block_graph()
    hw = make_hw()
    for s in simulate_graph(g, hw, fusion="epilogue").schedules:
        if isinstance(s, EpilogueSchedule):
            steps = list(s.steps())
            assert sum(st.vector_ops for st in steps) == s.counts.vector_ops
            assert sum(st.lut_ops for st in steps) == s.counts.lut_ops
            assert sum(st.macs for st in steps) == s.counts.macs
            assert sum(st.offchip_bytes for st in steps) == s.counts.offchip_bytes
            assert sum(st.kind == "load" for st in steps) == s.counts.dma_loads


def test_unknown_fusion_mode_is_an_error() -> None:
    with pytest.raises(SramflowError, match="fusion must be one of"):
        prepare_graph(se_block_graph(), "layer")


PROV = {"sramflow_version": "0", "git_commit": None, "command": "sramflow simulate", "inputs": {}}


def test_reports_list_the_groups_and_the_schemas_accept_them() -> None:
    import jsonschema

    from sramflow.report.jsonschemas import load_schema
    from sramflow.sim.writers import layer_mapping_json, report_json

    res = simulate_graph(se_block_graph(), make_hw(double=True), fusion="depth-first")
    rep, lm = report_json(res), layer_mapping_json(res)
    assert rep["fusion"] == lm["fusion"] == "depth-first" and "falls back to epilogue fusion" in rep["fusion_note"]
    groups = {g["producer"]: g for g in rep["fusion_groups"]}
    assert {p: g["members"] for p, g in groups.items()} == {"exp": ["hs", "hm"], "dw": ["ds", "dm", "gap"],
                                                            "sex": ["sg"], "prj": ["sc", "add"]}
    assert groups["prj"]["input_scale"] == "sc" and groups["dw"]["input_scale"] is None
    assert groups["dw"]["pool"] == "gap" and groups["dw"]["output_stored"]  # the SE squeeze: the map is scaled next
    node = {n["name"]: n for n in rep["nodes"]}
    assert groups["dw"]["offchip_bytes_by_operand"] == node["dw"]["offchip_bytes"] and node["ds"]["unit"] == "fused"
    layers = {lay["name"]: lay for lay in lm["layers"]}
    assert layers["ds"]["fusion_group"] == "dw" and layers["dw"]["epilogue"] == ["ds", "dm"]
    assert "fusion_group" not in layers["rr"]  # the quantizer's own Relu fusion is not an epilogue group
    for name, doc in (("inference_simulator_report", rep), ("layer_mapping", lm)):
        jsonschema.validate({**doc, "provenance": PROV}, load_schema(name), cls=jsonschema.Draft202012Validator)
    bad = {**rep, "provenance": PROV, "fusion_groups": [{"producer": "dw", "op": "Conv", "members": []}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, load_schema("inference_simulator_report"), cls=jsonschema.Draft202012Validator)


def test_cli_fusion_choices_are_the_mappers() -> None:
    from sramflow.cli_args import FUSION_CHOICES, FUSION_DEFAULT
    from sramflow.mapping.epilogue import FUSION_MODES

    assert FUSION_CHOICES == FUSION_MODES and FUSION_DEFAULT in FUSION_MODES


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["sky130-design1", "sky130-design1-l2"])
def test_b0_224_fused_bit_exact(preset: str, b0_graph_224, b0_int8_224, b0_224_simulated) -> None:  # noqa: ANN001
    import numpy as np

    from sramflow.hw.load import resolve_hw
    from sramflow.reference.run import quantize_input, run_int8
    from sramflow.sim.results import total_json

    g, hw = b0_graph_224, resolve_hw(preset)
    res = b0_224_simulated(preset, "epilogue")  # simulate_graph(g, hw, fusion="epilogue"), shared
    none = b0_224_simulated(preset)  # simulate_graph(g, hw)
    groups = [s for s in res.schedules if isinstance(s, EpilogueSchedule)]
    assert len(groups) >= 65  # every Conv but the 16 projections is followed by SiLU or (SE) Sigmoid
    off = lambda r: total_json(list(r.nodes), hw.clock_mhz)["offchip_bytes"]  # noqa: E731
    assert sum(off(res).values()) < sum(off(none).values())
    if preset == "sky130-design1":  # --fusion none is the unfused model, figure for figure
        assert sum(off(none).values()) == 194_891_151
        # on 256 bytes the scale bytes that come with every input tile load of a projection cost more than the SE
        # scale's own pass, with the chosen tiling and the next best ones, for all but two, whose projections are
        # re-tiled to hold the excitation vector: features.1.0's (32 channels) and features.2.0's (96 channels, 48
        # words: only a tiling that leaves them free, ``decide_input_scales``); the other 14 fall back to their pass
        scales = input_scales(g)
        passes = [r.name for r in res.nodes if r.name in scales and r.unit == "vector"]
        assert len(scales) == 16 and len(passes) == 14
        assert not {"features.1.0.block.1/Mul", "features.2.0.block.2/Mul"} & set(passes)
        held = [s.conv.shape.name for s in groups if s.input_scale and s.scale_held]
        assert held == ["features.1.0.block.2.0/Conv", "features.2.0.block.3.0/Conv"]
        assert total_json(list(none.nodes), hw.clock_mhz)["cycles"] == 625_356_898
        # 7 of the 9 residual Adds join their project conv; the other 2 convs keep partial sums in the output buffer
        # every SE pool accumulates on its depthwise conv's output path, the classifier's pool on the head conv's
        # (re-searched with words free for its sums), whose output, read by nothing else, is never stored
        assert len([s.pool for s in groups if s.pool]) == 17
        assert all(r.unit == "fused" for r in res.nodes if r.op == "GlobalAveragePool")
        head = next(s for s in groups if s.shape.name == "features.8.0/Conv")
        assert head.pool_plan.stores is not None and head.counts.offchip_output_bytes == 1280  # the means
        fused_adds = [s.residual for s in groups if s.residual]
        assert len(fused_adds) == 7 and all(r.unit == "vector" for r in res.nodes
                                              if r.name in set(residual_adds(g)) - set(fused_adds))
    for r in res.nodes:  # the level pairs carry every off-chip byte of a group, the SE scale bytes included
        if r.level_traffic is not None:
            pairs = {k: v for k, v in r.level_traffic.items() if k.startswith(hw.offchip.name + "<->")}
            assert sum(sum(v.values()) for v in pairs.values()) == r.counts.offchip_bytes, r.name
    x, q = b0_int8_224  # two random images (seed 0) and the graph quantized on them
    xq = quantize_input(q, x[0])
    r = run_functional(g, q, res.schedules, xq, hw.main_sram.total_words, hw.main_sram.word_bytes)
    assert r.bit_exact and r.mismatches == () and r.clobbers == 0 and r.counts_match
    assert r.tensors_compared < len(q.ops)
    assert np.array_equal(r.logits_int8, run_int8(q, xq)[q.output].reshape(-1))


def test_se_scale_decision_is_the_best_of_its_options_and_may_retile(b0_graph_224) -> None:  # noqa: ANN001
    """On design1 each SE scale's group is kept fused with the chosen tiling, re-tiled for the scale, or split back
    into the Mul's pass, whichever the objective prefers: no option beats the decision. B0's features.1.0 needs the
    re-tiling (its chosen tiling reloads the input too often to carry the scale; a larger-tile one carries it in
    fewer cycles than the Mul's own pass); features.2.0's projection is re-tiled to leave its vector's words free."""
    from sramflow.hw.load import resolve_hw
    from sramflow.mapping.depth_first import summed_value
    from sramflow.mapping.search.choose import map_shape
    from sramflow.sim.api import _held, _researched

    hw = resolve_hw("sky130-design1")
    prep = prepare_graph(b0_graph_224, "epilogue")
    res = simulate_graph(b0_graph_224, hw, fusion="epilogue")
    index = {n.name: i for i, n in enumerate(b0_graph_224.nodes)}
    retiled = []
    for i, sh in enumerate(prep.shapes):
        if not (isinstance(sh, FusedShape) and sh.input_scale):
            continue
        j = index[sh.into]
        chosen = [res.schedules[j]] if isinstance(res.schedules[j], EpilogueSchedule) and \
            res.schedules[j].input_scale else [res.schedules[j], res.schedules[i]]
        best = summed_value(chosen, hw, "latency")
        first = map_shape(prep.shapes[j], hw, "latency")  # the conv's own tiling, as the group started
        if len(chosen) == 1:
            for option in [chosen[0], *_researched(chosen[0], hw, "latency")]:  # per-load or held scale bytes
                for o in (option, dataclasses.replace(option, scale_level=None), *_held(option)):
                    assert best <= summed_value([o], hw, "latency"), sh.into
            if chosen[0].conv.tiling != first.tiling:
                retiled.append(sh.into)
    assert retiled == ["features.1.0.block.2.0/Conv", "features.2.0.block.3.0/Conv"]


def test_under_a_budget_a_retiled_scale_never_takes_more_cycles_than_its_fallback(b0_graph_224) -> None:  # noqa: ANN001
    """Under a cycle budget the SE decision may re-tile for energy only within the fallback's cycles (the budget's
    search counted those); without a budget an energy re-tiling may be slower."""
    import dataclasses

    from sramflow.hw.load import resolve_hw
    from sramflow.mapping.depth_first import summed_value
    from sramflow.mapping.lower import lower
    from sramflow.mapping.search.choose import map_shape
    from sramflow.mapping.search.network import choose_schedules
    from sramflow.sim.api import decide_input_scales, fuse_schedules

    hw = resolve_hw("sky130-design1")
    prep = prepare_graph(b0_graph_224, "epilogue")
    budget = 535_000_000  # ~1 % above the latency objective's cycles: the budgeted rows of B0 on design1
    start = fuse_schedules(prep, choose_schedules(prep.shapes, hw, "energy", budget), hw, "energy")
    capped = decide_input_scales(prep, start, hw, "energy", under_budget=True)
    free = decide_input_scales(prep, start, hw, "energy")
    index = {n.name: i for i, n in enumerate(b0_graph_224.nodes)}
    slower = 0
    for i, sh in enumerate(prep.shapes):
        if not (isinstance(sh, FusedShape) and sh.input_scale):
            continue
        j, fused = index[sh.into], start[index[sh.into]]
        conv = dataclasses.replace(fused.conv, shape=dataclasses.replace(fused.shape, input_scale_ops=0))
        plain = dataclasses.replace(fused, conv=conv, input_scale="") if fused.members or fused.pool else conv
        mul = map_shape(lower(prep.graph, prep.graph.nodes[i]), hw, "energy")
        fallback = summed_value([plain, mul], hw, "latency")[0]
        for decided, counter in ((capped, "capped"), (free, "free")):
            group = decided[j]
            if isinstance(group, EpilogueSchedule) and group.input_scale and group is not fused:
                cycles = summed_value([group], hw, "latency")[0]
                if counter == "capped":
                    assert cycles <= fallback, sh.into
                else:
                    slower += cycles > fallback
    assert slower >= 1  # the cap binds: uncapped, some energy re-tilings of budgeted rows are slower (4 of 16)


# ---------------------------------------------------------------- an activation after the residual Add (ResNet)


def test_the_activation_after_a_residual_add_is_found_and_lowered_with_it() -> None:
    """ResNet's Add -> ReLU (or ReLU6): the activation is the Add's only reader, so it rides with the Add on the
    second conv's output path; its clamp is on that conv's shape only with the Add (``lower.residual_shape``)."""
    from sramflow.ir.fusion import residual_activations
    from sramflow.mapping.epilogue import output_path_ops
    from sramflow.mapping.lower import residual_act_costs, residual_shape
    from helpers.graphs import resnet_block_graph

    for act, op in (("relu", "Relu"), ("relu6", "Clip")):
        g = resnet_block_graph(act=act)
        assert residual_adds(g) == {"add": "c2"} and residual_activations(g) == {"ar": "add"}
        shapes = {s.name: s for s in lower_graph(g, "epilogue")}
        assert (shapes["ar"].into, shapes["ar"].after_residual, shapes["ar"].epilogue) == ("c2", True, True)
        v, add = BY_OP[op].vector, BY_OP["Add"].vector
        c2, joined = shapes["c2"], residual_shape(shapes["c2"], residual_act_costs(g))
        assert (c2.residual_act_ops, c2.residual, joined.residual_act_ops, joined.residual_act_lut) == \
            (0, False, v.ops_per_elem, v.lut_per_elem)  # the lowering's shape is the plain conv's
        assert output_path_ops(joined) == \
            (c2.epilogue_ops + add.ops_per_elem + v.ops_per_elem, c2.epilogue_lut + add.lut_per_elem + v.lut_per_elem)
    g = se_block_graph()
    assert residual_activations(g) == {}  # B0's Add has no activation after it
    prj = next(s for s in lower_graph(g, "epilogue") if s.name == "prj")
    assert residual_shape(prj, residual_act_costs(g)) == dataclasses.replace(prj, residual=True)


@pytest.mark.parametrize("executor", ["bulk", "step"])
@pytest.mark.parametrize("act", ["relu", "relu6"])
def test_an_add_and_its_activation_join_the_conv_bit_exact(executor: str, act: str) -> None:
    """Both have no pass of their own: the group adds the skip tile and clamps each output tile before it is written,
    so neither the conv's output nor the Add's is ever written. Bit-exact with the integer reference, counts equal."""
    from helpers.graphs import resnet_block_graph
    from sramflow.sim.writers import fusion_groups_json

    g, hw = resnet_block_graph(act=act), make_hw()
    res, none = simulate_graph(g, hw, fusion="epilogue"), simulate_graph(g, hw, fusion="none")
    by = _by_name(res)
    assert by["add"].unit == by["ar"].unit == "fused"
    grp = res.schedules[[n.name for n in g.nodes].index("c2")]
    assert (grp.residual, grp.residual_act) == ("add", "ar")
    assert [x["members"] for x in fusion_groups_json(res) if x["producer"] == "c2"] == [["add", "ar"]]
    saved = sum(r.counts.offchip_bytes for r in none.nodes) - sum(r.counts.offchip_bytes for r in res.nodes)
    out = g.shape("a")[1] * g.shape("a")[2] * g.shape("a")[3]
    assert saved == 4 * out  # the conv's output and the Add's, each written once and read once
    q, x = quantized(g)
    r = run_functional(g, q, res.schedules, x, hw.main_sram.total_words, hw.main_sram.word_bytes, executor=executor)
    assert r.bit_exact and r.counts_match and r.clobbers == 0


def test_where_the_add_keeps_its_pass_so_does_its_activation() -> None:
    """A conv whose partial sums spill cannot take the skip tile: the Add and the activation after it each run a
    pass of their own, bit-exact."""
    from helpers.graphs import resnet_block_graph
    from helpers.mapping import sched
    from sramflow.mapping.search.network import choose_schedules
    from sramflow.sim.api import fuse_schedules

    g, hw = resnet_block_graph(), make_hw()
    prep = prepare_graph(g, "epilogue")
    chosen = list(choose_schedules(prep.shapes, hw, "latency", None))
    i = [n.name for n in g.nodes].index("c2")
    chosen[i] = sched(prep.shapes[i], hw, {"k": 2, "c": 4, "w": 6}, ("g", "k", "c", "p"))  # c outside p: spills
    assert chosen[i].spill_psums
    out = fuse_schedules(prep, tuple(chosen), hw)
    assert not isinstance(out[i], EpilogueSchedule) or not out[i].residual
    kinds = {n.name: s.unit for n, s in zip(g.nodes, out)}
    assert kinds["add"] == kinds["ar"] == "vector"
    q, x = quantized(g)
    r = run_functional(g, q, out, x, hw.main_sram.total_words, hw.main_sram.word_bytes)
    assert r.bit_exact and r.counts_match and r.clobbers == 0


def test_an_activation_that_does_not_read_the_add_is_refused_by_the_functional_simulator() -> None:
    """Schedules whose post-Add activation names an op that does not read the Add's sum (made for another graph):
    the run stops with an error naming both nodes."""
    from sramflow.errors import UnsupportedOpError
    from sramflow.funcsim.run import _with_residual
    from helpers.graphs import resnet_block_graph

    g = resnet_block_graph()
    q, x = quantized(g)
    ops = dict(zip((n.name for n in g.nodes), q.ops_by_position(g)))
    with pytest.raises(UnsupportedOpError, match="activation 'c1' fused after the residual Add 'add' does not read"):
        _with_residual(None, g, q, ops["add"], "add", "v", {}, ops["c1"])  # c1's op (its Relu folded in) reads x
