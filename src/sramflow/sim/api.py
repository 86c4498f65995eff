"""Analytical simulation of a whole graph: map every node, price its counts, collect typed results.

``prepare_graph`` lowers a graph once (reuse it across hardware points in a sweep);
``simulate_prepared`` maps and prices it for one hardware description and objective.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from sramflow.cost.counts import COUNT_FIELDS, Counts, ceil_div
from sramflow.cost.model import (
    COMPONENTS, RESOURCES, busy_cycles, components, energy_pj, resources, total_cycles,
)
from sramflow.errors import MappingError, SramflowError
from sramflow.hw.partition import MIN_TILE_BYTES, is_partitioned, partitioned, split_candidates
from sramflow.hw.spec import HardwareSpec
from sramflow.ir.graph import Graph
from sramflow.mapping.conv import ConvShape
from sramflow.mapping.conv_schedule import ConvSchedule
from sramflow.mapping.depth_first import (
    Group, ResidentConvSchedule, groups_note, kept_traffic, plan_groups, summed_value,
)
from sramflow.mapping.depth_first_bands import BandSearcher, BandSplitSchedule, PoolOffer, plan_bands, with_pool
from sramflow.mapping.depth_first_recompute import RecomputeSchedule, plan_recompute
from sramflow.mapping.depth_first_split import (SplitSchedule, choose_split, choose_splits, split_with_pool,
                                              trade_cuts, with_room)
from sramflow.mapping.epilogue import (DEPTH_FIRST_NOTE, FUSION_MODES, SCALE_LEVELS, EpilogueSchedule, pool_plan,
                                      scale_plan, with_epilogue)
from sramflow.mapping.fused import FusedSchedule, FusedShape
from sramflow.mapping.io_bound import compulsory_bytes, io_lower_bound_bytes, onchip_capacity_bytes
from sramflow.mapping.lower import lower, lower_graph, residual_act_costs, residual_shape
from sramflow.mapping.schedule import Schedule
from sramflow.mapping.search.budget import Moves, greedy_moves, pareto_rows
from sramflow.mapping.search.choose import (OBJECTIVES, POOL_RESERVE_WORDS, best_rows, conv_table, hierarchy,
                                          map_shape, objective_key, row_schedule, schedule_metrics,
                                          search_residual, with_free_words)
from sramflow.mapping.search.network import choose_schedules
from sramflow.mapping.search.plan import DEFAULT_PLANS, PlanCache, point_plan
from sramflow.mapping.staging import direct_traffic, pair_traffic
from sramflow.mapping.vector import VectorSchedule, VectorShape
from sramflow.sim.first_loads import first_load_cycles
from sramflow.sim.results import Bounds, NodeResult, network_totals, total_json

__all__ = ["OBJECTIVES", "PreparedGraph", "SimulationResult", "prepare_graph", "price", "simulate_graph",
           "simulate_prepared", "simulate_totals"]


@dataclass(frozen=True)
class PreparedGraph:
    graph: Graph
    shapes: tuple[ConvShape | VectorShape | FusedShape, ...]  # one per graph node, in order
    fusion: str = "none"  # ``mapping.epilogue.FUSION_MODES``

    @cached_property
    def distinct_shapes(self) -> tuple[tuple, np.ndarray]:
        """The distinct shapes (without names; the first node's shape of each) and each node's index into them,
        computed once (a sweep's plans are keyed by this tuple's identity, ``mapping.search.plan.point_plan``)."""
        index: dict[object, int] = {}
        first, idx = [], []
        for shape in self.shapes:
            key = dataclasses.replace(shape, name="")
            if key not in index:
                index[key] = len(first)
                first.append(shape)
            idx.append(index[key])
        return tuple(first), np.asarray(idx, dtype=np.int64)

    @cached_property
    def residual_acts(self) -> dict[str, tuple[int, int]]:
        """``mapping.lower.residual_act_costs`` of the graph, computed once."""
        return residual_act_costs(self.graph)

    @cached_property
    def residual_act_nodes(self) -> dict[str, int]:
        """Conv name -> node index of the activation after its residual Add (``FusedShape.after_residual``)."""
        return {sh.into: i for i, sh in enumerate(self.shapes) if isinstance(sh, FusedShape) and sh.after_residual}


@dataclass(frozen=True)
class SimulationResult:
    graph_name: str
    hw: HardwareSpec
    objective: str
    schedules: tuple[Schedule, ...]
    nodes: tuple[NodeResult, ...]
    uncosted_nodes: tuple[str, ...]
    wall_s: float
    # energy objective: least energy with at most this many cycles (``mapping.search.budget``)
    cycle_budget: int | None = None
    fusion: str = "none"
    groups: tuple[Group, ...] = ()  # depth-first groups' edges as decided (``mapping.depth_first``)
    recut_layers: int = 0  # under a cycle budget with depth-first groups: layers re-mapped for energy (``trade_cuts``)
    # a budget stated over the fastest mapping (``over_fastest_pct``): that percentage and the latency objective's
    # network cycles it was applied to
    budget_over_pct: float | None = None
    fastest_cycles: int | None = None
    # depth-first on one SRAM level: the tile buffer sizes of the splits mapped beside the whole SRAM (``hw.partition``)
    splits_tried: tuple[int, ...] = ()

    @cached_property
    def first_load_cycles(self) -> int:
        """Link cycles of the loads before each double-buffered schedule's first compute step, which the overlapped
        cycle model leaves out of the latency (``sim.first_loads``): the latency is optimistic by at most these."""
        return first_load_cycles(self.schedules, [n.overlapped and n.cycles > 0 for n in self.nodes], self.hw)

    @property
    def fusion_note(self) -> str:
        if self.fusion != "depth-first":
            return ""
        if len(self.hw.sram) < 2:
            sizes = " or ".join(f"{b:,}" for b in self.splits_tried)
            if self.splits_tried:
                why = (f"the whole SRAM as tile buffer maps better than its splits into {sizes} B of tiles and a region "
                       "(each mapping's first loads counted)")
            elif not split_candidates(self.hw):
                why = f"no split is tried: a quarter of this SRAM holds less than {MIN_TILE_BYTES:,} B of tiles"
            elif self.cycle_budget is not None:
                why = "no split is tried: a cycle budget on one SRAM level maps the whole SRAM"
            else:
                why = "no split is tried: the whole SRAM was asked for (--tile-bytes whole)"
            return f"{DEPTH_FIRST_NOTE}; here {why}, so every group falls back to epilogue fusion"
        cuts: dict[str, int] = {}
        carried = 0
        for s in self.schedules:
            if isinstance(s, SplitSchedule) and not isinstance(s, BandSplitSchedule):  # band groups: in ``groups``
                cuts[s.axis] = cuts.get(s.axis, 0) + 1
                carried += any(getattr(p.schedule, "pool_carry", None) for p in s.parts)
        note = groups_note(self.groups, tuple(m.name for m in self.hw.sram), cuts, carried)
        if is_partitioned(self.hw):
            tiles, region = self.hw.sram
            note = (f"{tiles.name} split into {tiles.size_bytes:,} B of tiles and a {region.size_bytes:,} B region "
                    f"{region.name} on the same port (hw.partition); {note}")
        if self.cycle_budget is None:
            return note
        return (f"under the cycle budget: the latency objective's depth-first mapping with {self.recut_layers} "
                f"layers re-mapped for energy within the budget's spare cycles; {note}")


def prepare_graph(graph: Graph, fusion: str = "none") -> PreparedGraph:
    if fusion not in FUSION_MODES:
        raise SramflowError(f"fusion must be one of {', '.join(FUSION_MODES)}, got {fusion!r}")
    return PreparedGraph(graph, lower_graph(graph, fusion), fusion)


def simulate_graph(graph: Graph, hw: HardwareSpec, objective: str = "latency",
                   cycle_budget: int | None = None, fusion: str = "none") -> SimulationResult:
    return simulate_prepared(prepare_graph(graph, fusion), hw, objective, cycle_budget)


def fuse_schedules(prep: PreparedGraph, schedules, hw: HardwareSpec,  # noqa: ANN001
                   objective: str = "latency") -> tuple[Schedule, ...]:
    """Each Conv / Gemm with an epilogue (``mapping.epilogue``) gets the group's schedule around its own. A
    residual Add joins its Conv's group where the chosen schedule leaves the output buffer free of partial sums
    and stages nothing (``ConvShape.residual``: the skip tile is loaded into the output tile's words, so the
    footprint the search saw is unchanged); elsewhere the Add keeps a pass of its own (a per-group fallback). A
    global average pool joins its Conv's group where the chosen schedule has room for one channel tile's running
    sums (``mapping.epilogue.pool_plan``); elsewhere it keeps its pass."""
    chains: dict[str, list[str]] = {}
    scale: dict[str, str] = {}
    residual: dict[str, str] = {}
    after: dict[str, str] = {}  # conv -> the activation after its residual Add (with the Add, or its own pass)
    pool: dict[str, str] = {}
    sole: set[str] = set()  # convs whose pool is their output's only reader
    schedules = list(schedules)
    index = {n.name: i for i, n in enumerate(prep.graph.nodes)}
    for i, sh in enumerate(prep.shapes):
        if isinstance(sh, FusedShape) and sh.residual:
            conv = schedules[index[sh.into]]
            if conv.spill_psums or conv.keep_psums or conv.staged:
                schedules[i] = map_shape(lower(prep.graph, prep.graph.nodes[i]), hw, objective)
            else:
                joined = residual_shape(conv.shape, prep.residual_acts)
                schedules[index[sh.into]] = dataclasses.replace(conv, shape=joined)
                residual[sh.into] = sh.name
        elif isinstance(sh, FusedShape) and sh.after_residual:  # its Add comes first in graph order
            if sh.into in residual:
                after[sh.into] = sh.name
            else:
                schedules[i] = map_shape(lower(prep.graph, prep.graph.nodes[i]), hw, objective)
        elif isinstance(sh, FusedShape) and sh.pool:
            if pool_plan(schedules[index[sh.into]]) is None:
                schedules[i] = map_shape(lower(prep.graph, prep.graph.nodes[i]), hw, objective)
            else:
                pool[sh.into] = sh.name
                if sh.sole_reader:
                    sole.add(sh.into)
        elif isinstance(sh, FusedShape) and sh.input_scale:
            scale[sh.into] = sh.name
        elif isinstance(sh, FusedShape) and sh.link:
            chains.setdefault(sh.into, []).append(sh.name)
    return tuple(EpilogueSchedule(s, tuple(chains.get(s.shape.name, ())), hw.vector_unit.lanes,
                                  scale.get(s.shape.name, ""), hw.offchip.burst_bytes, residual.get(s.shape.name, ""),
                                  pool.get(s.shape.name, ""), pool_sole_reader=s.shape.name in sole,
                                  residual_act=after.get(s.shape.name, ""))
                 if any(s.shape.name in d for d in (chains, scale, residual, pool)) else s
                 for s in schedules)


RESEARCH_ROWS = 8  # a fused SE scale's group re-searched over the convolution's this many best tilings


def decide_input_scales(prep: PreparedGraph, schedules: tuple[Schedule, ...], hw: HardwareSpec,
                        objective: str, under_budget: bool = False, split_memo: dict | None = None
                        ) -> tuple[Schedule, ...]:
    """Keep an SE scale on its consumer's input path only where the objective gains: the scale bytes come with
    every input tile load, so a consumer that reloads its input often (small tiles on a small SRAM) may move more
    than the scale's own pass (read x, write x). Otherwise the Mul gets its own vector pass again and the consumer
    its schedule without the scale (a per-group fallback). The convolution's tiling was chosen without the scale, so
    before falling back on one-level hardware the group is also priced with each of its ``RESEARCH_ROWS`` best
    tilings (fewer, larger input loads can win once the scale rides on them); the best of those and the fallback
    is kept. Where an SRAM level has the words (the first above the group's buffers, the next above its staged
    operands), the excitation vector may instead be held there for the layer (one load, then reads per input tile:
    ``mapping.epilogue.scale_plan``), with the chosen tiling, the re-searched ones and, on one level, the best
    tilings that leave the vector's words free (the fastest ones fill a small SRAM); the objective picks among all
    of these. Under a cycle budget the tilings are
    the fastest ones, and a held vector or a re-tiling is kept only where it takes no more cycles than the better
    of the fused group and the fallback (one chosen for energy alone could exceed the budget)."""
    out = list(schedules)
    index = {n.name: i for i, n in enumerate(prep.graph.nodes)}
    split_memo = {} if split_memo is None else split_memo  # parts and cuts, shared with ``choose_splits``

    def value(option: list[Schedule], obj: str) -> tuple[float, float]:
        return cut_value(option, hw, objective, obj, split_memo, prep.fusion == "depth-first" and not under_budget)

    for i, sh in enumerate(prep.shapes):
        if not (isinstance(sh, FusedShape) and sh.input_scale):
            continue
        j = index[sh.into]
        fused = out[j]
        conv = dataclasses.replace(fused.conv, shape=dataclasses.replace(fused.shape, input_scale_ops=0))
        plain = dataclasses.replace(fused, conv=conv, input_scale="") if fused.members or fused.residual or \
            fused.pool else conv
        mul = map_shape(lower(prep.graph, prep.graph.nodes[i]), hw, objective)
        best = min([[fused], [plain, mul]], key=lambda o: value(o, objective))
        found = [[h] for h in _held(fused)]
        search_obj = "latency" if under_budget else objective
        if len(best) > 1:  # the scale loses with the chosen tiling: would another carry it?
            found += [[f] for g in _researched(fused, hw, search_obj) for f in (g, *_held(g))]
        per_load = dataclasses.replace(fused, scale_level=None, scale_kept=False)
        found += [[h] for g in _researched(per_load, hw, search_obj, _vector_words(fused)) for h in _held(g)]
        if under_budget:
            limit = value(best, "latency")[0]
            found = [o for o in found if value(o, "latency")[0] <= limit]
        best = min([*found, best], key=lambda o: value(o, objective))
        if best[0] is not fused:
            out[j] = best[0]
            if len(best) > 1:
                out[i] = mul
    return tuple(out)


def decide_residuals(prep: PreparedGraph, schedules: tuple[Schedule, ...], hw: HardwareSpec, objective: str,
                     split_memo: dict | None = None, under_budget: bool = False) -> tuple[Schedule, ...]:
    """With outer SRAM levels, join each residual Add that kept a pass of its own (``fuse_schedules``: its conv's
    schedule keeps partial sums in the output buffer or stages its outputs) to its conv's group where the objective
    gains: the conv re-searched with the skip tile on its output path (``search_residual``: weights and inputs may
    be staged) inside the group as decided (epilogue, SE scale), against the group plus the Add's pass, each priced
    after its own cut (``cut_value``). One level, or under a cycle budget: unchanged."""
    if hierarchy(hw) is None or under_budget:
        return schedules
    out = list(schedules)
    index = {n.name: i for i, n in enumerate(prep.graph.nodes)}
    memo = {} if split_memo is None else split_memo
    cut = prep.fusion == "depth-first"
    for i, sh in enumerate(prep.shapes):
        if not (isinstance(sh, FusedShape) and sh.residual) or isinstance(out[i], FusedSchedule):
            continue
        j = index[sh.into]
        group = out[j]
        conv = group.conv if isinstance(group, EpilogueSchedule) else group
        if not isinstance(conv, ConvSchedule):
            continue
        found = search_residual(residual_shape(conv.shape, prep.residual_acts), hw, objective)
        if found is None:
            continue
        a = prep.residual_act_nodes.get(sh.into)  # the activation after the Add joins with it
        act = prep.graph.nodes[a].name if a is not None else ""
        joined = dataclasses.replace(group.with_conv(found), residual=sh.name, residual_act=act) \
            if isinstance(group, EpilogueSchedule) else \
            EpilogueSchedule(found, (), hw.vector_unit.lanes, "", hw.offchip.burst_bytes, sh.name, residual_act=act)
        passes = [out[i]] + ([out[a]] if a is not None else [])
        if cut_value([joined], hw, objective, objective, memo, cut) < \
                cut_value([group, *passes], hw, objective, objective, memo, cut):
            out[j], out[i] = joined, FusedSchedule(sh)
            if a is not None:
                out[a] = FusedSchedule(prep.shapes[a])
    return tuple(out)


def cut_value(option: list[Schedule], hw: HardwareSpec, objective: str, obj: str, split_memo: dict, cut: bool
              ) -> tuple[float, float]:
    """``option``'s (``obj``, other metric) as it will run: with ``cut`` (depth-first fusion) its first schedule, a
    Conv / Gemm group, is cut into parts where that wins for ``objective`` (``choose_split``), so each way of running
    an SE scale or a residual Add is priced after its own cut."""
    if cut:
        option = [choose_split(option[0], hw, objective, split_memo), *option[1:]]
    return summed_value(option, hw, obj)


def _held(fused: EpilogueSchedule) -> list[EpilogueSchedule]:
    """``fused`` with its excitation vector held in each SRAM level that has the words for it
    (``mapping.epilogue.SCALE_LEVELS``: above the buffers in the first level, above the staged operands in the next)."""
    return [dataclasses.replace(fused, scale_level=lv) for lv in SCALE_LEVELS
            if lv != fused.scale_level and scale_plan(fused.conv, fused.pool_plan, lv) is not None]


def _vector_words(fused: EpilogueSchedule) -> int:
    """First-level words a held excitation vector takes (one byte per input channel)."""
    sh = fused.conv.shape
    return ceil_div(sh.groups * sh.c_per_group, fused.conv.hw.word_bytes)


def _researched(fused: EpilogueSchedule, hw: HardwareSpec, objective: str,
                reserve_words: int = 0) -> list[EpilogueSchedule]:
    """``fused`` with each of its convolution's ``RESEARCH_ROWS`` best tilings (one-level hardware; none where a
    tiling cannot carry the group: partial sums in the output buffer under a residual Add, no room for a fused
    pool's sums). ``reserve_words``: only tilings whose buffers leave that many words of the SRAM free (the best
    tilings fill it, so none of them has room to hold an excitation vector beside its buffers)."""
    if len(hw.sram) > 1 or not isinstance(fused.conv, ConvSchedule):
        return []
    sh = fused.conv.shape
    hwp, table = conv_table(sh, hw)
    if reserve_words:
        if reserve_words >= hwp.capacity_words:
            return []
        table = table.within(min(table.capacity_words, hwp.capacity_words - reserve_words))
        if table.rows == 0:
            return []
    out = []
    for r in best_rows(table, hw, objective, RESEARCH_ROWS):
        try:
            out.append(dataclasses.replace(fused, conv=row_schedule(sh, hwp, table, int(r))))
        except MappingError:  # partial sums where a residual Add's skip tile goes, or no room for a pool's sums
            continue
    return out


def decide_pools(prep: PreparedGraph, schedules: tuple[Schedule, ...], hw: HardwareSpec,
                 objective: str, under_budget: bool = False) -> tuple[Schedule, ...]:
    """Keep a global average pool on its Conv's output path only where the objective gains (the running sums' word
    accesses and the vector work against the pool's own pass, which reads the whole feature map back); otherwise the
    pool gets its own pass again (a per-group fallback). On one SRAM level, a pool left in its own pass for want of
    free words is put on the output path of its conv re-searched with a few words free (``_pooled_with_free_words``)
    where the objective gains (with outer levels that is done after the depth-first groups, ``_pools_with_room``).
    Under a cycle budget that conv is re-searched for latency and kept only where it takes no more cycles than the
    conv and the pool's pass (a tiling chosen for energy alone could exceed the budget)."""
    out = list(schedules)
    index = {n.name: i for i, n in enumerate(prep.graph.nodes)}
    for i, sh in enumerate(prep.shapes):
        if isinstance(sh, FusedShape) and sh.pool:
            _decide_pool(prep, out, i, index[sh.into], hw, objective, under_budget)
    return tuple(out)


