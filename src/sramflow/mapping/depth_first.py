"""Depth-first groups, phase 1: cross-layer residency of whole intermediate tensors in an outer SRAM level
(``--fusion depth-first``; issue 17 item 2).

A group is a producer Conv / Gemm (with its fused epilogue) and the one Conv / Gemm that reads its output: the
tensor between them is written into an outer SRAM level k by the producer's output tiles and read from there by
the consumer's input tiles, so it never crosses the off-chip link (no drain, no fill). Chains form by sharing
nodes: expand 1x1 -> depthwise, SE fc1 -> fc2, and any Conv -> Conv edge whose tensor fits.

Which edges qualify (``candidate_edges``): the producer's output tensor has exactly one reader, that reader is a
Conv / Gemm pass with no SE scale on its input path and no residual Add on its output path (those read or write
off-chip tensors tile by tile, ``mapping.epilogue``), the producer has no residual Add either, and no Conv / Gemm
runs between them (vector passes never touch outer levels). An SE global average pool reads the depthwise output
as well, so that tensor has two readers: the SE is a barrier and the depthwise output crosses off-chip once each
way, as in epilogue fusion. Tensors too large for the level (early 112x112 / 56x56 blocks) are not kept here:
``mapping.depth_first_bands`` (phase 2) runs such a pair part by part with each band in the level.

Per edge and level the producer is re-mapped with its output staged in level k and the consumer with its input
staged there (``search_staged_with``: the same searched tilings and placements, restricted), and the pair is
kept only where (cycles, energy) of the two nodes, combined by the objective, improves on their per-layer
schedules; elsewhere the group falls back to per-layer (epilogue) mapping. Edges are decided greedily in graph
order; a node in two groups keeps both its resident input and output.

Counts (``kept_counts``): a resident input is not filled (no off-chip bytes or transactions for it, no fill write
into level k); a resident output is not drained (no off-chip bytes or transactions, no drain read of level k). The
tile traffic between level k and the first level is unchanged. Placement: the resident tensor sits at the top of
level k (``cap - words``), or right below the producer's own resident input when that holds the top; the other
staged operands are allocated from word 0 up (``funcsim.levels``), and a group is formed only where they end
below the resident tensors. A resident operand listed in ``filled`` is only placed (at its base word) and is
filled as a staged operand is: the first channel chunk of a cut that keeps both operands lays the input out there
(``depth_first_split.BOTH_KEPT_AXIS``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property

from sramflow.cost.counts import Counts, ceil_div
from sramflow.hw.spec import HardwareSpec
from sramflow.ir.graph import Graph
from sramflow.mapping.conv_schedule import ConvSchedule
from sramflow.mapping.epilogue import EpilogueSchedule
from sramflow.mapping.fused import FusedSchedule
from sramflow.mapping.schedule import Schedule
from sramflow.mapping.search.choose import objective_key, schedule_metrics, search_staged_with
from sramflow.mapping.staging import Hierarchy, footprint_words, transactions

RESIDENT = ("weights", "inputs", "outputs")


@dataclass(frozen=True)
class ResidentConvSchedule(ConvSchedule):
    """A conv schedule whose staged input and / or output stays in its outer level across a depth-first group's
    edge, or whose staged weights stay there from the part before (a channel chunk's row bands,
    ``depth_first_split``): ``resident`` names them (a subset of ``staged``), ``resident_base`` the first word of
    each in its level."""

    resident: tuple[str, ...] = ()
    resident_base: tuple[int, ...] = ()
    # resident operands this part still fills from off-chip memory, at their base word: a cut whose first channel
    # chunk lays the input out band by band in a region that the later chunks read (``depth_first_split``)
    filled: tuple[str, ...] = ()
    # level-1 words up to which such a region reaches: a held SE vector goes above it, not above this part's band
    region_end: int = 0
    # level words read and written (each) before this part runs to move a band group's cached halo rows to the
    # front of its band (``mapping.depth_first_bands``, halo "cache"); in the level of the resident inputs
    copied_words: int = 0
    # words at the bottom of the level of the resident inputs that this part stages nothing in: a band group's
    # producer keeps its weights there from band to band (``mapping.depth_first_bands``, ``keep_weights``)
    floor_words: int = 0

    @cached_property
    def counts(self) -> Counts:
        return kept_counts(ConvSchedule.counts.func(self), self)

    def resident_in(self, operand: str) -> tuple[int, int] | None:
        """(level, base word) of a resident operand, None when it is not resident."""
        if operand not in self.resident:
            return None
        return dict(zip(self.staged, self.staged_levels))[operand], self.resident_base[self.resident.index(operand)]


def kept_counts(c: Counts, sch: ResidentConvSchedule) -> Counts:
    """``c`` (the staged counts) without the off-chip fill of resident weights or a resident input and the drain of
    a resident output, nor their accesses of the level (the fill write, the drain read); plus the level reads and
    writes of a band group's cached halo rows (``copied_words``)."""
    h = sch.levels
    if not sch.resident or h is None:
        return c
    where = dict(zip(sch.staged, sch.staged_levels))
    reads, writes = list(c.level_reads), list(c.level_writes)
    d_w = d_in = d_out = bursts = 0
    for o in sch.resident:
        if o in sch.filled:  # laid out at its base, but crossing the link as a staged operand does
            continue
        whole = sch.operand_bytes[o].whole
        k = where[o]
        words = ceil_div(whole, h.level(k).word_bytes)
        bursts += transactions(whole, h.offchip_burst_bytes)
        if o == "weights":
            d_w += whole
            writes[k - 1] -= words
        elif o == "inputs":
            d_in += whole
            writes[k - 1] -= words
        else:
            d_out += whole
            reads[k - 1] -= words
    if sch.copied_words:
        k = where["inputs"]
        reads[k - 1] += sch.copied_words
        writes[k - 1] += sch.copied_words
    return dataclasses.replace(c, offchip_weight_bytes=c.offchip_weight_bytes - d_w,
                               offchip_input_bytes=c.offchip_input_bytes - d_in,
                               offchip_output_bytes=c.offchip_output_bytes - d_out,
                               dma_bursts=c.dma_bursts - bursts, level_reads=tuple(reads), level_writes=tuple(writes))


