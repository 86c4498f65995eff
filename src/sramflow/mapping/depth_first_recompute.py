"""Depth-first MBConv blocks across the SE barrier by recomputation (``--fusion depth-first``; issue 17 item 2,
``docs/depth_first_blocks.md`` step 3).

The SE excitation needs the global pool of the whole depthwise output before any element of it can be scaled, so a
row-band group of expand -> depthwise (``mapping.depth_first_bands``) stores the depthwise output off-chip and the
projection reads it back: once each way, the largest traffic left in early blocks (features.1.0 and 2.1 of B0 at
224: 0.80 and 0.90 MB). Recomputing removes both crossings:

- **Pass A (squeeze)** is a row-band group of the edge (any cut ``depth_first_bands`` makes of it, chosen together
  with its pass B), its depthwise parts with the SE pool's sums carried from band to band (``epilogue.PoolCarry``),
  now as the output's only reader: no part stores its output (``PoolPlan.stores``; a part that staged its outputs in
  the level is re-searched to store them from the first level). The depthwise output is in no memory after it.
- The SE's fc1 -> fc2 run as before, in graph order.
- **Pass B (excite, project)** is the projection's schedule (``RecomputeSchedule``). Band by band it runs the
  producer's part again (the same part as in pass A: its input band read off-chip again, its output into the band
  region of level k), the depthwise part again with its output band kept in level k below the band region
  (``ResidentConvSchedule``: inputs and outputs resident), and the projection's part for those rows, which reads
  the band there and scales it on its input path (the excitation vector in the first level, or fetched with each
  input tile) and writes its output, its residual Add's skip rows read from off-chip as before.

Each pass needs the weights. The producer's parts are pass A's: the first band fills its weights, the later ones
keep them where pass A's did. The depthwise parts keep theirs above them the same way (pass A's floor), and the
projection's are filled by the first band's part above everything the other parts stage below the bands, and kept
by the later ones (``floor_words``). Level k, from the top: the carried sums (pass A), the band region, the
depthwise output band, then the parts' staged operands.

Cost: the producer's input bands cross the link again, and the producer and depthwise MACs (with their first-level
and level-k work) are paid twice (``recomputed_macs`` of the projection's schedule counts them, halo rows included);
the depthwise output's store and load go. Counts and cycles are the parts' sums, as for every cut. The objective
decides per block against the schedules it replaces (``plan_recompute``). Row-band groups only: a channel chunk's
projection would need every chunk's partial sums."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

from sramflow.cost.counts import ceil_div
from sramflow.hw.spec import HardwareSpec
from sramflow.ir.graph import Graph
from sramflow.mapping.conv_schedule import ConvSchedule
from sramflow.mapping.depth_first import Group, ResidentConvSchedule, as_resident, group_output, operand_words, \
    summed_value
from sramflow.mapping.depth_first_bands import (BandSearcher, BandSplitSchedule, _below_band, _candidates, _conv,
                                               _rewrap, _unpooled, _whole)
from sramflow.mapping.depth_first_split import Part, SplitSchedule, band_shape
from sramflow.mapping.epilogue import EpilogueSchedule, scale_plan
from sramflow.mapping.fused import FusedSchedule
from sramflow.mapping.schedule import Schedule
from sramflow.mapping.search.choose import POOL_RESERVE_WORDS, hierarchy, with_free_words


@dataclass(frozen=True)
class RecomputeSchedule(BandSplitSchedule):
    """Pass B of a block whose depthwise output is recomputed (module docstring): the projection's schedule, role
    "recompute", ``partner`` the depthwise layer. ``again``: the producer's and the depthwise layer's parts of pass
    B (band groups of their own); ``own``: the projection's parts, one per band; ``parts``: all of them in the order
    they run (per band: producer, depthwise, projection), so that counts, cycles and traffic are their sums."""

    again: tuple[BandSplitSchedule, ...] = ()
    own: tuple[Part, ...] = ()

    @property
    def own_parts(self) -> tuple[Part, ...]:
        return self.own

    def describe(self) -> dict[str, object]:
        return {**SplitSchedule.describe(self),
                "recompute": {"layers": [a.shape.name for a in self.again], "level": self.level, "halo": self.halo,
                              "recomputed_macs": self.recomputed_macs, "cached_halo_bytes": self.cached_halo_bytes}}


def plan_recompute(graph: Graph, schedules: tuple[Schedule, ...], groups: tuple[Group, ...], hw: HardwareSpec,
                   objective: str, search: BandSearcher | None = None
                   ) -> tuple[tuple[Schedule, ...], tuple[Group, ...]]:
    """The schedules with each SE barrier the objective favours crossed by recomputation (module docstring), and
    ``groups`` with each barrier tried replaced by its recomputed group where kept, else with why not added to its
    reason. One-level hardware: nothing changes."""
    if hierarchy(hw) is None:
        return schedules, groups
    cur = list(schedules)
    out = list(groups)
    index = {n.name: i for i, n in enumerate(graph.nodes)}
    readers = graph.consumers()
    search = BandSearcher(hw, objective) if search is None else search  # ``plan_bands``' searches, where given
    for j, d in enumerate(schedules):
        if type(d) is not BandSplitSchedule or d.role != "consumer" or d.axis != "rows" or \
                not (isinstance(d.whole, EpilogueSchedule) and d.whole.pool):
            continue
        i = index[d.partner]
        t = group_output(graph, j, d.whole, tuple(cur))
        q = _projection(graph, cur, t, d.whole.pool, index, readers)
        if q is None:
            continue
        e, p = cur[i], cur[q]
        before = summed_value([e, d, p], hw, objective)
        best = None
        if isinstance(e, BandSplitSchedule):
            for got in _passes(e, d, _whole(p), search):
                val = summed_value(list(got), hw, objective)
                if best is None or val < best[0]:
                    best = (val, got)
        why = ""
        if best is None:
            why = "no pass B fits the level beside a band region"
        elif not best[0] < before:
            why = f"spilling the depthwise output is as good for {objective}"
        else:
            cur[i], cur[j], cur[q] = best[1]
        rec = best[1][2] if best is not None and not why else None
        g = Group(t, graph.nodes[j].name, graph.nodes[q].name, graph.numel(t), d.level,
                  0 if rec is None else _conv(rec.own[0].schedule).resident_in("inputs")[1], rec is not None,
                  f"recompute: {why}" if why else "", bands=len(rec.own) if rec is not None else 0,
                  halo=rec.halo if rec is not None else "",
                  recomputed_macs=rec.recomputed_macs if rec is not None else 0,
                  cached_halo_bytes=rec.cached_halo_bytes if rec is not None else 0, recomputed=rec is not None)
        at = next((n for n, x in enumerate(out) if x.tensor == t), None)  # the barrier, listed with its reason
        if at is None:
            out.append(g)
        else:
            out[at] = g if g.kept else dataclasses.replace(out[at], reason=f"{out[at].reason}; {g.reason}")
    return tuple(cur), tuple(out)


def _passes(e: BandSplitSchedule, d: BandSplitSchedule, p: Schedule, search: BandSearcher
            ) -> Iterator[tuple[BandSplitSchedule, BandSplitSchedule, RecomputeSchedule]]:
    """(producer, pass A, pass B) of every row-band group of the edge with the pool's sums carried
    (``depth_first_bands._candidates``, in ``d``'s level) that a pass B fits beside."""
    for prod, cons in _candidates(e.whole, _unpooled(d.whole), d.whole, d.level, search):
        if cons.axis != "rows" or not all(getattr(x.schedule, "pool_carry", None) for x in cons.parts):
            continue
        got = recompute(prod, cons, p, search)
        if got is not None:
            yield prod, *got


def _projection(graph: Graph, cur: list[Schedule], t: str, pool: str, index: dict[str, int],
                readers: dict[str, list[str]]) -> int | None:
    """The index of the conv that reads ``t`` (a depthwise output read by its SE pool ``pool``) through the SE
    scale on its input path, where those are ``t``'s only two readers; None elsewhere."""
    who = set(readers.get(t, []))
    if pool not in who or len(who) != 2:
        return None
    mul = (who - {pool}).pop()
    for q in range(index[mul] + 1, len(cur)):
        w = _whole(cur[q])
        if isinstance(w, EpilogueSchedule) and w.input_scale == mul:
            return q if _replaceable(cur[q]) else None
    return None


def _replaceable(p: Schedule) -> bool:
    """Whether pass B may take the projection's place: not where its output stays on chip for the next layer (a band
    group's producer, or a residency group's resident output), whose reader would then wait for it in vain."""
    if isinstance(p, (FusedSchedule, BandSplitSchedule)):
        return False
    parts = [x.schedule for x in p.parts] if isinstance(p, SplitSchedule) else [p]
    return not any(isinstance(_conv(x), ResidentConvSchedule) and "outputs" in _conv(x).resident for x in parts)


def recompute(e: BandSplitSchedule, d: BandSplitSchedule, p: Schedule, search: BandSearcher
              ) -> tuple[BandSplitSchedule, RecomputeSchedule] | None:
    """Pass A (``d`` without its output stores) and pass B (``RecomputeSchedule`` of the projection ``p``, a whole
    schedule) of the band group ``e`` -> ``d``; None where it does not apply or fit level ``d.level``."""
    k = d.level
    h = hierarchy(search.hw)
    assert h is not None
    wb = h.level(k).word_bytes
    psh = _conv(p).shape
    if e.sub_parts != 1 or len(e.parts) != len(d.parts) or not isinstance(p, EpilogueSchedule) or \
            (psh.kernel_h, psh.kernel_w, psh.stride_h, psh.stride_w, psh.groups) != (1, 1, 1, 1, 1):
        return None
    squeeze = _squeeze(d, search)
    if squeeze is None:
        return None
    bands = [_conv(x.schedule).resident_in("inputs") for x in d.parts]
    if any(b is None or b[0] != k for b in bands):
        return None
    r2_words = max(ceil_div(_conv(x.schedule).shape.output_bytes, wb) for x in d.parts)
    r2 = min(b for _, b in bands) - r2_words
    top_e = max(_below_band(_conv(x.schedule), k, "outputs") for x in e.parts)  # the producer's kept weights too
    unpooled = _unpooled(d.whole)
    mids = []
    for n, (x, (_, base)) in enumerate(zip(d.parts, bands)):
        rc = _conv(x.schedule)
        floor = rc.floor_words if isinstance(rc, ResidentConvSchedule) else 0  # pass A's: above the producer's
        got = search(rc.shape, (("inputs", k), ("outputs", k)) + ((("weights", k),) if floor else ()))
        if got is None or floor + _staged_below(got, k) > r2:
            return None
        resident = {"inputs": (k, base), "outputs": (k, r2)}
        if floor and n:
            resident["weights"] = (k, floor)
        conv = dataclasses.replace(as_resident(got, resident), copied_words=rc.copied_words, floor_words=floor)
        mids.append(dataclasses.replace(x, schedule=_rewrap(unpooled, conv)))
    floor_p = max([top_e] + [_conv(x.schedule).floor_words + _staged_below(_conv(x.schedule), k) for x in mids])
    own = []
    for n, x in enumerate(d.parts):
        sub, a, b = band_shape(psh, x.row0, x.row1)
        got = search(sub, (("inputs", k), ("weights", k)))
        if got is None or floor_p + _below_band(got, k, "inputs") > r2:
            return None
        resident = {"inputs": (k, r2)}
        if n:
            resident["weights"] = (k, floor_p)
        conv = dataclasses.replace(as_resident(got, resident), floor_words=floor_p)
        own.append(Part(_scaled(p, conv), x.row0, x.row1, a, b, 0, psh.k_per_group))
    middle = BandSplitSchedule(unpooled, "rows", tuple(mids), "consumer", e.shape.name, k, d.halo)
    parts = tuple(z for trio in zip(e.parts, mids, own) for z in trio)
    return squeeze, RecomputeSchedule(p, "rows", parts, "recompute", d.shape.name, k, d.halo, again=(e, middle),
                                      own=tuple(own))


def _squeeze(d: BandSplitSchedule, search: BandSearcher) -> BandSplitSchedule | None:
    """Pass A: ``d`` with its pool as the output's only reader (no output stores), or None where a part (or the
    whole, which the functional simulator reads the choice from) cannot remove them. A part that stages its outputs
    in the level (drained from there) is re-searched to store them from the first level (``_unstored``)."""
    whole = _unstored(d.whole, search)
    parts = [_unstored(x.schedule, search) for x in d.parts]
    if whole is None or any(x is None for x in parts):
        return None
    return dataclasses.replace(d, whole=whole, parts=tuple(dataclasses.replace(x, schedule=y)
                                                           for x, y in zip(d.parts, parts)))


def _unstored(sch: EpilogueSchedule, search: BandSearcher) -> EpilogueSchedule | None:
    """``sch`` (a fused pool on its output path) with the pool as the output's only reader, its stores removed:
    as it is, else re-searched with its outputs stored from the first level and 0-16 first-level words left free
    for the sums (``with_free_words``), its other staged operands in the same levels taking no more words there
    (resident ones where they were); None where none removes them."""
    got = dataclasses.replace(sch, pool_sole_reader=True)
    if got.pool_plan is not None and got.pool_plan.stores is not None:
        return got
    rc = sch.conv
    if "outputs" not in rc.staged:
        return None
    was = dict(zip(rc.staged, rc.staged_levels))
    for reserve in (0, *POOL_RESERVE_WORDS):
        new = with_free_words(rc, search.hw, reserve, search.objective, frozenset({"outputs"}))
        if new is None or any(was.get(o) != lv or operand_words(new, o, lv) > operand_words(rc, o, lv)
                              for o, lv in zip(new.staged, new.staged_levels)):
            continue
        if isinstance(rc, ResidentConvSchedule):
            new = dataclasses.replace(as_resident(new, {o: rc.resident_in(o) for o in rc.resident}, rc.filled,
                                                  rc.region_end),
                                      copied_words=rc.copied_words, floor_words=rc.floor_words)
        got = dataclasses.replace(sch, conv=new, pool_sole_reader=True)
        if got.pool_plan is not None and got.pool_plan.stores is not None:
            return got
    return None


def _staged_below(rc: ConvSchedule, k: int) -> int:
    """Words a depthwise part of pass B stages in level ``k`` besides its resident input and output bands (from its
    floor up)."""
    return _below_band(rc, k, "inputs") - operand_words(rc, "outputs", k)


def _scaled(p: EpilogueSchedule, conv: ResidentConvSchedule) -> EpilogueSchedule:
    """The projection's epilogue (SE scale, residual Add) around a pass-B part: the excitation vector held in the
    first level where the part leaves words for it (level k's words above the part are the band region's), else
    fetched with each input tile."""
    lv = 0 if scale_plan(conv, None, 0) is not None else None
    return dataclasses.replace(p, conv=conv, scale_level=lv, scale_kept=False)