def _decide_pool(prep: PreparedGraph, out: list[Schedule] | dict[int, Schedule], i: int, j: int, hw: HardwareSpec,
                 objective: str, under_budget: bool = False) -> None:
    """``decide_pools`` for the pool ``i`` and its conv ``j`` (node indices into ``out``), in place."""
    sh = prep.shapes[i]
    if hierarchy(hw) is None and not isinstance(out[i], FusedSchedule):
        _pool_with_room(prep, out, i, j, hw, objective, under_budget)
        return
    fused = out[j]
    if not isinstance(fused, EpilogueSchedule) or fused.pool != sh.name:
        return
    own, plain = _pool_apart(prep, fused, i, hw, objective)
    if summed_value([plain, own], hw, objective) < summed_value([fused], hw, objective):
        out[i], out[j] = own, plain


def _pool_apart(prep: PreparedGraph, fused: EpilogueSchedule, i: int, hw: HardwareSpec, objective: str
                ) -> tuple[Schedule, Schedule]:
    """(the pool ``i``'s own pass, its conv's group ``fused`` without it)."""
    plain = dataclasses.replace(fused, pool="", pool_sole_reader=False) if fused.members or fused.residual or \
        fused.input_scale else fused.conv
    return map_shape(lower(prep.graph, prep.graph.nodes[i]), hw, objective), plain