def kept_traffic(traffic: dict[str, dict[str, int]], sch: ResidentConvSchedule, offchip: str,
                 names: tuple[str, ...]) -> dict[str, dict[str, int]]:
    """``staging.pair_traffic`` of ``sch`` without the off-chip crossing of its resident operands."""
    for o in sch.resident:
        if o in sch.filled:
            continue
        k = dict(zip(sch.staged, sch.staged_levels))[o]
        traffic[f"{offchip}<->{names[k]}"][o] = 0
    return traffic


@dataclass(frozen=True)
class Group:
    """One depth-first group edge as decided: the tensor between ``producer`` and ``consumer``, where it would
    live (for a band group: the level and the first word of its first band), and whether it stays on chip
    (``kept``) or why not."""

    tensor: str
    producer: str
    consumer: str
    tensor_bytes: int
    level: int  # 0: no level held it
    base_word: int
    kept: bool
    reason: str
    bands: int = 0  # > 0: kept band by band (``mapping.depth_first_bands``), the tensor never whole in the level
    halo: str = ""  # a band group's halo rows: "recompute", "cache", or "none" in channel chunks ("" other edges)
    recomputed_macs: int = 0  # halo "recompute": the MACs the producer computes again for the bands needing them
    cached_halo_bytes: int = 0  # halo "cache": the bytes moved within the level to keep the halo rows
    pool_pass: bool = False  # the consumer's fused SE pool went back to a pass of its own (row bands)
    pool_carried: bool = False  # the consumer's fused SE pool kept, its sums carried across the row bands
    # an SE barrier (depthwise -> projection through the scale): crossed by recomputing the band group before it
    # (``mapping.depth_first_recompute``) where ``kept``
    recomputed: bool = False


