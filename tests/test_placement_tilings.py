"""Tilings searched for a placement (``mapping.search.choose.placement_tilings``): on hardware with an outer SRAM
level, the tiling table's rows priced with each placement's operands staged, beside the two link searches."""

from __future__ import annotations

import dataclasses

import numpy as np

from sramflow.funcsim.run import run_functional
from sramflow.ir.graph import Graph, Node
from sramflow.mapping.conv import ConvShape
from sramflow.mapping.conv_schedule import ConvSchedule
from sramflow.mapping.search.choose import (
    _placement_counts, _staged_options, _tile_bytes, conv_table, hierarchy, level_as_link, placement_tilings,
    row_schedule, schedule_metrics, search_conv, search_staged, search_staged_with,
)
from sramflow.sim.api import prepare_graph, simulate_graph

from helpers.graphs import quantized
from helpers.mapping import small_l2


def pointwise_graph(c: int = 32, k: int = 32, px: int = 12) -> Graph:
    """One 1x1 convolution: at 32 -> 32 channels and 12 x 12 px its 4.5 KiB input and 1 KiB of weights do not fit
    a 2 KiB level together."""
    pw = {"kernel": (1, 1), "strides": (1, 1), "dilations": (1, 1), "pads": (0, 0, 0, 0), "groups": 1}
    rng = np.random.default_rng(0)
    node = Node("p", "Conv", ("x",), "y", pw, {"W": rng.normal(size=(k, c, 1, 1)).astype(np.float32),
                                               "B": rng.normal(size=k).astype(np.float32)})
    return Graph("pw", "x", "y", {"x": (1, c, px, px), "y": (1, k, px, px)}, (node,))


def _shape(g: Graph) -> ConvShape:
    return next(s for s in prepare_graph(g, "epilogue").shapes if isinstance(s, ConvShape))


def _link_choice(sh: ConvShape, hw, objective: str) -> ConvSchedule:  # noqa: ANN001
    """What the search chose before placement tilings: the two link searches' tilings, each placement priced."""
    h = hierarchy(hw)
    sch = search_conv(sh, hw, objective)
    alt = dataclasses.replace(search_conv(sh, level_as_link(hw, 1), objective), hw=sch.hw)
    return min((o for o in (_staged_options(s, hw, h, objective, r) for r, s in enumerate((sch, alt)))
                if o[0] is not None), key=lambda o: o[1])[0]


def test_a_tiling_found_for_its_placement_beats_both_link_searches_and_runs_bit_exact() -> None:
    hw = small_l2(1)
    g = pointwise_graph()
    sh = _shape(g)
    new, old = search_staged(sh, hw, "latency"), _link_choice(sh, hw, "latency")
    assert "weights" in new.staged
    (c_new, e_new), (c_old, e_old) = schedule_metrics(new, hw), schedule_metrics(old, hw)
    assert c_new < 0.6 * c_old and e_new < e_old  # 82,170 vs 168,858 cycles when written
    assert new.counts.offchip_bytes < old.counts.offchip_bytes / 2
    assert new.tiling != old.tiling
    res = simulate_graph(g, hw, fusion="epilogue")
    assert res.schedules[0].tiling == new.tiling and res.schedules[0].staged == new.staged
    q, x = quantized(g)
    r = run_functional(g, q, res.schedules, x, hw.main_sram.total_words, hw.main_sram.word_bytes)
    assert r.bit_exact and r.mismatches == () and r.clobbers == 0 and r.counts_match