def _sole_pools_apart(prep: PreparedGraph, schedules: tuple[Schedule, ...], hw: HardwareSpec, objective: str
                      ) -> tuple[Schedule, ...]:
    """``schedules`` with every pool that is its conv's only reader in a pass of its own: before the depth-first cuts,
    which do not cut a layer with a fused pool (its sums span the whole layer) and may find a better cut of the conv
    alone; ``_pools_with_room`` puts the pool back on the output path of the conv as they left it (whole, cut into
    parts, or in a residency group), where the objective gains."""
    out = list(schedules)
    index = {n.name: i for i, n in enumerate(prep.graph.nodes)}
    for i, sh in enumerate(prep.shapes):
        j = index.get(sh.into, -1) if isinstance(sh, FusedShape) and sh.pool and sh.sole_reader else -1
        if j >= 0 and isinstance(out[j], EpilogueSchedule) and out[j].pool == sh.name:
            out[i], out[j] = _pool_apart(prep, out[j], i, hw, objective)
    return tuple(out)


def _pool_with_room(prep: PreparedGraph, out: list[Schedule] | dict[int, Schedule], i: int, j: int,
                    hw: HardwareSpec, objective: str, under_budget: bool = False) -> None:
    """Put the pool ``i`` (in a pass of its own) on the output path of its conv ``j``, re-searched with the fewest
    words left free that give it room (``_pooled_with_free_words``), where the objective gains; in place."""
    sh = prep.shapes[i]
    plain = out[j]
    fused = _pooled(plain, sh, hw, "latency" if under_budget else objective)
    if fused is None:
        return
    new, now = [FusedSchedule(sh), fused], [out[i], plain]
    if under_budget and summed_value(new, hw, "latency")[0] > summed_value(now, hw, "latency")[0]:
        return
    if summed_value(new, hw, objective) < summed_value(now, hw, objective):
        out[i], out[j] = new