def _conv(sch: Schedule) -> ConvSchedule | None:
    conv = sch.conv if isinstance(sch, EpilogueSchedule) else sch
    return conv if isinstance(conv, ConvSchedule) else None


def _rewrap(sch: Schedule, conv: ConvSchedule) -> Schedule:
    return sch.with_conv(conv) if isinstance(sch, EpilogueSchedule) else conv


def group_output(graph: Graph, i: int, sch: Schedule, schedules: tuple[Schedule, ...]) -> str:
    """The tensor the group writes; an activation the quantizer folds into the Conv's requantize (a Relu:
    ``FusedSchedule`` into the Conv, not an epilogue) names the same bytes, so its output is followed."""
    t = graph.node(sch.members[-1]).output if isinstance(sch, EpilogueSchedule) and sch.members \
        else graph.nodes[i].output
    readers = graph.consumers()
    index = {n.name: j for j, n in enumerate(graph.nodes)}
    while len(readers.get(t, [])) == 1:
        j = index[readers[t][0]]
        f = schedules[j]
        if not (isinstance(f, FusedSchedule) and f.shape.into == graph.nodes[i].name and not f.shape.epilogue):
            break
        t = graph.nodes[j].output
    return t


def candidate_edges(graph: Graph, schedules: tuple[Schedule, ...]) -> list[tuple[int, int, str, str]]:
    """(producer index, consumer index, tensor, "" or why the edge cannot be a group), in graph order; a tensor with
    several readers is listed once, with its first reader."""
    readers = graph.consumers()
    index = {n.name: i for i, n in enumerate(graph.nodes)}
    out = []
    for i, sch in enumerate(schedules):
        conv = _conv(sch)
        if conv is None or isinstance(sch, FusedSchedule):
            continue
        t = group_output(graph, i, sch, schedules)
        if t == graph.output or conv.shape.residual or (isinstance(sch, EpilogueSchedule) and sch.residual):
            continue
        who = list(dict.fromkeys(readers.get(t, [])))  # a node reading it twice (x + x) is one reader
        if len(who) > 1:
            ops = ", ".join(graph.nodes[index[w]].op for w in who)
            out.append((i, index[who[0]], t, f"read by {len(who)} nodes ({ops}): a barrier (an SE pool, a skip); "
                                             "it crosses off-chip once each way"))
        if len(who) != 1:
            continue
        j = index[who[0]]
        cons = schedules[j]
        if _conv(cons) is None or isinstance(cons, FusedSchedule):
            continue  # a vector pass or fused node reads it: it moves through off-chip memory
        if isinstance(cons, EpilogueSchedule) and (cons.input_scale or cons.residual) or _conv(cons).shape.residual:
            out.append((i, j, t, "the consumer scales its input or adds a skip tile from off-chip memory"))
            continue
        between = [k for k in range(i + 1, j) if hasattr(schedules[k], "staged")
                   and not isinstance(schedules[k], FusedSchedule)]
        out.append((i, j, t, f"{len(between)} Conv / Gemm passes run in between" if between else ""))
    return out


def operand_words(sch: ConvSchedule, o: str, k: int) -> int:
    assert sch.levels is not None
    return ceil_div(sch.operand_bytes[o].footprint, sch.levels.level(k).word_bytes)


def placed(sch: ConvSchedule, resident: dict[str, tuple[int, int]]) -> bool:
    """Whether the staged operands that are not resident (from word 0 up, with any transit buffer) end below every
    resident operand of the same level, and resident operands do not overlap."""
    h = sch.levels
    assert h is not None
    fp = footprint_words(sch.operand_bytes, sch.staged, sch.staged_levels, h)
    spans = [(k, b, b + operand_words(sch, o, k)) for o, (k, b) in resident.items()]
    for k, lo, hi in spans:
        low = fp[k - 1] - sum(h2 - l2 for k2, l2, h2 in spans if k2 == k)
        if lo < low or hi > h.level(k).capacity_words:
            return False
    return not any(a[0] == b[0] and a[1] < b[2] and b[1] < a[2] for n, a in enumerate(spans) for b in spans[n + 1:])