def test_placement_counts_equal_the_staged_counts_of_the_rows_they_pick() -> None:
    """The every-row pricing stages operands as ``staging.staged_counts`` does (off-chip bytes and level accesses
    exactly); only the off-chip transactions are an estimate there, and the picked rows are priced exactly."""
    hw = small_l2(2)
    sh = _shape(pointwise_graph(48, 32, 10))
    h = hierarchy(hw)
    hwp, table = conv_table(sh, hw)
    whole = {"weights": sh.weight_bytes + sh.bias_bytes, "inputs": sh.input_bytes, "outputs": sh.output_bytes,
             "psums": 0}
    got = placement_tilings(sh, hw, h, "energy")
    assert got
    for sch, combo, where in got:
        t = sch.tiling
        same = np.flatnonzero((table.sizes == [t.tile_g, t.tile_k, t.tile_c, t.tile_h, t.tile_w]).all(axis=1)
                              & (table.double == t.double_buffered))
        i = next(int(j) for j in same if row_schedule(sh, hwp, table, int(j)).tiling == t)
        row = {k: v[i:i + 1] if isinstance(v, np.ndarray) else v for k, v in table.counts.items()}
        c = _placement_counts(row, _tile_bytes(row), whole, dict(zip(combo, where)), h)
        exact = dataclasses.replace(sch, staged=combo, staged_levels=where, levels=h).counts
        for f in ("offchip_weight_bytes", "offchip_input_bytes", "offchip_output_bytes", "offchip_psum_read_bytes",
                  "offchip_psum_write_bytes"):
            assert int(np.asarray(c[f]).reshape(-1)[0]) == getattr(exact, f), (combo, f)
        assert tuple(int(np.asarray(v).reshape(-1)[0]) for v in c["level_reads"]) == exact.level_reads
        assert tuple(int(np.asarray(v).reshape(-1)[0]) for v in c["level_writes"]) == exact.level_writes


def test_required_placements_are_kept_and_one_level_hardware_searches_none() -> None:
    hw = small_l2(4)
    sh = _shape(pointwise_graph())
    h = hierarchy(hw)
    req = (("inputs", 1),)
    got = placement_tilings(sh, hw, h, "latency", req)
    assert got and all(dict(zip(combo, where)).get("inputs") == 1 for _, combo, where in got)
    assert len(got) < len(placement_tilings(sh, hw, h, "latency"))
    sch = search_staged_with(sh, hw, "latency", require=req)
    assert sch is not None and "inputs" in sch.staged_in(1)
    from sramflow.hw.load import resolve_hw

    one = resolve_hw("sky130-design1")
    assert hierarchy(one) is None and search_staged(sh, one, "latency") == search_conv(sh, one, "latency")


def test_allow_limits_what_a_placement_stages() -> None:
    """``allow``: the placement stages nothing outside it. A 4-channel chunk of B0's 7x7 x 1152 -> 192 projection on
    design1-l2 stages its outputs too when free to; an input-kept cut's parts may stage only their weights beside
    their input (``depth_first_split.KEPT_INPUT_PEERS``), and such a part still exists."""
    from sramflow.hw.load import resolve_hw
    from sramflow.mapping.depth_first_split import KEPT_INPUT_PEERS, _kept_cuts

    hw = resolve_hw("sky130-design1-l2")
    sh = ConvShape("prj", 1, 4, 1152, 7, 7, 7, 7, 1, 1, 1, 1, 0, 0, has_bias=True)
    free = search_staged_with(sh, hw, "latency", require=(("inputs", 1),))
    assert free is not None and "outputs" in free.staged
    kept = search_staged_with(sh, hw, "latency", require=(("inputs", 1),), allow=KEPT_INPUT_PEERS)
    assert kept is not None and set(kept.staged) <= KEPT_INPUT_PEERS and "inputs" in kept.staged_in(1)
    assert search_staged_with(sh, hw, "latency", require=(("inputs", 1),), allow=frozenset({"outputs"})) is None
    whole = dataclasses.replace(sh, k_per_group=192)
    assert (1, 48) in _kept_cuts(whole) and (2, 48) not in _kept_cuts(whole)  # 4-channel chunks, whole input only


def test_lexsort_head_is_the_head_of_a_full_lexsort() -> None:
    """``lexsort_head`` (the placement and residual searches' top rows) partitions before sorting: the same indices,
    in the same order, as the first n of a full ``np.lexsort``, ties in every key included."""
    import numpy as np

    from sramflow.mapping.search.choose import lexsort_head

    rng = np.random.default_rng(7)
    for _ in range(2000):
        m, n = int(rng.integers(1, 50)), int(rng.integers(1, 60))
        p, s, r = (rng.integers(0, k, m).astype(float) for k in (4, 3, 3))
        assert np.array_equal(lexsort_head(p, s, r, n), np.lexsort((r, s, p))[:n])
    assert np.array_equal(lexsort_head(np.array([2.0, 1.0, 1.0]), 0.0, np.array([0, 1, 0]), 1), [2])
    assert np.array_equal(lexsort_head(np.array([2.0, 1.0]), 0.0, np.array([0, 1]), 5), [1, 0])