def simulate_prepared(prep: PreparedGraph, hw: HardwareSpec, objective: str = "latency",
                      cycle_budget: int | None = None, over_fastest_pct: float | None = None,
                      splits: bool = True) -> SimulationResult:
    """``cycle_budget`` (energy objective only): the network's least energy with at most that many cycles, the
    vector nodes mapped for energy and the Conv/Gemm nodes chosen together (``mapping.search.budget``) instead
    of each layer for its own least energy. With depth-first fusion on hardware with outer SRAM levels the budget
    is spent on the fastest depth-first mapping instead: layers re-cut for energy (``_trade_within``).
    ``over_fastest_pct`` (instead of ``cycle_budget``): the budget is that many percent above the latency
    objective's network cycles (its mapping is made once, also for the depth-first re-cuts). ``splits``: with
    depth-first fusion on one large SRAM level, also map it split into tiles and a region (``_split_or_whole``)."""
    t0 = time.perf_counter()
    if (cycle_budget is not None or over_fastest_pct is not None) and objective != "energy":
        raise SramflowError(f"a cycle budget needs the energy objective (--objective energy: the least energy "
                            f"within the budget), got {objective!r}")
    if cycle_budget is not None and over_fastest_pct is not None:
        raise SramflowError("give a cycle budget in cycles or as a percentage over the fastest mapping, not both")
    if over_fastest_pct is not None and not 0 < over_fastest_pct < math.inf:
        raise SramflowError(f"a cycle budget over the fastest mapping must be a positive percentage, got "
                            f"{over_fastest_pct}")
    budgeted = cycle_budget is not None or over_fastest_pct is not None
    tried = splits_to_try(prep, hw, budgeted) if splits else ()
    if tried:
        return _split_or_whole(prep, hw, objective, tried, t0)
    return _simulate(prep, hw, objective, cycle_budget, over_fastest_pct, t0)


def splits_to_try(prep: PreparedGraph, hw: HardwareSpec, budgeted: bool = False) -> tuple[int, ...]:
    """The tile buffer sizes ``simulate_prepared`` maps beside the whole SRAM: with depth-first fusion and no cycle
    budget, ``hw.partition.split_candidates`` (none on hardware with outer levels or a small SRAM)."""
    return split_candidates(hw) if prep.fusion == "depth-first" and not budgeted else ()


def _split_or_whole(prep: PreparedGraph, hw: HardwareSpec, objective: str, tried: tuple[int, ...], t0: float
                    ) -> SimulationResult:
    """Depth-first on one SRAM level: the mapping of the whole SRAM as tile buffer, and of each split of it into a
    tile buffer and a region (``hw.partition``; ``tried``: their tile bytes); the best by ``objective``, the whole
    SRAM on ties. Their cycles are compared with their first loads counted (``first_load_cycles``): a split runs its
    layers' channel chunks and bands each from empty buffers, so it has several times the whole SRAM's first loads,
    which the overlapped cycle model leaves out; a split is kept only where it wins with them."""
    best, best_key = None, None
    for h in (hw, *(partitioned(hw, b) for b in tried)):
        r = _simulate(prep, h, objective, None, None, t0)
        tot = total_json(list(r.nodes), h.clock_mhz)
        key = objective_key(tot["cycles"] + r.first_load_cycles, tot["energy_uj"], objective)
        if best_key is None or key < best_key:
            best, best_key = r, key
    assert best is not None
    return dataclasses.replace(best, wall_s=time.perf_counter() - t0, splits_tried=tried)


def _simulate(prep: PreparedGraph, hw: HardwareSpec, objective: str, cycle_budget: int | None,
              over_fastest_pct: float | None, t0: float) -> SimulationResult:
    split_memo: dict = {}  # the parts' searches: the scale decision cuts its options as ``choose_splits`` will
    groups: tuple[Group, ...] = ()
    fastest: int | None = None
    traded = None
    if cycle_budget is not None or over_fastest_pct is not None:
        f = _fastest_depth_first(prep, hw)
        if over_fastest_pct is not None:
            # without depth-first re-cuts (one SRAM level, another fusion mode) the fastest is a plain latency run
            # (of the whole SRAM: a budget on one level maps no split)
            fastest = f.cycles if f is not None else \
                sum(r.cycles for r in _simulate(prep, hw, "latency", None, None, t0).nodes)
            cycle_budget = int(fastest * (1 + over_fastest_pct / 100))
        traded = _trade_within(prep, hw, cycle_budget, f) if f is not None else None
    recut = 0
    if traded is not None:
        schedules, groups, recut = traded
    elif cycle_budget is not None:  # one SRAM level, or no depth-first: the budgeted per-layer choice
        schedules = _within_budget(prep, hw, cycle_budget)
    else:
        schedules = _choose(prep, hw, objective, split_memo=split_memo)
        if prep.fusion == "depth-first":  # bands / chunks of a layer, then cross-layer residency, in outer SRAM
            # levels (none on one-level hardware)
            schedules, groups, _, _ = _depth_first(prep, schedules, hw, objective, split_memo)
    results = [price(node.name, node.op, sch, hw) for node, sch in zip(prep.graph.nodes, schedules)]
    return SimulationResult(prep.graph.name, hw, objective, tuple(schedules), tuple(results), (),
                            time.perf_counter() - t0, cycle_budget, prep.fusion, groups, recut, over_fastest_pct,
                            fastest)


PoolPairs = list[tuple[tuple[int, ...], tuple[Schedule, ...]]]  # (pool index, conv index) and their schedules


def _depth_first(prep: PreparedGraph, before: tuple[Schedule, ...], hw: HardwareSpec, objective: str,
                 split_memo: dict) -> tuple[tuple[Schedule, ...], tuple[Group, ...], tuple[Schedule, ...], PoolPairs]:
    """The depth-first schedules of ``before`` (per-layer ones), their groups, the cuts chosen on the way
    (``choose_splits``, before any cross-layer group), and the SE pools that ``_pools_with_room`` could have put on
    their conv's output path but the objective declined."""
    chosen = choose_splits(before, hw, objective, split_memo)
    schedules, groups = plan_groups(prep.graph, chosen, hw, objective)
    search = BandSearcher(hw, objective)  # band groups' part searches: the SE barrier's recompute tries the same cuts
    schedules, groups = plan_bands(prep.graph, schedules, groups, hw, objective, search,  # two layers band by band
                                   _pool_offers(prep, schedules, hw, objective))
    schedules, declined = _pools_with_room(prep, before, schedules, hw, objective)
    schedules, groups = plan_recompute(prep.graph, schedules, groups, hw, objective, search)  # across the SE barrier
    return schedules, groups, chosen, declined