def as_resident(sch: ConvSchedule, resident: dict[str, tuple[int, int]], filled: tuple[str, ...] = (),
                region_end: int = 0) -> ResidentConvSchedule:
    names = tuple(o for o in RESIDENT if o in resident)
    fields = {f.name: getattr(sch, f.name) for f in dataclasses.fields(ConvSchedule)}
    return ResidentConvSchedule(**fields, resident=names, resident_base=tuple(resident[o][1] for o in names),
                                filled=tuple(o for o in names if o in filled), region_end=region_end)


def summed_value(scheds: list[Schedule], hw: HardwareSpec, objective: str) -> tuple[float, float]:
    """``objective_key`` of schedules that run one after the other (their ``schedule_metrics`` summed)."""
    cyc = en = 0.0
    seen: dict[int, tuple[float, float]] = {}  # parts of a cut often share one schedule object
    for s in scheds:
        got = seen.get(id(s))
        if got is None:
            got = seen[id(s)] = schedule_metrics(s, hw)
        cyc, en = cyc + got[0], en + got[1]
    return objective_key(cyc, en, objective)


def plan_groups(graph: Graph, schedules: tuple[Schedule, ...], hw: HardwareSpec, objective: str
                ) -> tuple[tuple[Schedule, ...], tuple[Group, ...]]:
    """The schedules with every depth-first group that the objective favours (``ResidentConvSchedule`` on both
    sides of its edge), and every candidate edge with what was decided. One-level hardware: nothing changes."""
    cur = list(schedules)
    h: Hierarchy | None = next((c.levels for c in map(_conv, cur) if c is not None and c.levels is not None), None)
    if h is None:
        return tuple(cur), ()
    held: dict[int, dict[str, tuple[int, int]]] = {}  # node index -> resident operand -> (level, base word)
    groups = []
    for i, j, t, why in candidate_edges(graph, tuple(cur)):
        nbytes = graph.numel(t)
        if why:
            groups.append(Group(t, graph.nodes[i].name, graph.nodes[j].name, nbytes, 0, 0, False, why))
            continue
        best = None
        for k in range(1, len(h.outer) + 1):
            got = _try_edge(cur, held, i, j, k, hw, objective)
            if got is not None and (best is None or got[0] < best[0]):
                best = (*got, k)
        before = summed_value([cur[i], cur[j]], hw, objective)
        if best is None:
            groups.append(Group(t, graph.nodes[i].name, graph.nodes[j].name, nbytes, 0, 0, False,
                                "does not fit an outer level beside the working operands"))
        elif not best[0] < before:
            groups.append(Group(t, graph.nodes[i].name, graph.nodes[j].name, nbytes, best[-1], best[3], False,
                                f"per-layer mapping is as good for {objective}"))
        else:
            _, new_i, new_j, base, k = best
            cur[i], cur[j] = new_i, new_j
            held.setdefault(i, {})["outputs"] = (k, base)
            held.setdefault(j, {})["inputs"] = (k, base)
            groups.append(Group(t, graph.nodes[i].name, graph.nodes[j].name, nbytes, k, base, True, ""))
    return tuple(cur), tuple(groups)