def _pools_with_room(prep: PreparedGraph, before: tuple[Schedule, ...], final: tuple[Schedule, ...],
                     hw: HardwareSpec, objective: str) -> tuple[tuple[Schedule, ...], PoolPairs]:
    """On hardware with outer levels: each SE pool left in a pass of its own for want of first-level words put on its
    conv's output path, that conv re-searched with the words free (``_pool_alternatives``), where the objective
    gains (the pool's pass reads the whole feature map back); and the alternatives declined."""
    if hierarchy(hw) is None:
        return final, []
    out, declined = list(final), []
    for (i, j), (pool, conv) in _pool_alternatives(prep, before, final, hw, objective):
        if summed_value([pool, conv], hw, objective) < summed_value([out[i], out[j]], hw, objective):
            out[i], out[j] = pool, conv
        else:
            declined.append(((i, j), (pool, conv)))
    return tuple(out), declined


@dataclass(frozen=True)
class FastestMapping:
    """The latency objective's depth-first mapping, with what ``_trade_within`` re-cuts from it."""

    cycles: int  # the network's
    memo: dict  # the cuts priced on the way (``choose_split``)
    before: tuple[Schedule, ...]  # per-layer schedules
    schedules: tuple[Schedule, ...]  # depth-first
    groups: tuple[Group, ...]
    chosen: tuple[Schedule, ...]  # the cuts chosen before any cross-layer group
    declined_pools: PoolPairs


def _fastest_depth_first(prep: PreparedGraph, hw: HardwareSpec) -> FastestMapping | None:
    """The latency objective's depth-first mapping on hardware with outer SRAM levels; None where depth-first
    re-cuts do not apply (one SRAM level, another fusion mode)."""
    if prep.fusion != "depth-first" or hierarchy(hw) is None:
        return None
    memo: dict = {}
    before = _choose(prep, hw, "latency", split_memo=memo)
    schedules, groups, chosen, pools = _depth_first(prep, before, hw, "latency", memo)
    cycles, _ = _network_cost(prep, schedules, hw)
    return FastestMapping(cycles, memo, before, schedules, groups, chosen, pools)


def _trade_within(prep: PreparedGraph, hw: HardwareSpec, cycle_budget: int, f: FastestMapping
                  ) -> tuple[tuple[Schedule, ...], tuple[Group, ...], int]:
    """Depth-first on hardware with outer SRAM levels under a cycle budget: the latency objective's depth-first
    mapping ``f`` (``_fastest_depth_first``), then layers re-cut for energy with the cycles the budget leaves
    (``trade_cuts``: another way to cut the same layer into parts, e.g. keeping its weights and its input in the
    outer level at a few more cycles, or the same cut with its parts' tilings searched for energy, or an SE pool put
    on its conv's output path); the third value: how many layers (or pool and conv pairs) were re-mapped.
    ``MappingError`` naming the fastest mapping's cycles where it does not fit the budget (no mapping found here has
    fewer)."""
    if f.cycles > cycle_budget:
        raise MappingError(f"--cycle-budget {cycle_budget:,} is below the {f.cycles:,} cycles of the least feasible "
                           f"mapping (the latency objective's, fusion {prep.fusion}): raise the budget or use "
                           "--objective latency")
    energy_memo: dict = {}  # the same cuts with their parts' tilings searched for energy
    for b, c, s in zip(f.before, f.chosen, f.schedules):
        if s is c:
            choose_split(b, hw, "energy", energy_memo)
    schedules, recut = trade_cuts(f.schedules, f.chosen, f.before, (f.memo, energy_memo), hw,
                                  cycle_budget - f.cycles, f.declined_pools)
    return schedules, f.groups, recut


def _pool_alternatives(prep: PreparedGraph, before: tuple[Schedule, ...], final: tuple[Schedule, ...],
                       hw: HardwareSpec, objective: str) -> PoolPairs:
    """SE pools left in a pass of their own because their conv's fastest tiling fills the first level (no words for
    one channel tile's running sums, ``pool_plan``): (pool index, conv index) with the pool on the output path of
    that conv re-searched (same staged operands, kept tensors in the same words) with a few words left free: a
    whole conv, a layer cut into parts, or a residency group's conv."""
    out: PoolPairs = []
    index = {n.name: i for i, n in enumerate(prep.graph.nodes)}
    for i, sh in enumerate(prep.shapes):
        if not (isinstance(sh, FusedShape) and sh.pool) or before[i].unit == "fused":
            continue
        j = index[sh.into]
        plain = before[j]
        if final[i] is before[i] and isinstance(final[j], SplitSchedule):  # a layer cut into parts, or a
            # channel-chunk band group's consumer
            got = _parts_pool(final[j], sh, hw, objective)
            if got is not None:
                out.append(((i, j), (FusedSchedule(sh), got)))
            continue
        if final[i] is not before[i]:
            continue
        conv = final[j].conv if isinstance(final[j], EpilogueSchedule) else final[j]
        if final[j] is not plain and not isinstance(conv, ResidentConvSchedule):
            continue
        fused = _pooled(final[j], sh, hw, objective)  # whole, or a residency group's conv (``mapping.depth_first``)
        if fused is not None:
            out.append(((i, j), (FusedSchedule(sh), fused)))
    return out


def _pooled(sch: Schedule, sh: FusedShape, hw: HardwareSpec, objective: str) -> EpilogueSchedule | None:
    """``sch`` (a conv, or its group with neither a pool, a residual Add nor an SE scale) with the pool ``sh`` on its
    output path, re-searched with the fewest first-level words left free that give the sums room
    (``_pooled_with_free_words``; a conv that a residency group left with a kept tensor keeps it in the same words);
    None where it takes no pool or no re-search has room."""
    conv = sch.conv if isinstance(sch, EpilogueSchedule) else sch
    if not isinstance(conv, ConvSchedule) or \
            isinstance(sch, EpilogueSchedule) and (sch.pool or sch.residual or sch.input_scale):
        return None
    got = next(_pooled_with_free_words(sch, sh, hw, objective), None)
    return None if got is None else got[1]


def _pooled_with_free_words(whole: Schedule, sh: FusedShape, hw: HardwareSpec, objective: str,
                            unstaged: frozenset[str] = frozenset()) -> Iterator[tuple[int, EpilogueSchedule]]:
    """(words left free, ``whole`` with the SE pool ``sh`` on its output path) for each of ``POOL_RESERVE_WORDS``
    whose re-searched tiling (``with_free_words``, ``unstaged`` operands no longer staged) has room for the sums. A
    conv with tensors a residency group keeps in an outer level is re-searched with them in the same words and its
    outputs unstaged (``depth_first_split.with_room``)."""
    conv = whole.conv if isinstance(whole, EpilogueSchedule) else whole
    for reserve in POOL_RESERVE_WORDS:
        new = with_room(conv, hw, reserve, objective) if isinstance(conv, ResidentConvSchedule) else \
            with_free_words(conv, hw, reserve, objective, unstaged)
        if new is None or pool_plan(new) is None:
            continue
        yield reserve, (dataclasses.replace(whole, conv=new, pool=sh.name, pool_sole_reader=sh.sole_reader)
                        if isinstance(whole, EpilogueSchedule) else
                        EpilogueSchedule(new, (), hw.vector_unit.lanes, "", hw.offchip.burst_bytes, "", sh.name,
                                         pool_sole_reader=sh.sole_reader))