def _try_edge(cur: list[Schedule], held: dict[int, dict[str, tuple[int, int]]], i: int, j: int, k: int,
              hw: HardwareSpec, objective: str) -> tuple[tuple[float, float], Schedule, Schedule, int] | None:
    """The pair re-mapped with the tensor resident in level ``k``: (value, producer, consumer, base word), or None
    when no placement fits."""
    p, c = _conv(cur[i]), _conv(cur[j])
    assert p is not None and c is not None
    mine = dict(held.get(i, {}))
    req = tuple((o, lv) for o, (lv, _) in mine.items()) + (("outputs", k),)
    new_p = search_staged_with(p.shape, hw, objective, require=req)
    new_c = search_staged_with(c.shape, hw, objective, require=(("inputs", k),))
    if new_p is None or new_c is None:
        return None
    words = operand_words(new_p, "outputs", k)
    top = new_p.levels.level(k).capacity_words
    inp = mine.get("inputs")
    base = inp[1] - words if inp is not None and inp[0] == k and inp[1] + operand_words(new_p, "inputs", k) == top \
        else top - words
    if base < 0:
        return None
    mine["outputs"] = (k, base)
    if not (placed(new_p, mine) and placed(new_c, {"inputs": (k, base)})):
        return None
    pair = [_rewrap(cur[i], as_resident(new_p, mine)), _rewrap(cur[j], as_resident(new_c, {"inputs": (k, base)}))]
    return summed_value(pair, hw, objective), pair[0], pair[1], base


def groups_note(groups: tuple[Group, ...], level_names: tuple[str, ...], split_layers: dict[str, int],
                carried_pools: int = 0) -> str:
    """One line for the reports: the layers run in bands / chunks (``split_layers``: how many per cut;
    ``carried_pools`` of them with a fused global average pool whose sums they carry across row bands), the
    Conv -> Conv edges whose tensor stays on chip whole, the band groups (``mapping.depth_first_bands``), and what
    is not implemented."""
    kept = [g for g in groups if g.kept and not g.bands]
    banded = [g for g in groups if g.kept and g.bands and not g.recomputed]
    redone = [g for g in groups if g.kept and g.recomputed]
    saved = 2 * sum(g.tensor_bytes for g in kept)
    cuts = ", ".join(f"{n} in {axis}" for axis, n in sorted(split_layers.items()))
    n_split = sum(split_layers.values())
    runs = "layer runs" if n_split == 1 else "layers run"
    head = (f"depth-first: {n_split} {runs} in parts ({cuts or 'none'}) with their operands staged per part in "
            f"{level_names[1]}") if len(level_names) > 1 else "depth-first"
    if carried_pools:
        head += (f", {carried_pools} of them with the global average pool they feed on their parts' output paths "
                 "(its sums carried across row bands in the level)")
    head += (f"; {len(kept)} of {len(groups)} Conv -> Conv edges keep their tensor in "
             f"{', '.join(sorted({level_names[g.level] for g in kept}))} ({saved:,} B of off-chip drain + fill saved)"
             if kept else f"; none of {len(groups)} Conv -> Conv edges keeps its whole tensor on chip")
    if banded:
        head += (f"; {len(banded)} run as band groups of two layers with the band in "
                 f"{', '.join(sorted({level_names[g.level] for g in banded}))} "
                 f"({2 * sum(g.tensor_bytes for g in banded):,} B of off-chip drain + fill saved; halo rows cached in "
                 f"{sum(g.halo == 'cache' for g in banded)} ({sum(g.cached_halo_bytes for g in banded):,} B moved "
                 f"within the level), recomputed in {sum(g.halo == 'recompute' for g in banded)} "
                 f"({sum(g.recomputed_macs for g in banded):,} MACs), {sum(g.halo == 'none' for g in banded)} in "
                 f"channel chunks (no halo); {sum(g.pool_carried for g in banded)} SE pools with their sums carried "
                 f"across row bands in the level, {sum(g.pool_pass for g in banded)} back in a pass of their own)")
    else:
        head += "; no band group of two layers wins"
    if redone:
        head += (f"; {len(redone)} SE barriers crossed by recomputing the band group before them (its depthwise "
                 f"output never stored: {2 * sum(g.tensor_bytes for g in redone):,} B of off-chip drain + fill saved "
                 f"for {sum(g.recomputed_macs for g in redone):,} MACs computed again)")
    return head + ("; everything else falls back to epilogue fusion. Not implemented: a projection in the band "
                   "group of the next block's expand; every tensor no group keeps crosses off-chip once each way")