def _pool_offers(prep: PreparedGraph, schedules: tuple[Schedule, ...], hw: HardwareSpec, objective: str
                 ) -> dict[int, PoolOffer]:
    """Per conv node index: its SE pool, in a pass of its own now, offered to the conv's band group
    (``depth_first_bands.PoolOffer``; its whole schedule with the pool is re-searched with words free for the sums,
    ``_pooled``). The per-layer choice priced the pool fused with the whole conv; a band group searches its parts
    anew and may carry the sums across its bands, which that choice never saw."""
    if hierarchy(hw) is None:  # no band groups
        return {}
    index = {n.name: i for i, n in enumerate(prep.graph.nodes)}
    out = {}
    for i, sh in enumerate(prep.shapes):
        if not (isinstance(sh, FusedShape) and sh.pool) or isinstance(schedules[i], FusedSchedule):
            continue
        j = index[sh.into]
        whole = schedules[j].whole if isinstance(schedules[j], SplitSchedule) else schedules[j]
        pooled = _pooled(whole, sh, hw, objective)
        if pooled is not None:
            out[j] = PoolOffer(i, pooled, FusedSchedule(sh))
    return out


def _parts_pool(split: SplitSchedule, sh: FusedShape, hw: HardwareSpec, objective: str) -> Schedule | None:
    """A layer cut into parts with the pool ``sh`` on its parts' output paths, with the fewest first-level words
    left free that give the layer's own schedule and every part room for the sums: a channel-chunk band group's
    consumer (``depth_first_bands.with_pool``), or a layer cut on its own, a chunk's sums carried across its row
    bands (``depth_first_split.split_with_pool``); None where none do."""
    whole = split.whole
    band = isinstance(split, BandSplitSchedule)
    if band and split.halo != "none" or any(getattr(whole, a, "") for a in ("pool", "residual", "input_scale")):
        return None
    for reserve, pooled in _pooled_with_free_words(whole, sh, hw, objective, frozenset({"outputs"})):
        got = with_pool(split, pooled, hw, objective, reserve) if band else \
            split_with_pool(split, pooled, hw, objective, reserve)
        if got is not None:
            return got
    return None


BUDGET_ROUNDS = 24  # re-choices under a cycle budget at most (B0 on design1: 1-12)
BUDGET_RESOLUTION = 10_000  # the bisection stops within this fraction of the budget


def _choose(prep: PreparedGraph, hw: HardwareSpec, objective: str, cycle_budget: int | None = None,
            split_memo: dict | None = None) -> tuple[Schedule, ...]:
    """Per-layer schedules (or the budgeted Conv/Gemm rows), then the fused groups and their per-group fallbacks."""
    schedules = fuse_schedules(prep, choose_schedules(prep.shapes, hw, objective, cycle_budget), hw, objective)
    schedules = decide_input_scales(prep, schedules, hw, objective, under_budget=cycle_budget is not None,
                                    split_memo=split_memo)
    schedules = decide_residuals(prep, schedules, hw, objective, split_memo, under_budget=cycle_budget is not None)
    schedules = decide_pools(prep, schedules, hw, objective, under_budget=cycle_budget is not None)
    if prep.fusion == "depth-first" and hierarchy(hw) is not None:  # the depth-first cuts come next
        schedules = _sole_pools_apart(prep, schedules, hw, objective)
    return schedules


def _network_cost(prep: PreparedGraph, schedules: tuple[Schedule, ...], hw: HardwareSpec) -> tuple[int, float]:
    """(cycles, energy in uJ) of the whole graph."""
    results = [price(n.name, n.op, s, hw) for n, s in zip(prep.graph.nodes, schedules)]
    return sum(r.cycles for r in results), sum(r.energy_uj for r in results)


def _within_budget(prep: PreparedGraph, hw: HardwareSpec, cycle_budget: int) -> tuple[Schedule, ...]:
    """The energy objective's schedules within ``cycle_budget`` network cycles. The budget chooses the Conv/Gemm
    rows on their own shapes (``mapping.search.budget``); the groups they land in then add cycles that choice does
    not see (an epilogue's vector work, a fused SE scale that falls back to a pass of its own, each decided for
    energy). So the budget handed to that choice is searched: lowered by the overshoot (doubling while the choice
    does not move), then bisected between the largest that fits and the smallest that does not, to
    1 / ``BUDGET_RESOLUTION`` of the budget. The fastest mapping (the latency objective's) is taken where it fits
    and uses less energy than that choice, or where none fits; where it does not fit either, ``MappingError`` names
    its cycles."""
    fit: tuple[int, tuple[Schedule, ...], float] | None = None  # the largest target that fits, its choice, its uJ
    over_at: int | None = None  # the smallest target that overshoots (or is below any mapping)
    target, last, stuck = cycle_budget, None, 0
    for _ in range(BUDGET_ROUNDS):
        try:
            schedules = _choose(prep, hw, "energy", target)
            cycles, energy = _network_cost(prep, schedules, hw)
        except MappingError:
            cycles = None
        if cycles is not None and cycles <= cycle_budget:
            fit = (target, schedules, energy)
            if target == cycle_budget:
                break
        else:
            over_at = target
        if fit is None and cycles is not None:  # nothing fits yet: step down by the overshoot
            stuck = stuck + 1 if cycles == last else 0  # the greedy's last step is larger than the overshoot
            target, last = target - ((cycles - cycle_budget) << stuck), cycles
        elif fit is None:
            break  # below every mapping before anything fit
        else:
            assert over_at is not None
            if over_at - fit[0] <= max(1, cycle_budget // BUDGET_RESOLUTION):
                break
            target = (fit[0] + over_at) // 2
    fastest = _choose(prep, hw, "latency")
    cycles, energy = _network_cost(prep, fastest, hw)
    if cycles <= cycle_budget:  # the budgeted choice is a heuristic around fused groups: never worse than these
        traded, _ = greedy_moves(fastest, _retiled(prep, fastest, hw), hw, cycle_budget - cycles)
        options = [(energy, 0, fastest), (_network_cost(prep, traded, hw)[1], 1, traded)]
        return min([*options, *([(fit[2], 2, fit[1])] if fit is not None else [])], key=lambda o: o[:2])[2]
    if fit is not None:
        return fit[1]
    raise MappingError(f"--cycle-budget {cycle_budget:,} is below the {cycles:,} cycles of the least feasible mapping "
                       f"(the latency objective's, fusion {prep.fusion}): raise the budget or use --objective latency")


def _retiled(prep: PreparedGraph, schedules: tuple[Schedule, ...], hw: HardwareSpec) -> Moves:
    """The moves ``greedy_moves`` may make from ``schedules`` (the latency objective's, groups and fallbacks as
    decided): each Conv/Gemm group with its convolution re-tiled along its tiling table's Pareto rows (the fused
    shape's table: a tiling the group cannot carry is skipped; a held SE vector without the words is fetched per
    load instead, ``EpilogueSchedule.with_conv``), and each vector pass mapped for energy. The budgeted choice
    (``mapping.search.budget``) maps every vector pass for energy and re-decides the groups, so a budget a few tenths
    of a percent over the fastest mapping may fit none of its choices; these moves spend such a budget."""
    tables: dict[ConvShape, tuple] = {}
    units: Moves = {}
    for i, s in enumerate(schedules):
        conv = s.conv if isinstance(s, EpilogueSchedule) else s
        if isinstance(s, VectorSchedule):
            alt = map_shape(s.shape, hw, "energy")
            if alt != s:
                units[(i,)] = [(schedule_metrics(alt, hw), (alt,))]
            continue
        if type(conv) is not ConvSchedule:  # a fused node, a Softmax, or a schedule of another kind
            continue
        if conv.shape not in tables:
            hwp, table = conv_table(conv.shape, hw)
            tables[conv.shape] = (hwp, table, pareto_rows(table, hw)[2])
        hwp, table, rows = tables[conv.shape]
        opts = []
        for r in rows:
            try:
                new = row_schedule(conv.shape, hwp, table, int(r))
                o = s.with_conv(new) if isinstance(s, EpilogueSchedule) else new
            except MappingError:  # partial sums where a residual Add's skip tile goes, no room for a pool's sums
                continue
            opts.append((schedule_metrics(o, hw), (o,)))
        if opts:
            units[(i,)] = opts
    return units


def bounds(sch: Schedule, hw: HardwareSpec) -> Bounds:
    b = shape_bounds(sch.shape, sch.counts, hw)
    if isinstance(sch, RecomputeSchedule):  # its cycles include the layers it computes again: so does the bound
        macs = sch.shape.macs + sum(a.shape.macs for a in sch.again)
        b = dataclasses.replace(b, compute_cycles=ceil_div(macs, hw.mac_array.macs_per_cycle))
    group = sch.whole if isinstance(sch, SplitSchedule) else sch  # a layer in parts: its whole group's pool (every
    # part removes the output stores where the whole does, ``depth_first_split.split_with_pool``)
    plan = group.pool_plan if isinstance(group, EpilogueSchedule) else None
    if plan is None or plan.stores is None:
        return b
    # the output is never written, only the pool's means: any schedule of the group plus one store of each output
    # is a schedule of the convolution, so its bounds less the output bytes (plus the means) still bound the group
    out, means = sch.shape.output_bytes, plan.channels
    nbytes = b.compulsory_bytes - out + means
    io = max(b.io_bytes - out, 0) + means if b.io_bytes else 0
    return Bounds(b.compute_cycles, _link_cycles(nbytes, hw), nbytes, io)


def shape_bounds(sh: ConvShape | VectorShape, c: Counts, hw: HardwareSpec) -> Bounds:
    """Lower bounds of a node with counts ``c``: compute cycles, compulsory off-chip bytes (and their cycles) and,
    for a Conv/Gemm, the communication bound given the on-chip capacity (``mapping.io_bound``)."""
    io = 0
    if isinstance(sh, ConvShape):
        nbytes = compulsory_bytes(sh)
        io = io_lower_bound_bytes(sh, onchip_capacity_bytes(hw))
        compute = ceil_div(c.vector_ops, hw.vector_unit.lanes) if sh.pool_op else \
            ceil_div(sh.macs, hw.mac_array.macs_per_cycle)
    else:
        nbytes = c.offchip_bytes  # vector nodes move each operand exactly once: their traffic is compulsory
        compute = ceil_div(c.vector_ops + c.lut_ops, hw.vector_unit.lanes)
    return Bounds(int(compute), _link_cycles(nbytes, hw), int(nbytes), int(io))


def _link_cycles(nbytes: float, hw: HardwareSpec) -> int:
    """Cycles the off-chip link needs for ``nbytes`` at its bandwidth alone (a bound: no transaction overhead)."""
    return int(-(-nbytes // hw.offchip.bandwidth_bytes_per_cycle))


def level_traffic(sch: Schedule, hw: HardwareSpec) -> dict[str, dict[str, int]] | None:
    """Bytes per adjacent memory level pair and operand, on hardware with outer SRAM levels (else None)."""
    if len(hw.sram) < 2:
        return None
    if isinstance(sch, SplitSchedule):  # the parts' traffic, summed
        parts = [level_traffic(p.schedule, hw) or {} for p in sch.parts]
        return {pair: {o: sum(t[pair][o] for t in parts) for o in parts[0][pair]} for pair in parts[0]}
    names = tuple(m.name for m in hw.sram)
    conv = sch.conv if isinstance(sch, EpilogueSchedule) else sch
    if isinstance(conv, ConvSchedule) and conv.levels is not None:
        out = pair_traffic(conv.operand_bytes, conv.staged, conv.staged_levels, hw.offchip.name, names)
        if isinstance(conv, ResidentConvSchedule):  # a depth-first group's tensor does not cross the link
            out = kept_traffic(out, conv, hw.offchip.name, names)
        # an SE scale on the input path: its bytes come from off-chip memory with each input tile load, or its
        # vector once into the level holding it (from level k, each load's words into the vector unit); a fused
        # pool's means go off-chip from the first level, its sums carried across row bands to and from level k
        pair = out[f"{hw.offchip.name}<->{names[0]}"]
        extra = sch.counts.offchip_input_bytes - conv.counts.offchip_input_bytes
        held = getattr(sch, "scale_plan", None)
        if held is not None and held.level > 0:
            out[f"{hw.offchip.name}<->{names[held.level]}"]["inputs"] += held.fill_bytes
            for j in range(1, held.level + 1):
                out[f"{names[j]}<->{names[j - 1]}"]["inputs"] += held.word_reads * held.word_bytes
            extra -= held.fill_bytes
        pair["inputs"] += extra
        pair["outputs"] += sch.counts.offchip_output_bytes - conv.counts.offchip_output_bytes
        pool = getattr(sch, "pool_plan", None)
        if pool is not None and pool.carry is not None:
            cy = pool.carry
            wb = hw.sram[cy.level].word_bytes
            moved = pool.channels * cy.words_per_channel * wb * (int(cy.carry_in) + int(cy.carry_out))
            out[f"{names[cy.level]}<->{names[cy.level - 1]}"]["outputs"] += moved
        return out
    c = sch.counts  # nothing staged: every operand moves between off-chip memory and the first level
    return direct_traffic({"weights": c.offchip_weight_bytes, "inputs": c.offchip_input_bytes,
                           "outputs": c.offchip_output_bytes,
                           "psums": c.offchip_psum_read_bytes + c.offchip_psum_write_bytes}, hw.offchip.name, names)


def price(name: str, op: str, sch: Schedule, hw: HardwareSpec) -> NodeResult:
    traffic = level_traffic(sch, hw)
    if sch.unit == "fused":
        zero = {k: 0 for k in resources(hw)}
        return NodeResult(name, op, "fused", sch.counts, zero, False, 0, 0.0, {k: 0.0 for k in components(hw)},
                          Bounds(0, 0, 0), "fused", sch.note, traffic)
    c = sch.counts
    cdict = {f.name: getattr(c, f.name) for f in dataclasses.fields(c)}
    busy = {k: int(v) for k, v in busy_cycles(cdict, hw).items()}
    overlap = sch.double_buffered
    # a layer run in parts: they run one after the other, so its cycles are the parts' sum
    cycles = sch.cycles(hw) if isinstance(sch, SplitSchedule) else int(total_cycles(busy, overlap))
    energy = {k: float(v) for k, v in energy_pj(cdict, hw, cycles).items()}
    main = {k: busy[k] for k in resources(hw)}
    binding = max(main, key=lambda k: (main[k], k))
    return NodeResult(name, op, sch.unit, c, main, bool(overlap), cycles, cycles / (hw.clock_mhz * 1e3), energy,
                      bounds(sch, hw), binding, level_traffic=traffic)


def unique_shapes(prep: PreparedGraph) -> tuple[tuple, np.ndarray]:
    return prep.distinct_shapes


def simulate_totals(prep: PreparedGraph, hw: HardwareSpec, objective: str = "latency",
                    plans: PlanCache = DEFAULT_PLANS) -> dict[str, Any]:
    """``sim.results.total_json`` of ``simulate_prepared(prep, hw, objective).nodes`` without building per-node
    results: every distinct shape's schedule is chosen by one ``mapping.search.plan.PointPlan`` pass (the same rows
    as ``simulate_prepared``), the chosen counts are priced in one vectorized pass with the same formulas
    (``cost.model``; element-wise, so the same values), and the totals summed by the same ``network_totals``
    (identical totals; ``tests/test_sweep_totals.py``). For sweeps, which need totals; ``plans``: the caller's
    plans and tiling tables."""
    if objective not in OBJECTIVES:
        raise SramflowError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    scales = any(isinstance(s, FusedShape) and (s.input_scale or s.residual or s.pool and not s.sole_reader)
                 for s in prep.shapes)
    shapes, node_idx = unique_shapes(prep)
    pools = _sole_pool_pairs(prep)
    shared = any(int(np.count_nonzero(node_idx == node_idx[j])) > 1 for _, j in pools)
    if len(hw.sram) > 1 or scales or shared or splits_to_try(prep, hw):
        # the vectorized plan knows one SRAM level (staging is chosen per node by map_shape; no split of it into
        # tiles and a region) and no per-group fusion decision (``decide_input_scales``, ``fuse_schedules``'
        # residuals) but that of a classifier's pool, decided below for its own conv (a shape of no other node)
        return total_json(list(simulate_prepared(prep, hw, objective).nodes), hw.clock_mhz)
    plan = point_plan(shapes, hw, plans)
    if plan.error is not None:
        raise MappingError(*plan.error.args)
    rows = plan.choose(hw, objective)
    u = len(shapes)
    mat = np.zeros((u, len(COUNT_FIELDS)), dtype=np.int64)
    fused = np.array([j < 0 for j in plan.seg_of], dtype=bool)
    overlap_u = np.zeros(u, dtype=bool)
    chosen: list[Counts | None] = [None] * u
    for i, j in enumerate(plan.seg_of):
        if j >= 0:
            chosen[i], mat[i], overlap_u[i] = plan.counts(j, rows[j])
            sh = shapes[i]
            if isinstance(sh, ConvShape) and (sh.epilogue_ops or sh.epilogue_lut or sh.input_scale_ops):
                conv = row_schedule(plan.segs[j].shape, *plan.segs[j].source, rows[j]) if sh.input_scale_ops else None
                chosen[i] = with_epilogue(chosen[i], sh, hw.vector_unit.lanes, conv, hw.offchip.burst_bytes)
                mat[i] = [getattr(chosen[i], f) for f in COUNT_FIELDS]  # as ``fuse_schedules`` adds it
    priced = np.flatnonzero(~fused)
    cd = {f: mat[priced, i] for i, f in enumerate(COUNT_FIELDS)}
    busy = busy_cycles(cd, hw)
    cyc_p = np.asarray(total_cycles(busy, overlap_u[priced]), dtype=np.int64)
    en_p = energy_pj(cd, hw, cyc_p)
    cycles = np.zeros(u, dtype=np.int64)
    cycles[priced] = cyc_p
    energy = {}
    for k in COMPONENTS:  # one SRAM level here: its components and resources
        e = np.zeros(u, dtype=np.float64)
        e[priced] = np.broadcast_to(np.asarray(en_p[k], dtype=np.float64), (priced.size,))
        energy[k] = e.tolist()
    main = {k: np.zeros(u, dtype=np.int64) for k in RESOURCES}
    for k in RESOURCES:
        main[k][priced] = np.asarray(busy[k], dtype=np.int64) if k != "offchip" else busy[k]
    main_l = {k: v.tolist() for k, v in main.items()}
    binding, lb, mac_unit, lb_bytes = [], [], [], []
    for j, (shape, c) in enumerate(zip(shapes, chosen)):
        if c is None:
            binding.append("fused")
            lb.append(0)
            lb_bytes.append(0)
            mac_unit.append(False)
            continue
        m = {k: main_l[k][j] for k in RESOURCES}
        binding.append(max(m, key=lambda k: (m[k], k)))
        b = shape_bounds(shape, c, hw)
        lb.append(b.cycles)
        lb_bytes.append(b.offchip_bytes)
        mac_unit.append(isinstance(shape, ConvShape) and not shape.pool_op)
    cycles_l = cycles.tolist()
    for i, j in pools:  # the pool and its conv as ``simulate_prepared`` maps and prices them
        for k, sch in zip((i, j), _pool_pair(prep, plan, rows, node_idx, i, j, hw, objective)):
            r, u = price(prep.graph.nodes[k].name, prep.graph.nodes[k].op, sch, hw), int(node_idx[k])
            mat[u] = [getattr(r.counts, f) for f in COUNT_FIELDS]
            cycles_l[u], binding[u], lb[u], lb_bytes[u] = r.cycles, r.binding_resource, r.bounds.cycles, \
                r.bounds.offchip_bytes
            mac_unit[u] = r.unit == "mac"
            for comp in energy:
                energy[comp][u] = r.energy_pj_by_component[comp]
    return network_totals(node_idx.tolist(), hw.clock_mhz, cycles_l, energy, mat, binding, lb, mac_unit, lb_bytes)


def _sole_pool_pairs(prep: PreparedGraph) -> list[tuple[int, int]]:
    """(pool, conv) node indices of the pools that are their conv's output's only reader."""
    index = {n.name: i for i, n in enumerate(prep.graph.nodes)}
    return [(i, index[sh.into]) for i, sh in enumerate(prep.shapes)
            if isinstance(sh, FusedShape) and sh.pool and sh.sole_reader]


def _pool_pair(prep: PreparedGraph, plan, rows, node_idx: np.ndarray, i: int, j: int,  # noqa: ANN001
               hw: HardwareSpec, objective: str) -> tuple[Schedule, Schedule]:
    """The schedules of the pool ``i`` and its conv ``j`` (the row ``plan`` chose for the conv's shape) after
    ``fuse_schedules`` and ``decide_pools``."""
    seg = plan.segs[plan.seg_of[int(node_idx[j])]]
    conv = row_schedule(seg.shape, *seg.source, rows[plan.seg_of[int(node_idx[j])]])
    name = prep.graph.nodes[j].name
    members = tuple(s.name for s in prep.shapes if isinstance(s, FusedShape) and s.into == name and s.link)
    pooled = pool_plan(conv) is not None
    sh = prep.shapes[i]
    group = EpilogueSchedule(conv, members, hw.vector_unit.lanes, "", hw.offchip.burst_bytes, "",
                             sh.name if pooled else "", pool_sole_reader=pooled)
    pair = {i: FusedSchedule(sh) if pooled else map_shape(lower(prep.graph, prep.graph.nodes[i]), hw, objective),
            j: group if members or pooled else conv}
    _decide_pool(prep, pair, i, j, hw, objective)
    return pair[i], pair[j]
